"""The 100 m population grid: night and day residents of every cell."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from scipy import ndimage

from .config import CELL_M, STORAGE_EPSG
from .world import _World


def _stoch_round(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    base = np.floor(x)
    return (base + (rng.random(x.shape) < (x - base))).astype(np.int64)


def _population(w: _World, rng: np.random.Generator) -> None:
    """Night and day population of every 100 m cell inside the region (work CRS, cell centres)."""
    cfg = w.cfg
    minx, miny, maxx, maxy = w.region.bounds
    x0 = np.floor(minx / CELL_M) * CELL_M
    y0 = np.floor(miny / CELL_M) * CELL_M
    nx = int(np.ceil((maxx - x0) / CELL_M))
    ny = int(np.ceil((maxy - y0) / CELL_M))
    xs = x0 + CELL_M * (np.arange(nx) + 0.5)
    ys = y0 + CELL_M * (np.arange(ny) + 0.5)
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
    jobs = np.exp(-0.5 * (rr / (0.55 * cfg.core_sigma_m)) ** 2) * (1.0 - H) ** 2
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
