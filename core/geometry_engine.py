"""The geometry engine: the one seam between the registry's rules and the native geospatial libraries.

Every geometry the registry checks, stores, records in its history or sends to a server passes
through an engine, and so does the one use of GDAL a registry needs (creating a registry file's
tables). Two engines exist:

* :class:`ShapelyEngine` (the default: the command line, the server, the analyses): GEOS through
  shapely, PROJ through pyproj, GDAL through fiona. Its geometries are shapely geometries.
* QGIS's (``rallypoint_qgis.qgis_engine``, installed by the QGIS plugin): GEOS, PROJ and GDAL as
  QGIS itself loads them (``QgsGeometry``, ``QgsCoordinateTransform``, ``osgeo.ogr``), so no second
  copy of those libraries is ever loaded into QGIS's process, and QGIS's Python needs neither
  shapely nor pyproj nor fiona.

A geometry is opaque to the core: it is whatever the engine makes, and is only handed back to
the engine. What comes out of an engine is engine-neutral: WKB (ISO, 2D, little-endian — the bytes
a GeoPackage blob and the history hold), bounds, type names (``"Point"``, ``"MultiPolygon"`` …),
GeoJSON mappings. Both engines give the same bytes for the same geometry (a test holds them to it).

Importing this module imports neither shapely nor pyproj nor fiona; :class:`ShapelyEngine` imports
them when it is first used.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol, Sequence

from .errors import RallypointError

#: the registry's CRS: CGCS2000, x = longitude
STORAGE_EPSG = 4490
#: a box given in another CRS is densified to this many segments a side before it is reprojected
BOX_SEGMENTS = 16


class UnknownCrsError(RallypointError, ValueError):
    """What a user gave as a coordinate reference system names none."""


@dataclass(frozen=True)
class TableSpec:
    """One table of a new registry file, as GDAL is asked to create it.

    ``columns`` are (name, type) with fiona's type names (``str``, ``str:36``, ``int64``, ``float``,
    ``bool``, ``date``, ``datetime``); ``geometry`` is a GeoPackage geometry type or ``"None"``.
    """

    name: str
    geometry: str
    columns: tuple[tuple[str, str], ...]
    identifier: str
    description: str
    fid: str = "fid"


class Engine(Protocol):
    """What the core asks of geometries (all of it; anything else is an analysis' own business)."""

    name: str

    def from_user(self, value: Any) -> Any:
        """A geometry from the engine's own object, WKB bytes, WKT or GeoJSON text, a GeoJSON mapping or an
        (x, y) pair; raises ValueError (or TypeError) naming what is wrong."""

    def from_wkb(self, data: bytes) -> Any:
        """A geometry from WKB; ValueError when the bytes are no geometry."""

    def to_wkb(self, geom: Any) -> bytes:
        """ISO WKB, 2D, little-endian."""

    def is_empty(self, geom: Any) -> bool: ...

    def geom_type(self, geom: Any) -> str:
        """``Point``, ``LineString``, ``Polygon``, ``MultiPoint``, ``MultiLineString``, ``MultiPolygon`` …"""

    def bounds(self, geom: Any) -> tuple[float, float, float, float]:
        """(minx, miny, maxx, maxy)."""

    def to_multi(self, geom: Any) -> Any:
        """The one-part multi-geometry of a single geometry (a Point becomes a MultiPoint)."""

    def within_lonlat(self, geom: Any) -> bool:
        """Whether every coordinate is a finite longitude −180…180 and latitude −90…90."""

    def invalid_reason(self, geom: Any) -> str | None:
        """None for a valid geometry, else what GEOS finds wrong with it."""

    def mapping(self, geom: Any) -> dict[str, Any]:
        """The geometry as a GeoJSON mapping, 2D, coordinates exactly as stored."""

    def to_storage(self, geom: Any, crs: Any) -> Any:
        """``geom`` reprojected from ``crs`` (EPSG code, text, the engine's CRS, None = storage) to EPSG:4490,
        x = longitude; UnknownCrsError for a CRS that names none."""

    def box(self, minx: float, miny: float, maxx: float, maxy: float) -> Any:
        """A rectangle densified to :data:`BOX_SEGMENTS` segments a side (so it bends when reprojected)."""

    def create_tables(self, path: str, tables: Sequence[TableSpec], srs_epsg: int) -> None:
        """Create a GeoPackage file at ``path`` with ``tables``, through GDAL (its DDL, R-tree and triggers)."""

    # -- what the position rules ask (rallypoint.positions) ------------------------------------------------
    def vertices(self, geom: Any) -> list[tuple[float, float]]:
        """Every (x, y) of the geometry, in order."""

    def union(self, geoms: Sequence[Any]) -> Any:
        """One geometry covering them all."""

    def area(self, geoms: Sequence[Any]) -> "Area":
        """Their union, prepared for many point questions (a division's boundary)."""

    def geodesic_m(self, x1: float, y1: float, x2: float, y2: float) -> float:
        """The distance in metres between two longitude/latitude points on CGCS2000's ellipsoid (GRS 80)."""


class Area(Protocol):
    """An area in EPSG:4490 asked about points (x = longitude)."""

    def holds(self, x: float, y: float) -> bool:
        """Whether the point is in the area or on its boundary."""

    def distance(self, x: float, y: float) -> float:
        """Distance to the area, in degrees (0 inside)."""

    def nearest(self, x: float, y: float) -> tuple[float, float]:
        """The point of the area nearest (x, y)."""

    def centroid_x(self) -> float: ...

    def distance_m(self, x: float, y: float, epsg: int) -> float:
        """Distance in metres, both reprojected into the projected CRS ``epsg`` (a Gauss–Krüger zone)."""


# -- which engine ---------------------------------------------------------------------------------------

_default: Engine | None = None
_local = threading.local()


def engine() -> Engine:
    """The engine of this thread: the one :func:`using` set here, else the process's (:func:`use`)."""
    eng = getattr(_local, "engine", None)
    if eng is not None:
        return eng
    if _default is None:
        use(ShapelyEngine())
    return _default  # type: ignore[return-value]


def use(eng: Engine | None) -> Engine | None:
    """Make ``eng`` the process's engine (None: back to the default on next use); returns the one it replaces."""
    global _default
    previous, _default = _default, eng
    return previous


class using:  # noqa: N801 (a context manager, used like a function)
    """``with using(eng):`` the current thread uses ``eng`` (an analysis on shapely in QGIS's Processing thread)."""

    def __init__(self, eng: Engine):
        self.eng = eng

    def __enter__(self) -> Engine:
        self.previous = getattr(_local, "engine", None)
        _local.engine = self.eng
        return self.eng

    def __exit__(self, *exc: Any) -> None:
        _local.engine = self.previous


# -- the default engine: shapely, pyproj, fiona ------------------------------------------------------------

@lru_cache(maxsize=64)
def pyproj_crs(text: str | int | None):
    """Resolve what a user gave as a CRS (``EPSG:4326``, ``4326``, a URI, WKT, PROJ) with pyproj."""
    import pyproj

    if text is None or text == "":
        return pyproj.CRS.from_epsg(STORAGE_EPSG)
    try:
        if isinstance(text, int) or (isinstance(text, str) and text.isdigit()):
            return pyproj.CRS.from_epsg(int(text))
        t = text.strip()
        if t.upper() in ("CRS84", "OGC:CRS84", "HTTP://WWW.OPENGIS.NET/DEF/CRS/OGC/1.3/CRS84"):
            return pyproj.CRS.from_user_input("OGC:CRS84")
        return pyproj.CRS.from_user_input(t)
    except pyproj.exceptions.CRSError as exc:
        raise UnknownCrsError(f"unknown coordinate reference system {text!r}: {exc}") from exc


@lru_cache(maxsize=64)
def _transformer(src_wkt: str):
    import pyproj

    return pyproj.Transformer.from_crs(pyproj.CRS.from_wkt(src_wkt), pyproj_crs(None), always_xy=True)


@lru_cache(maxsize=32)
def _to_zone(epsg: int):
    import pyproj

    return pyproj.Transformer.from_crs(STORAGE_EPSG, epsg, always_xy=True)


class _ShapelyArea:
    def __init__(self, shapely, geom: Any):
        self._shapely = shapely
        shapely.prepare(geom)
        self.geom = geom
        self._projected: dict[int, Any] = {}

    def holds(self, x: float, y: float) -> bool:
        return bool(self.geom.intersects(self._shapely.Point(x, y)))

    def distance(self, x: float, y: float) -> float:
        return float(self._shapely.distance(self.geom, self._shapely.Point(x, y)))

    def nearest(self, x: float, y: float) -> tuple[float, float]:
        import shapely.ops

        p = shapely.ops.nearest_points(self.geom, self._shapely.Point(x, y))[0]
        return p.x, p.y

    def centroid_x(self) -> float:
        return self.geom.centroid.x

    def distance_m(self, x: float, y: float, epsg: int) -> float:
        import numpy as np

        tr = _to_zone(epsg)
        if epsg not in self._projected:
            self._projected[epsg] = self._shapely.transform(
                self.geom, lambda c: np.column_stack(tr.transform(c[:, 0], c[:, 1])))
        px, py = tr.transform(x, y)
        return float(self._shapely.distance(self._projected[epsg], self._shapely.Point(px, py)))


class ShapelyEngine:
    """GEOS, PROJ and GDAL through shapely 2, pyproj and fiona (imported on first use)."""

    name = "shapely"

    def __init__(self) -> None:
        import shapely
        import shapely.geometry

        self._shapely = shapely
        self._base = shapely.geometry.base.BaseGeometry

    def from_user(self, value: Any) -> Any:
        try:
            return self._read(value)
        except self._shapely.errors.ShapelyError as exc:  # GEOS's parse errors are not ValueErrors
            raise ValueError(str(exc)) from None

    def _read(self, value: Any) -> Any:
        shapely = self._shapely
        if isinstance(value, self._base):
            return value
        if isinstance(value, (bytes, bytearray, memoryview)):
            return self.from_wkb(bytes(value))
        if isinstance(value, (tuple, list)) and len(value) in (2, 3) and all(
                isinstance(v, (int, float)) for v in value):
            return shapely.Point(value[0], value[1])
        if isinstance(value, dict):
            return shapely.geometry.shape(value)
        if isinstance(value, str):
            s = value.strip()
            if s.startswith("{"):
                return shapely.geometry.shape(json.loads(s))
            return shapely.from_wkt(s)
        raise TypeError(f"cannot read a geometry from {type(value).__name__}")

    def from_wkb(self, data: bytes) -> Any:
        try:
            return self._shapely.from_wkb(data)
        except self._shapely.errors.ShapelyError as exc:
            raise ValueError(str(exc)) from None

    def to_wkb(self, geom: Any) -> bytes:
        return self._shapely.to_wkb(geom, byte_order=1, output_dimension=2)

    def is_empty(self, geom: Any) -> bool:
        return bool(geom.is_empty)

    def geom_type(self, geom: Any) -> str:
        return geom.geom_type

    def bounds(self, geom: Any) -> tuple[float, float, float, float]:
        return tuple(geom.bounds)  # type: ignore[return-value]

    def to_multi(self, geom: Any) -> Any:
        return getattr(self._shapely.geometry, "Multi" + geom.geom_type)([geom])

    def within_lonlat(self, geom: Any) -> bool:
        coords = self._shapely.get_coordinates(geom)
        return bool(coords.size and (abs(coords[:, 0]) <= 180).all() and (abs(coords[:, 1]) <= 90).all())

    def invalid_reason(self, geom: Any) -> str | None:
        return None if geom.is_valid else self._shapely.is_valid_reason(geom)

    def mapping(self, geom: Any) -> dict[str, Any]:
        return self._shapely.geometry.mapping(self._shapely.force_2d(geom) if geom.has_z else geom)

    def to_storage(self, geom: Any, crs: Any) -> Any:
        import pyproj

        src = crs if isinstance(crs, pyproj.CRS) else pyproj_crs(crs)
        if src == pyproj_crs(None):
            return geom
        tr = _transformer(src.to_wkt())

        def apply(xy):
            import numpy as np

            if len(xy) == 1:  # pyproj treats one-element arrays as scalars (and warns); give it scalars
                return np.array([tr.transform(float(xy[0, 0]), float(xy[0, 1]))])
            return np.column_stack(tr.transform(xy[:, 0], xy[:, 1]))

        return self._shapely.transform(geom, apply)

    def box(self, minx: float, miny: float, maxx: float, maxy: float) -> Any:
        return self._shapely.box(minx, miny, maxx, maxy).segmentize(
            max(maxx - minx, maxy - miny) / BOX_SEGMENTS or 1)

    def create_tables(self, path: str, tables: Sequence[TableSpec], srs_epsg: int) -> None:
        # fiona's wheel bundles its own GDAL and SQLite: imported here, only by the process that creates a file
        import fiona
        from fiona.crs import CRS

        for t in tables:
            kw: dict[str, Any] = dict(driver="GPKG", VERSION="1.2", FID=t.fid, layer=t.name,
                                      schema={"geometry": t.geometry, "properties": dict(t.columns)},
                                      IDENTIFIER=t.identifier, DESCRIPTION=t.description)
            if t.geometry != "None":
                kw.update(crs=CRS.from_epsg(srs_epsg), GEOMETRY_NAME="geom", SPATIAL_INDEX="YES")
            with fiona.open(path, "w", **kw):
                pass

    def vertices(self, geom: Any) -> list[tuple[float, float]]:
        if isinstance(geom, self._shapely.Point):  # the common case, without numpy's per-call cost
            return [] if geom.is_empty else [(geom.x, geom.y)]
        return [(float(x), float(y)) for x, y in self._shapely.get_coordinates(geom)]

    def union(self, geoms: Sequence[Any]) -> Any:
        return self._shapely.union_all(list(geoms))

    def area(self, geoms: Sequence[Any]) -> _ShapelyArea:
        geoms = list(geoms)
        return _ShapelyArea(self._shapely, geoms[0] if len(geoms) == 1 else self.union(geoms))

    def geodesic_m(self, x1: float, y1: float, x2: float, y2: float) -> float:
        return abs(_geod().inv(x1, y1, x2, y2)[2])


@lru_cache(maxsize=1)
def _geod():
    import pyproj

    return pyproj.Geod(ellps="GRS80")  # CGCS2000's ellipsoid
