"""The HTML report: one self-contained page (charts embedded as base64 PNG), in Chinese or English, on the
reports' shared page (:mod:`rallypoint_plugins.reporting.page`: A4, the wide table on landscape pages)."""

from __future__ import annotations

import base64
import html
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from rallypoint_plugins.reporting import numbers, page
from rallypoint_plugins.reporting.notes import text_of

from .occupancy import STATE_TITLES
from .texts import t
from .wording import parameter_rows, subtitle

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd

MAX_BARS = 30  # areas in the bar chart and heatmap; the table lists them all
MAX_LIST = 50  # shelters listed by name

CSS = """
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:12px 0}
.card{border:1px solid #ccc;border-radius:6px;padding:8px 12px;min-width:150px;background:#fafafa}
.card .v{font-size:22px;font-weight:bold}.card.bad .v{color:#b2182b}.card.good .v{color:#1a9850}
.card .l{font-size:12px;color:#555}td.nm{white-space:nowrap}
@media print{.cards{gap:5px}.card{min-width:0;padding:4px 8px;break-inside:avoid}.card .v{font-size:14pt}
.card .l{font-size:7.5pt}}
"""


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'


def _n(v: Any, digits: int = 0) -> str:
    """People and counts as whole numbers (half up), other figures with ``digits`` decimals."""
    return numbers.number(v, digits) if digits else numbers.people_text(v)


def _pct(v: Any) -> str:
    return numbers.percent(v, 1)


def _charts(areas, shelters, stock, region, info, lang) -> list[str]:
    """The map and chart sections; a note instead when matplotlib is missing."""
    try:
        from . import charts
    except ImportError:  # pragma: no cover - matplotlib is optional at run time
        return [f'<p class="note">{t("no_charts", lang)}</p>']
    try:
        import matplotlib  # noqa: F401
    except ImportError:  # pragma: no cover
        return [f'<p class="note">{t("no_charts", lang)}</p>']
    style = charts.Style(lang)
    lg = style.lang  # English labels inside charts when no CJK font is installed
    out = [f"<h2>{t('map', lang)}</h2>",
           charts.shortfall_map(areas, shelters, info["epsg"], style, t("map_legend", lg),
                                t("shelter_points", lg), t("no_shortfall", lg)).img(t("map", lang), lang)]
    n = len(areas)
    top = areas.sort_values(["shortfall", "demand"], ascending=False).head(MAX_BARS)
    note = f' <span class="sub">{t("top_n", lang, n=len(top), total=n)}</span>' if n > MAX_BARS else ""
    out += [f"<h2>{t('bars', lang)}{note}</h2>",
            _img(charts.demand_bars(top, style, (t("demand", lg), t("places", lg), t("people", lg))), t("bars", lang))]
    consumables = [nd for nd in info["assessed"] if nd.consumable]
    once = [nd for nd in info["assessed"] if not nd.consumable]
    if consumables:
        rows = [t("region", lg)] + [style.area_label(a, c) for a, c in zip(top["name"], top["adcode"])]
        days = np.array([[region[f"days_{nd.key}"] for nd in consumables]]
                        + [[r[f"days_{nd.key}"] for nd in consumables] for _, r in top.iterrows()])
        out += [f"<h2>{t('days_chart', lang)}{note}</h2>",
                _img(charts.days_heatmap(rows, [nd.title(lg) for nd in consumables], days, style),
                     t("days_chart", lang)),
                f'<p class="note">{t("days_caption", lang)}</p>']
    if once:
        out += [f"<h2>{t('cover_chart', lang)}</h2>",
                _img(charts.coverage_bars([nd.title(lg) for nd in once], [region[f"cover_{nd.key}"] for nd in once],
                                          style, t("cover_chart", lg) + " (%)"), t("cover_chart", lang))]
    return out


def _cards(region: dict, info: dict, lang: str) -> str:
    share = info["params"]["share"]
    cards = [
        (t("demand", lang), _n(region["demand"]), ""),
        (t("places", lang), _n(region["places"]), ""),
        (t("shortfall", lang), _n(region["shortfall"]), "bad" if region["shortfall"] else "good"),
        (t("coverage", lang), _pct(region["coverage"]), "bad" if region["coverage"] < 1 else "good"),
        (t("fixed_ratio", lang), _pct(region["fixed_ratio"]), "good" if region["fixed_ok"] else "bad"),
        (t("fixed_ok_areas", lang, share=f"{share * 100:g} %"), f"{region['fixed_ok_areas']} / {region['areas']}",
         "good" if region["fixed_ok_areas"] == region["areas"] else "bad"),
        (t("full_near", lang), f"{region['n_full']} / {region['n_near_full']}", ""),
        (t("n_over", lang), _n(region["n_over"]), "bad" if region["n_over"] else "good"),
        (t("available", lang), _n(region["available"]), ""),
        (t("n_unknown", lang), _n(region["n_unknown"]), "bad" if region["n_unknown"] else ""),
    ]
    for nd in info["assessed"]:
        if nd.consumable:
            v = region[f"days_{nd.key}"]
            cards.append((t("days", lang, need=nd.title(lang) if lang == "zh" else nd.title_en.lower()),
                          _n(v, 1), "bad" if math.isfinite(v) and v < 3 else ""))
    body = "".join(f'<div class="card {c}"><div class="v">{html.escape(v)}</div><div class="l">{html.escape(lbl)}'
                   f"</div></div>" for lbl, v, c in cards)
    return f'<div class="cards">{body}</div>'


def _area_table(areas: "pd.DataFrame", region: dict, info: dict, lang: str) -> str:
    consumables = [nd for nd in info["assessed"] if nd.consumable]
    head = [t("name", lang), t("adcode", lang), t("population", lang), t("demand", lang), t("places", lang),
            t("shortfall", lang).split("（")[0].split(" (")[0], t("surplus", lang).split("（")[0].split(" (")[0],
            t("coverage", lang), t("fixed_ratio", lang), t("occupancy", lang), t("available", lang),
            t("full_near", lang), t("n_over", lang), t("n_unknown", lang), t("members_per_10k", lang),
            t("hazards_per_team", lang)]
    head += [t("days", lang, need=nd.title(lang) if lang == "zh" else nd.title_en.lower()) for nd in consumables]

    def row(r, cls="") -> str:
        ok = bool(r["fixed_ok"])
        cells = [html.escape(str(r["name"])), html.escape(str(r["adcode"]))]
        nums = [_n(r["population"]), _n(r["demand"]), _n(r["places"]),
                f'<span class="{"bad" if r["shortfall"] else ""}">{_n(r["shortfall"])}</span>', _n(r["surplus"]),
                _pct(r["coverage"]),
                f'<span class="{"good" if ok else "bad"}">{_pct(r["fixed_ratio"])} '
                f'{"✓" if ok else "✗"}</span>',
                _n(r["occupancy"]), _n(r["available"]), f"{int(r['n_full'])} / {int(r['n_near_full'])}",
                _n(r["n_over"]), _n(r["n_unknown"]), _n(r["members_per_10k"], 1), _n(r["hazards_per_team"], 1)]
        nums += [_n(r[f"days_{nd.key}"], 1) for nd in consumables]
        return (f'<tr class="{cls}">' + "".join(f'<td class="nm">{c}</td>' for c in cells)
                + "".join(f'<td class="n">{c}</td>' for c in nums) + "</tr>")

    body = "".join(row(r) for _, r in areas.iterrows())
    total = dict(region, name=t("region", lang), adcode="")
    return ("<table><thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr></thead><tbody>"
            + body + row(total, "total") + "</tbody></table>")


def _shelter_lists(shelters: "gpd.GeoDataFrame", info: dict, lang: str) -> str:
    from .situation import UNKNOWN

    out = []
    i = 0 if lang == "zh" else 1
    sit = info["situation"]
    over = shelters[shelters["over_area"]].sort_values("capacity", ascending=False)
    busy = shelters[shelters["state"].isin(["full", "near_full"])].sort_values("occupancy", ascending=False)
    crowded = shelters[shelters["over_capacity"]].sort_values("occupancy", ascending=False)
    unknown = shelters[shelters["capacity_unknown"]].assign(reason=UNKNOWN[sit.code][i])
    unknown = unknown.sort_values("occupancy", ascending=False, na_position="last")
    cols_over = [(t("name", lang), "name"), (t("adcode", lang), "area_adcode"),
                 ({"zh": "登记容量", "en": "Recorded capacity"}[lang], "capacity"),
                 ({"zh": "面积允许", "en": "Area allows"}[lang], "area_places"),
                 ({"zh": "有效面积（m²）", "en": "Effective area (m²)"}[lang], "effective_area_m2")]
    cols_busy = [(t("name", lang), "name"), (t("adcode", lang), "area_adcode"), (t("places", lang), "places"),
                 (t("occupancy", lang), "occupancy"), (t("state", lang), "state")]
    cols_unknown = [(t("name", lang), "name"), (t("adcode", lang), "area_adcode"),
                    (t("occupancy", lang), "occupancy"), (t("reason", lang), "reason")]
    for title, frame, cols in ((t("over_capacity_list", lang), crowded, cols_busy),
                               (t("unknown_list", lang), unknown, cols_unknown),
                               (t("over_list", lang), over, cols_over), (t("busy_list", lang), busy, cols_busy)):
        out.append(f"<h2>{title} ({len(frame)})</h2>")
        if frame.empty:
            out.append(f"<p>{t('none', lang)}</p>")
            continue
        rows = []
        for _, r in frame.head(MAX_LIST).iterrows():
            cells = []
            for _, c in cols:
                v = r[c]
                if c == "state":
                    v = STATE_TITLES[v][i]
                if v is None or v is pd.NA or (isinstance(v, float) and not math.isfinite(v)):
                    cells.append("<td class='n'>—</td>")
                    continue
                number = isinstance(v, (int, float, np.number)) and c != "area_adcode"
                cells.append(f'<td class="n">{_n(v)}</td>' if number else f"<td>{html.escape(str(v))}</td>")
            rows.append("<tr>" + "".join(cells) + "</tr>")
        rest = len(frame) - MAX_LIST
        more = ("<p class='note'>" + (f"仅列出前 {MAX_LIST} 处，另有 {rest} 处见分析结果的“避难场所位置与人数”图层。"
                                      if i == 0 else f"The first {MAX_LIST} only; {rest} more in the result layer "
                                      "“Shelter places and occupancy”.") + "</p>") if rest > 0 else ""
        out.append("<table><thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h, _ in cols) + "</tr></thead>"
                   + "<tbody>" + "".join(rows) + "</tbody></table>" + more)
    return "".join(out)


def _source(profile, lang: str) -> str:
    text = (profile.data.get("source_zh") or profile.source) if lang == "zh" else profile.source
    return f"<b>{html.escape(profile.title(lang))}</b>{'：' if lang == 'zh' else ': '}{html.escape(text)}"


def _notes(info: dict, warnings: list[str], lang: str) -> str:
    zh = lang == "zh"
    p = info["params"]
    items = [_source(info["standard"], lang), _source(info["needs"], lang)]
    if info["displacement"] is not None:
        d, f = info["rates"]
        items.append(_source(info["displacement"], lang)
                     + html.escape(f"（{p['hazard_class']}：转移率 {d:g}，死亡率 {f:g}）" if zh else
                                   f" ({p['hazard_class']}: displacement rate {d:g}, fatality rate {f:g})"))
    for nd in info["unassessed"]:
        items.append(html.escape(f"{nd.title(lang)}{'：' if zh else ': '}{nd.note(lang)}"))
    sit = info["situation"]
    field_zh, field_en = {"overnight": ("夜间（室内）容量", "night (indoor) capacity"),
                          "daytime": ("日间容量", "day capacity"),
                          "post_impact": ("灾后安置容量", "post-impact capacity")}[sit.code]
    items += [
        f"适用容量：{sit.describe('zh')}。过夜或寒冷季节的人员只能计室内（有遮蔽）位置，室外位置只用于日间短时疏散，"
        "灾后长期安置按灾后安置容量。" if zh else
        f"Capacity counted: {sit.describe('en')}. People who stay overnight, and anyone in a cold season, count "
        "against indoor (covered) places; outdoor places only serve a short daytime evacuation; a stay after the "
        "impact counts against the post-impact capacity.",
        "各区域缺口为需安置人数减去区域内（按位置）开放、待命和已满场所的有效位置；全区缺口为各区域缺口之和，"
        f"一个区域的富余不抵另一区域的缺口。有效位置取登记{field_zh}与“有效面积 ÷ 标准人均面积”中的较小者；"
        "未登记有效面积（或登记为 0）的场所按登记容量计，不做面积核验。" if zh else
        "An area's shortfall is its people to shelter less the places of the open, standby and full shelters inside it "
        "(by location); the region's shortfall is the sum of the areas', a surplus in one area does not cover another. "
        f"Places = min(recorded {field_en}, effective area ÷ the standard's area per person); a shelter with no "
        "effective area recorded (or 0 m²) counts its recorded capacity, unchecked against an area.",
        f"未登记{field_zh}的场所为“容量不明”：不计入避难位置和剩余空位，也不算已满或空置，单独计数。" if zh else
        f"A shelter with no {field_en} recorded is 'capacity unknown': it adds no places and no free places, is "
        "neither full nor empty, and is counted apart.",
        f"储备库按到区域边界的距离（{p['depot_reach_km']:g} 千米内，EPSG:{info['epsg']} 投影下量算）计入，"
        "同一储备库可服务多个区域，故各区域物资不可相加；全区天数按每个储备库只计一次。" if zh else
        f"Depots count for every area within {p['depot_reach_km']:g} km of its boundary "
        f"(measured in EPSG:{info['epsg']}); "
        "a depot can serve several areas, so area stock does not add up; the region counts each depot once.",
        "未填报人数的场所按 0 人计。救援队伍计待命和已出动的；隐患点计在册和监测中的。" if zh else
        "A shelter with no head count is taken as empty. Teams count when ready or deployed; hazard points when "
        "active or monitored.",
    ]
    out = f"<h2>{t('notes', lang)}</h2><ul class='note'>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"
    if warnings:
        out += (f"<h2>{t('warnings', lang)}</h2><ul class='note'>"
                + "".join(f"<li>{html.escape(text_of(warnings, w, lang))}</li>" for w in warnings) + "</ul>")
    return out


def _params(info: dict, lang: str) -> str:
    """The parameters of the run, each said in words."""
    return "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in parameter_rows(info, lang))


def _levels(region: dict, lang: str) -> str:
    """Shelters and places of the region by shelter level."""
    from .standards import SHELTER_LEVELS

    names = {"province": ("省级", "Province"), "city": ("市级", "City"), "county": ("县级", "County"),
             "township": ("乡镇级", "Township"), "village": ("村（社区）级", "Village")}
    i = 0 if lang == "zh" else 1
    head = ("场所等级", "计入场所", "有效位置") if lang == "zh" else ("Shelter level", "Shelters", "Places")
    rows = "".join(f"<tr><td>{names[lv][i]}</td><td class='n'>{_n(region[f'n_{lv}'])}</td>"
                   f"<td class='n'>{_n(region[f'places_{lv}'])}</td></tr>"
                   for lv in SHELTER_LEVELS if region[f"n_{lv}"])
    return "<table><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>" + rows + "</table>"


def verdict(areas: "pd.DataFrame", region: dict, info: dict, lang: str) -> list[str]:
    """The result in plain sentences: places against people, shelters over capacity or of unknown capacity, and
    the areas where nobody lives (every edge case says what it is: no shelter, nobody there, no shortfall)."""
    zh = lang == "zh"
    sit = info["situation"].title(lang)
    out = []
    demand, places, short = int(region["demand"]), int(region["places"]), int(region["shortfall"])
    if region["population"] <= 0:
        out.append("分析区域内无人居住：无需安置。" if zh else "Nobody lives in the areas analysed: there is nobody to "
                   "shelter.")
    elif places <= 0:
        out.append(f"没有避难场所提供位置（{sit}）：需安置的 {demand:,} 人全部为缺口。" if zh else
                   f"No shelter offers places ({sit.lower()}): all {demand:,} people to shelter are a shortfall.")
    elif short <= 0:
        out.append(f"各区域的避难位置均足以安置其需安置人数（{places:,} 个位置，{demand:,} 人；{sit}）。" if zh else
                   f"Every area has places for its people to shelter ({places:,} places for {demand:,} people; "
                   f"{sit.lower()}).")
    else:
        out.append(f"{int(region['short_areas'])} 个区域位置不足，缺口共 {short:,} 人（{sit}）。" if zh else
                   f"{int(region['short_areas'])} of {int(region['areas'])} areas lack places: a shortfall of "
                   f"{short:,} people ({sit.lower()}).")
    if region["n_over"]:
        out.append(f"{int(region['n_over'])} 处避难场所人数超过适用容量。" if zh else
                   f"{int(region['n_over'])} shelters hold more people than the capacity that applies.")
    if region["n_unknown"]:
        out.append(f"{int(region['n_unknown'])} 处避难场所容量不明（其中 {int(region['occupancy_unknown']):,} 人），"
                   "单独列出。" if zh else
                   f"{int(region['n_unknown'])} shelters are of unknown capacity ({int(region['occupancy_unknown']):,} "
                   "people in them), listed apart.")
    empty = areas[areas["population"] <= 0]
    if len(empty) and region["population"] > 0:
        names = ("、" if zh else ", ").join(f"{n} ({c})" for n, c in zip(empty["name"], empty["adcode"]))
        out.append(f"无人居住的区域：{names}。" if zh else f"Nobody lives in {names}: nothing to shelter there.")
    return out


def render(areas: "gpd.GeoDataFrame", shelters: "gpd.GeoDataFrame", stock: "pd.DataFrame", region: dict,
           summary: list, info: dict, warnings: list[str], lang: str = "zh") -> str:
    """The whole report page for ``lang`` ('zh' or 'en')."""
    lang = "en" if lang == "en" else "zh"
    sit = info["situation"]
    summary_rows = "".join(
        f"<tr><td>{html.escape(zh if lang == 'zh' else en)}</td>"
        f"<td class='n'>{_n(v) if isinstance(v, int) else html.escape(str(v))}</td></tr>" for zh, en, v in summary
        if en != t("situation", "en"))
    body = [
        f"<p><b>{t('situation', lang)}{'：' if lang == 'zh' else ': '}</b>{html.escape(sit.describe(lang))}</p>",
        "".join(f"<p class='verdict'>{html.escape(v)}</p>" for v in verdict(areas, region, info, lang)),
        f"<h2>{t('headline', lang)}</h2>", _cards(region, info, lang),
        f"<table>{summary_rows}</table>", _levels(region, lang),
        f"<h2>{t('parameters', lang)}</h2><table class='kv'>{_params(info, lang)}</table>",
        *_charts(areas, shelters, stock, region, info, lang),
        page.section(t("table", lang), _area_table(areas, region, info, lang), wide=True),
        _shelter_lists(shelters, info, lang),
        _notes(info, warnings, lang),
    ]
    return page.document(lang=lang, title=t("title", lang), css=CSS,
                         subtitle=[page.made(info["registry"], info["bureau"], lang), subtitle(info, lang)], body=body)
