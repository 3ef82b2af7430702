"""The coverage run's results: layers (EPSG:4490), the region table and the headline figures."""

from __future__ import annotations

import numpy as np

from rallypoint.analysis import AnalysisResult

from .coverage import label

STORAGE = 4490


#: Directions of the octagon of extreme points (counter-clockwise) that thins points before their hulls.
_DIRS = np.array([(1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1)], dtype=float)


def convex_hulls(pts: np.ndarray, group: np.ndarray, n: int, shapely) -> np.ndarray:
    """The convex hull of each group's points (``group``: 0..n-1, sorted), as shapely geometries.

    Points strictly inside the octagon of the group's extreme points in eight directions cannot be hull
    vertices and are dropped first (Akl–Toussaint), so shapely builds hulls of a few points per group instead
    of every network node within reach (millions on a city); the hulls are the same.
    """
    starts = np.searchsorted(group, np.arange(n))
    proj = pts @ _DIRS.T  # (points, 8)
    best = np.maximum.reduceat(proj, starts, axis=0)  # (groups, 8)
    ext = np.zeros((n, 8), dtype=np.int64)
    for j in range(8):  # a point of each group reaching each direction's maximum (any one will do)
        at = np.flatnonzero(proj[:, j] == best[group, j])
        ext[group[at], j] = at
    corner = pts[ext]  # (groups, 8, 2), counter-clockwise
    inside = np.ones(len(pts), dtype=bool)
    for j in range(8):  # strictly left of every edge of the octagon (a degenerate edge keeps the point)
        a, b = corner[:, j], corner[:, (j + 1) % 8]
        e1, e2 = b[:, 0] - a[:, 0], b[:, 1] - a[:, 1]
        c = e2 * a[:, 0] - e1 * a[:, 1]
        inside &= e1[group] * pts[:, 1] - e2[group] * pts[:, 0] + c[group] > 0
    keep = ~inside
    return shapely.convex_hull(shapely.multipoints(pts[keep], indices=group[keep]))


def build_layers(*, areas, table, cells, cell_lonlat, pop, demand, cell_xy, times, why, straight, nearest, off,
                 shelters, use_idx, people, ncells, pairs, dnodes, walk, asg, sites, resp, epsg, ths, info, warnings,
                 hp, gpd, pd, shapely) -> AnalysisResult:
    layers = {}
    layers["coverage_areas"] = gpd.GeoDataFrame(table, geometry=areas.geometry.values, crs=areas.crs)

    # shelters: eligibility and, for the ones searched, people in reach per threshold and people assigned
    s = shelters.copy()
    for j, t in enumerate(ths):
        col = np.zeros(len(s))
        col[use_idx] = people[:, j]
        s[f"people_{label(t)}"] = col
        nc = np.zeros(len(s), dtype=np.int64)
        nc[use_idx] = ncells[:, j]
        s[f"cells_{label(t)}"] = nc
    assigned = np.zeros(len(s))
    assigned[use_idx] = asg.shelter_assigned
    s["assigned"] = assigned
    s["load"] = np.divide(assigned, s["capacity"], out=np.full(len(s), np.nan), where=s["capacity"] > 0)
    keep = ["uuid", "name", "adcode", "shelter_type", "status", "hazards", "capacity", "eligible", "reason",
            "on_network", "snap_m", "assigned", "load"] + [c for c in s.columns if c.startswith(("people_", "cells_"))]
    layers["coverage_shelters"] = gpd.GeoDataFrame(s[keep].reset_index(drop=True), geometry=s.geometry.values,
                                                   crs=STORAGE)

    # service areas: per shelter and threshold, the outline (convex hull) of the network nodes reached
    sa_rows, sa_geom = [], []
    ps, pt, pd_ = pairs
    # the searches yield the pairs source by source: then the stable sort below is the identity, skipped
    by_source = bool(len(ps) < 2 or (ps[1:] >= ps[:-1]).all())
    uuids, names = s["uuid"].to_numpy(), s["name"].to_numpy()
    for j, t in enumerate(ths):
        m = pd_ <= t
        if not m.any():
            continue
        if by_source:
            grp, pts = ps[m], walk.xy[dnodes[pt[m]]]
        else:
            order = np.argsort(ps[m], kind="stable")
            grp, pts = ps[m][order], walk.xy[dnodes[pt[m][order]]]
        ids, first = np.unique(grp, return_index=True)
        hulls = convex_hulls(pts, np.searchsorted(ids, grp), len(ids), shapely)
        areas_km2 = shapely.area(hulls) / 1e6
        for i, h, a in zip(ids, hulls, areas_km2):
            k = use_idx[i]
            sa_rows.append({"shelter_uuid": uuids[k], "name": names[k], "minutes": t,
                            "people": people[i, j], "cells": int(ncells[i, j]), "area_km2": a})
            sa_geom.append(h)
    sa = gpd.GeoDataFrame(sa_rows, geometry=sa_geom, crs=epsg) if sa_rows else gpd.GeoDataFrame(
        {"shelter_uuid": [], "name": [], "minutes": [], "people": [], "cells": [], "area_km2": []},
        geometry=[], crs=epsg)
    layers["coverage_service_areas"] = sa.to_crs(STORAGE)

    # uncovered cells at the largest threshold, and why
    tmax = ths[-1]
    unc = (times > tmax) & (pop > 0)
    u = cells.loc[unc, ["population", "population_day"]].copy()
    u["area_adcode"] = None
    u["reason"] = why[unc]
    u["straight_min"] = straight[unc]
    ll = cell_lonlat[unc]
    ug = shapely.points(ll)
    ug[np.isnan(ll).any(axis=1)] = None  # a cell stored without a geometry stays without one
    layers["coverage_uncovered"] = gpd.GeoDataFrame(u.reset_index(drop=True), geometry=ug, crs=STORAGE)

    # assignment lines: from the unit's network node to its shelter
    if len(asg.flow_people):
        a_xy = walk.xy[dnodes[asg.unit_dpos[asg.flow_unit]]]
        sh = use_idx[asg.flow_shelter]
        b_xy = s[["x", "y"]].to_numpy()[sh]
        lines = shapely.linestrings(np.stack([a_xy, b_xy], axis=1))
        ag = gpd.GeoDataFrame({"shelter_uuid": s["uuid"].to_numpy()[sh], "shelter": s["name"].to_numpy()[sh],
                               "people": asg.flow_people, "minutes": asg.flow_minutes}, geometry=lines, crs=epsg)
    else:
        ag = gpd.GeoDataFrame({"shelter_uuid": [], "shelter": [], "people": [], "minutes": []}, geometry=[], crs=epsg)
    layers["coverage_assignment"] = ag.to_crs(STORAGE)

    # proposed sites
    rows, geo = [], []
    for rank, i in enumerate(sites["max"]):
        rows.append({"problem": "maximal_covering", "rank": rank + 1, "covered_cumulative": sites["gain"][rank]
                     if rank < len(sites.get("gain", [])) else np.nan})
        geo.append(shapely.Point(*sites["xy"][i]))
    for rank, i in enumerate(sites["set"]):
        rows.append({"problem": "set_covering", "rank": rank + 1, "covered_cumulative": np.nan})
        geo.append(shapely.Point(*sites["xy"][i]))
    layers["coverage_sites"] = gpd.GeoDataFrame(
        rows or {"problem": [], "rank": [], "covered_cumulative": []}, geometry=geo, crs=epsg).to_crs(STORAGE)

    if resp is not None:
        h = hp[["hazard_type", "status", "danger_grade", "threatened_people"]].copy()
        for k in ("team_min", "team", "heli_km", "heli_min", "pad", "off_road"):
            h[k] = resp[k]
        layers["coverage_hazard_points"] = gpd.GeoDataFrame(h.reset_index(), geometry=hp.geometry.values,
                                                            crs=STORAGE)

    total = float(table["population"].sum())
    region = {"population": total, "off_network": float(table["off_network"].sum()),
              "unreachable": float(table["unreachable"].sum())}
    for t in ths:
        region[f"covered_{label(t)}"] = float(table[f"covered_{label(t)}"].sum())
        region[f"straight_{label(t)}"] = float(table[f"straight_{label(t)}"].sum())
    for k in ("to_place", "assigned", "overflow", "unassigned"):
        region[k] = float(table[k].sum())
    region["person_minutes"] = asg.person_minutes
    region["shelters_eligible"] = int(shelters["eligible"].sum())
    region["shelters_searched"] = len(use_idx)
    region["new_sites"] = len(sites["max"])
    region["new_sites_cover"] = float(sites["covered_max"])
    region["set_cover_sites"] = len(sites["set"])
    region["new_sites_how"] = sites["max_how"]
    region["set_cover_how"] = sites["set_how"]
    tables = {"coverage_region": pd.DataFrame([region])}

    rows = [("人口", "Population", round(total))]
    for t in ths:
        c = region[f"covered_{label(t)}"]
        rows.append((f"{t:g} 分钟内可达（路网）", f"Covered within {t:g} min (by road)", round(c)))
        rows.append((f"{t:g} 分钟内可达（直线）", f"Within {t:g} min as the crow flies", round(region[f"straight_{label(t)}"])))
    rows += [("可用避难场所", "Usable shelters", region["shelters_eligible"]),
             ("不在路网上的人口", "People off the network", round(region["off_network"])),
             ("路网不连通、无可达场所的人口", "People with no shelter on their part of the network",
              round(region["unreachable"])),
             ("已分配", "Assigned to a shelter", round(region["assigned"])),
             ("溢出（可达场所已满）", "Overflow (shelters in reach full)", round(region["overflow"])),
             ("无法安置（无可达场所）", "Unassigned (no shelter in reach)", round(region["unassigned"])),
             ("人·分钟", "Person-minutes", round(region["person_minutes"])),
             (f"新增 {region['new_sites']} 处可覆盖", f"New sites ({region['new_sites']}) would cover",
              round(region["new_sites_cover"])),
             ("覆盖全部所需最少场址数", "Fewest sites to cover everyone coverable", region["set_cover_sites"])]
    if resp is not None:
        tm = resp["team_min"]
        rows.append(("救援队伍时限内可达的隐患点", "Hazard points a team reaches in time", int(np.isfinite(tm).sum())))
        rows.append(("直升机可达的隐患点", "Hazard points a helicopter reaches", int(np.isfinite(resp["heli_min"]).sum())))

    def report(lang: str) -> str:
        from .report import render

        return render(layers, region, rows, info, warnings, lang)

    return AnalysisResult(layers=layers, tables=tables, summary=rows, report=report, warnings=warnings)
