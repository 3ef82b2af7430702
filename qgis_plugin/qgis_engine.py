"""The geometry engine of the core (:mod:`rallypoint.geometry_engine`) on QGIS's own classes.

Inside QGIS the registry's geometries are ``QgsGeometry`` objects (GEOS as QGIS links it), CRSs are
``QgsCoordinateReferenceSystem`` and reprojection is ``QgsCoordinateTransform`` with the project's
transform context (PROJ as QGIS links it), and a new registry file's tables are made by ``osgeo.ogr``
(the GDAL QGIS itself uses). So QGIS's Python needs neither shapely nor pyproj nor fiona, and no second
copy of GEOS, PROJ, GDAL or SQLite is ever loaded into QGIS's process (a pyproj wheel's own PROJ makes
QGIS 3.22 abort at exit).

What comes out is what :class:`~rallypoint.geometry_engine.ShapelyEngine` gives for the same geometry:
the same WKB bytes (ISO, 2D, little-endian), bounds, type names and GeoJSON coordinates
(``tests/test_geometry_engines.py`` holds both to it).
"""

from __future__ import annotations

import json
import math
from typing import Any, Sequence

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsDistanceArea,
    QgsGeometry,
    QgsPoint,
    QgsPointXY,
    QgsProject,
    QgsRectangle,
    QgsWkbTypes,
)

from rallypoint.geometry_engine import BOX_SEGMENTS, STORAGE_EPSG, TableSpec, UnknownCrsError

_CRS84 = ("CRS84", "OGC:CRS84", "HTTP://WWW.OPENGIS.NET/DEF/CRS/OGC/1.3/CRS84")


def _crs(value: Any) -> QgsCoordinateReferenceSystem:
    """What a user gave as a CRS (EPSG code, ``EPSG:…``, an OGC URI or URN, WKT, PROJ, a pyproj CRS)."""
    if isinstance(value, QgsCoordinateReferenceSystem):
        return value
    if value is None or value == "":
        return QgsCoordinateReferenceSystem(f"EPSG:{STORAGE_EPSG}")
    if hasattr(value, "to_wkt") and not isinstance(value, str):  # a pyproj.CRS from code that has pyproj
        value = value.to_wkt()
    text = str(value).strip()
    crs = QgsCoordinateReferenceSystem()
    if isinstance(value, int) or text.isdigit():
        crs = QgsCoordinateReferenceSystem(f"EPSG:{int(text)}")
    elif text.upper() in _CRS84:
        crs = QgsCoordinateReferenceSystem("OGC:CRS84")
    elif text.lower().startswith(("http://www.opengis.net/def/crs/", "urn:ogc:def:crs:")):
        crs.createFromOgcWmsCrs(text)
    else:
        crs.createFromUserInput(text)
    if not crs.isValid():
        raise UnknownCrsError(f"unknown coordinate reference system {value!r}: QGIS does not know it")
    return crs


class _QgisArea:
    """A division's boundary, prepared with QGIS's GEOS engine for many point questions."""

    def __init__(self, engine: "QgisEngine", geom: QgsGeometry):
        self.engine = engine
        self.geom = geom
        self._prepared = QgsGeometry.createGeometryEngine(geom.constGet())
        self._prepared.prepareGeometry()
        self._projected: dict[int, QgsGeometry] = {}

    @staticmethod
    def _point(x: float, y: float) -> QgsGeometry:
        return QgsGeometry.fromPointXY(QgsPointXY(x, y))

    def holds(self, x: float, y: float) -> bool:
        return self._prepared.intersects(QgsPoint(x, y))

    def distance(self, x: float, y: float) -> float:
        return self.geom.distance(self._point(x, y))

    def nearest(self, x: float, y: float) -> tuple[float, float]:
        p = self.geom.nearestPoint(self._point(x, y)).asPoint()
        return p.x(), p.y()

    def centroid_x(self) -> float:
        return self.geom.centroid().asPoint().x()

    def distance_m(self, x: float, y: float, epsg: int) -> float:
        tr = self.engine.transform_to(epsg)
        if epsg not in self._projected:
            projected = QgsGeometry(self.geom)
            projected.transform(tr)
            self._projected[epsg] = projected
        point = self._point(x, y)
        point.transform(tr)
        return self._projected[epsg].distance(point)


class QgisEngine:
    """GEOS, PROJ and GDAL as QGIS loads them."""

    name = "qgis"

    def __init__(self, project: QgsProject | None = None):
        self.project = project
        self.storage = QgsCoordinateReferenceSystem(f"EPSG:{STORAGE_EPSG}")
        self._transforms: dict[str, QgsCoordinateTransform] = {}
        self._ellipsoid: QgsDistanceArea | None = None

    # -- geometries in and out ---------------------------------------------------------
    def from_user(self, value: Any) -> QgsGeometry:
        if isinstance(value, QgsGeometry):
            return self._plain(value)
        if isinstance(value, (bytes, bytearray, memoryview)):
            return self.from_wkb(bytes(value))
        if isinstance(value, (tuple, list)) and len(value) in (2, 3) and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            return self.from_wkt(f"POINT ({float(value[0])!r} {float(value[1])!r})")
        if isinstance(value, dict):
            return self._from_geojson(json.dumps(value))
        if isinstance(value, str):
            s = value.strip()
            return self._from_geojson(s) if s.startswith("{") else self.from_wkt(s)
        raise TypeError(f"cannot read a geometry from {type(value).__name__}")

    def from_wkt(self, text: str) -> QgsGeometry:
        g = QgsGeometry.fromWkt(text)
        if g.isNull():
            raise ValueError(f"not a WKT geometry: {text[:80]!r}")
        return self._plain(g)

    def _from_geojson(self, text: str) -> QgsGeometry:
        # QGIS 3.22 reads GeoJSON geometries only through GDAL (its own): OGR parses, QGIS takes the WKB
        from osgeo import ogr

        try:
            o = ogr.CreateGeometryFromJson(text)
        except (RuntimeError, ValueError) as exc:  # with ogr.UseExceptions() in effect
            raise ValueError(f"not a GeoJSON geometry: {exc}") from None
        if o is None:
            raise ValueError(f"not a GeoJSON geometry: {text[:80]!r}")
        return self.from_wkb(bytes(o.ExportToIsoWkb()))

    def from_wkb(self, data: bytes) -> QgsGeometry:
        g = QgsGeometry()
        g.fromWkb(bytes(data))
        if g.isNull():
            raise ValueError("not a WKB geometry")
        return self._plain(g)

    @staticmethod
    def _plain(g: QgsGeometry) -> QgsGeometry:
        """2D and straight-edged, as a GeoPackage layer of the registry holds it (a copy; ``g`` is not changed)."""
        if QgsWkbTypes.isCurvedType(g.wkbType()):
            g = QgsGeometry(g.constGet().segmentize())
        if QgsWkbTypes.hasZ(g.wkbType()) or QgsWkbTypes.hasM(g.wkbType()):
            part = g.constGet().clone()
            part.dropZValue()
            part.dropMValue()
            return QgsGeometry(part)
        return QgsGeometry(g)

    def to_wkb(self, geom: QgsGeometry) -> bytes:
        return bytes(self._plain(geom).asWkb())

    # -- what the rules ask --------------------------------------------------------------
    def is_empty(self, geom: QgsGeometry) -> bool:
        return geom.isNull() or geom.isEmpty()

    def geom_type(self, geom: QgsGeometry) -> str:
        return QgsWkbTypes.displayString(QgsWkbTypes.flatType(geom.wkbType()))

    def bounds(self, geom: QgsGeometry) -> tuple[float, float, float, float]:
        if self.is_empty(geom):
            nan = float("nan")
            return nan, nan, nan, nan
        r = geom.boundingBox()
        return r.xMinimum(), r.yMinimum(), r.xMaximum(), r.yMaximum()

    def to_multi(self, geom: QgsGeometry) -> QgsGeometry:
        out = QgsGeometry(geom)
        out.convertToMultiType()
        return out

    def within_lonlat(self, geom: QgsGeometry) -> bool:
        seen = False
        for v in geom.vertices():
            x, y = v.x(), v.y()
            if not (math.isfinite(x) and math.isfinite(y) and abs(x) <= 180 and abs(y) <= 90):
                return False
            seen = True
        return seen

    def invalid_reason(self, geom: QgsGeometry) -> str | None:
        if geom.isGeosValid():
            return None
        errors = geom.validateGeometry(QgsGeometry.ValidatorGeos)
        if not errors:
            return "GEOS finds it invalid"
        e = errors[0]
        where = f"[{e.where().x():.15g} {e.where().y():.15g}]" if e.hasWhere() else ""
        return e.what() + where

    def mapping(self, geom: QgsGeometry) -> dict[str, Any]:
        kind = self.geom_type(geom)

        def xy(p) -> tuple[float, float]:
            return (p.x(), p.y())

        def line(points) -> tuple:
            return tuple(xy(p) for p in points)

        def polygon(rings) -> tuple:
            return tuple(line(r) for r in rings)

        g = self._plain(geom)
        if kind == "Point":
            coords: Any = xy(g.asPoint())
        elif kind == "LineString":
            coords = line(g.asPolyline())
        elif kind == "Polygon":
            coords = polygon(g.asPolygon())
        elif kind == "MultiPoint":
            coords = line(g.asMultiPoint())
        elif kind == "MultiLineString":
            coords = tuple(line(part) for part in g.asMultiPolyline())
        elif kind == "MultiPolygon":
            coords = tuple(polygon(part) for part in g.asMultiPolygon())
        else:
            raise ValueError(f"a {kind} has no GeoJSON form the registry uses")
        return {"type": kind, "coordinates": coords}

    # -- coordinate reference systems ---------------------------------------------------------
    def to_storage(self, geom: QgsGeometry, crs: Any) -> QgsGeometry:
        src = _crs(crs)
        if src == self.storage:
            return geom
        key = src.toWkt()
        tr = self._transforms.get(key)
        if tr is None:
            context = (self.project or QgsProject.instance()).transformContext()
            tr = self._transforms[key] = QgsCoordinateTransform(src, self.storage, context)
        out = QgsGeometry(geom)
        if out.transform(tr) != 0:
            raise ValueError(f"cannot reproject the geometry from {src.authid() or 'the given CRS'}")
        return out

    def box(self, minx: float, miny: float, maxx: float, maxy: float) -> QgsGeometry:
        g = QgsGeometry.fromRect(QgsRectangle(minx, miny, maxx, maxy))
        return g.densifyByDistance(max(maxx - minx, maxy - miny) / BOX_SEGMENTS or 1)

    def transform_to(self, epsg: int) -> QgsCoordinateTransform:
        """EPSG:4490 → ``epsg`` with the project's transform context."""
        key = f"to:{epsg}"
        if key not in self._transforms:
            context = (self.project or QgsProject.instance()).transformContext()
            self._transforms[key] = QgsCoordinateTransform(self.storage, QgsCoordinateReferenceSystem(f"EPSG:{epsg}"),
                                                           context)
        return self._transforms[key]

    # -- what the position rules ask (rallypoint.positions) --------------------------------------------
    def vertices(self, geom: QgsGeometry) -> list[tuple[float, float]]:
        return [(v.x(), v.y()) for v in geom.vertices()]

    def union(self, geoms: Sequence[QgsGeometry]) -> QgsGeometry:
        return QgsGeometry.unaryUnion(list(geoms))

    def area(self, geoms: Sequence[QgsGeometry]) -> _QgisArea:
        geoms = list(geoms)
        return _QgisArea(self, geoms[0] if len(geoms) == 1 else self.union(geoms))

    def geodesic_m(self, x1: float, y1: float, x2: float, y2: float) -> float:
        if self._ellipsoid is None:
            da = QgsDistanceArea()
            da.setSourceCrs(self.storage, (self.project or QgsProject.instance()).transformContext())
            da.setEllipsoid("GRS80")  # CGCS2000's ellipsoid
            self._ellipsoid = da
        return abs(self._ellipsoid.measureLine(QgsPointXY(x1, y1), QgsPointXY(x2, y2)))

    # -- a new registry file's tables, through QGIS's GDAL ----------------------------------------
    def create_tables(self, path: str, tables: Sequence[TableSpec], srs_epsg: int) -> None:
        from .ogr_tables import create_tables

        create_tables(path, tables, srs_epsg)
