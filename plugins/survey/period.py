"""The survey's period (``--within 365d``) and its reference time (``--as-of``).

Written here because no library parses this short form with calendar months and years: pandas' Timedelta
refuses months and years (their length varies) and ISO 8601 durations (``P1Y``) are not what a bureau types.
Months and years are calendar ones (pandas' DateOffset), so ``1y`` before 2028-03-01 is 2027-03-01.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from rallypoint.analysis import AnalysisError

_PERIOD = re.compile(r"^\s*(\d+)\s*(d|w|m|y|天|周|个月|月|年)\s*$", re.IGNORECASE)
_UNITS = {"d": "days", "天": "days", "w": "weeks", "周": "weeks", "m": "months", "月": "months",
          "个月": "months", "y": "years", "年": "years"}


def parse_period(text: str) -> tuple[int, str]:
    """``"365d"`` → ``(365, "days")``; also ``52w``, ``6m`` (calendar months), ``1y``, ``365天``.

    >>> parse_period("365d"), parse_period(" 2 Y "), parse_period("6个月")
    ((365, 'days'), (2, 'years'), (6, 'months'))
    """
    m = _PERIOD.match(str(text))
    if not m:
        raise AnalysisError(f"parameter 'within': {text!r} is not a period; give a number and a unit: "
                            "d (days), w (weeks), m (months) or y (years), e.g. 365d, 26w, 6m, 1y")
    n = int(m.group(1))
    if n <= 0:
        raise AnalysisError(f"parameter 'within': {text!r} is not a period longer than zero")
    return n, _UNITS[m.group(2).lower()]


_WORDS = {"days": ("天", "day"), "weeks": ("周", "week"), "months": ("个月", "month"), "years": ("年", "year")}


def period_words(period: tuple[int, str], lang: str) -> str:
    """A period as a report says it: ``365 天`` / ``365 days``, ``6 个月`` / ``6 months``.

    >>> period_words((365, "days"), "zh"), period_words((1, "years"), "en"), period_words((6, "months"), "en")
    ('365 天', '1 year', '6 months')
    """
    n, unit = period
    zh, en = _WORDS[unit]
    return f"{n} {zh}" if lang == "zh" else f"{n} {en}" + ("" if n == 1 else "s")


def parse_as_of(text: str | None) -> datetime:
    """The time the survey looks back from: an ISO 8601 date or time (UTC unless it says), or now."""
    if text is None or not str(text).strip():
        return datetime.now(timezone.utc)
    try:
        t = datetime.fromisoformat(str(text).strip())
    except ValueError:
        raise AnalysisError(f"parameter 'as_of': {text!r} is not a date or time (e.g. 2026-11-01 or "
                            "2026-11-01T08:00:00Z)") from None
    return t.replace(tzinfo=timezone.utc) if t.tzinfo is None else t.astimezone(timezone.utc)


def cutoff(as_of: datetime, period: tuple[int, str]):
    """The earliest inspection or update that still counts as within the period (a UTC pandas Timestamp)."""
    import pandas as pd

    n, unit = period
    return pd.Timestamp(as_of) - pd.DateOffset(**{unit: n})
