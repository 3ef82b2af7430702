"""Vector tiles of a GeoPackage registry's layers: each row read once, the layer encoded at once.

The tiles :func:`.tiles.layer_features` and :func:`.tiles.encode` describe (the same features,
properties and geometries: tests/test_web_tiles.py compares them tile by tile), made with
arrays instead of a feature at a time, and written by :mod:`..mvt_encode`:

* points: the R-tree alone gives the candidates and their (float32) positions, the layer's
  retired features (the reader's per-layer state, :func:`.reader.layer_state`) left out; the thinning
  (:func:`.tiles.thin_points`) picks from them, and only the rows kept are read, once, by fid. Their
  coordinates come straight from the GeoPackage blobs (uniform little-endian points, else
  through shapely), are projected in one call and kept half-open inside the tile (a point on an
  edge is in exactly one tile), quantised and written as MoveTo commands;
* lines and polygons: the rows of the buffered tile box, once; projected, clipped, simplified and
  snapped to the tile grid by shapely's vectorised functions as before; their commands from
  shapely's coordinate arrays.

A tile of several layers (the dataset's ``/tiles``) shares the tile's box and bounds; each layer
is a Tile message of its own, and the messages concatenate into one tile (repeated fields of
protobuf messages concatenate).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

import numpy as np
import orjson
import shapely

from ...schema import LayerDef
from .. import mvt_encode
from .. import tiles as grid
from ..base import quote
from . import tiles as reference
from .blobs import _ENVELOPE_SIZES as _ENVELOPE

_POINT_WKB = np.array([1, 1, 0, 0, 0], np.uint8)  # little-endian, type 1 (Point)


Retired = Callable[[LayerDef], Sequence[int]]


def tile(conn, layers: list[LayerDef], personal: bool, z: int, x: int, y: int, retired: Retired) -> bytes:
    """Tile ``z/x/y`` of ``layers`` (b"" when none holds anything); ``retired(layer)``: the fids of the layer's
    retired features (the reader keeps them per layer state)."""
    bounds = grid.tile_bounds(z, x, y)
    return b"".join(layer_tile(conn, layer, personal, z, bounds, retired) for layer in layers)


def layer_tile(conn, layer: LayerDef, personal: bool, z: int, bounds: tuple[float, float, float, float],
               retired: Retired) -> bytes:
    """One layer of the tile with ``bounds`` (EPSG:3857) as a Tile message (b"" when it holds nothing)."""
    if z < layer.tiles.min_zoom or not layer.has_geometry:
        return b""
    minx, miny, maxx, maxy = bounds
    point = "Point" in layer.geometry and "Multi" not in layer.geometry
    grow = 0.0 if point else (maxx - minx) * grid.BUFFER / grid.EXTENT
    query = grid.lonlat_bounds((minx - grow, miny - grow, maxx + grow, maxy + grow))
    names, booleans, select = reference._fields(layer, personal, z)
    if point:
        source = _point_source(conn, layer, query, bounds, z, retired)
        if source is None:
            return b""
        fids, lonlat, ok, columns = _read_points(conn, layer, names, select, *source)
        if not len(fids):
            return b""
        lonlat[:, 1] = np.clip(lonlat[:, 1], -grid.MAX_LAT, grid.MAX_LAT)
        xy = reference._to_3857(lonlat)
        ok &= (xy[:, 0] >= minx) & (xy[:, 0] < maxx) & (xy[:, 1] > miny) & (xy[:, 1] <= maxy)
        keep = None if ok.all() else np.flatnonzero(ok)
        if keep is not None:
            xy = xy[keep]
        snapped = np.round((xy - (minx, miny)) * (grid.EXTENT / (maxx - minx)))
        commands, counts = mvt_encode.point_commands(snapped[:, 0], snapped[:, 1])
        geom_type = mvt_encode.POINT
    else:
        rows = [r for r in _shape_rows(conn, layer, select, query, z) if r[1] is not None]
        if not rows:
            return b""
        columns = list(zip(*rows))
        fids = np.array(columns[0], dtype=np.int64)
        columns = columns[2:]
        keep, geom_type, commands, counts = _shapes([r[1] for r in rows], layer, bounds, grow)
        if len(keep) == 0:
            return b""
    if keep is not None:
        fids = fids[keep]
    props = [(name, _pick(columns[i], keep), i in booleans) for i, name in enumerate(names)]
    return mvt_encode.layer(layer.name, fids.astype(np.uint64), geom_type, commands, counts, props)


def _pick(column: Sequence[Any], keep: np.ndarray | None) -> Sequence[Any]:
    if keep is None:
        return column
    if len(keep) == 1:
        return (column[int(keep[0])],)
    return itemgetter(*keep.tolist())(column) if len(keep) else ()


# -- points ---------------------------------------------------------------------------------------------

_IN_BOX = "minx <= ? AND maxx >= ? AND miny <= ? AND maxy >= ?"
_SCALE = float(1 << 40)


def _integers(text: str) -> np.ndarray:
    """The integers of SQLite's ``group_concat`` (comma-separated) as an array."""
    return np.fromstring(text, dtype=np.int64, sep=",")


def _point_source(conn, layer: LayerDef, query: tuple[float, float, float, float],
                  bounds: tuple[float, float, float, float], z: int, retired: Retired) -> tuple[str, tuple] | None:
    """Which rows the tile keeps (a clause on the alias ``t`` and its parameters; None: none): thinned on the
    R-tree's positions before any row is read (a zoom-10 tile of the city's hazard points covers tens of
    thousands of points and keeps a few thousand)."""
    rtree = quote(f"rtree_{layer.name}_geom")
    minx, miny, maxx, maxy = query
    box = (maxx, minx, maxy, miny)
    if layer.tiles.classes_hidden_at(z):  # the class is in the row: candidates through the table
        index = np.array(reference._rows(conn, layer, "t.fid, r.minx, r.miny", query, z), np.float64).reshape(-1, 3)
    else:
        if z >= grid.FULL_DETAIL_ZOOM:
            n = conn.execute(f"SELECT count(*) FROM (SELECT 1 FROM {rtree} WHERE {_IN_BOX} LIMIT {grid.MAX_POINTS + 1})",
                             box).fetchone()[0]
            if n == 0:
                return None
            if n <= grid.MAX_POINTS:  # no thinning (the usual at high zoom): the rows of the box
                return f"t.fid IN (SELECT id FROM {rtree} WHERE {_IN_BOX})", box
        # The boxes are float32: times 2^40 they are integers (exactly, from 2^-17 degrees up), which SQLite
        # writes out much faster than reals (and exactly)
        ids, xs, ys = conn.execute(f"SELECT group_concat(id), group_concat(CAST(minx * {_SCALE} AS INTEGER)), "
                                   f"group_concat(CAST(miny * {_SCALE} AS INTEGER)) FROM {rtree} WHERE {_IN_BOX}",
                                   box).fetchone()
        index = np.zeros((0, 3))
        if ids:
            index = np.column_stack([_integers(ids), _integers(xs) / _SCALE, _integers(ys) / _SCALE])
        if layer.versioned and len(index):
            gone = retired(layer)
            if gone:
                index = index[~np.isin(index[:, 0], np.array(gone, np.float64))]
    if not len(index):
        return None
    fids = index[:, 0].astype(np.int64)
    if z < grid.FULL_DETAIL_ZOOM or len(index) > grid.MAX_POINTS:
        lonlat = index[:, 1:3].copy()
        lonlat[:, 1] = np.clip(lonlat[:, 1], -grid.MAX_LAT, grid.MAX_LAT)
        fids = thin(fids, reference._to_3857(lonlat), bounds)
    return "t.fid IN (SELECT value FROM json_each(?))", (orjson.dumps(np.sort(fids).tolist()).decode(),)


def thin(fids: np.ndarray, xy: np.ndarray, bounds: tuple[float, float, float, float],
         limit: int = grid.MAX_POINTS) -> np.ndarray:
    """The fids :func:`.tiles.thin_points` keeps (it always thins: the caller decides when), in any order.

    The lowest fid of each occupied cell of the 256 × 256 grid (one sort of cell and fid together), then
    of each cell of the coarser grids, from those: a cell of the grid of c cells a side is exactly four
    of the grid of 2c (the cell of a point at c is its cell at 2c halved, as :func:`.tiles.thin_points`
    computes it: the position scaled by a power of two), so its lowest fid is the lowest of theirs."""
    minx, miny, maxx, maxy = bounds
    cells = 256
    col = np.clip(((xy[:, 0] - minx) / (maxx - minx) * cells).astype(np.int64), 0, cells - 1)
    row = np.clip(((xy[:, 1] - miny) / (maxy - miny) * cells).astype(np.int64), 0, cells - 1)
    cell = row * cells + col
    while True:
        if len(fids) and int(fids.max()) < 1 << 40:
            key = np.sort((cell << 40) | fids)
            cell, fids = key >> 40, key & ((1 << 40) - 1)
        else:
            order = np.lexsort((fids, cell))
            cell, fids = cell[order], fids[order]
        first = np.ones(len(cell), bool)
        first[1:] = cell[1:] != cell[:-1]
        cell, fids = cell[first], fids[first]
        if len(fids) <= limit or cells == 1:
            return fids
        row, col = np.divmod(cell, cells)
        cells //= 2
        cell = (row // 2) * cells + col // 2


def _read_points(conn, layer: LayerDef, names: Sequence[str], select: str, clause: str,
                 params: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[Sequence[Any]]]:
    """fids, longitude and latitude, which are points, and the fields' values of the rows ``clause`` picks (fid
    order).

    Read as one row of arrays, so that no Python object is made per row but the values: the fids and
    the geometry blobs concatenated, the fields as JSON arrays (SQLite's ``json_group_array``), in the
    order SQLite walks the fids (ascending: it looks them up in an index of their own; sorted here
    otherwise). Real fields go the usual way (JSON keeps 15 digits of a real), as do fields holding
    a blob and unlike geometry blobs."""
    live = " AND t.retired_at IS NULL" if layer.versioned else ""
    where = f"FROM {quote(layer.name)} t WHERE {clause}{live}"
    if not any(layer.field(n).type == "real" for n in names):
        arrays = "".join(f", json_group_array(t.{quote(n)})" for n in names)
        try:
            packed = conn.execute(f"SELECT group_concat(t.fid), CAST(group_concat(t.geom, '') AS BLOB), "
                                  f"count(*) - count(t.geom){arrays} {where}", params).fetchone()
        except sqlite3.OperationalError:  # a blob in a field: JSON cannot hold it
            packed = None
        if packed is not None and packed[0] is None:
            return np.zeros(0, np.int64), np.zeros((0, 2)), np.zeros(0, bool), []
        if packed is not None and packed[2] == 0:
            fids = _integers(packed[0])
            got = None
            if len(packed[1]) % len(fids) == 0:
                got = _uniform_lonlat(np.frombuffer(packed[1], np.uint8).reshape(len(fids), -1))
            if got is not None:
                columns: list[Sequence[Any]] = [orjson.loads(v) for v in packed[3:]]
                if len(fids) > 1 and not (fids[1:] > fids[:-1]).all():
                    order = np.argsort(fids, kind="stable")
                    fids, got = fids[order], (got[0][order], got[1][order])
                    columns = [_pick(c, order) for c in columns]
                return fids, *got, columns
    rows = conn.execute(f"SELECT {select} {where} ORDER BY t.fid", params).fetchall()
    if not rows:
        return np.zeros(0, np.int64), np.zeros((0, 2)), np.zeros(0, bool), []
    columns = list(zip(*rows))
    return np.array(columns[0], np.int64), *point_lonlat(columns[1]), columns[2:]


def _uniform_lonlat(blobs: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Longitude and latitude from GeoPackage point blobs of one length (rows of ``blobs``); which are not
    empty. None unless all have the same header flags and hold little-endian 2D WKB points."""
    size = blobs.shape[1]
    flags = int(blobs[0, 3]) if len(blobs) and size >= 8 else 0x10
    head = 8 + _ENVELOPE.get((flags >> 1) & 7, -999)
    if head + 21 != size or flags & 0x10 or not (blobs[:, 3] == flags).all() \
            or not (blobs[:, head:head + 5] == _POINT_WKB).all():
        return None
    lonlat = blobs[:, head + 5:head + 21].copy().view("<f8").astype(np.float64)
    return lonlat, ~np.isnan(lonlat).any(axis=1)


def point_lonlat(blobs: Sequence[bytes | None]) -> tuple[np.ndarray, np.ndarray]:
    """Longitude and latitude of GeoPackage point blobs; and which are points (not NULL, not empty)."""
    n = len(blobs)
    if n and all(b is not None for b in blobs) and len({len(b) for b in blobs}) == 1:
        got = _uniform_lonlat(np.frombuffer(b"".join(blobs), np.uint8).reshape(n, -1))
        if got is not None:
            return got
    geoms = reference._geometries(list(blobs))
    ok = (shapely.get_type_id(geoms) == 0) & ~shapely.is_empty(geoms)
    lonlat = np.full((n, 2), np.nan)
    if ok.any():
        lonlat[ok] = shapely.get_coordinates(geoms[ok])
    return lonlat, ok


# -- lines and polygons ---------------------------------------------------------------------------------

_COMMANDS = {mvt_encode.LINESTRING: mvt_encode.line_commands, mvt_encode.POLYGON: mvt_encode.polygon_commands,
             mvt_encode.POINT: mvt_encode.multipoint_commands}
# shapely's type id (index; -1, a missing geometry, is the last) -> MVT type (0: none)
_MVT_TYPE = np.array([0, mvt_encode.LINESTRING, 0, mvt_encode.POLYGON, mvt_encode.POINT, mvt_encode.LINESTRING,
                      mvt_encode.POLYGON, 0], np.int64)


def _shape_rows(conn, layer: LayerDef, select: str, query: tuple[float, float, float, float], z: int) -> list[tuple]:
    """The rows of the box in use (fid order), without the classes hidden at zoom ``z``: as :func:`.tiles._rows`,
    the fids looked up in order (no sort)."""
    minx, miny, maxx, maxy = query
    where = f"t.fid IN (SELECT id FROM {quote(f'rtree_{layer.name}_geom')} WHERE {_IN_BOX})"
    params: list[Any] = [maxx, minx, maxy, miny]
    if layer.versioned:
        where += " AND t.retired_at IS NULL"
    hidden = layer.tiles.classes_hidden_at(z)
    if hidden:
        where += f" AND t.{quote(layer.tiles.class_field)} NOT IN ({', '.join('?' * len(hidden))})"
        params.extend(hidden)
    return conn.execute(f"SELECT {select} FROM {quote(layer.name)} t WHERE {where} ORDER BY t.fid", params).fetchall()


def _shapes(blobs: list[bytes], layer: LayerDef, bounds: tuple[float, float, float, float],
            grow: float) -> tuple[np.ndarray, int, np.ndarray, np.ndarray]:
    """Which rows stay, their MVT type, commands and commands per feature: the geometries projected, those
    under a pixel dropped, the rest clipped to the buffered tile, simplified at one extent unit and snapped
    to the tile's integer grid (dropped where they collapse), as :func:`.tiles.layer_features` and
    :func:`.tiles.encode` do."""
    minx, miny, maxx, maxy = bounds
    size = maxx - minx
    geoms = reference._project(reference._geometries(blobs))
    b = shapely.bounds(geoms)
    idx = np.flatnonzero(np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) >= size / 256)
    geoms = shapely.clip_by_rect(geoms[idx], minx - grow, miny - grow, maxx + grow, maxy + grow)
    geoms = shapely.simplify(geoms, size / grid.EXTENT, preserve_topology="Polygon" in layer.geometry)
    ok = ~shapely.is_empty(geoms)
    geoms, idx = geoms[ok], idx[ok]
    scale = grid.EXTENT / size
    geoms = shapely.transform(geoms, lambda xy: np.round((xy - (minx, miny)) * scale))
    geoms = shapely.set_precision(geoms, 1.0)  # drops repeated points, keeps rings valid
    kinds = _MVT_TYPE[shapely.get_type_id(geoms)]
    ok = ~shapely.is_empty(geoms) & (kinds > 0)
    if not ok.any():
        return np.zeros(0, np.int64), 0, np.zeros(0, np.uint64), np.zeros(0, np.int64)
    # one MVT type a layer (its definition's); a geometry snapped into another kind (rare) is left out
    kind = int(np.bincount(kinds[ok]).argmax())
    ok &= kinds == kind
    commands, counts = _COMMANDS[kind](geoms[ok])
    return idx[ok], kind, commands, counts
