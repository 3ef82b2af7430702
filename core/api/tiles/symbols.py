"""The map's icons: each point layer's QGIS marker symbols (:mod:`.qml`) drawn as SVG, one icon per class.

A shelter is QGIS's house (a square under a triangle, in the colour of its status), a team a triangle, a
depot a diamond, a helipad a circle with an H: :func:`svg` draws every marker layer of the class's symbol
(shape, fill, outline, offset, rotation) around the point, so the point is the icon's centre as in
QGIS. The SVGs are rendered into the map's sprite at install (:mod:`.mapassets`); the style
(:mod:`.mapstyle`) and the legend name the icons with :func:`icon_name`.

A point layer whose classes are each one plain circle (hazard points, by danger grade) is drawn by
MapLibre as circles, as before (:func:`drawn_as_icons` says which layers take icons); its icons are in
the sprite all the same, for the legend and the counts of the low zooms.

>>> from rallypoint.schema import builtin_layers
>>> [name for name, _ in layer_icons(builtin_layers()["shelters"])]
['shelters.open', 'shelters.standby', 'shelters.full', 'shelters.closed', 'shelters']
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from typing import Callable

from ...schema import LayerDef
from .qml import Marker, Symbol, SymbolClass, geometry_kind, layer_symbology

#: A character of a font marker as an SVG path: (path data in em units, y down, centred on the glyph's box).
Outline = Callable[[str], str | None]

NEUTRAL = "rgb(73, 80, 87)"  # the counts' icons: the layer's shape, whatever the class
_SAFE = re.compile(r"^[A-Za-z0-9_-]+$")
_UNIT: dict[str, list[tuple[float, float]]] = {
    "diamond": [(0, -1), (1, 0), (0, 1), (-1, 0)],
    "triangle": [(-1, 1), (1, 1), (0, -1)],
    "equilateral_triangle": [(-math.sqrt(3) / 2, 0.5), (math.sqrt(3) / 2, 0.5), (0, -1)],
    "arrowhead": [(-1, -1), (0, 0), (-1, 1)],
    "cross_fill": [(-1, -0.2), (-0.2, -0.2), (-0.2, -1), (0.2, -1), (0.2, -0.2), (1, -0.2), (1, 0.2), (0.2, 0.2),
                   (0.2, 1), (-0.2, 1), (-0.2, 0.2), (-1, 0.2)],
}


def _regular(n: int, inner: float | None = None) -> list[tuple[float, float]]:
    """A regular polygon (or a star with ``inner`` radius) in the unit circle, a vertex at the top."""
    pts = []
    steps = n * 2 if inner else n
    for i in range(steps):
        a = -math.pi / 2 + i * 2 * math.pi / steps
        r = inner if inner and i % 2 else 1.0
        pts.append((r * math.cos(a), r * math.sin(a)))
    return pts


_UNIT.update({"pentagon": _regular(5), "hexagon": _regular(6), "octagon": _regular(8), "star": _regular(5, 0.382)})


def icon_name(layer: LayerDef, index: int, c: SymbolClass) -> str:
    """The sprite's name of class ``index`` of the layer: ``layer.value`` for a category with a plain code,
    ``layer.index`` otherwise (graduated classes, odd codes), ``layer`` for a single symbol."""
    if c.value is None and c.lower is None:
        return layer.name
    if c.value is not None and _SAFE.match(c.value):
        return f"{layer.name}.{c.value}"
    return f"{layer.name}.{index}"


def layer_icons(layer: LayerDef) -> list[tuple[str, Symbol]]:
    """The icons of a point layer: one per class in the renderer's order, and for a layer of several classes
    one more named after the layer, its first class's shape in a neutral grey (the icon of its counts).
    None for a layer of other geometries, or whose symbols have no marker drawn here."""
    if not layer.has_geometry or geometry_kind(layer) != "Point":
        return []
    s = layer_symbology(layer)
    if not all(c.symbol.markers for c in s.classes):
        return []
    out = [(icon_name(layer, i, c), c.symbol) for i, c in enumerate(s.classes)]
    if len(s.classes) > 1:
        first = s.classes[0].symbol
        grey = tuple(replace(m, fill=NEUTRAL if m.kind != "font" else m.fill) for m in first.markers)
        out.append((layer.name, replace(first, fill=NEUTRAL, markers=grey)))
    return out


def drawn_as_icons(layer: LayerDef) -> bool:
    """A point layer whose QML symbols are more than one plain circle each (a house, a triangle, an H …), by
    category or single. A graduated layer (the population grid: a million cells in a city) stays MapLibre's
    circles in its classes' colours: cheaper to draw, and QGIS 3.22's style converter drops a layer whose icon
    is chosen by a number's range."""
    if not layer.has_geometry or geometry_kind(layer) != "Point":
        return False
    s = layer_symbology(layer)
    if s.kind == "graduated":
        return False
    classes = s.classes
    return any(not (len(c.symbol.markers) == 1 and c.symbol.markers[0].kind == "simple"
                    and c.symbol.markers[0].shape == "circle") for c in classes) and \
        all(c.symbol.markers for c in classes)


def _half(m: Marker) -> tuple[float, float]:
    """Half the marker's extent (x, y) around its own centre, outline included."""
    w, h = m.width / 2, m.height / 2
    if m.angle % 360:
        r = math.hypot(w, h)
        w = h = r
    return w + m.stroke_width / 2, h + m.stroke_width / 2


def extent(symbol: Symbol) -> tuple[int, int]:
    """The icon's width and height in CSS pixels: the markers around the centre, symmetric, plus a pixel."""
    hx = max((abs(m.offset[0]) + _half(m)[0] for m in symbol.markers), default=4.0)
    hy = max((abs(m.offset[1]) + _half(m)[1] for m in symbol.markers), default=4.0)
    return 2 * math.ceil(hx + 1), 2 * math.ceil(hy + 1)


def _paint(m: Marker) -> str:
    fill = m.fill or "none"
    out = f'fill="{fill}"'
    if m.stroke and m.stroke_width > 0:
        out += f' stroke="{m.stroke}" stroke-width="{m.stroke_width:.3g}" stroke-linejoin="miter"'
    return out


def _shape(m: Marker, outline: Outline | None) -> str:
    w, h = m.width / 2, m.height / 2
    paint = _paint(m)
    shape = m.shape
    if m.kind == "font":
        path = outline(m.shape) if outline else None
        if path is None:
            return ""
        return f'<path transform="scale({m.height:.4g})" d="{path}" fill="{m.fill or "#000"}"/>'
    if shape in ("circle", "ellipse"):
        return f'<ellipse cx="0" cy="0" rx="{w:.4g}" ry="{h:.4g}" {paint}/>'
    if shape in ("square", "rectangle"):
        return f'<rect x="{-w:.4g}" y="{-h:.4g}" width="{2 * w:.4g}" height="{2 * h:.4g}" {paint}/>'
    unit = _UNIT.get(shape)
    if unit is None:  # a shape not drawn here: a circle, as MapLibre drew every marker before
        return f'<ellipse cx="0" cy="0" rx="{w:.4g}" ry="{h:.4g}" {paint}/>'
    points = " ".join(f"{x * w:.4g},{y * h:.4g}" for x, y in unit)
    return f'<polygon points="{points}" {paint}/>'


def svg(symbol: Symbol, outline: Outline | None = None) -> str:
    """The symbol as an SVG document, its point at the centre (sizes in CSS pixels)."""
    width, height = extent(symbol)
    body = []
    for m in symbol.markers:
        shape = _shape(m, outline)
        if not shape:
            continue
        move = f"translate({width / 2 + m.offset[0]:.4g} {height / 2 + m.offset[1]:.4g})"
        if m.angle % 360:
            move += f" rotate({m.angle:.4g})"
        body.append(f'<g transform="{move}">{shape}</g>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}">{"".join(body)}</svg>')
