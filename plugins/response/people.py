"""The people inside the incident area, from the population grid, with partial cells counted by their share.

A population cell is a point (its centre) with a size ``cell_m``. It is taken as a square of ``cell_m`` × ``cell_m``
around its centre, axis-aligned in the work CRS, and counted by the share of that square inside the area: a cell
wholly inside counts whole, one wholly outside not at all, one crossing the edge by the share of its surface
inside (people assumed spread evenly over the cell). A cell without a size counts whole when its centre is inside.
Households are estimated as people ÷ people per household, rounded up.

>>> import numpy as np, shapely
>>> area = shapely.box(0, 0, 100, 100)
>>> share_inside(area, np.array([[50.0, 50.0], [100.0, 50.0], [300.0, 50.0]]), np.array([20.0, 20.0, 20.0]))
array([1. , 0.5, 0. ])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from shapely.geometry.base import BaseGeometry

    from rallypoint import Registry

    from rallypoint_plugins.reporting.notes import Notes as Warnings


@dataclass
class People:
    cells: "pd.DataFrame"  # the cells with any share inside: adcode, population, population_day, cell_m
    lonlat: np.ndarray  # their EPSG:4490 centres
    xy: np.ndarray  # projected centres
    share: np.ndarray  # share of each cell inside the area (0-1]
    people: np.ndarray  # people inside, per cell (population of the period × share)
    boundary: int  # cells crossing the area's edge

    @property
    def total(self) -> float:
        return float(self.people.sum())


def share_inside(area_m: "BaseGeometry", xy: np.ndarray, cell_m: np.ndarray) -> np.ndarray:
    """Share (0-1) of each cell's square inside the area (``xy`` centres and ``cell_m`` sizes in metres)."""
    import shapely

    x, y = xy[:, 0], xy[:, 1]
    shapely.prepare(area_m)
    inside = shapely.contains_xy(area_m, x, y) if len(xy) else np.zeros(0, dtype=bool)
    out = inside.astype(float)
    size = np.where(np.isfinite(cell_m) & (cell_m > 0), cell_m, 0.0)
    sized = np.flatnonzero(size > 0)
    if not len(sized):
        return out
    # only cells whose centre lies within half a diagonal of the edge can cross it
    d = shapely.distance(area_m.boundary, shapely.points(xy[sized]))
    edge = sized[d < size[sized] * np.sqrt(0.5)]
    if len(edge):
        h = size[edge] / 2.0
        boxes = shapely.box(x[edge] - h, y[edge] - h, x[edge] + h, y[edge] + h)
        out[edge] = np.clip(shapely.area(shapely.intersection(boxes, area_m)) / (size[edge] ** 2), 0.0, 1.0)
    return out


def people_inside(reg: "Registry", area, area_m, epsg: int, period: str, warnings: "Warnings") -> People:
    """The population cells of ``reg`` with a share inside the area (``area`` in EPSG:4490, ``area_m`` projected)."""
    from rallypoint_plugins.coverage.steps import project_lonlat

    minx, miny, maxx, maxy = area.bounds
    pad = 0.02  # degrees (~2 km): cells whose square may reach into the area's bounds, whatever their size
    cells, lonlat = reg.read_points("population", columns=["adcode", "population", "population_day", "cell_m"],
                                    bbox=(minx - pad, miny - pad, maxx + pad, maxy + pad))
    night = cells["population"].astype("Float64").fillna(0).to_numpy(dtype=float)
    if period == "day":
        day = cells["population_day"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        missing = np.isnan(day)
        if missing.any() and len(day):
            n = f"{int(missing.sum()):,}"
            en = f"{n} population cells near the area record no daytime population; their night-time figure is used"
            zh = f"区域附近 {n} 个人口格网没有日间人口，按其夜间人口计"
            warnings.add(en, zh)
        pop = np.where(missing, night, day)
    else:
        pop = night
    ok = ~np.isnan(lonlat).any(axis=1)
    xy = np.full(lonlat.shape, np.nan)
    xy[ok] = project_lonlat(lonlat[ok], epsg)
    share = np.zeros(len(cells))
    size = cells["cell_m"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    share[ok] = share_inside(area_m, xy[ok], size[ok])
    keep = share > 0
    boundary = int(((share > 0) & (share < 1)).sum())
    return People(cells=cells[keep], lonlat=lonlat[keep], xy=xy[keep], share=share[keep],
                  people=pop[keep] * share[keep], boundary=boundary)


def households(people: float, per_household: float) -> int:
    """Households estimated from people (rounded up).

    >>> households(263.0, 2.62)
    101
    """
    import math

    return int(math.ceil(round(people / per_household, 6))) if people > 0 else 0
