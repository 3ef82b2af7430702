"""Supply: the places of the shelters in each area, by level and type, their occupancy, and the balance.

Shelters are placed in areas by their location. Per area: ``places`` against ``demand`` gives
``shortfall = max(0, demand − places)`` and ``surplus = max(0, places − demand)``;
``coverage = places / demand``; ``fixed_ratio = fixed-shelter places / population`` and
``fixed_ok`` when fixed places reach ``share`` of the population (the 15 % rule).
The region's shortfall is the sum of the areas' shortfalls: a surplus in one township does
not shelter the people of another.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .demand import _ceil
from .standards import FIXED_TYPES, SHELTER_LEVELS

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

#: Additive columns of the area table that supply adds (their region total is their sum).
SUPPLY_SUMS = ("shelters", "shelters_closed", "recorded_capacity", "area_places", "places", "over_area",
               "fixed_places", "occupancy", "available", "n_full", "n_near_full", "n_available", "n_over",
               "n_unknown", "occupancy_unknown", "n_area_unknown",
               *(f"n_{lv}" for lv in SHELTER_LEVELS), *(f"places_{lv}" for lv in SHELTER_LEVELS))


def supply_by_area(shelters: "pd.DataFrame", n: int) -> "pd.DataFrame":
    """Sum a shelters frame (with ``area``, ``places``, ``state`` … as the analysis builds it) per area.

    Capacities, places and free places add up over the shelters whose capacity is known; those of
    unknown capacity are counted apart (``n_unknown``, and the people in them, ``occupancy_unknown``).
    """
    import pandas as pd

    s = shelters[shelters["area"] >= 0]
    area = s["area"].to_numpy()
    counted = s["counted"].to_numpy(dtype=bool)
    unknown = s["capacity_unknown"].to_numpy(dtype=bool)

    def total(values, mask=None) -> np.ndarray:
        m = counted if mask is None else mask
        w = np.nan_to_num(np.asarray(pd.Series(values).astype("Float64").fillna(0), dtype=float))
        return np.bincount(area[m], weights=w[m], minlength=n).round().astype(np.int64)

    ones = np.ones(len(s))
    out = {
        "shelters": total(ones),
        "shelters_closed": total(ones, ~counted),
        "recorded_capacity": total(s["capacity"]),
        "area_places": total(s["area_places"]),
        "places": total(s["places"]),
        "over_area": total(ones, s["over_area"].to_numpy(dtype=bool)),
        "fixed_places": total(s["places"], counted & s["shelter_type"].isin(FIXED_TYPES).to_numpy()),
        "occupancy": total(s["occupancy"]),
        "available": total(s["available"]),
        "n_over": total(ones, counted & s["over_capacity"].to_numpy(dtype=bool)),
        "n_unknown": total(ones, counted & unknown),
        "occupancy_unknown": total(s["occupancy"], counted & unknown),
        "n_area_unknown": total(ones, counted & s["area_places"].isna().to_numpy()),
    }
    state = s["state"].to_numpy()
    for st in ("full", "near_full", "available"):
        out[f"n_{st}"] = total(ones, counted & (state == st))
    level = s["level"].to_numpy()
    for lv in SHELTER_LEVELS:
        out[f"n_{lv}"] = total(ones, counted & (level == lv))
        out[f"places_{lv}"] = total(s["places"], counted & (level == lv))
    return pd.DataFrame(out)


def balance(demand: np.ndarray, places: np.ndarray, fixed_places: np.ndarray, population: np.ndarray,
            share: float) -> dict[str, np.ndarray]:
    """Shortfall, surplus, coverage, fixed-shelter ratio and the 15 % test for arrays of areas (or one region).

    >>> b = balance(np.array([150, 60]), np.array([100, 90]), np.array([100, 0]), np.array([1000, 400]), 0.15)
    >>> b["shortfall"].tolist(), b["surplus"].tolist(), b["fixed_ok"].tolist()
    ([50, 0], [0, 30], [False, False])
    """
    demand = np.asarray(demand, dtype=np.int64)
    places = np.asarray(places, dtype=np.int64)
    fixed = np.asarray(fixed_places, dtype=np.int64)
    pop = np.asarray(population, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        coverage = np.where(demand > 0, places / np.maximum(demand, 1), np.nan)
        fixed_ratio = np.where(pop > 0, fixed / np.maximum(pop, 1), np.nan)
    return {
        "shortfall": np.maximum(demand - places, 0),
        "surplus": np.maximum(places - demand, 0),
        "coverage": coverage,
        "fixed_ratio": fixed_ratio,
        "fixed_ok": fixed >= _ceil(pop * share),
    }
