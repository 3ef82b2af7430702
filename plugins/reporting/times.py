"""Times in reports: local time (Asia/Shanghai unless ``RALLYPOINT_TZ`` names another zone), said with its zone.

>>> from datetime import datetime, timezone
>>> t = datetime(2026, 7, 15, 6, 35, tzinfo=timezone.utc)
>>> when(t, "zh", zone="Asia/Shanghai"), when(t, "en", zone="Asia/Shanghai")
('2026年7月15日 14:35', '2026-07-15 14:35 (UTC+08:00)')
>>> stamp(t, "zh", zone="Asia/Shanghai")
'2026年7月15日 14:35（北京时间，UTC+08:00）'
>>> stamp(t, "en", zone="Asia/Tokyo")
'2026-07-15 15:35 (UTC+09:00, Asia/Tokyo)'
"""

from __future__ import annotations

from datetime import date, datetime, timezone

from rallypoint.analysis import AnalysisError
from rallypoint.localtime import zone_name

TZ_ENV = "RALLYPOINT_TZ"
#: Zones Chinese readers call Beijing time (北京时间).
BEIJING = ("Asia/Shanghai", "Asia/Chongqing", "Asia/Harbin", "Asia/Urumqi", "PRC")


def local_zone(name: str | None = None):
    """The time zone of reports: ``name``, else ``RALLYPOINT_TZ``, else Asia/Shanghai."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = name or zone_name()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise AnalysisError(f"{TZ_ENV} {name!r} is not a time zone (e.g. Asia/Shanghai)") from None


def now() -> datetime:
    """Now, in the reports' zone."""
    return datetime.now(timezone.utc).astimezone(local_zone())


def local(t: datetime | str | None, zone: str | None = None) -> datetime | None:
    """``t`` in the reports' zone; a naive time or text without an offset is taken as UTC (as the registry
    stamps its records)."""
    if t is None or t == "":
        return None
    if isinstance(t, str):
        t = datetime.fromisoformat(t.replace("Z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=timezone.utc)
    return t.astimezone(local_zone(zone))


def _offset(t: datetime) -> str:
    off = t.strftime("%z")
    return f"UTC{off[:3]}:{off[3:]}"


def when(t: datetime | str | None, lang: str, *, zone: str | None = None) -> str:
    """A time in the reports' zone: ``2026年7月1日 08:30`` or ``2026-07-01 08:30 (UTC+08:00)``."""
    t = local(t, zone)
    if t is None:
        return "—"
    if lang == "zh":
        return f"{t.year}年{t.month}月{t.day}日 {t:%H:%M}"
    return f"{t:%Y-%m-%d %H:%M} ({_offset(t)})"


def zone_words(t: datetime, lang: str, *, zone: str | None = None) -> str:
    """How the zone of ``t`` is said: 北京时间，UTC+08:00 / UTC+09:00, Asia/Tokyo."""
    name = zone or zone_name()
    t = local(t, name)
    if lang == "zh":
        return f"北京时间，{_offset(t)}" if name in BEIJING else f"{_offset(t)}，{name}"
    return _offset(t) if name in BEIJING else f"{_offset(t)}, {name}"


def stamp(t: datetime | str | None, lang: str, *, zone: str | None = None) -> str:
    """A time with its zone said in words, for a report's subtitle: ``2026年7月1日 08:30（北京时间，UTC+08:00）``."""
    t = local(t, zone)
    if t is None:
        return "—"
    if lang == "zh":
        return f"{when(t, lang, zone=zone)}（{zone_words(t, lang, zone=zone)}）"
    return f"{t:%Y-%m-%d %H:%M} ({zone_words(t, lang, zone=zone)})"


def day(d: date | str | None, lang: str) -> str:
    """A day: ``2026年7月1日`` / ``2026-07-01``."""
    if d is None or d == "":
        return "—"
    if isinstance(d, str):
        d = date.fromisoformat(d[:10])
    return f"{d.year}年{d.month}月{d.day}日" if lang == "zh" else d.isoformat()
