"""Geometries as users give them, and reprojection into the registry's CGCS2000 (EPSG:4490).

The work is the geometry engine's (:mod:`rallypoint.geometry_engine`: shapely and pyproj by default,
QGIS's own classes inside QGIS); this module is what the rest of the core calls. GeoPackage geometry
blobs are :mod:`rallypoint.storage.gpkg.blobs`.

``STORAGE_CRS`` (a ``pyproj.CRS``) and :func:`crs_from_user` are pyproj's, for the code that works
with pyproj itself (imports, analyses); they import pyproj when first asked for, not with this module.
"""

from __future__ import annotations

from typing import Any

from .errors import RallypointError
from .geometry_engine import STORAGE_EPSG, engine, pyproj_crs

__all__ = ["STORAGE_EPSG", "GeometryBlobError", "bounds", "crs_from_user", "from_user", "geom_type", "mapping",
           "to_storage"]


class GeometryBlobError(RallypointError, ValueError):
    """A geometry blob is not a valid GeoPackage geometry."""


def __getattr__(name: str) -> Any:
    if name == "STORAGE_CRS":  # a pyproj.CRS, made when first asked for (PEP 562)
        return pyproj_crs(None)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def crs_from_user(text: str | int | None):
    """Resolve what a user gave as a CRS (``EPSG:4326``, ``4326``, a URI, WKT, PROJ) as a ``pyproj.CRS``."""
    return pyproj_crs(text)


def to_storage(geom: Any, crs: Any) -> Any:
    """Reproject ``geom`` from ``crs`` to the registry's CGCS2000 (EPSG:4490), x = longitude."""
    return engine().to_storage(geom, crs)


def from_user(value: Any) -> Any:
    """Read a geometry given as the engine's own, WKB, a GeoJSON mapping or string, WKT, or an (x, y) pair."""
    return engine().from_user(value)


def bounds(geom: Any) -> tuple[float, float, float, float]:
    """(minx, miny, maxx, maxy) of any geometry the registry hands out, whatever the engine."""
    return engine().bounds(geom)


def geom_type(geom: Any) -> str:
    """``Point``, ``MultiPolygon`` … of any geometry the registry hands out, whatever the engine."""
    return engine().geom_type(geom)


def mapping(geom: Any) -> dict[str, Any]:
    """A geometry the registry hands out as a GeoJSON mapping, whatever the engine."""
    return engine().mapping(geom)
