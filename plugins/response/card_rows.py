"""The rows of the card's lists — shelters to open, teams to send, depots drawn on, helipads, supplies — in the
card's language, numbered as the map labels them (S1, T1, D1, H1). The card shows the first rows; when a list is
longer, the annex (附表) on the next page gives it whole, so the printed card is all field staff need."""

from __future__ import annotations

import html

from rallypoint_plugins.reporting import numbers

#: Rows of each table on the card (the annex has them all).
TOP = {"shelters": 5, "teams": 4, "depots": 4, "helipads": 3, "warnings": 3, "townships": 4}


def _t(lang: str, zh: str, en: str) -> str:
    return zh if lang == "zh" else en


def _n(v, digits: int = 0) -> str:
    return numbers.number(v, digits)


def unit(row, lang: str) -> str:
    """A supply row's unit in ``lang`` (the Chinese one the needs profile gives: 千克, 升, 套, 顶, 床 …)."""
    from rallypoint_plugins.reporting.units import unit as unit_words

    return unit_words(row.unit, lang, own=getattr(row, "unit_zh", None) or None)


def heads(kind: str, lang: str, days: int = 0) -> list[str]:
    return {
        "shelters": [_t(lang, "编号", "#"), _t(lang, "避难场所", "Shelter"), _t(lang, "空位", "Free"),
                     _t(lang, "安置", "Sent"), _t(lang, "平均步行（分钟）", "Mean walk (min)"),
                     _t(lang, "最长（分钟）", "Longest (min)")],
        "teams": [_t(lang, "编号", "#"), _t(lang, "队伍", "Team"), _t(lang, "专长", "Specialties"),
                  _t(lang, "人数", "Members"), _t(lang, "准备（分钟）", "Ready (min)"),
                  _t(lang, "到达（分钟）", "Arrives (min)"), _t(lang, "专长对口", "Fits")],
        "depots": [_t(lang, "编号", "#"), _t(lang, "储备库", "Depot"), _t(lang, "路网行车（分钟）", "By road (min)"),
                   _t(lang, "调用物资", "Drawn")],
        "helipads": [_t(lang, "编号", "#"), _t(lang, "起降点", "Helipad"), _t(lang, "场地", "Pad"),
                     _t(lang, "距区域（千米）", "To area (km)")],
        "supplies": [_t(lang, "物资", "Need"), _t(lang, "单位", "Unit"),
                     _t(lang, f"需求（{days} 天）", f"Needed ({days} days)"), _t(lang, "可调", "Supplied"),
                     _t(lang, "缺口", "Short"), _t(lang, "库存可供天数", "Days in stock")],
    }[kind]


def shelters(opened, lang: str) -> list[list[str]]:
    return [[f"S{i + 1}", r.name, _n(r.free), _n(r.assigned), _n(r.mean_walk_min, 1), _n(r.max_walk_min, 1)]
            for i, r in enumerate(opened.itertuples())]


def teams(sent, labels: dict, lang: str) -> list[list[str]]:
    return [[f"T{i + 1}", r.name, specialties(r.specialties, labels, lang), _n(r.members), _n(r.readiness_min),
             _n(r.arrive_min, 1), _t(lang, "是", "yes") if r.match else ""] for i, r in enumerate(sent.itertuples())]


def depots(drawn, sup, lang: str) -> list[list[str]]:
    sep = "、" if lang == "zh" else ", "
    out = []
    for i, row in enumerate(drawn.to_dict("records")):
        gives = sep.join(f"{n.need_zh if lang == 'zh' else n.need_en} {_n(row[f'give_{n.need}'])} {unit(n, lang)}"
                         for n in sup.itertuples() if row.get(f"give_{n.need}", 0) > 0)
        out.append([f"D{i + 1}", row["name"], _n(row["road_min"], 1), gives])
    return out


def depot_words(rows: list[list[str]], more: int, lang: str) -> str:
    """The depots drawn on, as the card's line under the supplies (HTML)."""
    zh = lang == "zh"
    said = ("；" if zh else "; ").join(
        html.escape(f"{k} {name}（{mins} 分钟：{gives}）" if zh else f"{k} {name} ({mins} min: {gives})")
        for k, name, mins, gives in rows)
    if more > 0:
        said += _t(lang, f"；另有 {more} 处，见附表（下页）", f"; {more} more: see the annex (next page)")
    return said or _t(lang, "无", "none")


def helipads(ok, lang: str) -> list[list[str]]:
    m = _t(lang, "米", "m")
    return [[f"H{i + 1}", r.name, f"{_n(r.pad_length_m)}×{_n(r.pad_width_m)} {m}", _n(r.to_area_km, 1)]
            for i, r in enumerate(ok.itertuples())]


def supplies(sup, lang: str) -> list[list[str]]:
    return [[r.need_zh if lang == "zh" else r.need_en, unit(r, lang), _n(r.needed), _n(r.supplied), _n(r.shortfall),
             _n(r.days_available, 1)] for r in sup.itertuples()]


def specialties(codes, labels: dict, lang: str) -> str:
    parts = [c.strip() for c in str(codes or "").split(",") if c.strip()]
    return ("、" if lang == "zh" else ", ").join(labels.get(c, (c, c))[0 if lang == "zh" else 1] for c in parts)


def annex(lists: list[tuple[str, list[str], list[list[str]]]], warnings: list[str], lang: str) -> str:
    """The annex (附表) on the next page: every list longer than the card shows, whole, and every warning when
    there are more than the card has room for; empty when the card holds everything."""
    parts = []
    for title, head, rows in lists:
        th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
        parts.append(f"<h2>{html.escape(title)}</h2><table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>")
    if warnings:
        parts.append(f"<h2>{_t(lang, '全部提示', 'Every warning')}</h2><ul class='full'>"
                     + "".join(f"<li>{html.escape(w)}</li>" for w in warnings) + "</ul>")
    if not parts:
        return ""
    intro = _t(lang, "应急响应卡所列清单的全部条目，编号与卡片一致（地图标注卡片所列各项）。",
               "The card's lists in full, numbered as on the card (the map marks those the card lists).")
    return (f'<section class="annex"><h1>{_t(lang, "附表", "Annex")}</h1><p class="meta">{intro}</p>'
            + "".join(parts) + "</section>")
