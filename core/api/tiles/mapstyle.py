"""The map page's MapLibre style and legend, made from the layers' default QGIS styles (QML).

The web map should look like the registry opened in QGIS, so the colours, sizes and classes
come from the same ``layers/styles/*.qml`` that QGIS applies: for each layer the renderer
(single symbol, categorized on a field, graduated on a number) and, per class, the first
(bottom) symbol layer's fill, outline and size. Only what MapLibre draws without fetching
anything is used (circles, lines, fills: no sprites or glyphs, so the page works offline);
marker shapes become circles.

QGIS's own QML reading needs QGIS; no library reads QML otherwise, so the few elements used
here are read with ElementTree.

>>> from rallypoint.schema import builtin_layers
>>> s = layer_symbology(builtin_layers()["teams"])
>>> s.kind, s.attr, [c.value for c in s.classes]
('categorized', 'status', ['ready', 'deployed', 'unavailable'])
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ...schema import LayerDef, style_text

log = logging.getLogger("rallypoint.web")

MM_TO_PX = 96 / 25.4  # QGIS sizes symbols in millimetres; the browser's CSS pixel is 1/96 inch
SOURCE = "rallypoint"
#: Base (reference) layers shown when the page opens; the others start switched off.
BASE_VISIBLE = ("admin_areas", "roads")
_FALLBACK = {"Point": "#555555", "LineString": "#888888", "Polygon": "#999999"}


@dataclass(frozen=True)
class Symbol:
    """What MapLibre can draw of a QGIS symbol: fill and outline colours (CSS) and sizes in pixels."""

    fill: str | None
    stroke: str | None
    size: float  # marker diameter or line width
    stroke_width: float


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


def _colour(text: str | None) -> str | None:
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


def _symbol(sym: ET.Element) -> Symbol:
    layers = sym.findall("./layer")
    if not layers:
        return Symbol(None, None, 0.0, 0.0)
    p = _props(layers[0])  # the bottom layer carries the class's colour in the built-in styles
    mm = lambda key, default: float(p.get(key) or default) * MM_TO_PX  # noqa: E731
    if sym.get("type") == "line":
        return Symbol(None, _colour(p.get("line_color")), mm("line_width", 0.26), 0.0)
    fill, stroke = _colour(p.get("color")), _colour(p.get("outline_color"))
    if p.get("outline_style") == "no":
        stroke = None
    return Symbol(fill, stroke, mm("size", 2), mm("outline_width", 0.26) if stroke else 0.0)


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


def _geometry_kind(layer: LayerDef) -> str:
    g = layer.geometry.removesuffix("Z").removeprefix("Multi")
    return g if g in _FALLBACK else "Point"


@lru_cache(maxsize=64)
def _style_symbology(filename: str) -> Symbology | None:
    try:
        return qml_symbology(style_text(filename))
    except (ValueError, KeyError, TypeError, ET.ParseError, OSError) as exc:  # one odd style must not take the map down
        log.warning("style %s is drawn in grey on the web map: %s", filename, exc)
        return None


def layer_symbology(layer: LayerDef) -> Symbology:
    """The layer's QML symbology, or one grey symbol for a layer without a style (or with one not drawable)."""
    found = _style_symbology(layer.style) if layer.style else None
    if found is not None:
        return found
    kind = _geometry_kind(layer)
    size = 8.0 if kind == "Point" else 1.5
    return Symbology("single", None, (SymbolClass(None, None, None, "", Symbol(_FALLBACK[kind], "#ffffff", size,
                                                                               1.0)),))


# -- MapLibre ------------------------------------------------------------------------------------

def _paint_value(s: Symbology, pick, default: Any) -> Any:
    """A MapLibre expression choosing ``pick(symbol)`` by class, or the one value of a single symbol."""
    values = [pick(c.symbol) for c in s.classes]
    if s.kind == "single" or len(set(map(repr, values))) == 1:
        return values[0] if values and values[0] is not None else default
    if s.kind == "categorized":
        # a plain ["get", attr] (the categories are codes of text fields) and each label as a one-item list
        # (both valid MapLibre): the forms QGIS 3.22's style converter reads for line layers
        expr: list[Any] = ["match", ["get", s.attr]]
        fallback = default
        for c, v in zip(s.classes, values):
            if c.value in (None, ""):  # QGIS's empty category: every other value
                fallback = v if v is not None else default
            else:
                expr += [[c.value], v if v is not None else default]
        return expr + [fallback] if len(expr) > 2 else fallback
    # graduated: QGIS classes are lower < x <= upper (the first includes its lower bound)
    expr = ["case"]
    number = ["to-number", ["get", s.attr], 0]
    for c, v in zip(s.classes[:-1], values[:-1]):
        expr += [["<=", number, c.upper], v if v is not None else default]
    return expr + [values[-1] if values[-1] is not None else default]


def style_layers(layer: LayerDef, visible: bool) -> list[dict[str, Any]]:
    """The MapLibre layers drawing one registry layer (ids ``name`` and, for polygons, ``name:outline``)."""
    s = layer_symbology(layer)
    kind = _geometry_kind(layer)
    base = {"source": SOURCE, "source-layer": layer.name, "layout": {"visibility": "visible" if visible else "none"},
            "metadata": {"rallypoint:layer": layer.name}}
    if kind == "Point":
        paint = {"circle-color": _paint_value(s, lambda y: y.fill or y.stroke, _FALLBACK[kind]),
                 "circle-radius": _paint_value(s, lambda y: round(y.size / 2, 2), 4),
                 "circle-stroke-color": _paint_value(s, lambda y: y.stroke or "rgba(0, 0, 0, 0)", "#ffffff"),
                 "circle-stroke-width": _paint_value(s, lambda y: round(y.stroke_width, 2), 0)}
        return [{"id": layer.name, "type": "circle", **base, "paint": paint}]
    if kind == "LineString":
        paint = {"line-color": _paint_value(s, lambda y: y.stroke, _FALLBACK[kind]),
                 "line-width": _paint_value(s, lambda y: round(max(y.size, 0.5), 2), 1)}
        return [{"id": layer.name, "type": "line", **base, "layout": {**base["layout"], "line-cap": "round",
                                                                      "line-join": "round"}, "paint": paint}]
    # a polygon's fill (transparent ones still answer clicks) and its outline
    fill = {"fill-color": _paint_value(s, lambda y: y.fill or "rgba(0, 0, 0, 0)", "rgba(0, 0, 0, 0)")}
    line = {"line-color": _paint_value(s, lambda y: y.stroke or "rgba(0, 0, 0, 0)", _FALLBACK[kind]),
            "line-width": _paint_value(s, lambda y: round(max(y.stroke_width, 0.5), 2), 1)}
    return [{"id": layer.name, "type": "fill", **base, "paint": fill},
            {"id": layer.name + ":outline", "type": "line", **base, "paint": line}]


def _class_label(layer: LayerDef, s: Symbology, c: SymbolClass, lang: str) -> str:
    """A legend entry's label: the field's allowed-value label in ``lang``, else the QML's."""
    if s.kind == "categorized" and s.attr and layer.has_field(s.attr) and c.value:
        v = layer.field(s.attr).value(c.value)
        if v is not None:
            return v.label(lang)
    if s.kind == "categorized" and not c.value:
        return "其他" if lang == "zh" else "other"
    if s.kind == "graduated" and lang != "zh":
        lo = f"{c.lower:,.0f}" if c is not s.classes[0] else "0"
        return f"{lo} – {c.upper:,.0f}" if c is not s.classes[-1] else f"> {c.lower:,.0f}"
    return c.label


def legend(layer: LayerDef, lang: str) -> list[dict[str, Any]]:
    """The legend entries of one layer: label, fill, outline and size per class (one for a single symbol)."""
    s = layer_symbology(layer)
    out = []
    for c in s.classes:
        y = c.symbol
        out.append({"label": "" if s.kind == "single" else _class_label(layer, s, c, lang),
                    "fill": y.fill, "stroke": y.stroke, "size": round(y.size, 1)})
    return out


def map_style(layers: list[LayerDef], tilejson_url: str) -> dict[str, Any]:
    """A MapLibre style (version 8) of the registry's geometry layers, resource layers on top.

    ``tilejson_url`` may be relative to the page (the page's script resolves it), so the
    style works behind any host name or path prefix.
    """
    rank = {"Polygon": 0, "LineString": 1, "Point": 2}
    base = sorted((lay for lay in layers if lay.kind != "resource"), key=lambda lay: rank[_geometry_kind(lay)])
    order = base + [lay for lay in layers if lay.kind == "resource"][::-1]  # the first layer drawn last, on top
    style_layers_: list[dict[str, Any]] = [{"id": "background", "type": "background",
                                            "paint": {"background-color": "#f4f1ea"}}]
    for lay in order:
        style_layers_ += style_layers(lay, lay.kind == "resource" or lay.name in BASE_VISIBLE)
    return {"version": 8, "name": "Rallypoint",
            "sources": {SOURCE: {"type": "vector", "url": tilejson_url}},
            "layers": style_layers_}
