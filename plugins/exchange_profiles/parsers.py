"""Text parsers the import profiles name (``parse = "nanao_capacity"``), provided through the value-parsers hook.

The capacity text parser is the capacity plugin's own
(:func:`rallypoint_plugins.capacity.capacity_text.parse_capacity_text`), reused here
rather than copied, and so is its reading of Japanese era dates
(:func:`rallypoint_plugins.capacity.nanao.snapshot_time`).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from rallypoint_plugins.capacity.capacity_text import parse_capacity_text
from rallypoint_plugins.capacity.nanao import snapshot_time

_PER_AREA = re.compile(r"面積の\s*1\s*/\s*(\d+(?:\.\d+)?)")


def nanao_capacity(text: Any) -> dict[str, Any] | None:
    """Planned capacity from Nanao's free text, and the area it was counted from.

    ``面積の1/2`` says the figures are the area divided by 2, one person per 2 m²: the
    area is then the total times 2 (``area_m2``). Other remarks (``座席数``, seats) give no area.

    >>> r = nanao_capacity("屋内480人／屋外3,350人(面積の1/2)")
    >>> r["indoor"], r["outdoor"], r["total"], r["m2_per_person"], r["area_m2"]
    (480, 3350, 3830, 2.0, 7660.0)
    >>> nanao_capacity("屋内990人／屋外0人(座席数)")["area_m2"] is None
    True
    """
    parsed = parse_capacity_text(text)
    if parsed is None:
        return None
    note = unicodedata.normalize("NFKC", parsed.note or "")
    m = _PER_AREA.search(note)
    per = float(m.group(1)) if m else None
    total = parsed.total
    return {"indoor": parsed.indoor, "outdoor": parsed.outdoor, "unspecified": parsed.unspecified, "total": total,
            "night": parsed.indoor if parsed.indoor is not None else parsed.unspecified, "note": parsed.note,
            "m2_per_person": per, "area_m2": total * per if (per and total is not None) else None}


def wareki_datetime(text: Any) -> str | None:
    """A Japanese era date-time (``令和6年1月9日午後6時``, also inside ``人数_…時点``) in ISO 8601, Japan time.

    Noon is written 正午 in Nanao's snapshots from May 2024 on; it is read as 午後0時 (12:00).

    >>> wareki_datetime("人数_令和6年1月9日午後6時時点")
    '2024-01-09T18:00:00+09:00'
    >>> wareki_datetime("令和6年5月29日正午"), wareki_datetime("令和6年7月25日午後1時30分")
    ('2024-05-29T12:00:00+09:00', '2024-07-25T13:30:00+09:00')
    """
    if text is None:
        return None
    when = snapshot_time(unicodedata.normalize("NFKC", str(text)).replace("正午", "午後0時"))
    if when is None:
        raise ValueError(f"{text!r} holds no date like 令和6年1月9日午後6時")
    return when.isoformat() + "+09:00"
