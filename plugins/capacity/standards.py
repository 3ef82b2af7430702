"""Shelter standards as data: effective area per person by shelter type, and places a shelter offers.

A shelter offers ``places = min(recorded capacity_day, floor(effective_area_m2 / m² per person))``:
the recorded capacity, unless its effective area cannot hold that many people under the chosen
standard, in which case the record is flagged ``over_area``.

>>> import pandas as pd
>>> from rallypoint.profiles import Profile
>>> std = Profile("shelter_standard", "t", "t", "t", data={"m2_per_person": {
...     "emergency": 0.5, "fixed_short": 2.0, "fixed_medium": 3.0, "fixed_long": 4.5, "central": 4.5}})
>>> f = pd.DataFrame({"shelter_type": ["fixed_short", "emergency"], "effective_area_m2": [1000.0, 100.0],
...                   "capacity_day": [600, 150], "status": ["open", "closed"]})
>>> shelter_places(f, std)[["area_places", "places", "over_area", "counted"]].values.tolist()
[[500, 500, True, True], [200, 0, False, False]]
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


def shelter_places(shelters: "pd.DataFrame", profile: "Profile") -> "pd.DataFrame":
    """Add ``m2_per_person``, ``area_places``, ``places``, ``over_area`` and ``counted`` to a shelters frame.

    ``area_places`` is what the effective area allows (whole people), ``over_area`` marks a
    recorded capacity above it, ``counted`` the shelters whose status is open, standby or
    full, and ``places`` the places they offer (0 for closed ones).
    """
    import numpy as np

    std = m2_per_person(profile)
    out = shelters.copy()
    per = out["shelter_type"].map(std).astype(float)
    area = out["effective_area_m2"].astype(float).fillna(0.0)
    # floor, forgiving the last bit of a float division (1000 / 2.0 is 500, not 499)
    allowed = np.floor(area.to_numpy() / per.to_numpy() + 1e-9)
    allowed = np.where(np.isfinite(allowed), allowed, 0).astype(np.int64)
    recorded = out["capacity_day"].astype(float).fillna(0.0).to_numpy().astype(np.int64)
    out["m2_per_person"] = per
    out["area_places"] = allowed
    out["over_area"] = recorded > allowed
    out["counted"] = out["status"].isin(COUNTED_STATUSES).to_numpy()
    out["places"] = np.where(out["counted"], np.minimum(recorded, allowed), 0).astype(np.int64)
    return out
