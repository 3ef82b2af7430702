"""A report over HTTP: ``f=html`` (the page, the default) or ``f=pdf`` (the same page printed by headless
Chromium), ``lang=zh`` (the default) or ``en``; every other query parameter is the analysis' own.

:func:`report_endpoint` makes the route ``GET /plugins/{name}/report`` of an analysis; plugins whose report needs
more than a run (the survey's cache, the ledger's) use :func:`options` and :func:`answer` in their own handler.
"""

from __future__ import annotations

from typing import Any, Mapping

from rallypoint.analysis import AnalysisError
from rallypoint.web_endpoints import Endpoint

FORMATS = ("html", "pdf")
LANGS = ("zh", "en")


def options(args: Mapping[str, Any], formats: tuple[str, ...] = FORMATS) -> tuple[str, str, dict[str, Any]]:
    """``(lang, f, the other arguments)`` of a report's query; a bad ``lang`` or ``f`` is an error naming it."""
    rest = {k: v for k, v in (args or {}).items() if v is not None}
    lang = rest.pop("lang", None) or "zh"
    fmt = rest.pop("f", None) or "html"
    if lang not in LANGS:
        raise AnalysisError(f"query parameter 'lang': {lang!r} is not zh or en")
    if fmt not in formats:
        raise AnalysisError(f"query parameter 'f': {fmt!r} is not one of {', '.join(formats)}")
    return lang, fmt, rest


def answer(page: str, fmt: str, name: str, lang: str):
    """The report as the answer: the HTML page, or its PDF (``name_lang.pdf``)."""
    if fmt == "pdf":
        from .pdf import pdf_bytes

        return 200, {"Content-Type": "application/pdf",
                     "Content-Disposition": f'inline; filename="{name}_{lang}.pdf"'}, pdf_bytes(page)
    return 200, {"Content-Type": "text/html; charset=utf-8"}, page


def unauthorised(what: str):
    """The core's 401, for a handler that lets anyone read its page but only key holders print it."""
    return 401, {"WWW-Authenticate": 'Bearer realm="rallypoint"'}, {
        "code": "Unauthorized", "description": f"{what} needs a key or a session (any role)"}


def run_report(req: Mapping[str, Any], name: str):
    """Run analysis ``name`` with the query's parameters and answer with its report."""
    from rallypoint.analysis import run_analysis
    from rallypoint.plugins import default_plugin_manager

    lang, fmt, args = options(req.get("args") or {})
    result = run_analysis(req["registry"], default_plugin_manager(), name, args, lang=lang)
    if result.report is None:
        raise AnalysisError(f"the analysis {name!r} makes no report")
    return answer(result.report(lang), fmt, name, lang)


def report_endpoint(name: str, summary: str, role: str | None = "reader") -> Endpoint:
    """``GET /plugins/{name}/report``: analysis ``name``'s report, HTML or PDF, zh or en. A run takes seconds
    of a worker, so by default it is for key holders (any role), as ``/processes`` is."""
    return Endpoint("GET", f"/plugins/{name}/report", lambda req: run_report(req, name), summary, role=role)


def report_links(name: str, title_zh: str, title_en: str, role: str = "reader") -> tuple[Any, Any]:
    """The portal's two links to a report: the page, and its PDF (``{lang}`` is the portal's language)."""
    from rallypoint.portal import Link

    base = f"/plugins/{name}/report"
    return (Link(base + "?lang={lang}", f"{title_zh}报告", f"{title_en} report", role=role),
            Link(base + "?f=pdf&lang={lang}", f"{title_zh}报告（PDF）", f"{title_en} report (PDF)", role=role))
