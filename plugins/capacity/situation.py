"""Which capacity applies: the situation (overnight, daytime, post-impact) and a shelter's places in it.

People who stay overnight, and anyone in a cold season, count against a shelter's indoor (covered)
places, recorded as ``capacity_night``; outdoor places (squares, sports grounds) only hold people
for a short daytime evacuation, so the day capacity (``capacity_day``: indoor + outdoor) applies
then; once the hazard has struck and people stay on, the post-impact capacity
(``capacity_post_impact``). ``situation = auto`` decides between overnight and daytime from a
moment: the one given (``at``), else the time of the shelters' head counts, else the population
period of the analysis (night population: people sleep). Post-impact is chosen, never guessed.

A capacity that is not recorded for the situation stays unknown (``NaN``) with its reason: it is
never taken as zero, so a shelter is never "full" for want of a figure.

>>> import pandas as pd
>>> s = pd.DataFrame({"capacity_day": [4660, 990, 300, 50], "capacity_night": [100, 990, None, None],
...                   "capacity_post_impact": [None, None, None, 20], "indoor": [False, True, True, None]})
>>> night = decide({"situation": "overnight", "at": None, "cold_months": (11, 12, 1, 2, 3), "day_hours": (8, 18)})
>>> cap, why = applicable_capacity(s, night)
>>> cap.tolist()[:3], why.tolist()[3]
([100.0, 990.0, 300.0], 'no night (indoor) capacity recorded')
>>> applicable_capacity(s, decide({"situation": "daytime"}))[0].tolist()
[4660.0, 990.0, 300.0, 50.0]
>>> decide({"situation": "auto", "at": "2024-01-09T18:00:00+09:00"}).code
'overnight'
>>> [decide({"situation": "auto", "at": at}).code for at in ("2024-07-25T13:30", "2024-07-25T19:00")]
['daytime', 'overnight']
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Iterable

from rallypoint.analysis import AnalysisError, Parameter

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

SITUATIONS = ("auto", "overnight", "daytime", "post_impact")
#: The registry field each situation counts against.
FIELDS = {"overnight": "capacity_night", "daytime": "capacity_day", "post_impact": "capacity_post_impact"}
#: Shelter fields :func:`applicable_capacity` reads.
COLUMNS = ["capacity_day", "capacity_night", "capacity_post_impact", "indoor"]
#: Reports are in China's time (UTC+8, no daylight saving); a moment given without an offset is read in it.
CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")

TITLES = {
    "overnight": ("过夜/寒冷季节（按室内容量）", "Overnight or cold season (indoor places)"),
    "daytime": ("日间短时疏散（按日间容量，含室外）", "Short daytime evacuation (day capacity, outdoor included)"),
    "post_impact": ("灾后安置（按灾后安置容量）", "After the impact (post-impact capacity)"),
}
UNKNOWN = {
    "daytime": ("未登记日间容量", "no day capacity recorded"),
    "overnight": ("未登记夜间（室内）容量", "no night (indoor) capacity recorded"),
    "post_impact": ("未登记灾后安置容量", "no post-impact capacity recorded"),
}

PARAMETERS = (
    Parameter("situation", "choice", "auto",
              "适用容量的情景：overnight 过夜或寒冷季节（室内容量），daytime 日间短时疏散（日间容量，含室外），"
              "post_impact 灾后安置（灾后安置容量），auto 按时间和月份判断",
              "Which capacity applies: overnight = people staying the night or a cold season (indoor places); "
              "daytime = a short daytime evacuation (day capacity, outdoor places included); post_impact = after "
              "the hazard (post-impact capacity); auto = from the time and month",
              choices=SITUATIONS),
    Parameter("at", "str", None,
              "判断情景的时间（ISO 8601，如 2024-01-09T18:00；无时区按北京时间）；不填则取场所人数的统计时间，"
              "再无则按人口时段",
              "The moment that decides the situation (ISO 8601, e.g. 2024-01-09T18:00; without an offset, China "
              "time); by default the time of the shelters' head counts, else the population period"),
    Parameter("cold_months", "floats", (11.0, 12.0, 1.0, 2.0, 3.0), "寒冷季节的月份（逗号分隔；此时按室内容量）",
              "Months of the cold season (comma-separated; indoor places then apply)", min=1, max=12),
    Parameter("day_hours", "floats", (8.0, 18.0), "日间时段：开始和结束的钟点（如 8,18；其余时间按过夜）",
              "Daytime: the hours it starts and ends (e.g. 8,18; other hours count as overnight)", min=0, max=24),
)


@dataclass(frozen=True)
class Situation:
    """The situation an analysis counts capacity for, and why it was chosen."""

    code: str  # overnight, daytime or post_impact
    auto: bool
    at: datetime | None
    why_zh: str
    why_en: str

    @property
    def field(self) -> str:
        return FIELDS[self.code]

    def title(self, lang: str = "zh") -> str:
        return TITLES[self.code][0 if lang == "zh" else 1]

    def why(self, lang: str = "zh") -> str:
        return self.why_zh if lang == "zh" else self.why_en

    def describe(self, lang: str = "zh") -> str:
        """One line for a report: the situation and why."""
        return f"{self.title(lang)}（{self.why_zh}）" if lang == "zh" else f"{self.title(lang)} ({self.why_en})"


def parse_moment(text: Any, what: str = "at") -> datetime | None:
    """An ISO 8601 date-time (``Z`` or an offset allowed; none: China time), in China time; ``None`` for empty."""
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    if isinstance(text, datetime):
        when = text
    else:
        s = str(text).strip()
        try:
            when = datetime.fromisoformat(s[:-1] + "+00:00" if s.endswith(("Z", "z")) else s)
        except ValueError:
            raise AnalysisError(f"parameter {what!r}: {text!r} is not a date-time like 2024-01-09T18:00 "
                                f"(ISO 8601, China time unless an offset is given)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=CHINA)
    return when.astimezone(CHINA)


def _months(values: Iterable[float]) -> set[int]:
    out = set()
    for v in values:
        if float(v) != int(v) or not 1 <= int(v) <= 12:
            raise AnalysisError(f"parameter 'cold_months': {v:g} is not a month (1-12)")
        out.add(int(v))
    return out


def _hours(values: tuple[float, ...]) -> tuple[float, float]:
    if len(values) != 2 or not 0 <= values[0] < values[1] <= 24:
        raise AnalysisError("parameter 'day_hours': give the hours daytime starts and ends, e.g. 8,18")
    return float(values[0]), float(values[1])


def decide(params: dict[str, Any], head_counts: Any = None, period: str | None = None) -> Situation:
    """The situation for an analysis's parameters.

    ``head_counts``: the times the shelters' occupancy was counted (ISO text or datetimes); with
    ``situation = auto`` and no ``at``, the latest of them is the moment. ``period`` (``night`` or
    ``day``, the population analysed) decides when there is no moment at all.
    """
    code = params.get("situation") or "auto"
    if code not in SITUATIONS:
        raise AnalysisError(f"parameter 'situation': {code!r} is not one of {', '.join(SITUATIONS)}")
    at = parse_moment(params.get("at"))
    months = _months(params.get("cold_months") or (11, 12, 1, 2, 3))
    start, end = _hours(tuple(params.get("day_hours") or (8.0, 18.0)))
    if code != "auto":
        return Situation(code, False, at, "按参数指定", "as chosen")
    source_zh, source_en = "指定时间", "the time given"
    if at is None and head_counts is not None:
        times = [t for t in (parse_moment(v, "occupancy_at") for v in _present(head_counts)) if t is not None]
        if times:
            at = max(times)
            source_zh, source_en = "最近的人数统计时间", "the latest head count"
    if at is None:
        if period == "day":
            return Situation("daytime", True, None, "未给时间，按日间人口", "no time given; the day population")
        return Situation("overnight", True, None, "未给时间，按夜间人口（常住人口在此过夜）",
                         "no time given; the night population, who sleep there")
    stamp = at.strftime("%Y-%m-%d %H:%M")
    hour = at.hour + at.minute / 60.0
    if at.month in months:
        return Situation("overnight", True, at, f"{source_zh} {stamp}（北京时间），{at.month} 月属寒冷季节",
                         f"{source_en}, {stamp} China time, is in the cold season (month {at.month})")
    if not start <= hour < end:
        return Situation("overnight", True, at, f"{source_zh} {stamp}（北京时间）不在日间 {start:g}–{end:g} 时",
                         f"{source_en}, {stamp} China time, is outside the day hours {start:g}-{end:g}")
    return Situation("daytime", True, at, f"{source_zh} {stamp}（北京时间）在日间 {start:g}–{end:g} 时",
                     f"{source_en}, {stamp} China time, is within the day hours {start:g}-{end:g}")


def _present(values: Any) -> list[Any]:
    import pandas as pd

    return [v for v in list(values) if v is not None and not (isinstance(v, float) and v != v) and v is not pd.NA
            and not (isinstance(v, str) and not v.strip())]


def applicable_capacity(shelters: "pd.DataFrame", situation: Situation,
                        lang: str = "en") -> "tuple[pd.Series, pd.Series]":
    """The places each shelter has in ``situation`` (float, ``NaN`` when unknown) and why unknown ('' if known;
    in ``lang``: ``zh``, ``en`` or ``both``).

    Overnight: ``capacity_night``; an indoor shelter without it has its day places indoors; never
    more than the day capacity (indoor places are part of it). Daytime: ``capacity_day``.
    Post-impact: ``capacity_post_impact``. Columns a frame lacks count as not recorded.
    """
    import numpy as np
    import pandas as pd

    def col(name: str) -> pd.Series:
        if name not in shelters.columns:
            return pd.Series(np.nan, index=shelters.index, dtype=float)
        return pd.to_numeric(shelters[name], errors="coerce").astype(float)

    day = col("capacity_day")
    if situation.code == "daytime":
        cap = day
    elif situation.code == "post_impact":
        cap = col("capacity_post_impact")
    else:
        night = col("capacity_night")
        indoor = shelters["indoor"].fillna(False).astype(bool) if "indoor" in shelters.columns else False
        cap = night.where(night.notna(), day.where(indoor))
        cap = cap.where(~(cap.notna() & day.notna() & (cap > day)), day)
    zh, en = UNKNOWN[situation.code]
    text = zh if lang == "zh" else en if lang == "en" else f"{zh} / {en}"
    why = pd.Series(np.where(cap.isna(), text, ""), index=shelters.index, dtype=object)
    return cap, why


def night_above_day(shelters: "pd.DataFrame") -> int:
    """How many shelters record more night places than day places (the day figure is then taken overnight)."""
    import pandas as pd

    if "capacity_night" not in shelters.columns or "capacity_day" not in shelters.columns:
        return 0
    night = pd.to_numeric(shelters["capacity_night"], errors="coerce")
    day = pd.to_numeric(shelters["capacity_day"], errors="coerce")
    return int((night > day).sum())
