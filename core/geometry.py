"""Geometries as users give them, and reprojection into the registry's CGCS2000 (EPSG:4490).

The work is the geometry engine's (:mod:`rallypoint.geometry_engine`: shapely and pyproj by default,
QGIS's own classes inside QGIS); this module is what the rest of the core calls. GeoPackage geometry
blobs are :mod:`rallypoint.storage.gpkg.blobs`.

``STORAGE_CRS`` (a ``pyproj.CRS``) and :func:`crs_from_user` are pyproj's, for the code that works
with pyproj itself (imports, analyses); they import pyproj when first asked for, not with this module.
"""

from __future__ import annotations

import json
import math
from typing import Any

from .errors import RallypointError
from .geometry_engine import STORAGE_EPSG, engine, pyproj_crs

__all__ = ["STORAGE_EPSG", "CoordinateError", "GeometryBlobError", "bounds", "coordinate_problem", "crs_from_user",
           "from_user", "geom_type", "mapping", "to_storage"]


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


class CoordinateError(RallypointError, ValueError):
    """A GeoJSON coordinate that is not a number (``"104.06"``, ``true``, ``null``, NaN); the message names it."""

    http_status = 400
    ogc_code = "InvalidParameterValue"


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def coordinate_problem(geometry: Any, where: str = "geometry") -> str | None:
    """The first coordinate of a GeoJSON geometry that is not a finite number, named by its place
    (``geometry.coordinates[1]: '30.66' is text, not a number``); None when they all are.

    GeoJSON positions are numbers (RFC 7946, 3.1.1); shapely would turn ``"30.66"`` into 30.66 without a word.
    """
    if not isinstance(geometry, dict):
        return None
    if geometry.get("type") == "GeometryCollection":
        for i, g in enumerate(geometry.get("geometries") or []):
            found = coordinate_problem(g, f"{where}.geometries[{i}]")
            if found:
                return found
        return None
    stack = [(geometry.get("coordinates"), f"{where}.coordinates")]
    while stack:
        value, at = stack.pop(0)
        if not isinstance(value, list):
            continue
        if value and not any(isinstance(v, list) for v in value):  # a position
            for i, v in enumerate(value):
                if not _is_number(v):
                    if isinstance(v, str):
                        return f"{at}[{i}]: {json.dumps(v, ensure_ascii=False)} is text, not a number"
                    if v is None or isinstance(v, bool):
                        return f"{at}[{i}]: {json.dumps(v)} is not a number"
                    if isinstance(v, float):
                        return f"{at}[{i}]: {v} is not a finite number"
                    return f"{at}[{i}]: a {type(v).__name__} is not a number"
        else:
            stack[:0] = [(v, f"{at}[{i}]") for i, v in enumerate(value)]
    return None


def from_user(value: Any) -> Any:
    """Read a geometry given as the engine's own, WKB, a GeoJSON mapping or string, WKT, or an (x, y) pair.

    A GeoJSON coordinate that is not a number raises :class:`CoordinateError` naming it.
    """
    if isinstance(value, (tuple, list)) and len(value) in (2, 3) and not all(_is_number(v) for v in value):
        raise TypeError(f"cannot read a geometry from {type(value).__name__}")
    if isinstance(value, str) and value.strip().startswith("{"):
        value = json.loads(value.strip())
    if isinstance(value, dict):
        found = coordinate_problem(value)
        if found:
            raise CoordinateError(found)
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
