"""The bureau's clock: stored UTC times shown as local time (Asia/Shanghai unless ``RALLYPOINT_TZ`` names another).

China keeps one time, UTC+8, with no summer time: where no time-zone database is at hand (Python on Windows
without the ``tzdata`` package, as in QGIS) the fixed offset is the same clock, so nothing here needs one.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone, tzinfo

DEFAULT_ZONE = "Asia/Shanghai"
UTC8 = timezone(timedelta(hours=8), "UTC+8")


def zone_name() -> str:
    """The local zone's name: ``RALLYPOINT_TZ``, else Asia/Shanghai."""
    return os.environ.get("RALLYPOINT_TZ") or DEFAULT_ZONE


def local_zone() -> tzinfo:
    """The local zone; UTC+8 when the name is unknown or no zone database is installed."""
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(zone_name())
    except (ImportError, KeyError, ValueError):  # ZoneInfoNotFoundError is a KeyError
        return UTC8


def local_time(stamp: str | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """An ISO 8601 time (UTC when it names no offset, as the registry stores them) as local time in ``fmt``
    (``YYYY-MM-DD HH:MM:SS``); a text that is no time is given back as it is, nothing as ``""``."""
    if not stamp:
        return ""
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(local_zone()).strftime(fmt)
