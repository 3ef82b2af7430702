"""Geometry commands of Mapbox Vector Tile features (MoveTo, LineTo, ClosePath with zig-zag deltas), made for
all of a layer's points, lines or rings at once from shapely's coordinate arrays; written into the layer by
:mod:`.mvt_encode` (which says by which rules)."""

from __future__ import annotations

import numpy as np
import shapely

EXTENT = 4096
POINT, LINESTRING, POLYGON = 1, 2, 3
_MOVE_TO_1 = (1 << 3) | 1
_CLOSE_PATH = (1 << 3) | 7
_U64 = np.uint64


def zigzag(d: np.ndarray) -> np.ndarray:
    """Zig-zag codes of signed deltas (int64)."""
    return ((d << 1) ^ (d >> 63)).astype(_U64)


def point_commands(ix: np.ndarray, iy: np.ndarray, extent: int = EXTENT) -> tuple[np.ndarray, np.ndarray]:
    """MoveTo commands of points at integer tile coordinates (``iy`` counted upwards, as shapely's)."""
    n = len(ix)
    cmd = np.empty((n, 3), _U64)
    cmd[:, 0] = _MOVE_TO_1
    cmd[:, 1] = zigzag(ix.astype(np.int64))
    cmd[:, 2] = zigzag(extent - iy.astype(np.int64))
    return cmd.ravel(), np.full(n, 3, np.int64)


def _arcs(xy: np.ndarray, arc: np.ndarray, arc_feature: np.ndarray, n: int, closed: bool,
          polygon_of_arc: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Commands of arcs (lines, or rings without their closing point when ``closed``): ``xy`` integer tile
    coordinates (y downwards) of every arc's points in order, ``arc`` the arc of each point (ascending),
    ``arc_feature`` the feature of each arc (ascending; ``n`` features). With ``polygon_of_arc`` (ascending),
    a polygon whose first arc (its exterior) is left out is left out whole."""
    arcs = len(arc_feature)
    keep = np.ones(len(xy), bool)
    if len(xy) > 1:
        keep[1:] = ~((xy[1:] == xy[:-1]).all(1) & (arc[1:] == arc[:-1]))
    k = np.bincount(arc[keep], minlength=arcs)
    ok = k >= 2
    if polygon_of_arc is not None:
        first = np.ones(arcs, bool)
        first[1:] = polygon_of_arc[1:] != polygon_of_arc[:-1]
        exterior_ok = np.zeros(int(polygon_of_arc.max()) + 1 if arcs else 0, bool)
        exterior_ok[polygon_of_arc[first]] = ok[first]
        ok &= exterior_ok[polygon_of_arc]
    keep &= ok[arc]
    xy, arc = xy[keep], arc[keep]
    k = np.where(ok, k, 0)
    feature = arc_feature[arc]
    d = np.empty_like(xy)
    d[0:1] = xy[0:1]
    d[1:] = xy[1:] - xy[:-1]
    if len(xy):
        first_of_feature = np.ones(len(xy), bool)
        first_of_feature[1:] = feature[1:] != feature[:-1]
        d[first_of_feature] = xy[first_of_feature]
    per_arc = np.where(ok, 2 * k + 2 + closed, 0)
    arc_start = np.cumsum(per_arc) - per_arc
    cmd = np.empty(int(per_arc.sum()), _U64)
    s = arc_start[ok]
    cmd[s] = _MOVE_TO_1
    cmd[s + 3] = ((k[ok] - 1) << 3) | 2
    if closed:
        cmd[s + per_arc[ok] - 1] = _CLOSE_PATH
    rank = np.arange(len(xy)) - np.repeat(np.cumsum(k) - k, k)
    at = arc_start[arc] + 1 + 2 * rank + (rank > 0)
    zz = zigzag(d)
    cmd[at] = zz[:, 0]
    cmd[at + 1] = zz[:, 1]
    counts = np.bincount(arc_feature, weights=per_arc, minlength=n).astype(np.int64)
    return cmd, counts


def _grid(coords: np.ndarray, extent: int) -> np.ndarray:
    xy = coords.astype(np.int64)
    xy[:, 1] = extent - xy[:, 1]
    return xy


def line_commands(geoms: np.ndarray, extent: int = EXTENT,
                  snap: tuple[float, float, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Commands of (multi)linestrings on the integer tile grid (y upwards); per feature their count. With
    ``snap`` (x, y, scale) the lines are in map units, put on the grid here: rounded ``(xy - (x, y)) * scale``."""
    parts, feature = shapely.get_parts(geoms, return_index=True)
    coords, arc = shapely.get_coordinates(parts, return_index=True)
    if snap is not None:
        coords = np.round((coords - snap[:2]) * snap[2])
    return _arcs(_grid(coords, extent), arc, feature, len(geoms), closed=False)


def polygon_commands(geoms: np.ndarray, extent: int = EXTENT) -> tuple[np.ndarray, np.ndarray]:
    """Commands of (multi)polygons on the integer tile grid (y upwards), exteriors turned clockwise and
    interiors anticlockwise (as y upwards; the other way round on the tile, whose y runs down)."""
    geoms = shapely.orient_polygons(geoms, exterior_cw=True)
    parts, feature = shapely.get_parts(geoms, return_index=True)
    rings, polygon = shapely.get_rings(parts, return_index=True)
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    last = np.ones(len(ring), bool)
    last[:-1] = ring[1:] != ring[:-1]
    return _arcs(_grid(coords[~last], extent), ring[~last], feature[polygon], len(geoms), closed=True,
                 polygon_of_arc=polygon)


def multipoint_commands(geoms: np.ndarray, extent: int = EXTENT) -> tuple[np.ndarray, np.ndarray]:
    """One MoveTo of all a multipoint's points (deltas from the previous one); per feature their count."""
    coords, feature = shapely.get_coordinates(geoms, return_index=True)
    xy = _grid(coords, extent)
    n = len(geoms)
    k = np.bincount(feature, minlength=n)
    d = np.empty_like(xy)
    if len(xy):
        d[0] = xy[0]
        d[1:] = xy[1:] - xy[:-1]
        first = np.ones(len(xy), bool)
        first[1:] = feature[1:] != feature[:-1]
        d[first] = xy[first]
    per = np.where(k > 0, 1 + 2 * k, 0)
    start = np.cumsum(per) - per
    cmd = np.empty(int(per.sum()), _U64)
    cmd[start[k > 0]] = (k[k > 0] << 3) | 1
    rank = np.arange(len(xy)) - np.repeat(np.cumsum(k) - k, k)
    at = start[feature] + 1 + 2 * rank
    zz = zigzag(d)
    cmd[at] = zz[:, 0]
    cmd[at + 1] = zz[:, 1]
    return cmd, per.astype(np.int64)
