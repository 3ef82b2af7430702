"""Demand: the people of each area, by night or by day, and how many of them must be sheltered.

Two methods:

- ``share``: the planning rule, a share of the population (15 % for fixed shelters, GB 51143 /
  the planning practice in DOMAIN.md);
- ``hazard``: InaSAFE's way, ``displaced = (population − fatalities) × displacement rate`` with
  ``fatalities = population × fatality rate`` for the chosen hazard class of a displacement profile.

People are counted whole, rounded up per area (as InaSAFE rounds population figures up),
so the region's demand is the sum of its areas'.

>>> import pandas as pd
>>> demand(pd.Series([1000, 401]), method="share", share=0.15)["demand"].tolist()
[150, 61]
>>> demand(pd.Series([1000]), method="hazard", rates=(0.5, 0.02))[["fatalities", "demand"]].values.tolist()
[[20, 490]]
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from rallypoint.analysis import AnalysisError
from rallypoint_plugins.reporting.notes import add as note

from .areas import locate

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd
    import pandas as pd

    from rallypoint import Registry
    from rallypoint.profiles import Profile


def _ceil(x: np.ndarray) -> np.ndarray:
    """Round up to whole people, forgiving float noise (1000 × 0.15 is 150, not 151)."""
    return np.ceil(np.round(np.asarray(x, dtype=float), 6)).astype(np.int64)


def displacement_rates(profile: "Profile", hazard_class: str) -> tuple[float, float]:
    """``(displacement rate, fatality rate)`` of ``hazard_class`` in a displacement profile, checked."""
    classes = profile.data.get("classes") or {}
    entry = classes.get(hazard_class)
    if not isinstance(entry, dict):
        raise AnalysisError(f"displacement profile {profile.name!r} has no hazard class {hazard_class!r} "
                            f"(classes: {', '.join(classes) or 'none'})")
    rates = []
    for key in ("displacement_rate", "fatality_rate"):
        v = entry.get(key, 0.0)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not 0 <= v <= 1:
            raise AnalysisError(f"displacement profile {profile.name!r}, class {hazard_class!r}: {key} must be "
                                f"a number from 0 to 1, not {v!r}")
        rates.append(float(v))
    return rates[0], rates[1]


def population_by_area(reg: "Registry", areas: "gpd.GeoDataFrame", period: str,
                       warnings: list[str]) -> "pd.DataFrame":
    """Night, day and chosen-period population of every area, from the population grid by location.

    Cells outside every area are left out (with a warning). For ``period='day'`` a cell
    without a day figure counts its night figure (with a warning); a grid with no day figure
    at all is an error.
    """
    import pandas as pd

    cells = reg.read_frame("population", columns=["population", "population_day"])
    night = cells["population"].astype(float).fillna(0.0).to_numpy()
    day_raw = cells["population_day"].astype(float).to_numpy()
    no_day = np.isnan(day_raw)
    if period == "day":
        if no_day.all():
            raise AnalysisError("--period day needs the daytime population (population_day), and the population "
                                "layer records none; use --period night")
        if no_day.any():
            note(warnings, f"{int(no_day.sum()):,} population cells record no daytime population; "
                           f"their night-time figure is used",
                 f"{int(no_day.sum()):,} 个人口格网没有日间人口，按其夜间人口计")
    day = np.where(no_day, night, day_raw)
    where = locate(cells.geometry, areas)
    out_cells = where < 0
    if out_cells.any():
        note(warnings, f"{int(out_cells.sum()):,} population cells ({int(night[out_cells].sum()):,} people) lie "
                       f"outside every area and are not counted",
             f"{int(out_cells.sum()):,} 个人口格网（{int(night[out_cells].sum()):,} 人）不在任何分析区域内，未计入")
    n = len(areas)
    inside = ~out_cells
    pop_night = np.bincount(where[inside], weights=night[inside], minlength=n)
    pop_day = np.bincount(where[inside], weights=day[inside], minlength=n)
    frame = pd.DataFrame({"pop_night": np.round(pop_night).astype(np.int64),
                          "pop_day": np.round(pop_day).astype(np.int64)})
    frame["population"] = frame["pop_day"] if period == "day" else frame["pop_night"]
    frame["cells"] = np.bincount(where[inside], minlength=n).astype(np.int64)
    return frame


def demand(population: "pd.Series", *, method: str, share: float = 0.15,
           rates: tuple[float, float] = (1.0, 0.0)) -> "pd.DataFrame":
    """``fatalities`` and ``demand`` (people to shelter, also the displaced) for each area's population."""
    import pandas as pd

    pop = population.astype(float).to_numpy()
    if method == "share":
        fatalities = np.zeros(len(pop), dtype=np.int64)
        need = _ceil(pop * share)
    elif method == "hazard":
        displacement, fatality = rates
        fatalities = _ceil(pop * fatality)
        need = _ceil((pop - fatalities) * displacement)
    else:  # the parameter's choices keep this out; a caller from Python may not
        raise AnalysisError(f"unknown demand method {method!r} (share or hazard)")
    return pd.DataFrame({"fatalities": fatalities, "demand": need}, index=population.index)
