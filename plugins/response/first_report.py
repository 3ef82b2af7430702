"""The first report (初报) of a warning to an area, filled from the response sheet: what, where, when, the people
affected, the resources sent, and the time by which it is due under the 30-minute rule (a village reports an
incident within 30 minutes; the minutes run from the alert's sending time, or from when a drawn area was given).

Times are local (Asia/Shanghai unless ``RALLYPOINT_TZ`` says otherwise); people are whole numbers.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING

from rallypoint_plugins.reporting import times

from .card_rows import unit

if TYPE_CHECKING:  # pragma: no cover
    from .outcome import AlertOutcome

#: Longest description of the alert quoted in the report (characters); the page shows it whole.
QUOTE = 160
#: Names listed per kind of resource (the rest are counted).
NAMES = 5


def when(t: datetime | None, lang: str) -> str:
    """A time in the reports' zone: ``2026年7月1日 08:30`` or ``2026-07-01 08:30 (UTC+08:00)``."""
    return times.when(t, lang)


def people(v) -> int:
    """People as a whole number (half up)."""
    return int(math.floor(float(v) + 0.5)) if v is not None and math.isfinite(float(v)) else 0


def _n(count: int, noun: str) -> str:
    """“1 rescue team”, “2 rescue teams”."""
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def _names(values, lang: str, measure: str = "处") -> str:
    values = [str(v) for v in values if v]
    sep = "、" if lang == "zh" else ", "
    shown = sep.join(values[:NAMES])
    if len(values) > NAMES:
        shown += f" 等 {len(values)} {measure}" if lang == "zh" else f" and {len(values) - NAMES} more"
    return shown


def level_words(o: "AlertOutcome", lang: str) -> str:
    """“橙色预警（Ⅱ级（严重））” / “Orange warning (level II (severe))”, or empty."""
    lv = o.warning.level_names
    if not o.warning.level:
        return ""
    if lang == "zh":
        return f"{lv.get('zh', o.warning.level)}预警（{lv.get('grade_zh', '')}）"
    return f"{lv.get('en', o.warning.level)} warning ({lv.get('grade_en', '')})"


def deadline_words(o: "AlertOutcome", lang: str) -> str:
    """When the first report is due, and how long is left (or how late it is) at the time it is made."""
    left = (o.deadline - o.made_at).total_seconds() / 60
    due = when(o.deadline, lang)
    if lang == "zh":
        state = f"尚余 {math.floor(left)} 分钟" if left >= 0 else f"已超时 {math.ceil(-left)} 分钟，请立即报送"
        return f"{due}前（发布后 30 分钟内；{state}）"
    state = f"{math.floor(left)} min left" if left >= 0 else f"{math.ceil(-left)} min late: send it now"
    return f"by {due} (within 30 minutes of the alert; {state})"


def text(o: "AlertOutcome", lang: str = "zh") -> str:
    zh = lang == "zh"
    m = o.summary
    w = o.warning
    alert = w.alert
    area = o.result.layers["response_area"].iloc[0]
    incident = area["title_zh"] if zh else area["title_en"]
    towns = o.notice.areas.groupby(["township_code", "township"], sort=True)["people"].sum()
    town_words = ("、" if zh else "; ").join(
        (f"{name or code} {people(p):,} 人" if zh else f"{name or code} {people(p):,}") for (code, name), p in
        towns.items())
    s = o.result.layers["response_shelters"]
    opened = s[s["open"]]
    t = o.result.layers["response_teams"]
    sent = t[t["send"]] if len(t) else t
    d = o.result.layers["response_depots"]
    drawn = d[d["draw"]] if len(d) else d
    supply = o.result.tables["response_supply"]
    short = supply[supply["shortfall"] > 1e-9]
    counts = o.notice.counts()
    exercise = alert is not None and alert.status == "Exercise"
    lines: list[str] = []
    if zh:
        lines.append("【突发事件信息初报】" + ("（演练）" if exercise else ""))
        lines.append(f"报告单位：{o.bureau}")
        lines.append(f"报告时间：{when(o.made_at, 'zh')}")
        lines.append(f"报送时限：{deadline_words(o, 'zh')}")
        if alert is not None:
            info = alert.info("zh")
            what = info.headline or f"{info.event}{level_words(o, 'zh')}"
            desc = info.description[:QUOTE] + ("……" if len(info.description) > QUOTE else "")
            lines.append(f"一、事件：{info.sender_name or alert.sender}于{when(alert.sent, 'zh')}发布“{what}”"
                         f"（预警标识 {alert.identifier}；按{incident}响应）。{desc}")
        else:
            lines.append(f"一、事件：{incident}（按绘制的区域响应）。")
        lines.append(f"二、地点：{w.desc('zh') or '绘制的区域'}；预警区域面积约 {m['area_km2']:,.2f} 平方千米"
                     + (f"，涉及{'、'.join(n or c for c, n in towns.index)}。" if len(towns) else "。"))
        if alert is not None:
            info = alert.info("zh")
            lines.append(f"三、时间：发布 {when(alert.sent, 'zh')}；生效 {when(info.effective or info.onset, 'zh')}；"
                         f"失效 {when(alert.expires, 'zh')}。")
        else:
            lines.append(f"三、时间：{when(o.made_at, 'zh')}划定区域。")
        lines.append(f"四、影响人员：区域内约 {people(m['people']):,} 人、{int(m['households']):,} 户（人口格网估算）"
                     + (f"，其中{town_words}" if town_words else "")
                     + f"；区域内隐患点 {int(m['hazard_points'])} 处，威胁 {people(m['threatened_people']):,} 人。")
        res = [f"拟派出救援队伍 {len(sent)} 支" + (f"（{_names(sent['name'], 'zh', '支')}，首支约 "
                                                 f"{m['first_team_min']:.0f} 分钟到达）" if len(sent) else ""),
               f"开放避难场所 {len(opened)} 处" + (f"（{_names(opened['name'], 'zh')}）" if len(opened) else "")
               + f"，可安置 {people(m['placed']):,} 人" + (f"，{people(m['unplaced']):,} 人暂无法安置"
                                                         if people(m['unplaced']) else ""),
               f"调用储备库 {len(drawn)} 处" + (f"（{_names(drawn['name'], 'zh')}）" if len(drawn) else ""),
               f"可用直升机起降点 {int(m['helipads_usable'])} 处"]
        if len(short):
            res.append("物资缺口：" + "、".join(f"{r.need_zh} {r.shortfall:,.0f} {unit(r, 'zh')}"
                                           for r in short.itertuples()))
        lines.append("五、已调派资源：" + "；".join(res) + "。")
        lines.append(f"六、预警传达（“两个直达”）：责任人 {len(o.notice.contacts)} 人次（隐患点监测人 "
                     f"{counts['hazard_monitor']}、避难场所管理责任人 {counts['shelter_inside'] + counts['shelter_open']}、"
                     f"队长 {counts['team_inside'] + counts['team_sent']}、整改责任单位 {counts['rectification']}），"
                     f"区域内 {int(m['households']):,} 户。")
        lines.append("（以上为初报，后续情况将续报。）")
    else:
        lines.append("FIRST REPORT (initial incident report)" + (" — EXERCISE" if exercise else ""))
        lines.append(f"Reported by: {o.bureau}")
        lines.append(f"Reported at: {when(o.made_at, 'en')}")
        lines.append(f"Due: {deadline_words(o, 'en')}")
        if alert is not None:
            info = alert.info("en")
            what = info.headline or f"{info.event} {level_words(o, 'en')}"
            desc = info.description[:QUOTE] + ("…" if len(info.description) > QUOTE else "")
            lines.append(f"1. What: {info.sender_name or alert.sender} issued \"{what}\" at {when(alert.sent, 'en')} "
                         f"(alert {alert.identifier}; responded to as: {incident}). {desc}")
        else:
            lines.append(f"1. What: {incident} (responding to the area drawn).")
        lines.append(f"2. Where: {w.desc('en') or 'the area drawn'}; the warned area covers about "
                     f"{m['area_km2']:,.2f} km²" + (f", in {', '.join(n or c for c, n in towns.index)}." if len(towns)
                                                    else "."))
        if alert is not None:
            info = alert.info("en")
            lines.append(f"3. When: issued {when(alert.sent, 'en')}; in force from "
                         f"{when(info.effective or info.onset, 'en')} until {when(alert.expires, 'en')}.")
        else:
            lines.append(f"3. When: area drawn at {when(o.made_at, 'en')}.")
        lines.append(f"4. People affected: about {people(m['people']):,} people in {int(m['households']):,} households "
                     f"inside (population grid)" + (f" — {town_words}" if town_words else "")
                     + f"; {_n(int(m['hazard_points']), 'hazard point')} inside, threatening "
                     f"{people(m['threatened_people']):,} people.")
        first = f"; the first arrives in about {m['first_team_min']:.0f} min" if len(sent) else ""
        res = [f"{_n(len(sent), 'rescue team')} to send" + (f" ({_names(sent['name'], 'en')}{first})" if len(sent)
                                                             else ""),
               f"{_n(len(opened), 'shelter')} to open" + (f" ({_names(opened['name'], 'en')})" if len(opened) else "")
               + f", placing {people(m['placed']):,} people" + (f", {people(m['unplaced']):,} not placed yet"
                                                                if people(m['unplaced']) else ""),
               f"{_n(len(drawn), 'depot')} drawn on" + (f" ({_names(drawn['name'], 'en')})" if len(drawn) else ""),
               _n(int(m['helipads_usable']), "usable helipad")]
        if len(short):
            res.append("supplies short: " + ", ".join(f"{r.need_en} {r.shortfall:,.0f} {unit(r, 'en')}"
                                                      for r in short.itertuples()))
        lines.append("5. Resources sent: " + "; ".join(res) + ".")
        lines.append(f"6. Warning passed on (\"two direct reaches\"): {len(o.notice.contacts)} responsible persons "
                     f"(hazard-point monitors {counts['hazard_monitor']}, shelter managers "
                     f"{counts['shelter_inside'] + counts['shelter_open']}, team leaders "
                     f"{counts['team_inside'] + counts['team_sent']}, rectification owners {counts['rectification']}), "
                     f"{int(m['households']):,} households in the area.")
        lines.append("(First report; further reports will follow.)")
    return "\n".join(lines) + "\n"
