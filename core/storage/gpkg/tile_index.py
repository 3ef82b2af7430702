"""What the tiles of a GeoPackage layer need of the whole layer, computed once per layer state and kept per process.

* **Points** (:class:`PointIndex`): every point in use, already in EPSG:3857, ordered by its key of the
  Web Mercator pyramid (:func:`..tiles.morton`: a tile is one range of keys) with its thinning level
  (:func:`..tiles.thinning_levels`). A tile finds its points with two binary searches, counts them by level
  to choose its grid, and keeps those of level ≤ that grid's (exactly what thinning the tile's points would
  keep): no R-tree query, no geometry read; only the kept rows' fields are read, by fid, but those the index
  keeps (:func:`kept_fields`: the fields carried below the layer's detail zoom, or every field of a small
  layer). The city's 140,000 hazard points take about 0.1 s to index, a million population cells about 1 s,
  and 33 bytes a point.
* **Classes hidden by zoom** (:class:`ClassIndex`, roads): the zoom from which each fid is drawn, so that the
  rows a tile reads are only those it draws (at zoom 12 a seventh of the roads in the box), where the layer
  is too large for a shape index (:mod:`.tile_shapes`, which keeps lines and polygons alike).

Each index is keyed by the registry, the layer and (for points and shapes) the classes a zoom hides, and checked against
the registry's stamps (:mod:`.changes`) on every tile: kept while only other layers are written, rebuilt after
a write to its layer. The stamps are asked once per tile: an index checked at the registry's stamp of now is
current.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import shapely

from ...schema import LayerDef
from .. import mvt_encode
from .. import tiles as grid
from ..base import quote
from ..rows import served_fields
from .blobs import _ENVELOPE_SIZES as _ENVELOPE
from .changes import stamp, unchanged
from .tiles import _geometries as geometries
from .tiles import _to_3857 as to_3857

SMALL_LAYER = 20_000  # a layer of at most so many rows keeps all its fields in its index
_indexes: dict[tuple, Any] = {}
_building: dict[tuple, threading.Lock] = {}
_lock = threading.Lock()


@dataclass
class PointIndex:
    keys: np.ndarray  # uint64, ascending
    fids: np.ndarray  # int64, in key order (ascending within a key)
    levels: np.ndarray  # uint8
    xy: np.ndarray  # float64 (n, 2), EPSG:3857
    # the fields carried below the layer's detail zoom: name -> the values, coded (in key order; -1: none)
    columns: dict[str, mvt_encode.Coded] = field(default_factory=dict)
    stamps: tuple = field(default=())  # (the layer's stamp, the registry's stamp) it was last checked at

    def tile(self, z: int, x: int, y: int) -> np.ndarray:
        """Which points (positions in the index, in fid order) tile ``z/x/y`` draws, thinned as
        :func:`.tiles.thin_points` would thin the tile's points."""
        lo, hi = grid.tile_keys(z, x, y)
        a = int(np.searchsorted(self.keys, np.uint64(lo)))
        b = len(self.keys) if hi >= 1 << 64 else int(np.searchsorted(self.keys, np.uint64(hi)))
        if b - a > grid.MAX_POINTS or (z < grid.FULL_DETAIL_ZOOM and b > a):
            levels = self.levels[a:b]
            top = grid.kept_level(np.bincount(levels, minlength=grid.NO_LEVEL + 1), z)
            pick = np.flatnonzero(levels <= top) + a
        else:
            pick = np.arange(a, b)
        return pick[np.argsort(self.fids[pick], kind="stable")]


@dataclass
class ClassIndex:
    zoom: np.ndarray  # uint8 per fid: the zoom from which the feature is drawn (0 past the end)
    stamps: tuple = field(default=())

    def drawn(self, fids: np.ndarray, z: int) -> np.ndarray:
        """Those of ``fids`` drawn at zoom ``z`` (fids unknown to the index are kept: the rows read are checked)."""
        known = fids < len(self.zoom)
        shown = np.ones(len(fids), bool)
        shown[known] = self.zoom[fids[known]] <= z
        return fids[shown]


def _current(conn, path: str, layer: LayerDef, key: tuple, build, now: tuple | None) -> Any:
    """The index under ``key``, checked against the stamps (``now``: the registry's stamp, if known), built by
    ``build()`` when missing or stale (once: another thread asking meanwhile waits for it)."""
    now = now if now is not None else stamp(conn)
    index = _indexes.get(key)
    if index is not None and index.stamps[1] == now:
        return index
    mine = stamp(conn, layer.name)
    if index is not None and (index.stamps[0] == mine or unchanged(conn, layer.name, index.stamps[0], mine)):
        index.stamps = (mine, now)
        return index
    with _lock:
        lock = _building.setdefault(key, threading.Lock())
    with lock:
        index = _indexes.get(key)
        if index is not None and index.stamps[0] == mine:
            return index
        with _snapshot(conn):  # the stamps are those of the rows read
            mine, now = stamp(conn, layer.name), stamp(conn)
            index = build()
        index.stamps = (mine, now)
        with _lock:
            for old in [k for k in _indexes if k[:2] == key[:2] and k != key and _indexes[k].stamps[0] != mine]:
                del _indexes[old]  # the layer's indexes of other zooms' classes, gone stale
            _indexes[key] = index
    return index


@contextmanager
def _snapshot(conn):
    """One read transaction (WAL: every statement sees the same state), unless the connection is in one."""
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.execute("COMMIT")


def points(conn, path: str, layer: LayerDef, z: int, now: tuple | None = None) -> PointIndex:
    """The point index of ``layer`` (single points) for zoom ``z`` (the classes drawn from that zoom)."""
    hidden = layer.tiles.classes_hidden_at(z)
    return _current(conn, path, layer, (path, layer.name, "points", hidden),
                    lambda: build_points(conn, layer, hidden), now)


def classes(conn, path: str, layer: LayerDef, now: tuple | None = None) -> ClassIndex:
    """The zoom from which each feature of ``layer`` (with classes hidden by zoom) is drawn."""
    return _current(conn, path, layer, (path, layer.name, "classes"), lambda: build_classes(conn, layer), now)


def build_points(conn, layer: LayerDef, hidden: tuple[str, ...] = ()) -> PointIndex:
    """Every point in use of ``layer`` (but the ``hidden`` classes), indexed."""
    where, params = ["t.geom IS NOT NULL"], []
    if layer.versioned:
        where.append("t.retired_at IS NULL")
    if hidden:
        where.append(f"t.{quote(layer.tiles.class_field)} NOT IN ({', '.join('?' * len(hidden))})")
        params.extend(hidden)
    rows = None if layer.tiles.detail_zoom > 0 else conn.execute(
        f"SELECT count(*) FROM {quote(layer.name)} t WHERE {' AND '.join(where)}", params).fetchone()[0]
    names = kept_fields(layer, rows or 0)
    fids, lonlat, ok, values = read_points(conn, layer, " AND ".join(where), tuple(params), names)
    columns = {n: mvt_encode.Coded.of(v, layer.field(n).type == "boolean") for n, v in zip(names, values)}
    if not ok.all():
        fids, lonlat = fids[ok], lonlat[ok]
        columns = {n: c.take(np.flatnonzero(ok)) for n, c in columns.items()}
    lonlat[:, 1] = np.clip(lonlat[:, 1], -grid.MAX_LAT, grid.MAX_LAT)
    xy = to_3857(lonlat) if len(lonlat) else np.zeros((0, 2))
    keys = grid.morton(*grid.pyramid_cells(xy))
    order = np.argsort(keys, kind="stable")  # the rows came in fid order: equal keys keep it
    keys, fids, xy = keys[order], fids[order], xy[order]
    columns = {n: c.take(order) for n, c in columns.items()}
    return PointIndex(keys, fids, grid.thinning_levels(keys, fids), xy, columns)


def kept_fields(layer: LayerDef, rows: int) -> tuple[str, ...]:
    """The fields an index of ``layer`` (of ``rows`` rows) keeps: those its tiles carry below the detail zoom; or
    every field (personal ones too: a tile takes those it serves) of a small layer without such a list, so that
    its tiles read no row at all."""
    if layer.tiles.detail_zoom > 0:
        return tuple(layer.tiles.fields)
    return served_fields(layer, True)[0] if rows <= SMALL_LAYER else ()


def build_classes(conn, layer: LayerDef) -> ClassIndex:
    """The zoom from which each fid is drawn: its class's (0 for the classes drawn from the layer's own zoom)."""
    rules, table = layer.tiles, quote(layer.name)
    by_class = dict(rules.class_min_zoom)
    size = conn.execute(f"SELECT max(fid) FROM {table}").fetchone()[0] or 0
    zoom = np.zeros(size + 1, np.uint8)
    column = quote(rules.class_field)
    rows = conn.execute(f"SELECT {column}, group_concat(fid) FROM {table} WHERE {column} IN "
                        f"({', '.join('?' * len(by_class))}) GROUP BY {column}", tuple(by_class)).fetchall()
    for value, fids in rows:
        if fids:
            zoom[integers(fids)] = by_class[value]
    return ClassIndex(zoom)


# -- reading points at once ------------------------------------------------------------------------------

_POINT_WKB = np.array([1, 1, 0, 0, 0], np.uint8)  # little-endian, type 1 (Point)


def integers(text: str) -> np.ndarray:
    """The integers of SQLite's ``group_concat`` (comma-separated) as an array."""
    return np.fromstring(text, dtype=np.int64, sep=",")


def read_points(conn, layer: LayerDef, where: str, params: tuple,
                names: Sequence[str] = ()) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[Sequence[Any]]]:
    """fids, longitude and latitude, which are points, and the values of fields ``names``, of the rows of
    ``layer`` (alias ``t``) ``where`` picks, in fid order.

    Read as one row of arrays when the blobs are alike, so that no Python object is made per row but the
    values: the fids and the geometry blobs concatenated by SQLite, the fields as JSON arrays
    (``json_group_array``), in the order SQLite walks the fids. Real fields go the usual way, row by row
    (JSON keeps 15 digits of a real), as do fields holding a blob and unlike geometry blobs."""
    sql = f"FROM {quote(layer.name)} t WHERE {where}"
    packed = None
    if not any(layer.field(n).type == "real" for n in names):
        arrays = "".join(f", json_group_array(t.{quote(n)})" for n in names)
        try:
            packed = conn.execute(f"SELECT group_concat(t.fid), CAST(group_concat(t.geom, '') AS BLOB), "
                                  f"count(*) - count(t.geom){arrays} {sql}", params).fetchone()
        except sqlite3.OperationalError:  # a blob in a field: JSON cannot hold it
            packed = None
    if packed is not None and packed[0] is None:
        return np.zeros(0, np.int64), np.zeros((0, 2)), np.zeros(0, bool), [() for _ in names]
    if packed is not None and packed[2] == 0:
        fids = integers(packed[0])
        got = None
        if len(packed[1]) % len(fids) == 0:
            got = uniform_lonlat(np.frombuffer(packed[1], np.uint8).reshape(len(fids), -1))
        if got is not None:
            columns: list[Sequence[Any]] = [orjson.loads(v) for v in packed[3:]]
            if len(fids) > 1 and not (fids[1:] > fids[:-1]).all():
                order = np.argsort(fids, kind="stable")
                fids, got = fids[order], (got[0][order], got[1][order])
                columns = [[c[i] for i in order.tolist()] for c in columns]
            return fids, *got, columns
    cols = "".join(", t." + quote(n) for n in names)
    rows = conn.execute(f"SELECT t.fid, t.geom{cols} {sql} ORDER BY t.fid", params).fetchall()
    columns = list(zip(*rows))[2:] if rows else [() for _ in names]
    return np.array([r[0] for r in rows], np.int64), *point_lonlat([r[1] for r in rows]), columns


def uniform_lonlat(blobs: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
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


def point_lonlat(blobs: list[bytes | None]) -> tuple[np.ndarray, np.ndarray]:
    """Longitude and latitude of GeoPackage point blobs; and which are points (not NULL, not empty)."""
    n = len(blobs)
    if n and all(b is not None for b in blobs) and len({len(b) for b in blobs}) == 1:
        got = uniform_lonlat(np.frombuffer(b"".join(blobs), np.uint8).reshape(n, -1))
        if got is not None:
            return got
    geoms = geometries(blobs)
    ok = (shapely.get_type_id(geoms) == 0) & ~shapely.is_empty(geoms)
    lonlat = np.full((n, 2), np.nan)
    if ok.any():
        lonlat[ok] = shapely.get_coordinates(geoms[ok])
    return lonlat, ok
