"""The survey report: one self-contained HTML page in Chinese or English, on the reports' shared A4 page; layers
and fields said by their titles (no field names), times local with their zone, warnings in the report's
language, and a map of the fill rate with its legend, scale bar and north arrow."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from rallypoint_plugins.reporting import page, times
from rallypoint_plugins.reporting.notes import text_of

if TYPE_CHECKING:  # pragma: no cover
    from .survey import SurveyOutcome

MAX_FIXES = 500  # rows of the fix list shown in the page; the GeoPackage and CSV hold them all

CSS = """
td.bad{color:#b2182b;font-weight:bold}td.good{color:#1a9850}td.id{font-size:10px;color:#555;white-space:nowrap}
@media print{td.id{font-size:6.5pt}}
"""

T = {
    "title": ("应急资源调查填报率", "Resource survey completeness"),
    "settings": ("调查方案：{profile}；核查更新期限 {within}（{date_fields}早于 {cutoff} 视为超期）；"
                 "统计基准时间 {as_of}；重复判定：名称规范化后相同且相距不超过 {tolerance_m:g} 米。",
                 "Survey profile: {profile}; inspection period {within} ({date_fields} before {cutoff} is overdue); "
                 "as of {as_of}; duplicates: the same normalised name within {tolerance_m:g} m."),
    "headline": ("主要数字", "Headline figures"),
    "by_layer": ("各图层", "By layer"),
    "by_township": ("各乡镇（填报完整数 / 记录数，填报率）", "By township (fully filled / records, fill rate)"),
    "by_field": ("各字段填报情况", "Fill rate by field"),
    "fixes": ("待整改记录", "Records to fix"),
    "fixes_more": ("仅列出前 {shown} 条，共 {total} 条；完整清单见分析结果的“待整改记录清单”图层。",
                   "The first {shown} of {total}; the result layer “Records to fix” holds them all."),
    "none": ("无待整改记录。", "Nothing to fix."),
    "no_records": ("无记录", "no records"),
    "warnings": ("提示", "Warnings"),
    "map": ("各乡镇填报率地图（全部调查图层）", "Fill rate by township, all layers surveyed"),
    "map_title": ("各乡镇填报率", "Fill rate by township"),
    "map_legend": ("填报率（%）", "Fill rate (%)"),
    "no_records_area": ("无记录", "No records"),
    "boundaries": ("乡镇（街道）界线", "Township boundaries"),
    "terms": ("填报完整：调查方案要求的字段全部有值且不是占位值（如容量为 0）。疑似重复：同一图层中较晚录入的记录。"
              "乡镇按行政区划代码前 9 位汇总（6 位代码按县级汇总）。",
              "Fully filled: every field the profile asks for holds a value that is not a placeholder (such as "
              "a capacity of 0). Duplicate: the later-entered record of a pair in one layer. Townships are the "
              "first 9 digits of the division code (a 6-digit code is counted at county level)."),
}

COLUMNS = {
    "layer": ("图层", "Layer"), "township": ("乡镇代码", "Township code"), "township_name": ("乡镇", "Township"),
    "records": ("记录数", "Records"), "complete": ("填报完整", "Fully filled"), "fill_rate": ("填报率", "Fill rate"),
    "missing": ("有缺填", "With missing fields"), "placeholder": ("有占位值", "With placeholders"),
    "stale": ("超期未更新", "Overdue"), "duplicates": ("疑似重复", "Duplicates"), "to_fix": ("待整改", "To fix"),
    "alias": ("字段", "Field"), "filled": ("已填", "Filled"),
    "uuid": ("唯一标识", "UUID"), "name": ("名称", "Name"), "problems": ("问题", "Problems"),
    "date_field": ("更新时间字段", "Date field"),
}


def _t(key: str, lang: str, **kw: Any) -> str:
    text = T[key][0 if lang == "zh" else 1]
    return text.format(**kw) if kw else text


def _h(key: str, lang: str) -> str:
    return html.escape(COLUMNS[key][0 if lang == "zh" else 1])


def _cell(value: Any, klass: str = "") -> str:
    if isinstance(value, float):
        value = percent(value)
        klass = klass or "n"
    elif isinstance(value, (int,)) and not isinstance(value, bool):
        value = f"{value:,}"
        klass = klass or "n"
    return f'<td class="{klass}">{html.escape(str(value))}</td>' if klass else f"<td>{html.escape(str(value))}</td>"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = f"<tr>{''.join(f'<th>{h}</th>' for h in headers)}</tr>" if headers else ""
    body = "".join("<tr>" + "".join(r) + "</tr>" for r in rows)
    return f"<table>{head}{body}</table>"


def _rate_class(rate: float) -> str:
    return "n" if rate != rate else ("n good" if rate >= 0.95 else ("n bad" if rate < 0.8 else "n"))


def _layers(outcome: "SurveyOutcome", lang: str) -> str:
    keys = ["records", "complete", "fill_rate", "missing", "placeholder", "stale", "duplicates", "to_fix"]
    rows = []
    for r in outcome.layers.to_dict("records"):
        title = r["title_zh"] if lang == "zh" else r["title_en"]
        cells = [_cell(title)]
        for k in keys:
            v = r[k]
            if k == "fill_rate":
                cells.append(_cell(_t("no_records", lang), "n") if r["records"] == 0 else
                             _cell(float(v), _rate_class(float(v))))
            else:
                cells.append(_cell(int(v)))
        cells.append(_cell(outcome.info.get("date_fields", {}).get(r["layer"], [r["date_field"]] * 2)[
            0 if lang == "zh" else 1]))
        rows.append(cells)
    return _table([_h("layer", lang)] + [_h(k, lang) for k in keys] + [_h("date_field", lang)], rows)


def _townships(outcome: "SurveyOutcome", lang: str) -> str:
    town = outcome.townships
    layers = list(outcome.layers["layer"])
    titles = dict(zip(outcome.layers["layer"], outcome.layers["title_zh" if lang == "zh" else "title_en"]))
    rows = []
    for (code, name), g in town.groupby(["township", "township_name"], sort=True):
        by = {r["layer"]: r for r in g.to_dict("records")}
        cells = [_cell(code), _cell(name)]
        for layer in layers:
            r = by.get(layer)
            if r is None:
                cells.append(_cell("—", "n"))
                continue
            cells.append(_cell(f"{r['complete']:,} / {r['records']:,} ({_pct(r['fill_rate'])})",
                               _rate_class(float(r["fill_rate"]))))
        cells += [_cell(int(g[k].sum())) for k in ("stale", "duplicates", "to_fix")]
        rows.append(cells)
    headers = ([_h("township", lang), _h("township_name", lang)] + [html.escape(titles[x]) for x in layers]
               + [_h(k, lang) for k in ("stale", "duplicates", "to_fix")])
    return _table(headers, rows)


def _pct(v: float) -> str:
    return percent(float(v))


def _map(outcome: "SurveyOutcome", lang: str) -> str:
    """The townships coloured by fill rate (grey: no records), with a colour legend, scale bar and north arrow."""
    areas = outcome.areas
    if not len(areas):
        return ""
    import matplotlib
    from matplotlib.cm import ScalarMappable
    from matplotlib.collections import PatchCollection
    from matplotlib.colors import Normalize
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, PathPatch
    from matplotlib.ticker import PercentFormatter

    from rallypoint_plugins.capacity.areas import work_epsg
    from rallypoint_plugins.reporting import maps

    style = maps.Style(lang)
    lg = style.lang
    a = areas[~areas.geometry.isna()]
    a = a.to_crs(work_epsg(a))
    cmap, norm = matplotlib.colormaps["RdYlGn"], Normalize(0.0, 1.0)
    minx, miny, maxx, maxy = a.total_bounds
    span = max(maxx - minx, maxy - miny, 1.0)
    with matplotlib.rc_context(style.rc):
        ratio = (maxy - miny) / max(maxx - minx, 1.0)
        fig = maps.figure(style, 7.0, max(3.5, min(9.0, 7.0 * ratio)) + 0.5)
        ax = fig.add_subplot(1, 1, 1)
        patches, colours = [], []
        for g, r in zip(a.geometry, a["fill_rate"].astype(float)):
            for p in maps.polygon_paths(g):
                patches.append(PathPatch(p))
                colours.append("#dddddd" if r != r else cmap(norm(r)))
        ax.add_collection(PatchCollection(patches, facecolor=colours, edgecolor="#666666", linewidth=0.4))
        pad = 0.03 * span
        ax.set_xlim(minx - pad, maxx + pad)
        ax.set_ylim(miny - pad, maxy + pad)
        ax.set_aspect("equal")
        ax.set_axis_off()
        handles = [Line2D([], [], color="#666666", linewidth=0.6, label=_t("boundaries", lg))]
        if a["fill_rate"].isna().any():
            handles.append(Patch(facecolor="#dddddd", edgecolor="#666666", label=_t("no_records_area", lg)))
        maps.furnish(ax, handles, lg, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2, frameon=False)
        cb = maps.colour_legend(fig, ScalarMappable(norm=norm, cmap=cmap), ax, _t("map_legend", lg))
        cb.ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        drawn = maps.drawn(fig)
    return drawn.img(_t("map", lang), lang)


def _fields(outcome: "SurveyOutcome", lang: str) -> str:
    rows = []
    titles = dict(zip(outcome.layers["layer"], outcome.layers["title_zh" if lang == "zh" else "title_en"]))
    for r in outcome.fields.to_dict("records"):
        rows.append([_cell(titles.get(r["layer"], r["layer"])), _cell(r["alias_zh" if lang == "zh" else "alias_en"]),
                     _cell(int(r["records"])), _cell(int(r["filled"])),
                     _cell(float(r["fill_rate"]), _rate_class(float(r["fill_rate"]))),
                     _cell(int(r["missing"])), _cell(int(r["placeholder"]))])
    keys = ["layer", "alias", "records", "filled", "fill_rate", "missing", "placeholder"]
    return _table([_h(k, lang) for k in keys], rows)


def _fixes(outcome: "SurveyOutcome", lang: str) -> str:
    fx = outcome.fixes
    if not len(fx):
        return f"<p>{_t('none', lang)}</p>"
    shown = fx.head(MAX_FIXES)
    col = "problems_zh" if lang == "zh" else "problems_en"
    titles = dict(zip(outcome.layers["layer"], outcome.layers["title_zh" if lang == "zh" else "title_en"]))
    rows = [[_cell(titles.get(r["layer"], r["layer"])), _cell(r["township_name"] or r["township"]), _cell(r["name"]),
             _cell(r["uuid"], "id"), _cell(r[col])] for r in shown.to_dict("records")]
    more = (f'<p class="note">{_t("fixes_more", lang, shown=f"{len(shown):,}", total=f"{len(fx):,}")}</p>'
            if len(fx) > len(shown) else "")
    keys = ["layer", "township_name", "name", "uuid", "problems"]
    return more + _table([_h(k, lang) for k in keys], rows)


def render(outcome: "SurveyOutcome", summary: list[tuple[str, str, Any]], lang: str = "zh") -> str:
    """The report page for ``lang`` (``zh`` or ``en``)."""
    lang = "en" if lang == "en" else "zh"
    zh = lang == "zh"
    info = dict(outcome.info)
    i = 0 if zh else 1
    dates = sorted({v[i] for v in (info.get("date_fields") or {}).values()}) or ["updated_at"]
    settings = _t("settings", lang, profile=info.get(f"profile_{lang}", info["profile"]),
                  within=info.get(f"within_{lang}", info["within"]), date_fields=("、" if zh else ", ").join(dates),
                  cutoff=times.day(info["cutoff"], lang), as_of=times.stamp(info["as_of"], lang),
                  tolerance_m=info["tolerance_m"])
    head = _table([], [[_cell(z if zh else e), _cell(v)] for z, e, v in summary])
    warn = [text_of(outcome.warnings, w, lang) for w in outcome.warnings]
    body = [f'<p class="note">{html.escape(_t("terms", lang))}</p>',
            page.section(_t("headline", lang), head),
            page.section(_t("by_layer", lang), _layers(outcome, lang)),
            page.section(_t("map_title", lang), _map(outcome, lang)),
            page.section(_t("by_township", lang), _townships(outcome, lang), wide=len(outcome.layers) > 4),
            page.section(_t("by_field", lang), _fields(outcome, lang)),
            page.section(_t("fixes", lang), _fixes(outcome, lang)),
            page.section(_t("warnings", lang), page.bullets(warn)) if warn else ""]
    return page.document(lang=lang, title=_t("title", lang), css=CSS, body=body,
                         subtitle=[page.made(str(info["registry"]), str(info.get("bureau", "")), lang), settings])


def percent(value: float) -> str:
    """A rate for people: ``87.5 %``, or ``—`` when there is none (no records)."""
    return "—" if value != value else f"{100.0 * value:.1f} %"
