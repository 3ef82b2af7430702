"""The region's totals (sums of the areas, ratios recomputed from the sums) and the headline rows."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np

from .supply import balance
from .teams import team_ratios
from .texts import pair

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .situation import Situation
    from .stock import Need


def region_totals(table: "pd.DataFrame", additive: Iterable[str], share: float) -> dict[str, Any]:
    """One row for the region: every additive column summed over the areas, ratios from those sums.

    The shortfall is the sum of the areas' shortfalls (not the region's demand less its places).
    """
    region: dict[str, Any] = {"adcode": "", "name": "", "areas": len(table)}
    for c in additive:
        region[c] = int(table[c].sum())
    b = balance(np.array([region["demand"]]), np.array([region["places"]]), np.array([region["fixed_places"]]),
                np.array([region["population"]]), share)
    region["coverage"] = float(b["coverage"][0])
    region["fixed_ratio"] = float(b["fixed_ratio"][0])
    region["fixed_ok"] = bool(b["fixed_ok"][0])
    region["fixed_ok_areas"] = int(table["fixed_ok"].sum())
    region["short_areas"] = int((table["shortfall"] > 0).sum())
    per10k, per_team = team_ratios([region["team_members"]], [region["teams"]], [region["hazard_points"]],
                                   [region["population"]])
    region["members_per_10k"], region["hazards_per_team"] = float(per10k[0]), float(per_team[0])
    return region


def _pct(x: float) -> float | str:
    return "—" if x is None or not math.isfinite(x) else round(100.0 * x, 1)


def _num(x: float, digits: int = 1) -> float | str:
    return "—" if x is None or not math.isfinite(x) else round(float(x), digits)


def summary_rows(region: dict[str, Any], params: dict[str, Any], assessed: list["Need"],
                 situation: "Situation | None" = None) -> list[tuple[str, str, Any]]:
    """``(label zh, label en, value)`` rows for the terminal, the web API and the report's headline.

    The first row names the situation whose capacity was counted (its code: overnight, daytime, post_impact).
    """
    share = f"{params['share'] * 100:g} %"
    pop_key = "pop_day" if params["period"] == "day" else "pop_night"
    rows: list[tuple[str, str, Any]] = []
    if situation is not None:
        rows.append((*pair("situation"), situation.code))
    rows += [
        (*pair("areas"), region["areas"]),
        (*pair(pop_key), region["population"]),
        (*pair("demand"), region["demand"]),
    ]
    if params["method"] == "hazard":
        rows.append((*pair("fatalities"), region["fatalities"]))
    rows += [
        (*pair("shelters"), region["shelters"]),
        (*pair("recorded_capacity"), region["recorded_capacity"]),
        (*pair("places"), region["places"]),
        (*pair("over_area"), region["over_area"]),
        (*pair("shortfall"), region["shortfall"]),
        (*pair("surplus"), region["surplus"]),
        (*pair("coverage"), _pct(region["coverage"])),
        (*pair("fixed_ratio"), _pct(region["fixed_ratio"])),
        (*pair("fixed_ok_areas", share=share), f"{region['fixed_ok_areas']} / {region['areas']}"),
        (*pair("occupancy"), region["occupancy"]),
        (*pair("full_near"), f"{region['n_full']} / {region['n_near_full']}"),
        (*pair("n_over"), region["n_over"]),
        (*pair("available"), region["available"]),
        (*pair("n_unknown"), region["n_unknown"]),
        (*pair("occupancy_unknown"), region["occupancy_unknown"]),
    ]
    for need in assessed:
        if need.consumable:
            rows.append((pair("days", need=need.title_zh)[0], pair("days", need=need.title_en.lower())[1],
                         _num(region[f"days_{need.key}"])))
        else:
            rows.append((pair("cover", need=need.title_zh)[0], pair("cover", need=need.title_en)[1],
                         _pct(region[f"cover_{need.key}"])))
    rows += [
        (*pair("teams"), region["teams"]),
        (*pair("members_per_10k"), _num(region["members_per_10k"])),
        (*pair("hazard_points"), region["hazard_points"]),
        (*pair("hazards_per_team"), _num(region["hazards_per_team"])),
    ]
    return rows
