"""The world: the geography and population every layer is drawn from, shared while a region is built."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree
from shapely.geometry import Polygon

from .config import _Config
from .names import _STREET_SUFFIX, _place_names
from .projection import _to_geo


@dataclass
class _World:
    cfg: _Config
    region: Polygon  # work CRS
    core_xy: np.ndarray
    front_xy: np.ndarray
    wobble: tuple[float, float, float]
    # grid
    cell_xy: np.ndarray = None
    cell_ll: np.ndarray = None
    cell_town: np.ndarray = None
    cell_h: np.ndarray = None
    pop: np.ndarray = None
    pop_day: np.ndarray = None
    # townships and counties
    town_xy: np.ndarray = None
    town_county: np.ndarray = None
    town_core: np.ndarray = None  # inside the urban core
    town_weight: np.ndarray = None
    town_kind: list[str] = None  # 街道 / 镇 / 乡
    town_name: list[str] = None
    town_code: list[str] = None
    town_pop: np.ndarray = None
    town_h: np.ndarray = None
    county_seat: np.ndarray = None  # township index of each county's seat
    county_kind: list[str] = None  # 区 / 县 / 市
    county_name: list[str] = None
    county_code: list[str] = None
    village_xy: np.ndarray = None
    village_town: np.ndarray = None
    village_name: list[str] = None
    park_xy: np.ndarray = None  # industrial parks
    locate: Callable[[np.ndarray, np.ndarray], np.ndarray] = None
    _cell_tree: cKDTree | None = None

    def hilliness(self, x, y) -> np.ndarray:
        """0 on the plain, 1 in the hills west of a wobbly NE-SW mountain front."""
        strike = np.radians(35.0)
        t = np.array([np.sin(strike), np.cos(strike)])
        n = np.array([-np.cos(strike), np.sin(strike)])  # points west-north-west
        dx, dy = np.asarray(x) - self.front_xy[0], np.asarray(y) - self.front_xy[1]
        along = dx * t[0] + dy * t[1]
        amp, wl, ph = self.wobble
        d = dx * n[0] + dy * n[1] + amp * np.sin(along / wl + ph)
        return 1.0 / (1.0 + np.exp(-np.clip(d / 2_500.0, -50, 50)))

    def cell_tree(self) -> cKDTree:
        if self._cell_tree is None:
            self._cell_tree = cKDTree(self.cell_xy)
        return self._cell_tree

    def place(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Lon/lat and township of work-CRS points; a point outside every township goes to the nearest cell."""
        x, y = np.asarray(x, float).copy(), np.asarray(y, float).copy()
        lon, lat = _to_geo(x, y)
        town = self.locate(lon, lat)
        bad = town < 0
        if bad.any():
            _, ci = self.cell_tree().query(np.column_stack([x[bad], y[bad]]))
            lon[bad], lat[bad] = self.cell_ll[ci, 0], self.cell_ll[ci, 1]
            town[bad] = self.cell_town[ci]
        return lon, lat, town

    def sample_cells(self, rng, n: int, weight: np.ndarray, replace: bool = True) -> np.ndarray:
        p = np.asarray(weight, float)
        p = p / p.sum()
        return rng.choice(len(p), size=n, replace=replace, p=p)

    def jittered(self, rng, cells: np.ndarray, spread: float = 45.0):
        x = self.cell_xy[cells, 0] + rng.uniform(-spread, spread, len(cells))
        y = self.cell_xy[cells, 1] + rng.uniform(-spread, spread, len(cells))
        return x, y

    def address(self, rng, towns: np.ndarray) -> list[str]:
        streets = _place_names(rng, 400)
        s = rng.integers(0, len(streets), len(towns)).tolist()
        suf = rng.integers(0, len(_STREET_SUFFIX), len(towns)).tolist()
        num = rng.integers(1, 300, len(towns)).tolist()
        out = []
        for t, a, b, c in zip(np.asarray(towns).tolist(), s, suf, num):
            county = self.county_name[self.town_county[t]] if self.cfg.core_districts else ""
            out.append(f"{self.cfg.name}{county}{self.town_name[t]}{streets[a]}{_STREET_SUFFIX[b]}{c}号")
        return out
