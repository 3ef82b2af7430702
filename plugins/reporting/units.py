"""Units of stock and needs as a report says them: Chinese measure words in zh (套, 件, 顶, 床 …), English in en.

A need of a minimum-needs profile may name its own Chinese unit (``unit_zh = "顶"`` for tents); otherwise the
depot_stock unit code is said as the layer definition says it.

>>> unit("set", "zh"), unit("piece", "zh"), unit("piece", "zh", own="床"), unit("L", "en"), unit("m3", "en")
('套', '件', '床', 'L', 'm³')
"""

from __future__ import annotations

#: depot_stock's unit codes (layers/definitions/depot_stock.toml), as said in a report
UNITS: dict[str, tuple[str, str]] = {
    "piece": ("件", "pieces"), "set": ("套", "sets"), "kg": ("千克", "kg"), "t": ("吨", "t"), "L": ("升", "L"),
    "l": ("升", "L"), "m3": ("立方米", "m³"), "m2": ("平方米", "m²"), "box": ("箱", "boxes"),
}


def unit(code: str | None, lang: str, *, own: str | None = None) -> str:
    """The unit ``code`` in ``lang``; ``own``: the Chinese unit a profile gives for its need."""
    code = str(code or "")
    if lang == "zh" and own:
        return own
    zh, en = UNITS.get(code, (code, code))
    return zh if lang == "zh" else en
