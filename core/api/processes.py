"""Analyses over HTTP: OGC API – Processes, Part 1 (core, OGC process description, JSON, HTML, OpenAPI 3.0)
and its ``dismiss`` class, with synchronous and asynchronous execution.

``GET /processes`` lists the analyses plugins provide, ``GET /processes/{name}`` describes one's inputs (from
its typed parameters), ``POST /processes/{name}/execution`` with ``{"inputs": {...}}`` runs it (an API key
with the role reader or above). Every run is a job (:mod:`.jobs`): its request, progress, results
(GeoPackage, HTML report, one GeoJSON per result layer or table) and end are kept in a folder of its own
under the jobs folder, whichever server worker answers.

Where a run executes: on the job engine, a Dask cluster outside the request workers (the local one
``rallypoint serve`` starts, or the one ``RALLYPOINT_DASK_SCHEDULER`` names), so an analysis never holds a
worker that answers map tiles and item pages. An app without an engine (``create_app`` without a scheduler,
``rallypoint serve --job-workers 0``) runs it inside the request, as before, and offers synchronous execution
only.

The mode (the rule for small analyses):

- ``Prefer: respond-async`` → 201 Created at once, ``Location: /jobs/{id}``, the job's status
  (``statusInfo``); follow it at ``/jobs/{id}`` (its HTML page shows the progress).
- no such preference → the request waits for the run for at most ``sync_seconds`` (``RALLYPOINT_SYNC_SECONDS``,
  10 s; a ``Prefer: wait=N`` shortens it): a run that ends within that time is answered as before, 200 with
  the job's status, summary and result links (``"response": "document"`` asks for the results document
  instead); a longer one goes on as a job and is answered 201 with its status and ``Location``, exactly as
  if ``respond-async`` had been asked. So a small analysis (capacity, survey, a ledger on a county: well
  under a second) still answers at once, and no request waits on an analysis longer than the bound.

Bad inputs and missing layers are refused (400) before a job is made. Runs do not pile up: every new run
first removes ended jobs older than the configured time to live (``RALLYPOINT_JOB_TTL_HOURS``, a week).
"""

from __future__ import annotations

from typing import Any

import orjson

from ..analysis import Analysis, Parameter, analyses, check_analysis
from ..jobs import records, runner
from ..jobs.engine import EngineUnavailable
from . import html, jobs
from .auth import require
from .context import Context
from .errors import BadRequest, NotFound, PayloadTooLarge, UnsupportedMediaType
from .features.collections import site_title
from .request import Request, check_params, output_format
from .responses import GEOJSON, JSON, Response, json_response, link

_TYPES = {"int": {"type": "integer"}, "float": {"type": "number"}, "str": {"type": "string"},
          "bool": {"type": "boolean"}, "floats": {"type": "array", "items": {"type": "number"}}}
_CONF = "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/"
#: the conformance classes of OGC API – Processes – Part 1 this server declares (on /conformance)
CONFORMANCE = tuple(_CONF + c for c in ("core", "ogc-process-description", "json", "html", "oas30", "dismiss"))


class NoSuchProcess(NotFound):
    ogc_type = jobs.EXC + "no-such-process"


def _analysis(ctx: Context, name: str) -> Analysis:
    found = analyses(ctx.plugins)
    if name not in found:
        raise NoSuchProcess(f"no analysis {name!r} (installed: {', '.join(sorted(found)) or 'none'})")
    return found[name]


def input_schema(ctx: Context, p: Parameter) -> dict[str, Any]:
    schema = dict(_TYPES.get(p.type, {"type": "string"}))
    if p.type == "choice":
        schema["enum"] = list(p.choices)
    elif p.type == "profile":
        kind = p.profile_kind or p.name
        schema["enum"] = sorted({pr.name for pr in ctx.plugins.collect("rallypoint_profiles") if pr.kind == kind})
    if p.min is not None:
        schema["minimum"] = p.min
    if p.max is not None:
        schema["maximum"] = p.max
    if p.default is not None:
        schema["default"] = list(p.default) if isinstance(p.default, tuple) else p.default
    return schema


def _summary_doc(ctx: Context, req: Request, a: Analysis) -> dict[str, Any]:
    lang = ctx.registry.info.language
    path = f"/processes/{a.name}"
    return {"id": a.name, "title": a.title(lang), "description": a.description(lang), "version": a.version,
            "title_zh": a.title_zh, "title_en": a.title_en,
            "jobControlOptions": ["sync-execute", "async-execute", "dismiss"] if jobs.engine_of(ctx)
            else ["sync-execute", "dismiss"], "outputTransmission": ["reference"],
            "links": [link(req.url(path), "self", JSON, a.title_en),
                      link(req.url(path + "/execution"), "http://www.opengis.net/def/rel/ogc/1.0/execute", JSON,
                           "Run it (POST)")]}


def list_processes(ctx: Context, req: Request) -> Response:
    check_params(req, ("f", "limit"))
    fmt = output_format(req)
    try:
        limit = int(req.args.single("limit") or 10_000)
    except ValueError:
        raise BadRequest(f"limit={req.args.get('limit')!r} is not a whole number") from None
    if not 1 <= limit <= 10_000:
        raise BadRequest(f"limit={limit} is outside 1-10000")
    docs = [_summary_doc(ctx, req, a) for _, a in sorted(analyses(ctx.plugins).items())][:limit]
    doc = {"processes": docs, "links": [link(req.url("/processes"), "self", JSON, "Analyses"),
                                        link(req.url("/jobs"), jobs.REL + "job-list", JSON, "Your jobs")]}
    if fmt == "html":
        for d in docs:
            d["html_href"] = req.url(f"/processes/{d['id']}", "f=html")
        return html.render(req, "processes.html", site=site_title(ctx), doc=doc,
                           crumbs=[(req.url("/"), "首页 Home"), (req.url("/processes", "f=html"), "分析 Processes")],
                           json_href=req.url("/processes", "f=json"))
    return json_response(doc)


def describe_process(ctx: Context, req: Request) -> Response:
    check_params(req, ("f",))
    fmt = output_format(req)
    a = _analysis(ctx, req.path_params["process_id"])
    lang = ctx.registry.info.language
    doc = _summary_doc(ctx, req, a)
    doc["inputs"] = {p.name: {"title": p.title(lang), "title_zh": p.title_zh, "title_en": p.title_en,
                              "schema": input_schema(ctx, p), "minOccurs": 0, "maxOccurs": 1} for p in a.parameters}
    doc["outputs"] = {o.name: {"title": o.title(lang), "kind": o.kind,
                               "schema": {"type": "object", "contentMediaType": GEOJSON}} for o in a.outputs}
    doc["requires"] = list(a.requires)
    if fmt == "html":
        return html.render(req, "process.html", site=site_title(ctx), doc=doc,
                           execute_href=req.url(f"/processes/{a.name}/execution"),
                           crumbs=[(req.url("/"), "首页 Home"), (req.url("/processes", "f=html"), "分析 Processes"),
                                   (req.url(f"/processes/{a.name}", "f=html"), a.name)],
                           json_href=req.url(f"/processes/{a.name}", "f=json"))
    return json_response(doc)


def _prefer(req: Request) -> tuple[bool, float | None]:
    """``Prefer`` (RFC 7240): whether ``respond-async`` is asked, and a ``wait`` in seconds if one is given."""
    asked, wait = False, None
    for token in (req.headers.get("prefer") or "").split(","):
        name, _, value = token.split(";")[0].strip().partition("=")
        name = name.strip().lower()
        if name == "respond-async":
            asked = True
        elif name == "wait":
            try:
                wait = max(0.0, float(value.strip().strip('"')))
            except ValueError:
                pass
    return asked, wait


def _request_body(ctx: Context, req: Request) -> dict[str, Any]:
    if len(req.body) > ctx.config.max_body_bytes:
        raise PayloadTooLarge(f"the body is {len(req.body):,} bytes; at most {ctx.config.max_body_bytes:,}")
    media = (req.headers.get("content-type") or "").split(";")[0].strip().lower()
    if req.body and media != "application/json":
        raise UnsupportedMediaType(f"send {{\"inputs\": {{...}}}} as application/json, not {media or 'no type'}")
    try:
        body = orjson.loads(req.body) if req.body else {}
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict) or not isinstance(body.get("inputs", {}), dict):
        raise BadRequest('the body must be {"inputs": {"name": value, ...}}')
    extra = sorted(set(body) - {"inputs", "outputs", "response", "subscriber"})
    if extra:
        raise BadRequest(f"unknown member(s) of the execute request: {', '.join(extra)}")
    for member, kind in (("outputs", dict), ("subscriber", dict), ("response", str)):
        if member in body and not isinstance(body[member], kind):
            raise BadRequest(f"'{member}' of the execute request must be a JSON "
                             f"{'object' if kind is dict else 'string'}")
    if body.get("response", "document") not in ("document", "raw"):
        raise BadRequest(f"'response' must be 'document' or 'raw', not {body['response']!r}")
    return body


def execute(ctx: Context, req: Request) -> Response:
    """Run an analysis as a job: on the engine (asynchronously when asked or when it takes longer than the
    synchronous bound), or inside the request without an engine."""
    check_params(req, ())
    a = _analysis(ctx, req.path_params["process_id"])
    principal = require(req.principal, "reader", f"running the analysis {a.name}")
    body = _request_body(ctx, req)
    inputs = body.get("inputs", {})
    check_analysis(ctx.registry, ctx.plugins, a.name, inputs)  # a bad request is a 400 now, not a failed job
    asked_async, wait = _prefer(req)
    jobs.sweep(ctx)
    root = ctx.config.job_root()
    job = records.new_job(root, a.name, inputs, principal.name, ctx.registry.info.language)
    engine = jobs.engine_of(ctx)
    if engine is None:  # no engine: inside this request, as before (synchronous execution only)
        runner.run(job, ctx.registry, ctx.plugins)
        return _answer(ctx, req, body, job.id)
    bound = ctx.config.sync_seconds if wait is None else min(wait, ctx.config.sync_seconds)
    bound = 0.0 if asked_async else bound
    try:
        ended = engine.submit(root, job, str(ctx.config.registry_path), wait=bound)
    except Exception as exc:  # noqa: BLE001 (the cluster is down: the job is over before it began)
        records.finish(job, "failed", message="the job engine cannot be reached", message_zh="计算集群无法连接",
                       http_status=503, code="ServiceUnavailable")
        raise EngineUnavailable("the job engine cannot be reached; try again later") from exc
    if ended:
        return _answer(ctx, req, body, job.id)
    return jobs.created(req, records.read(root, job.id) or job, preference_applied=asked_async)


def _answer(ctx: Context, req: Request, body: dict[str, Any], job_id: str) -> Response:
    """The synchronous answer of an ended job: its status and results, or its failure as the error."""
    job = records.read(ctx.config.job_root(), job_id)
    if job is None:
        raise jobs.NoSuchJob(f"job {job_id} was removed meanwhile")
    job = jobs.finished_results(jobs.current(ctx, job))
    if body.get("response") == "document":
        return json_response(jobs.results_doc(req, job), headers={"Location": req.url(f"/jobs/{job.id}")})
    return json_response(jobs.job_doc(req, job), headers={"Location": req.url(f"/jobs/{job.id}")})


def openapi_paths(ctx: Context, inputs_schema, errors: dict[str, Any], geojson_response) -> dict[str, Any]:
    """The paths of /processes and /jobs for the API document."""
    simple = {"responses": {"200": {"description": "OK"}}, "parameters": [{"$ref": "#/components/parameters/f"}]}
    secured = [{"bearer": []}, {"apiKey": []}]
    prefer = {"name": "Prefer", "in": "header", "required": False, "schema": {"type": "string"},
              "description": "respond-async: answer 201 with a job at once; wait=N: wait at most N seconds"}
    paths: dict[str, Any] = {"/processes": {"get": {
        "summary": "The analyses plugins provide", "operationId": "getProcesses",
        "parameters": [{"$ref": "#/components/parameters/f"},
                       {"name": "limit", "in": "query", "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 10000}}],
        "responses": {"200": {"description": "OK"}}}}}
    for name, analysis in sorted(analyses(ctx.plugins).items()):
        paths[f"/processes/{name}"] = {"get": {"summary": f"Analysis {name}: its inputs", **simple}}
        paths[f"/processes/{name}/execution"] = {"post": {
            "summary": f"Run analysis {name} (a job; synchronous within a time bound, or Prefer: respond-async)",
            "security": secured, "parameters": [prefer],
            "requestBody": {"required": True, "content": {JSON: {"schema": {
                "type": "object", "additionalProperties": False,
                "properties": {"inputs": inputs_schema(analysis), "outputs": {"type": "object"},
                               "response": {"type": "string", "enum": ["document", "raw"]},
                               "subscriber": {"type": "object"}}}}}},
            "responses": {"200": {"description": "Ended within the bound: the job's status, summary and results."},
                          "201": {"description": "A job that goes on: its status; Location names it."},
                          **errors}}}
    job_params = [{"name": "jobId", "in": "path", "required": True, "schema": {"type": "string"}}]
    output = [{"name": "output", "in": "path", "required": True, "schema": {"type": "string"}}]
    for base, params in (("/jobs/{jobId}", job_params), ("/processes/{processId}/jobs/{jobId}",
                         [{"name": "processId", "in": "path", "required": True, "schema": {"type": "string"}}]
                         + job_params)):
        paths[base] = {"get": {"summary": "A job's status (statusInfo; f=html: a page with its progress)",
                               "parameters": params + [{"$ref": "#/components/parameters/f"},
                                                       {"name": "lang", "in": "query", "required": False,
                                                        "schema": {"type": "string", "enum": ["zh", "en"]}}],
                               "responses": {"200": {"description": "OK"}, **errors}},
                       "delete": {"summary": "Dismiss a job: stop it, or remove it and its results once ended "
                                             "(its author or an admin)",
                                  "parameters": params, "security": secured,
                                  "responses": {"200": {"description": "Dismissed."}, **errors}}}
        paths[base + "/results"] = {"get": {"summary": "The job's results, by reference", "parameters": params,
                                            "responses": {"200": {"description": "OK"}, **errors}}}
        paths[base + "/results/{output}"] = {"get": {
            "summary": "One result layer or table (GeoJSON)", "parameters": params + output,
            "responses": {"200": geojson_response, **errors}}}
        paths[base + "/report"] = {"get": {"summary": "The job's HTML report", "parameters": params,
                                           "responses": {"200": {"description": "OK"}, **errors}}}
    paths["/jobs"] = {"get": {
        "summary": "Your jobs (an admin: everyone's), newest first", "security": secured,
        "parameters": [{"$ref": "#/components/parameters/f"},
                       {"name": "processID", "in": "query", "required": False, "schema": {"type": "string"}},
                       {"name": "status", "in": "query", "required": False,
                        "schema": {"type": "string", "enum": list(jobs.STATUS_EN)}},
                       {"name": "limit", "in": "query", "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 100}}],
        "responses": {"200": {"description": "OK"}, **errors}}}
    return paths
