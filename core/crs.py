"""Coordinate reference systems offered to clients (OGC API – Features Part 2), and their transforms.

Storage is CGCS2000 (EPSG:4490) with x = longitude. The default output is CRS84
(longitude, latitude). EPSG:4490 and EPSG:4326 are answered in their official axis order,
latitude first, as the OGC specifications require; EPSG:3857 in metres (x, y).
CGCS2000 and WGS 84 agree to a few centimetres, which PROJ treats as a null transformation.

numpy, pyproj and shapely are imported when a transform first runs, not with this module: the registry's
stores name these CRSs (:class:`~rallypoint.storage.base.ItemsQuery`) in processes that never transform.

>>> import numpy as np
>>> SUPPORTED["http://www.opengis.net/def/crs/EPSG/0/4490"].to_output(np.array([[104.0, 30.0]])).tolist()
[[30.0, 104.0]]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/{}"
STORAGE_URI = EPSG.format(4490)

#: (n, 2) numpy array of coordinates -> (n, 2) numpy array
Transform = Callable[[Any], Any]


def _identity(xy):
    return xy


def _swap(xy):
    return xy[:, ::-1].copy()


@lru_cache(maxsize=4)
def _transformer(src: int, dst: int):
    import pyproj

    return pyproj.Transformer.from_crs(src, dst, always_xy=True)


def _projector(src: int, dst: int) -> Transform:
    def apply(xy):
        import numpy as np

        if len(xy) == 0:
            return xy
        if len(xy) == 1:  # pyproj takes one-element arrays for scalars (and warns): give it scalars
            return np.array([_transformer(src, dst).transform(float(xy[0, 0]), float(xy[0, 1]))])
        x, y = _transformer(src, dst).transform(xy[:, 0].astype(float), xy[:, 1].astype(float))
        return np.column_stack([x, y])

    return apply


@dataclass(frozen=True)
class Crs:
    uri: str
    title: str
    to_output: Transform  # storage (lon, lat) -> this CRS in its axis order
    to_storage: Transform  # this CRS in its axis order -> storage (lon, lat)
    identity: bool = False

    @property
    def header(self) -> str:
        """The ``Content-Crs`` header value."""
        return f"<{self.uri}>"

    def geometry_out(self, geoms):
        import shapely

        return geoms if self.identity else shapely.transform(geoms, self.to_output)

    def geometry_in(self, geom):
        import shapely

        return geom if self.identity else shapely.transform(geom, self.to_storage)

    def bbox_to_storage(self, bbox: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        """A box given in this CRS's axis order, as a (minlon, minlat, maxlon, maxlat) box in storage."""
        if self.identity:
            return bbox
        import shapely

        a0, a1, b0, b1 = bbox
        # a box of no width or height is a line or a point (GEOS segmentizes neither as a polygon)
        if a0 < b0 and a1 < b1:
            shape = shapely.box(a0, a1, b0, b1).segmentize(max(b0 - a0, b1 - a1) / 16)
        elif (a0, a1) != (b0, b1):
            shape = shapely.LineString([(a0, a1), (b0, b1)]).segmentize(max(b0 - a0, b1 - a1) / 16)
        else:
            shape = shapely.Point(a0, a1)
        return shapely.transform(shape, self.to_storage).bounds


SUPPORTED: dict[str, Crs] = {
    CRS84: Crs(CRS84, "WGS 84 / CRS84 (longitude, latitude)", _identity, _identity, identity=True),
    EPSG.format(4490): Crs(EPSG.format(4490), "CGCS2000 (latitude, longitude)", _swap, _swap),
    EPSG.format(4326): Crs(EPSG.format(4326), "WGS 84 (latitude, longitude)", _swap, _swap),
    EPSG.format(3857): Crs(EPSG.format(3857), "WGS 84 / Pseudo-Mercator (metres)",
                           _projector(4490, 3857), _projector(3857, 4490)),
}
DEFAULT = SUPPORTED[CRS84]
URIS = tuple(SUPPORTED)
