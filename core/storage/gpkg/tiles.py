"""Mapbox Vector Tiles of the registry's layers on the WebMercatorQuad grid: the rules, and the reference encoder.

The tile grid, the thinning and the layers' tile rules are here. The tiles a GeoPackage registry
serves are made by :mod:`.tile_layers` (rows read once, a layer written at once by :mod:`..mvt_encode`);
:func:`layer_features` and :func:`encode` below (``mapbox-vector-tile``, a feature at a time) are the
reference those tiles are tested against, feature by feature (tests/test_tiles_encoding.py).

A tile's features come from the layer's R-tree (the tile's box in EPSG:4490), through the
request's own SQLite connection (never GDAL: see :mod:`.reader`). Geometries are projected to
EPSG:3857 in one vectorised call, clipped to the tile box grown by :data:`BUFFER` units
(points: only those inside the tile), and quantised to the 4096 extent here, vectorised
(shapely's ``set_precision`` on the integer grid, which keeps rings valid); the library
orients rings and writes the protobuf.

Tiles stay small at low zoom: a point layer with more than :data:`MAX_POINTS` points in a
tile (or any number below zoom :data:`FULL_DETAIL_ZOOM`) keeps one point (the lowest fid)
per cell of a grid over the tile, the grid coarsened from 256×256 (one cell a pixel) until
the tile is under the limit (deterministic and spatially even); lines
and polygons smaller than a pixel (of a 256-pixel tile) are dropped, the rest simplified
at one extent unit. Each layer's definition may thin further (``[layer.tiles]``, see
:class:`~rallypoint.schema.TileRules`): a zoom below which it is left out, classes (minor
roads) that appear only from some zoom, and the few fields carried below its detail zoom
(a map styles on them; a pop-up wanting more asks for the feature).
"""

from __future__ import annotations

from typing import Any

import mapbox_vector_tile
import numpy as np
import shapely

from ...crs import _projector
from ...schema import LayerDef
from ..base import quote
from ..tiles import (BUFFER, EXTENT, FULL_DETAIL_ZOOM, MAX_LAT, MAX_POINTS, TOP_LEVEL, lonlat_bounds,
                     pyramid_cells, tile_bounds)
from .blobs import _ENVELOPE_SIZES as _ENVELOPE
from ..rows import served_fields

_to_3857 = _projector(4490, 3857)


def _geometries(blobs: list[bytes]) -> np.ndarray:
    wkbs = np.empty(len(blobs), dtype=object)
    for i, blob in enumerate(blobs):
        if blob is not None:
            wkbs[i] = bytes(blob[8 + _ENVELOPE.get((blob[3] >> 1) & 7, 0):])
    return shapely.from_wkb(wkbs)


def _project(geoms: np.ndarray) -> np.ndarray:
    def fn(xy: np.ndarray) -> np.ndarray:
        xy = xy.copy()
        xy[:, 1] = np.clip(xy[:, 1], -MAX_LAT, MAX_LAT)
        return _to_3857(xy)

    return shapely.transform(geoms, fn)


def _fields(layer: LayerDef, personal: bool, z: int) -> tuple[tuple[str, ...], tuple[int, ...], str]:
    """The fields served (as :func:`..rows.served_fields`) that the layer's tile rules carry at zoom ``z``, the
    positions of the boolean ones, and the SELECT list (t.fid, t.geom, those fields)."""
    names, booleans = served_fields(layer, personal)
    wanted = layer.tiles.fields_at(z)
    if wanted is not None:
        names = tuple(n for n in names if n in wanted)
        booleans = tuple(i for i, n in enumerate(names) if layer.field(n).type == "boolean")
    return names, booleans, ", ".join(["t.fid", "t.geom"] + ["t." + quote(n) for n in names])


def _rows(conn, layer: LayerDef, select: str, box: tuple[float, float, float, float], z: int) -> list[tuple]:
    minx, miny, maxx, maxy = box
    where = "r.minx <= ? AND r.maxx >= ? AND r.miny <= ? AND r.maxy >= ?"
    params: list[Any] = [maxx, minx, maxy, miny]
    if layer.versioned:
        where += " AND t.retired_at IS NULL"
    hidden = layer.tiles.classes_hidden_at(z)
    if hidden:
        where += f" AND t.{quote(layer.tiles.class_field)} NOT IN ({', '.join('?' * len(hidden))})"
        params.extend(hidden)
    sql = (f"SELECT {select} FROM {quote(f'rtree_{layer.name}_geom')} r JOIN {quote(layer.name)} t "
           f"ON t.fid = r.id WHERE {where} ORDER BY t.fid")
    return conn.execute(sql, params).fetchall()


def thin_points(xy: np.ndarray, z: int, limit: int = MAX_POINTS, always: bool = False) -> np.ndarray:
    """Indices (ascending) of the points of a tile of zoom ``z`` (EPSG:3857, in fid order) to keep: all up to
    ``limit`` (unless ``always``), else the first of each occupied cell of the tile's grid.

    The grid is the pyramid's cells of level z + 8 (256 a side over the tile), coarsened a level at a time
    until at most ``limit`` remain (:func:`..tiles.pyramid_cells`: every level's cells from one position per
    point, exactly); the points come in fid order, so the first of a cell is its lowest fid, the same answer
    every time and on either backend.
    """
    n = len(xy)
    if n <= limit and not always:
        return np.arange(n)
    col, row = pyramid_cells(xy)
    for k in range(8, -1, -1):
        shift = np.uint64(TOP_LEVEL - z - k)
        _, first = np.unique(np.column_stack([col >> shift, row >> shift]), axis=0, return_index=True)
        if len(first) <= limit or k == 0:
            return np.sort(first)
    raise AssertionError("unreachable")


def _value(v: Any) -> Any:
    if isinstance(v, bytes):
        return None
    return v


def layer_features(conn, layer: LayerDef, personal: bool, z: int, x: int, y: int) -> list[dict[str, Any]]:
    """The features of one layer in one tile, ready for :func:`encode` (3857 geometries)."""
    if z < layer.tiles.min_zoom:
        return []
    bounds = tile_bounds(z, x, y)
    minx, miny, maxx, maxy = bounds
    size = maxx - minx
    point = "Point" in layer.geometry and "Multi" not in layer.geometry
    grow = 0.0 if point else size * BUFFER / EXTENT
    query = lonlat_bounds((minx - grow, miny - grow, maxx + grow, maxy + grow))
    names, booleans, select = _fields(layer, personal, z)
    rows = _rows(conn, layer, select, query, z)
    if not rows:
        return []
    keep_rows = [r for r in rows if r[1] is not None]
    geoms = _project(_geometries([r[1] for r in keep_rows]))
    if point:
        # The R-tree's float32 boxes reach up to a metre past the tile: keep the points of this tile only, by
        # their cells (half-open: a point on an edge is in exactly one tile), then thin them
        ok = (shapely.get_type_id(geoms) == 0) & ~shapely.is_empty(geoms)
        col, row = pyramid_cells(np.nan_to_num(shapely.get_coordinates(geoms, include_z=False)) if ok.all() else
                                 np.array([g.coords[0] if o else (np.inf, np.inf) for g, o in zip(geoms, ok)]))
        shift = np.uint64(TOP_LEVEL - z)
        inside = np.flatnonzero(ok & ((col >> shift) == x) & ((row >> shift) == y))
        xy = shapely.get_coordinates(geoms[inside])
        inside = inside[thin_points(xy, z, always=z < FULL_DETAIL_ZOOM)]
        geoms, keep_rows = geoms[inside], [keep_rows[i] for i in inside]
    else:
        pixel = size / 256
        b = shapely.bounds(geoms)
        big = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) >= pixel
        idx = np.nonzero(big)[0]
        geoms = shapely.clip_by_rect(geoms[idx], minx - grow, miny - grow, maxx + grow, maxy + grow)
        geoms = shapely.simplify(geoms, size / EXTENT, preserve_topology="Polygon" in layer.geometry)
        ok = ~shapely.is_empty(geoms)
        geoms, keep_rows = geoms[ok], [keep_rows[i] for i in idx[ok]]
    out = []
    for row, geom in zip(keep_rows, geoms):
        props = {}
        for i, (name, v) in enumerate(zip(names, row[2:])):
            if v is None:
                continue
            props[name] = bool(v) if i in booleans else _value(v)
        out.append({"geometry": geom, "properties": {k: v for k, v in props.items() if v is not None},
                    "id": int(row[0])})
    return out


def encode(layers: list[tuple[str, list[dict[str, Any]]]], z: int, x: int, y: int) -> bytes:
    """One tile: an MVT layer per ``(name, features)`` with features (empty layers left out); b"" if none."""
    wanted = [{"name": name, "features": feats} for name, feats in layers if feats]
    if not wanted:
        return b""
    minx, miny, maxx, maxy = tile_bounds(z, x, y)
    scale = EXTENT / (maxx - minx)
    for layer in wanted:  # quantise here, vectorised (the library would transform feature by feature)
        geoms = np.array([f["geometry"] for f in layer["features"]], dtype=object)
        geoms = shapely.transform(geoms, lambda xy: np.round((xy - (minx, miny)) * scale))
        lines = shapely.get_type_id(geoms) > 0
        geoms[lines] = shapely.set_precision(geoms[lines], 1.0)  # drops repeated points, keeps rings valid
        for f, g in zip(layer["features"], geoms):
            f["geometry"] = g
        layer["features"] = [f for f in layer["features"] if not f["geometry"].is_empty]
    wanted = [layer for layer in wanted if layer["features"]]
    if not wanted:
        return b""
    options = {"quantize_bounds": None, "extents": EXTENT, "y_coord_down": False, "check_winding_order": True}
    return mapbox_vector_tile.encode(wanted, default_options=options)
