"""The map page's MapLibre style and legend, made from the layers' default QGIS styles (QML, read by :mod:`.qml`).

The map reads at every scale, by zoom (at the latitude of Sichuan a zoom-9 view holds a whole city,
zoom 12 a district, zoom 15 a few streets):

* below :data:`DETAIL_ZOOM` the many resources (shelters, teams, depots) are not drawn one by one:
  each county (below :data:`TOWNSHIP_ZOOM`) and then each township is labelled with its name and how
  many of each it holds (the icons of the layers beside the counts), from ``/map/divisions.json``
  (:mod:`.divisions`); hazard points show as a density (each township shaded by its points per km²,
  in the colours of their danger grades; a heatmap reads as well but costs seconds a frame in a
  browser drawing WebGL in software) until :data:`HAZARD_ZOOM`, where they become the circles of
  their QGIS style; the few helipads are drawn at every zoom;
* from :data:`DETAIL_ZOOM` every feature is drawn with its QGIS symbol (a house per shelter in the
  colour of its status, a triangle per team, a diamond per depot, an H per helipad: icons of the
  sprite built at install by :mod:`.mapassets` from :mod:`.symbols`), growing to QGIS's size at zoom
  15, with the labels the QML defines (shelter names from 1:50,000); township names stay on top.

Only this server is asked for anything: tiles, the divisions' counts, the sprite and the glyphs
(Noto Sans CJK SC, made into PBF ranges at install), all under the page's own address.
"""

from __future__ import annotations

from typing import Any

from ...schema import LayerDef
from .qml import (FALLBACK, Symbol, SymbolClass, Symbology, geometry_kind, layer_labels, layer_symbology,  # noqa: F401
                  qml_symbology, zoom_of_scale)
from .symbols import drawn_as_icons, icon_name, layer_icons

SOURCE = "rallypoint"
DIVISIONS = "divisions"
#: Base (reference) layers shown when the page opens; the others start switched off.
BASE_VISIBLE = ("admin_areas", "roads")
FONT = "Noto Sans CJK SC Regular"  # the glyphs' fontstack (make setup builds it from Debian's fonts-noto-cjk)
TOWNSHIP_ZOOM = 10  # counts per county below, per township from here to DETAIL_ZOOM
DETAIL_ZOOM = 11  # the aggregated layers drawn feature by feature from here
HAZARD_ZOOM = 13  # hazard points as circles from here (a city's centre holds hundreds a km²); density until + 1
#: The layers counted per division at low zooms and drawn one by one from DETAIL_ZOOM (hazards: HAZARD_ZOOM).
AGGREGATED = {"shelters": DETAIL_ZOOM, "teams": DETAIL_ZOOM, "depots": DETAIL_ZOOM, "hazard_points": HAZARD_ZOOM}
#: Point layers shown as a density below their own zoom in AGGREGATED
DENSITY = ("hazard_points",)
#: A symbol's size relative to QGIS's (reached at zoom 15) as the map zooms in.
ICON_SCALE = ["interpolate", ["linear"], ["zoom"], DETAIL_ZOOM - 1, 0.5, 13, 0.75, 15, 1.0]
LATITUDE = 30.0  # where QML label scales become zooms (the registries are Chinese: one latitude is near enough)
TEXTS = {"zh": {"other": "其他"}, "en": {"other": "other"}}


# -- expressions ------------------------------------------------------------------------------------

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


def _icon_expression(layer: LayerDef) -> Any:
    """The sprite icon of each feature: by class, as its QML renderer chooses the symbol."""
    s = layer_symbology(layer)
    names = [icon_name(layer, i, c) for i, c in enumerate(s.classes)]
    if s.kind == "single" or len(names) == 1:
        return names[0]
    if s.kind == "categorized":
        expr: list[Any] = ["match", ["get", s.attr]]
        fallback = layer.name  # the layer's neutral icon for a value no category names
        for c, name in zip(s.classes, names):
            if c.value in (None, ""):
                fallback = name
            else:
                expr += [[c.value], name]
        return expr + [fallback]
    expr = ["case"]
    number = ["to-number", ["get", s.attr], 0]
    for c, name in zip(s.classes[:-1], names[:-1]):
        expr += [["<=", number, c.upper], name]
    return expr + [names[-1]]


def _fade_in(z: float) -> list[Any]:
    """Half opaque at the layer's first zoom, whole half a zoom later: never drawn invisible (what is drawn answers
    clicks)."""
    return ["interpolate", ["linear"], ["zoom"], z, 0.5, z + 0.5, 1.0]


# -- the registry's layers ------------------------------------------------------------------------------

def _meta(layer: LayerDef, role: str) -> dict[str, Any]:
    return {"rallypoint:layer": layer.name, "rallypoint:role": role}


def _labels(layer: LayerDef, base: dict[str, Any], icons: bool) -> list[dict[str, Any]]:
    """The QML's labels of a point layer (its name field), from the zoom of the QML's largest scale."""
    lab = layer_labels(layer)
    if lab is None or geometry_kind(layer) != "Point":
        return []
    minzoom = max(AGGREGATED.get(layer.name, 0), zoom_of_scale(lab.max_scale, LATITUDE) if lab.max_scale else 0)
    layout = {**base["layout"], "text-field": ["to-string", ["get", lab.field]], "text-font": [FONT],
              "text-size": round(lab.size, 1), "text-anchor": "top", "text-offset": [0, 1.0 if icons else 0.6],
              "text-optional": True, "text-max-width": 8}
    paint = {"text-color": lab.color, "text-halo-color": lab.halo or "rgba(255, 255, 255, 0.85)",
             "text-halo-width": min(max(lab.halo_width / 2, 1.0), 2.0)}
    return [{"id": layer.name + ":label", "type": "symbol", **base, "minzoom": round(minzoom, 2),
             "metadata": _meta(layer, "labels"), "layout": layout, "paint": paint}]


def _density(layer: LayerDef, admin: LayerDef) -> dict[str, Any]:
    """The townships shaded by the layer's points per km² (five quantile classes, in the colours of the layer's
    classes from the mildest to the gravest) until the points are drawn one by one. The page's script sets
    each township's colour once it has ``/map/divisions.json``'s classes (``c_<layer>`` by division code)."""
    until = AGGREGATED.get(layer.name, HAZARD_ZOOM)
    paint = {"fill-color": "rgba(0, 0, 0, 0)",
             # lighter once the symbols are drawn over it, gone once each point is
             "fill-opacity": ["interpolate", ["linear"], ["zoom"], DETAIL_ZOOM, 0.6, DETAIL_ZOOM + 1, 0.35,
                              until + 1, 0.0]}
    out = {"id": layer.name + ":density", "type": "fill", "source": SOURCE, "source-layer": admin.name,
           "maxzoom": until + 1, "layout": {"visibility": "visible"},
           "metadata": {**_meta(layer, "density"), "rallypoint:colours": density_colours(layer)}, "paint": paint}
    if admin.has_field("level"):
        out["filter"] = ["==", ["get", "level"], "township"]
    return out


def density_colours(layer: LayerDef) -> list[str]:
    """The colours of a density, least to most: the layer's classes from the mildest to the gravest."""
    s = layer_symbology(layer)
    graded = [c for c in s.classes if c.value not in (None, "") and c.symbol.fill]
    return [c.symbol.fill for c in reversed(graded)] or [s.classes[0].symbol.fill or FALLBACK["Point"]]


def _points(layer: LayerDef, base: dict[str, Any]) -> list[dict[str, Any]]:
    s = layer_symbology(layer)
    start = AGGREGATED.get(layer.name, 0)
    out = []
    if drawn_as_icons(layer):
        layout = {**base["layout"], "icon-image": _icon_expression(layer), "icon-size": ICON_SCALE,
                  "icon-allow-overlap": True, "icon-ignore-placement": True, "icon-padding": 0}
        sort = _sort_field(layer)
        if sort:  # the biggest drawn last, on top
            layout["symbol-sort-key"] = ["to-number", ["get", sort], 0]
        out.append({"id": layer.name, "type": "symbol", **base, "minzoom": start, "metadata": _meta(layer, "features"),
                    "layout": layout, "paint": {"icon-opacity": _fade_in(start) if start else 1}})
    else:
        radius = _paint_value(s, lambda y: round(y.size / 2, 2), 4)
        if start:  # growing to QGIS's size at zoom 15
            radius = ["interpolate", ["linear"], ["zoom"], start, _paint_value(s, lambda y: round(y.size / 4, 2), 2),
                      15, radius]
        paint = {"circle-color": _paint_value(s, lambda y: y.fill or y.stroke, FALLBACK["Point"]),
                 "circle-radius": radius,
                 "circle-stroke-color": _paint_value(s, lambda y: y.stroke or "rgba(0, 0, 0, 0)", "#ffffff"),
                 "circle-stroke-width": _paint_value(s, lambda y: round(y.stroke_width, 2), 0)}
        if start:
            paint["circle-opacity"] = paint["circle-stroke-opacity"] = _fade_in(start)
        out.append({"id": layer.name, "type": "circle", **base, "minzoom": start, "metadata": _meta(layer, "features"),
                    "paint": paint})
    return out + _labels(layer, base, drawn_as_icons(layer))


def _sort_field(layer: LayerDef) -> str | None:
    """A number field that orders overlapping symbols (capacity, members): the largest on top."""
    for name in ("capacity_day", "members", "capacity", "threatened_people"):
        if layer.has_field(name) and name in (layer.tiles.fields or (name,)):
            return name
    return None


def style_layers(layer: LayerDef, visible: bool) -> list[dict[str, Any]]:
    """The MapLibre layers drawing one registry layer: ``name`` (its features), and ``name:outline`` (a
    polygon's), ``name:label`` (the QML's labels)."""
    s = layer_symbology(layer)
    kind = geometry_kind(layer)
    base = {"source": SOURCE, "source-layer": layer.name, "layout": {"visibility": "visible" if visible else "none"},
            "metadata": _meta(layer, "features")}
    if kind == "Point":
        return _points(layer, base)
    if kind == "LineString":
        paint = {"line-color": _paint_value(s, lambda y: y.stroke, FALLBACK[kind]),
                 "line-width": _paint_value(s, lambda y: round(max(y.size, 0.5), 2), 1)}
        return [{"id": layer.name, "type": "line", **base, "layout": {**base["layout"], "line-cap": "round",
                                                                      "line-join": "round"}, "paint": paint}]
    # a polygon's fill (transparent ones still answer clicks) and its outline
    fill = {"fill-color": _paint_value(s, lambda y: y.fill or "rgba(0, 0, 0, 0)", "rgba(0, 0, 0, 0)")}
    width = _paint_value(s, lambda y: round(max(y.stroke_width, 0.5), 2), 1)
    if layer.has_field("level") and not isinstance(width, list):
        # administrative areas: the QML's width for counties and above, townships' finer within them
        width = ["match", ["get", "level"], ["township"], round(max(width / 2.5, 0.5), 2),
                 ["village"], round(max(width / 4, 0.4), 2), width]
    line = {"line-color": _paint_value(s, lambda y: y.stroke or "rgba(0, 0, 0, 0)", FALLBACK[kind]),
            "line-width": width}
    return [{"id": layer.name, "type": "fill", **base, "paint": fill},
            {"id": layer.name + ":outline", "type": "line", **base, "metadata": _meta(layer, "outline"),
             "paint": line}]


# -- the divisions' names and counts ----------------------------------------------------------------------

def _counts_text(layers: list[LayerDef], name_scale: float) -> list[Any]:
    """The division's name over a line of icons and counts: ``⌂ 12  ▲ 8  ◆ 1  • 2,140``. (A plain space after
    each icon: MapLibre 5 lays out the images of a line with a thin space, U+2009, one count too far.)"""
    text: list[Any] = ["format", ["get", "name"], {"font-scale": name_scale}, "\n", {}]
    for i, lay in enumerate(layers):
        text += [["image", lay.name], {}, ["concat", " ", ["number-format", ["get", f"n_{lay.name}"], {}],
                                           "  " if i < len(layers) - 1 else ""], {"font-scale": 0.85}]
    return text


def division_layers(layers: list[LayerDef]) -> list[dict[str, Any]]:
    """Labels of the counties (below TOWNSHIP_ZOOM) and townships with their counts, then township names alone."""
    counted = [lay for lay in layers if lay.name in AGGREGATED and layer_icons(lay)]
    admin = next((lay for lay in layers if lay.name == "admin_areas"), None)
    lab = layer_labels(admin) if admin is not None else None
    size = lab.size if lab else 12.5
    colour = lab.color if lab else "rgb(59, 59, 59)"
    common = {"type": "symbol", "source": DIVISIONS, "metadata": {"rallypoint:role": "divisions"}}
    paint = {"text-color": colour, "text-halo-color": "rgba(255, 255, 255, 0.92)", "text-halo-width": 1.6}
    layout = {"text-font": [FONT], "text-line-height": 1.35, "text-max-width": 30, "text-padding": 3,
              "symbol-sort-key": ["-", 0, ["get", "n_total"]]}
    out = [
        {**common, "id": "divisions:county", "maxzoom": TOWNSHIP_ZOOM, "filter": ["==", ["get", "level"], "county"],
         "layout": {**layout, "text-field": _counts_text(counted, 1.2), "text-size": size}, "paint": paint},
        {**common, "id": "divisions:township", "minzoom": TOWNSHIP_ZOOM, "maxzoom": DETAIL_ZOOM,
         "filter": ["==", ["get", "level"], "township"],
         "layout": {**layout, "text-field": _counts_text(counted, 1.1), "text-size": round(size * 0.9, 1)},
         "paint": paint},
        {**common, "id": "divisions:name", "minzoom": DETAIL_ZOOM, "filter": ["==", ["get", "level"], "township"],
         "layout": {**layout, "text-field": ["get", "name"], "text-size": size, "text-letter-spacing": 0.1},
         "paint": {**paint, "text-color": "rgba(60, 60, 60, 0.85)"}},
    ]
    return out if admin is not None else []


# -- the legend and the style ------------------------------------------------------------------------------

def _class_label(layer: LayerDef, s: Symbology, c: SymbolClass, lang: str) -> str:
    """A legend entry's label: the field's allowed-value label in ``lang``, else the QML's."""
    if s.kind == "categorized" and s.attr and layer.has_field(s.attr) and c.value:
        v = layer.field(s.attr).value(c.value)
        if v is not None:
            return v.label(lang)
    if s.kind == "categorized" and not c.value:
        return TEXTS[lang]["other"] if lang != "zh" or not c.label else c.label
    if s.kind == "graduated" and lang != "zh":
        lo = f"{c.lower:,.0f}" if c is not s.classes[0] else "0"
        return f"{lo} – {c.upper:,.0f}" if c is not s.classes[-1] else f"> {c.lower:,.0f}"
    return c.label


def legend(layer: LayerDef, lang: str) -> list[dict[str, Any]]:
    """The legend entries of one layer: label, the sprite icon (point layers), fill, outline and size per class."""
    s = layer_symbology(layer)
    icons = {name for name, _ in layer_icons(layer)} if drawn_as_icons(layer) else set()
    out = []
    for i, c in enumerate(s.classes):
        y = c.symbol
        name = icon_name(layer, i, c)
        out.append({"label": "" if s.kind == "single" else _class_label(layer, s, c, lang),
                    "icon": name if name in icons else None,
                    "fill": y.fill, "stroke": y.stroke, "size": round(y.size, 1)})
    return out


def map_style(layers: list[LayerDef], tilejson_url: str, assets_url: str = "/static/map",
              divisions_url: str = "/map/divisions.json") -> dict[str, Any]:
    """A MapLibre style (version 8) of the registry's geometry layers, resource layers on top, the divisions'
    names and counts above all.

    The URLs may be relative to the page (the page's script resolves them), so the style works
    behind any host name or path prefix; ``assets_url`` is where the sprite and glyphs are.
    """
    rank = {"Polygon": 0, "LineString": 1, "Point": 2}
    base = sorted((lay for lay in layers if lay.kind != "resource"), key=lambda lay: rank[geometry_kind(lay)])
    order = base + [lay for lay in layers if lay.kind == "resource"][::-1]  # the first layer drawn last, on top
    out: list[dict[str, Any]] = [{"id": "background", "type": "background", "paint": {"background-color": "#f4f1ea"}}]
    drawn = [sl for lay in order for sl in style_layers(lay, lay.kind == "resource" or lay.name in BASE_VISIBLE)]
    # densities over the areas' fills, outlines over the roads (so borders read), labels over every symbol
    out += [sl for sl in drawn if sl["metadata"]["rallypoint:role"] not in ("outline", "labels")]
    admin = next((lay for lay in layers if lay.name == "admin_areas" and lay.has_geometry), None)
    if admin is not None:
        fills_end = max(i for i, sl in enumerate(out) if sl["id"] == admin.name)
        out[fills_end + 1:fills_end + 1] = [_density(lay, admin) for lay in order if lay.name in DENSITY]
    lines_end = max((i for i, sl in enumerate(out) if sl["type"] in ("fill", "line")), default=0)
    out[lines_end + 1:lines_end + 1] = [sl for sl in drawn if sl["metadata"]["rallypoint:role"] == "outline"]
    out += [sl for sl in drawn if sl["metadata"]["rallypoint:role"] == "labels"]
    out += division_layers(layers)
    return {"version": 8, "name": "Rallypoint",
            "sprite": f"{assets_url}/sprite",
            "glyphs": f"{assets_url}/glyphs/{{fontstack}}/{{range}}.pbf",
            "sources": {SOURCE: {"type": "vector", "url": tilejson_url},
                        DIVISIONS: {"type": "geojson", "data": divisions_url}},
            "layers": out}
