"""Running one job: the analysis, its progress, its results and its end, recorded in the job's folder.

:func:`run_job` is what a Dask worker executes (it opens its own registry connection, with the plugins
installed in its environment); :func:`run` does the work and is also called inside a request when the server
has no engine (an app made by ``create_app`` without a scheduler, as in the tests' Flask client).

A run that finds its job already ended (dismissed before it started, or a repeat of a finished run by the
cluster) does nothing; one that finds it dismissed at a step stops there and takes its results away.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..analysis import AnalysisResult, run_analysis, write_result
from ..errors import RallypointError
from . import records
from .records import Job

log = logging.getLogger("rallypoint.jobs")


WORKER_DIED = ("the worker process running the job stopped before it finished (it was killed, or ran out of memory)",
               "运行该任务的计算进程在完成前中止（被终止或内存不足）")


class JobStopped(Exception):
    """The job was dismissed while it ran: stop at this step."""


def run_job(root: str, job_id: str, location: str) -> str:
    """Run job ``job_id`` of the jobs folder ``root`` on the registry at ``location``; its end (a status).

    Executed on a worker of the job engine: the registry connection and the plugin manager are this
    process's own (the installed plugins, as ``rallypoint serve`` loads them).
    """
    try:
        return _run_job(Path(root), job_id, location)
    finally:
        _unpublish(records.key_of(job_id))


def _unpublish(key: str) -> None:
    """The job has recorded its end: the cluster need not keep its task (nor ever run it again)."""
    try:
        from dask.distributed import get_client

        get_client().unpublish_dataset(key)
    except Exception:  # noqa: BLE001 (not on a cluster, or already let go: nothing to do)
        pass


def _run_job(root: Path, job_id: str, location: str) -> str:
    from ..plugins import default_plugin_manager
    from ..registry import Registry

    job = records.read(root, job_id)
    if job is None or records.is_finished(job.folder):
        return "gone" if job is None else "finished already"
    if (job.folder / "status.json").exists():
        # an earlier attempt began and its worker died under it (killed, out of memory): Dask gives the task
        # to another worker, but running it again would most likely end the same way
        records.finish(job, "failed", message=WORKER_DIED[0], message_zh=WORKER_DIED[1], http_status=500,
                       code="NoApplicableCode")
        return "failed"
    plugins = default_plugin_manager()
    try:
        registry = Registry.open(location, plugins=plugins)
    except Exception as exc:  # the database is down, the file is gone: the detail (an address) stays in the log
        log.error("job %s: the registry could not be opened", job_id, exc_info=exc)
        records.finish(job, "failed", message="the registry could not be opened to run the analysis",
                       message_zh="无法打开登记库，分析未能运行", http_status=503,
                       code="ServiceUnavailable")
        return "failed"
    with registry:
        return run(job, registry, plugins)


def run(job: Job, registry: Any, plugins: Any) -> str:
    """Run ``job`` on an open ``registry``: progress into ``status.json``, results and end into its folder."""
    if records.is_finished(job.folder):
        return "finished already"
    started = records.now_iso()
    records.write_status(job.folder, progress=0, step=None, started=started)

    def progress(step: str, done: int, total: int) -> None:
        if records.is_finished(job.folder) or not job.folder.is_dir():  # dismissed (or removed) meanwhile
            raise JobStopped
        pct = int(100 * done / total) if total else 0
        records.write_status(job.folder, progress=max(0, min(99, pct)), step=step, started=started)

    try:
        result = run_analysis(registry, plugins, job.process, job.inputs, lang=job.lang, progress=progress)
        outcome = _write_results(job.folder, result, job.lang)
    except JobStopped:
        records.clear_results(job.folder)
        return "dismissed"
    except RallypointError as exc:  # the analysis' own refusal (no eligible shelter, …): a reason for the user
        status = int(getattr(exc, "http_status", 400))
        if status >= 500:
            return _internal(job, exc)
        records.finish(job, "failed", message=str(exc), message_zh=str(exc), http_status=status,
                       code=getattr(exc, "ogc_code", "InvalidParameterValue"))
        return "failed"
    except Exception as exc:  # a bug: the detail goes to the log, the user gets a reason without internals
        return _internal(job, exc)
    if not records.finish(job, "successful", **outcome):
        records.clear_results(job.folder)  # it was dismissed while the results were being written
        return "dismissed"
    return "successful"


def _internal(job: Job, exc: BaseException) -> str:
    log.error("job %s (%s) failed", job.id, job.process, exc_info=exc)
    records.finish(job, "failed", message=f"the analysis stopped with an internal error ({type(exc).__name__})",
                   message_zh=f"分析因内部错误而中止（{type(exc).__name__}）", http_status=500,
                   code="NoApplicableCode")
    records.clear_results(job.folder)
    return "failed"


def _frame_geojson(frame) -> bytes:
    import geopandas as gpd

    if not isinstance(frame, gpd.GeoDataFrame):
        frame = gpd.GeoDataFrame(frame, geometry=[None] * len(frame))
    elif frame.crs is not None and frame.crs.to_epsg() not in (4490, 4326):
        frame = frame.to_crs(4490)
    return frame.to_json(na="null", drop_id=True, ensure_ascii=False).encode("utf-8")


def _write_results(folder: Path, result: AnalysisResult, lang: str) -> dict[str, Any]:
    """The result layers (GeoPackage and one GeoJSON each) and the report; what ``job.json`` says of them."""
    write_result(result, folder / "result.gpkg" if (result.layers or result.tables) else None,
                 folder / "report.html", lang)
    outputs = {}
    for name, frame in {**result.layers, **result.tables}.items():
        (folder / f"{name}.geojson").write_bytes(_frame_geojson(frame))
        outputs[name] = len(frame)
    summary = [{"label_zh": zh, "label_en": en, "value": value} for zh, en, value in result.summary]
    return {"summary": summary, "warnings": list(result.warnings), "outputs": outputs,
            "report": result.report is not None}
