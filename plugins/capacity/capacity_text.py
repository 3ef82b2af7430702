"""Planned capacity written as free text, as Japanese shelter lists give it: ``屋内480人／屋外3,350人(面積の1/2)``.

Full-width digits, commas and brackets are folded to ASCII first (Unicode NFKC), so
``屋内１，０７０人`` reads like ``屋内1,070人``. Indoor (屋内) and outdoor (屋外) figures are
read wherever they stand; a lone figure with no 屋内/屋外 (``収容人数500人``) is kept as
``unspecified``; the bracketed remark (``面積の1/2``: half the area counted, ``座席数``:
seats) as ``note``.

>>> parse_capacity_text("屋内480人／屋外3,350人(面積の1/2)")
CapacityText(indoor=480, outdoor=3350, unspecified=None, note='面積の1/2')
>>> parse_capacity_text("屋内１，０７０人／屋外０人（座席数）")
CapacityText(indoor=1070, outdoor=0, unspecified=None, note='座席数')
>>> parse_capacity_text("屋内2,736人屋外11,700人（面積の1/2）").total
14436
>>> parse_capacity_text("500人").unspecified, parse_capacity_text("") is None
(500, True)
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

_NUMBER = r"(\d[\d,]*)"
_INDOOR = re.compile(r"屋内\s*[:：]?\s*" + _NUMBER + r"\s*人?")
_OUTDOOR = re.compile(r"屋外\s*[:：]?\s*" + _NUMBER + r"\s*人?")
_ANY = re.compile(_NUMBER + r"\s*人")
_NOTE = re.compile(r"\(([^()]*)\)")


@dataclass(frozen=True)
class CapacityText:
    """Capacities read from one text; ``None`` where the text gives none."""

    indoor: int | None
    outdoor: int | None
    unspecified: int | None = None
    note: str | None = None

    @property
    def total(self) -> int | None:
        parts = [v for v in (self.indoor, self.outdoor, self.unspecified) if v is not None]
        return sum(parts) if parts else None


def _int(text: str) -> int:
    return int(text.replace(",", ""))


def parse_capacity_text(text: object) -> CapacityText | None:
    """Read indoor and outdoor capacity from free text; ``None`` for empty text or text with no figure."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return None
    s = unicodedata.normalize("NFKC", str(text)).strip()
    if not s:
        return None
    indoor = _INDOOR.search(s)
    outdoor = _OUTDOOR.search(s)
    note = _NOTE.search(s)
    unspecified = None
    if not indoor and not outdoor:
        rest = _ANY.search(s) or re.fullmatch(r"\s*" + _NUMBER + r"\s*", s)
        if not rest:
            return None
        unspecified = _int(rest.group(1))
    return CapacityText(_int(indoor.group(1)) if indoor else None, _int(outdoor.group(1)) if outdoor else None,
                        unspecified, note.group(1).strip() if note else None)
