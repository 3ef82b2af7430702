"""The response card (预案卡片化): one A4 page of HTML, in Chinese or English, with a map drawn offline.

The map is drawn with matplotlib from the registry's own data (roads, the area, shelters, teams, depots,
helipads), with the reports' legend, scale bar and north arrow: no tile server, nothing fetched. The card's tables
keep to the first rows so it stays one page; the rest of each list follows on the next page (附表), so the printed
card is all field staff need. :mod:`rallypoint_plugins.reporting.pdf` prints the same page.
"""

from __future__ import annotations

import html
import math

import numpy as np

from rallypoint_plugins.reporting import numbers, times
from rallypoint_plugins.reporting.notes import text_of

from .card_rows import TOP

#: Longest warning on the card, in characters (the GeoPackage and the CLI keep them whole).
WARNING_CHARS = 180
COLOURS = {"area": "#d62728", "shelter": "#1a9641", "team": "#2166ac", "depot": "#8c510a", "helipad": "#7b3294",
           "hazard": "#111111", "road": "#bdbdbd", "line": "#1a9641", "unplaced": "#ff7f0e"}
REASONS = {
    "status": ("未开放或已满", "not open or on standby"), "hazard": ("不适用于该灾种", "does not serve this hazard"),
    "flood_plain": ("位于洪泛区", "in a flood plain"), "capacity": ("无容量", "no capacity"),
    "capacity_unknown": ("容量不明", "capacity unknown"),
    "inside_area": ("位于事件区域内", "inside the area"), "no_free_places": ("无空位", "no free places"),
    "off_network": ("不在路网上", "off the road network"), "beyond_walk": ("超出步行范围", "beyond walking reach"),
}


def _t(lang: str, zh: str, en: str) -> str:
    return zh if lang == "zh" else en


def _n(v, digits: int = 0) -> str:
    return numbers.number(v, digits)


def map_png(layers, roads, epsg: int, lang: str):
    """The card's map (a :class:`~rallypoint_plugins.reporting.maps.Drawn`): roads, the area, people left unplaced, who
    goes where, shelters, teams, depots, helipads; with its legend, scale bar and north arrow."""
    import matplotlib
    from matplotlib.collections import LineCollection, PatchCollection
    from matplotlib.lines import Line2D
    from matplotlib.patches import PathPatch

    from rallypoint_plugins.reporting import maps
    from rallypoint_plugins.reporting.maps import Style, figure, polygon_paths

    style = Style(lang)
    area = layers["response_area"].to_crs(epsg)
    shelters = layers["response_shelters"]
    opened = shelters[shelters["open"]].head(TOP["shelters"]).to_crs(epsg)
    teams = layers["response_teams"]
    teams = teams[teams["send"]].head(TOP["teams"]).to_crs(epsg) if len(teams) else teams.to_crs(epsg)
    depots = layers["response_depots"]
    depots = depots[depots["draw"]].head(TOP["depots"]).to_crs(epsg) if len(depots) else depots.to_crs(epsg)
    pads = layers["response_helipads"]
    pads = pads[pads["usable"]].head(TOP["helipads"]).to_crs(epsg) if len(pads) else pads.to_crs(epsg)
    hp = layers["response_hazard_points"].to_crs(epsg)
    people = layers["response_people"]
    unplaced = people[people["unplaced"] > 0.5].to_crs(epsg)
    lines = layers["response_assignment"].to_crs(epsg)

    pts = [np.asarray(area.total_bounds).reshape(2, 2)]
    for f in (opened, teams, depots, pads):
        if len(f):
            pts.append(np.column_stack([f.geometry.x, f.geometry.y]))
    allp = np.vstack(pts)
    minx, miny = allp.min(axis=0)
    maxx, maxy = allp.max(axis=0)
    pad = 0.08 * max(maxx - minx, maxy - miny, 500.0)
    minx, miny, maxx, maxy = minx - pad, miny - pad, maxx + pad, maxy + pad
    w = 5.2
    h = float(np.clip(w * (maxy - miny) / (maxx - minx), 3.2, 4.4))
    with matplotlib.rc_context(style.rc):
        fig = figure(style, w, h)
        ax = fig.add_axes([0, 0, 1, 1])
        ax.set_xlim(minx, maxx)
        ax.set_ylim(miny, maxy)
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_axis_off()
        if len(roads.u):
            # each road as the straight line between its end nodes (roads are split at junctions): at the card's
            # scale it looks the same, and needs no second projection of every vertex
            a, b = roads.xy[roads.u], roads.xy[roads.v]
            view = ((np.maximum(a[:, 0], b[:, 0]) >= minx) & (np.minimum(a[:, 0], b[:, 0]) <= maxx)
                    & (np.maximum(a[:, 1], b[:, 1]) >= miny) & (np.minimum(a[:, 1], b[:, 1]) <= maxy))
            if view.any():
                # no anti-aliasing: tens of thousands of hair-lines draw several times faster, and look the same
                ax.add_collection(LineCollection(np.stack([a[view], b[view]], axis=1), colors=COLOURS["road"],
                                                 linewidths=0.4, zorder=1, antialiaseds=False, rasterized=True))
        patches = [PathPatch(p) for g in area.geometry for p in polygon_paths(g)]
        ax.add_collection(PatchCollection(patches, facecolor=COLOURS["area"] + "40", edgecolor=COLOURS["area"],
                                          linewidth=1.4, zorder=2))
        if len(lines):
            xy = [np.asarray(g.coords) for g in lines.geometry]
            ax.add_collection(LineCollection(xy, colors=COLOURS["line"], linewidths=0.5, alpha=0.5, zorder=3))
        if len(unplaced):
            few = len(unplaced) < 500
            ax.scatter(unplaced.geometry.x, unplaced.geometry.y, s=10 if few else 1.5, color=COLOURS["unplaced"],
                       zorder=6 if few else 4, alpha=1.0 if few else 0.6, linewidths=0, rasterized=True)
        if len(hp):
            many = len(hp) > 100  # a city district holds thousands: small and light, so the area stays readable
            ax.scatter(hp.geometry.x, hp.geometry.y, s=4 if many else 14, marker="x", color=COLOURS["hazard"],
                       alpha=0.35 if many else 1.0, linewidths=0.6 if many else 1.0, zorder=5, rasterized=many)
        for frame, key, marker, prefix, size in ((opened, "shelter", "^", "S", 70), (teams, "team", "s", "T", 50),
                                                 (depots, "depot", "D", "D", 50), (pads, "helipad", "P", "H", 70)):
            if not len(frame):
                continue
            ax.scatter(frame.geometry.x, frame.geometry.y, s=size, marker=marker, color=COLOURS[key],
                       edgecolors="white", linewidths=0.8, zorder=6)
            for i, (x, y) in enumerate(zip(frame.geometry.x, frame.geometry.y)):
                ax.annotate(f"{prefix}{i + 1}", (x, y), xytext=(4, 3), textcoords="offset points", fontsize=7,
                            color=COLOURS[key], weight="bold", zorder=7)
        legend = [Line2D([], [], color=COLOURS["area"], lw=2, label=_t(lang, "事件区域", "Incident area")),
                  Line2D([], [], marker="^", ls="", color=COLOURS["shelter"], label=_t(lang, "开放场所", "Shelter")),
                  Line2D([], [], marker="s", ls="", color=COLOURS["team"], label=_t(lang, "队伍", "Team")),
                  Line2D([], [], marker="D", ls="", color=COLOURS["depot"], label=_t(lang, "储备库", "Depot")),
                  Line2D([], [], marker="P", ls="", color=COLOURS["helipad"], label=_t(lang, "起降点", "Helipad")),
                  Line2D([], [], marker="x", ls="", color=COLOURS["hazard"], label=_t(lang, "隐患点", "Hazard point")),
                  Line2D([], [], marker=".", ls="", color=COLOURS["unplaced"],
                         label=_t(lang, "未安置人口", "Unplaced people"))]
        maps.legend(ax, legend, loc="upper left", fontsize=7, framealpha=0.85, ncol=1)
        maps.scale_bar(ax, style.lang, loc="lower right", fontsize=7)
        maps.north_arrow(ax, style.lang, size=0.07)
        return maps.drawn(fig)


def _table(head: list[str], rows: list[list[str]], more: int, lang: str) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    if not rows:
        body = f'<tr><td colspan="{len(head)}">{_t(lang, "无", "none")}</td></tr>'
    if more > 0:
        rest = _t(lang, f"另有 {more} 项，见附表（下页）", f"{more} more: see the annex (next page)")
        body += f'<tr><td colspan="{len(head)}" class="more">{rest}</td></tr>'
    return f"<table><tr>{th}</tr>{body}</table>"


def render(layers, tables, summary, info, warnings, roads, lang: str = "zh") -> str:
    """The card as one HTML page (A4, print-ready), in ``lang`` (zh or en), with the annex (附表) of the lists too
    long for it on the next page."""
    from . import card_rows as cr
    from .verdict import verdict

    inc = info["incident"]
    zh = lang == "zh"
    drawn_map = map_png(layers, roads, info["epsg"], lang)
    title = _t(lang, "突发事件应急响应卡", "Incident response sheet")
    shown = info["townships"][:TOP["townships"]]
    towns = "、".join(n for _, n in shown) if zh else ", ".join(f"{n} ({a})" for a, n in shown)
    if len(info["townships"]) > len(shown):
        towns += _t(lang, f" 等 {len(info['townships'])} 个乡镇（街道）", f" and {len(info['townships']) - len(shown)} more")
    p = info["params"]
    head_rows = "".join(
        f"<tr><td>{html.escape(z if zh else e)}</td><td class=n>{html.escape(_value(v))}</td></tr>"
        for z, e, v in _headline(summary, lang, {r.need: (r.need_zh, r.need_en) for r in
                                                  tables["response_supply"].itertuples()}))

    s = layers["response_shelters"]
    sh_all = cr.shelters(s[s["open"]], lang)
    t = layers["response_teams"]
    tm_all = cr.teams(t[t["send"]] if len(t) else t, info.get("specialty_labels", {}), lang)
    sup = tables["response_supply"]
    d = layers["response_depots"]
    dp_all = cr.depots(d[d["draw"]] if len(d) else d, sup, lang)
    h = layers["response_helipads"]
    he_all = cr.helipads(h[h["usable"]] if len(h) else h, lang)
    sh = _table(cr.heads("shelters", lang), sh_all[:TOP["shelters"]], len(sh_all) - TOP["shelters"], lang)
    tm = _table(cr.heads("teams", lang), tm_all[:TOP["teams"]], len(tm_all) - TOP["teams"], lang)
    su = _table(cr.heads("supplies", lang, p["days"]), cr.supplies(sup, lang), 0, lang)
    dep = cr.depot_words(dp_all[:TOP["depots"]], len(dp_all) - TOP["depots"], lang)
    he = _table(cr.heads("helipads", lang), he_all[:TOP["helipads"]], len(he_all) - TOP["helipads"], lang)

    rules = _rules(info, summary, lang)
    said = [text_of(warnings, w, lang) for w in warnings]
    warn = "".join(f"<li>{html.escape(_clip(w))}</li>" for w in said[:TOP["warnings"]])
    if len(said) > TOP["warnings"]:
        warn += "<li>" + html.escape(_t(lang, f"另有 {len(said) - TOP['warnings']} 条提示，见附表（下页）",
                                        f"{len(said) - TOP['warnings']} more: see the annex (next page)")) + "</li>"
    longer = [(name, cr.heads(kind, lang), rows) for kind, name, rows in (
        ("shelters", _t(lang, f"开放的避难场所（共 {len(sh_all)} 处）", f"Shelters to open ({len(sh_all)})"), sh_all),
        ("teams", _t(lang, f"派出队伍（共 {len(tm_all)} 支）", f"Teams to send ({len(tm_all)})"), tm_all),
        ("depots", _t(lang, f"调用储备库（共 {len(dp_all)} 处）", f"Depots drawn on ({len(dp_all)})"), dp_all),
        ("helipads", _t(lang, f"可用直升机起降点（共 {len(he_all)} 处）", f"Usable helipads ({len(he_all)})"), he_all))
        if len(rows) > TOP[kind]]
    longest = [w for w in said if len(w) > WARNING_CHARS]
    annex = cr.annex(longer, said if len(said) > TOP["warnings"] or longest else [], lang)
    area = _t(lang, f"面积 {summary['area_km2']:,.2f} 平方千米", f"area {summary['area_km2']:,.2f} km²")
    made = _t(lang, "生成于", "made") + " " + times.stamp(times.now(), lang)
    return f"""<!doctype html><html lang="{'zh-CN' if zh else 'en'}"><head><meta charset="utf-8"><title>{title}</title>
<style>{CSS}</style></head><body><main class="card">
<h1>{title} · {html.escape(inc.title(lang))}</h1>
<p class="meta">{html.escape(str(info['registry']))} · {html.escape(inc.how(lang))} · {area} · {html.escape(towns)} ·
{html.escape(made)}</p>
<p class="meta"><b>{html.escape(verdict(summary, lang))}</b></p>
<div class="top"><div class="map">{drawn_map.img(_t(lang, "地图", "Map"), lang)}</div>
<div><h2>{_t(lang, "主要数字", "Headline figures")}</h2><table class="head">{head_rows}</table></div></div>
<h2>{_t(lang, "开放的避难场所（不超员分配）", "Shelters to open (no shelter overfilled)")}</h2>{sh}
<h2>{_t(lang, "派出队伍（按路网到达时间）", "Teams to send (arrival by road)")}</h2>{tm}
<div class="two"><div><h2>{_t(lang, "物资保障", "Supplies")} · {summary['displaced']:,} {_t(lang, "人", "people")}</h2>{su}
<p class="notes">{_t(lang, "调用储备库（按路网由近及远）：", "Depots drawn on, nearest by road first: ")}{dep}</p></div>
<div><h2>{_t(lang, "可用直升机起降点", "Usable helipads")}</h2>{he}</div></div>
<div class="notes"><h2>{_t(lang, "口径与提示", "Rules and notes")}</h2><ul>{rules}{warn}</ul></div>
</main>
{annex}
<script>{FIT}</script>
</body></html>"""


#: The card is one page: when a long list of warnings or a wrapped table would push it onto a second page, the
#: page shrinks it to fit (CSS zoom) before it is printed or shown. A4's height less the margins, in CSS pixels.
FIT = """addEventListener("load", function () {
  var card = document.querySelector("main.card"), room = (297 - 16) * 96 / 25.4;
  if (card && card.scrollHeight > room) card.style.zoom = (0.995 * room / card.scrollHeight).toFixed(4);
});"""

CSS = """
@page { size: A4; margin: 8mm; }
* { box-sizing: border-box; }
body { font-family: "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", sans-serif; font-size: 7.8pt;
  margin: 0 auto; width: 194mm; color: #111; }
h1 { font-size: 15pt; margin: 0 0 1mm; border-bottom: 2px solid #d62728; }
h2 { font-size: 9pt; margin: 1.5mm 0 0.8mm; color: #d62728; }
.meta { color: #444; margin: 0 0 1mm; }
.top { display: grid; grid-template-columns: 104mm 1fr; gap: 3mm; }
.map img { width: 100%; border: 1px solid #999; }
table { border-collapse: collapse; width: 100%; }
td, th { border: 1px solid #bbb; padding: 0.2mm 1.2mm; text-align: left; }
th { background: #f2f2f2; }
td.n { text-align: right; font-weight: bold; }
table.head td { padding: 0 1.2mm; font-size: 7.2pt; line-height: 1.2; }
td.more { color: #666; font-style: italic; }
.two { display: grid; grid-template-columns: 1.35fr 1fr; gap: 3mm; }
.notes { font-size: 6.3pt; color: #333; margin: 0.5mm 0; } .notes ul { margin: 0; padding-left: 4mm; }
.notes ul { columns: 2; column-gap: 4mm; }
section.annex { break-before: page; } section.annex h1 { margin-top: 4mm; } section.annex table { margin-bottom: 2mm; }
section.annex tr { break-inside: avoid; } ul.full { padding-left: 4mm; }
"""


def _headline(m: dict, lang: str, needs: dict):
    short = [needs.get(k, (k, k)) for k in m["needs_short"].split(", ") if k]
    rows = summary_rows(m)
    return [(z, e, ("、".join(n[0] for n in short) if lang == "zh" else ", ".join(n[1] for n in short)) or "—")
            if e == "Supplies short" else (z, e, v) for z, e, v in rows]


def _value(v) -> str:
    if isinstance(v, float):
        return _n(v, 1)
    return _n(v) if isinstance(v, int) else str(v)


def _clip(text: str) -> str:
    return text if len(text) <= WARNING_CHARS else text[:WARNING_CHARS - 1] + "…"


def _rules(info, m, lang: str) -> str:
    p = info["params"]
    zh = lang == "zh"
    items = [
        (f"人口按格网计：格网视为以中心点为中心、边长为格网尺寸的正方形，跨边界的格网按其在区域内的面积比例计入"
         f"（{m['boundary_cells']} 个）；户数 = 人口 ÷ {p['household_size']:g}，向上取整。",
         f"People from the population grid: a cell is a square of its size around its centre; cells crossing the "
         f"edge ({m['boundary_cells']}) count by the share of their surface inside. Households = people ÷ "
         f"{p['household_size']:g}, rounded up."),
        (f"避难场所：开放或待命、适用于该灾种、在安全距离之外、位于区域外、有空位（按{info['standard'].title('zh')}核定的位置减去现有人数）"
         f"且在步行 {p['walk_minutes']:g} 分钟（每小时 {p['walk_kmh']:g} 千米）路网范围内；按最小费用流分配，任何场所不超员。",
         f"Shelters: open or on standby, serving the hazard, outside hazard setbacks, outside the area, with free "
         f"places (places under {info['standard'].title('en')} minus the people already there), within {p['walk_minutes']:g} "
         f"min walk by road ({p['walk_kmh']:g} km/h); assigned by min-cost flow so none overflows."),
        (f"容量按情景：{info['situation'].describe('zh')}；未登记该容量的场所为“容量不明”，不安置。",
         f"Capacity for: {info['situation'].describe('en')}; a shelter without that capacity recorded is "
         f"'capacity unknown' and takes nobody."),
        (f"队伍：待命、驻地距区域 {p['search_km']:g} 千米内；到达时间 = 出动准备 + 按路网行车（各路段限速）到区域；"
         f"{p['team_minutes']:g} 分钟内到达且在其出动半径内的派出，最多 {p['max_teams'] or '不限'} 支，专长对口的优先。"
         f"储备库同样按路网由近及远调用，满足 {p['days']} 天需求。",
         f"Teams: ready, based within {p['search_km']:g} km; arrival = readiness + driving by road (each road's speed) "
         f"to the area; sent when arriving within {p['team_minutes']:g} min and within their deployment radius, "
         f"at most "
         f"{p['max_teams'] or 'all'}, fitting specialties first. "
         f"Depots are drawn on nearest by road first, for {p['days']} days."),
        (f"直升机起降点：状态可用、位于区域外、距区域 {p['search_km']:g} 千米内。",
         f"Helipads: status usable, outside the area, within {p['search_km']:g} km of it."),
    ]
    return "".join(f"<li>{html.escape(z if zh else e)}</li>" for z, e in items)


def summary_rows(m: dict) -> list[tuple[str, str, object]]:
    """The headline figures, (Chinese label, English label, value)."""
    rows = [("区域内人口", "People inside", round(m["people"])),
            ("估算户数", "Households (estimated)", m["households"]),
            ("区域内隐患点", "Hazard points inside", m["hazard_points"]),
            ("需转移人数", "People to evacuate", round(m["to_evacuate"])),
            ("开放避难场所", "Shelters to open", m["shelters_open"]),
            ("已安置", "Placed in a shelter", round(m["placed"])),
            ("无法安置", "Unplaced", round(m["unplaced"])),
            ("  其中：可达场所已满", "  of whom: shelters in reach full", round(m["unplaced_full"])),
            ("  其中：时限内无可达场所", "  of whom: no shelter in walking reach", round(m["unplaced_no_reach"])),
            ("  其中：不在路网上", "  of whom: off the road network", round(m["unplaced_off_network"])),
            ("派出队伍", "Teams to send", m["teams_sent"]),
            ("首支队伍到达（分钟）", "First team arrives (min)",
             "—" if not math.isfinite(m["first_team_min"]) else round(m["first_team_min"], 1)),
            ("调用储备库", "Depots drawn on", m["depots_drawn"]),
            ("物资缺口", "Supplies short", m["needs_short"] or "—"),
            ("可用直升机起降点", "Usable helipads", m["helipads_usable"])]
    return rows
