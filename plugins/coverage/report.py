"""The coverage report: the result in a sentence, the run said in words, headline figures, a map of who reaches a
shelter and who does not (legend, scale bar, north arrow), the figures by township (headed in the report's
language, people as whole numbers, shares in per cent), the proposed sites, the method and the warnings. Every edge
case reads plainly: everyone covered, nobody covered, nobody there."""

from __future__ import annotations

from typing import Any

import numpy as np

from rallypoint_plugins.reporting import numbers, page
from rallypoint_plugins.reporting.notes import text_of

from .coverage import label

TITLE = ("应急避难疏散覆盖分析", "Evacuation coverage")
PERIODS = {"night": ("夜间（常住）人口", "night (resident) population"), "day": ("日间人口", "day population")}
LEVELS = {"township": ("乡镇（街道）", "township"), "county": ("县（市、区）", "county")}


def _t(lang: str, zh: str, en: str) -> str:
    return zh if lang == "zh" else en


def verdict(region: dict, tmax: float, lang: str) -> str:
    """The result in one sentence: who is covered within the longest walking time, and who is not.

    >>> verdict({"population": 500.0, "covered_60min": 500.0}, 60.0, "en")
    'Everyone (500 people) reaches a usable shelter within 60 minutes: nobody is left uncovered.'
    >>> verdict({"population": 500.0, "covered_60min": 0.0}, 60.0, "en")
    'Of 500 people, nobody is covered: none reaches a usable shelter within 60 minutes.'
    >>> verdict({"population": 350068.0, "covered_60min": 340274.4}, 60.0, "zh")
    '350,068 人中 340,274 人（97.2 %）可在 60 分钟内步行到达可用避难场所，9,794 人未覆盖。'
    """
    zh = lang == "zh"
    total = numbers.people(region["population"])
    covered = numbers.people(region[f"covered_{label(tmax)}"])
    if total <= 0:
        return ("分析范围内没有人口：无需覆盖，也无未覆盖人口。" if zh else
                "Nobody lives in the areas analysed: there is nobody to cover and nobody uncovered.")
    if covered >= total:
        return (f"全部 {total:,} 人均可在 {tmax:g} 分钟内步行到达可用避难场所：无未覆盖人口。" if zh else
                f"Everyone ({total:,} people) reaches a usable shelter within {tmax:g} minutes: nobody is left "
                f"uncovered.")
    if covered <= 0:
        return (f"{total:,} 人中无人被覆盖：没有人能在 {tmax:g} 分钟内步行到达可用避难场所。" if zh else
                f"Of {total:,} people, nobody is covered: none reaches a usable shelter within {tmax:g} minutes.")
    share = numbers.percent_of(covered, total, 1)
    return (f"{total:,} 人中 {covered:,} 人（{share}）可在 {tmax:g} 分钟内步行到达可用避难场所，"
            f"{total - covered:,} 人未覆盖。" if zh else
            f"{covered:,} of {total:,} people ({share}) reach a usable shelter within {tmax:g} minutes; "
            f"{total - covered:,} are not covered.")


def subtitle(info: dict, lang: str) -> str:
    """The run in one sentence: hazard, walking times and speed, areas, population, siting, teams, helicopters."""
    p = info["params"]
    zh = lang == "zh"
    hazard = info.get("hazard_words", (p["hazard"], p["hazard"]))[0 if zh else 1]
    minutes = ("、" if zh else ", ").join(f"{t:g}" for t in info["thresholds"])
    level = LEVELS.get(p["level"], (p["level"],) * 2)[0 if zh else 1]
    period = PERIODS.get(p["period"], (p["period"],) * 2)[0 if zh else 1]
    share = numbers.percent(p["share"], 0)
    if zh:
        return (f"灾种：{hazard}。按路网步行（每小时 {p['walk_kmh']:g} 千米）计算 {minutes} 分钟内能到达可用避难场所的"
                f"{period}，按{level}汇总；距路网超过 {p['max_snap_m']:g} 米的人口和场所视为不在路网上；"
                f"按容量分配 {share} 的人口；建议新增 {p['new_sites']} 处场址（候选网格间距 {p['site_spacing_m']:,.0f} 米）；"
                f"救援队伍到达时限 {p['team_minutes']:g} 分钟，直升机巡航速度每小时 {p['heli_kmh']:g} 千米、"
                f"作业半径 {p['heli_radius_km']:g} 千米。")
    return (f"Hazard: {hazard.lower()}. The {period} that reaches a usable shelter within {minutes} minutes' walk "
            f"along the roads ({p['walk_kmh']:g} km/h), by {level}; people and shelters more than "
            f"{p['max_snap_m']:g} m from a road are off the network; {share} of the people assigned within "
            f"capacity; {p['new_sites']} new sites proposed (candidates every {p['site_spacing_m']:,.0f} m); teams "
            f"within {p['team_minutes']:g} minutes, helicopters at {p['heli_kmh']:g} km/h within "
            f"{p['heli_radius_km']:g} km.")


def _map(layers, info: dict, lang: str) -> str:
    """Service areas, uncovered cells, usable and unusable shelters and proposed sites, with the map's furniture."""
    import matplotlib
    from matplotlib.collections import PatchCollection
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, PathPatch

    from rallypoint_plugins.reporting import maps

    style = maps.Style(lang)
    lg = style.lang
    epsg = info["epsg"]

    def xy(frame) -> np.ndarray:
        if not len(frame):
            return np.zeros((0, 2))
        g = frame.geometry[~frame.geometry.isna() & ~frame.geometry.is_empty].to_crs(epsg)
        return np.column_stack([g.x, g.y]) if len(g) else np.zeros((0, 2))

    areas = layers["coverage_areas"]
    areas = areas[~areas.geometry.isna()].to_crs(epsg) if len(areas) else areas
    if not len(areas):
        return ""
    minx, miny, maxx, maxy = areas.total_bounds
    span = max(maxx - minx, maxy - miny, 1.0)
    with matplotlib.rc_context(style.rc):
        ratio = (maxy - miny) / max(maxx - minx, 1.0)
        fig = maps.figure(style, 8.0, max(4.0, min(10.0, 8.0 * ratio)) + 0.8)
        ax = fig.add_subplot(1, 1, 1)
        handles = []
        sa = layers["coverage_service_areas"]
        if len(sa):
            t = float(sa["minutes"].max())
            biggest = sa[sa["minutes"] == t].to_crs(epsg)
            ax.add_collection(PatchCollection([PathPatch(p) for g in biggest.geometry for p in maps.polygon_paths(g)],
                                              facecolor="#9ecae1", alpha=0.35, edgecolor="none", zorder=1))
            handles.append(Patch(facecolor="#9ecae1", alpha=0.35,
                                 label=_t(lg, f"{t:g} 分钟步行可达范围", f"Reached within {t:g} min")))
        ax.add_collection(PatchCollection([PathPatch(p) for g in areas.geometry for p in maps.polygon_paths(g)],
                                          facecolor="none", edgecolor="#777777", linewidth=0.6, zorder=2))
        handles.append(Line2D([], [], color="#777777", linewidth=0.6,
                              label=_t(lg, "乡镇（街道）界线", "Township boundaries")))
        unc = xy(layers["coverage_uncovered"])
        if len(unc):  # one raster scatter: ~10^5 cells on a city, slow as separate vector markers
            ax.scatter(unc[:, 0], unc[:, 1], s=1, color="#d62728", alpha=0.5, linewidths=0, rasterized=True, zorder=3)
        handles.append(Line2D([], [], marker="o", linestyle="", markersize=3, color="#d62728",
                              label=_t(lg, f"未覆盖的人口格网（{len(unc):,} 个）", f"Uncovered cells ({len(unc):,})")))
        s = layers["coverage_shelters"]
        ok = s["eligible"].to_numpy(dtype=bool) if len(s) else np.zeros(0, bool)
        for mask, colour, marker, size, zh_l, en_l in ((ok, "#08519c", "^", 18, "可用避难场所", "Usable shelters"),
                                                       (~ok, "#999999", "x", 10, "不可用避难场所", "Shelters not usable")):
            pts = xy(s[mask])
            if len(pts):
                ax.scatter(pts[:, 0], pts[:, 1], s=size, color=colour, marker=marker, zorder=4)
            handles.append(Line2D([], [], marker=marker, linestyle="", color=colour,
                                  label=_t(lg, f"{zh_l}（{len(pts)} 处）", f"{en_l} ({len(pts)})")))
        sites = layers["coverage_sites"]
        mc = xy(sites[sites["problem"] == "maximal_covering"]) if len(sites) else np.zeros((0, 2))
        if len(mc):
            ax.scatter(mc[:, 0], mc[:, 1], s=60, color="#2ca02c", marker="*", edgecolors="black", linewidths=0.4,
                       zorder=5)
            for i, (x, y) in enumerate(mc):
                ax.annotate(f"N{i + 1}", (x, y), xytext=(4, 3), textcoords="offset points", fontsize=7,
                            color="#1b7a1b", weight="bold", zorder=6)
            handles.append(Line2D([], [], marker="*", linestyle="", color="#2ca02c", markersize=9,
                                  label=_t(lg, f"建议新增场址（{len(mc)} 处）", f"Proposed sites ({len(mc)})")))
        pad = 0.03 * span
        ax.set_xlim(minx - pad, maxx + pad)
        ax.set_ylim(miny - pad, maxy + pad)
        ax.set_aspect("equal")
        ax.set_axis_off()
        maps.furnish(ax, handles, lg, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3, frameon=False)
        drawn = maps.drawn(fig)
    return drawn.img(_t(lang, "服务范围、未覆盖人口与建议场址", "Service areas, uncovered people and proposed sites"),
                     lang)


def _township_table(areas, region: dict, ths, lang: str) -> str:
    """By township: people, covered within each time (people and share), then why the others are not."""
    head = [_t(lang, "乡镇（街道）", "Township"), _t(lang, "代码", "Code"), _t(lang, "人口", "People")]
    head += [_t(lang, f"{t:g} 分钟内可达", f"Within {t:g} min") for t in ths]
    head += [_t(lang, "不在路网上", "Off the network"), _t(lang, "无可达场所", "No shelter on its roads"),
             _t(lang, "已分配", "Assigned"), _t(lang, "溢出（可达场所已满）", "Overflow (shelters full)"),
             _t(lang, "无法安置", "Unassigned")]

    def row(r: dict[str, Any], name: str, code: str) -> list:
        cells = [name, code, numbers.people_text(r["population"])]
        for t in ths:
            c = r[f"covered_{label(t)}"]
            cells.append(f"{numbers.people_text(c)}（{numbers.percent_of(c, r['population'], 1)}）" if lang == "zh"
                         else f"{numbers.people_text(c)} ({numbers.percent_of(c, r['population'], 1)})")
        cells += [numbers.people_text(r[k]) for k in ("off_network", "unreachable", "assigned", "overflow",
                                                       "unassigned")]
        return cells

    rows = [row(r, r["name"], r["adcode"]) for r in areas.drop(columns="geometry").to_dict("records")]
    rows.append(row(region, _t(lang, "全区", "Region"), ""))
    return page.table(head, rows, numeric=range(2, len(head)), total=True)


def _sites_table(layers, region: dict, lang: str) -> str:
    """The proposed sites (maximal covering), in order, with the people each brings within reach."""
    sites = layers["coverage_sites"]
    mc = sites[sites["problem"] == "maximal_covering"] if len(sites) else sites
    if not len(mc):
        return f"<p>{_t(lang, '无建议新增场址。', 'No new site is proposed.')}</p>"
    rows, before = [], 0.0
    for i, r in enumerate(mc.to_dict("records")):
        g = r["geometry"]
        cum = r["covered_cumulative"]
        rows.append([f"N{i + 1}", f"{g.x:.5f}, {g.y:.5f}", numbers.people_text(cum - before),
                     numbers.people_text(cum)])
        if not numbers.missing(cum):
            before = cum
    head = [_t(lang, "编号", "#"), _t(lang, "位置（经度, 纬度）", "Position (lon, lat)"),
            _t(lang, "新增覆盖人口", "People newly covered"), _t(lang, "累计", "Cumulative")]
    how = str(region.get("new_sites_how") or "")
    note = (f'<p class="note">{_t(lang, "选址方法：", "Method: ")}{page.esc(_how(how, lang))}</p>' if how else "")
    return page.table(head, rows, numeric=(2, 3)) + note


def _how(how: str, lang: str) -> str:
    """How the sites were chosen, in the report's language (the result layer keeps the solver's own words)."""
    import re

    if lang == "en":
        return how
    bound = re.fullmatch(r"greedy with swaps, at most ([\d.]+)% below the optimum", how)
    if bound:
        return f"贪心算法加交换改进，覆盖人口至多比最优解低 {bound.group(1)} %"
    words = {"optimal": "精确求解，为最优解", "best found in time": "限时求解，为时限内找到的最好解",
             "greedy": "贪心算法", "nothing to cover": "无需覆盖"}
    return words.get(how, how)


def _method(info: dict, lang: str) -> list[str]:
    p = info["params"]
    sit = info.get("situation")
    zh = lang == "zh"
    items = [
        _t(lang, f"步行时间沿路网计算，速度每小时 {p['walk_kmh']:g} 千米；人口格网和避难场所分别接入最近的路网节点"
                 f"（最远 {p['max_snap_m']:g} 米），接入距离按同样的速度计入时间。“直线”为不考虑道路的对照。",
           f"Walking times run along the roads at {p['walk_kmh']:g} km/h; population cells and shelters join the "
           f"nearest road node (at most {p['max_snap_m']:g} m away), the join walked at the same speed. 'As the crow "
           f"flies' is the comparison without roads."),
        _t(lang, "可用避难场所：开放或待命、适用于该灾种、在危险源安全距离之外且有容量。",
           "Usable shelters: open or on standby, serving the hazard, outside the setbacks of hazard sources, with "
           "capacity."),
        _t(lang, "分配按最小费用流求解：每人到一处可达场所，任何场所不超过其容量；可达场所已满的计为溢出，"
                 "时限内无可达场所的计为无法安置。",
           "The assignment is a min-cost flow: each person to a shelter in reach, none over its capacity; people "
           "whose shelters in reach are full are overflow, those with none in reach unassigned."),
    ]
    if sit is not None:
        items.append(_t(lang, f"分配所用容量：{sit.describe('zh')}。", f"Capacity filled: {sit.describe('en')}."))
    if zh:
        items.append("人数为按格网估算的人口，四舍五入到整数；比例保留一位小数。")
    else:
        items.append("People are estimates from the population grid, rounded to whole numbers; shares to one "
                     "decimal.")
    return items


def render(layers, region, rows, info, warnings, lang: str = "zh") -> str:
    lang = "en" if lang == "en" else "zh"
    zh = lang == "zh"
    ths = info["thresholds"]
    head = page.key_values((z if zh else e, numbers.people_text(v) if isinstance(v, (int, float)) else v)
                           for z, e, v in rows)
    sit = info.get("situation")
    situation = (f"<p><b>{_t(lang, '分配所用容量：', 'Capacity the assignment fills: ')}</b>"
                 f"{page.esc(sit.describe(lang))}</p>" if sit is not None else "")
    wide = len(ths) > 3
    body = [
        situation, f'<p class="verdict">{page.esc(verdict(region, ths[-1], lang))}</p>',
        page.section(_t(lang, "主要数字", "Headline figures"), head),
        page.section(_t(lang, "地图", "Map"), _map(layers, info, lang)),
        page.section(_t(lang, "分乡镇（街道）数字", "Figures by township"),
                     _township_table(layers["coverage_areas"], region, ths, lang), wide=wide),
        page.section(_t(lang, "建议新增避难场所（最大覆盖）", "Proposed new shelter sites (maximal covering)"),
                     _sites_table(layers, region, lang)),
        page.section(_t(lang, "方法说明", "Method"), page.bullets(_method(info, lang))),
        page.section(_t(lang, "提示", "Warnings"),
                     page.bullets([text_of(warnings, w, lang) for w in warnings]) or f"<p>{_t(lang, '无', 'None')}</p>"),
    ]
    return page.document(lang=lang, title=TITLE[0 if zh else 1], body=body,
                         subtitle=[page.made(str(info["registry"]), str(info.get("bureau", "")), lang),
                                   subtitle(info, lang)])
