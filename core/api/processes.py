"""Analyses over HTTP, in the manner of OGC API – Processes (synchronous execution only).

``GET /processes`` lists the analyses plugins provide, ``GET /processes/{name}`` describes
one's inputs (from its typed parameters), ``POST /processes/{name}/execution`` with
``{"inputs": {...}}`` runs it (an API key with the role reader or above) and answers with
its summary and links to its results. Each run keeps its results in a folder of its own
(GeoPackage, HTML report, one GeoJSON per result layer or table) under the configured
jobs folder, served back under ``/processes/{name}/jobs/{job}/results/{output}``.

Runs do not pile up: ``DELETE /processes/{name}/jobs/{job}`` dismisses one (its author or an
admin), and every new run first removes runs older than the configured time to live
(``RALLYPOINT_JOB_TTL_HOURS``, a week by default) and folders of runs that never finished
(the manifest ``job.json`` is written last, atomically, so a folder without it is a run that
died or is still going; those are removed after an hour).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid as uuidlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from ..analysis import Analysis, Parameter, UnknownAnalysisError, analyses, run_analysis, write_result
from . import html
from .auth import require
from .features.collections import site_title
from .context import Context
from .errors import BadRequest, Forbidden, NotFound, PayloadTooLarge, UnsupportedMediaType
from .request import Request, check_params, output_format
from .responses import GEOJSON, HTML, JSON, Response, json_response, link

_TYPES = {"int": {"type": "integer"}, "float": {"type": "number"}, "str": {"type": "string"},
          "bool": {"type": "boolean"}, "floats": {"type": "array", "items": {"type": "number"}}}
_JOB = re.compile(r"[0-9a-f]{32}")
UNFINISHED_GRACE_S = 3600  # a run without its manifest after this long died


def sweep_jobs(root: Path, ttl_hours: float, now: float | None = None) -> list[str]:
    """Remove runs older than ``ttl_hours`` and unfinished runs older than an hour; the jobs removed."""
    now = time.time() if now is None else now
    removed = []
    if not root.is_dir():
        return removed
    for folder in root.iterdir():
        if not (folder.is_dir() and _JOB.fullmatch(folder.name)):
            continue
        manifest = folder / "job.json"
        try:
            age = now - (manifest.stat().st_mtime if manifest.exists() else folder.stat().st_mtime)
        except FileNotFoundError:  # another worker removed it meanwhile
            continue
        limit = ttl_hours * 3600 if manifest.exists() else UNFINISHED_GRACE_S
        if age > limit:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder.name)
    return removed


def _analysis(ctx: Context, name: str) -> Analysis:
    found = analyses(ctx.plugins)
    if name not in found:
        raise UnknownAnalysisError(f"no analysis {name!r} (installed: {', '.join(sorted(found)) or 'none'})")
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
            "jobControlOptions": ["sync-execute"], "outputTransmission": ["reference"],
            "links": [link(req.url(path), "self", JSON, a.title_en),
                      link(req.url(path + "/execution"), "http://www.opengis.net/def/rel/ogc/1.0/execute", JSON,
                           "Run it (POST)")]}


def list_processes(ctx: Context, req: Request) -> Response:
    check_params(req, ("f",))
    fmt = output_format(req)
    docs = [_summary_doc(ctx, req, a) for _, a in sorted(analyses(ctx.plugins).items())]
    doc = {"processes": docs, "links": [link(req.url("/processes"), "self", JSON, "Analyses")]}
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


def _frame_geojson(frame) -> bytes:
    import geopandas as gpd

    if not isinstance(frame, gpd.GeoDataFrame):
        frame = gpd.GeoDataFrame(frame, geometry=[None] * len(frame))
    elif frame.crs is not None and frame.crs.to_epsg() not in (4490, 4326):
        frame = frame.to_crs(4490)
    return frame.to_json(na="null", drop_id=True, ensure_ascii=False).encode("utf-8")


def execute(ctx: Context, req: Request) -> Response:
    check_params(req, ())
    a = _analysis(ctx, req.path_params["process_id"])
    principal = require(req.principal, "reader", f"running the analysis {a.name}")
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
    lang = ctx.registry.info.language
    inputs = body.get("inputs", {})
    result = run_analysis(ctx.registry, ctx.plugins, a.name, inputs, lang=lang)
    sweep_jobs(ctx.config.job_root(), ctx.config.job_ttl_hours)
    job = uuidlib.uuid4().hex
    folder = ctx.config.job_root() / job
    folder.mkdir(parents=True)
    write_result(result, folder / "result.gpkg" if (result.layers or result.tables) else None,
                 folder / "report.html", lang)
    outputs = {}
    for name, frame in {**result.layers, **result.tables}.items():
        (folder / f"{name}.geojson").write_bytes(_frame_geojson(frame))
        outputs[name] = len(frame)
    summary = [{"label_zh": zh, "label_en": en, "value": value} for zh, en, value in result.summary]
    manifest = {"jobID": job, "processID": a.name, "status": "successful", "inputs": inputs, "author": principal.name,
                "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "summary": summary,
                "warnings": list(result.warnings), "outputs": outputs, "report": result.report is not None}
    tmp = folder / "job.json.tmp"
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, default=str), encoding="utf-8")
    os.replace(tmp, folder / "job.json")  # last and atomic: a folder with job.json is a finished run
    return json_response(_job_doc(req, manifest))


def _job_doc(req: Request, manifest: dict[str, Any]) -> dict[str, Any]:
    base = f"/processes/{manifest['processID']}/jobs/{manifest['jobID']}"
    links = [link(req.url(base), "self", JSON, "This run"),
             link(req.url(base + "/results"), "http://www.opengis.net/def/rel/ogc/1.0/results", JSON, "Results")]
    for name, n in manifest["outputs"].items():
        links.append(link(req.url(f"{base}/results/{name}"), "item", GEOJSON, f"{name} ({n} features)"))
    if manifest.get("report"):
        links.append(link(req.url(base + "/report"), "describedby", HTML, "Report"))
    return {k: v for k, v in manifest.items() if k != "author"} | {"links": links}


def _job_folder(ctx: Context, req: Request) -> tuple[Path, dict[str, Any]]:
    job = req.path_params["job_id"]
    folder = ctx.config.job_root() / job
    if not _JOB.fullmatch(job) or not (folder / "job.json").is_file():
        raise NotFound(f"no job {job!r}")
    manifest = json.loads((folder / "job.json").read_text(encoding="utf-8"))
    if manifest["processID"] != req.path_params["process_id"]:
        raise NotFound(f"job {job} is not a run of {req.path_params['process_id']}")
    return folder, manifest


def get_job(ctx: Context, req: Request) -> Response:
    check_params(req, ("f",))
    _, manifest = _job_folder(ctx, req)
    return json_response(_job_doc(req, manifest))


def dismiss_job(ctx: Context, req: Request) -> Response:
    """Remove a run and its results: its author, or an admin."""
    check_params(req, ())
    folder, manifest = _job_folder(ctx, req)
    principal = require(req.principal, "reader", f"dismissing job {manifest['jobID']}")
    if principal.name != manifest.get("author") and not principal.has("admin"):
        raise Forbidden(f"job {manifest['jobID']} was run by {manifest.get('author')}; only they or an admin "
                        "may dismiss it")
    shutil.rmtree(folder)
    doc = {"jobID": manifest["jobID"], "processID": manifest["processID"], "status": "dismissed",
           "message": "the run and its results were removed",
           "links": [link(req.url(f"/processes/{manifest['processID']}"), "up", JSON, "The process")]}
    return json_response(doc)


def get_results(ctx: Context, req: Request) -> Response:
    check_params(req, ("f",))
    _, manifest = _job_folder(ctx, req)
    return json_response({"outputs": _job_doc(req, manifest)["links"][2:]})


def get_result(ctx: Context, req: Request) -> Response:
    check_params(req, ("f",))
    folder, manifest = _job_folder(ctx, req)
    name = req.path_params["output"]
    if name not in manifest["outputs"]:
        raise NotFound(f"job {manifest['jobID']} has no result {name!r} (results: {', '.join(manifest['outputs'])})")
    return 200, {"Content-Type": GEOJSON}, (folder / f"{name}.geojson").read_bytes()


def get_report(ctx: Context, req: Request) -> Response:
    check_params(req, ("f",))
    folder, manifest = _job_folder(ctx, req)
    if not manifest.get("report") or not (folder / "report.html").is_file():
        raise NotFound(f"job {manifest['jobID']} has no report")
    return 200, {"Content-Type": "text/html; charset=utf-8"}, (folder / "report.html").read_bytes()
