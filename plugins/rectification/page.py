"""The ledger's report (隐患排查治理统计): the figures per township with the rate to two decimals (rounded half up),
a map of the hazard points with open and overdue records (legend, scale bar, north arrow), the overdue list with its
states said in words, the terms and the steps; Chinese headers in zh, English in en, on the reports' A4 page."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from rallypoint_plugins.reporting import numbers, page, times

from .report import COUNT_COLUMNS, rows_of

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd
    import pandas as pd

TITLE = ("隐患排查治理统计", "Hazard rectification ledger")
HEADINGS = {
    "zh": {"township": "乡镇代码", "township_name": "乡镇（街道）", "total": "整改记录", "open": "未销号",
           "overdue": "逾期未整改", "closed": "已销号", "rectified": "已整改", "rate_pct": "整改率"},
    "en": {"township": "Township code", "township_name": "Township", "total": "Records", "open": "Open",
           "overdue": "Overdue", "closed": "Closed", "rectified": "Rectified", "rate_pct": "Rate"},
}
TERMS = {
    "zh": "未销号：尚未销号的记录；逾期未整改：整改时限已过且尚未整改（待整改或整改中）；已销号：已销号的记录；"
          "整改率 = 已整改、已验收及已销号的记录数 ÷ 记录总数，百分数四舍五入保留两位小数。乡镇按隐患点行政区划代码前九位归属。",
    "en": "Open: not yet closed. Overdue: the deadline has passed and the record is not rectified yet (found or in "
          "rectification). Closed: closed. Rate: records rectified, verified or closed over all records, in per cent "
          "rounded half up to two decimals. A record's township is the first nine digits of its hazard point's code.",
}
#: The map's symbols: a hazard point by the worst of its records.
MARKS = {"overdue": ("#d62728", "o", 26, "有逾期未整改记录的隐患点", "Hazard points with overdue records"),
         "open": ("#ff7f0e", "o", 16, "有未销号记录的隐患点", "Hazard points with open records"),
         "closed": ("#1a9850", "s", 12, "记录均已销号的隐患点", "Hazard points with every record closed")}


def _t(lang: str, zh: str, en: str) -> str:
    return zh if lang == "zh" else en


def rate(v) -> str:
    """The rate in per cent with its two promised decimals (``100.00 %``), or a dash when there is none.

    >>> rate(100.0), rate(92.65), rate(12.5), rate(None)
    ('100.00 %', '92.65 %', '12.50 %', '—')
    """
    return numbers.percent_value(v, 2)


def verdict(total, as_of: str, lang: str) -> str:
    """The ledger in one sentence (an empty ledger says so rather than showing a row of zeros)."""
    n = int(total["total"])
    day = times.day(as_of, lang)
    if n == 0:
        return (f"截至 {day} 没有整改记录：无待整改事项，也无整改率。" if lang == "zh" else
                f"No rectification records as of {day}: nothing to rectify, and no rate.")
    return (f"截至 {day} 共 {n:,} 条整改记录：未销号 {int(total['open']):,} 条，逾期未整改 {int(total['overdue']):,} 条，"
            f"已销号 {int(total['closed']):,} 条，整改率 {rate(total['rate_pct'])}。" if lang == "zh" else
            f"{n:,} rectification records as of {day}: {int(total['open']):,} open, {int(total['overdue']):,} "
            f"overdue, {int(total['closed']):,} closed; rectification rate {rate(total['rate_pct'])}.")


def _townships(table: "pd.DataFrame", lang: str) -> str:
    head = HEADINGS[lang]
    cols = ["township_name", "township", *COUNT_COLUMNS, "rate_pct"]
    rows = []
    for r in rows_of(table):
        if r["township"] == "*":
            r = {**r, "township_name": _t(lang, "合计", "All"), "township": ""}
        rows.append([r["township_name"] or "—", r["township"]] + [f"{int(r[c]):,}" for c in COUNT_COLUMNS]
                    + [rate(r["rate_pct"])])
    return page.table([head[c] for c in cols], rows, numeric=range(2, len(cols)), total=True)


def _overdue(overdue: "pd.DataFrame", layer, as_of: str, lang: str) -> str:
    head = [_t(lang, "乡镇（街道）", "Township"), _t(lang, "隐患点", "Hazard point"), _t(lang, "隐患问题", "Problem"),
            _t(lang, "整改责任单位", "Responsible unit"), _t(lang, "整改时限", "Deadline"), _t(lang, "状态", "State"),
            _t(lang, "逾期天数", "Days overdue")]
    state = layer.field("state")
    today = date.fromisoformat(as_of)
    rows = []
    for r in rows_of(overdue):
        label = state.value(r["state"])
        late = (today - date.fromisoformat(str(r["deadline"])[:10])).days if r["deadline"] else None
        rows.append([r.get("township_name") or r["township"], r["hazard_name"] or "—", r["problem"],
                     r["responsible_unit"], times.day(r["deadline"], lang),
                     label.label(lang) if label is not None else r["state"], "—" if late is None else f"{late:,}"])
    return page.table(head, rows, numeric=(6,), empty=_t(lang, "无", "None"))


def _steps(layer, lang: str) -> str:
    """The states in order, each with the fields its step records (from the definition's labels)."""
    from .ledger import STATES, STEP_FIELDS

    sep = "、" if lang == "zh" else ", "
    colon = "：" if lang == "zh" else ": "
    items = [f"{layer.field('state').value(s).label(lang)}{colon}"
             f"{sep.join(layer.field(f).alias(lang) for f in STEP_FIELDS[s])}" for s in STATES]
    return "<ol>" + "".join(f"<li>{page.esc(i)}</li>" for i in items) + "</ol>"


def _map(points: "gpd.GeoDataFrame", areas: "gpd.GeoDataFrame | None", lang: str) -> str:
    """Township boundaries and the hazard points of the ledger, by the worst of their records."""
    if not len(points):
        return ""
    import matplotlib
    import numpy as np
    from matplotlib.collections import PatchCollection
    from matplotlib.lines import Line2D
    from matplotlib.patches import PathPatch

    from rallypoint_plugins.capacity.areas import work_epsg
    from rallypoint_plugins.reporting import maps

    style = maps.Style(lang)
    lg = style.lang
    epsg = work_epsg(areas if areas is not None and len(areas) else points)
    pts = points.to_crs(epsg)
    shown = [pts.total_bounds]
    if areas is not None and len(areas):
        areas = areas.to_crs(epsg)
        shown.append(areas.total_bounds)
    b = np.array(shown)
    minx, miny, maxx, maxy = b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()
    span = max(maxx - minx, maxy - miny, 1000.0)
    with matplotlib.rc_context(style.rc):
        ratio = (maxy - miny) / max(maxx - minx, 1.0)
        fig = maps.figure(style, 7.0, max(3.5, min(9.0, 7.0 * ratio)) + 0.6)
        ax = fig.add_subplot(1, 1, 1)
        handles = []
        if areas is not None and len(areas):
            ax.add_collection(PatchCollection([PathPatch(p) for g in areas.geometry for p in maps.polygon_paths(g)],
                                              facecolor="#f7f7f7", edgecolor="#777777", linewidth=0.5, zorder=1))
            for name, pt in zip(areas["name"], areas.geometry.representative_point()):
                ax.annotate(style.area_label(name, ""), (pt.x, pt.y), ha="center", va="center", fontsize=7,
                            color="#555555", zorder=2)
            handles.append(Line2D([], [], color="#777777", linewidth=0.6,
                                  label=_t(lg, "乡镇（街道）界线", "Township boundaries")))
        for key in ("closed", "open", "overdue"):  # the worst on top
            sel = pts[pts["worst"] == key]
            colour, marker, size, zh, en = MARKS[key]
            if len(sel):
                ax.scatter(sel.geometry.x, sel.geometry.y, s=size, color=colour, marker=marker, edgecolors="white",
                           linewidths=0.5, zorder=3)
            handles.append(Line2D([], [], marker=marker, linestyle="", color=colour,
                                  label=_t(lg, f"{zh}（{len(sel)} 处）", f"{en} ({len(sel)})")))
        pad = 0.04 * span
        cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
        half = max(maxx - minx, 1000.0) / 2 + pad, max(maxy - miny, 1000.0) / 2 + pad
        ax.set_xlim(cx - half[0], cx + half[0])
        ax.set_ylim(cy - half[1], cy + half[1])
        ax.set_aspect("equal")
        ax.set_axis_off()
        maps.furnish(ax, handles[::-1], lg, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2, frameon=False)
        drawn = maps.drawn(fig)
    return drawn.img(_t(lang, "隐患点整改情况", "Hazard points by the state of their records"), lang)


def render(table, overdue, points, areas, layer, as_of: str, township: str, registry: str, bureau: str,
           lang: str) -> str:
    """The report page in ``lang`` (zh or en)."""
    lang = "en" if lang == "en" else "zh"
    names = dict(zip(table["township"], table["township_name"]))
    overdue = overdue.assign(township_name=overdue["township"].map(names).fillna(""))
    scope = (_t(lang, f"乡镇代码以 {township} 开头的隐患点", f"hazard points whose township code starts with {township}")
             if township else _t(lang, "全部隐患点", "every hazard point"))
    sentence = _t(lang, f"统计日期：{times.day(as_of, lang)}；范围：{scope}；按隐患点所在乡镇（街道）汇总，"
                        f"整改率保留两位小数（四舍五入）。",
                  f"As of {times.day(as_of, lang)}; {scope}; by the township of each hazard point; the rate to two "
                  f"decimals, rounded half up.")
    body = [f'<p class="verdict">{page.esc(verdict(table.iloc[-1], as_of, lang))}</p>',
            page.section(_t(lang, "各乡镇（街道）整改情况", "By township"), _townships(table, lang)),
            page.section(_t(lang, "地图", "Map"), _map(points, areas, lang)) if len(points) else "",
            page.section(_t(lang, f"逾期未整改清单（{len(overdue)} 条）", f"Overdue records ({len(overdue)})"),
                         _overdue(overdue, layer, as_of, lang)),
            page.section(_t(lang, "统计口径", "Terms"), f'<p class="note">{page.esc(TERMS[lang])}</p>'),
            page.section(_t(lang, "整改流程与各步骤记录的字段", "The steps and the fields each records"),
                         _steps(layer, lang))]
    return page.document(lang=lang, title=TITLE[0 if lang == "zh" else 1], body=body,
                         subtitle=[page.made(registry, bureau, lang), sentence])


def map_layers(reg, frame: "pd.DataFrame", township: str = "") -> tuple["gpd.GeoDataFrame", "gpd.GeoDataFrame | None"]:
    """The ledger's hazard points (with the worst state of their records: overdue, open, closed) and the township
    boundaries of the report (those whose code starts with ``township``), for the map."""
    import geopandas as gpd

    hazards = reg.read_frame("hazard_points", columns=["uuid", "name"], include_retired=True)
    if not len(frame):
        return hazards.iloc[:0].assign(worst=[]), None
    per = frame.groupby("hazard_uuid").agg(overdue=("overdue", "any"), open=("open", "any"))
    worst = per["overdue"].map({True: "overdue"}).fillna(per["open"].map({True: "open", False: "closed"}))
    pts = hazards[hazards["uuid"].isin(per.index) & ~hazards.geometry.isna()]
    pts = gpd.GeoDataFrame(pts.assign(worst=pts["uuid"].map(worst)), geometry="geometry", crs=hazards.crs)
    areas = None
    if "admin_areas" in reg.layers:
        a = reg.read_frame("admin_areas", columns=["adcode", "name", "level"])
        a = a[~a.geometry.isna()]
        towns = a[(a["level"] == "township") & a["adcode"].str.startswith(township)]
        a = towns if len(towns) else a[a["adcode"].isin(set(frame["township"]))]
        areas = a if len(a) else None
    return pts.reset_index(drop=True), areas
