"""Geometries as users give them, and reprojection into the registry's CGCS2000 (EPSG:4490).

GeoPackage geometry blobs are :mod:`rallypoint.storage.gpkg.blobs`.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from typing import Any

import numpy as np
import pyproj
import shapely
from shapely.geometry import shape as _shape
from shapely.geometry.base import BaseGeometry

from .errors import RallypointError

STORAGE_EPSG = 4490
STORAGE_CRS = pyproj.CRS.from_epsg(STORAGE_EPSG)

class GeometryBlobError(RallypointError, ValueError):
    """A geometry blob is not a valid GeoPackage geometry."""


# ---------------------------------------------------------------------------
# CRS handling


@lru_cache(maxsize=64)
def crs_from_user(text: str | int | None) -> pyproj.CRS:
    """Resolve what a user gave as a CRS (``EPSG:4326``, ``4326``, a URI, WKT, PROJ)."""
    if text is None or text == "":
        return STORAGE_CRS
    try:
        if isinstance(text, int) or (isinstance(text, str) and text.isdigit()):
            return pyproj.CRS.from_epsg(int(text))
        t = text.strip()
        if t.upper() in ("CRS84", "OGC:CRS84", "HTTP://WWW.OPENGIS.NET/DEF/CRS/OGC/1.3/CRS84"):
            return pyproj.CRS.from_user_input("OGC:CRS84")
        return pyproj.CRS.from_user_input(t)
    except pyproj.exceptions.CRSError as exc:
        raise RallypointError(f"unknown coordinate reference system {text!r}: {exc}") from exc


@lru_cache(maxsize=64)
def _transformer(src_wkt: str) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(pyproj.CRS.from_wkt(src_wkt), STORAGE_CRS, always_xy=True)


def to_storage(geom: BaseGeometry, crs: pyproj.CRS | str | int | None) -> BaseGeometry:
    """Reproject ``geom`` from ``crs`` to the registry's CGCS2000 (EPSG:4490), x = longitude."""
    src = crs if isinstance(crs, pyproj.CRS) else crs_from_user(crs)
    if src == STORAGE_CRS:
        return geom
    tr = _transformer(src.to_wkt())

    def apply(xy: np.ndarray) -> np.ndarray:
        if len(xy) == 1:  # pyproj treats one-element arrays as scalars (and warns); give it scalars
            return np.array([tr.transform(float(xy[0, 0]), float(xy[0, 1]))])
        return np.column_stack(tr.transform(xy[:, 0], xy[:, 1]))

    return shapely.transform(geom, apply)


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


def from_user(value: Any) -> BaseGeometry:
    """Read a geometry given as shapely, a GeoJSON mapping or string, WKT, or an (x, y) pair.

    A GeoJSON coordinate that is not a number raises :class:`CoordinateError` naming it.
    """
    if isinstance(value, BaseGeometry):
        return value
    if isinstance(value, (tuple, list)) and len(value) in (2, 3) and all(_is_number(v) for v in value):
        return shapely.Point(value[0], value[1])
    if isinstance(value, str) and value.strip().startswith("{"):
        value = json.loads(value.strip())
    if isinstance(value, dict):
        found = coordinate_problem(value)
        if found:
            raise CoordinateError(found)
        return _shape(value)
    if isinstance(value, str):
        return shapely.from_wkt(value.strip())
    raise TypeError(f"cannot read a geometry from {type(value).__name__}")
