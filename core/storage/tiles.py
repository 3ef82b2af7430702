"""The tile grid both backends tile on: WebMercatorQuad, a 4096 extent, and the thinning limits they share.

:mod:`.gpkg.tiles` encodes a GeoPackage's tiles, :mod:`.postgis.tiles` has PostgreSQL write them
(``ST_AsMVT``), both by these numbers; the API's tile matrix set is described from them too.
"""

from __future__ import annotations

import math

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
