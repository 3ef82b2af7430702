"""Shelter standards as data: effective area per person by shelter type, and places a shelter offers.

A shelter offers ``places = min(recorded capacity, floor(effective_area_m2 / m² per person))``:
the capacity recorded for the situation (the day capacity unless another is given, see
:mod:`.situation`), unless its effective area cannot hold that many people under the chosen
standard, in which case the record is flagged ``over_area``. Where no area is recorded (or 0 m²
with a capacity, as older imports wrote for "not known") the area bounds nothing and
``area_places`` is unknown; where no capacity is recorded, ``places`` is unknown (``<NA>``) and
``capacity_unknown`` says so: an unknown capacity is never taken as zero.

>>> import pandas as pd
>>> from rallypoint.profiles import Profile
>>> std = Profile("shelter_standard", "t", "t", "t", data={"m2_per_person": {
...     "emergency": 0.5, "fixed_short": 2.0, "fixed_medium": 3.0, "fixed_long": 4.5, "central": 4.5}})
>>> f = pd.DataFrame({"shelter_type": ["fixed_short", "emergency", "fixed_short", "fixed_short"],
...                   "effective_area_m2": [1000.0, 100.0, None, 500.0], "capacity_day": [600, 150, 990, None],
...                   "status": ["open", "closed", "standby", "open"]})
>>> out = shelter_places(f, std)
>>> out[["area_places", "places", "over_area", "counted", "capacity_unknown"]].astype(object).values.tolist()
[[500, 500, True, True, False], [200, 0, False, False, False], [<NA>, 990, False, True, False], \
[250, <NA>, False, True, True]]
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Mapping

from rallypoint.analysis import AnalysisError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from rallypoint.profiles import Profile

#: Shelter types of the ``shelters`` layer (GB 51143-2015).
SHELTER_TYPES = ("emergency", "fixed_short", "fixed_medium", "fixed_long", "central")
#: Types that count as fixed shelters for the 15 % rule (a central shelter is a large fixed shelter).
FIXED_TYPES = ("fixed_short", "fixed_medium", "fixed_long", "central")
#: Shelter levels of the ``shelters`` layer (GB/T 44013-2024).
SHELTER_LEVELS = ("province", "city", "county", "township", "village")
#: Statuses whose places count; a closed shelter offers none.
COUNTED_STATUSES = ("open", "standby", "full")


def m2_per_person(profile: "Profile") -> dict[str, float]:
    """The standard's effective area per person for every shelter type, checked."""
    table: Mapping = profile.data.get("m2_per_person") or {}
    out: dict[str, float] = {}
    for t in SHELTER_TYPES:
        v = table.get(t)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
            raise AnalysisError(f"shelter standard {profile.name!r} gives no positive m² per person for "
                                f"shelter type {t!r} (data.m2_per_person.{t})")
        out[t] = float(v)
    return out


def shelter_places(shelters: "pd.DataFrame", profile: "Profile", capacity: "pd.Series | None" = None,
                   unknown_reason: "pd.Series | None" = None) -> "pd.DataFrame":
    """Add ``capacity``, ``m2_per_person``, ``area_places``, ``places``, ``over_area``, ``counted``,
    ``capacity_unknown`` and ``unknown_reason`` to a shelters frame.

    ``capacity`` is the recorded capacity that applies (default: ``capacity_day``; ``NaN`` when
    unknown, with ``unknown_reason``). ``area_places`` is what the effective area allows (whole
    people; ``<NA>`` without a recorded area), ``over_area`` marks a recorded capacity above it,
    ``counted`` the shelters whose status is open, standby or full, and ``places`` the places they
    offer (0 for closed ones, ``<NA>`` for a counted shelter of unknown capacity).
    """
    import numpy as np
    import pandas as pd

    std = m2_per_person(profile)
    out = shelters.copy()
    if capacity is None:
        capacity = pd.to_numeric(out["capacity_day"], errors="coerce").astype(float)
        unknown_reason = pd.Series(np.where(capacity.isna(), "no day capacity recorded", ""), index=out.index)
    cap = pd.Series(capacity, index=out.index).astype(float).to_numpy()
    per = out["shelter_type"].map(std).astype(float)
    area = pd.to_numeric(out["effective_area_m2"], errors="coerce").astype(float).to_numpy()
    area_known = np.isfinite(area) & (area > 0)
    # floor, forgiving the last bit of a float division (1000 / 2.0 is 500, not 499)
    with np.errstate(invalid="ignore", divide="ignore"):
        allowed = np.floor(area / per.to_numpy() + 1e-9)
    area_known &= np.isfinite(allowed)
    known = np.isfinite(cap)
    counted = out["status"].isin(COUNTED_STATUSES).to_numpy()
    bound = np.where(area_known & known, np.minimum(cap, np.where(area_known, allowed, 0)), cap)
    out["capacity"] = pd.array(np.where(known, np.round(cap), np.nan), dtype="Float64").astype("Int64")
    out["m2_per_person"] = per
    out["area_places"] = pd.array(np.where(area_known, allowed, np.nan), dtype="Float64").astype("Int64")
    out["over_area"] = area_known & known & (cap > np.where(area_known, allowed, np.inf))
    out["counted"] = counted
    places = np.where(counted, bound, 0.0)
    out["places"] = pd.array(np.where(np.isfinite(places), np.round(places), np.nan), dtype="Float64").astype("Int64")
    out["capacity_unknown"] = ~known & counted
    why = (pd.Series(unknown_reason, index=out.index).fillna("").astype(str).to_numpy() if unknown_reason is not None
           else np.full(len(out), "", dtype=object))
    out["unknown_reason"] = np.where(~known & counted, why, "")
    return out
