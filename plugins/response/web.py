"""``GET /plugins/response/sheet``: the response card of an area straight from the server, as HTML or JSON.

The query takes the analysis' parameters (``point=104.06,30.66&radius_m=800&incident=flood``, ``hazard_uuid=…``,
or ``area=`` GeoJSON), plus ``lang`` (zh, en) and ``f`` (html; pdf, the card printed by headless Chromium; json: the
headline figures, the supply table and the warnings). ``GET /plugins/response/report`` is the same card, named as
every analysis' report route is. Like ``/processes``, it needs a key (any role): a run takes seconds of a worker. The same run is
``POST /processes/response/execution``, which keeps the layers as a job.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from rallypoint.web_endpoints import Endpoint


def _json_value(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if hasattr(v, "item"):  # numpy scalars
        return _json_value(v.item())
    return v


def sheet(req: Mapping[str, Any]):
    from rallypoint.analysis import run_analysis
    from rallypoint.plugins import default_plugin_manager

    from rallypoint_plugins.reporting.web import answer, options

    lang, fmt, args = options(req.get("args") or {}, ("html", "pdf", "json"))
    result = run_analysis(req["registry"], default_plugin_manager(), "response", args, lang=lang)
    if fmt in ("html", "pdf"):
        return answer(result.report(lang), fmt, "sheet", lang)
    summary = {k: _json_value(v) for k, v in result.tables["response_summary"].iloc[0].items()}
    supply = [{k: _json_value(v) for k, v in row.items()}
              for row in result.tables["response_supply"].to_dict("records")]
    return 200, {}, {"summary": summary, "supply": supply, "warnings": result.warnings}


# a run takes seconds of a worker: for key holders (any role), as /processes is
ENDPOINTS = (Endpoint("GET", "/plugins/response/sheet", sheet,
                      summary="The incident response sheet of an area (HTML card, f=pdf, or f=json figures)",
                      role="reader"),
             Endpoint("GET", "/plugins/response/report", sheet,
                      summary="The incident response sheet of an area (HTML, or f=pdf; lang=zh|en)", role="reader"))
