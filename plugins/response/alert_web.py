"""``POST /plugins/response/alert``: a warning to an area straight from the server.

The body is the warning: a CAP 1.2 alert (``application/cap+xml``, ``application/xml`` or ``text/xml``) or a
GeoJSON area (``application/geo+json`` or ``application/json``); the query takes ``f`` (html, the page; json,
everything; csv, a list for SMS tools, ``list=contacts`` or ``list=people``; txt, the first report; pdf, the page
printed by headless Chromium), ``lang``
(zh, en), ``as_of``, ``allow_expired``, ``events`` and the response sheet's parameters (``incident``, ``days`` …).
It needs a key of any role, as the sheet does (a run takes seconds of a worker); it writes nothing. Names and phones
come only to callers who may see personal data, as the core decides for every route.
"""

from __future__ import annotations

from typing import Any, Mapping

from rallypoint.web_endpoints import Endpoint

FORMATS = ("html", "pdf", "json", "csv", "txt")


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
    from .alert_page import csv_list, render
    from .first_report import text

    outcome = run_alert(req["registry"], body, args, personal=bool(req.get("personal")))
    if fmt in ("html", "pdf"):
        from rallypoint_plugins.reporting.web import answer

        return answer(render(outcome, lang), fmt, "alert", lang)
    if fmt == "txt":
        return 200, {"Content-Type": "text/plain; charset=utf-8"}, text(outcome, lang)
    if fmt == "csv":
        name = f"{which}_{lang}.csv"
        return 200, {"Content-Type": "text/csv; charset=utf-8",
                     "Content-Disposition": f'attachment; filename="{name}"'}, csv_list(outcome, which, lang)
    return 200, {}, as_json(outcome)


def as_json(o) -> dict[str, Any]:
    """Everything of the outcome ``o`` as JSON: the alert, the headline figures, both lists, the first report."""
    import math

    from .first_report import text

    def plain(v):
        if hasattr(v, "item"):
            v = v.item()
        return None if isinstance(v, float) and not math.isfinite(v) else v

    alert = o.warning.alert
    return {
        "source": o.warning.kind, "incident": o.incident, "level": o.warning.level,
        "alert": None if alert is None else {
            "identifier": alert.identifier, "sender": alert.sender, "sent": alert.sent.isoformat(),
            "status": alert.status, "msgType": alert.msg_type, "references": alert.references,
            "event": alert.info("zh").event, "headline": alert.info("zh").headline,
            "expires": None if alert.expires is None else alert.expires.isoformat()},
        "area": {"zh": o.warning.desc("zh"), "en": o.warning.desc("en")},
        "made_at": o.made_at.isoformat(), "report_by": o.deadline.isoformat(),
        "summary": {k: plain(v) for k, v in o.summary.items()},
        "contacts": [{k: plain(v) for k, v in r.items()} for r in o.notice.contacts.to_dict("records")],
        "people": [{k: plain(v) for k, v in r.items()} for r in o.notice.areas.to_dict("records")],
        "personal": o.notice.personal,
        "first_report": {"zh": text(o, "zh"), "en": text(o, "en")},
        "notes": [en for en, _ in o.notes], "warnings": list(o.result.warnings),
    }


# a run takes seconds of a worker and writes nothing: for key holders (any role), as /plugins/response/sheet is
ENDPOINTS = (Endpoint("POST", "/plugins/response/alert", alert,
                      summary="A warning to an area (CAP 1.2 or GeoJSON): the response sheet, the notification list "
                              "and the first report", role="reader"),)
