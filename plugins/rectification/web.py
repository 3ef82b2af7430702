"""The ledger over HTTP, through ``rallypoint_web_endpoints``.

- ``GET /rectification/townships?as_of=&township=``: counts and rate per township (no key needed; ``f=html`` or
  ``f=pdf``: the report below);
- ``GET /rectification/records?list=open|overdue|closed|all&as_of=&township=``: a list (no key needed; it
  holds no personal data);
- ``GET /plugins/rectification/report?as_of=&township=&lang=zh|en&f=html|pdf``: the ledger's report (the page for
  anyone, as the lists are; its PDF, which takes a browser's print, for key or session holders);
- ``POST /rectification/records``: a new record (JSON fields; an editor's key, as every write);
- ``POST /rectification/records/{uuid}/advance``: ``{"state": ..., "on": ..., "by": ..., "values": {...},
  "if_version": n}``.

A refused write is the registry's 400 with every problem; a deadline already passed comes back as a notice.
The records are also a collection of the OGC API (``/collections/hazard_rectification/items``), whose
writes the same rules guard.
"""

from __future__ import annotations

from typing import Any, Mapping

from rallypoint.analysis import AnalysisError
from rallypoint.web_endpoints import Endpoint

from .ledger import LAYER
from .report import LISTS, rows_of

_ARGS = {"townships": {"as_of", "township"}, "records": {"as_of", "township", "list"}}


class BadQuery(AnalysisError):
    """A query parameter the endpoint does not know or cannot read (400)."""


def _read(req: Mapping[str, Any], which: str):
    from .analysis import as_of_date
    from .report import ledger_frame

    args = {k: v for k, v in req["args"].items()}
    unknown = sorted(set(args) - _ARGS[which])
    if unknown:
        raise BadQuery(f"unknown query parameter(s) {', '.join(unknown)} (known: {', '.join(sorted(_ARGS[which]))})")
    reg = req["registry"]
    if LAYER not in reg.layers:
        raise BadQuery("this registry has no rectification ledger")
    day = as_of_date(args.get("as_of") or "", reg)
    return args, day, ledger_frame(reg, day, township=args.get("township") or "")


def townships(req: Mapping[str, Any]):
    from .report import township_names, township_table

    if (req.get("args") or {}).get("f") in ("html", "pdf"):  # a browser asking for the page: the ledger's report
        return report(req)

    _, day, frame = _read(req, "townships")
    return 200, {}, {"as_of": day, "townships": rows_of(township_table(frame, township_names(req["registry"])))}


def records(req: Mapping[str, Any]):
    from .report import select

    args, day, frame = _read(req, "records")
    which = args.get("list") or "open"
    if which not in LISTS:
        raise BadQuery(f"list {which!r} is not one of {', '.join(LISTS)}")
    part = select(frame, which)
    return 200, {}, {"list": which, "as_of": day, "count": len(part), "records": rows_of(part)}


def report(req: Mapping[str, Any]):
    from rallypoint.analysis import run_analysis
    from rallypoint.plugins import default_plugin_manager
    from rallypoint_plugins.reporting.web import answer, options, unauthorised

    lang, fmt, args = options(req.get("args") or {})
    unknown = sorted(set(args) - _ARGS["townships"])
    if unknown:
        raise BadQuery(f"unknown query parameter(s) {', '.join(unknown)} (known: as_of, township, lang, f)")
    if fmt == "pdf" and req.get("principal") is None:
        return unauthorised("GET /plugins/rectification/report?f=pdf")
    if LAYER not in req["registry"].layers:
        raise BadQuery("this registry has no rectification ledger")
    result = run_analysis(req["registry"], default_plugin_manager(), "rectification", args, lang=lang)
    return answer(result.report(lang), fmt, "rectification", lang)


def _body(req: Mapping[str, Any]) -> dict[str, Any]:
    body = req["json"]
    if not isinstance(body, dict):
        raise BadQuery("the body must be a JSON object (Content-Type: application/json)")
    return body


def _written(status: int, written) -> tuple[int, dict, dict]:
    f = written.feature
    return status, {"Location": f"/collections/{LAYER}/items/{f.uuid}"}, {
        "uuid": f.uuid, "record": f.properties, "notices": written.notices}


def create(req: Mapping[str, Any]):
    from .records import add_record

    return _written(201, add_record(req["registry"], _body(req), author=req["principal"]["name"]))


def advance(req: Mapping[str, Any]):
    from .records import advance as advance_record

    body = _body(req)
    unknown = sorted(set(body) - {"state", "on", "by", "values", "if_version"})
    if unknown or "state" not in body:
        raise BadQuery("the body needs 'state' and may have 'on', 'by', 'values', 'if_version'"
                       + (f" (unknown: {', '.join(unknown)})" if unknown else ""))
    written = advance_record(req["registry"], req["path_params"]["uuid"], body["state"],
                             author=req["principal"]["name"], on=body.get("on"), by=body.get("by"),
                             values=body.get("values") or {}, expected_version=body.get("if_version"))
    return _written(200, written)


ENDPOINTS = [
    Endpoint("GET", "/rectification/townships", townships, "Rectification counts and rate per township"),
    Endpoint("GET", "/rectification/records", records, "Open, overdue or closed rectification records"),
    Endpoint("GET", "/plugins/rectification/report", report,
             "The rectification ledger's report (HTML for anyone; f=pdf with a key; lang=zh|en)"),
    Endpoint("POST", "/rectification/records", create, "Add a rectification record"),
    Endpoint("POST", "/rectification/records/{uuid}/advance", advance, "Move a rectification record to a state"),
]
