"""The areas an analysis reports on, a projected CRS to measure in, and points placed in areas."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from rallypoint.analysis import AnalysisError

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd

    from rallypoint import Registry

STORAGE_EPSG = 4490


def read_areas(reg: "Registry", level: str) -> "gpd.GeoDataFrame":
    """The administrative areas of ``level`` (township, county …), indexed 0..n-1, ordered by code."""
    areas = reg.read_frame("admin_areas", columns=["adcode", "name", "level", "parent_adcode"])
    found = sorted(areas["level"].dropna().unique())
    areas = areas[areas["level"] == level]
    areas = areas[~areas.geometry.isna() & ~areas.geometry.is_empty]
    if areas.empty:
        raise AnalysisError(f"the registry has no administrative areas at level {level!r} "
                            f"(levels present: {', '.join(found) or 'none'}); choose another --level")
    areas = areas.sort_values("adcode", kind="stable").reset_index(drop=True)
    return areas


def work_epsg(areas: "gpd.GeoDataFrame") -> int:
    """The CGCS2000 3-degree Gauss–Krüger zone (EPSG:4534–4554, no zone prefix) around the areas' centre.

    >>> import geopandas as gpd, shapely
    >>> work_epsg(gpd.GeoDataFrame(geometry=[shapely.box(103.5, 30.5, 104.0, 31.0)], crs=4490))
    4544
    """
    minx, _, maxx, _ = areas.total_bounds
    lon = (minx + maxx) / 2.0
    zone = int(round((lon - 75.0) / 3.0))
    return 4534 + min(max(zone, 0), 20)


def locate(points, areas: "gpd.GeoDataFrame") -> np.ndarray:
    """The position (0..n-1) of the area each point lies in, or -1 outside every area.

    A point on a shared boundary goes to the first area (by code); points are placed by
    geometry, never by their division code. ``points`` is an array or GeoSeries of points
    in the areas' CRS.
    """
    import shapely

    geoms = np.asarray(getattr(points, "values", points), dtype=object)
    out = np.full(len(geoms), -1, dtype=np.int64)
    if not len(geoms):
        return out
    tree = shapely.STRtree(np.asarray(areas.geometry.values, dtype=object))
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    idx = np.flatnonzero(ok)
    p, a = tree.query(geoms[idx], predicate="intersects")
    order = np.lexsort((a, p))  # per point, the lowest area position first
    p, a = p[order], a[order]
    first = np.ones(len(p), dtype=bool)
    first[1:] = p[1:] != p[:-1]
    out[idx[p[first]]] = a[first]
    return out


def locate_xy(xy: np.ndarray, areas: "gpd.GeoDataFrame") -> np.ndarray:
    """:func:`locate` for an (n, 2) array of coordinates in the areas' CRS (NaN rows lie nowhere).

    The same answer without building a shapely point per row (a million population cells):
    area by area in code order, ``shapely.intersects_xy`` on the prepared polygon for the
    not yet placed points inside its bounding box, so a boundary point goes to the first area.
    """
    import shapely

    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    out = np.full(len(xy), -1, dtype=np.int64)
    x, y = xy[:, 0], xy[:, 1]
    for pos, poly in enumerate(areas.geometry.values):
        if poly is None or shapely.is_empty(poly):
            continue
        minx, miny, maxx, maxy = poly.bounds
        cand = np.flatnonzero((out < 0) & (x >= minx) & (x <= maxx) & (y >= miny) & (y <= maxy))
        if not len(cand):
            continue
        shapely.prepare(poly)
        hit = shapely.intersects_xy(poly, x[cand], y[cand])
        out[cand[hit]] = pos
    return out
