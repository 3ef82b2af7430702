"""Geometries as users give them, and reprojection into the registry's CGCS2000 (EPSG:4490).

GeoPackage geometry blobs are :mod:`rallypoint.storage.gpkg.blobs`.
"""

from __future__ import annotations

import json
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


def from_user(value: Any) -> BaseGeometry:
    """Read a geometry given as shapely, a GeoJSON mapping or string, WKT, or an (x, y) pair."""
    if isinstance(value, BaseGeometry):
        return value
    if isinstance(value, (tuple, list)) and len(value) in (2, 3) and all(isinstance(v, (int, float)) for v in value):
        return shapely.Point(value[0], value[1])
    if isinstance(value, dict):
        return _shape(value)
    if isinstance(value, str):
        s = value.strip()
        if s.startswith("{"):
            return _shape(json.loads(s))
        return shapely.from_wkt(s)
    raise TypeError(f"cannot read a geometry from {type(value).__name__}")
