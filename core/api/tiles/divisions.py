"""``/map/divisions.json``: where each county and township's label goes, with its resources counted.

The map's low zooms show counts, not thousands of overlapping symbols: each division of the
registry's ``admin_areas`` as a point inside it (the pole of inaccessibility of its largest part,
where a label reads best) with its name, level, division code, box, area, and the features in use
of each resource layer whose division code starts with its own (``n_<layer>``, from
:func:`~rallypoint.api.portal.glance.glance`'s grouped counts: one query a layer, kept per process
until the registry changes). For the hazard points, the finest divisions (townships) also get their
density (points per km²) as a class of five quantiles (``c_hazard_points``, the bounds in the
document's ``density``): the map shades the townships by it below the zoom where each point is drawn.
The map page adds it as a GeoJSON source and labels the counties and townships from it; its search
finds divisions by name or code in it. Counts carry no personal data; the answer is the same for
every user.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from typing import Any

from ..context import Context
from ..etags import not_modified, weak_etag
from ..portal.glance import glance, resource_layers
from ..request import Request, check_params
from .mapstyle import DENSITY
from ..responses import GEOJSON, VARY, Response, json_response

ADMIN = "admin_areas"
CLASSES = 5
CACHE_ANONYMOUS = "public, max-age=30, must-revalidate"
_CACHE_ENTRIES = 4
_cache: OrderedDict[tuple, tuple[str, dict[str, Any]]] = OrderedDict()
_lock = threading.Lock()


def _label_point(geom) -> tuple[float, float]:
    """A point well inside the area: the pole of inaccessibility of its largest part (a tenth of a
    percent of its size close), else a point on it."""
    from shapely.ops import polylabel

    part = max(getattr(geom, "geoms", [geom]), key=lambda g: g.area)
    if part.geom_type == "Polygon" and not part.is_empty:
        minx, miny, maxx, maxy = part.bounds
        try:
            p = polylabel(part, tolerance=max(maxx - minx, maxy - miny) / 1000 or 1e-6)
            return p.x, p.y
        except Exception:  # noqa: BLE001 - an invalid ring: a point on it will do
            pass
    p = geom.representative_point()
    return p.x, p.y


def _area_km2(geom) -> float:
    """The area on the ellipsoid (CGCS2000's is GRS 80's), in square kilometres."""
    from pyproj import Geod

    return abs(Geod(ellps="GRS80").geometry_area_perimeter(geom)[0]) / 1e6


def _classes(values: list[float], n: int = CLASSES) -> list[float]:
    """Upper bounds of ``n`` quantile classes of ``values`` (fewer when values repeat), the last the maximum."""
    import numpy as np

    if not values:
        return []
    qs = np.quantile(np.asarray(values, dtype=float), [i / n for i in range(1, n + 1)])
    return sorted({float(q) for q in qs})


def _densities(features: list[dict[str, Any]], layers: list[str]) -> dict[str, Any]:
    """Per density layer: features per km² of the finest divisions, in quantile classes (``c_<layer>``: 0 the
    lowest), and the classes' upper bounds, for the map's shading of hazard density."""
    levels = {f["properties"]["level"] for f in features}
    finest = "township" if "township" in levels else ("county" if "county" in levels else None)
    chosen = [f for f in features if f["properties"]["level"] == finest and f["properties"]["area_km2"] > 0]
    out = {}
    for name in layers:
        values = [f["properties"][f"n_{name}"] / f["properties"]["area_km2"] for f in chosen]
        bounds = _classes(values)
        for f, v in zip(chosen, values):
            f["properties"][f"c_{name}"] = next((i for i, b in enumerate(bounds) if v <= b), len(bounds) - 1)
        out[name] = {"level": finest, "per_km2": [round(b, 2) for b in bounds[:-1]] + [math.ceil(bounds[-1] * 100) / 100]
                     if bounds else []}
    return out


def _compute(ctx: Context) -> dict[str, Any]:
    reg = ctx.registry
    layers = [lay.name for lay in resource_layers(ctx) if lay.has_field("adcode")]
    by_code: dict[str, dict[str, int]] = {}
    for t in glance(ctx).townships:  # features per 9-digit prefix (or the shorter code itself)
        for name, n in t["counts"].items():
            by_code.setdefault(t["code"], {})[name] = n
    features = []
    if ADMIN in reg.layers and reg.layers[ADMIN].has_geometry:
        frame = reg.read_frame(ADMIN, columns=[f for f in ("adcode", "name", "level") if reg.layers[ADMIN].has_field(f)])
        for row in frame.itertuples():
            geom = row.geometry
            code = str(getattr(row, "adcode", "") or "")
            if geom is None or geom.is_empty or not code:
                continue
            x, y = _label_point(geom)
            counts = {name: 0 for name in layers}
            for prefix, per in by_code.items():
                if prefix.startswith(code):
                    for name, n in per.items():
                        if name in counts:
                            counts[name] += n
            minx, miny, maxx, maxy = geom.bounds
            props = {"adcode": code, "name": getattr(row, "name", None), "level": getattr(row, "level", None),
                     "bbox": [round(v, 6) for v in (minx, miny, maxx, maxy)], "area_km2": round(_area_km2(geom), 3)}
            props.update({f"n_{name}": n for name, n in counts.items()})
            props["n_total"] = sum(counts.values())
            features.append({"type": "Feature", "id": len(features) + 1,
                             "geometry": {"type": "Point", "coordinates": [round(x, 6), round(y, 6)]},
                             "properties": props})
    density = _densities(features, [n for n in DENSITY if n in layers])
    return {"type": "FeatureCollection", "layers": layers, "density": density, "features": features}


def divisions(ctx: Context) -> tuple[str, dict[str, Any]]:
    """The divisions' label points and counts, and their weak ETag (kept per process until the registry changes)."""
    stamp = ctx.reader.stamp()
    key = (str(ctx.config.registry_path), stamp)
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    found = (weak_etag("divisions", *key), _compute(ctx))
    with _lock:
        _cache[key] = found
        while len(_cache) > _CACHE_ENTRIES:
            _cache.popitem(last=False)
    return found


def divisions_document(ctx: Context, req: Request) -> Response:
    check_params(req, ())
    etag, doc = divisions(ctx)
    headers = {"ETag": etag, "Cache-Control": CACHE_ANONYMOUS, "Vary": VARY}
    if not_modified(req.headers.get("if-none-match"), etag):
        return 304, headers, b""
    return json_response(doc, media_type=GEOJSON, headers=headers)
