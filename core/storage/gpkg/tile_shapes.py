"""The lines and polygons of a GeoPackage layer as its tiles need them, kept per process and layer state.

A tile of lines or polygons used to read its rows from the R-tree, parse their blobs and project them
to EPSG:3857 (at zoom 12 on the city sample, about two thirds of a road tile's time); the same rows are
read again by every neighbouring tile and every zoom. :class:`ShapeIndex` holds a layer's geometries in use
(but the classes a zoom hides, as :func:`.tile_index.points` keys them) already projected, in fid order,
with their bounds and a shapely ``STRtree``, and the fields the layer's tiles carry (coded, as the point
index keeps them): a tile asks the tree for the geometries whose box meets the buffered tile box (the
R-tree's rows less those whose projected box misses it, which clipping would drop) and clips, simplifies
and snaps only those, exactly as before (tests/test_tiles_encoding.py compares the tiles with the reference
encoder's, tile by tile).

Kept as the point index is (:func:`.tile_index._current`: checked against the registry's stamps on every
tile, rebuilt after a write to the layer). A layer with more than :data:`MAX_SHAPES` rows drawn at a zoom
is not kept (its tiles read their rows as before): the city's 55,000 roads drawn at zoom 12 take about a
second to index and some 25 MB (those of zooms 9 and 11 another 30 MB, each index built when a tile of its
zoom is first asked for); its 374,000 roads drawn from zoom 13 would take several times that in each worker,
for tiles that read few rows anyway.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely

from ...schema import LayerDef
from .. import mvt_encode
from ..base import quote
from . import tile_index
from .tiles import _geometries as geometries
from .tiles import _project as project

MAX_SHAPES = 150_000


@dataclass
class ShapeIndex:
    fids: np.ndarray  # int64, ascending
    geoms: np.ndarray  # shapely geometries in EPSG:3857 (fid order)
    boxes: np.ndarray  # float64 (n, 4): each geometry's bounds (NaN when empty)
    tree: shapely.STRtree | None  # None: the layer is too large to be kept (its tiles read their rows)
    columns: dict[str, mvt_encode.Coded] = field(default_factory=dict)  # name -> values, coded (fid order)
    stamps: tuple = field(default=())

    def query(self, box: tuple[float, float, float, float]) -> np.ndarray:
        """Positions (ascending: fid order) of the geometries whose box meets ``box`` (EPSG:3857)."""
        assert self.tree is not None
        return np.sort(self.tree.query(shapely.box(*box)))


def coded(layer: LayerDef, names: tuple[str, ...], values: list) -> dict[str, mvt_encode.Coded]:
    return {n: mvt_encode.Coded.of(v, layer.field(n).type == "boolean") for n, v in zip(names, values)}


def shapes(conn, path: str, layer: LayerDef, z: int, now: tuple | None = None) -> ShapeIndex:
    """The shape index of ``layer`` (lines or polygons) for zoom ``z`` (the classes drawn from that zoom)."""
    hidden = layer.tiles.classes_hidden_at(z)
    return tile_index._current(conn, path, layer, (path, layer.name, "shapes", hidden),
                               lambda: build_shapes(conn, layer, hidden), now)


def build_shapes(conn, layer: LayerDef, hidden: tuple[str, ...] = ()) -> ShapeIndex:
    """Every geometry in use of ``layer`` (but the ``hidden`` classes), projected and indexed; an index without
    a tree when there are more than :data:`MAX_SHAPES`."""
    where, params = ["t.geom IS NOT NULL"], []
    if layer.versioned:
        where.append("t.retired_at IS NULL")
    if hidden:
        where.append(f"t.{quote(layer.tiles.class_field)} NOT IN ({', '.join('?' * len(hidden))})")
        params.extend(hidden)
    sql = f"FROM {quote(layer.name)} t WHERE {' AND '.join(where)}"
    rows = conn.execute(f"SELECT count(*) {sql}", params).fetchone()[0]
    if rows > MAX_SHAPES:
        return ShapeIndex(np.zeros(0, np.int64), np.zeros(0, object), np.zeros((0, 4)), None)
    names = tile_index.kept_fields(layer, rows)
    cols = "".join(", t." + quote(n) for n in names)
    got = conn.execute(f"SELECT t.fid, t.geom{cols} {sql} ORDER BY t.fid", params).fetchall()
    columns: list[Any] = list(zip(*got)) if got else [(), ()] + [() for _ in names]
    fids = np.array(columns[0], np.int64)
    geoms = project(geometries(list(columns[1]))) if got else np.zeros(0, object)
    boxes = shapely.bounds(geoms) if got else np.zeros((0, 4))
    tree = shapely.STRtree(geoms)
    tree.query(shapely.box(0, 0, 0, 0))  # built now, once (queries from several threads then only read it)
    return ShapeIndex(fids, geoms, boxes, tree, coded(layer, names, columns[2:]))
