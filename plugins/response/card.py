"""The response card (预案卡片化): one A4 page of HTML, in Chinese or English, with a map drawn offline.

The map is drawn with matplotlib from the registry's own data (roads, the area, shelters, teams, depots,
helipads), as the capacity report draws its maps: no tile server, nothing fetched. Tables keep to the first rows
(the full lists are in the GeoPackage) so the card stays one page; :mod:`.pdf` prints the same page.
"""

from __future__ import annotations

import base64
import html
import math
from datetime import datetime, timezone

import numpy as np

#: Rows of each table on the card (the GeoPackage has them all).
TOP = {"shelters": 5, "teams": 4, "depots": 4, "helipads": 3, "warnings": 3, "townships": 4}
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
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    return f"{v:,.{digits}f}"


def map_png(layers, roads, epsg: int, lang: str) -> bytes:
    """The card's map: roads, the area, people left unplaced, who goes where, shelters, teams, depots, helipads."""
    import matplotlib
    from matplotlib.collections import LineCollection, PatchCollection
    from matplotlib.lines import Line2D
    from matplotlib.patches import PathPatch

    from rallypoint_plugins.capacity.charts import Style, figure, png_bytes, polygon_paths

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
        _scale_bar(ax, minx, miny, maxx, maxy)
        legend = [Line2D([], [], color=COLOURS["area"], lw=2, label=_t(lang, "事件区域", "Incident area")),
                  Line2D([], [], marker="^", ls="", color=COLOURS["shelter"], label=_t(lang, "开放场所", "Shelter")),
                  Line2D([], [], marker="s", ls="", color=COLOURS["team"], label=_t(lang, "队伍", "Team")),
                  Line2D([], [], marker="D", ls="", color=COLOURS["depot"], label=_t(lang, "储备库", "Depot")),
                  Line2D([], [], marker="P", ls="", color=COLOURS["helipad"], label=_t(lang, "起降点", "Helipad")),
                  Line2D([], [], marker="x", ls="", color=COLOURS["hazard"], label=_t(lang, "隐患点", "Hazard point")),
                  Line2D([], [], marker=".", ls="", color=COLOURS["unplaced"],
                         label=_t(lang, "未安置人口", "Unplaced people"))]
        ax.legend(handles=legend, loc="upper left", fontsize=7, framealpha=0.85, ncol=1)
        return png_bytes(fig)


def _scale_bar(ax, minx, miny, maxx, maxy) -> None:
    span = maxx - minx
    raw = span / 5
    step = 10 ** math.floor(math.log10(raw))
    length = max(m * step for m in (1, 2, 5) if m * step <= raw)
    x0, y0 = maxx - span * 0.04 - length, miny + (maxy - miny) * 0.04
    ax.plot([x0, x0 + length], [y0, y0], color="black", lw=2, zorder=8)
    ax.text(x0 + length / 2, y0 + (maxy - miny) * 0.012, f"{length / 1000:g} km" if length >= 1000 else
            f"{length:g} m", ha="center", va="bottom", fontsize=7, zorder=8)


def _table(head: list[str], rows: list[list[str]], more: int, lang: str) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    if not rows:
        body = f'<tr><td colspan="{len(head)}">{_t(lang, "无", "none")}</td></tr>'
    if more > 0:
        rest = _t(lang, f"另有 {more} 项，见 GeoPackage", f"{more} more in the GeoPackage")
        body += f'<tr><td colspan="{len(head)}" class="more">{rest}</td></tr>'
    return f"<table><tr>{th}</tr>{body}</table>"


def render(layers, tables, summary, info, warnings, roads, lang: str = "zh") -> str:
    """The card as one HTML page (A4, print-ready), in ``lang`` (zh or en)."""
    from .verdict import verdict

    inc = info["incident"]
    zh = lang == "zh"
    png = base64.b64encode(map_png(layers, roads, info["epsg"], lang)).decode()
    title = _t(lang, "突发事件应急响应卡", "Incident response sheet")
    when = datetime.now(timezone.utc).astimezone().strftime("%Y-%m-%d %H:%M %Z")
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
    opened = s[s["open"]]
    sh_rows = [[f"S{i + 1}", r.name, _n(r.free), _n(r.assigned), _n(r.mean_walk_min, 1), _n(r.max_walk_min, 1)]
               for i, r in enumerate(opened.head(TOP["shelters"]).itertuples())]
    sh = _table([_t(lang, "编号", "#"), _t(lang, "避难场所", "Shelter"), _t(lang, "空位", "Free"),
                 _t(lang, "安置", "Sent"), _t(lang, "平均步行(分)", "Mean walk (min)"),
                 _t(lang, "最长(分)", "Longest (min)")], sh_rows, len(opened) - TOP["shelters"], lang)

    t = layers["response_teams"]
    sent = t[t["send"]] if len(t) else t
    labels = info.get("specialty_labels", {})
    tm_rows = [[f"T{i + 1}", r.name, _specialties(r.specialties, labels, lang), _n(r.members), _n(r.readiness_min),
                _n(r.arrive_min, 1), _t(lang, "是", "yes") if r.match else ""]
               for i, r in enumerate(sent.head(TOP["teams"]).itertuples())]
    tm = _table([_t(lang, "编号", "#"), _t(lang, "队伍", "Team"), _t(lang, "专长", "Specialties"),
                 _t(lang, "人数", "Members"), _t(lang, "准备(分)", "Ready (min)"),
                 _t(lang, "到达(分)", "Arrives (min)"), _t(lang, "专长对口", "Fits")], tm_rows,
                len(sent) - TOP["teams"], lang)

    sup = tables["response_supply"]
    d = layers["response_depots"]
    more = int(d["draw"].sum()) - TOP["depots"] if len(d) else 0
    drawn = d[d["draw"]] if len(d) else d
    sep = "、" if zh else ", "
    names = {}
    for i, row in enumerate(drawn.head(TOP["depots"]).to_dict("records")):
        gives = sep.join(f"{(n.need_zh if zh else n.need_en)} {_n(row[f'give_{n.need}'])} {n.unit}"
                         for n in sup.itertuples() if row.get(f"give_{n.need}", 0) > 0)
        names[f"D{i + 1}"] = f"{row['name']}（{_n(row['road_min'], 1)} 分钟：{gives}）" if zh else \
            f"{row['name']} ({_n(row['road_min'], 1)} min: {gives})"
    su_rows = [[r.need_zh if zh else r.need_en, r.unit, _n(r.needed), _n(r.supplied), _n(r.shortfall),
                _n(r.days_available, 1)] for r in sup.itertuples()]
    su = _table([_t(lang, "物资", "Need"), _t(lang, "单位", "Unit"),
                 _t(lang, f"需求（{p['days']} 天）", f"Needed ({p['days']} days)"), _t(lang, "可调", "Supplied"),
                 _t(lang, "缺口", "Short"), _t(lang, "库存可供天数", "Days in stock")], su_rows, 0, lang)
    dep = ("；" if zh else "; ").join(f"{k} {html.escape(str(v))}" for k, v in names.items())
    if more > 0:
        dep += _t(lang, f"；另有 {more} 处，见 GeoPackage", f"; {more} more in the GeoPackage")

    h = layers["response_helipads"]
    ok = h[h["usable"]] if len(h) else h
    hp_rows = [[f"H{i + 1}", r.name, f"{_n(r.pad_length_m)}×{_n(r.pad_width_m)} m", _n(r.to_area_km, 1)]
               for i, r in enumerate(ok.head(TOP["helipads"]).itertuples())]
    he = _table([_t(lang, "编号", "#"), _t(lang, "起降点", "Helipad"), _t(lang, "场地", "Pad"),
                 _t(lang, "距区域(km)", "To area (km)")], hp_rows, len(ok) - TOP["helipads"], lang)

    rules = _rules(info, summary, lang)
    warn = "".join(f"<li>{html.escape(_clip(warnings.text(w, lang)))}</li>" for w in warnings[:TOP["warnings"]])
    if len(warnings) > TOP["warnings"]:
        warn += f"<li>… {len(warnings) - TOP['warnings']}</li>"
    return f"""<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>
<style>
@page {{ size: A4; margin: 8mm; }}
* {{ box-sizing: border-box; }}
body {{ font-family: "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", sans-serif; font-size: 7.8pt;
  margin: 0 auto; width: 194mm; color: #111; }}
h1 {{ font-size: 15pt; margin: 0 0 1mm; border-bottom: 2px solid #d62728; }}
h2 {{ font-size: 9pt; margin: 1.5mm 0 0.8mm; color: #d62728; }}
.meta {{ color: #444; margin: 0 0 1mm; }}
.top {{ display: grid; grid-template-columns: 104mm 1fr; gap: 3mm; }}
.map img {{ width: 100%; border: 1px solid #999; }}
table {{ border-collapse: collapse; width: 100%; }}
td, th {{ border: 1px solid #bbb; padding: 0.2mm 1.2mm; text-align: left; }}
th {{ background: #f2f2f2; }}
td.n {{ text-align: right; font-weight: bold; }}
td.more {{ color: #666; font-style: italic; }}
.two {{ display: grid; grid-template-columns: 1.35fr 1fr; gap: 3mm; }}
.notes {{ font-size: 6.3pt; color: #333; margin: 0.5mm 0; }} .notes ul {{ margin: 0; padding-left: 4mm; }}
.notes ul {{ columns: 2; column-gap: 4mm; }}
</style></head><body>
<h1>{title} · {html.escape(inc.title(lang))}</h1>
<p class="meta">{html.escape(str(info['registry']))} · {html.escape(inc.how(lang))} ·
{_t(lang, "面积", "area")} {summary['area_km2']:,.2f} km² · {html.escape(towns)} · {_t(lang, "生成于", "made")} {when}</p>
<p class="meta"><b>{html.escape(verdict(summary, lang))}</b></p>
<div class="top"><div class="map"><img src="data:image/png;base64,{png}" alt="{_t(lang, '地图', 'map')}"></div>
<div><h2>{_t(lang, "主要数字", "Headline figures")}</h2><table>{head_rows}</table></div></div>
<h2>{_t(lang, "开放的避难场所（不超员分配）", "Shelters to open (no shelter overfilled)")}</h2>{sh}
<h2>{_t(lang, "派出队伍（按路网到达时间）", "Teams to send (arrival by road)")}</h2>{tm}
<div class="two"><div><h2>{_t(lang, "物资保障", "Supplies")} · {summary['displaced']:,} {_t(lang, "人", "people")}</h2>{su}
<p class="notes">{_t(lang, "调用储备库（按路网由近及远）：", "Depots drawn on, nearest by road first: ")}
{dep or _t(lang, "无", "none")}</p></div>
<div><h2>{_t(lang, "可用直升机起降点", "Usable helipads")}</h2>{he}</div></div>
<div class="notes"><h2>{_t(lang, "口径与提示", "Rules and notes")}</h2><ul>{rules}{warn}</ul></div>
</body></html>"""


def _headline(m: dict, lang: str, needs: dict):
    short = [needs.get(k, (k, k)) for k in m["needs_short"].split(", ") if k]
    rows = summary_rows(m)
    return [(z, e, ("、".join(n[0] for n in short) if lang == "zh" else ", ".join(n[1] for n in short)) or "—")
            if e == "Supplies short" else (z, e, v) for z, e, v in rows]


def _specialties(codes, labels: dict, lang: str) -> str:
    parts = [c.strip() for c in str(codes or "").split(",") if c.strip()]
    return ("、" if lang == "zh" else ", ").join(labels.get(c, (c, c))[0 if lang == "zh" else 1] for c in parts)


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
        (f"人口按格网计：格网视为以中心点为中心、边长 cell_m 的正方形，跨边界的格网按其在区域内的面积比例计入"
         f"（{m['boundary_cells']} 个）；户数 = 人口 ÷ {p['household_size']:g}，向上取整。",
         f"People from the population grid: a cell is a square of cell_m around its centre; cells crossing the "
         f"edge ({m['boundary_cells']}) count by the share of their surface inside. Households = people ÷ "
         f"{p['household_size']:g}, rounded up."),
        (f"避难场所：开放或待命、适用于该灾种、在安全距离之外、位于区域外、有空位（按 {info['standard'].name} 标准核定的位置减去现有人数）"
         f"且在步行 {p['walk_minutes']:g} 分钟（{p['walk_kmh']:g} km/h）路网范围内；按最小费用流分配，任何场所不超员。",
         f"Shelters: open or on standby, serving the hazard, outside hazard setbacks, outside the area, with free "
         f"places (places under {info['standard'].name} minus the people already there), within {p['walk_minutes']:g} "
         f"min walk by road ({p['walk_kmh']:g} km/h); assigned by min-cost flow so none overflows."),
        (f"容量按情景：{info['situation'].describe('zh')}；未登记该容量的场所为“容量不明”，不安置。",
         f"Capacity for: {info['situation'].describe('en')}; a shelter without that capacity recorded is "
         f"'capacity unknown' and takes nobody."),
        (f"队伍：待命、驻地距区域 {p['search_km']:g} km 内；到达时间 = 出动准备 + 按路网行车（各路段限速）到区域；"
         f"{p['team_minutes']:g} 分钟内到达且在其出动半径内的派出，最多 {p['max_teams'] or '全部'} 支，专长对口的优先。"
         f"储备库同样按路网由近及远调用，满足 {p['days']} 天需求。",
         f"Teams: ready, based within {p['search_km']:g} km; arrival = readiness + driving by road (each road's speed) "
         f"to the area; sent when arriving within {p['team_minutes']:g} min and within their deployment radius, "
         f"at most "
         f"{p['max_teams'] or 'all'}, fitting specialties first. "
         f"Depots are drawn on nearest by road first, for {p['days']} days."),
        (f"直升机起降点：状态可用、位于区域外、距区域 {p['search_km']:g} km 内。",
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
            ("  其中：时限内无可达场所", "  of whom: no shelter within the walking limit", round(m["unplaced_no_reach"])),
            ("  其中：不在路网上", "  of whom: off the road network", round(m["unplaced_off_network"])),
            ("派出队伍", "Teams to send", m["teams_sent"]),
            ("首支队伍到达（分钟）", "First team arrives (min)",
             "—" if not math.isfinite(m["first_team_min"]) else round(m["first_team_min"], 1)),
            ("调用储备库", "Depots drawn on", m["depots_drawn"]),
            ("物资缺口", "Supplies short", m["needs_short"] or "—"),
            ("可用直升机起降点", "Usable helipads", m["helipads_usable"])]
    return rows
