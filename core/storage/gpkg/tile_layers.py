"""Vector tiles of a GeoPackage registry's layers: each row read once, the layer encoded at once.

The tiles :func:`.tiles.layer_features` and :func:`.tiles.encode` describe (the same features,
properties and geometries: tests/test_tiles_encoding.py compares them tile by tile), made with
arrays instead of a feature at a time, and written by :mod:`..mvt_encode`:

* points: the layer's point index (:mod:`.tile_index`: every point in use, in EPSG:3857, with its
  thinning level, kept per process and layer state) gives the points a tile draws, thinned, and their
  positions; only the fields of those rows are read, once, by fid. Positions are quantised and written as
  MoveTo commands;
* lines and polygons: the layer's shape index (:mod:`.tile_shapes`: its geometries in use, already in
  EPSG:3857, with an STRtree and the fields its tiles carry, kept per process and layer state) gives the
  geometries whose box meets the buffered tile box; a layer too large to keep reads the rows of the box
  once (for a layer whose classes appear by zoom, the R-tree's fids less those its class index hides, so
  only rows drawn are read) and projects them. Either way they are clipped, simplified and snapped to the
  tile grid by shapely's vectorised functions; their commands from shapely's coordinate arrays.

A tile of several layers (the dataset's ``/tiles``) shares the tile's box and bounds; each layer
is a Tile message of its own, and the messages concatenate into one tile (repeated fields of
protobuf messages concatenate).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from operator import itemgetter
from typing import Any

import numpy as np
import orjson
import shapely

from ...schema import LayerDef
from .. import mvt_encode
from .. import tiles as grid
from ..base import quote
from . import tile_index, tile_shapes
from . import tiles as reference
from .changes import stamp


def tile(conn, where: str, layers: list[LayerDef], personal: bool, z: int, x: int, y: int) -> bytes:
    """Tile ``z/x/y`` of ``layers`` of the registry at ``where`` (b"" when none holds anything)."""
    bounds = grid.tile_bounds(z, x, y)
    now = stamp(conn)
    return b"".join(layer_tile(conn, where, layer, personal, (z, x, y), bounds, now) for layer in layers)


def layer_tile(conn, where: str, layer: LayerDef, personal: bool, zxy: tuple[int, int, int],
               bounds: tuple[float, float, float, float], now: tuple) -> bytes:
    """One layer of the tile ``zxy`` with ``bounds`` (EPSG:3857) as a Tile message (b"" when it holds nothing);
    ``now``: the registry's stamp."""
    z = zxy[0]
    if z < layer.tiles.min_zoom or not layer.has_geometry:
        return b""
    minx, miny, maxx, maxy = bounds
    point = "Point" in layer.geometry and "Multi" not in layer.geometry
    names, booleans, select = _fields(layer, personal, z)
    if point:
        index = tile_index.points(conn, where, layer, z, now)
        pick = index.tile(*zxy)
        fids, xy = index.fids[pick], index.xy[pick]
        columns: list[Any] = []
        if len(fids) and all(n in index.columns for n in names):  # below the detail zoom: all kept
            columns = [index.columns[n].take(pick) for n in names]
        elif len(fids) and names:
            got, columns = _read_fields(conn, layer, names, fids)
            if len(got) < len(fids):  # written meanwhile (the index is of the stamp checked just before)
                kept = np.isin(fids, got)
                fids, xy = fids[kept], xy[kept]
        if not len(fids):
            return b""
        snapped = np.round((xy - (minx, miny)) * (grid.EXTENT / (maxx - minx)))
        commands, counts = mvt_encode.point_commands(snapped[:, 0], snapped[:, 1])
        geom_type, keep = mvt_encode.POINT, None
    else:
        grow = (maxx - minx) * grid.BUFFER / grid.EXTENT
        box = (minx - grow, miny - grow, maxx + grow, maxy + grow)
        shapes = tile_shapes.shapes(conn, where, layer, z, now)
        if shapes.tree is not None:  # the layer's projected geometries, kept: those the tile's box meets
            pick = shapes.query(box)
            if len(pick) and names and not all(n in shapes.columns for n in names):
                got, columns = _read_fields(conn, layer, names, shapes.fids[pick])
                if len(got) < len(pick):  # written meanwhile (the index is of the stamp checked just before)
                    pick = pick[np.isin(shapes.fids[pick], got)]
            keep, geom_type, commands, counts = _shapes(shapes.geoms[pick], layer, bounds, grow,
                                                        shapes.boxes[pick])
            if len(keep) == 0:
                return b""
            fids = shapes.fids[pick[keep]]
            if all(n in shapes.columns for n in names):
                columns, keep = [shapes.columns[n].take(pick[keep]) for n in names], None
        else:
            rows = [r for r in _shape_rows(conn, where, layer, select, grid.lonlat_bounds(box), z, now)
                    if r[1] is not None]
            if not rows:
                return b""
            columns = list(zip(*rows))
            fids = np.array(columns[0], dtype=np.int64)
            columns = columns[2:]
            keep, geom_type, commands, counts = _shapes(reference._project(reference._geometries([r[1] for r in rows])),
                                                        layer, bounds, grow)
            if len(keep) == 0:
                return b""
            fids = fids[keep]
    props = [(name, _pick(columns[i], keep), i in booleans) for i, name in enumerate(names)]
    return mvt_encode.layer(layer.name, fids.astype(np.uint64), geom_type, commands, counts, props)


_fields_of: dict[tuple, tuple] = {}


def _fields(layer: LayerDef, personal: bool, z: int) -> tuple[tuple[str, ...], tuple[int, ...], str]:
    """:func:`.tiles._fields`, worked out once per layer, audience and zoom."""
    key = (id(layer), personal, z)
    hit = _fields_of.get(key)
    if hit is None or hit[0] is not layer:
        hit = _fields_of[key] = (layer, reference._fields(layer, personal, z))
    return hit[1]


def _pick(column: Any, keep: np.ndarray | None) -> Any:
    if keep is None:
        return column
    if len(keep) == 1:
        return (column[int(keep[0])],)
    return itemgetter(*keep.tolist())(column) if len(keep) else ()


def _fids_json(fids: np.ndarray) -> str:
    return orjson.dumps(fids.tolist()).decode()


def _read_fields(conn, layer: LayerDef, names: Sequence[str], fids: np.ndarray) -> tuple[np.ndarray,
                                                                                        list[Sequence[Any]]]:
    """The fids among ``fids`` (ascending) still in use, and the fields' values of their rows (fid order).

    Read as one row of arrays, so that no Python object is made per row but the values: the fids
    concatenated, the fields as JSON arrays (SQLite's ``json_group_array``), in the order SQLite walks
    the fids (ascending: it looks them up in an index of their own; sorted here otherwise). Real fields
    go the usual way (JSON keeps 15 digits of a real), as do fields holding a blob."""
    live = " AND t.retired_at IS NULL" if layer.versioned else ""
    where = f"FROM {quote(layer.name)} t WHERE t.fid IN (SELECT value FROM json_each(?)){live}"
    params = (_fids_json(fids),)
    if not any(layer.field(n).type == "real" for n in names):
        arrays = ", ".join(f"json_group_array(t.{quote(n)})" for n in names)
        try:
            packed = conn.execute(f"SELECT group_concat(t.fid), {arrays} {where}", params).fetchone()
        except sqlite3.OperationalError:  # a blob in a field: JSON cannot hold it
            packed = None
        if packed is not None:
            if packed[0] is None:
                return np.zeros(0, np.int64), []
            got = tile_index.integers(packed[0])
            columns: list[Sequence[Any]] = [orjson.loads(v) for v in packed[1:]]
            if len(got) > 1 and not (got[1:] > got[:-1]).all():
                order = np.argsort(got, kind="stable")
                got, columns = got[order], [_pick(c, order) for c in columns]
            return got, columns
    cols = ", ".join("t." + quote(n) for n in names)
    rows = conn.execute(f"SELECT t.fid, {cols} {where} ORDER BY t.fid", params).fetchall()
    if not rows:
        return np.zeros(0, np.int64), []
    columns = list(zip(*rows))
    return np.array(columns[0], np.int64), columns[1:]


# -- lines and polygons ---------------------------------------------------------------------------------

_COMMANDS = {mvt_encode.LINESTRING: mvt_encode.line_commands, mvt_encode.POLYGON: mvt_encode.polygon_commands,
             mvt_encode.POINT: mvt_encode.multipoint_commands}
# shapely's type id (index; -1, a missing geometry, is the last) -> MVT type (0: none)
_MVT_TYPE = np.array([0, mvt_encode.LINESTRING, 0, mvt_encode.POLYGON, mvt_encode.POINT, mvt_encode.LINESTRING,
                      mvt_encode.POLYGON, 0], np.int64)


_IN_BOX = "minx <= ? AND maxx >= ? AND miny <= ? AND maxy >= ?"


def _shape_rows(conn, where: str, layer: LayerDef, select: str, query: tuple[float, float, float, float], z: int,
                now: tuple) -> list[tuple]:
    """The rows of the box in use (fid order), without the classes hidden at zoom ``z``: as :func:`.tiles._rows`,
    the fids looked up in order (no sort). Where classes are hidden, the R-tree's fids go through the layer's
    class index first, so only the rows drawn are read."""
    minx, miny, maxx, maxy = query
    rtree = quote(f"rtree_{layer.name}_geom")
    box: list[Any] = [maxx, minx, maxy, miny]
    clause, params = f"t.fid IN (SELECT id FROM {rtree} WHERE {_IN_BOX})", box
    if layer.versioned:
        clause += " AND t.retired_at IS NULL"
    hidden = layer.tiles.classes_hidden_at(z)
    if hidden:
        ids = conn.execute(f"SELECT group_concat(id) FROM {rtree} WHERE {_IN_BOX}", box).fetchone()[0]
        if not ids:
            return []
        drawn = tile_index.classes(conn, where, layer, now).drawn(tile_index.integers(ids), z)
        clause = clause.replace(f"(SELECT id FROM {rtree} WHERE {_IN_BOX})", "(SELECT value FROM json_each(?))")
        params = [_fids_json(np.sort(drawn))]
        clause += f" AND t.{quote(layer.tiles.class_field)} NOT IN ({', '.join('?' * len(hidden))})"
        params.extend(hidden)
    return conn.execute(f"SELECT {select} FROM {quote(layer.name)} t WHERE {clause} ORDER BY t.fid",
                        params).fetchall()


def _shapes(geoms: np.ndarray, layer: LayerDef, bounds: tuple[float, float, float, float], grow: float,
            boxes: np.ndarray | None = None) -> tuple[np.ndarray, int, np.ndarray, np.ndarray]:
    """Which of ``geoms`` (EPSG:3857; ``boxes``: their bounds, if known) stay, their MVT type, commands and
    commands per feature: those under a pixel dropped, the rest clipped to the buffered tile, simplified at one
    extent unit and snapped to the tile's integer grid (dropped where they collapse), as
    :func:`.tiles.layer_features` and :func:`.tiles.encode` do."""
    minx, miny, maxx, maxy = bounds
    size = maxx - minx
    b = shapely.bounds(geoms) if boxes is None else boxes
    idx = np.flatnonzero(np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) >= size / 256)
    clip = (minx - grow, miny - grow, maxx + grow, maxy + grow)
    b = b[idx]
    cross = (b[:, 0] < clip[0]) | (b[:, 1] < clip[1]) | (b[:, 2] > clip[2]) | (b[:, 3] > clip[3])
    geoms = geoms[idx]
    if cross.any():  # those inside the box are their own clip (GEOS would copy them)
        geoms[cross] = shapely.clip_by_rect(geoms[cross], *clip)
    lines = "LineString" in layer.geometry
    if lines:  # a segment (two distinct points: it is over a pixel) inside the box is its own simplification
        simplify = cross | (shapely.get_num_coordinates(geoms) > 2)
        geoms[simplify] = shapely.simplify(geoms[simplify], size / grid.EXTENT, preserve_topology=False)
    else:
        geoms = shapely.simplify(geoms, size / grid.EXTENT, preserve_topology="Polygon" in layer.geometry)
    ok = ~shapely.is_empty(geoms)
    geoms, idx = geoms[ok], idx[ok]
    scale = grid.EXTENT / size
    if lines:  # snapped as their commands are made, from the coordinates (no geometry made again)
        kinds = _MVT_TYPE[shapely.get_type_id(geoms)]
        ok = kinds > 0
        if ok.any() and int(np.bincount(kinds[ok]).argmax()) == mvt_encode.LINESTRING:
            ok &= kinds == mvt_encode.LINESTRING
            commands, counts = mvt_encode.line_commands(geoms[ok], snap=(minx, miny, scale))
            return idx[ok], mvt_encode.LINESTRING, commands, counts
    geoms = shapely.transform(geoms, lambda xy: np.round((xy - (minx, miny)) * scale))
    if "Polygon" in layer.geometry:  # keeps rings valid (and drops repeated points)
        geoms = shapely.set_precision(geoms, 1.0)
    # lines: GEOS reduces their precision point by point, dropping repeated points and the parts left with fewer
    # than two, which the commands leave out anyway (mvt_commands._arcs); a feature left with none is left out
    kinds = _MVT_TYPE[shapely.get_type_id(geoms)]
    ok = ~shapely.is_empty(geoms) & (kinds > 0)
    if not ok.any():
        return np.zeros(0, np.int64), 0, np.zeros(0, np.uint64), np.zeros(0, np.int64)
    # one MVT type a layer (its definition's); a geometry snapped into another kind (rare) is left out
    kind = int(np.bincount(kinds[ok]).argmax())
    ok &= kinds == kind
    commands, counts = _COMMANDS[kind](geoms[ok])
    return idx[ok], kind, commands, counts
