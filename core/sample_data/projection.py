"""Conversion between the working CRS (EPSG:4544, metres) and the storage CRS (EPSG:4490)."""

from __future__ import annotations

from functools import cache

import numpy as np
import pyproj
import shapely

from .config import STORAGE_EPSG, WORK_EPSG


@cache
def _transformers() -> tuple[pyproj.Transformer, pyproj.Transformer]:
    to_work = pyproj.Transformer.from_crs(STORAGE_EPSG, WORK_EPSG, always_xy=True)
    to_geo = pyproj.Transformer.from_crs(WORK_EPSG, STORAGE_EPSG, always_xy=True)
    return to_work, to_geo


def _run(tr: pyproj.Transformer, x, y) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.size == 1:  # pyproj takes a one-element array for a scalar
        a, b = tr.transform(float(x.ravel()[0]), float(y.ravel()[0]))
        return np.full(x.shape, a), np.full(y.shape, b)
    a, b = tr.transform(x, y)
    return np.asarray(a), np.asarray(b)


def _to_work(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    return _run(_transformers()[0], lon, lat)


def _to_geo(x, y) -> tuple[np.ndarray, np.ndarray]:
    return _run(_transformers()[1], x, y)


def _geom_to_geo(geoms):
    def f(coords):
        lon, lat = _to_geo(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(geoms, f)
