"""The job engine: jobs run on a Dask cluster, outside the processes that answer requests.

Dask is the engine the coverage analysis already spreads its searches over; here a whole analysis is one task
(:func:`rallypoint.jobs.runner.run_job`) on one of the cluster's workers. ``rallypoint serve`` starts a local
cluster of its own (:mod:`rallypoint.jobs.cluster`) and gives the server its scheduler file; with
``RALLYPOINT_DASK_SCHEDULER`` set, the jobs go to that cluster instead (its workers must have Rallypoint
installed, reach the registry — a PostGIS URL, or the same path to the GeoPackage — and share the jobs folder).

Every server process has one :class:`Engine` per cluster and, in it, one Dask client, made on first use (so
never in gunicorn's master before it forks). A job's task is published on the scheduler under the job's key
(``Client.publish_dataset``): it keeps running when the process that submitted it ends, and any process can
look it up by the job's id and ask Dask how it stands. What the job did (progress, results, its end) is in
the jobs folder (:mod:`.records`); what Dask knows on top of that is whether it still has the task, and why
a task failed outside the analysis (its worker died again and again, the cluster was restarted):
:meth:`Engine.outcome`.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from ..errors import RallypointError
from . import records
from .records import KEY_PREFIX, Job, key_of

log = logging.getLogger("rallypoint.jobs")

#: A Dask scheduler's address (``tcp://host:8786``): the cluster jobs (and the coverage analysis' searches) use.
SCHEDULER_ENV = "RALLYPOINT_DASK_SCHEDULER"
SUBMIT_GRACE_S = 60  # a job accepted this long ago and never submitted was lost with the process accepting it


class EngineUnavailable(RallypointError):
    """The cluster cannot be reached (its message is written for the user: it names no address)."""

    http_status = 503
    ogc_code = "ServiceUnavailable"
    public = True


class Engine:
    """The Dask cluster this process sends jobs to: by its scheduler's ``address``, or a ``scheduler_file``
    (Dask's JSON file naming the address, written by the scheduler as it starts)."""

    def __init__(self, address: str | None = None, scheduler_file: str | Path | None = None,
                 connect_timeout: float = 30.0):
        if not address and not scheduler_file:
            raise ValueError("an engine needs a scheduler address or a scheduler file")
        self.address = address
        self.scheduler_file = Path(scheduler_file) if scheduler_file else None
        self.connect_timeout = connect_timeout
        self._client: Any = None
        self._pid: int | None = None
        self._futures: dict[str, Any] = {}
        self._lock = threading.Lock()

    # -- the connection -------------------------------------------------------------------------------------
    def _address(self) -> str:
        if self.address:
            return self.address
        end = time.monotonic() + self.connect_timeout
        while True:  # the local cluster may still be starting when the first job comes
            try:
                return json.loads(self.scheduler_file.read_text(encoding="utf-8"))["address"]
            except (FileNotFoundError, ValueError, KeyError):
                if time.monotonic() > end:
                    raise EngineUnavailable("the job engine has not started (no scheduler)") from None
                time.sleep(0.1)

    def client(self) -> Any:
        with self._lock:
            if self._client is not None and self._pid == os.getpid() and self._client.status == "running":
                return self._client
            from dask.distributed import Client

            try:
                client = Client(self._address(), timeout=self.connect_timeout, set_as_default=False)
            except (OSError, TimeoutError, ValueError) as exc:
                log.error("the job engine cannot be reached: %s", exc)
                raise EngineUnavailable("the job engine (a Dask cluster) cannot be reached") from None
            self._client, self._pid, self._futures = client, os.getpid(), {}
            return client

    # -- jobs -----------------------------------------------------------------------------------------------
    def submit(self, root: Path, job: Job, location: str, *, wait: float = 0.0) -> bool:
        """Send ``job`` to the cluster, where it runs on a worker with a registry connection of its own; wait
        up to ``wait`` seconds for it to end, and say whether it did.

        The task is published under the job's key, so that it runs on when this process lets go of it (and
        any process finds it); the task unpublishes itself when it has recorded its end, so that a finished
        job holds nothing on the cluster (else Dask would run it again when its worker restarts)."""
        from .runner import run_job

        client = self.client()
        key = key_of(job.id)
        future = client.submit(run_job, str(root), job.id, str(location), key=key, pure=False)
        client.publish_dataset(future, name=key)
        records.mark_submitted(job)
        try:
            if wait > 0:
                future.result(timeout=wait)
                return True
        except TimeoutError:
            return False
        except Exception:  # noqa: BLE001 (the task failed: it ended; outcome() says why)
            return True
        finally:
            future.release()  # this process no longer holds it: the publication does, until the job ends
        return False

    def outcome(self, job: Job) -> tuple[str, str] | None:
        """Why the cluster ended an unfinished ``job`` (English, Chinese), or None while it still has it."""
        try:
            future = self._future(job.id)
        except EngineUnavailable:
            return None  # cannot tell now; the job is left as its files say
        if future is None:
            if job.submitted or _age(job.created) > SUBMIT_GRACE_S:
                return ("the job engine lost the job (the server or its cluster restarted while it waited or ran)",
                        "分析任务已丢失（任务运行或等待期间服务器或其计算集群重新启动）")
            return None  # being submitted right now by the process that accepted it
        status = future.status
        if status in ("error", "cancelled", "lost", "finished"):
            self._futures.pop(job.id, None)  # ended: this process need not hold it (the caller records why)
        if status == "error":
            try:
                exc = future.exception(timeout=5)
            except Exception as e:  # noqa: BLE001 (whatever Dask says, the job is over)
                exc = e
            if type(exc).__name__ == "KilledWorker":
                return ("the worker processes that ran the job stopped again and again (killed, or out of memory)",
                        "运行该任务的计算进程多次中止（被终止或内存不足）")
            log.error("job %s: its task failed on the cluster", job.id, exc_info=exc)
            return (f"the job's task failed on the cluster ({type(exc).__name__})",
                    f"任务在计算集群上失败（{type(exc).__name__}）")
        if status in ("cancelled", "lost"):
            return ("the job engine cancelled the job", "计算集群取消了该任务")
        if status == "finished" and not records.is_finished(job.folder):
            return ("the job ended without recording its results", "任务结束但未记录结果")
        return None

    def forget(self, job_id: str, *, unpublish: bool = True) -> None:
        """Let go of an ended job's task: this process's hold on it, and (``unpublish``) the cluster's."""
        future = self._futures.pop(job_id, None)
        if future is not None:
            future.release()
        if not unpublish:
            return
        try:
            self.client().unpublish_dataset(key_of(job_id))
        except (KeyError, EngineUnavailable):
            return
        except Exception as exc:  # noqa: BLE001 (a task already gone is what we want)
            log.warning("job %s: could not unpublish its task: %s", job_id, exc)

    def cancel(self, job: Job) -> None:
        """Stop ``job`` now. Dask cannot interrupt a task that runs, so when ``job`` had begun and its worker
        runs no other job that has begun, that worker process is ended (its nanny starts a new one, as after
        any worker's death; tasks only waiting there go to another worker); otherwise the run stops at its
        next step, where it finds itself dismissed."""
        try:
            client = self.client()
            future = self._future(job.id)
        except EngineUnavailable:
            return
        key = key_of(job.id)
        worker = None
        if (job.folder / "status.json").exists():  # it had begun
            try:
                for address, keys in client.processing().items():
                    if key in keys and not any(_started(job.folder.parent, k) for k in keys if k != key):
                        worker = address
            except Exception as exc:  # noqa: BLE001
                log.warning("job %s: could not find its worker: %s", job.id, exc)
        self._futures.pop(job.id, None)
        try:
            client.unpublish_dataset(key)
        except KeyError:
            pass
        if future is not None:
            client.cancel([future], force=True)
            future.release()
        if worker is not None:
            try:
                client.run(_end_this_process, workers=[worker], wait=False)
            except Exception as exc:  # noqa: BLE001 (the run then stops at its next step)
                log.warning("job %s: its worker could not be stopped: %s", job.id, exc)

    def _future(self, job_id: str) -> Any:
        future = self._futures.get(job_id)
        if future is not None:
            return future
        client = self.client()
        try:
            future = client.get_dataset(key_of(job_id))
        except KeyError:
            return None
        try:  # the scheduler tells a new holder how the task stands a moment later
            future.result(timeout=0.05)
        except Exception:  # noqa: BLE001 (still running, or failed: .status says which)
            pass
        self._futures[job_id] = future
        return future


async def _end_this_process() -> None:  # run on a worker by Dask: ends it at once (its nanny starts another)
    os._exit(75)


def _started(root: Path, key: str) -> bool:
    """Whether the job of task ``key`` has begun running (its runner wrote its status)."""
    if not isinstance(key, str) or not key.startswith(KEY_PREFIX):
        return True  # another kind of task: assume it is running
    job_id = key[len(KEY_PREFIX):]
    folder = records.folder_of(root, job_id)
    return folder is not None and (folder / "status.json").exists() and not records.is_finished(folder)


def _age(stamp: str) -> float:
    from datetime import datetime

    try:
        return time.time() - datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return float("inf")


_ENGINES: dict[tuple[str | None, str | None], Engine] = {}
_ENGINES_LOCK = threading.Lock()


def engine_for(address: str | None, scheduler_file: str | Path | None) -> Engine | None:
    """This process's engine for a cluster (None without one: jobs then run inside the request)."""
    if not address and not scheduler_file:
        return None
    where = (address or None, str(scheduler_file) if scheduler_file else None)
    with _ENGINES_LOCK:
        if where not in _ENGINES:
            _ENGINES[where] = Engine(*where)
        return _ENGINES[where]
