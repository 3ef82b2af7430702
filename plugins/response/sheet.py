"""The response sheet, step by step: the area, the people inside, the shelters to open and who goes where, the
teams, the supplies and the helipads.

Shelters to open: safe for the incident's hazard by the coverage plugin's rules (open or on standby, serving the
hazard, not in a flood plain for a flood, outside the setbacks of hazard sources), *outside* the area, with free
places (the capacity plugin's places under the shelter standard, minus the current occupancy when recorded), and
on the walking network. People inside are assigned to them by the coverage plugin's min-cost flow within the
walking-time limit, so that no shelter takes more than its free places; the rest are reported as unplaced, by why.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from rallypoint.analysis import AnalysisContext, AnalysisError, AnalysisResult

from . import incident as incident_mod
from . import people as people_mod
from . import reach, supplies
from rallypoint_plugins.reporting.notes import Notes as Warnings
from rallypoint_plugins.reporting.units import unit as unit_words

#: Team statuses that can be sent (capacity plugin: ready; a deployed team is busy).
SENDABLE = ("ready",)
SHELTER_COLUMNS = ["effective_area_m2", "occupancy", "occupancy_at", "level"]


def build_sheet(reg, params: dict[str, Any], ctx: AnalysisContext) -> AnalysisResult:
    from rallypoint_plugins.capacity import stock as stock_mod
    from rallypoint_plugins.capacity.standards import m2_per_person
    from rallypoint_plugins.coverage.eligibility import setbacks

    from .results import build_result

    warnings = Warnings()
    steps = 6
    ctx.progress("area", 0, steps)
    distances, statuses = setbacks(ctx.profile("shelter_setbacks", params["setbacks"]).data)
    standard = ctx.profile("shelter_standard", params["standard"])
    m2_per_person(standard)  # a bad profile fails before any data is read
    needs_profile = ctx.profile("minimum_needs", params["needs"])
    assessed = [n for n in stock_mod.needs(needs_profile) if n.categories]
    inc = incident_mod.resolve(reg, params, ctx.profile("incident_types", params["incidents"]).data, distances)
    townships = _areas_touched(reg, inc)
    epsg, area_m = inc.epsg, inc.area_m

    walk_kmh, max_snap, tmax = params["walk_kmh"], params["max_snap_m"], params["walk_minutes"]
    walk_reach = tmax * walk_kmh * 1000.0 / 60.0 + 2 * max_snap
    search_m = params["search_km"] * 1000.0
    sur = reach.surroundings(reg, area_m, epsg, walk_reach_m=walk_reach, search_m=search_m, walk_kmh=walk_kmh)
    if not len(sur.roads):
        km = max(walk_reach, search_m) / 1000
        warnings.add(f"no road lies within {km:,.1f} km of the area: nobody can be sent to a shelter by road and no "
                     f"team or depot reaches it", f"区域周边 {km:,.1f} 千米内没有道路：无法经路网安置人员，队伍和储备库也无法到达")

    ctx.progress("people", 1, steps)
    ppl = people_mod.people_inside(reg, inc.area, area_m, epsg, params["period"], warnings)
    demand = ppl.people * params["share"]
    if ppl.total <= 0:
        warnings.add("nobody lives in the area (no population cell with people inside): nobody to evacuate",
                     "区域内无人居住（没有有人口的格网）：无需转移人员")

    ctx.progress("shelters", 2, steps)
    hp, hp_inside = _hazard_points(reg, area_m, epsg, walk_reach, distances)
    shelters, situation = _shelters(reg, sur, inc, hp, distances, statuses, standard, epsg, max_snap, walk_reach,
                                    params)
    usable = shelters["usable"].to_numpy(dtype=bool)
    if not usable.any():
        warnings.add(f"no safe shelter with free places is left outside the area for a {inc.title_en.lower()} "
                     f"within {tmax:g} minutes' walk: nobody can be placed",
                     f"区域外步行 {tmax:g} 分钟内没有适用于{inc.title_zh}、安全且有空位的避难场所：无人可安置")
    asg = _assign(sur.walk, ppl, demand, shelters, params, tmax)

    ctx.progress("teams", 3, steps)
    to_area = reach.minutes_to_area(sur.drive, area_m, max_snap, walk_kmh)
    teams = _teams(reg, sur, inc, to_area, params, epsg, warnings)

    ctx.progress("supplies", 4, steps)
    displaced = math.ceil(round(float(demand.sum()), 6))
    notes = Warnings()  # the stock's own remarks (units not converted, expiry) come after the sheet's warnings
    depots, supply = _supplies(reg, sur, area_m, to_area, assessed, displaced, params, epsg, warnings, notes)

    ctx.progress("helipads", 5, steps)
    pads = _helipads(reg, sur, area_m, search_m, epsg)
    warnings.merge(notes)

    info = {"registry": reg.info.name, "bureau": reg.info.bureau, "epsg": epsg, "params": dict(params),
            "incident": inc, "townships": townships, "displaced": displaced, "standard": standard,
            "needs": needs_profile, "walk_reach_m": walk_reach, "search_m": search_m,
            "specialty_labels": _labels(reg, "teams", "specialties"), "situation": situation}
    result = build_result(inc=inc, ppl=ppl, demand=demand, hp_inside=hp_inside, shelters=shelters, asg=asg,
                          walk=sur.walk, teams=teams, depots=depots, supply=supply, pads=pads,
                          roads=sur.geometry, info=info, warnings=warnings)
    ctx.progress("results", steps, steps)
    return result


def _areas_touched(reg, inc) -> list[tuple[str, str]]:
    """(adcode, name) of the townships the area touches; an area that touches no administrative area of the
    registry lies outside its region (an error)."""
    import shapely

    if "admin_areas" not in reg.layers or not reg.count("admin_areas"):
        return []
    near = reg.read_frame("admin_areas", columns=["adcode", "name", "level"], bbox=inc.area.bounds)
    hit = near[~near.geometry.isna()]
    hit = hit[shapely.intersects(np.asarray(hit.geometry.values, dtype=object), inc.area)]
    if hit.empty:
        minx, miny, maxx, maxy = inc.area.bounds
        raise AnalysisError(f"the incident area ({minx:.4f}, {miny:.4f}) – ({maxx:.4f}, {maxy:.4f}) in EPSG:4490 lies "
                            f"outside the registry's region (it touches none of its administrative areas): "
                            f"check the coordinates and area_crs")
    town = hit[hit["level"] == "township"] if (hit["level"] == "township").any() else hit
    return [(str(a), str(n)) for a, n in zip(town["adcode"], town["name"])]


def _hazard_points(reg, area_m, epsg, walk_reach, distances):
    """Hazard points that matter: those inside the area (all fields), and those within a setback of a shelter
    people may walk to (type and status only: tens of thousands on a city)."""
    import geopandas as gpd
    import pandas as pd

    if "hazard_points" not in reg.layers or not reg.count("hazard_points"):
        return None, None
    grow = walk_reach + max(distances.values(), default=0.0)
    minx, miny, maxx, maxy = area_m.bounds
    box = reach.box_lonlat((minx - grow, miny - grow, maxx + grow, maxy + grow), epsg)
    frame, lonlat = reg.read_points("hazard_points", columns=["hazard_type", "status"], bbox=box)
    ok = ~np.isnan(lonlat).any(axis=1)
    near = gpd.GeoDataFrame(frame[ok], geometry=gpd.points_from_xy(lonlat[ok, 0], lonlat[ok, 1]), crs=4490)
    inside = _inside(near, area_m, epsg)
    cols = ["uuid", "name", "hazard_type", "status", "danger_grade", "threatened_people", "threatened_households"]
    if inside.empty:
        return near, gpd.GeoDataFrame(pd.DataFrame({c: [] for c in cols}), geometry=[], crs=4490)
    full = reg.read_frame("hazard_points", columns=cols, bbox=tuple(inside.total_bounds))
    return near, full.loc[full.index.intersection(inside.index)]


def _inside(frame, area_m, epsg):
    """The rows of a point frame (EPSG:4490) inside the area."""
    import shapely

    from rallypoint_plugins.coverage.steps import xy_of

    if frame is None or frame.empty:
        return frame
    xy = xy_of(frame.geometry, epsg)
    return frame[shapely.contains_xy(area_m, xy[:, 0], xy[:, 1])]


def _shelters(reg, sur, inc, hp, distances, statuses, standard, epsg, max_snap, walk_reach, params):
    """Shelters near enough to matter, with ``reason`` (empty when usable), ``free`` places and ``usable``, and
    the situation whose capacity counts (the capacity plugin's: indoor places overnight, day capacity by day …).

    Reasons, first that applies: the coverage plugin's (``status``, ``hazard``, ``flood_plain``,
    ``setback:<type>``, ``capacity_unknown``, ``capacity``), then ``inside_area``, ``beyond_walk`` (farther from
    the area than a walk of the time limit), ``no_free_places``, ``off_network``.
    """
    from rallypoint_plugins.capacity import situation as situation_mod
    from rallypoint_plugins.capacity.occupancy import occupancy_state
    from rallypoint_plugins.capacity.standards import shelter_places
    from rallypoint_plugins.coverage import network as nw
    from rallypoint_plugins.coverage.eligibility import COLUMNS, eligible_shelters

    minx, miny, maxx, maxy = inc.area_m.bounds
    box = reach.box_lonlat((minx - walk_reach, miny - walk_reach, maxx + walk_reach, maxy + walk_reach), epsg)
    frame = reg.read_frame("shelters", columns=COLUMNS + SHELTER_COLUMNS, bbox=box)
    frame = frame[~frame.geometry.isna()]
    counted_now = frame["status"].isin(("open", "full")) & frame["occupancy"].notna()
    situation = situation_mod.decide(params, frame.loc[counted_now, "occupancy_at"], params["period"])
    capacity, why = situation_mod.applicable_capacity(frame, situation, "both")
    s = eligible_shelters(frame, inc.hazard, hp, distances, statuses, epsg, capacity.to_numpy())
    s = shelter_places(s, standard, capacity, why)
    s = occupancy_state(s, capacity="places", occupancy="occupancy", closed=~s["counted"])
    s["free"] = s["available"].astype(float)
    reason = s["reason"].to_numpy(dtype=object).copy()
    xy = s[["x", "y"]].to_numpy(dtype=float)
    s["to_area_m"] = reach.distance_to_area(inc.area_m, xy)
    reason[(reason == "") & (s["to_area_m"].to_numpy() <= 0)] = "inside_area"
    reason[(reason == "") & (s["to_area_m"].to_numpy() > walk_reach)] = "beyond_walk"
    reason[(reason == "") & (s["free"].to_numpy() <= 0)] = "no_free_places"
    snap = nw.snap(sur.walk, xy, max_snap)
    reason[(reason == "") & ~snap.ok] = "off_network"
    s["reason"] = reason
    s["usable"] = reason == ""
    s["node"], s["snap_m"] = snap.node, snap.dist_m
    return s.reset_index(drop=True), situation


def _assign(walk, ppl, demand, shelters, params, tmax):
    """The coverage plugin's search from the usable shelters to the people's road nodes, then its min-cost flow:
    most people placed within ``tmax`` minutes without overfilling any shelter, then the fewest person-minutes."""
    from rallypoint_plugins.coverage import assignment as asg_mod
    from rallypoint_plugins.coverage import coverage as cov
    from rallypoint_plugins.coverage import network as nw

    speed = params["walk_kmh"] * 1000.0 / 60.0
    csnap = nw.snap(walk, ppl.xy, params["max_snap_m"])
    use = np.flatnonzero(shelters["usable"].to_numpy(dtype=bool))
    # shelters near each other in the same batch of searches: each batch then searches a smaller part of the network
    xy = shelters[["x", "y"]].to_numpy(dtype=float)[use]
    band = np.floor(xy[:, 1] / 2000.0) if len(use) else np.zeros(0)
    use = use[np.lexsort((np.where(band % 2 == 0, xy[:, 0], -xy[:, 0]), band))]
    s_nodes = shelters["node"].to_numpy(dtype=np.int64)[use]
    s_snap = shelters["snap_m"].to_numpy(dtype=float)[use] / speed
    _, _, pairs, dnodes, cell_dpos = cov.service_areas(walk, csnap, demand, s_nodes, s_snap, (tmax,), tmax)
    cand_s, cand_t = asg_mod.candidates(pairs, len(dnodes), params["candidates"])
    asg = asg_mod.assign(demand, cell_dpos, np.where(csnap.ok, csnap.dist_m / speed, 0.0),
                         np.zeros(len(demand), dtype=np.int64), cand_s, cand_t,
                         shelters["free"].to_numpy(dtype=float)[use], tmax)
    return asg, csnap, use, dnodes


def _teams(reg, sur, inc, to_area, params, epsg, warnings):
    """Ready teams based within ``search_km`` of the area: minutes to arrive (readiness + road), specialty match,
    and whether to send them (arrive within ``team_minutes`` and the area lies within their deployment radius)."""
    from rallypoint_plugins.coverage.steps import xy_of

    if "teams" not in reg.layers or not reg.count("teams"):
        warnings.add("the registry holds no rescue teams", "登记库中没有救援队伍")
        return None
    cols = ["uuid", "name", "category", "specialties", "members", "vehicles", "readiness_min", "deploy_radius_km",
            "status"]
    t = reg.read_frame("teams", columns=cols, bbox=sur.box_ll)
    t = t[t["status"].isin(SENDABLE) & ~t.geometry.isna()].copy()
    xy = xy_of(t.geometry, epsg)
    t["to_area_km"] = reach.distance_to_area(inc.area_m, xy) / 1000.0
    keep = (t["to_area_km"] <= params["search_km"]).to_numpy()
    t, xy = t[keep].copy(), xy[keep]
    road, off = reach.base_minutes(sur.drive, to_area, xy, params["max_snap_m"], params["walk_kmh"])
    ready = t["readiness_min"].astype("Float64").fillna(0).to_numpy(dtype=float)
    t["readiness_min"] = ready
    t["road_min"] = road
    t["arrive_min"] = ready + road
    t["off_road"] = off
    wanted = set(inc.specialties)
    t["match"] = t["specialties"].fillna("").astype(str).map(
        lambda v: bool(wanted & {p.strip() for p in v.split(",")}))
    radius = t["deploy_radius_km"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    t["in_radius"] = np.isnan(radius) | (t["to_area_km"].to_numpy() <= radius)
    t["can_send"] = (t["arrive_min"] <= params["team_minutes"]).to_numpy() & t["in_radius"].to_numpy()
    t = t.sort_values(["can_send", "match", "arrive_min"], ascending=[False, False, True], kind="stable")
    rank = np.cumsum(t["can_send"].to_numpy())
    t["send"] = t["can_send"].to_numpy() & ((rank <= params["max_teams"]) | (params["max_teams"] == 0))
    if not t["send"].any():
        warnings.add(f"no ready team based within {params['search_km']:g} km reaches the area within "
                     f"{params['team_minutes']:g} minutes",
                     f"驻地在 {params['search_km']:g} 千米内的待命队伍均不能在 {params['team_minutes']:g} 分钟内到达")
    return t


def _supplies(reg, sur, area_m, to_area, assessed, displaced, params, epsg, warnings, notes):
    """In-service depots within ``search_km``, nearest by road first, and the needs for the days drawn from them."""
    import pandas as pd

    from rallypoint_plugins.capacity import stock as stock_mod
    from rallypoint_plugins.coverage.steps import xy_of

    depots, matrix = stock_mod.depot_stock(reg, assessed, notes)
    if len(depots):
        xy = xy_of(depots.geometry, epsg)
        depots["to_area_km"] = reach.distance_to_area(area_m, xy) / 1000.0
        near = (depots["to_area_km"] <= params["search_km"]).to_numpy()
        depots, matrix, xy = depots[near].copy(), matrix[near], xy[near]
        road, off = reach.base_minutes(sur.drive, to_area, xy, params["max_snap_m"], params["walk_kmh"])
        depots["road_min"], depots["off_road"] = road, off
        cut = ~np.isfinite(road)
        if cut.any():
            names = ", ".join(depots.loc[cut, "name"].astype(str).head(5))
            warnings.add(f"{int(cut.sum())} depots within {params['search_km']:g} km have no road to the area and "
                         f"are not drawn on: {names}",
                         f"{params['search_km']:g} 千米内有 {int(cut.sum())} 处储备库无道路通往区域，未调用：{names}")
        order = np.lexsort((depots["to_area_km"].to_numpy(), road))
        depots, matrix = depots.iloc[order].copy(), matrix[order]
        matrix = np.where(np.isfinite(depots["road_min"].to_numpy())[:, None], matrix, 0.0)
    want = np.array([supplies.needed(n, displaced, params["days"]) for n in assessed])
    take = supplies.allocate(matrix, want) if len(depots) else np.zeros((0, len(assessed)))
    rows = []
    for j, n in enumerate(assessed):
        held = float(matrix[:, j].sum()) if len(depots) else 0.0
        got = float(take[:, j].sum())
        per_day = displaced * n.per_day if n.consumable else math.nan
        rows.append({"need": n.key, "need_zh": n.title_zh, "need_en": n.title_en, "unit": n.unit,
                     "unit_zh": n.unit_label("zh"),
                     "frequency": n.frequency, "per_person": n.amount, "displaced": displaced,
                     "days": params["days"] if n.consumable else math.nan, "needed": float(want[j]),
                     "available": held, "supplied": got, "shortfall": max(0.0, float(want[j]) - got),
                     "days_available": held / per_day if n.consumable and per_day > 0 else math.nan,
                     "depots": int((take[:, j] > 0).sum())})
    supply = pd.DataFrame(rows)
    if len(depots):
        for j, n in enumerate(assessed):
            depots[f"give_{n.key}"] = take[:, j]
        depots["draw"] = take.sum(axis=1) > 0
    short = supply[supply["shortfall"] > 1e-9]
    if displaced and len(short):
        warnings.add("not enough in the depots within reach for " + ", ".join(
            f"{r.need_en} (short {r.shortfall:,.0f} {unit_words(r.unit, 'en')})" for r in short.itertuples()),
            "可调储备不足：" + "、".join(f"{r.need_zh}（缺 {r.shortfall:,.0f} {r.unit_zh}）" for r in short.itertuples()))
    return depots, supply


def _helipads(reg, sur, area_m, search_m, epsg):
    """Helipads within ``search_km`` of the area: ``usable`` when their status is usable and they lie outside it."""
    from rallypoint_plugins.coverage.steps import xy_of

    if "helipads" not in reg.layers or not reg.count("helipads"):
        return None
    cols = ["uuid", "name", "surface", "pad_length_m", "pad_width_m", "night_lighting", "fuel", "status"]
    h = reg.read_frame("helipads", columns=cols, bbox=sur.box_ll)
    h = h[~h.geometry.isna()].copy()
    d = reach.distance_to_area(area_m, xy_of(h.geometry, epsg))
    h["to_area_km"] = d / 1000.0
    h = h[d <= search_m].copy()
    why = np.where(h["status"] != "usable", "status", np.where(h["to_area_km"] <= 0, "inside_area", ""))
    h["reason"], h["usable"] = why, why == ""
    return h.sort_values(["usable", "to_area_km"], ascending=[False, True], kind="stable")


def _labels(reg, layer: str, field: str) -> dict[str, tuple[str, str]]:
    """Code → (Chinese, English) label of a field's allowed values."""
    if layer not in reg.layers:
        return {}
    return {v.code: (v.zh, v.en) for v in reg.layer(layer).field(field).values}
