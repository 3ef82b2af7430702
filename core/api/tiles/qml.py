"""What the web map reads of the layers' QGIS styles (QML): the renderer, each class's symbol, the labels.

The web map should look like the registry opened in QGIS, so the colours, sizes, marker shapes and
classes come from the same ``layers/styles/*.qml`` that QGIS applies: for each layer the renderer
(single symbol, categorized on a field, graduated on a number) and, per class, every marker layer of
its symbol (shape, fill, outline, size, offset: a shelter's house is a square under a triangle), or a
line's or polygon's colour and width; and the layer's labels (field, size, colour, the scale from
which they show). :mod:`.symbols` draws the markers as the icons of the map's sprite, :mod:`.mapstyle`
writes the MapLibre style.

QGIS's own QML reading needs QGIS; no library reads QML otherwise, so the few elements used
here are read with ElementTree.

>>> from rallypoint.schema import builtin_layers
>>> s = layer_symbology(builtin_layers()["teams"])
>>> s.kind, s.attr, [c.value for c in s.classes]
('categorized', 'status', ['ready', 'deployed', 'unavailable'])
>>> [m.shape for m in layer_symbology(builtin_layers()["shelters"]).classes[0].symbol.markers]
['square', 'triangle']
"""

from __future__ import annotations

import logging
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import lru_cache

from ...schema import LayerDef, style_text

log = logging.getLogger("rallypoint.web")

MM_TO_PX = 96 / 25.4  # QGIS sizes symbols in millimetres; the browser's CSS pixel is 1/96 inch
PT_TO_PX = 96 / 72  # and label text in points
FALLBACK = {"Point": "#555555", "LineString": "#888888", "Polygon": "#999999"}


@dataclass(frozen=True)
class Marker:
    """One marker layer of a QGIS point symbol, in CSS pixels (y down, as on screen and in QML offsets).

    ``kind`` is ``simple`` (SimpleMarker: ``shape`` circle, square, diamond, triangle, …), ``ellipse``
    (EllipseMarker: ``shape`` circle, rectangle, triangle, diamond over ``width`` × ``height``) or ``font``
    (FontMarker: ``shape`` is the character, ``height`` its font size).
    """

    kind: str
    shape: str
    fill: str | None
    stroke: str | None
    stroke_width: float
    width: float
    height: float
    offset: tuple[float, float] = (0.0, 0.0)
    angle: float = 0.0


@dataclass(frozen=True)
class Symbol:
    """What the map draws of a QGIS symbol: the bottom layer's fill and outline colours (CSS) and sizes in
    pixels (a legend swatch, a circle, a line, a polygon), and every marker layer of a point symbol."""

    fill: str | None
    stroke: str | None
    size: float  # marker diameter or line width
    stroke_width: float
    markers: tuple[Marker, ...] = ()


@dataclass(frozen=True)
class SymbolClass:
    """One class of a renderer: the value (categorized), the range (graduated) or None (single)."""

    value: str | None
    lower: float | None
    upper: float | None
    label: str  # the QML's label (Chinese in the built-in styles)
    symbol: Symbol


@dataclass(frozen=True)
class Symbology:
    kind: str  # "single", "categorized" or "graduated"
    attr: str | None
    classes: tuple[SymbolClass, ...]


@dataclass(frozen=True)
class Labels:
    """A layer's simple labelling: the field, the text's size (px), colour and halo, and the largest scale
    denominator at which labels show (None: at every scale)."""

    field: str
    size: float
    color: str
    halo: str | None
    halo_width: float
    max_scale: float | None


def colour(text: str | None) -> str | None:
    """A QGIS colour ``r,g,b,a`` as CSS; None when fully transparent or missing."""
    if not text:
        return None
    parts = [int(p) for p in text.split(",")[:4]]
    r, g, b = parts[:3]
    a = parts[3] if len(parts) > 3 else 255
    if a == 0:
        return None
    return f"rgb({r}, {g}, {b})" if a == 255 else f"rgba({r}, {g}, {b}, {a / 255:.3g})"


def _props(layer: ET.Element) -> dict[str, str]:
    """A symbol layer's properties: the 3.x ``<Option>`` map, else the older ``<prop k= v=>``."""
    out = {o.get("name"): o.get("value") for o in layer.findall("./Option/Option") if o.get("name")}
    for p in layer.findall("./prop"):
        out.setdefault(p.get("k"), p.get("v"))
    return out


def _mm(p: dict[str, str], key: str, default: float) -> float:
    try:
        return float(p.get(key) or default) * MM_TO_PX
    except ValueError:
        return default * MM_TO_PX


def _offset(p: dict[str, str]) -> tuple[float, float]:
    try:
        x, y = (float(v) for v in (p.get("offset") or "0,0").split(",")[:2])
    except ValueError:
        return 0.0, 0.0
    return x * MM_TO_PX, y * MM_TO_PX


def _marker(layer: ET.Element) -> Marker | None:
    p = _props(layer)
    cls = layer.get("class")
    fill, stroke = colour(p.get("color")), colour(p.get("outline_color"))
    if p.get("outline_style") == "no":
        stroke = None
    width = _mm(p, "outline_width", 0.26) if stroke else 0.0
    angle = float(p.get("angle") or 0)
    if cls == "SimpleMarker":
        size = _mm(p, "size", 2)
        return Marker("simple", p.get("name") or "circle", fill, stroke, width, size, size, _offset(p), angle)
    if cls == "EllipseMarker":
        w, h = _mm(p, "symbol_width", 4), _mm(p, "symbol_height", 2)
        return Marker("ellipse", p.get("symbol_name") or "circle", fill, stroke, width, w, h, _offset(p), angle)
    if cls == "FontMarker" and p.get("chr"):
        size = _mm(p, "size", 2)
        return Marker("font", p["chr"], fill, stroke, width, size, size, _offset(p), angle)
    return None  # an SVG or raster marker: not drawn from the QML alone


def _symbol(sym: ET.Element) -> Symbol:
    layers = [lay for lay in sym.findall("./layer") if lay.get("enabled", "1") == "1"]
    if not layers:
        return Symbol(None, None, 0.0, 0.0)
    p = _props(layers[0])  # the bottom layer carries the class's colour in the built-in styles
    if sym.get("type") == "line":
        return Symbol(None, colour(p.get("line_color")), _mm(p, "line_width", 0.26), 0.0)
    fill, stroke = colour(p.get("color")), colour(p.get("outline_color"))
    if p.get("outline_style") == "no":
        stroke = None
    markers = ()
    if sym.get("type") == "marker":
        markers = tuple(m for m in (_marker(lay) for lay in layers) if m is not None)
    return Symbol(fill, stroke, _mm(p, "size", 2), _mm(p, "outline_width", 0.26) if stroke else 0.0, markers)


def qml_symbology(text: str) -> Symbology:
    """The renderer of a QML document: its kind, field and classes, each with its symbol."""
    root = ET.fromstring(text)
    renderer = root.find("./renderer-v2")
    if renderer is None:
        raise ValueError("the QML has no renderer-v2 element")
    symbols = {s.get("name"): _symbol(s) for s in renderer.findall("./symbols/symbol")}
    rtype = renderer.get("type")
    if rtype == "categorizedSymbol":
        classes = tuple(SymbolClass(c.get("value"), None, None, c.get("label") or c.get("value") or "",
                                    symbols[c.get("symbol")])
                        for c in renderer.findall("./categories/category") if c.get("render", "true") == "true")
        return Symbology("categorized", renderer.get("attr"), classes)
    if rtype == "graduatedSymbol":
        classes = tuple(SymbolClass(None, float(r.get("lower")), float(r.get("upper")), r.get("label") or "",
                                    symbols[r.get("symbol")])
                        for r in renderer.findall("./ranges/range") if r.get("render", "true") == "true")
        return Symbology("graduated", renderer.get("attr"), classes)
    if rtype == "singleSymbol":
        return Symbology("single", None, (SymbolClass(None, None, None, "", symbols["0"]),))
    raise ValueError(f"QML renderer type {rtype!r} is not drawn on the web map")


def qml_labels(text: str) -> Labels | None:
    """The simple labelling of a QML document, or None when it has none (or has them switched off)."""
    root = ET.fromstring(text)
    if root.get("labelsEnabled", "0") != "1":
        return None
    settings = root.find("./labeling[@type='simple']/settings")
    if settings is None:
        return None
    style = settings.find("./text-style")
    if style is None or not style.get("fieldName") or style.get("isExpression", "0") == "1":
        return None
    size = float(style.get("fontSize") or 10)
    size *= PT_TO_PX if style.get("fontSizeUnit", "Point") == "Point" else 1.0
    buffer = style.find("./text-buffer")
    halo, halo_width = None, 0.0
    if buffer is not None and buffer.get("bufferDraw") == "1":
        halo = colour(buffer.get("bufferColor"))
        halo_width = float(buffer.get("bufferSize") or 1) * (MM_TO_PX if buffer.get("bufferSizeUnits") == "MM" else 1)
    rendering = settings.find("./rendering")
    max_scale = None
    if rendering is not None and rendering.get("scaleVisibility") == "1":
        max_scale = float(rendering.get("scaleMax") or 0) or None
    return Labels(style.get("fieldName"), round(size, 1), colour(style.get("textColor")) or "#202020", halo,
                  round(halo_width, 2), max_scale)


def zoom_of_scale(denominator: float, latitude: float) -> float:
    """The WebMercatorQuad zoom at which the map shows ``1:denominator`` at ``latitude`` (96 dpi, as QGIS)."""
    metres_per_pixel = denominator * 0.0254 / 96
    return math.log2(2 * math.pi * 6378137 * math.cos(math.radians(latitude)) / 256 / metres_per_pixel)


def geometry_kind(layer: LayerDef) -> str:
    g = layer.geometry.removesuffix("Z").removeprefix("Multi")
    return g if g in FALLBACK else "Point"


@lru_cache(maxsize=64)
def _style_symbology(filename: str) -> Symbology | None:
    try:
        return qml_symbology(style_text(filename))
    except (ValueError, KeyError, TypeError, ET.ParseError, OSError) as exc:  # one odd style must not take the map down
        log.warning("style %s is drawn in grey on the web map: %s", filename, exc)
        return None


@lru_cache(maxsize=64)
def _style_labels(filename: str) -> Labels | None:
    try:
        return qml_labels(style_text(filename))
    except (ValueError, TypeError, ET.ParseError, OSError):
        return None


def layer_labels(layer: LayerDef) -> Labels | None:
    """The layer's QML labels (None without a style, without labels, or with an unreadable style)."""
    found = _style_labels(layer.style) if layer.style else None
    return found if found is not None and layer.has_field(found.field) else None


def layer_symbology(layer: LayerDef) -> Symbology:
    """The layer's QML symbology, or one grey symbol for a layer without a style (or with one not drawable)."""
    found = _style_symbology(layer.style) if layer.style else None
    if found is not None:
        return found
    kind = geometry_kind(layer)
    size = 8.0 if kind == "Point" else 1.5
    markers = (Marker("simple", "circle", FALLBACK[kind], "#ffffff", 1.0, size, size),) if kind == "Point" else ()
    return Symbology("single", None, (SymbolClass(None, None, None, "", Symbol(FALLBACK[kind], "#ffffff", size, 1.0,
                                                                                markers)),))
