"""The ledger's figures as an analysis: in ``rallypoint analyse``, QGIS Processing and ``/processes``."""

from __future__ import annotations

from datetime import date
from html import escape
from typing import TYPE_CHECKING, Any

from rallypoint.analysis import Analysis, AnalysisContext, AnalysisError, AnalysisResult, Output, Parameter

from .ledger import LAYER, local_date
from .report import COUNT_COLUMNS, LIST_FIELDS, ledger_frame, township_names, township_table

if TYPE_CHECKING:  # pragma: no cover
    from rallypoint import Registry

HEADINGS = {
    "zh": {"township": "乡镇代码", "township_name": "乡镇", "total": "隐患总数", "open": "未销号", "overdue": "逾期未整改",
           "closed": "已销号", "rectified": "已整改", "rate_pct": "整改率（%）"},
    "en": {"township": "Township code", "township_name": "Township", "total": "Records", "open": "Open",
           "overdue": "Overdue", "closed": "Closed", "rectified": "Rectified", "rate_pct": "Rate (%)"},
}


def as_of_date(raw: str, reg: "Registry") -> str:
    """The reporting date: ``raw`` (YYYY-MM-DD) or, when empty, today in China."""
    if not raw:
        return local_date(reg.now())
    try:
        return date.fromisoformat(raw).isoformat()
    except ValueError:
        raise AnalysisError(f"parameter 'as_of': {raw!r} is not a date such as 2026-05-01") from None


def _report(table, as_of: str, lang: str) -> str:
    head = HEADINGS[lang]
    title = "隐患排查治理统计" if lang == "zh" else "Hazard rectification"
    cols = ["township", "township_name", *COUNT_COLUMNS, "rate_pct"]
    rows = []
    for rec in table.to_dict("records"):
        if rec["township"] == "*":
            rec = {**rec, "township": "合计" if lang == "zh" else "All", "township_name": ""}
        cells = "".join(f"<td>{escape('' if rec[c] is None else str(rec[c]))}</td>" for c in cols)
        rows.append(f"<tr>{cells}</tr>")
    th = "".join(f"<th>{escape(head[c])}</th>" for c in cols)
    return (f"<!DOCTYPE html><html lang='{lang}'><head><meta charset='utf-8'><title>{escape(title)}</title></head>"
            f"<body><h1>{escape(title)}</h1><p>{escape(as_of)}</p><table><tr>{th}</tr>{''.join(rows)}</table>"
            "</body></html>")


def run(reg: "Registry", params: dict[str, Any], ctx: AnalysisContext) -> AnalysisResult:
    import geopandas as gpd

    as_of = as_of_date(params["as_of"], reg)
    if params["township"] and not params["township"].isdigit():
        raise AnalysisError(f"parameter 'township': {params['township']!r} is not the start of a division code")
    frame = ledger_frame(reg, as_of, township=params["township"])
    table = township_table(frame, township_names(reg))
    total = table.iloc[-1]
    records = frame[[*LIST_FIELDS, "hazard_name", "township", "open", "overdue"]].copy()
    overdue = frame[frame["overdue"]].groupby("hazard_uuid").size().rename("overdue_records")
    hazards = reg.read_frame("hazard_points", columns=["uuid", "name", "adcode"], include_retired=True)
    hazards = hazards[hazards["uuid"].isin(overdue.index)]
    hazards = gpd.GeoDataFrame(hazards.assign(overdue_records=hazards["uuid"].map(overdue).astype("int64")),
                               geometry="geometry", crs=hazards.crs)
    summary = [("整改记录", "Records", int(total["total"])), ("已整改", "Rectified", int(total["rectified"])),
               ("整改率（%）", "Rectification rate (%)", total["rate_pct"]), ("未销号", "Open", int(total["open"])),
               ("逾期未整改", "Overdue", int(total["overdue"])), ("已销号", "Closed", int(total["closed"])),
               ("统计日期", "As of", as_of)]
    return AnalysisResult(layers={"overdue_hazards": hazards.reset_index(drop=True)},
                          tables={"townships": table, "records": records}, summary=summary,
                          report=lambda lang: _report(table, as_of, lang))


RECTIFICATION = Analysis(
    "rectification", "隐患排查治理统计", "Hazard rectification",
    "各乡镇隐患整改台账：未销号、逾期未整改、已销号清单与整改率（已整改及以后 / 总数）",
    "Per township: open, overdue and closed rectification records and the rectification rate "
    "(rectified or later / all)",
    (Parameter("as_of", "str", "", "统计日期（空为今天）", "As of (empty: today)"),
     Parameter("township", "str", "", "乡镇代码前缀（空为全部）", "Township code prefix (empty: all)")),
    (Output("townships", "table", "各乡镇整改统计", "Rectification by township"),
     Output("records", "table", "整改记录清单", "Rectification records"),
     Output("overdue_hazards", "layer", "逾期隐患点", "Hazard points with overdue records")),
    run, requires=(LAYER,))
