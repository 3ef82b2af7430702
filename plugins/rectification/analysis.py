"""The ledger's figures as an analysis: in ``rallypoint analyse``, QGIS Processing and ``/processes``."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from rallypoint.analysis import Analysis, AnalysisContext, AnalysisError, AnalysisResult, Output, Parameter

from .ledger import LAYER, local_date
from .report import LIST_FIELDS, ledger_frame, township_names, township_table

if TYPE_CHECKING:  # pragma: no cover
    from rallypoint import Registry


def as_of_date(raw: str, reg: "Registry") -> str:
    """The reporting date: ``raw`` (YYYY-MM-DD) or, when empty, today in China."""
    if not raw:
        return local_date(reg.now())
    try:
        return date.fromisoformat(raw).isoformat()
    except ValueError:
        raise AnalysisError(f"parameter 'as_of': {raw!r} is not a date such as 2026-05-01") from None


def run(reg: "Registry", params: dict[str, Any], ctx: AnalysisContext) -> AnalysisResult:
    import geopandas as gpd

    from .page import map_layers, render

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
    points, areas = map_layers(reg, frame, township)
    name, bureau = str(reg.info.name), str(reg.info.bureau)
    return AnalysisResult(layers=layers, tables=tables, summary=summary,
                          report=lambda lang: render(table, overdue_records, points, areas, layer, as_of, township,
                                                     name, bureau, lang))


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
    packages=("numpy", "pandas", "geopandas", "shapely>=2", "matplotlib"))  # what QGIS's Processing checks before it runs it (its report draws a map)
