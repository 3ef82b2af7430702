"""``POST /plugins/response/alert``: a warning to an area straight from the server.

The body is the warning: a CAP 1.2 alert (``application/cap+xml``, ``application/xml`` or ``text/xml``) or a
GeoJSON area (``application/geo+json`` or ``application/json``); the query takes ``f`` (html, the page; json,
everything; csv, a list for SMS tools, ``list=contacts`` or ``list=people``; txt, the first report), ``lang``
(zh, en), ``as_of``, ``allow_expired``, ``events`` and the response sheet's parameters (``incident``, ``days`` …).
It needs a key of any role, as the sheet does (a run takes seconds of a worker); it writes nothing. Names and phones
come only to callers who may see personal data, as the core decides for every route.
"""

from __future__ import annotations

from typing import Any, Mapping

from rallypoint.web_endpoints import Endpoint

FORMATS = ("html", "json", "csv", "txt")


def alert(req: Mapping[str, Any]):
    from rallypoint.analysis import AnalysisError

    from .alert_run import run_alert

    args = {k: v for k, v in (req.get("args") or {}).items() if v is not None}
    lang = args.pop("lang", None) or "zh"
    fmt = args.pop("f", None) or "html"
    which = args.pop("list", None) or "contacts"
    if lang not in ("zh", "en"):
        raise AnalysisError(f"parameter 'lang': {lang!r} is not zh or en")
    if fmt not in FORMATS:
        raise AnalysisError(f"parameter 'f': {fmt!r} is not one of {', '.join(FORMATS)}")
    if which not in ("contacts", "people"):
        raise AnalysisError(f"parameter 'list': {which!r} is not contacts or people")
    body = req.get("body") or b""
    if not body.strip():
        raise AnalysisError("send the warning as the request body: a CAP 1.2 alert (XML) or a GeoJSON area")
    outcome = run_alert(req["registry"], body, args, personal=bool(req.get("personal")))
    if fmt == "html":
        return 200, {"Content-Type": "text/html; charset=utf-8"}, outcome.page(lang)
    if fmt == "txt":
        return 200, {"Content-Type": "text/plain; charset=utf-8"}, outcome.first_report(lang)
    if fmt == "csv":
        name = f"{which}_{lang}.csv"
        return 200, {"Content-Type": "text/csv; charset=utf-8",
                     "Content-Disposition": f'attachment; filename="{name}"'}, outcome.csv(which, lang)
    return 200, {}, outcome.as_json()


# a run takes seconds of a worker and writes nothing: for key holders (any role), as /plugins/response/sheet is
ENDPOINTS = (Endpoint("POST", "/plugins/response/alert", alert,
                      summary="A warning to an area (CAP 1.2 or GeoJSON): the response sheet, the notification list "
                              "and the first report", role="reader"),)
