"""Which shelters are safe and usable for a hazard: status, the hazards they serve, flood plains, setbacks.

A shelter counts when it is open or on standby, lists the hazard among those it serves, does not lie in a
flood plain (for a flood), is farther than the setback of every active hazard source (GB 50413-2007:
1,000 m from major hazard installations, 30 m from ordinary fire sources; a profile) and has a capacity
above zero in the situation (the capacity plugin's :mod:`~rallypoint_plugins.capacity.situation`: indoor
places overnight, day capacity by day …). A shelter whose capacity is not recorded is left out as
``capacity_unknown``, never as a shelter of 0 places. Every shelter left out keeps its reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from rallypoint.analysis import AnalysisError

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd

USABLE_STATUS = ("open", "standby")
COLUMNS = ["uuid", "name", "adcode", "shelter_type", "status", "hazards", "capacity_day", "capacity_night",
           "capacity_post_impact", "indoor", "in_flood_plain"]


def setbacks(profile_data: Mapping[str, Any]) -> tuple[dict[str, float], tuple[str, ...]]:
    """The setback (metres) by hazard type and the hazard point statuses they apply to, from a profile."""
    table = profile_data.get("setback_m")
    if not isinstance(table, Mapping) or not table:
        raise AnalysisError("the setback profile has no [data.setback_m] table of distances by hazard type")
    out = {}
    for k, v in table.items():
        if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
            raise AnalysisError(f"the setback profile gives {k} = {v!r}: a distance in metres (≥ 0) is expected")
        out[str(k)] = float(v)
    return out, tuple(profile_data.get("statuses", ("active", "monitoring")))


def eligible_shelters(shelters: "gpd.GeoDataFrame", hazard: str, hazard_points: "gpd.GeoDataFrame | None",
                      distances: Mapping[str, float], statuses: tuple[str, ...], epsg: int,
                      capacity: "np.ndarray | None" = None) -> "gpd.GeoDataFrame":
    """``shelters`` with ``eligible`` (bool), ``reason`` (why not; empty when eligible) and ``capacity``.

    ``capacity``: the places that apply (``NaN`` where unknown; default: the day capacity). Reasons, first that
    applies: ``status``, ``hazard``, ``flood_plain``, ``setback:<type>``, ``capacity_unknown``, ``capacity``
    (0 places).
    """
    from scipy.spatial import cKDTree

    s = shelters.copy()
    xy = np.column_stack([s.geometry.to_crs(epsg).x, s.geometry.to_crs(epsg).y]) if len(s) else np.zeros((0, 2))
    reason = np.full(len(s), "", dtype=object)

    def mark(mask, why):
        reason[(reason == "") & np.asarray(mask, dtype=bool)] = why

    mark(~s["status"].isin(USABLE_STATUS).to_numpy(), "status")
    serves = s["hazards"].fillna("").astype(str).map(lambda v: hazard in [p.strip() for p in v.split(",")])
    mark(~serves.to_numpy(dtype=bool), "hazard")
    if hazard == "flood":
        mark(s["in_flood_plain"].fillna(False).to_numpy(dtype=bool), "flood_plain")
    near_m = np.full(len(s), np.inf)
    if hazard_points is not None and len(hazard_points) and len(s):
        hp = hazard_points[hazard_points["status"].isin(statuses)]
        for htype, dist in sorted(distances.items(), key=lambda kv: -kv[1]):
            pts = hp[hp["hazard_type"] == htype]
            if pts.empty or dist <= 0:
                continue
            p = pts.geometry.to_crs(epsg)
            d, _ = cKDTree(np.column_stack([p.x, p.y])).query(xy, k=1)
            mark(d < dist, f"setback:{htype}")
            if htype == "major_hazard_installation":
                near_m = d
    if capacity is None:
        capacity = s["capacity_day"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    cap = np.asarray(capacity, dtype=float)
    mark(np.isnan(cap), "capacity_unknown")
    mark(~np.isnan(cap) & (cap <= 0), "capacity")
    s["capacity"] = cap
    s["eligible"] = reason == ""
    s["reason"] = reason
    s["mhi_dist_m"] = near_m
    s["x"], s["y"] = xy[:, 0], xy[:, 1]
    return s
