"""The coverage run, step by step: areas, network, demand, shelters, coverage, assignment, siting, response."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from rallypoint.analysis import AnalysisContext, AnalysisError, AnalysisResult
from rallypoint_plugins.reporting.notes import Notes
from rallypoint_plugins.reporting.notes import add as note

from . import assignment as asg_mod
from . import coverage as cov
from . import network as nw
from .eligibility import COLUMNS, eligible_shelters, setbacks


def xy_of(geoms, epsg: int) -> np.ndarray:
    """Projected (x, y) in EPSG ``epsg`` of point geometries (a GeoSeries in EPSG:4490), as an (n, 2) array."""
    import shapely

    if not len(geoms):
        return np.zeros((0, 2))
    pts = np.asarray(geoms.values, dtype=object)
    lonlat = np.full((len(pts), 2), np.nan)
    ok = ~(shapely.is_missing(pts) | shapely.is_empty(pts))
    lonlat[ok] = shapely.get_coordinates(pts[ok])
    return project_lonlat(lonlat, epsg)


@lru_cache(maxsize=8)
def _transformer(epsg: int):
    from pyproj import Transformer

    return Transformer.from_crs(4490, epsg, always_xy=True)


def project_lonlat(lonlat: np.ndarray, epsg: int) -> np.ndarray:
    """EPSG:4490 coordinates to ``epsg``, on arrays (what GeoSeries.to_crs does, without the points).

    The transformer is made once per CRS (making one takes longer than projecting thousands of points)."""
    if not len(lonlat):
        return np.zeros((0, 2))
    x, y = _transformer(epsg).transform(lonlat[:, 0], lonlat[:, 1])
    return np.column_stack([x, y])


def run_steps(reg, params: dict[str, Any], ctx: AnalysisContext) -> AnalysisResult:
    import geopandas as gpd
    import pandas as pd
    import scipy.sparse as sp
    import shapely

    from rallypoint_plugins.capacity import areas as areas_mod
    from rallypoint_plugins.capacity import situation as situation_mod

    from . import response, siting
    from .results import build_layers

    warnings = Notes()
    ths = check_thresholds(params["minutes"])
    tmax = ths[-1]
    walk_kmh, max_snap = params["walk_kmh"], params["max_snap_m"]
    speed = walk_kmh * 1000.0 / 60.0
    distances, statuses = setbacks(ctx.profile("shelter_setbacks", params["setbacks"]).data)
    hazard_words = _hazard_words(reg, params["hazard"])
    hazard_zh = hazard_words[0]
    steps = 7

    ctx.progress("network", 0, steps)
    areas = areas_mod.read_areas(reg, params["level"])
    epsg = areas_mod.work_epsg(areas)
    roads = nw.read_roads(reg, epsg)
    road_geom = nw.road_geometry(roads, epsg)
    walk = nw.build(roads, epsg, "walk", walk_kmh, road_geom)
    if not walk.graph.nnz:
        raise AnalysisError("the road network has no road open to walking (walk = true): no walking times")

    ctx.progress("population", 1, steps)
    popcol = "population" if params["period"] == "night" else "population_day"
    # positions only: a million cells as numpy coordinates, no shapely points (see Registry.read_points)
    cells, cell_lonlat = reg.read_points("population", columns=["population", "population_day"])
    pop = cells[popcol].astype("Float64").fillna(0).to_numpy(dtype=float)
    cell_xy = project_lonlat(cell_lonlat, epsg)
    cell_area = areas_mod.locate_xy(cell_xy, areas.to_crs(epsg))
    csnap = nw.snap(walk, cell_xy, max_snap)
    cell_snap_min = np.where(csnap.ok, csnap.dist_m / speed, np.inf)
    off = ~csnap.ok
    if off.any():
        note(warnings, f"{int(off.sum())} population cells ({pop[off].sum():,.0f} people) lie more than "
                       f"{max_snap:g} m from the walking network: counted as not covered (off the network)",
             f"{int(off.sum())} 个人口格网（{pop[off].sum():,.0f} 人）距步行路网超过 {max_snap:g} 米：计为未覆盖"
             f"（不在路网上）")

    ctx.progress("shelters", 2, steps)
    hp = reg.read_frame("hazard_points", columns=["hazard_type", "status", "danger_grade", "threatened_people"]) \
        if "hazard_points" in reg.layers else None
    frame = reg.read_frame("shelters", columns=COLUMNS)
    situation = situation_mod.decide(params, None, params["period"])
    capacity, _ = situation_mod.applicable_capacity(frame, situation)
    shelters = eligible_shelters(frame, params["hazard"], hp, distances, statuses, epsg, capacity.to_numpy())
    sxy = shelters[["x", "y"]].to_numpy()
    ssnap = nw.snap(walk, sxy, max_snap)
    shelters["snap_m"] = ssnap.dist_m
    shelters["on_network"] = ssnap.ok
    elig = shelters["eligible"].to_numpy(dtype=bool)
    net_ok = elig & ssnap.ok
    if (elig & ~ssnap.ok).any():
        names = ", ".join(shelters.loc[elig & ~ssnap.ok, "name"].astype(str).head(5))
        note(warnings, f"{int((elig & ~ssnap.ok).sum())} eligible shelters lie more than {max_snap:g} m from the "
                       f"walking network and are left out of road coverage: {names}",
             f"{int((elig & ~ssnap.ok).sum())} 处可用避难场所距步行路网超过 {max_snap:g} 米，不计入路网覆盖："
             + names.replace(", ", "、"))
    zero = shelters["reason"] == "capacity"
    if zero.any():
        names = shelters.loc[zero, "name"].astype(str).head(5)
        note(warnings, f"{int(zero.sum())} shelters have no capacity ({situation.field} 0) and are left out: "
             + ", ".join(names), f"{int(zero.sum())} 处避难场所{situation.title('zh')}容量为 0，不计入：" + "、".join(names))
    unknown = shelters["reason"] == "capacity_unknown"
    if unknown.any():
        names = shelters.loc[unknown, "name"].astype(str).head(5)
        note(warnings, f"{int(unknown.sum())} shelters have no capacity recorded for the situation "
                       f"({situation_mod.UNKNOWN[situation.code][1]}): capacity unknown, left out of the assignment: "
             + ", ".join(names), f"{int(unknown.sum())} 处避难场所{situation_mod.UNKNOWN[situation.code][0]}："
                                 "容量不明，不参与分配：" + "、".join(names))
    if not elig.any():
        note(warnings, f"no shelter is usable for {params['hazard']!r} (open or on standby, serving it, safe and with "
                       f"capacity): nobody is covered",
             f"没有可用于{hazard_zh}的避难场所（开放或待命、适用于该灾种、安全且有容量）：无人被覆盖")
    use_idx = np.flatnonzero(net_ok)  # the shelters searched on the network, in this order
    s_nodes = ssnap.node[use_idx]
    s_snap_min = ssnap.dist_m[use_idx] / speed

    ctx.progress("coverage", 3, steps)
    times, which = cov.cell_times(walk, csnap, s_nodes, s_snap_min, tmax)
    nearest = np.where(which >= 0, use_idx[np.maximum(which, 0)], -1) if len(use_idx) else which
    unreach = cov.unreachable_cells(walk, csnap, s_nodes)
    if unreach.any():
        note(warnings, f"{int(unreach.sum())} population cells ({pop[unreach].sum():,.0f} people) lie on parts of "
                       f"the road network not connected to any usable shelter: reported as unreachable",
             f"{int(unreach.sum())} 个人口格网（{pop[unreach].sum():,.0f} 人）所在的路网与任何可用避难场所都不连通："
             "计为无可达场所")
    straight, _ = cov.straight_times(cell_xy, sxy[elig], walk_kmh)
    table = pd.concat([areas[["adcode", "name", "level"]],
                       cov.by_area(pop, cell_area, len(areas), times, straight, ths, off, unreach)], axis=1)
    people, ncells, pairs, dnodes, cell_dpos = cov.service_areas(walk, csnap, pop, s_nodes, s_snap_min, ths, tmax)

    ctx.progress("assignment", 4, steps)
    demand = pop * params["share"]
    cand_s, cand_t = asg_mod.candidates(pairs, len(dnodes), params["candidates"])
    cap = shelters["capacity"].to_numpy(dtype=float)[use_idx]
    asg = asg_mod.assign(demand, cell_dpos, np.where(csnap.ok, cell_snap_min, 0.0), cell_area, cand_s, cand_t,
                         cap, tmax)
    for k, v in asg_mod.by_area(asg, demand, cell_area, len(areas)).items():
        table[f"{k}" if k != "demand" else "to_place"] = v

    ctx.progress("siting", 5, steps)
    uncovered_w = np.where(times > tmax, demand, 0.0)
    sites = _siting(walk, csnap, cell_xy, uncovered_w, params, tmax, speed, max_snap, siting, sp, warnings)

    ctx.progress("response", 6, steps)
    resp = _response(reg, roads, road_geom, epsg, hp, params, max_snap, walk_kmh, response, warnings)

    why = np.where(off, "off_network", np.where(unreach, "no_shelter_on_network_part", "beyond"))
    info = {"registry": reg.info.name, "bureau": reg.info.bureau, "epsg": epsg, "params": dict(params),
            "thresholds": ths, "situation": situation, "hazard_words": hazard_words}
    result = build_layers(areas=areas, table=table, cells=cells, cell_lonlat=cell_lonlat, pop=pop, demand=demand,
                          cell_xy=cell_xy, times=times, why=why, straight=straight, nearest=nearest, off=off,
                          shelters=shelters, use_idx=use_idx, people=people, ncells=ncells, pairs=pairs,
                          dnodes=dnodes, walk=walk,
                          asg=asg, sites=sites, resp=resp, epsg=epsg, ths=ths, info=info, warnings=warnings,
                          hp=hp, gpd=gpd, pd=pd, shapely=shapely)
    ctx.progress("results", steps, steps)
    return result


def _hazard_words(reg, code: str) -> tuple[str, str]:
    """The hazard in words (洪涝 / Flood), as the shelters' definition names it."""
    ldef = reg.layer("shelters") if "shelters" in reg.layers else None
    value = ldef.field("hazards").value(code) if ldef is not None and ldef.has_field("hazards") else None
    return (value.label("zh"), value.label("en")) if value is not None else (code, code)


def _siting(walk, csnap, cell_xy, weights, params, tmax, speed, max_snap, siting, sp, warnings):
    """Candidate grid sites, their coverage of the uncovered, and the chosen sites (maximal and set covering)."""
    k = params["new_sites"]
    cand = siting.grid_sites(cell_xy, weights, params["site_spacing_m"])
    empty = {"xy": np.zeros((0, 2)), "max": [], "max_how": "nothing uncovered", "set": [], "set_how": "",
             "gain": [], "covered_max": 0.0, "coverable": 0.0}
    if not len(cand):
        return empty
    snap = nw.snap(walk, cand, max_snap)
    cand = cand[snap.ok]
    if not len(cand):
        note(warnings, "no candidate site for a new shelter lies near the walking network",
             "步行路网附近没有可新增避难场所的候选场址")
        return empty
    sub = np.where((weights > 0) & csnap.ok, csnap.node, -1)
    dnodes, dpos = np.unique(sub[sub >= 0], return_inverse=True)
    cell_dpos = np.full(len(weights), -1, dtype=np.int64)
    cell_dpos[sub >= 0] = dpos.ravel()
    parts = list(nw.many_to_many(walk, snap.node[snap.ok], snap.dist_m[snap.ok] / speed, dnodes, tmax))
    pairs = tuple(np.concatenate(x) for x in zip(*parts)) if parts else (np.zeros(0, int),) * 3
    rows, cols = cov.expand(pairs, cell_dpos, np.where(csnap.ok, csnap.dist_m / speed, np.inf), tmax)
    cover = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(cand), len(weights)))
    chosen, how = siting.max_cover(cover, weights, k)
    sc, sc_how = siting.set_cover(cover, weights)
    gains = []
    for i in range(len(chosen)):
        gains.append(siting.covered(cover, weights, chosen[:i + 1]))
    coverable = float(weights[np.asarray(cover.sum(axis=0)).ravel() > 0].sum())
    return {"xy": cand, "max": chosen, "max_how": how, "gain": gains, "set": sc, "set_how": sc_how,
            "covered_max": siting.covered(cover, weights, chosen), "coverable": coverable, "cover": cover}


def _response(reg, roads, road_geom, epsg, hp, params, max_snap, walk_kmh, response, warnings):
    if hp is None or hp.empty:
        return None
    pts = xy_of(hp.geometry, epsg)
    out = {"team_min": np.full(len(hp), np.inf), "team": np.full(len(hp), -1), "heli_km": np.full(len(hp), np.inf),
           "heli_min": np.full(len(hp), np.inf), "pad": np.full(len(hp), -1), "off_road": np.zeros(len(hp), bool)}
    if "teams" in reg.layers and reg.count("teams"):
        teams = reg.read_frame("teams", columns=["name", "status", "readiness_min"])
        teams = teams[teams["status"] == "ready"]
        drive = nw.build(roads, epsg, "drive", geometry=road_geom)
        if not drive.graph.nnz:
            note(warnings, "no road is open to driving: team arrival times are not computed",
                 "没有可通行车辆的道路：不计算救援队伍到达时间")
        elif len(teams):
            ready = teams["readiness_min"].astype("Float64").fillna(0).to_numpy(dtype=float)
            t, who, off = response.teams_to_points(drive, xy_of(teams.geometry, epsg), ready, pts, max_snap,
                                                   walk_kmh, params["team_minutes"])
            out.update(team_min=t, team=np.where(who >= 0, teams.index.to_numpy()[np.maximum(who, 0)], -1),
                       off_road=off)
    if "helipads" in reg.layers and reg.count("helipads"):
        pads = reg.read_frame("helipads", columns=["name", "status"])
        pads = pads[pads["status"] == "usable"]
        km, mins, i = response.helicopter_to_points(xy_of(pads.geometry, epsg), pts, params["heli_kmh"],
                                                    params["heli_radius_km"])
        out.update(heli_km=km, heli_min=mins, pad=np.where(i >= 0, pads.index.to_numpy()[np.maximum(i, 0)], -1)
                   if len(pads) else i)
    return out


def check_thresholds(minutes: tuple[float, ...]) -> tuple[float, ...]:
    out = tuple(sorted(set(float(m) for m in minutes)))
    if not out or out[0] <= 0:
        raise AnalysisError("parameter 'minutes': give one or more walking times above 0 minutes, e.g. 10,30,60")
    return out
