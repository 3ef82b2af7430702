"""Jobs of OGC API – Processes (Part 1, with the ``dismiss`` class): status, results, dismissal.

``GET /jobs/{jobId}`` is a job's status (``statusInfo``: accepted, running with its progress, successful,
failed with the reason, dismissed), in JSON or as an HTML page (zh by default, ``?lang=en``) that shows the
progress and refreshes itself while the job runs. ``GET /jobs/{jobId}/results`` names each result (a GeoJSON
link per result layer or table; 404 ``result-not-ready`` while it runs, the failure's own status when it
failed), ``/jobs/{jobId}/results/{output}`` is one, ``/jobs/{jobId}/report`` the HTML report.
``DELETE /jobs/{jobId}`` (its author or an admin) dismisses a job: one that waits or runs is stopped and stays
listed as dismissed; one that ended is removed with its results. ``GET /jobs`` lists the caller's jobs (all of
them for an admin). The same job routes are also under ``/processes/{processId}/jobs/{jobId}``, as before.

Every answer is built from the jobs folder (:mod:`rallypoint.jobs.records`), so every worker of the server
sees every job. A job that has not ended is also asked of the engine: one the cluster lost, or whose task
failed outside the analysis, is recorded as failed with the reason.
"""

from __future__ import annotations

from typing import Any

from ..jobs import records
from ..jobs.engine import Engine, engine_for
from ..jobs.records import Job
from ..localtime import local_time, zone_name
from . import html
from .auth import require
from .context import Context
from .errors import ApiError, BadRequest, Forbidden, NotFound
from .features.collections import site_title
from .request import Request, check_params, output_format
from .responses import GEOJSON, HTML, JSON, Response, json_response, link

EXC = "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/"
REL = "http://www.opengis.net/def/rel/ogc/1.0/"
STATUS_ZH = {"accepted": "排队等待", "running": "运行中", "successful": "已完成", "failed": "失败",
             "dismissed": "已取消"}
STATUS_EN = {"accepted": "waiting", "running": "running", "successful": "finished", "failed": "failed",
             "dismissed": "dismissed"}


class NoSuchJob(NotFound):
    ogc_type = EXC + "no-such-job"


class ResultNotReady(NotFound):
    ogc_type = EXC + "result-not-ready"


class JobFailed(ApiError):
    """Asking for the results of a failed job: its failure, with the status the failure had."""

    public = True

    def __init__(self, job: Job):
        super().__init__(f"job {job.id} failed: {job.message}")
        self.http_status = int(job.http_status or 500)
        self.ogc_code = job.code or "NoApplicableCode"


def engine_of(ctx: Context) -> Engine | None:
    return engine_for(ctx.config.jobs_scheduler, ctx.config.jobs_scheduler_file)


def current(ctx: Context, job: Job) -> Job:
    """``job`` as it stands: a job that has not ended is checked with the engine (lost or failed there:
    recorded as failed, with the reason)."""
    engine = engine_of(ctx)
    if engine is None:
        return job
    if job.done:
        engine.forget(job.id, unpublish=False)  # a task this process looked at while it ran: let go of it
        return job
    why = engine.outcome(job)
    if why is None:
        return job
    records.finish(job, "failed", message=why[0], message_zh=why[1], http_status=500, code="NoApplicableCode")
    engine.forget(job.id)
    return records.read(ctx.config.job_root(), job.id) or job


def sweep(ctx: Context) -> list[str]:
    """Remove old jobs (see :func:`rallypoint.jobs.records.sweep_jobs`); with an engine, jobs it lost are first
    recorded as failed, and the removed jobs' tasks are let go."""
    root = ctx.config.job_root()
    engine = engine_of(ctx)
    if engine is not None:
        for job in records.all_jobs(root):
            if not job.done:
                current(ctx, job)
    removed = records.sweep_jobs(root, ctx.config.job_ttl_hours, unfinished_too=engine is None)
    for job_id in removed if engine is not None else ():
        engine.forget(job_id)
    return removed


def find(ctx: Context, req: Request) -> Job:
    job_id = req.path_params["job_id"]
    job = records.read(ctx.config.job_root(), job_id)
    if job is None:
        raise NoSuchJob(f"no job {job_id!r}")
    process = req.path_params.get("process_id")
    if process is not None and job.process != process:
        raise NoSuchJob(f"job {job_id} is not a run of {process}")
    return current(ctx, job)


def job_doc(req: Request, job: Job) -> dict[str, Any]:
    """The ``statusInfo`` of ``job``, with what a finished one produced and links to it."""
    base = f"/jobs/{job.id}"
    links = [link(req.url(base), "self", JSON, "This job (status)"),
             link(req.url(base, "f=html"), "alternate", HTML, "This job (HTML page with its progress)"),
             link(req.url(f"/processes/{job.process}"), "up", JSON, "The process")]
    if job.status == "successful":
        links.append(link(req.url(base + "/results"), REL + "results", JSON, "Results"))
        for name, n in job.outputs.items():
            links.append(link(req.url(f"{base}/results/{name}"), "item", GEOJSON, f"{name} ({n} features)"))
        if job.report:
            links.append(link(req.url(base + "/report"), "describedby", HTML, "Report"))
    doc: dict[str, Any] = {"jobID": job.id, "processID": job.process, "type": "process", "status": job.status,
                           "message": job.message or STATUS_EN[job.status], "created": job.created}
    for key in ("started", "finished", "updated"):
        if getattr(job, key):
            doc[key] = getattr(job, key)
    if job.progress is not None:
        doc["progress"] = int(job.progress)
    if job.step:
        doc["step"] = job.step
    doc["inputs"] = job.inputs
    if job.status == "successful":
        doc.update(summary=job.summary, warnings=job.warnings, outputs=job.outputs, report=job.report)
    doc["links"] = links
    return doc


def created(req: Request, job: Job, *, preference_applied: bool) -> Response:
    """201 Created for a job that goes on after the answer (the negotiated mode is asynchronous)."""
    headers = {"Location": req.url(f"/jobs/{job.id}")}
    if preference_applied:
        headers["Preference-Applied"] = "respond-async"
    doc = job_doc(req, job)
    doc["links"].insert(0, link(req.url(f"/jobs/{job.id}"), "monitor", JSON, "Follow the job"))
    return json_response(doc, status=201, headers=headers)


def results_doc(req: Request, job: Job) -> dict[str, Any]:
    """The results of a successful job, by output (``results.yaml``: each by reference)."""
    return {name: {"href": req.url(f"/jobs/{job.id}/results/{name}"), "type": GEOJSON} for name in job.outputs}


def finished_results(job: Job) -> Job:
    if job.status == "successful":
        return job
    if job.status == "failed":
        raise JobFailed(job)
    if job.status == "dismissed":
        raise NoSuchJob(f"job {job.id} was dismissed; it has no results")
    raise ResultNotReady(f"job {job.id} is {job.status}; its results are not ready (progress: "
                         f"{job.progress or 0} %)")


# -- the routes ---------------------------------------------------------------------------------------------

def get_job(ctx: Context, req: Request) -> Response:
    check_params(req, ("f", "lang"))
    fmt = output_format(req)
    job = find(ctx, req)
    if fmt == "html":
        return _page(ctx, req, job)
    return json_response(job_doc(req, job))


def list_jobs(ctx: Context, req: Request) -> Response:
    """The caller's jobs (an admin: everyone's), newest first; ``processID``, ``status`` and ``limit``."""
    check_params(req, ("f", "processID", "status", "limit"))
    fmt = output_format(req)
    principal = require(req.principal, "reader", "listing jobs")
    wanted_status = set(req.args.getlist("status"))
    unknown = wanted_status - set(STATUS_EN)
    if unknown:
        raise BadRequest(f"status={','.join(sorted(unknown))} is not a job status ({', '.join(STATUS_EN)})")
    processes = set(req.args.getlist("processID"))
    try:
        limit = int(req.args.single("limit") or 100)
    except ValueError:
        raise BadRequest(f"limit={req.args.get('limit')!r} is not a whole number") from None
    if not 1 <= limit <= 10_000:
        raise BadRequest(f"limit={limit} is outside 1-10000")
    found = []
    for job in records.all_jobs(ctx.config.job_root()):
        if job.author != principal.name and not principal.has("admin"):
            continue
        if processes and job.process not in processes:
            continue
        job = current(ctx, job)
        if wanted_status and job.status not in wanted_status:
            continue
        found.append(job)
        if len(found) >= limit:
            break
    doc = {"jobs": [job_doc(req, j) for j in found], "links": [link(req.url("/jobs"), "self", JSON, "Jobs")]}
    if fmt == "html":
        lang = _lang(req)
        rows = [_row(j, lang) | {"href": req.url(f"/jobs/{j.id}", f"f=html&lang={lang}")} for j in found]
        return html.render(req, "jobs.html", site=site_title(ctx), rows=rows, lang=lang,
                           crumbs=[(req.url("/"), "首页 Home"), (req.url("/jobs", "f=html"), "任务 Jobs")],
                           json_href=req.url("/jobs", "f=json"))
    return json_response(doc)


def get_results(ctx: Context, req: Request) -> Response:
    check_params(req, ("f",))
    job = finished_results(find(ctx, req))
    return json_response(results_doc(req, job))


def get_result(ctx: Context, req: Request) -> Response:
    check_params(req, ("f",))
    job = finished_results(find(ctx, req))
    name = req.path_params["output"]
    if name not in job.outputs:
        raise NotFound(f"job {job.id} has no result {name!r} (results: {', '.join(job.outputs)})")
    path = job.folder / f"{name}.geojson"
    if not path.is_file():
        raise NoSuchJob(f"job {job.id} was removed meanwhile")
    return 200, {"Content-Type": GEOJSON}, path.read_bytes()


def get_report(ctx: Context, req: Request) -> Response:
    check_params(req, ("f",))
    job = finished_results(find(ctx, req))
    if not job.report or not (job.folder / "report.html").is_file():
        raise NotFound(f"job {job.id} has no report")
    return 200, {"Content-Type": "text/html; charset=utf-8"}, (job.folder / "report.html").read_bytes()


def dismiss_job(ctx: Context, req: Request) -> Response:
    """Dismiss a job (its author, or an admin): stop it if it waits or runs, remove it if it ended."""
    check_params(req, ())
    job = find(ctx, req)
    principal = require(req.principal, "reader", f"dismissing job {job.id}")
    if principal.name != job.author and not principal.has("admin"):
        raise Forbidden(f"job {job.id} was run by {job.author}; only they or an admin may dismiss it")
    engine = engine_of(ctx)
    if not job.done and records.finish(job, "dismissed", message=f"dismissed by {principal.name}",
                                       message_zh=f"已由 {principal.name} 取消"):
        if engine is not None:
            engine.cancel(job)
        records.clear_results(job.folder)
        job = records.read(ctx.config.job_root(), job.id) or job
        return json_response(job_doc(req, job))
    # it had ended (perhaps just now): the job and its results are removed
    records.remove(job.folder)
    if engine is not None:
        engine.forget(job.id)
    doc = {"jobID": job.id, "processID": job.process, "type": "process", "status": "dismissed",
           "message": "the job and its results were removed",
           "links": [link(req.url(f"/processes/{job.process}"), "up", JSON, "The process")]}
    return json_response(doc)


# -- the HTML page ------------------------------------------------------------------------------------------

def _lang(req: Request) -> str:
    lang = (req.args.single("lang") or "zh").lower()
    if lang not in ("zh", "en"):
        raise BadRequest(f"lang={lang!r} is not offered (zh, en)")
    return lang


def _row(job: Job, lang: str) -> dict[str, Any]:
    return {"id": job.id, "process": job.process, "status": job.status,
            "status_label": (STATUS_ZH if lang == "zh" else STATUS_EN)[job.status],
            "progress": 100 if job.status == "successful" else int(job.progress or 0),
            "created": local_time(job.created), "finished": local_time(job.finished)}


def _page(ctx: Context, req: Request, job: Job) -> Response:
    from ..analysis import analyses

    lang = _lang(req)
    found = analyses(ctx.plugins).get(job.process)
    title = found.title(lang) if found else job.process
    message = ((job.message_zh or job.message) if lang == "zh" else job.message) \
        if job.status in ("failed", "dismissed") else ""  # a running job's step is on the progress line
    other = "en" if lang == "zh" else "zh"
    doc = job_doc(req, job)
    outputs = [(name, n, req.url(f"/jobs/{job.id}/results/{name}")) for name, n in job.outputs.items()]
    tz = zone_name()
    return html.render(req, "job.html", site=site_title(ctx), lang=lang, job=_row(job, lang), title=title,
                       message=message, step=job.step, started=local_time(job.started), tz=tz,
                       refresh=not job.done, summary=job.summary if job.status == "successful" else [],
                       outputs=outputs if job.status == "successful" else [],
                       report_href=req.url(f"/jobs/{job.id}/report") if job.report and job.status == "successful"
                       else None, other_href=req.url(f"/jobs/{job.id}", f"f=html&lang={other}"),
                       other_label="English" if lang == "zh" else "中文", doc=doc,
                       crumbs=[(req.url("/"), "首页 Home"), (req.url("/processes", "f=html"), "分析 Processes"),
                               (req.url(f"/jobs/{job.id}", f"f=html&lang={lang}"), job.id[:8])],
                       json_href=req.url(f"/jobs/{job.id}", "f=json"))
