"""The ledger's figures as an analysis: in ``rallypoint analyse``, QGIS Processing and ``/processes``."""

from __future__ import annotations

from datetime import date
from html import escape
from typing import TYPE_CHECKING, Any

from rallypoint.analysis import Analysis, AnalysisContext, AnalysisError, AnalysisResult, Output, Parameter

from .ledger import LAYER, STATES, STEP_FIELDS, local_date
from .report import COUNT_COLUMNS, LIST_FIELDS, ledger_frame, rows_of, township_names, township_table

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


_TERMS = {
    "zh": "未销号：尚未销号的记录；逾期未整改：整改时限已过且尚未整改（待整改或整改中）；已销号：已销号的记录；"
          "整改率 = 已整改、已验收及已销号的记录数 ÷ 记录总数，百分数四舍五入保留两位小数。乡镇按隐患点行政区划代码前九位归属。",
    "en": "Open: not yet closed. Overdue: the deadline has passed and the record is not rectified yet (found or in "
          "rectification). Closed: closed. Rate: records rectified, verified or closed over all records, in per cent "
          "rounded half up to two decimals. A record's township is the first nine digits of its hazard point's code.",
}
_OVERDUE = {"zh": ("逾期未整改清单", ("township", "hazard_name", "problem", "responsible_unit", "deadline", "state")),
            "en": ("Overdue records", ("township", "hazard_name", "problem", "responsible_unit", "deadline", "state"))}


def _html_table(rows: list[dict], cols, heads) -> str:
    th = "".join(f"<th>{escape(str(h))}</th>" for h in heads)
    body = "".join("<tr>" + "".join(f"<td>{escape('' if r[c] is None else str(r[c]))}</td>" for c in cols) + "</tr>"
                   for r in rows)
    return f"<table border='1' cellspacing='0' cellpadding='4'><tr>{th}</tr>{body}</table>"


_STYLE = ("<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
          "td,th{border:1px solid #999;padding:4px 8px}th{background:#eee}</style>")


def _steps(layer, lang: str) -> str:
    """The states in order, each with the fields its step records (from the definition's labels)."""
    items = []
    for s in STATES:
        fields = "、".join(layer.field(f).alias(lang) for f in STEP_FIELDS[s]) if lang == "zh" else \
            ", ".join(layer.field(f).alias(lang) for f in STEP_FIELDS[s])
        items.append(f"<li>{escape(layer.field('state').value(s).label(lang))}: {escape(fields)}</li>")
    return f"<ol>{''.join(items)}</ol>"


def _verdict(total, as_of: str, lang: str) -> str:
    """The ledger in one sentence (an empty ledger says so rather than showing a row of zeros)."""
    n = int(total["total"])
    if n == 0:
        return (f"截至 {as_of} 没有整改记录：无待整改事项，也无整改率。" if lang == "zh" else
                f"No rectification records as of {as_of}: nothing to rectify, and no rate.")
    rate = total["rate_pct"]
    return (f"截至 {as_of} 共 {n} 条整改记录：未销号 {int(total['open'])} 条，逾期未整改 {int(total['overdue'])} 条，"
            f"已销号 {int(total['closed'])} 条，整改率 {rate} %。" if lang == "zh" else
            f"{n} rectification records as of {as_of}: {int(total['open'])} open, {int(total['overdue'])} overdue, "
            f"{int(total['closed'])} closed; rectification rate {rate} %.")


def _report(table, overdue, layer, as_of: str, lang: str) -> str:
    head = HEADINGS[lang]
    title = "隐患排查治理统计" if lang == "zh" else "Hazard rectification"
    cols = ["township", "township_name", *COUNT_COLUMNS, "rate_pct"]
    rows = [{**r, "township": "合计" if lang == "zh" else "All"} if r["township"] == "*" else r
            for r in rows_of(table)]
    caption, ocols = _OVERDUE[lang]
    orows = rows_of(overdue[list(ocols)])
    as_of_label = "统计日期" if lang == "zh" else "As of"
    steps = "整改流程与各步骤记录的字段" if lang == "zh" else "The steps and the fields each records"
    return (f"<!DOCTYPE html><html lang='{lang}'><head><meta charset='utf-8'><title>{escape(title)}</title>{_STYLE}"
            f"</head><body><h1>{escape(title)}</h1><p>{as_of_label}: {escape(as_of)}</p>"
            f"<p><b>{escape(_verdict(table.iloc[-1], as_of, lang))}</b></p>"
            f"{_html_table(rows, cols, [head[c] for c in cols])}<p>{escape(_TERMS[lang])}</p>"
            f"<h2>{escape(caption)} ({len(orows)})</h2>{_html_table(orows, ocols, ocols)}"
            f"<h2>{escape(steps)}</h2>{_steps(layer, lang)}</body></html>")


def run(reg: "Registry", params: dict[str, Any], ctx: AnalysisContext) -> AnalysisResult:
    import geopandas as gpd

    if LAYER not in reg.layers:
        raise AnalysisError(f"{reg.location} has no rectification ledger: add it with 'rallypoint rectification init'")
    as_of = as_of_date(params["as_of"] or "", reg)
    township = params["township"] or ""
    if township and not township.isdigit():
        raise AnalysisError(f"parameter 'township': {township!r} is not the start of a division code")
    frame = ledger_frame(reg, as_of, township=township)
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
    # Empty results are left out (an empty ledger gives its one row of totals, and no layers to load).
    layers = {"overdue_hazards": hazards.reset_index(drop=True)} if len(hazards) else {}
    tables = {"townships": table, **({"records": records} if len(records) else {})}
    overdue_records, layer = frame[frame["overdue"]], reg.layer(LAYER)
    return AnalysisResult(layers=layers, tables=tables, summary=summary,
                          report=lambda lang: _report(table, overdue_records, layer, as_of, lang))


RECTIFICATION = Analysis(
    "rectification", "隐患排查治理统计", "Hazard rectification",
    "各乡镇隐患整改台账：未销号、逾期未整改、已销号清单与整改率（已整改及以后 / 总数）",
    "Per township: open, overdue and closed rectification records and the rectification rate "
    "(rectified or later / all)",
    # None, not "": optional parameters (QGIS Processing makes a parameter with a default mandatory)
    (Parameter("as_of", "str", None, "统计日期（空为今天）", "As of (empty: today)"),
     Parameter("township", "str", None, "乡镇代码前缀（空为全部）", "Township code prefix (empty: all)")),
    (Output("townships", "table", "各乡镇整改统计", "Rectification by township"),
     Output("records", "table", "整改记录清单", "Rectification records"),
     Output("overdue_hazards", "layer", "逾期隐患点", "Hazard points with overdue records")),
    run,
    packages=("numpy", "pandas", "geopandas", "shapely>=2"))  # what QGIS's Processing checks before it runs it
