"""How fast help reaches hazard points: ready teams by road (driving), helicopters from usable helipads by air.

A team's time is its readiness (minutes to set out) plus the drive from its base along the road network
(its own speed on each road, one-way roads respected) plus the last stretch from the road to the point at
walking speed. A helicopter's time is the straight flight from the nearest usable helipad at cruise speed,
when the point lies within the helicopter's radius.
"""

from __future__ import annotations

import numpy as np

from . import network as nw


def teams_to_points(drive: nw.Network, team_xy: np.ndarray, readiness_min: np.ndarray, point_xy: np.ndarray,
                    max_snap_m: float, walk_kmh: float, limit: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each point: minutes for the first team to arrive (inf: none within ``limit``), which team, and
    whether the point is off the driving network."""
    walk = walk_kmh * 1000.0 / 60.0
    ts = nw.snap(drive, team_xy, max_snap_m)
    ps = nw.snap(drive, point_xy, max_snap_m)
    out = np.full(len(point_xy), np.inf)
    who = np.full(len(point_xy), -1, dtype=np.int64)
    use = np.flatnonzero(ts.ok)
    if len(use) and ps.ok.any():
        offset = readiness_min[use] + ts.dist_m[use] / walk
        dist, which = nw.nearest_source(drive, ts.node[use], offset, limit=limit)
        ok = ps.ok
        out[ok] = dist[ps.node[ok]] + ps.dist_m[ok] / walk
        who[ok] = np.where(which[ps.node[ok]] >= 0, use[np.maximum(which[ps.node[ok]], 0)], -1)
    beyond = out > limit
    out[beyond], who[beyond] = np.inf, -1
    return out, who, ~ps.ok


def helicopter_to_points(pad_xy: np.ndarray, point_xy: np.ndarray, cruise_kmh: float,
                         radius_km: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each point: the flight distance (km) from the nearest usable helipad, the minutes (inf beyond the
    radius) and which helipad."""
    from scipy.spatial import cKDTree

    if not len(pad_xy):
        n = len(point_xy)
        return np.full(n, np.inf), np.full(n, np.inf), np.full(n, -1, dtype=np.int64)
    d, i = cKDTree(pad_xy).query(point_xy, k=1)
    km = d / 1000.0
    minutes = np.where(km <= radius_km, km / cruise_kmh * 60.0, np.inf)
    return km, minutes, i.astype(np.int64)
