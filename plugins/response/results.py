"""The sheet's result layers (EPSG:4490), its tables and headline figures, and the card as its report."""

from __future__ import annotations

import math

import numpy as np

from rallypoint.analysis import AnalysisResult

from .card import render, summary_rows

STORAGE = 4490


def _frame(frame, columns):
    """``frame``'s ``columns`` (those it has) as a GeoDataFrame in EPSG:4490, indexed 0..n-1."""
    import geopandas as gpd

    if frame is None:
        return gpd.GeoDataFrame({c: [] for c in columns}, geometry=[], crs=STORAGE)
    cols = [c for c in columns if c in frame.columns]
    return gpd.GeoDataFrame(frame[cols].reset_index(drop=True), geometry=frame.geometry.values, crs=STORAGE)


def build_result(*, inc, ppl, demand, hp_inside, shelters, asg, walk, teams, depots, supply, pads, roads, info,
                 warnings) -> AnalysisResult:
    import geopandas as gpd
    import pandas as pd
    import shapely

    a, csnap, use, dnodes = asg
    layers: dict = {}

    # people: the cells inside, their share, who is placed and why the others are not
    placed_cell = np.zeros(len(demand))
    on = a.cell_unit >= 0
    if on.any():
        frac = np.divide(a.unit_assigned, a.unit_demand, out=np.zeros(len(a.unit_demand)), where=a.unit_demand > 0)
        placed_cell[on] = demand[on] * frac[a.cell_unit[on]]
    off = (demand > 0) & ~csnap.ok
    no_reach = (demand > 0) & csnap.ok & ~on
    why = np.where(off, "off_network", np.where(no_reach, "no_shelter_in_reach",
                                                np.where(demand - placed_cell > 1e-6, "shelters_full", "")))
    cells = ppl.cells.reset_index(drop=True)
    pf = pd.DataFrame({"adcode": cells["adcode"].to_numpy(), "population": cells["population"].to_numpy(),
                       "population_day": cells["population_day"].to_numpy(),
                       "cell_m": cells["cell_m"].to_numpy(), "share_inside": ppl.share, "people_inside": ppl.people,
                       "to_evacuate": demand, "placed": placed_cell, "unplaced": demand - placed_cell,
                       "why_unplaced": why})
    layers["response_people"] = gpd.GeoDataFrame(pf, geometry=shapely.points(ppl.lonlat), crs=STORAGE)

    layers["response_hazard_points"] = _frame(hp_inside, ["uuid", "name", "hazard_type", "status", "danger_grade",
                                                          "threatened_people", "threatened_households"])

    # shelters: every one near enough to matter, why not usable, and the people sent to the ones to open
    s = shelters.copy()
    assigned = np.zeros(len(s))
    assigned[use] = a.shelter_assigned
    s["assigned"] = assigned
    s["open"] = assigned > 1e-6
    s["load"] = np.divide(assigned, s["free"], out=np.full(len(s), np.nan), where=s["free"] > 0)
    mean_min = np.full(len(s), np.nan)
    max_min = np.full(len(s), np.nan)
    if len(a.flow_people):
        rows = use[a.flow_shelter]
        w = np.bincount(rows, a.flow_people, len(s))
        pm = np.bincount(rows, a.flow_people * a.flow_minutes, len(s))
        mean_min = np.divide(pm, w, out=mean_min, where=w > 0)
        mx = np.full(len(s), -np.inf)
        np.maximum.at(mx, rows, a.flow_minutes)
        max_min = np.where(np.isfinite(mx), mx, np.nan)
    s["mean_walk_min"], s["max_walk_min"] = mean_min, max_min
    s = s.sort_values(["open", "assigned"], ascending=[False, False], kind="stable")
    layers["response_shelters"] = _frame(s, ["uuid", "name", "shelter_type", "level", "status", "hazards", "places",
                                             "occupancy", "free", "assigned", "open", "load", "mean_walk_min",
                                             "max_walk_min", "to_area_m", "reason"])

    if len(a.flow_people):
        from rallypoint_plugins.coverage.steps import xy_of

        sxy = xy_of(shelters.geometry, info["epsg"])
        lines = shapely.linestrings(np.stack([walk.xy[dnodes[a.unit_dpos[a.flow_unit]]],
                                              sxy[use[a.flow_shelter]]], axis=1))
        ag = gpd.GeoDataFrame({"shelter_uuid": shelters["uuid"].to_numpy()[use[a.flow_shelter]],
                               "shelter": shelters["name"].to_numpy()[use[a.flow_shelter]],
                               "people": a.flow_people, "minutes": a.flow_minutes},
                              geometry=lines, crs=info["epsg"]).to_crs(STORAGE)
    else:
        ag = gpd.GeoDataFrame({"shelter_uuid": [], "shelter": [], "people": [], "minutes": []}, geometry=[],
                              crs=STORAGE)
    layers["response_assignment"] = ag

    layers["response_teams"] = _frame(teams, ["uuid", "name", "category", "specialties", "members", "vehicles",
                                              "readiness_min", "road_min", "arrive_min", "to_area_km", "off_road",
                                              "match", "in_radius", "can_send", "send"])
    give = [c for c in (depots.columns if depots is not None else []) if c.startswith("give_")]
    layers["response_depots"] = _frame(depots, ["uuid", "name", "to_area_km", "road_min", "off_road", "draw"] + give)
    layers["response_helipads"] = _frame(pads, ["uuid", "name", "surface", "pad_length_m", "pad_width_m",
                                                "night_lighting", "fuel", "status", "to_area_km", "usable", "reason"])

    total, to_place = ppl.total, float(demand.sum())
    placed = float(a.shelter_assigned.sum())
    summary = {
        "incident": inc.kind, "area_km2": inc.area_m.area / 1e6, "radius_m": inc.radius_m or math.nan,
        "people": total, "households": _households(total, info["params"]["household_size"]),
        "boundary_cells": ppl.boundary, "hazard_points": 0 if hp_inside is None else len(hp_inside),
        "threatened_people": 0.0 if hp_inside is None or hp_inside.empty else
        float(hp_inside["threatened_people"].astype("Float64").fillna(0).sum()),
        "to_evacuate": to_place, "placed": placed, "unplaced": to_place - placed,
        "unplaced_full": float(np.sum(a.overflow)), "unplaced_no_reach": float(demand[no_reach].sum()),
        "unplaced_off_network": float(demand[off].sum()), "shelters_open": int(s["open"].sum()),
        "shelters_usable": int(shelters["usable"].sum()), "person_minutes": a.person_minutes,
        "teams_sent": 0 if teams is None else int(teams["send"].sum()),
        "first_team_min": math.nan if teams is None or not teams["send"].any() else
        float(teams.loc[teams["send"], "arrive_min"].min()),
        "depots_drawn": 0 if depots is None or not len(depots) or "draw" not in depots else int(depots["draw"].sum()),
        "needs_short": ", ".join(supply.loc[supply["shortfall"] > 1e-9, "need"]),
        "helipads_usable": 0 if pads is None else int(pads["usable"].sum()),
        "displaced": info["displaced"], "days": info["params"]["days"],
    }
    area = gpd.GeoDataFrame([{"incident": inc.kind, "title_zh": inc.title_zh, "title_en": inc.title_en,
                              "how_zh": inc.how_zh, "how_en": inc.how_en, "people": total,
                              "households": summary["households"],
                              "to_evacuate": to_place, "placed": placed, "unplaced": to_place - placed,
                              "area_km2": summary["area_km2"]}], geometry=[inc.area], crs=STORAGE)
    layers = {"response_area": area, **layers}
    tables = {"response_supply": supply, "response_summary": pd.DataFrame([summary])}
    rows = summary_rows(summary)

    def report(lang: str) -> str:
        return render(layers, tables, summary, info, warnings, roads, lang)

    return AnalysisResult(layers=layers, tables=tables, summary=rows, report=report, warnings=warnings)


def _households(people: float, size: float) -> int:
    from .people import households

    return households(people, size)
