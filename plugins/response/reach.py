"""The area's surroundings: the road network around it, and how long from a base (team, depot) to the area by road.

The road network is read for the area's bounding box grown by what can matter: the farthest a walk of the time
limit can go (a walking edge is never shorter than the straight line, so every walking path within the limit
stays inside) and ``search_km`` for teams, depots and helipads, plus a quarter for road detours. On a city that is
a fraction of the network, which is the run's main cost; the networks stay in memory for re-runs while the roads
are unchanged.

Driving time to the area is one search on the reversed driving network from the road nodes inside the area or
within ``max_snap_m`` of it (reaching such a node from outside means walking the rest, at walking speed): for
every node, the minutes to the nearest point of the area by road.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from rallypoint_plugins.coverage import network as nw

if TYPE_CHECKING:  # pragma: no cover
    from shapely.geometry.base import BaseGeometry

#: Road detours allowed beyond the search distance, as a share of it.
DETOUR = 0.25


@dataclass
class Surroundings:
    roads: object  # GeoDataFrame (EPSG:4490) of the roads read
    geometry: nw.RoadGeometry  # their end nodes, projected (the card's map draws roads end to end)
    walk: nw.Network
    drive: nw.Network
    box_m: tuple[float, float, float, float]  # projected bounds read
    box_ll: tuple[float, float, float, float]  # the same in EPSG:4490
    epsg: int


def box_lonlat(box_m, epsg: int) -> tuple[float, float, float, float]:
    """The EPSG:4490 bounds of a projected box (its outline densified, so curved edges are inside)."""
    import shapely

    from .incident import to_lonlat

    poly = shapely.box(*box_m).segmentize(max(box_m[2] - box_m[0], box_m[3] - box_m[1]) / 32)
    return tuple(to_lonlat(poly, epsg).bounds)


#: Networks read lately, by registry file state: ``{key: [Surroundings, ...]}`` (a few, newest last).
_RECENT: "OrderedDict[tuple, list[Surroundings]]" = OrderedDict()
#: How many registry states and boxes are kept (a city's surroundings take ~100 MB).
KEEP_STATES, KEEP_BOXES = 2, 2
#: A box is read this much larger than asked, so an area that grows a little is served from memory.
SLACK = 0.15
_LOCK = threading.Lock()


def _roads_state(reg) -> tuple:
    """What changes whenever the roads change: every load of the roads layer is recorded in the registry's history
    (asked of SQLite, never by opening the file, which would drop SQLite's locks on it)."""
    last = reg.history("roads", limit=1, newest_first=True)
    return (last[0].id if last else None,)


def surroundings(reg, area_m: "BaseGeometry", epsg: int, *, walk_reach_m: float, search_m: float,
                 walk_kmh: float) -> Surroundings:
    """The walking and driving networks of the roads around the area.

    Re-runs as the area changes are served from the networks read for an earlier run of the same registry, when
    its box holds the new one and the roads were not loaded again since (extra roads beyond the box change no
    time: every path that matters lies inside it)."""
    grow = max(walk_reach_m, search_m * (1 + DETOUR))
    minx, miny, maxx, maxy = area_m.bounds
    box_m = (minx - grow, miny - grow, maxx + grow, maxy + grow)
    key = (reg.location, _roads_state(reg), epsg, float(walk_kmh))
    with _LOCK:
        for sur in _RECENT.get(key, ()):
            b = sur.box_m
            if b[0] <= box_m[0] and b[1] <= box_m[1] and b[2] >= box_m[2] and b[3] >= box_m[3]:
                _RECENT.move_to_end(key)
                return sur
    pad = SLACK * (box_m[2] - box_m[0] + box_m[3] - box_m[1]) / 2
    sur = _read(reg, (box_m[0] - pad, box_m[1] - pad, box_m[2] + pad, box_m[3] + pad), epsg, walk_kmh)
    with _LOCK:
        for old in [k for k in _RECENT if k[0] == key[0] and k != key]:  # the roads changed: networks are stale
            del _RECENT[old]
        kept = _RECENT.setdefault(key, [])
        kept.append(sur)
        del kept[:-KEEP_BOXES]
        _RECENT.move_to_end(key)
        while len(_RECENT) > KEEP_STATES:
            _RECENT.popitem(last=False)
    return sur


def _read(reg, box_m, epsg: int, walk_kmh: float) -> Surroundings:
    box_ll = box_lonlat(box_m, epsg)
    roads = nw.read_roads(reg, epsg, bbox=box_ll)
    geometry = nw.road_geometry(roads, epsg)
    walk = nw.build(roads, epsg, "walk", walk_kmh, geometry)
    drive = nw.build(roads, epsg, "drive", geometry=geometry)
    return Surroundings(roads=roads, geometry=geometry, walk=walk, drive=drive, box_m=box_m, box_ll=box_ll, epsg=epsg)


def distance_to_area(area_m: "BaseGeometry", xy: np.ndarray) -> np.ndarray:
    """Straight-line metres from each point to the area (0 inside)."""
    import shapely

    if not len(xy):
        return np.zeros(0)
    return shapely.distance(area_m, shapely.points(xy))


def minutes_to_area(drive: nw.Network, area_m: "BaseGeometry", max_snap_m: float, walk_kmh: float) -> np.ndarray:
    """For every node of ``drive``: minutes by road to the area (inf where it cannot get there)."""
    on = np.flatnonzero(drive.on_network)
    minx, miny, maxx, maxy = area_m.bounds
    x, y = drive.xy[on, 0], drive.xy[on, 1]
    on = on[(x >= minx - max_snap_m) & (x <= maxx + max_snap_m) & (y >= miny - max_snap_m) & (y <= maxy + max_snap_m)]
    if not len(on):
        return np.full(drive.n, np.inf)
    d = distance_to_area(area_m, drive.xy[on])
    entry = d <= max_snap_m
    if not entry.any():
        return np.full(drive.n, np.inf)
    walk = walk_kmh * 1000.0 / 60.0
    dist, _ = nw.nearest_source(drive, on[entry], d[entry] / walk, limit=np.inf, reverse=True)
    return dist


def base_minutes(drive: nw.Network, to_area: np.ndarray, xy: np.ndarray, max_snap_m: float,
                 walk_kmh: float) -> tuple[np.ndarray, np.ndarray]:
    """Minutes by road from each base (projected ``xy``) to the area, and whether the base is off the road network
    (farther than ``max_snap_m`` from a driving road). The walk from the base to its road is included."""
    snap = nw.snap(drive, xy, max_snap_m)
    out = np.full(len(xy), np.inf)
    ok = snap.ok
    out[ok] = to_area[snap.node[ok]] + snap.dist_m[ok] / (walk_kmh * 1000.0 / 60.0)
    return out, ~ok
