"""The tile grid both backends tile on: WebMercatorQuad, a 4096 extent, and the thinning limits they share.

:mod:`.gpkg.tiles` encodes a GeoPackage's tiles, :mod:`.postgis.tiles` has PostgreSQL write them
(``ST_AsMVT``), both by these numbers; the API's tile matrix set is described from them too.
"""

from __future__ import annotations

import math

import numpy as np

EXTENT = 4096
BUFFER = 64  # extent units kept around the tile for lines and polygons
MAX_POINTS = 2000  # points of one layer in one tile, beyond which they are thinned
FULL_DETAIL_ZOOM = 12  # from this zoom on, points are thinned only beyond MAX_POINTS
MAX_ZOOM = 24
ORIGIN = 20037508.342789244  # half the side of the WebMercatorQuad square, in metres
MAX_LAT = 85.0511287798066


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """The tile's box in EPSG:3857 (row ``y`` counted from the top)."""
    size = 2 * ORIGIN / (1 << z)
    minx = -ORIGIN + x * size
    maxy = ORIGIN - y * size
    return minx, maxy - size, minx + size, maxy


def _lon(x: float) -> float:
    return x / ORIGIN * 180.0


def _lat(y: float) -> float:
    return math.degrees(2 * math.atan(math.exp(y / ORIGIN * math.pi)) - math.pi / 2)


def lonlat_bounds(bounds: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """A box of EPSG:3857 in longitude/latitude (exact: the projection keeps axes apart).

    The tiles of the top and bottom rows reach the poles, beyond the projection's edge.
    """
    minx, miny, maxx, maxy = bounds
    lo = -90.0 if miny <= -ORIGIN + 1e-6 else _lat(miny)
    hi = 90.0 if maxy >= ORIGIN - 1e-6 else _lat(maxy)
    return _lon(minx), lo, _lon(maxx), hi


# -- the pyramid's cells: where a point is, and how points are thinned ------------------------------------
#
# A tile of zoom z is a cell of *level* z of the Web Mercator pyramid, and its thinning grid of 2^k cells a side
# is cut along the cells of level z + k. Every cell a point is in, and the tile it belongs to (half-open: the
# left and top edges are the tile's own, as a point on an edge must be in exactly one tile), comes from one
# number per axis: its position in the square as a fraction u (from the left) and v (from the top), and its cell
# at level L is floor(u · 2^L). Scaling by a power of two is exact in floating point, so the cell at level L is
# the cell at level 32 shifted right by 32 - L, exactly: every backend and every level agree on each point.

TOP_LEVEL = 32  # cells are kept at this level (tiles to zoom 24 thin on grids to level 32)
NO_LEVEL = TOP_LEVEL + 1  # the level of a point first in no cell (another point, of lower fid, at the same place)


def pyramid_cells(xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column and row (from the top) of each point (EPSG:3857, one a row) among the cells of level 32 (uint64)."""
    side = float(1 << TOP_LEVEL)
    u = (xy[:, 0] + ORIGIN) / (2 * ORIGIN)
    v = (ORIGIN - xy[:, 1]) / (2 * ORIGIN)
    top = (1 << TOP_LEVEL) - 1
    return (np.clip(np.floor(u * side), 0, top).astype(np.uint64),
            np.clip(np.floor(v * side), 0, top).astype(np.uint64))


_SPREAD = [(16, 0x0000FFFF0000FFFF), (8, 0x00FF00FF00FF00FF), (4, 0x0F0F0F0F0F0F0F0F), (2, 0x3333333333333333),
           (1, 0x5555555555555555)]


def _spread(v: np.ndarray) -> np.ndarray:
    v = v.astype(np.uint64)
    for shift, mask in _SPREAD:
        v = (v | (v << np.uint64(shift))) & np.uint64(mask)
    return v


def morton(col: np.ndarray, row: np.ndarray) -> np.ndarray:
    """The keys of cells of level 32: column bits at the even places, row bits at the odd ones (uint64). A cell of
    level L (a tile of zoom L) holds one range of keys: its own key with the low 2 · (32 - L) bits free."""
    return _spread(col) | (_spread(row) << np.uint64(1))


def _spread_int(v: int) -> int:
    for shift, mask in _SPREAD:
        v = (v | (v << shift)) & mask
    return v


def tile_keys(z: int, x: int, y: int) -> tuple[int, int]:
    """The keys [lo, hi) of the points of tile ``z/x/y`` (as :func:`morton`)."""
    shift = TOP_LEVEL - z
    lo = _spread_int(x << shift) | (_spread_int(y << shift) << 1)
    return lo, lo + (1 << (2 * shift))


def thinning_levels(keys: np.ndarray, fids: np.ndarray) -> np.ndarray:
    """Each point's level (uint8): the coarsest level at which it is the lowest fid of its cell, :data:`NO_LEVEL`
    if none. ``keys`` (:func:`morton`) ascending, the ``fids`` of equal keys ascending.

    A point first in its cell at level L is first at every finer level too (its finer cell holds fewer points),
    so the points a tile keeps on its grid of level L are exactly those of level ≤ L (each occupied cell's
    first). The firsts of level 32 are the first of each run of equal keys; the first of a cell of level L is
    the lowest of the firsts of its four quarters, so each level is computed from the one finer among its
    firsts alone (cells are runs of keys: one reduction per level, no sort)."""
    n = len(keys)
    level = np.full(n, NO_LEVEL, np.uint8)
    if n == 0:
        return level
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    firsts = starts  # positions of the firsts of the current level
    level[firsts] = TOP_LEVEL
    for lv in range(TOP_LEVEL - 1, -1, -1):
        cell = keys[firsts] >> np.uint64(2 * (TOP_LEVEL - lv))
        new = np.concatenate([[True], cell[1:] != cell[:-1]])
        if not new.all():
            starts = np.flatnonzero(new)
            lowest = np.minimum.reduceat(fids[firsts], starts)
            firsts = firsts[fids[firsts] == np.repeat(lowest, np.diff(np.append(starts, len(firsts))))]
        level[firsts] = lv
    return level


def kept_level(counts: np.ndarray, z: int, limit: int = MAX_POINTS) -> int:
    """The level of the grid a tile of zoom ``z`` thins on: the finest of z … z + 8 at which it keeps at most
    ``limit`` points, ``counts`` being its points per level (:func:`thinning_levels`; index = level)."""
    kept = np.cumsum(counts)
    for k in range(8, 0, -1):
        if z + k <= TOP_LEVEL and kept[z + k] <= limit:
            return z + k
    return z
