"""Numbers in reports: people as whole numbers, percentages with the decimals a report promises (rounded half
up, with :class:`decimal.Decimal`, never by float luck), missing values as a dash.

>>> people_text(86087.0), people_text(2.5), people_text(None)
('86,087', '3', '—')
>>> percent(0.92654, 2), percent(1 / 8, 2), percent(None)
('92.65 %', '12.50 %', '—')
>>> percent_of(3441, 3714, 2), percent_of(0, 0, 2)
('92.65 %', '—')
>>> number(1234.56, 1), number(float("nan"))
('1,234.6', '—')
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

DASH = "—"


def missing(v) -> bool:
    if v is None:
        return True
    try:
        return not math.isfinite(float(v))
    except (TypeError, ValueError):
        return True  # pandas' NA and the like


def half_up(v: float | int, decimals: int = 0) -> Decimal:
    """``v`` rounded half up to ``decimals`` (2.5 → 3, 0.125 → 0.13 at two decimals)."""
    q = Decimal(1).scaleb(-decimals)
    return Decimal(repr(float(v))).quantize(q, rounding=ROUND_HALF_UP)


def people(v) -> int:
    """People as a whole number (half up); a missing value is 0."""
    return 0 if missing(v) else int(half_up(v))


def people_text(v) -> str:
    """People as a whole number with thousands separators, or a dash."""
    return DASH if missing(v) else f"{people(v):,}"


def number(v, digits: int = 0) -> str:
    """A figure with thousands separators and ``digits`` decimals (half up), or a dash."""
    if missing(v):
        return DASH
    return f"{half_up(v, digits):,.{digits}f}"


def percent(share, decimals: int = 1) -> str:
    """A share (0–1) in per cent with ``decimals`` decimals, rounded half up: ``92.65 %``; a dash when missing."""
    if missing(share):
        return DASH
    return f"{half_up(Decimal(repr(float(share))) * 100, decimals):.{decimals}f} %"


def percent_of(part, whole, decimals: int = 1) -> str:
    """``part / whole`` in per cent (exact: 3,441 of 3,714 at two decimals is 92.65 %); a dash when ``whole`` is 0."""
    if missing(part) or missing(whole) or float(whole) == 0:
        return DASH
    value = (Decimal(repr(float(part))) * 100 / Decimal(repr(float(whole))))
    return f"{value.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP):.{decimals}f} %"


def percent_value(value, decimals: int = 1) -> str:
    """A value already in per cent (92.65) with ``decimals`` decimals: ``92.65 %``."""
    if missing(value):
        return DASH
    return f"{half_up(value, decimals):.{decimals}f} %"
