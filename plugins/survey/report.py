"""The survey report: one self-contained HTML page in Chinese or English."""

from __future__ import annotations

import base64
import html
import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .survey import SurveyOutcome

MAX_FIXES = 500  # rows of the fix list shown in the page; the GeoPackage and CSV hold them all

CSS = """
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","PingFang SC","Microsoft YaHei",sans-serif;
margin:24px auto;max-width:1150px;color:#222;line-height:1.45}
h1{font-size:24px;margin-bottom:4px}h2{font-size:19px;border-bottom:2px solid #2166ac;padding-bottom:3px;margin-top:28px}
.sub,.note{color:#555;font-size:13px}table{border-collapse:collapse;font-size:12px;margin:8px 0}
th,td{border:1px solid #ccc;padding:3px 6px}th{background:#eef3f8}td.n{text-align:right;font-variant-numeric:tabular-nums}
td.bad{color:#b2182b;font-weight:bold}td.good{color:#1a9850}
"""

T = {
    "title": ("应急资源调查填报率", "Resource survey completeness"),
    "settings": ("调查方案 {profile}；核查更新期限 {within}（{date_fields}早于 {cutoff} 视为超期）；"
                 "基准时间 {as_of}；重复判定：名称规范化后相同且相距不超过 {tolerance_m:g} 米",
                 "Profile {profile}; inspection period {within} ({date_fields} before {cutoff} is overdue); "
                 "as of {as_of}; duplicates: the same normalised name within {tolerance_m:g} m"),
    "headline": ("主要数字", "Headline figures"),
    "by_layer": ("各图层", "By layer"),
    "by_township": ("各乡镇（填报完整数 / 记录数，填报率）", "By township (fully filled / records, fill rate)"),
    "by_field": ("各字段填报情况", "Fill rate by field"),
    "fixes": ("待整改记录", "Records to fix"),
    "fixes_more": ("仅列出前 {shown} 条，共 {total} 条；完整清单见结果 GeoPackage 的 survey_fixes 图层。",
                   "The first {shown} of {total}; the result GeoPackage's survey_fixes layer holds them all."),
    "none": ("无待整改记录。", "Nothing to fix."),
    "no_records": ("无记录", "no records"),
    "warnings": ("提示", "Warnings"),
    "map": ("各乡镇填报率地图（全部调查图层；红 0 %，绿 100 %，灰色为无记录）",
            "Fill rate by township, all layers surveyed (red 0 %, green 100 %, grey: no records)"),
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
    "field": ("字段", "Field"), "alias": ("名称", "Name"), "filled": ("已填", "Filled"),
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
        cells = [_cell(f"{title} ({r['layer']})")]
        for k in keys:
            v = r[k]
            if k == "fill_rate":
                cells.append(_cell(_t("no_records", lang), "n") if r["records"] == 0 else
                             _cell(float(v), _rate_class(float(v))))
            else:
                cells.append(_cell(int(v)))
        cells.append(_cell(r["date_field"]))
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
    """A map of the townships coloured by fill rate (no text inside the image, so no CJK font is needed)."""
    areas = outcome.areas
    if not len(areas):
        return ""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 6), dpi=90)
    areas.plot(ax=ax, column="fill_rate", cmap="RdYlGn", vmin=0.0, vmax=1.0, edgecolor="#666", linewidth=0.4,
               legend=True, legend_kwds={"shrink": 0.6}, missing_kwds={"color": "#dddddd", "edgecolor": "#666", "linewidth": 0.4})
    ax.set_axis_off()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    png = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<p class="note">{html.escape(_t("map", lang))}</p><img alt="map" src="data:image/png;base64,{png}">'


def _fields(outcome: "SurveyOutcome", lang: str) -> str:
    rows = []
    for r in outcome.fields.to_dict("records"):
        rows.append([_cell(r["layer"]), _cell(r["field"]), _cell(r["alias_zh" if lang == "zh" else "alias_en"]),
                     _cell(int(r["records"])), _cell(int(r["filled"])),
                     _cell(float(r["fill_rate"]), _rate_class(float(r["fill_rate"]))),
                     _cell(int(r["missing"])), _cell(int(r["placeholder"]))])
    keys = ["layer", "field", "alias", "records", "filled", "fill_rate", "missing", "placeholder"]
    return _table([_h(k, lang) for k in keys], rows)


def _fixes(outcome: "SurveyOutcome", lang: str) -> str:
    fx = outcome.fixes
    if not len(fx):
        return f"<p>{_t('none', lang)}</p>"
    shown = fx.head(MAX_FIXES)
    col = "problems_zh" if lang == "zh" else "problems_en"
    rows = [[_cell(r["layer"]), _cell(r["township_name"] or r["township"]), _cell(r["name"]), _cell(r["uuid"]),
             _cell(r[col])] for r in shown.to_dict("records")]
    more = (f'<p class="note">{_t("fixes_more", lang, shown=f"{len(shown):,}", total=f"{len(fx):,}")}</p>'
            if len(fx) > len(shown) else "")
    keys = ["layer", "township_name", "name", "uuid", "problems"]
    return more + _table([_h(k, lang) for k in keys], rows)


def render(outcome: "SurveyOutcome", summary: list[tuple[str, str, Any]], lang: str = "zh") -> str:
    """The report page for ``lang`` (``zh`` or ``en``)."""
    zh = lang == "zh"
    info = dict(outcome.info)
    info["date_fields"] = ", ".join(sorted(set(outcome.layers["date_field"]))) or "updated_at"
    title = f"{_t('title', lang)} — {info['registry']}"
    head = _table([], [[_cell(z if zh else e), _cell(v)] for z, e, v in summary])
    warn = "".join(f"<li>{html.escape(w)}</li>" for w in outcome.warnings)
    return f"""<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{CSS}</style></head><body>
<h1>{html.escape(title)}</h1><p class="sub">{html.escape(_t("settings", lang, **info))}</p>
<p class="note">{html.escape(_t("terms", lang))}</p>
<h2>{_t("headline", lang)}</h2>{head}
<h2>{_t("by_layer", lang)}</h2>{_layers(outcome, lang)}
<h2>{_t("by_township", lang)}</h2>{_map(outcome, lang)}{_townships(outcome, lang)}
<h2>{_t("by_field", lang)}</h2>{_fields(outcome, lang)}
<h2>{_t("fixes", lang)}</h2>{_fixes(outcome, lang)}
{f"<h2>{_t('warnings', lang)}</h2><ul>{warn}</ul>" if warn else ""}
</body></html>"""


def percent(value: float) -> str:
    """A rate for people: ``87.5 %``, or ``—`` when there is none (no records)."""
    return "—" if value != value else f"{100.0 * value:.1f} %"
