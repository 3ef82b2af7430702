"""The local job cluster ``rallypoint serve`` runs analyses on: a Dask ``LocalCluster`` in a process of its own.

    python -m rallypoint.jobs.cluster --scheduler-file jobs/.cluster/scheduler.json --workers 2 --nice 10

Why a process of its own, started and stopped by ``rallypoint serve`` (and not a cluster inside gunicorn's
master): the master forks the request workers, and a process running a Dask scheduler has an event loop
thread and sockets a fork would copy half-way; the cluster also runs at a lower CPU priority than the request
workers (each worker process lowers its own with ``os.nice`` as it starts, through Dask's ``preload`` hook
:func:`dask_setup`), so that a map tile or an item page is served first and an analysis takes the CPU the
readers leave. The scheduler stays at normal priority, so handing out and looking up jobs stays quick.

The cluster has one single-threaded worker process per job that may run at once (each analysis is one task).
Its scheduler writes Dask's scheduler file (its address) for the server's processes to find it. It stops on
SIGTERM or SIGINT, and by itself when the process that started it is gone (a ``rallypoint serve`` killed
with SIGKILL leaves no cluster behind).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

NICE_ENV = "RALLYPOINT_JOB_NICENESS"


def dask_setup(worker) -> None:  # noqa: ARG001 (Dask's preload hook: called in each worker process as it starts)
    """Lower this worker process's CPU priority (requests first, analyses with what is left), and load the
    plugins and the libraries analyses use in the background, so that a first small job answers as fast as
    the next ones."""
    nice = int(os.environ.get(NICE_ENV, "0") or 0)
    if nice > 0:
        os.nice(nice)
    threading.Thread(target=_warm_up, name="rallypoint-warm-up", daemon=True).start()


def _warm_up() -> None:
    try:
        import geopandas  # noqa: F401
        import pyogrio  # noqa: F401

        from ..analysis import analyses
        from ..plugins import default_plugin_manager

        analyses(default_plugin_manager())
    except Exception:  # noqa: BLE001 (only a head start: the first job loads what it needs anyway)
        pass


@contextmanager
def local_cluster(folder: Path, workers: int, nice: int = 10) -> Iterator[Path]:
    """Run the local job cluster in a child process while the block runs; its scheduler file (which may not
    exist yet: the cluster starts alongside the server, and a first job waits for it)."""
    folder.mkdir(parents=True, exist_ok=True)
    scheduler_file = folder / "scheduler.json"
    scheduler_file.unlink(missing_ok=True)  # a file left by a cluster that was killed names a dead address
    proc = subprocess.Popen([sys.executable, "-m", "rallypoint.jobs.cluster", "--scheduler-file", str(scheduler_file),
                             "--workers", str(workers), "--nice", str(nice), "--local-directory", str(folder)])
    try:
        yield scheduler_file
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        scheduler_file.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m rallypoint.jobs.cluster", description=__doc__.split("\n")[0])
    ap.add_argument("--scheduler-file", required=True, help="where the scheduler writes its address (JSON)")
    ap.add_argument("--workers", type=int, default=2, help="worker processes: jobs that run at once")
    ap.add_argument("--nice", type=int, default=10, help="how much lower the workers' CPU priority is (0-19)")
    ap.add_argument("--local-directory", default=None, help="the workers' scratch folder")
    args = ap.parse_args(argv)

    import dask
    from dask.distributed import LocalCluster

    # no statistical profiler in the workers (it samples every 10 ms): an idle worker then takes 1.5 % of a core,
    # not 2.6 %
    dask.config.set({"distributed.worker.profile.enabled": False})

    os.environ[NICE_ENV] = str(max(0, min(19, args.nice)))  # the worker processes inherit it
    os.environ.pop("RALLYPOINT_DASK_SCHEDULER", None)  # a job's coverage searches stay in its own worker
    parent = os.getppid()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    scheduler_file = Path(args.scheduler_file)
    scheduler_file.unlink(missing_ok=True)
    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                           scheduler_port=0, dashboard_address=None, local_directory=args.local_directory,
                           scheduler_kwargs={"scheduler_file": str(scheduler_file)},
                           preload=["rallypoint.jobs.cluster"])
    try:
        while not stop.wait(1.0):
            if os.getppid() != parent:  # whoever started us is gone
                break
    finally:
        scheduler_file.unlink(missing_ok=True)
        cluster.close(timeout=20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
