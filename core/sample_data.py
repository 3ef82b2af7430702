"""Synthetic sample data: a fictional Sichuan city or county with its emergency resources.

:func:`generate` builds, from one seed, the reference layers (administrative areas, a 100 m
population grid, a road network) and the resource layers (shelters, depots and their stock,
teams, hazard points, helipads) of a region that does not exist but looks like one: an urban
core and towns on the Chengdu plain, villages and hamlets between them, and a hilly west
where the geohazards are. Nothing is written to disk; every resource feature passes
:func:`rallypoint.validation.check_feature`.

The geography is built in metres in CGCS2000 / 3-degree Gauss-Kruger CM 105E (EPSG:4544), so
population cells are exactly 100 m there, and every output is converted to EPSG:4490.
Only ``numpy.random.default_rng(seed)`` (and generators spawned from it) supplies chance:
the same size and seed give identical output.

>>> data = generate("county", seed=1)          # doctest: +SKIP
>>> len(data.features["helipads"])             # doctest: +SKIP
3
"""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse import csgraph
from scipy.spatial import Delaunay, cKDTree
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

__all__ = ["SampleData", "generate", "SIZES"]

WORK_EPSG = 4544  # CGCS2000 / 3-degree Gauss-Kruger CM 105E: metres, for building the geography
STORAGE_EPSG = 4490
CELL_M = 100.0
PROVINCE_ADCODE = "510000"
CITY_ADCODE = "519900"
#: Fixed reference time of the data set (no clock is read): counts and expiries are relative to it.
AS_OF = "2026-11-01"

Feature = tuple[dict[str, Any], BaseGeometry | None]


@dataclass
class SampleData:
    """Everything :func:`generate` makes for one region.

    ``features`` maps a resource (or related) layer name to ``(properties, geometry)`` pairs;
    geometries are EPSG:4490 points (``None`` for ``depot_stock``).
    """

    region: dict[str, str]
    admin_areas: gpd.GeoDataFrame
    population: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame
    features: dict[str, list[Feature]] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Configuration of the two sizes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Config:
    size: str
    name: str
    adcode: str
    parent_adcode: str
    centre: tuple[float, float]  # lon, lat of the region's centre
    area_km2: float
    aspect: float  # east-west extent over north-south extent
    core: tuple[float, float]  # lon, lat of the urban core (city centre or county seat)
    core_sigma_m: float
    core_tail_m: float
    core_radius_m: float  # townships inside are streets (街道) of the core
    front: tuple[float, float]  # a point on the foot of the hills; west of it is hilly
    population: float
    mix: tuple[float, float, float, float]  # core, towns, villages, rural background
    core_districts: int
    outer_counties: int
    town_r: tuple[float, float, float]  # hard-core radius of township seats: core, plain, hills (m)
    village_r: tuple[float, float]  # plain, hills (m)
    node_scale: float  # road-node density factor
    shelters: dict[str, int]
    hazard_points: int
    geohazard_share: float
    installations: int
    helipads: int
    villages_per_squad: int
    social_teams: int
    core_fire_stations: int
    exits: int


SIZES: dict[str, _Config] = {
    "city": _Config(
        size="city", name="示例市", adcode=CITY_ADCODE, parent_adcode=PROVINCE_ADCODE,
        centre=(104.10, 30.70), area_km2=10_000.0, aspect=1.25,
        core=(104.13, 30.66), core_sigma_m=5_500.0, core_tail_m=9_000.0, core_radius_m=11_500.0,
        front=(103.76, 30.70), population=9_600_000.0, mix=(0.50, 0.25, 0.15, 0.10),
        core_districts=5, outer_counties=7,
        town_r=(1_350.0, 4_300.0, 6_000.0), village_r=(1_250.0, 1_800.0), node_scale=1.0,
        shelters={"emergency": 2_062, "fixed_short": 590, "fixed_medium": 190, "fixed_long": 90, "central": 6},
        hazard_points=140_000, geohazard_share=0.025, installations=300, helipads=25,
        villages_per_squad=1, social_teams=75, core_fire_stations=15, exits=8,
    ),
    "county": _Config(
        size="county", name="示例县", adcode="519921", parent_adcode=CITY_ADCODE,
        centre=(103.73, 30.62), area_km2=300.0, aspect=1.2,
        core=(103.765, 30.612), core_sigma_m=1_300.0, core_tail_m=2_500.0, core_radius_m=2_600.0,
        front=(103.70, 30.62), population=350_000.0, mix=(0.40, 0.25, 0.22, 0.13),
        core_districts=0, outer_counties=1,
        town_r=(1_200.0, 2_500.0, 3_300.0), village_r=(1_250.0, 1_700.0), node_scale=1.0,
        shelters={"emergency": 42, "fixed_short": 12, "fixed_medium": 4, "fixed_long": 2, "central": 0},
        hazard_points=1_500, geohazard_share=0.08, installations=8, helipads=3,
        villages_per_squad=2, social_teams=3, core_fire_stations=0, exits=4,
    ),
}

# Per-capita effective area (m²) of GB 51143-2015 by shelter type (central taken as long term),
# and the planned area per person the sample bureau used (≥ the standard, chosen so that the
# city's totals come near DOMAIN.md: 2,938 shelters, 1.969 million m², 308,200 people).
SHELTER_STANDARD_M2 = {"emergency": 0.5, "fixed_short": 2.0, "fixed_medium": 3.0, "fixed_long": 4.5, "central": 4.5}
_SHELTER_PLAN_M2 = {"emergency": 4.0, "fixed_short": 8.0, "fixed_medium": 9.0, "fixed_long": 10.0, "central": 10.0}
_SHELTER_MEAN_AREA = {"emergency": 287.0, "fixed_short": 1_000.0, "fixed_medium": 1_860.0,
                      "fixed_long": 3_070.0, "central": 26_000.0}
_CITY_SHELTER_AREA = 1_969_000.0
_CITY_SHELTER_PEOPLE = 308_200
_OVER_CAPACITY_SHARE = 0.03

# --------------------------------------------------------------------------------------------
# Word lists for names
# --------------------------------------------------------------------------------------------

_SYL1 = list("青金龙凤白石清新安永太福兴长宝平和华云天双三黄桂柳梅桃竹松红东西南北高大上中万仁德瑞玉银文富顺乐寿观春秋崇明光灵嘉")
_SYL2 = list("山水桥坝场湾溪林岗岭阳河江池堰沟坪塘庙寺兴安宁平丰泉源峰园口关屯铺坡岩井")
_SURNAMES = list("王李张刘陈杨黄赵周吴徐罗何谢唐冯邓曾彭胡郭林高马梁宋郑蒋杜袁蔡余程付向苏廖熊任肖叶雷田文钟魏邱侯汪陶龚范")
_GIVEN = list("伟芳娜敏静强磊军洋勇艳杰涛明超霞平刚桂英华建志国文斌浩宇婷雪琴兰红春梅丽军鹏飞俊峰亮成林波辉云")
_MOBILE_PREFIXES = ["130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155",
                    "157", "158", "159", "166", "173", "177", "180", "181", "182", "183", "187", "188", "189",
                    "191", "198", "199"]
_STREET_SUFFIX = ["路", "街", "大道", "巷"]


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


@cache
def _transformers() -> tuple[pyproj.Transformer, pyproj.Transformer]:
    to_work = pyproj.Transformer.from_crs(STORAGE_EPSG, WORK_EPSG, always_xy=True)
    to_geo = pyproj.Transformer.from_crs(WORK_EPSG, STORAGE_EPSG, always_xy=True)
    return to_work, to_geo


def _to_work(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    x, y = _transformers()[0].transform(np.asarray(lon, float), np.asarray(lat, float))
    return np.asarray(x), np.asarray(y)


def _to_geo(x, y) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = _transformers()[1].transform(np.asarray(x, float), np.asarray(y, float))
    return np.asarray(lon), np.asarray(lat)


def _geom_to_geo(geoms):
    def f(coords):
        lon, lat = _to_geo(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(geoms, f)


def _uuids(rng: np.random.Generator, n: int) -> list[str]:
    return [str(uuidlib.UUID(bytes=rng.bytes(16), version=4)) for _ in range(n)]


def _stoch_round(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    base = np.floor(x)
    return (base + (rng.random(x.shape) < (x - base))).astype(np.int64)


def _person_names(rng: np.random.Generator, n: int) -> list[str]:
    s = rng.integers(0, len(_SURNAMES), n)
    g1 = rng.integers(0, len(_GIVEN), n)
    g2 = rng.integers(0, len(_GIVEN), n)
    two = rng.random(n) < 0.7
    return [_SURNAMES[a] + _GIVEN[b] + (_GIVEN[c] if t else "") for a, b, c, t in zip(s.tolist(), g1.tolist(),
                                                                                      g2.tolist(), two.tolist())]


def _phones(rng: np.random.Generator, n: int) -> list[str]:
    p = rng.integers(0, len(_MOBILE_PREFIXES), n).tolist()
    num = rng.integers(0, 100_000_000, n).tolist()
    return [f"{_MOBILE_PREFIXES[a]}{b:08d}" for a, b in zip(p, num)]


def _place_names(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct two-character place names (repeating only past the list's size)."""
    combos = [a + b for a in _SYL1 for b in _SYL2 if a != b]
    order = rng.permutation(len(combos))
    return [combos[order[i % len(combos)]] for i in range(n)]


def _pick(rng: np.random.Generator, options: list, n: int, p=None) -> list:
    idx = rng.choice(len(options), size=n, p=None if p is None else np.asarray(p, float) / np.sum(p))
    return [options[i] for i in idx.tolist()]


def _dates(rng: np.random.Generator, n: int, start: str, end: str) -> list[str]:
    a, b = np.datetime64(start), np.datetime64(end)
    days = rng.integers(0, int((b - a).astype(int)) + 1, n)
    return [str(d) for d in (a + days.astype("timedelta64[D]"))]


def _hardcore(rng: np.random.Generator, pts: np.ndarray, radii: np.ndarray, keep: np.ndarray | None = None):
    """Matérn type II thinning: drop a point when a neighbour closer than their mean radius has a lower mark.

    ``keep`` marks points that always survive (their mark is lowest). Returns surviving indices, sorted.
    """
    marks = rng.random(len(pts))
    if keep is not None:
        marks[keep] = -1.0  # forced points beat every other
    pairs = cKDTree(pts).query_pairs(float(radii.max()), output_type="ndarray")
    if len(pairs):
        i, j = pairs[:, 0], pairs[:, 1]
        d = np.hypot(*(pts[i] - pts[j]).T)
        conflict = d < 0.5 * (radii[i] + radii[j])
        i, j = i[conflict], j[conflict]
        loser = np.where(marks[i] > marks[j], i, j)
        if keep is not None:
            both_kept = keep[i] & keep[j]
            loser = loser[~both_kept]
        dead = np.zeros(len(pts), bool)
        dead[loser] = True
        if keep is not None:
            dead[keep] = False
        return np.flatnonzero(~dead)
    return np.arange(len(pts))


def _multi(g: BaseGeometry) -> MultiPolygon:
    if isinstance(g, MultiPolygon):
        return g
    if isinstance(g, Polygon):
        return MultiPolygon([g])
    polys = [p for p in shapely.get_parts(g) if isinstance(p, Polygon)]
    return MultiPolygon(polys)


# --------------------------------------------------------------------------------------------
# The world: geography shared by every layer
# --------------------------------------------------------------------------------------------


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
    grid_shape: tuple[int, int] = None
    grid_origin: tuple[float, float] = None
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
    park_town: np.ndarray = None
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


def _build_world(cfg: _Config, rng: np.random.Generator) -> _World:
    (cx,), (cy,) = _to_work([cfg.centre[0]], [cfg.centre[1]])
    core = np.array([v[0] for v in _to_work([cfg.core[0]], [cfg.core[1]])])
    front = np.array([v[0] for v in _to_work([cfg.front[0]], [cfg.front[1]])])
    # Region: a star-shaped blob with low harmonics, scaled to the target area.
    th = np.linspace(0.0, 2 * np.pi, 720, endpoint=False)
    r = np.ones_like(th)
    for k in range(2, 16):
        r += rng.uniform(0.04, 0.12) / (k / 2.0) ** 1.3 * np.cos(k * th + rng.uniform(0, 2 * np.pi))
    r = np.clip(r, 0.5, None)
    xs, ys = r * np.cos(th) * np.sqrt(cfg.aspect), r * np.sin(th) / np.sqrt(cfg.aspect)
    area = Polygon(np.column_stack([xs, ys])).area
    s = np.sqrt(cfg.area_km2 * 1e6 / area)
    region = Polygon(np.column_stack([cx + xs * s, cy + ys * s]))
    span = np.sqrt(cfg.area_km2) * 1_000.0
    wobble = (0.06 * span, 0.12 * span, float(rng.uniform(0, 2 * np.pi)))
    return _World(cfg=cfg, region=region, core_xy=core, front_xy=front, wobble=wobble)


# --------------------------------------------------------------------------------------------
# Townships, counties, villages
# --------------------------------------------------------------------------------------------


def _settlements(w: _World, rng: np.random.Generator) -> None:
    cfg = w.cfg
    minx, miny, maxx, maxy = w.region.bounds
    shapely.prepare(w.region)

    def uniform_in_region(n):
        x = rng.uniform(minx, maxx, n)
        y = rng.uniform(miny, maxy, n)
        inside = shapely.contains_xy(w.region, x, y)
        return np.column_stack([x[inside], y[inside]])

    # Township seats: a hard-core process, dense in the core, sparse in the hills; the core first.
    r_core, r_plain, r_hill = cfg.town_r
    cand = uniform_in_region(int(4.0 * cfg.area_km2 * 1e6 / (np.pi * r_core**2)))
    cand = np.vstack([w.core_xy[None, :], cand])
    dcore = np.hypot(*(cand - w.core_xy).T)
    h = w.hilliness(cand[:, 0], cand[:, 1])
    in_core = dcore < cfg.core_radius_m
    radii = np.where(in_core, r_core, r_plain + (r_hill - r_plain) * h)
    # keep seats away from the region's edge a little
    edge = shapely.distance(w.region.exterior, shapely.points(cand))
    ok = (edge > 0.35 * radii) | (np.arange(len(cand)) == 0)
    cand, radii, in_core = cand[ok], radii[ok], in_core[ok]
    keep = np.zeros(len(cand), bool)
    keep[0] = True
    idx = _hardcore(rng, cand, radii, keep)
    town_xy = cand[idx]
    town_core = in_core[idx]
    nt = len(town_xy)
    w.town_xy, w.town_core = town_xy, town_core
    w.town_h = w.hilliness(town_xy[:, 0], town_xy[:, 1])

    # Counties: core districts take the core's townships by sector, outer counties the rest by
    # nearest seat (seats spread by farthest-point sampling).
    county = np.full(nt, -1)
    seats: list[int] = []
    if cfg.core_districts:
        ang0 = rng.uniform(0, 2 * np.pi)
        ang = ang0 + 2 * np.pi * np.arange(cfg.core_districts) / cfg.core_districts
        dseed = w.core_xy + 0.45 * cfg.core_radius_m * np.column_stack([np.cos(ang), np.sin(ang)])
        ci = np.flatnonzero(town_core)
        _, near = cKDTree(dseed).query(town_xy[ci])
        county[ci] = near
        for k in range(cfg.core_districts):
            members = ci[near == k]
            if len(members) == 0:  # cannot happen with sensible radii; keep the district non-empty
                members = ci[[int(np.argmin(np.hypot(*(town_xy[ci] - dseed[k]).T)))]]
                county[members] = k
            # the district's seat: its township nearest the district's own centre
            seats.append(int(members[np.argmin(np.hypot(*(town_xy[members] - dseed[k]).T))]))
    outer = np.flatnonzero(county < 0)
    base = cfg.core_districts
    if cfg.core_districts == 0:
        chosen = [0]  # the county seat is the core itself
    else:
        chosen = []
        mind = np.hypot(*(town_xy[outer] - w.core_xy).T)
        for _ in range(cfg.outer_counties):
            score = mind * (1.0 - 0.5 * w.town_h[outer])
            j = int(np.argmax(score))
            chosen.append(int(outer[j]))
            mind = np.minimum(mind, np.hypot(*(town_xy[outer] - town_xy[outer[j]]).T))
    _, near = cKDTree(town_xy[chosen]).query(town_xy[outer])
    county[outer] = base + near
    seats.extend(chosen)
    w.town_county = county
    w.county_seat = np.array(seats)

    # Town sizes: county seats big, core streets small sub-centres, hill towns smaller.
    wt = rng.lognormal(0.0, 0.5, nt) * (1.0 - 0.6 * w.town_h)
    wt[town_core] *= 0.25
    wt[w.county_seat[cfg.core_districts:]] *= 6.0
    w.town_weight = wt

    # Villages (administrative village seats), kept off the core and town centres.
    r_vp, r_vh = cfg.village_r
    cand = uniform_in_region(int(3.5 * cfg.area_km2 * 1e6 / (np.pi * r_vp**2)))
    dcore = np.hypot(*(cand - w.core_xy).T)
    dtown, _ = cKDTree(town_xy).query(cand)
    cand = cand[(dcore > 0.8 * cfg.core_radius_m) & (dtown > 900.0)]
    hv = w.hilliness(cand[:, 0], cand[:, 1])
    vi = _hardcore(rng, cand, r_vp + (r_vh - r_vp) * hv)
    w.village_xy = cand[vi]
    _, w.village_town = cKDTree(town_xy).query(w.village_xy)

    # Industrial parks: one beside most towns on the plain, 1.5-3 km out.
    plain = np.flatnonzero((w.town_h < 0.5) & ~town_core | (np.arange(nt) == 0))
    ang = rng.uniform(0, 2 * np.pi, len(plain))
    dist = rng.uniform(1_500.0, 3_000.0, len(plain))
    pxy = town_xy[plain] + np.column_stack([np.cos(ang), np.sin(ang)]) * dist[:, None]
    inside = shapely.contains_xy(w.region, pxy[:, 0], pxy[:, 1])
    w.park_xy, w.park_town = pxy[inside], plain[inside]


# --------------------------------------------------------------------------------------------
# Population grid
# --------------------------------------------------------------------------------------------


def _population(w: _World, rng: np.random.Generator) -> np.ndarray:
    """Fill the grid; returns the 2-D night density (people per cell) for the road builder."""
    cfg = w.cfg
    minx, miny, maxx, maxy = w.region.bounds
    x0 = np.floor(minx / CELL_M) * CELL_M
    y0 = np.floor(miny / CELL_M) * CELL_M
    nx = int(np.ceil((maxx - x0) / CELL_M))
    ny = int(np.ceil((maxy - y0) / CELL_M))
    xs = x0 + CELL_M * (np.arange(nx) + 0.5)
    ys = y0 + CELL_M * (np.arange(ny) + 0.5)
    w.grid_shape, w.grid_origin = (ny, nx), (x0, y0)
    X = np.broadcast_to(xs[None, :], (ny, nx))
    Y = np.broadcast_to(ys[:, None], (ny, nx))
    inside = shapely.contains_xy(w.region, X.ravel(), Y.ravel()).reshape(ny, nx)
    H = w.hilliness(X, Y)

    def impulses(xy, weight, sigma_cells):
        a = np.zeros((ny, nx))
        ix = np.clip(((xy[:, 0] - x0) // CELL_M).astype(int), 0, nx - 1)
        iy = np.clip(((xy[:, 1] - y0) // CELL_M).astype(int), 0, ny - 1)
        np.add.at(a, (iy, ix), weight)
        return ndimage.gaussian_filter(a, sigma_cells, mode="constant", truncate=3.5)

    def normalised(a, share):
        a = np.where(inside, a, 0.0)
        return a * (share / a.sum())

    # Smooth multiplicative noise: neighbourhoods differ.
    noise = ndimage.gaussian_filter(rng.standard_normal((ny, nx)), 15.0, mode="wrap")
    noise = np.exp(0.45 * noise / noise.std())

    # Urban core: anisotropic Gaussian plus an exponential suburban tail, none in the hills.
    ang = rng.uniform(0, np.pi)
    dx, dy = X - w.core_xy[0], Y - w.core_xy[1]
    u = dx * np.cos(ang) + dy * np.sin(ang)
    v = -dx * np.sin(ang) + dy * np.cos(ang)
    rr = np.hypot(u / 1.2, v * 1.2)
    core = (np.exp(-0.5 * (rr / cfg.core_sigma_m) ** 2) + 0.22 * np.exp(-rr / cfg.core_tail_m)) * (1.0 - H) ** 2
    core_share, town_share, village_share, bg_share = cfg.mix

    # Towns: seats of outer counties wide, other towns narrow.
    seats = np.zeros(len(w.town_xy), bool)
    seats[w.county_seat[cfg.core_districts:]] = True
    seats[0] = False  # the core is drawn above
    towns = impulses(w.town_xy[~seats], w.town_weight[~seats], 700.0 / CELL_M)
    if seats.any():
        towns = towns + impulses(w.town_xy[seats], w.town_weight[seats], 1_600.0 / CELL_M)

    # Villages: each seat with 2-6 hamlets around it (林盘).
    nv = len(w.village_xy)
    hv = w.hilliness(w.village_xy[:, 0], w.village_xy[:, 1])
    nh = rng.integers(2, 7, nv)
    rep = np.repeat(np.arange(nv), nh)
    hxy = w.village_xy[rep] + rng.normal(0.0, 550.0, (len(rep), 2))
    hw = rng.lognormal(0.0, 0.6, len(rep)) * (1.0 - 0.5 * hv[rep])
    vw = np.concatenate([rng.lognormal(0.4, 0.3, nv) * (1.0 - 0.5 * hv), hw])
    villages = impulses(np.vstack([w.village_xy, hxy]), vw, 1.6)

    background = (1.0 - 0.85 * H) * rng.lognormal(0.0, 0.5, (ny, nx))
    dens = (normalised(core, core_share) + normalised(towns, town_share)
            + normalised(villages, village_share) + normalised(background, bg_share))
    dens = dens * noise * rng.lognormal(0.0, 0.25, (ny, nx))
    dens = np.where(inside, dens, 0.0)
    dens *= cfg.population / dens.sum()

    # Day: a third of residents outside the core commute towards jobs (core centre, towns, parks).
    jobs = (np.exp(-0.5 * (rr / (0.55 * cfg.core_sigma_m)) ** 2) * (1.0 - H) ** 2 * 0.6 / 1.0)
    jobs = normalised(jobs, 0.55) + normalised(impulses(w.town_xy, w.town_weight, 4.0), 0.25)
    if len(w.park_xy):
        jobs = jobs + normalised(impulses(w.park_xy, np.ones(len(w.park_xy)), 5.0), 0.20)
    commute = 0.33 * (1.0 - np.exp(-0.5 * (rr / (0.6 * cfg.core_sigma_m)) ** 2))
    leaving = dens * commute
    day = dens - leaving + np.where(inside, jobs, 0.0) / jobs[inside].sum() * leaving.sum()

    flat = np.flatnonzero(inside.ravel())
    w.cell_xy = np.column_stack([X.ravel()[flat], Y.ravel()[flat]])
    w.cell_h = H.ravel()[flat]
    w.pop = _stoch_round(rng, dens.ravel()[flat])
    w.pop_day = _stoch_round(rng, day.ravel()[flat])
    return dens


# --------------------------------------------------------------------------------------------
# Administrative areas
# --------------------------------------------------------------------------------------------


def _admin(w: _World, rng: np.random.Generator) -> gpd.GeoDataFrame:
    cfg = w.cfg
    nt = len(w.town_xy)
    nc = int(w.town_county.max()) + 1
    env = shapely.box(*w.region.buffer(5_000.0).bounds)
    vor = shapely.voronoi_polygons(shapely.multipoints(w.town_xy), extend_to=env, ordered=True)
    cells = np.asarray(shapely.get_parts(vor))
    assert len(cells) == nt
    towns = shapely.set_precision(shapely.intersection(cells, w.region), 0.001)
    counties = np.array([shapely.union_all(towns[w.town_county == c], grid_size=0.001) for c in range(nc)])
    region = shapely.union_all(counties, grid_size=0.001)
    towns_g = _geom_to_geo(towns)
    counties_g = _geom_to_geo(counties)
    region_g = _geom_to_geo(region)

    # Locator in EPSG:4490: county bounding box first, then the township's own polygon.
    shapely.prepare(towns_g)
    tb = shapely.bounds(towns_g)
    cb = shapely.bounds(counties_g)
    members = [np.flatnonzero(w.town_county == c) for c in range(nc)]

    def locate(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        lon, lat = np.asarray(lon, float), np.asarray(lat, float)
        out = np.full(len(lon), -1, np.int64)
        for c in range(nc):
            b = cb[c]
            ci = np.flatnonzero((lon >= b[0]) & (lon <= b[2]) & (lat >= b[1]) & (lat <= b[3]))
            if not len(ci):
                continue
            clon, clat = lon[ci], lat[ci]
            for t in members[c]:
                b2 = tb[t]
                sel = np.flatnonzero((clon >= b2[0]) & (clon <= b2[2]) & (clat >= b2[1]) & (clat <= b2[3]))
                if len(sel):
                    hit = shapely.contains_xy(towns_g[t], clon[sel], clat[sel])
                    out[ci[sel[hit]]] = t
        return out

    w.locate = locate
    lon, lat = _to_geo(w.cell_xy[:, 0], w.cell_xy[:, 1])
    town = locate(lon, lat)
    ok = town >= 0
    w.cell_xy, w.cell_h, w.pop, w.pop_day = w.cell_xy[ok], w.cell_h[ok], w.pop[ok], w.pop_day[ok]
    w.cell_ll = np.column_stack([lon[ok], lat[ok]])
    w.cell_town = town[ok]
    w.town_pop = np.bincount(w.cell_town, weights=w.pop, minlength=nt).astype(np.int64)
    county_pop = np.bincount(w.town_county, weights=w.town_pop, minlength=nc).astype(np.int64)

    # Names and codes. Counties: districts 区 (02…), counties 县 (22…), county-level cities 市 (81…)
    # as GB/T 2260 numbers them; the county size is the single county 示例县.
    names = _place_names(rng, nt + nc)
    if cfg.core_districts == 0:
        w.county_kind, w.county_name, w.county_code = ["县"], [cfg.name], [cfg.adcode]
    else:
        kinds, codes = [], []
        outer = list(range(cfg.core_districts, nc))
        by_pop = sorted(outer, key=lambda c: -county_pop[c])
        cities = set(by_pop[:3])
        n_d = n_x = n_s = 0
        for c in range(nc):
            if c < cfg.core_districts:
                n_d += 1
                kinds.append("区"), codes.append(f"5199{n_d + 1:02d}")
            elif c in cities:
                n_s += 1
                kinds.append("市"), codes.append(f"5199{80 + n_s:02d}")
            else:
                n_x += 1
                kinds.append("县"), codes.append(f"5199{21 + n_x:02d}")
        w.county_kind, w.county_code = kinds, codes
        w.county_name = [names[nt + c] + kinds[c] for c in range(nc)]

    # Township kinds: streets in the core and around county seats, 乡 in the thinly peopled hills.
    area_km2 = shapely.area(towns) / 1e6
    dens_t = w.town_pop / np.maximum(area_km2, 1e-9)
    kind = np.where(w.town_h > 0.6, "乡", "镇").astype(object)
    kind[(dens_t > 3_000) | w.town_core] = "街道"
    kind[(w.town_h > 0.6) & (dens_t > 600)] = "镇"
    seats_outer = w.county_seat[cfg.core_districts:]
    kind[seats_outer] = "街道" if cfg.core_districts else "镇"
    if cfg.core_districts == 0:  # the county seat's town is split into streets
        kind[w.town_core] = "街道"
    w.town_kind = kind.tolist()
    w.town_name = [names[t] + w.town_kind[t] for t in range(nt)]
    codes = [""] * nt
    start = {"街道": 1, "镇": 100, "乡": 200}
    for c in range(nc):
        m = members[c]
        d = np.hypot(*(w.town_xy[m] - w.town_xy[w.county_seat[c]]).T)
        counters = dict(start)
        for t in m[np.argsort(d, kind="stable")]:
            k = w.town_kind[t]
            codes[t] = f"{w.county_code[c]}{counters[k]:03d}"
            counters[k] += 1
    w.town_code = codes
    w.village_name = [n + "村" for n in _place_names(rng, len(w.village_xy))]

    rows = []
    top_level = "city" if cfg.core_districts else "county"
    total = int(county_pop.sum())
    rows.append((cfg.adcode, cfg.name, top_level, cfg.parent_adcode, total, _multi(region_g)))
    if cfg.core_districts:
        for c in range(nc):
            rows.append((w.county_code[c], w.county_name[c], "county", cfg.adcode, int(county_pop[c]),
                         _multi(counties_g[c])))
    for c in range(nc):
        for t in members[c]:
            rows.append((codes[t], w.town_name[t], "township", w.county_code[c], int(w.town_pop[t]),
                         _multi(towns_g[t])))
    df = pd.DataFrame(rows, columns=["adcode", "name", "level", "parent_adcode", "population", "geometry"])
    df["population"] = df["population"].astype(np.int64)
    return gpd.GeoDataFrame(df, geometry="geometry", crs=STORAGE_EPSG)


def _population_frame(w: _World) -> gpd.GeoDataFrame:
    codes = np.asarray(w.town_code, dtype=object)[w.cell_town]
    return gpd.GeoDataFrame(
        {
            "adcode": codes,
            "cell_m": np.full(len(codes), CELL_M),
            "population": w.pop.astype(np.int64),
            "population_day": w.pop_day.astype(np.int64),
        },
        geometry=shapely.points(w.cell_ll),
        crs=STORAGE_EPSG,
    )


# --------------------------------------------------------------------------------------------
# Roads
# --------------------------------------------------------------------------------------------

_SPEED = {"motorway": 100.0, "primary": 60.0, "secondary": 50.0, "tertiary": 40.0, "residential": 30.0,
          "track": 20.0, "path": np.nan}


def _roads(w: _World, rng: np.random.Generator) -> gpd.GeoDataFrame:
    cfg = w.cfg
    # Junctions: one chance per 100 m cell, near certain in the core, rare in the hills.
    p = (0.10 * (1.0 - w.cell_h) + 0.025 * w.cell_h + np.minimum(1.0, (w.pop / 150.0) ** 0.65)) * cfg.node_scale
    p = np.clip(p, 0.0, 0.95)
    take = np.flatnonzero(rng.random(len(p)) < p)
    nxy = w.cell_xy[take] + rng.uniform(-35.0, 35.0, (len(take), 2))
    node_p = p[take]
    node_h = w.cell_h[take]
    n = len(nxy)

    # Candidate streets: Delaunay edges; Gabriel edges are the plausible ones.
    tri = Delaunay(nxy)
    s = tri.simplices
    a = s.ravel()
    b = s[:, [1, 2, 0]].ravel()
    c = s[:, [2, 0, 1]].ravel()
    dot = np.einsum("ij,ij->i", nxy[a] - nxy[c], nxy[b] - nxy[c])
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    key = lo.astype(np.int64) * n + hi
    ukey, inv = np.unique(key, return_inverse=True)
    gabriel = np.bincount(inv, weights=(dot <= 0.0)) == 0
    eu, ev = ukey // n, ukey % n
    length = np.hypot(*(nxy[eu] - nxy[ev]).T)
    mid = 0.5 * (nxy[eu] + nxy[ev])
    usable = gabriel & (length < 3_000.0) & shapely.contains_xy(w.region, mid[:, 0], mid[:, 1])
    eu, ev, length = eu[usable], ev[usable], length[usable]
    ekey = eu * n + ev
    g = coo_matrix((length, (eu, ev)), shape=(n, n)).tocsr()
    mst = csgraph.minimum_spanning_tree(g).tocoo()
    mkey = np.minimum(mst.row, mst.col).astype(np.int64) * n + np.maximum(mst.row, mst.col)
    in_mst = np.isin(ekey, mkey)
    local_p = np.minimum(node_p[eu], node_p[ev])
    q = 0.28 + 0.45 * local_p
    keep = in_mst | (rng.random(len(ekey)) < q)
    eu, ev, length, ekey = eu[keep], ev[keep], length[keep], ekey[keep]
    ne = len(ekey)  # ekey is sorted (from np.unique), so edges are found with searchsorted
    graph = coo_matrix((length, (eu, ev)), shape=(n, n)).tocsr()

    cls = np.full(ne, "track", dtype=object)
    urban = local_p[keep] >= 0.3
    cls[urban] = "residential"
    hm = 0.5 * (node_h[eu] + node_h[ev])
    r = rng.random(ne)
    cls[~urban & (hm > 0.6) & (r < 0.55)] = "path"
    cls[~urban & (hm <= 0.6) & (r < 0.08)] = "path"
    names = np.full(ne, None, dtype=object)
    rank = {"path": 0, "track": 1, "residential": 1, "tertiary": 2, "secondary": 3, "primary": 4}

    tree = cKDTree(nxy)

    def nearest_node(xy):
        return tree.query(np.atleast_2d(xy))[1]

    def edge_ids(u, v):
        k = np.minimum(u, v).astype(np.int64) * n + np.maximum(u, v)
        return np.searchsorted(ekey, k)

    def mark(eids, klass, route_names):
        better = np.array([rank[x] < rank[klass] for x in cls[eids]], bool) if len(eids) else np.zeros(0, bool)
        e = eids[better]
        cls[e] = klass
        names[e] = route_names[better]

    def trace(starts, pred, route_names):
        cur = np.asarray(starts, np.int64)
        rn = np.asarray(route_names, dtype=object)
        es, ns = [], []
        while len(cur):
            nxt = pred[cur]
            ok = nxt >= 0
            cur, nxt, rn = cur[ok], nxt[ok], rn[ok]
            if not len(cur):
                break
            es.append(edge_ids(cur, nxt))
            ns.append(rn)
            cur = nxt
        if es:
            return np.concatenate(es), np.concatenate(ns)
        return np.zeros(0, np.int64), np.zeros(0, dtype=object)

    def link_neighbours(sources, klass, name_of, skip_pair=None):
        """Shortest paths between sources whose graph-Voronoi regions touch."""
        src = np.unique(sources)
        dist, pred, owner = csgraph.dijkstra(graph, directed=False, indices=src, return_predecessors=True,
                                             min_only=True)
        su, sv = owner[eu], owner[ev]
        valid = (su >= 0) & (sv >= 0) & (su != sv)
        idx = np.flatnonzero(valid)
        cost = dist[eu[idx]] + length[idx] + dist[ev[idx]]
        pa, pb = np.minimum(su[idx], sv[idx]), np.maximum(su[idx], sv[idx])
        pkey = pa.astype(np.int64) * n + pb
        order = np.lexsort((cost, pkey))
        first = order[np.r_[True, pkey[order][1:] != pkey[order][:-1]]]
        chosen = idx[first]
        pa, pb = pa[first], pb[first]
        if skip_pair is not None:
            ok = ~skip_pair(pa, pb)
            chosen, pa, pb = chosen[ok], pa[ok], pb[ok]
        rnames = np.array([name_of(i, x, y) for i, (x, y) in enumerate(zip(pa.tolist(), pb.tolist()))],
                          dtype=object)
        mark(chosen, klass, rnames)
        e1, n1 = trace(eu[chosen], pred, rnames)
        e2, n2 = trace(ev[chosen], pred, rnames)
        mark(np.concatenate([e1, e2]), klass, np.concatenate([n1, n2]))
        return pred

    road_names = _place_names(rng, 600)
    town_nodes = nearest_node(w.town_xy)
    seat_nodes = town_nodes[w.county_seat]
    # Exits: roads leaving the region, spread around its boundary.
    ang = rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.arange(cfg.exits) / cfg.exits
    cen = np.array(w.region.centroid.coords[0])
    far = cen + 2e5 * np.column_stack([np.cos(ang), np.sin(ang)])
    bpts = [shapely.intersection(w.region.exterior, shapely.linestrings([cen, f])) for f in far]
    bxy = np.array([np.asarray(shapely.get_coordinates(bp))[0] for bp in bpts])
    exit_nodes = nearest_node(bxy)
    exits = set(exit_nodes.tolist())

    major = np.concatenate([seat_nodes, exit_nodes, town_nodes[:1]])
    link_neighbours(
        major, "primary",
        lambda i, x, y: f"S{101 + i}线" if cfg.core_districts == 0 or i % 3 else f"{road_names[i]}大道",
        skip_pair=lambda a_, b_: np.array([x in exits and y in exits for x, y in zip(a_.tolist(), b_.tolist())],
                                          bool),
    )
    town_pred = link_neighbours(
        np.concatenate([town_nodes, exit_nodes]), "secondary",
        lambda i, x, y: f"X{i + 1:03d}线" if i % 2 else f"{road_names[(i + 50) % len(road_names)]}路",
        skip_pair=lambda a_, b_: np.array([x in exits and y in exits for x, y in zip(a_.tolist(), b_.tolist())],
                                          bool),
    )
    vnodes = nearest_node(w.village_xy)
    vnames = np.array([f"Y{i + 1:03d}线" if i % 3 == 0 else None for i in range(len(vnodes))], dtype=object)
    e, nm = trace(vnodes, town_pred, vnames)
    mark(e, "tertiary", nm)

    oneway = np.zeros(ne, bool)
    core_streets = (cls == "residential") & (local_p[keep] >= 0.85)
    oneway[core_streets & (rng.random(ne) < 0.08)] = True

    # Motorways: separate carriageways over the local roads, joined at interchanges by ramps.
    m_u, m_v, m_xy, m_name = _motorways(w, rng, nxy, n, tree)
    all_xy = np.vstack([nxy, m_xy]) if len(m_xy) else nxy
    lon, lat = _to_geo(all_xy[:, 0], all_xy[:, 1])
    ll = np.column_stack([lon, lat])
    U = np.concatenate([eu, m_u])
    V = np.concatenate([ev, m_v])
    klass = np.concatenate([cls, np.full(len(m_u), "motorway", dtype=object)])
    nm_all = np.concatenate([names, np.asarray(m_name, dtype=object)])
    # a one-way street runs the way its coordinates run; flip some so both directions occur
    flip = oneway & (rng.random(ne) < 0.5)
    U[:ne][flip], V[:ne][flip] = ev[flip], eu[flip]
    geoms = shapely.linestrings(np.stack([ll[U], ll[V]], axis=1))
    speed = np.array([_SPEED[k] for k in klass], float)
    urban_all = np.concatenate([urban, np.zeros(len(m_u), bool)])
    speed[urban_all & (klass == "secondary")] = 40.0
    speed[urban_all & (klass == "tertiary")] = 30.0
    return gpd.GeoDataFrame(
        {
            "road_class": klass,
            "name": nm_all,
            "walk": klass != "motorway",
            "drive": klass != "path",
            "speed_kmh": speed,
            "oneway": np.concatenate([oneway, np.zeros(len(m_u), bool)]),
        },
        geometry=geoms,
        crs=STORAGE_EPSG,
    )


def _motorways(w: _World, rng, nxy, n, tree):
    """Motorway polylines (nodes every ~1.2 km) and ramps to the nearest local junction."""
    cfg = w.cfg
    routes: list[tuple[np.ndarray, str]] = []
    if cfg.core_districts:
        rad = 1.05 * cfg.core_radius_m
        th = np.linspace(0, 2 * np.pi, int(2 * np.pi * rad / 1_200.0), endpoint=False)
        rr = rad * (1 + 0.05 * np.sin(3 * th + rng.uniform(0, 6.3)))
        ring = w.core_xy + np.column_stack([rr * np.cos(th), rr * np.sin(th)])
        routes.append((np.vstack([ring, ring[:1]]), f"{cfg.name[:2]}绕城高速"))
        for k, t in enumerate(w.county_seat[cfg.core_districts:]):
            target = w.town_xy[t]
            d = target - w.core_xy
            dist = np.hypot(*d)
            if dist < rad * 1.3:
                continue
            start = w.core_xy + d / dist * rad
            routes.append((_wavy(rng, start, target - d / dist * 1_500.0), f"{cfg.name[:2]}-{k + 1}高速"))
    else:
        ang = np.radians(35.0 + rng.uniform(-10, 10))
        t = np.array([np.sin(ang), np.cos(ang)])
        nrm = np.array([t[1], -t[0]])
        mid = w.core_xy + 2_500.0 * nrm
        routes.append((_wavy(rng, mid - 40_000.0 * t, mid + 40_000.0 * t), "G5901高速"))
    us, vs, names, xy = [], [], [], []
    nid = n
    for pts, name in routes:
        inside = shapely.contains_xy(w.region, pts[:, 0], pts[:, 1])
        # runs of consecutive inside points
        breaks = np.flatnonzero(np.diff(inside.astype(int)) != 0) + 1
        for seg in np.split(np.arange(len(pts)), breaks):
            if not inside[seg[0]] or len(seg) < 2:
                continue
            p = pts[seg]
            ids = nid + np.arange(len(p))
            xy.append(p)
            us.append(ids[:-1]), vs.append(ids[1:]), names.extend([name] * (len(p) - 1))
            # interchanges: both ends and about every 5 km
            ramps = sorted(set([0, len(p) - 1] + list(range(2, len(p) - 1, 4))))
            _, local = tree.query(p[ramps])
            us.append(ids[ramps]), vs.append(local), names.extend([f"{name}匝道"] * len(ramps))
            nid += len(p)
    if not xy:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 2)), []
    return np.concatenate(us), np.concatenate(vs), np.vstack(xy), names


def _wavy(rng, a, b, step=1_200.0):
    d = b - a
    dist = np.hypot(*d)
    k = max(2, int(dist / step) + 1)
    s = np.linspace(0, 1, k)
    nrm = np.array([-d[1], d[0]]) / dist
    off = 0.04 * dist * np.sin(np.pi * s * rng.integers(1, 3)) * rng.choice([-1, 1])
    return a + s[:, None] * d + off[:, None] * nrm


# --------------------------------------------------------------------------------------------
# Resource layers
# --------------------------------------------------------------------------------------------


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


def _shelters(w: _World, rng: np.random.Generator, bureau: str) -> tuple[list[Feature], np.ndarray]:
    cfg = w.cfg
    types = [t for t in ("central", "fixed_long", "fixed_medium", "fixed_short", "emergency")
             for _ in range(cfg.shelters[t])]
    types = np.array(types, dtype=object)
    n = len(types)
    # Where people are: cells drawn by population; central shelters beside the core and the seats.
    cells = w.sample_cells(rng, n, w.pop.astype(float) + 1e-9, replace=False)
    x, y = w.jittered(rng, cells, 40.0)
    central = np.flatnonzero(types == "central")
    if len(central):
        hubs = np.vstack([w.core_xy[None, :], w.town_xy[w.county_seat[cfg.core_districts:]]])
        hubs = hubs[np.argsort(np.hypot(*(hubs - w.core_xy).T), kind="stable")]
        for j, i in enumerate(central):
            a = rng.uniform(0, 2 * np.pi)
            hx, hy = hubs[j % len(hubs)] + rng.uniform(800, 2_000) * np.array([np.cos(a), np.sin(a)])
            x[i], y[i] = hx, hy
    lon, lat, town = w.place(x, y)

    area = np.array([_SHELTER_MEAN_AREA[t] for t in types]) * rng.lognormal(-0.18, 0.6, n)
    area = np.maximum(area, 60.0)
    if cfg.size == "city":
        area *= _CITY_SHELTER_AREA / area.sum()
    area = np.round(area, 1)
    std = np.array([SHELTER_STANDARD_M2[t] for t in types])
    plan = np.array([_SHELTER_PLAN_M2[t] for t in types]) * rng.lognormal(0.0, 0.2, n)
    cap = area / np.maximum(plan, std * 1.05)
    over = rng.random(n) < _OVER_CAPACITY_SHARE
    cap_over = area / std * rng.uniform(1.05, 1.4, n)
    if cfg.size == "city":
        need = _CITY_SHELTER_PEOPLE - cap_over[over].sum()
        cap[~over] *= need / cap[~over].sum()
    cap = np.where(over, np.ceil(cap_over), np.maximum(1, np.round(cap)))
    cap = cap.astype(np.int64)
    indoor = rng.random(n) < np.where(types == "central", 0.0, np.where(types == "emergency", 0.4, 0.3))
    night_ratio = np.where(indoor, rng.uniform(0.6, 1.0, n), rng.uniform(0.35, 0.9, n))
    night = np.floor(cap * night_ratio).astype(np.int64)
    dorm = indoor & (rng.random(n) < 0.01)
    night[dorm] = np.ceil(cap[dorm] * 1.1).astype(np.int64)
    post = np.floor(cap * rng.uniform(0.4, 0.6, n)).astype(np.int64)
    status = np.array(_pick(rng, ["standby", "open", "closed", "full"], n, [0.85, 0.10, 0.03, 0.02]), dtype=object)
    occ = np.zeros(n, np.int64)
    op = status == "open"
    occ[op] = np.floor(cap[op] * rng.uniform(0.0, 0.8, op.sum())).astype(np.int64)
    occ[status == "full"] = cap[status == "full"]
    flood_plain = rng.random(n) < 0.07
    hz = {
        "earthquake": rng.random(n) < 0.9,
        "flood": (rng.random(n) < 0.55) & ~flood_plain,
        "typhoon": rng.random(n) < np.where(indoor, 0.35, 0.03),
        "geohazard": rng.random(n) < 0.15 + 0.5 * w.cell_h[cells],
        "fire": rng.random(n) < 0.25,
        "hazmat": rng.random(n) < 0.05,
    }
    level = []
    for t in types.tolist():
        if t == "central":
            level.append("city")
        elif t == "fixed_long":
            level.append(_pick(rng, ["city", "county"], 1, [0.5, 0.5])[0] if cfg.core_districts else "county")
        elif t == "fixed_medium":
            level.append("county")
        elif t == "fixed_short":
            level.append(_pick(rng, ["county", "township"], 1, [0.4, 0.6])[0])
        else:
            level.append(_pick(rng, ["township", "village"], 1, [0.3, 0.7])[0])
    if len(central):
        level[central[0]] = "province"
    eqc = {"central": "I", "fixed_long": "I", "fixed_medium": "II", "fixed_short": "III", "emergency": "III"}
    sites_in = ["中心小学", "中学", "体育馆", "文化活动中心", "便民服务中心", "职业技术学校", "会展中心"]
    sites_out = ["广场", "公园", "绿地", "体育场", "滨河公园", "湿地公园", "学校操场", "文化广场"]
    site = [(_pick(rng, sites_in, 1)[0] if ind else _pick(rng, sites_out, 1)[0]) for ind in indoor.tolist()]
    uuids = _uuids(rng, n)
    addr = w.address(rng, town)
    mgr, phone = _person_names(rng, n), _phones(rng, n)
    pets = _pick(rng, ["none", "cohabit", "on_site"], n, [0.6, 0.15, 0.25])
    wheel = (rng.random(n) < 0.6).tolist()
    gen = (rng.random(n) < np.where(np.isin(types, ["emergency"]), 0.3, 0.8)).tolist()
    site_area = np.round(area * rng.uniform(1.3, 3.5, n), 1)
    minutes = rng.integers(0, 60, n).tolist()
    seen: dict[str, int] = {}
    out: list[Feature] = []
    cap_l, night_l, post_l, occ_l = cap.tolist(), night.tolist(), post.tolist(), occ.tolist()
    for i in range(n):
        t = types[i]
        tn = w.town_name[town[i]]
        base = f"{tn}{site[i]}应急避难场所"
        seen[base] = seen.get(base, 0) + 1
        name = base if seen[base] == 1 else f"{tn}{site[i]}（{seen[base]}）应急避难场所"
        hazards = ",".join(k for k, v in hz.items() if v[i]) or "earthquake"
        props = {
            "uuid": uuids[i],
            "name": name,
            "adcode": w.town_code[town[i]],
            "address": addr[i],
            "source": bureau,
            "shelter_type": t,
            "eq_class": eqc[t] if "earthquake" in hazards else None,
            "level": level[i],
            "indoor": bool(indoor[i]),
            "site_area_m2": float(site_area[i]),
            "effective_area_m2": float(area[i]),
            "capacity_day": cap_l[i],
            "capacity_night": night_l[i],
            "capacity_post_impact": post_l[i],
            "occupancy": occ_l[i],
            "occupancy_at": f"{AS_OF}T08:{minutes[i]:02d}:00+08:00",
            "hazards": hazards,
            "wheelchair_access": wheel[i],
            "pets": pets[i],
            "generator": gen[i],
            "in_flood_plain": bool(flood_plain[i]),
            "status": status[i],
            "manager_name": mgr[i],
            "manager_phone": phone[i],
        }
        out.append((_clean(props), shapely.Point(lon[i], lat[i])))
    return out, np.column_stack([x, y])


_GEO_TYPES = ["landslide", "rockfall", "debris_flow", "unstable_slope", "collapse", "ground_fissure", "subsidence"]
_GEO_SHARE = [0.50, 0.20, 0.14, 0.10, 0.03, 0.015, 0.015]
_GEO_ZH = {"landslide": "滑坡", "rockfall": "崩塌", "debris_flow": "泥石流", "unstable_slope": "不稳定斜坡",
           "collapse": "地面塌陷", "ground_fissure": "地裂缝", "subsidence": "地面沉降"}
# volume (m³) limits of small / medium / large; above is giant
_SCALE_LIMITS = {"landslide": (1e5, 1e6, 1e7), "unstable_slope": (1e5, 1e6, 1e7), "rockfall": (1e4, 1e5, 1e6),
                 "debris_flow": (2e4, 2e5, 5e5), "collapse": (1e3, 1e4, 1e5)}
_VOLUME_MEDIAN = {"landslide": 2e4, "unstable_slope": 1e4, "rockfall": 2e3, "debris_flow": 3e4, "collapse": 500.0}


def _hazard_points(w: _World, rng, bureau: str, shelter_uuids: list[str], shelter_xy: np.ndarray) -> list[Feature]:
    cfg = w.cfg
    n = cfg.hazard_points
    n_geo = int(round(n * cfg.geohazard_share))
    n_mhi = cfg.installations
    rest = n - n_geo - n_mhi
    n_flood = int(round(rest * 0.15))
    n_fire = int(round(rest * 0.57))
    n_other = rest - n_flood - n_fire
    geo_types = np.array(_pick(rng, _GEO_TYPES, n_geo, _GEO_SHARE), dtype=object)
    types = np.concatenate([geo_types, np.full(n_mhi, "major_hazard_installation", dtype=object),
                            np.full(n_flood, "flood_point", dtype=object), np.full(n_fire, "fire_risk", dtype=object),
                            np.full(n_other, "other", dtype=object)])
    pop = w.pop.astype(float)
    h = w.cell_h
    cells = np.empty(n, np.int64)
    plain_geo = np.isin(geo_types, ["collapse", "ground_fissure", "subsidence"])
    hill_geo = np.flatnonzero(~plain_geo)
    cells[hill_geo] = w.sample_cells(rng, len(hill_geo), h**3 * (np.sqrt(pop) + 0.3))
    cells[np.flatnonzero(plain_geo)] = w.sample_cells(rng, int(plain_geo.sum()), pop + 0.1)
    s = n_geo + n_mhi
    cells[n_geo:s] = w.sample_cells(rng, n_mhi, pop + 0.1)  # replaced by park positions below
    cells[s:s + n_flood] = w.sample_cells(rng, n_flood, (pop + 0.1) * (1.0 - h) ** 3)
    cells[s + n_flood:s + n_flood + n_fire] = w.sample_cells(rng, n_fire, pop**1.2 + 0.01)
    cells[s + n_flood + n_fire:] = w.sample_cells(rng, n_other, pop + 0.1)
    x, y = w.jittered(rng, cells, 48.0)
    # Major hazard installations: in the industrial parks beside towns.
    if n_mhi:
        pk = rng.integers(0, len(w.park_xy), n_mhi) if len(w.park_xy) else np.zeros(n_mhi, int)
        base = w.park_xy[pk] if len(w.park_xy) else np.repeat(w.core_xy[None, :], n_mhi, 0)
        off = rng.normal(0, 350.0, (n_mhi, 2))
        x[n_geo:s], y[n_geo:s] = base[:, 0] + off[:, 0], base[:, 1] + off[:, 1]
    lon, lat, town = w.place(x, y)

    is_geo = np.arange(n) < n_geo
    is_mhi = (np.arange(n) >= n_geo) & (np.arange(n) < s)
    people = np.floor(rng.lognormal(np.log(12.0), 1.4, n)).astype(np.int64)
    people[is_geo] = np.floor(rng.lognormal(np.log(20.0), 1.3, n_geo)).astype(np.int64)
    people[is_mhi] = np.floor(rng.lognormal(np.log(150.0), 1.2, n_mhi)).astype(np.int64)
    households = np.round(people / rng.uniform(2.7, 3.4, n)).astype(np.int64)
    households[(people > 0) & (households == 0)] = 1
    prop_wan = np.round(people * rng.lognormal(np.log(5.0), 0.6, n), 1)
    # risk index R for installations (α from the people near by)
    alpha = np.select([people >= 100, people >= 50, people >= 30, people >= 1], [2.0, 1.5, 1.2, 1.0], 0.5)
    r_val = np.round(alpha * rng.lognormal(np.log(3.0), 1.0, n), 2)
    has_r = is_mhi & (rng.random(n) < 0.95)
    status = np.array(_pick(rng, ["rectified", "active", "monitoring"], n, [0.997, 0.001, 0.002]), dtype=object)
    status[is_geo] = _pick(rng, ["rectified", "monitoring", "active"], n_geo, [0.70, 0.25, 0.05])
    vol = np.zeros(n)
    for t, med in _VOLUME_MEDIAN.items():
        m = types == t
        vol[m] = np.round(rng.lognormal(np.log(med), 1.4, m.sum()), 0)
    stability = _pick(rng, ["stable", "less_stable", "unstable"], n, [0.2, 0.6, 0.2])
    assign = np.full(n, -1)
    if len(shelter_xy):
        _, near = cKDTree(shelter_xy).query(np.column_stack([x, y]))
        wants = (is_geo & (rng.random(n) < 0.95)) | (is_mhi & (rng.random(n) < 0.5))
        assign[wants] = near[wants]
    monitored = is_geo | (rng.random(n) < 0.5)
    uuids = _uuids(rng, n)
    mon, phone = _person_names(rng, n), _phones(rng, n)
    addr = w.address(rng, town)
    _, vnear = cKDTree(w.village_xy).query(np.column_stack([x, y])) if len(w.village_xy) else (None, np.zeros(n, int))
    group = rng.integers(1, 13, n).tolist()
    mhi_names = ["化工有限公司液氨储罐区", "燃气储配站", "成品油库", "危化品仓储公司", "化肥厂合成氨装置",
                 "液化石油气储配站", "电镀园区危废库"]
    flood_names = ["下穿隧道", "低洼小区", "老城区排水口", "立交桥下", "农贸市场", "河堤段"]
    fire_names = ["农贸市场", "九小场所", "老旧小区", "出租屋", "电动车集中充电点", "仓库", "宾馆", "餐饮街",
                  "家具市场", "小作坊"]
    other_names = ["自建房", "在建工地", "危桥", "老旧燃气管道", "户外广告牌", "游乐设施", "废弃矿洞", "尾矿库"]
    pick_mhi = _pick(rng, mhi_names, n)
    pick_flood = _pick(rng, flood_names, n)
    pick_fire = _pick(rng, fire_names, n)
    pick_other = _pick(rng, other_names, n)
    seq = rng.integers(1, 99, n).tolist()
    out: list[Feature] = []
    tl, pl, hl, prl, rl, vl = (types.tolist(), people.tolist(), households.tolist(), prop_wan.tolist(),
                              r_val.tolist(), vol.tolist())
    for i in range(n):
        t = tl[i]
        tn = w.town_name[town[i]]
        props: dict[str, Any] = {
            "uuid": uuids[i],
            "adcode": w.town_code[town[i]],
            "address": addr[i],
            "source": bureau,
            "hazard_type": t,
            "threatened_people": pl[i],
            "threatened_households": hl[i],
            "threatened_property": prl[i],
            "status": status[i],
        }
        if is_geo[i]:
            vname = w.village_name[vnear[i]] if len(w.village_xy) else tn
            props["name"] = f"{vname}{group[i]}组{_GEO_ZH[t]}"
            if t in _SCALE_LIMITS:
                v = vl[i]
                props["volume_m3"] = float(v)
                lim = _SCALE_LIMITS[t]
                props["scale"] = "small" if v < lim[0] else "medium" if v < lim[1] else "large" if v < lim[2] else "giant"
            else:
                props["scale"] = "small"
            props["stability"] = stability[i]
        elif t == "major_hazard_installation":
            props["name"] = f"{tn[:2]}{pick_mhi[i]}"
            if has_r[i]:
                props["risk_value_r"] = rl[i]
            else:
                props["danger_grade"] = _grade_people(pl[i])
        elif t == "flood_point":
            props["name"] = f"{tn}{pick_flood[i]}易涝点{seq[i]}"
            props["danger_grade"] = _grade_people(pl[i])
        elif t == "fire_risk":
            props["name"] = f"{tn}{pick_fire[i]}火灾隐患{seq[i]}"
            props["danger_grade"] = _grade_people(pl[i])
        else:
            props["name"] = f"{tn}{pick_other[i]}安全隐患{seq[i]}"
            props["danger_grade"] = _grade_people(pl[i])
        if assign[i] >= 0:
            props["assigned_shelter"] = shelter_uuids[assign[i]]
        if monitored[i]:
            props["monitor_name"], props["monitor_phone"] = mon[i], phone[i]
        out.append((props, shapely.Point(lon[i], lat[i])))
    return out


def _grade_people(p: int) -> str:
    return "I" if p >= 1000 else "II" if p >= 500 else "III" if p >= 100 else "IV"


# item, category, unit, township quantity, shelf life in years (None: does not expire)
_STOCK = [
    ("编织袋", "sandbag", "piece", 20_000, None), ("水泥", "building_material", "t", 200, None),
    ("砂", "building_material", "m3", 1_100, None), ("石料", "building_material", "m3", 1_500, None),
    ("木材", "building_material", "m3", 10, None), ("铁丝及钢管", "building_material", "kg", 1_800, None),
    ("土工布", "building_material", "m2", 4_200, None), ("30千瓦发电机", "generator", "set", 1, None),
    ("应急照明灯", "light", "piece", 38, None), ("抢险运输车", "vehicle", "piece", 18, None),
    ("救生衣", "life_jacket", "piece", 40, None), ("救灾帐篷", "tent", "set", 30, None),
    ("棉被", "quilt", "piece", 200, None), ("折叠床", "folding_bed", "piece", 100, None),
    ("大米", "food", "kg", 2_000, 2), ("方便面", "food", "box", 300, 1), ("瓶装饮用水", "water", "box", 500, 2),
    ("家庭应急包", "family_kit", "set", 100, 3), ("冲锋舟", "boat", "piece", 2, None),
    ("急救药品包", "medical", "box", 20, 2), ("移动厕所", "toilet", "piece", 4, None),
    ("棉大衣", "clothing", "piece", 100, None), ("强光手电", "light", "piece", 60, None),
    ("救生圈", "life_jacket", "piece", 30, None),
]
_LEVEL_FACTOR = {"city": 12.0, "county": 4.0, "township": 1.0}


def _depots(w: _World, rng, bureau: str) -> tuple[list[Feature], list[Feature]]:
    cfg = w.cfg
    entries = []  # (level, x, y, name, owner)
    nc = len(w.county_seat)
    if cfg.core_districts:
        entries.append(("city", *w.core_xy, f"{cfg.name}应急物资储备库", bureau))
    for c in range(nc):
        sx, sy = w.town_xy[w.county_seat[c]]
        cn = w.county_name[c]
        entries.append(("county", sx, sy, f"{cfg.name if c == 0 and not cfg.core_districts else cn}应急物资储备库",
                        f"{cn}应急管理局"))
    for t in range(len(w.town_xy)):
        tn = w.town_name[t]
        owner = f"{tn}办事处" if w.town_kind[t] == "街道" else f"{tn}人民政府"
        entries.append(("township", *w.town_xy[t], f"{tn}应急物资储备点", owner))
    m = len(entries)
    a = rng.uniform(0, 2 * np.pi, m)
    d = rng.uniform(150.0, 700.0, m)
    x = np.array([e[1] for e in entries]) + d * np.cos(a)
    y = np.array([e[2] for e in entries]) + d * np.sin(a)
    lon, lat, town = w.place(x, y)
    uuids = _uuids(rng, m)
    keeper, phone = _person_names(rng, m), _phones(rng, m)
    addr = w.address(rng, town)
    depots: list[Feature] = []
    stock: list[Feature] = []
    for i, (level, _, _, name, owner) in enumerate(entries):
        floor = {"city": rng.uniform(5_000, 10_000), "county": rng.uniform(1_000, 3_000),
                 "township": rng.uniform(100, 600)}[level]
        height = {"city": rng.uniform(6, 9), "county": rng.uniform(4.5, 7), "township": rng.uniform(3, 4.5)}[level]
        props = {
            "uuid": uuids[i],
            "name": name,
            "adcode": w.town_code[town[i]],
            "address": addr[i],
            "source": bureau,
            "level": level,
            "floor_area_m2": round(float(floor), 1),
            "volume_m3": round(float(floor * height), 1),
            "staffed_24h": bool(level != "township" or rng.random() < 0.3),
            "status": "in_service" if rng.random() > 0.02 else "closed",
            "keeper_name": keeper[i],
            "keeper_phone": phone[i],
        }
        depots.append((props, shapely.Point(lon[i], lat[i])))
        k = int(rng.integers(5, 16))
        items = rng.choice(len(_STOCK), size=k, replace=False)
        items.sort()
        su = _uuids(rng, k)
        for j, it in enumerate(items.tolist()):
            item, cat, unit, qty, life = _STOCK[it]
            q = qty * _LEVEL_FACTOR[level] * rng.lognormal(0.0, 0.35)
            q = float(max(1, round(q))) if unit in ("piece", "set", "box") else round(float(q), 1)
            row = {
                "uuid": su[j],
                "source": bureau,
                "depot_uuid": uuids[i],
                "item": item,
                "category": cat,
                "unit": unit,
                "quantity": q,
                "stock_source": "donated" if rng.random() < 0.15 else "procured",
                "owner": owner,
            }
            if life:
                row["expiry"] = _dates(rng, 1, "2025-06-01", f"{2026 + life}-12-31")[0]
            stock.append((row, None))
    return depots, stock


def _teams(w: _World, rng, bureau: str) -> list[Feature]:
    cfg = w.cfg
    specs = []  # (category, x, y, name, members, vehicles, readiness, radius, nims, specialties, equipment)
    nc = len(w.county_seat)
    hills = lambda xy: float(w.hilliness(xy[0], xy[1]))  # noqa: E731

    def spec_list(*codes):
        return ",".join(dict.fromkeys(c for c in codes if c))

    for c in range(nc):
        seat = w.town_xy[w.county_seat[c]]
        cn = w.county_name[c] if cfg.core_districts else cfg.name
        specs.append(("fire_rescue", seat, f"{cn}消防救援大队特勤站", int(rng.integers(30, 61)),
                      int(rng.integers(8, 16)), 1, float(rng.integers(10, 21)), 1,
                      spec_list("general", "earthquake_search", "water_rescue", "hazmat"),
                      "水罐消防车、抢险救援车、登高平台车、生命探测仪、破拆工具组"))
    core_towns = np.flatnonzero(w.town_core)
    for k in range(min(cfg.core_fire_stations, len(core_towns))):
        t = core_towns[int(rng.integers(0, len(core_towns)))]
        specs.append(("fire_rescue", w.town_xy[t], f"{w.town_name[t]}消防救援站", int(rng.integers(20, 41)),
                      int(rng.integers(4, 9)), 1, 8.0, 2, spec_list("general", "water_rescue", "hazmat"),
                      "水罐消防车、泡沫消防车、抢险救援车"))
    sectors = [
        ("flood", "防汛抢险队", "flood,water_rescue", "冲锋舟、橡皮艇、抽水泵、编织袋、照明车"),
        ("medical", "紧急医学救援队", "medical", "救护车、移动医疗单元、急救药品"),
        ("geohazard", "地质灾害应急抢险队", "geohazard,earthquake_search", "挖掘机、装载机、无人机、位移监测仪"),
        ("power", "电力抢修队", "general", "发电车、抢修车、登高车"),
        ("hazmat", "危化品应急救援队", "hazmat", "防化服、侦检仪、洗消设备"),
        ("forest", "森林消防专业队", "forest_fire", "风力灭火机、水泵、割灌机"),
        ("mine", "矿山救护队", "mine,earthquake_search", "正压氧气呼吸器、气体检测仪、救援绞车"),
    ]
    for c in range(nc):
        seat = w.town_xy[w.county_seat[c]]
        cn = w.county_name[c] if cfg.core_districts else cfg.name
        hh = hills(seat)
        for key, label, sp, eq in sectors:
            if key in ("forest", "mine") and hh < 0.2 and not (cfg.core_districts == 0 and key == "forest"):
                continue
            if key == "hazmat" and c < cfg.core_districts and rng.random() < 0.5:
                continue
            pos = seat + rng.normal(0, 1_500.0, 2)
            specs.append(("professional", pos, f"{cn}{label}", int(rng.integers(20, 81)), int(rng.integers(2, 12)),
                          int(rng.integers(10, 31)), float(rng.integers(30, 61)), int(rng.integers(2, 4)), sp, eq))
    social_names = _place_names(rng, cfg.social_teams)
    social_kinds = ["应急救援队", "志愿救援队", "户外救援队", "水上救援队", "救援协会"]
    members_social = np.maximum(8, np.round(rng.lognormal(np.log(20.0), 0.45, cfg.social_teams))).astype(int)
    if cfg.size == "city":  # DOMAIN.md: 1,815 insured social rescuers
        members_social = np.maximum(8, np.round(members_social * 1_815 / members_social.sum())).astype(int)
    sc = w.sample_cells(rng, cfg.social_teams, w.pop.astype(float) ** 1.3 + 1e-9)
    for k in range(cfg.social_teams):
        sp = _pick(rng, ["water_rescue", "earthquake_search", "medical", "general", "forest_fire"],
                   int(rng.integers(1, 4)))
        specs.append(("social", w.cell_xy[sc[k]], f"{cfg.name[:2]}{social_names[k]}{social_kinds[k % 5]}",
                      int(members_social[k]), int(rng.integers(0, 6)), int(rng.integers(30, 91)),
                      float(rng.integers(50, 301)), int(rng.integers(3, 5)), spec_list(*sp),
                      "救援绳索、橡皮艇、急救包、对讲机"))
    for t in range(len(w.town_xy)):
        hilly = w.town_h[t] > 0.5
        specs.append(("militia_volunteer", w.town_xy[t], f"{w.town_name[t]}应急救援队",
                      int(rng.integers(10, 51)), int(rng.integers(1, 5)), int(rng.integers(15, 31)),
                      float(rng.integers(10, 26)), 4,
                      spec_list("flood", "general", "forest_fire" if hilly else None, "geohazard" if hilly else None),
                      "抽水泵、发电机、风力灭火机、铁锹、编织袋"))
    # Village squads: one per group of villages in a township (≥ 30 members).
    for t in range(len(w.town_xy)):
        vil = np.flatnonzero(w.village_town == t)
        if not len(vil):
            continue
        ang = np.arctan2(*(w.village_xy[vil] - w.town_xy[t]).T[::-1])
        vil = vil[np.argsort(ang, kind="stable")]
        for g in range(0, len(vil), cfg.villages_per_squad):
            grp = vil[g:g + cfg.villages_per_squad]
            hv = float(np.mean(w.hilliness(w.village_xy[grp, 0], w.village_xy[grp, 1])))
            label = "、".join(w.village_name[v] for v in grp)
            specs.append(("village_squad", w.village_xy[grp[0]], f"{label}应急小分队", int(rng.integers(30, 61)),
                          int(rng.integers(0, 3)), int(rng.integers(10, 31)), float(rng.integers(2, 6)), 4,
                          spec_list("flood", "general", "geohazard" if hv > 0.5 else None,
                                    "forest_fire" if hv > 0.5 else None), "铁锹、编织袋、手摇报警器、应急灯"))
    m = len(specs)
    xy = np.array([s[1] for s in specs], float)
    jit = rng.normal(0, 120.0, (m, 2))
    lon, lat, town = w.place(xy[:, 0] + jit[:, 0], xy[:, 1] + jit[:, 1])
    uuids = _uuids(rng, m)
    lead, phone = _person_names(rng, m), _phones(rng, m)
    addr = w.address(rng, town)
    status = _pick(rng, ["ready", "deployed", "unavailable"], m, [0.92, 0.05, 0.03])
    out: list[Feature] = []
    for i, (cat, _, name, members, vehicles, ready, radius, nims, sp, eq) in enumerate(specs):
        props = {
            "uuid": uuids[i],
            "name": name[:100],
            "adcode": w.town_code[town[i]],
            "address": addr[i],
            "source": bureau,
            "category": cat,
            "specialties": sp,
            "members": members,
            "vehicles": vehicles,
            "key_equipment": eq,
            "readiness_min": ready,
            "deploy_radius_km": radius,
            "nims_type": nims,
            "status": status[i],
            "leader_name": lead[i],
            "leader_phone": phone[i],
        }
        out.append((props, shapely.Point(lon[i], lat[i])))
    return out


def _helipads(w: _World, rng, bureau: str, shelter_xy: np.ndarray, shelters: list[Feature]) -> list[Feature]:
    cfg = w.cfg
    n = cfg.helipads
    sites: list[tuple[np.ndarray, str, str]] = []  # xy, kind, label
    big = [i for i, (p, _) in enumerate(shelters) if p["shelter_type"] in ("central", "fixed_long")]
    big.sort(key=lambda i: -shelters[i][0]["effective_area_m2"])
    for i in big[: max(1, n // 5)]:
        sites.append((shelter_xy[i], "shelter", shelters[i][0]["name"].replace("应急避难场所", "")))
    if cfg.core_districts:
        for k in range(2):
            t = int(np.flatnonzero(w.town_core)[k])
            sites.append((w.town_xy[t] + rng.normal(0, 500.0, 2), "rooftop", f"{w.town_name[t]}人民医院"))
    for c in range(cfg.core_districts, len(w.county_seat)):
        t = w.county_seat[c]
        sites.append((w.town_xy[t] + rng.normal(0, 1_000.0, 2), "seat", f"{w.town_name[t]}体育中心"))
    hill = np.flatnonzero(w.cell_h > 0.7)
    cand = hill if len(hill) else np.arange(len(w.cell_xy))
    pool = rng.permutation(cand)
    j = 0
    while len(sites) < n:
        cxy = w.cell_xy[pool[j % len(pool)]]
        t = int(w.cell_town[pool[j % len(pool)]])
        sites.append((cxy, "hill", f"{w.town_name[t]}森林防火"))
        j += 1
    sites = sites[:n]
    xy = np.array([s[0] for s in sites], float)
    lon, lat, town = w.place(xy[:, 0], xy[:, 1])
    uuids = _uuids(rng, n)
    contact, phone = _person_names(rng, n), _phones(rng, n)
    addr = w.address(rng, town)
    out: list[Feature] = []
    for i, (_, kind, label) in enumerate(sites):
        if kind == "rooftop":
            surface, size, d, mtow = "rooftop", 22.0, float(rng.uniform(15, 17)), float(rng.choice([4.0, 6.0]))
        elif kind == "hill":
            surface = _pick(rng, ["concrete", "earth", "grass"], 1, [0.6, 0.25, 0.15])[0]
            size, d, mtow = (40.0 if surface == "concrete" else float(rng.choice([30.0, 40.0, 50.0])),
                             float(rng.uniform(15, 20)), float(rng.choice([5.0, 10.0, 13.0])))
        else:
            surface = _pick(rng, ["concrete", "asphalt"], 1, [0.85, 0.15])[0]
            size, d, mtow = 40.0, float(rng.uniform(16, 20)), float(rng.choice([10.0, 13.0]))
        b = int(rng.integers(0, 36)) * 10
        props = {
            "uuid": uuids[i],
            "name": f"{label}直升机起降点",
            "adcode": w.town_code[town[i]],
            "address": addr[i],
            "source": bureau,
            "surface": surface,
            "pad_length_m": size,
            "pad_width_m": size,
            "design_d_m": round(d, 1),
            "max_takeoff_t": mtow,
            "site_slope_deg": round(float(rng.uniform(0.5, 4.5) if kind != "hill" else rng.uniform(1, 7)), 1),
            "pad_slope_pct": round(float(rng.uniform(0.5, 2.0)), 1),
            "obstacle_clearance_m": float(rng.choice([30.0, 50.0, 80.0, 100.0])),
            "approach_bearings": f"{b},{(b + 180) % 360}",
            "night_lighting": bool(kind in ("rooftop", "seat") or rng.random() < 0.2),
            "windsock": bool(rng.random() < 0.9),
            "fuel": bool(kind == "seat" and rng.random() < 0.4),
            "status": _pick(rng, ["usable", "restricted", "unusable"], 1, [0.88, 0.08, 0.04])[0],
            "contact_name": contact[i],
            "contact_phone": phone[i],
        }
        out.append((props, shapely.Point(lon[i], lat[i])))
    return out


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def generate(size: str = "county", seed: int = 2938) -> SampleData:
    """Generate a fictional region of the given ``size`` (``"county"`` or ``"city"``).

    Parameters
    ----------
    size
        ``"county"`` (about 30,000 cells, 350,000 people; fast, for tests) or ``"city"``
        (about a million cells, 9.6 million people; DOMAIN.md's headline counts).
    seed
        Seed of ``numpy.random.default_rng``; the same size and seed give identical output.

    Returns
    -------
    SampleData
    """
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}, not {size!r}")
    cfg = SIZES[size]
    root = np.random.default_rng(seed)
    (r_world, r_settle, r_pop, r_admin, r_roads, r_shel, r_haz, r_dep, r_team, r_heli) = root.spawn(10)
    bureau = f"{cfg.name}应急管理局"
    w = _build_world(cfg, r_world)
    _settlements(w, r_settle)
    _population(w, r_pop)
    admin = _admin(w, r_admin)
    population = _population_frame(w)
    roads = _roads(w, r_roads)
    shelters, shelter_xy = _shelters(w, r_shel, bureau)
    hazards = _hazard_points(w, r_haz, bureau, [p["uuid"] for p, _ in shelters], shelter_xy)
    depots, stock = _depots(w, r_dep, bureau)
    teams = _teams(w, r_team, bureau)
    helipads = _helipads(w, r_heli, bureau, shelter_xy, shelters)
    return SampleData(
        region={"name": cfg.name, "adcode": cfg.adcode, "bureau": bureau},
        admin_areas=admin,
        population=population,
        roads=roads,
        features={
            "shelters": shelters,
            "depots": depots,
            "depot_stock": stock,
            "teams": teams,
            "hazard_points": hazards,
            "helipads": helipads,
        },
    )
