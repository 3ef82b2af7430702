"""The survey over HTTP: ``GET /plugins/survey`` (figures by layer and township, JSON, or the report with
``f=html`` or ``f=pdf``), ``GET /plugins/survey/report`` (the report: HTML, or PDF with ``f=pdf``; ``lang=zh|en``)
and ``GET /plugins/survey/fixes`` (the fix list as GeoJSON, paged).

Reading endpoints for key holders (any role): the figures and the fix list name the personal-data fields
that are missing (contacts, phones), which anonymous users are not told about, as the queryables do not
offer them; the values themselves are never in them. The survey's parameters are the query's
(``profile``, ``layers``, ``fields``, ``within``, ``as_of``, ``tolerance_m``), checked as the analysis checks
them; a bad one is a 400 naming it. Installed profiles only: a server never reads a profile file.

A city's survey takes seconds, and a client pages through the fix list, so each worker keeps its last few
outcomes, keyed on the registry file, the newest history row (every accepted change writes one, so any edit
makes a new key) and the parameters, for at most ``CACHE_SECONDS`` (what is overdue moves with the clock).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from typing import Any, Mapping

from rallypoint.analysis import AnalysisError
from rallypoint.web_endpoints import Endpoint

PAGE_ARGS = ("f", "lang", "limit", "offset", "layer", "township")
MAX_LIMIT = 10_000
CACHE_SECONDS = 120.0
CACHE_ENTRIES = 4
_cache: "OrderedDict[tuple, tuple[float, Any]]" = OrderedDict()
_cache_lock = threading.Lock()


def _outcome(request: Mapping[str, Any]):
    from rallypoint.profiles import find_profile

    from .analysis import SURVEY, survey_outcome
    from .requirements import KIND

    reg = request["registry"]
    args = {k: v for k, v in (request.get("args") or {}).items() if k not in PAGE_ARGS and v not in (None, "")}
    profiles = reg.plugins.collect("rallypoint_profiles")
    params = SURVEY.parse_parameters(args, profiles)
    newest = reg.history(limit=1, newest_first=True)
    key = (reg.location, newest[0].id if newest else 0, tuple(sorted(params.items())))
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and now - hit[0] <= CACHE_SECONDS:
            _cache.move_to_end(key)
            return hit[1]
    outcome = survey_outcome(reg, find_profile(profiles, KIND, params["profile"]), params)
    with _cache_lock:
        _cache[key] = (now, outcome)
        while len(_cache) > CACHE_ENTRIES:
            _cache.popitem(last=False)
    return outcome


def _records(frame) -> list[dict[str, Any]]:
    rows = frame.to_dict("records")
    for r in rows:
        for k, v in r.items():
            if isinstance(v, float) and math.isnan(v):
                r[k] = None
            elif hasattr(v, "item"):
                r[k] = v.item()
    return rows


def _int_arg(args: Mapping[str, Any], name: str, default: int, lo: int, hi: int) -> int:
    raw = args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise AnalysisError(f"query parameter {name!r}: {raw!r} is not a whole number") from None
    if not lo <= value <= hi:
        raise AnalysisError(f"query parameter {name!r}: {value} is not between {lo} and {hi}")
    return value


def survey_summary(request: Mapping[str, Any]):
    from .analysis import to_result

    args = request.get("args") or {}
    if args.get("f") in ("html", "pdf"):
        return survey_report(request)
    if args.get("f") not in (None, "", "json"):
        raise AnalysisError(f"query parameter 'f': {args.get('f')!r} is not one of json, html, pdf")
    outcome = _outcome(request)
    result = to_result(outcome)
    return 200, {}, {
        "info": outcome.info,
        "summary": [{"label_zh": z, "label_en": e, "value": v} for z, e, v in result.summary],
        "layers": _records(outcome.layers), "townships": _records(outcome.townships),
        "fields": _records(outcome.fields), "fixes": len(outcome.fixes), "warnings": result.warnings,
    }


def survey_report(request: Mapping[str, Any]):
    """The survey's report page, or its PDF."""
    from rallypoint_plugins.reporting.web import answer, options

    from .analysis import to_result

    lang, fmt, _ = options(request.get("args") or {})
    return answer(to_result(_outcome(request)).report(lang), fmt, "survey", lang)


def survey_fixes(request: Mapping[str, Any]):
    import orjson

    args = request.get("args") or {}
    limit = _int_arg(args, "limit", 1000, 1, MAX_LIMIT)
    offset = _int_arg(args, "offset", 0, 0, 10**9)
    fixes = _outcome(request).fixes
    if args.get("layer"):
        fixes = fixes[fixes["layer"] == args["layer"]]
    if args.get("township"):
        fixes = fixes[fixes["township"] == str(args["township"])]
    page = fixes.iloc[offset:offset + limit]
    data = orjson.loads(page.to_json(na="null", drop_id=True)) if len(page) else {"type": "FeatureCollection",
                                                                                  "features": []}
    data["numberMatched"] = len(fixes)
    data["numberReturned"] = len(page)
    return 200, {"Content-Type": "application/geo+json"}, data


ENDPOINTS = (
    Endpoint("GET", "/plugins/survey", survey_summary,
             "Resource survey completeness by layer and township (JSON, or f=html|pdf for the report)",
             role="reader"),
    Endpoint("GET", "/plugins/survey/report", survey_report,
             "The resource survey report (HTML, or f=pdf; lang=zh|en)", role="reader"),
    Endpoint("GET", "/plugins/survey/fixes", survey_fixes,
             "The records to fix, as GeoJSON (layer, township, limit, offset)", role="reader"),
)
