"""Teams against people and hazards: members per 10,000 people and hazard points per team, per area.

Teams count where they are based (by location), when not retired and not ``unavailable``
(ready or deployed: deployed teams still belong to the area's strength). Hazard points count
when not retired and still ``active`` or ``monitoring`` (rectified and closed ones pose no
open hazard).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from rallypoint_plugins.reporting.notes import add as note

from .areas import locate

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd
    import pandas as pd

    from rallypoint import Registry

TEAM_STATUSES = ("ready", "deployed")
HAZARD_STATUSES = ("active", "monitoring")


def teams_by_area(reg: "Registry", areas: "gpd.GeoDataFrame", warnings: list[str]) -> "pd.DataFrame":
    """``teams``, ``team_members`` and ``hazard_points`` per area."""
    import pandas as pd

    n = len(areas)
    out = pd.DataFrame({"teams": np.zeros(n, np.int64), "team_members": np.zeros(n, np.int64),
                        "hazard_points": np.zeros(n, np.int64)})
    if "teams" in reg.layers and reg.count("teams"):
        t = reg.read_frame("teams", columns=["members", "status"])
        t = t[t["status"].isin(TEAM_STATUSES)]
        where = locate(t.geometry, areas)
        inside = where >= 0
        out["teams"] = np.bincount(where[inside], minlength=n).astype(np.int64)
        members = t["members"].astype(float).fillna(0.0).to_numpy()
        out["team_members"] = np.bincount(where[inside], weights=members[inside], minlength=n).round().astype(np.int64)
        if (~inside).any():
            note(warnings, f"{int((~inside).sum())} teams are based outside every area and are not counted",
                 f"{int((~inside).sum())} 支救援队伍驻地不在任何分析区域内，未计入")
    else:
        note(warnings, "the registry holds no rescue teams", "登记库中没有救援队伍")
    if "hazard_points" in reg.layers and reg.count("hazard_points"):
        h = reg.read_frame("hazard_points", columns=["status"])
        h = h[h["status"].isin(HAZARD_STATUSES)]
        where = locate(h.geometry, areas)
        out["hazard_points"] = np.bincount(where[where >= 0], minlength=n).astype(np.int64)
    return out


def team_ratios(members, teams, hazard_points, population) -> tuple[np.ndarray, np.ndarray]:
    """Members per 10,000 people and open hazard points per team (NaN without people or without teams).

    >>> team_ratios(np.array([45]), np.array([2]), np.array([7]), np.array([15000]))
    (array([30.]), array([3.5]))
    """
    members, teams = np.asarray(members, float), np.asarray(teams, float)
    hazard_points, population = np.asarray(hazard_points, float), np.asarray(population, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_10k = np.where(population > 0, members / np.where(population > 0, population, 1) * 10_000, np.nan)
        per_team = np.where(teams > 0, hazard_points / np.where(teams > 0, teams, 1), np.nan)
    return per_10k, per_team
