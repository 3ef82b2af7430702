"""The region's outline and its settlements: township seats, counties, villages and industrial parks."""

from __future__ import annotations

import numpy as np
import shapely
from scipy.spatial import cKDTree
from shapely.geometry import Polygon

from .config import _Config
from .projection import _to_work
from .world import _World


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
    w.park_xy = pxy[inside]
