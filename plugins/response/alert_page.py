"""The warning's page (HTML, zh or en) and its lists as CSV for SMS tools.

The page: the alert, the first report with its deadline, the sheet's headline figures, the responsible persons,
the people and households by township and village, and the response card itself, embedded whole in a declarative
shadow root (its own styles stay its own, and it prints on its own pages after the page, annex included). Times are
local (Asia/Shanghai unless ``RALLYPOINT_TZ`` says otherwise), people whole numbers.

CSV: UTF-8 with a byte-order mark (so Excel opens the Chinese right), headers in the page's language. The
contacts CSV has one row per person to message: rows with the same phone are merged, their roles and resources
joined. A cell that a spreadsheet would take for a formula (=, @, or + and - not followed by a phone number) is
written with a leading apostrophe.
"""

from __future__ import annotations

import csv
import html
import io
import re
from typing import TYPE_CHECKING

from rallypoint_plugins.reporting import times

from .first_report import deadline_words, level_words, people, text, when
from .notify import ROLES

if TYPE_CHECKING:  # pragma: no cover
    from .notify import Notice
    from .outcome import AlertOutcome

CONTACT_HEAD = {"zh": ["姓名/单位", "手机号码", "角色", "资源", "乡镇（街道）", "说明", "资源类型", "UUID"],
                "en": ["Name / unit", "Phone", "Role", "Resource", "Township", "Details", "Layer", "UUID"]}
PEOPLE_HEAD = {"zh": ["乡镇（街道）代码", "乡镇（街道）", "村（社区）代码", "村（社区）", "人口", "户数"],
               "en": ["Township code", "Township", "Village code", "Village", "People", "Households"]}
LAYERS = {"hazard_points": ("隐患点", "Hazard point"), "shelters": ("避难场所", "Shelter"),
          "teams": ("救援队伍", "Rescue team"), "hazard_rectification": ("隐患整改记录", "Rectification record")}
_PHONE = re.compile(r"^[+-]?[\d\s()-]+$")
#: CAP's urgency, severity and certainty codes in Chinese
CAP_ZH = {"Immediate": "立即", "Expected": "预期", "Future": "未来", "Past": "已过", "Unknown": "未知",
          "Extreme": "特别严重", "Severe": "严重", "Moderate": "较重", "Minor": "一般",
          "Observed": "已发生", "Likely": "很可能", "Possible": "可能", "Unlikely": "不太可能"}


def _t(lang: str, zh: str, en: str) -> str:
    return zh if lang == "zh" else en


def _cell(v) -> str:
    """A CSV cell: text, with formula-looking text made inert."""
    s = "" if v is None else str(v)
    if s[:1] in ("=", "@", "\t", "\r") or (s[:1] in ("+", "-") and not _PHONE.match(s)):
        return "'" + s
    return s


def _csv(head: list[str], rows: list[list]) -> bytes:
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\r\n")
    out.writerow(head)
    out.writerows([[_cell(c) for c in r] for r in rows])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def contact_rows(notice: "Notice", lang: str) -> list[list]:
    """The contacts as the CSV gives them: one row per phone (roles and resources joined), rows without one kept."""
    zh = lang == "zh"
    sep = "；" if zh else "; "
    merged: dict[str, list] = {}
    rows: list[list] = []
    for r in notice.contacts.to_dict("records"):
        row = [r["name"] or "", r["phone"] or "", ROLES[r["role"]][0 if zh else 1], r["resource"] or "",
               r["township"] or r["adcode"] or "", r["detail_zh"] if zh else r["detail_en"],
               LAYERS.get(r["layer"], (r["layer"], r["layer"]))[0 if zh else 1], r["uuid"]]
        if r["phone"]:
            if r["phone"] in merged:
                had = merged[r["phone"]]
                for i in (2, 3, 4, 5, 6, 7):
                    if row[i] and row[i] not in had[i].split(sep):
                        had[i] = f"{had[i]}{sep}{row[i]}" if had[i] else row[i]
                continue
            merged[r["phone"]] = row
        rows.append(row)
    return rows


def contacts_csv(notice: "Notice", lang: str = "zh") -> bytes:
    return _csv(CONTACT_HEAD[lang], contact_rows(notice, lang))


def people_rows(notice: "Notice", lang: str) -> list[list]:
    rows = [[r["township_code"], r["township"], r["village_code"],
             r["village"] or (_t(lang, "（未划村）", "(no village)") if not r["village_code"] else ""),
             people(r["people"]), int(r["households"])] for r in notice.areas.to_dict("records")]
    rows.append(["", _t(lang, "合计", "Total"), "", "", people(notice.people), int(notice.households)])
    return rows


def people_csv(notice: "Notice", lang: str = "zh") -> bytes:
    return _csv(PEOPLE_HEAD[lang], people_rows(notice, lang))


def csv_list(o: "AlertOutcome", which: str, lang: str = "zh") -> bytes:
    """The list ``which`` (contacts, people) as CSV."""
    from rallypoint.analysis import AnalysisError

    if which == "contacts":
        return contacts_csv(o.notice, lang)
    if which == "people":
        return people_csv(o.notice, lang)
    raise AnalysisError(f"parameter 'list': {which!r} is not contacts or people")


def _table(head: list[str], rows: list[list], lang: str, numeric: tuple[int, ...] = ()) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(
        f'<td class="n">{c:,}</td>' if i in numeric and isinstance(c, int) else f"<td>{html.escape(str(c))}</td>"
        for i, c in enumerate(r)) + "</tr>" for r in rows)
    if not rows:
        body = f'<tr><td colspan="{len(head)}">{_t(lang, "无", "none")}</td></tr>'
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _alert_rows(o: "AlertOutcome", lang: str) -> list[tuple[str, str]]:
    w = o.warning
    alert = w.alert
    if alert is None:
        return [(_t(lang, "来源", "Source"), _t(lang, "绘制的区域（GeoJSON）", "an area drawn (GeoJSON)")),
                (_t(lang, "区域", "Area"), w.desc(lang) or "—")]
    info = alert.info(lang)
    status = {"Actual": ("正式", "actual"), "Exercise": ("演练", "EXERCISE")}.get(alert.status,
                                                                                (alert.status, alert.status))
    kind = {"Alert": ("新发布", "new"), "Update": ("更新", "update")}.get(alert.msg_type,
                                                                      (alert.msg_type, alert.msg_type))
    return [(_t(lang, "发布单位", "Issued by"), info.sender_name or alert.sender),
            (_t(lang, "发布时间", "Sent"), when(alert.sent, lang)),
            (_t(lang, "预警", "Warning"), info.headline or info.event),
            (_t(lang, "事件 / 级别", "Event / level"), f"{info.event} · {level_words(o, lang) or '—'}"),
            (_t(lang, "紧急 / 严重 / 确定", "Urgency / severity / certainty"),
             " / ".join(CAP_ZH.get(v, v) if lang == "zh" else v for v in (info.urgency, info.severity,
                                                                           info.certainty))),
            (_t(lang, "生效 / 失效", "In force / expires"),
             f"{when(info.effective or info.onset or alert.sent, lang)} / {when(alert.expires, lang)}"),
            (_t(lang, "区域", "Area"), w.desc(lang)),
            (_t(lang, "状态 / 类型", "Status / type"), f"{status[0 if lang == 'zh' else 1]} / "
                                                    f"{kind[0 if lang == 'zh' else 1]}"),
            (_t(lang, "标识", "Identifier"), f"{alert.identifier} ({alert.sender})")]


def render(o: "AlertOutcome", lang: str = "zh", card: str | None = None) -> str:
    """The page in ``lang``; ``card``: the response card's HTML in that language when already made (it draws a
    map, the slowest part)."""
    from .results import summary_rows

    zh = lang == "zh"
    w = o.warning
    alert = w.alert
    title = _t(lang, "预警区域应急响应", "Warning to an area: response")
    what = (alert.info(lang).headline or alert.info(lang).event) if alert else o.result.layers[
        "response_area"].iloc[0]["title_zh" if zh else "title_en"]
    banner = "".join(f"<li>{html.escape(zh_ if zh else en)}</li>" for en, zh_ in o.notes)
    warn = "".join(f"<li>{html.escape(_warning(o, x, lang))}</li>" for x in o.result.warnings)
    alert_table = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
                          for k, v in _alert_rows(o, lang))
    needs = {r.need: (r.need_zh, r.need_en) for r in o.result.tables["response_supply"].itertuples()}
    rows = [(z, e, ("、" if zh else ", ").join(needs.get(k, (k, k))[0 if zh else 1] for k in str(v).split(", ") if k)
             or "—") if e == "Supplies short" else (z, e, v) for z, e, v in summary_rows(o.summary)]
    figures = "".join(f"<tr><td>{html.escape(z if zh else e)}</td><td class=n>{html.escape(_fig(v))}</td></tr>"
                      for z, e, v in rows)
    contacts = _table(CONTACT_HEAD[lang][:6], [r[:6] for r in _page_contacts(o, lang)], lang)
    hint = _t(lang, "姓名和电话为个人信息，仅向持有密钥（读者及以上角色）的用户显示。",
              "Names and phones are personal data, shown only to holders of a key (reader or above).")
    hidden = "" if o.notice.personal else f'<p class="hint">{html.escape(hint)}</p>'
    missing = o.notice.without_phone()
    if missing:
        hidden += '<p class="deadline">' + html.escape(_t(
            lang, f"其中 {missing} 人次未登记联系电话，需另行通知。",
            f"{missing} of them have no phone recorded: reach them another way.")) + "</p>"
    ppl = _table(PEOPLE_HEAD[lang], people_rows(o.notice, lang), lang, numeric=(4, 5))
    card = embedded_card(o.result.report(lang) if card is None else card)
    level_class = f" level-{w.level}" if w.level else ""
    return f"""<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<title>{html.escape(title)} · {html.escape(what)}</title>
<style>
@page {{ size: A4; margin: 5mm; }}
body {{ font-family: "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", sans-serif; font-size: 10pt;
  margin: 0 auto; max-width: 200mm; color: #111; }}
h1 {{ font-size: 16pt; margin: 4mm 0 1mm; padding-left: 3mm; border-left: 8px solid #888; }}
h1.level-red {{ border-color: #d62728; }} h1.level-orange {{ border-color: #ff7f0e; }}
h1.level-yellow {{ border-color: #e6c700; }} h1.level-blue {{ border-color: #1f77b4; }}
h2 {{ font-size: 11.5pt; margin: 4mm 0 1.5mm; color: #b2182b; break-after: avoid; }}
.meta {{ color: #444; margin: 0 0 2mm; }}
.banner {{ border: 2px solid #d62728; background: #fdecea; padding: 1mm 3mm; margin: 2mm 0; }}
.banner ul {{ margin: 0; padding-left: 5mm; }}
table {{ border-collapse: collapse; width: 100%; margin-bottom: 1mm; }}
td, th {{ border: 1px solid #bbb; padding: 0.6mm 1.5mm; text-align: left; vertical-align: top; }}
th {{ background: #f2f2f2; font-weight: 600; }} table.kv th {{ width: 32mm; }}
td.n {{ text-align: right; font-variant-numeric: tabular-nums; }}
pre.report {{ white-space: pre-wrap; font-family: inherit; background: #fffbe6; border: 1px solid #e0c96b;
  padding: 2mm 3mm; margin: 0; line-height: 1.5; }}
.deadline {{ font-weight: bold; color: #b2182b; }}
.two {{ display: grid; grid-template-columns: 1fr 1fr; gap: 4mm; }}
.hint, .notes {{ color: #555; font-size: 8.5pt; }}
div.sheet {{ border: 1px solid #999; padding: 3mm; width: 200mm; }}
@media print {{ div.sheet {{ border: none; padding: 0; break-before: page; }} h2.sheet {{ display: none; }} }}
</style></head><body>
<h1 class="title{level_class}">{html.escape(title)} · {html.escape(what)}</h1>
<p class="meta">{html.escape(o.registry)} · {html.escape(o.bureau)} · {_t(lang, "生成于", "made")} {html.escape(times.stamp(o.made_at, lang))}</p>
{f'<div class="banner"><ul>{banner}</ul></div>' if banner else ''}
<h2>{_t(lang, "初报（30 分钟内报送）", "First report (due within 30 minutes)")}</h2>
<p class="deadline">{_t(lang, "报送时限：", "Due: ")}{html.escape(deadline_words(o, lang))}</p>
<pre class="report">{html.escape(text(o, lang))}</pre>
<div class="two"><div><h2>{_t(lang, "预警信息", "The warning")}</h2><table class="kv">{alert_table}</table></div>
<div><h2>{_t(lang, "主要数字", "Headline figures")}</h2><table>{figures}</table></div></div>
<h2>{_t(lang, "责任人名单", "Responsible persons")} ({len(o.notice.contacts)})</h2>{hidden}{contacts}
<h2>{_t(lang, "区域内人口与户数（按乡镇、村）", "People and households inside, by township and village")}</h2>{ppl}
<p class="hint">{html.escape(_t(lang, f"人口按格网计，跨边界的格网按其在区域内的面积比例计入；户数 = 人口 ÷ "
                                      f"{o.params['household_size']:g}，各行分别向上取整，合计按区域总人口计算。",
                                      f"People from the population grid, cells crossing the edge counted by their "
                                      f"share inside; households = people ÷ {o.params['household_size']:g}, rounded "
                                      f"up for each row; the total is the area's own."))}</p>
{f'<div class="notes"><h2>{_t(lang, "提示", "Notes")}</h2><ul>{warn}</ul></div>' if warn else ''}
<h2 class="sheet">{_t(lang, "应急响应卡", "Incident response sheet")}</h2>
<div class="sheet" title="{_t(lang, '应急响应卡', 'Incident response sheet')}">{card}</div>
<script>{FIT}</script>
</body></html>"""


#: The card keeps to one page here too (see :data:`.card.FIT`): its first part, in the shadow root, is shrunk to fit.
FIT = """addEventListener("load", function () {
  var host = document.querySelector("div.sheet"), card = host && host.shadowRoot && host.shadowRoot.querySelector(
    "main.card"), room = (297 - 16) * 96 / 25.4;
  if (card && card.scrollHeight > room) card.style.zoom = (0.995 * room / card.scrollHeight).toFixed(4);
});"""


def embedded_card(card: str) -> str:
    """The response card (a whole page of :mod:`.card`) as a declarative shadow root: its styles apply to it alone
    (``body`` becomes the shadow host), and it flows over pages when printed, annex included."""
    style = re.search(r"<style>(.*?)</style>", card, re.S)
    body = re.search(r"<body>(.*)</body>", card, re.S)
    inner = re.sub(r"<script>.*?</script>", "", body.group(1) if body else card, flags=re.S)
    css = re.sub(r"@page\s*\{[^}]*\}", "", style.group(1) if style else "").replace("body {", ":host { display: block;")
    return f'<template shadowrootmode="open"><style>{css}</style>{inner}</template>'


def _page_contacts(o: "AlertOutcome", lang: str) -> list[list]:
    """One row per resource and role (the page keeps them apart; the CSV merges rows by phone)."""
    zh = lang == "zh"
    return [[r["name"] or "—", r["phone"] or "—", ROLES[r["role"]][0 if zh else 1], r["resource"] or "",
             r["township"] or r["adcode"] or "", r["detail_zh"] if zh else r["detail_en"]]
            for r in o.notice.contacts.to_dict("records")]


def _fig(v) -> str:
    if hasattr(v, "item"):  # numpy scalars
        v = v.item()
    if isinstance(v, float):
        return f"{v:,.1f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def _warning(o: "AlertOutcome", en: str, lang: str) -> str:
    text = getattr(o.result.warnings, "text", None)
    return text(en, lang) if text else en
