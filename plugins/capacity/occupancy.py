"""Occupancy against capacity: full, near full, available, and the places still free.

Used by the capacity analysis on the registry's shelters and, unchanged, on any table of
shelters with a capacity and a head count (the Nanao snapshots).

>>> import pandas as pd
>>> f = pd.DataFrame({"capacity": [100, 100, 100, 100, None, 0, 0], "occupancy": [120, 95, 10, None, 5, 0, 3]})
>>> occupancy_state(f, near_full=0.9)[["state", "available", "over_capacity"]].astype(object).values.tolist()
[['full', 0, True], ['near_full', 5, False], ['available', 90, False], ['available', 100, False], \
['unknown', <NA>, False], ['no_places', 0, False], ['full', 0, True]]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

STATES = ("full", "near_full", "available", "no_places", "closed", "unknown")
STATE_TITLES = {
    "full": ("已满", "Full"), "near_full": ("接近满员", "Near full"), "available": ("有空位", "Available"),
    "no_places": ("此情景无位置", "No places in this situation"),
    "closed": ("关闭", "Closed"), "unknown": ("容量不明", "Capacity unknown"),
}


def occupancy_state(frame: "pd.DataFrame", *, capacity: str = "capacity", occupancy: str = "occupancy",
                    near_full: float = 0.9, closed: "pd.Series | None" = None) -> "pd.DataFrame":
    """State of every shelter: ``full`` (occupancy ≥ capacity), ``near_full`` (≥ near_full × capacity),
    ``available``; ``no_places`` for a capacity of 0 and nobody there (an open square at night: not full,
    it holds nobody in that situation); ``closed`` where ``closed`` is true, ``unknown`` where the
    capacity is missing.

    A missing head count is taken as nobody there. Returns the frame with ``state``,
    ``available`` (places still free, never negative; ``<NA>`` where the capacity is unknown, never 0)
    and ``over_capacity`` (more people than capacity) added.
    """
    import numpy as np
    import pandas as pd

    out = frame.copy()
    cap = pd.to_numeric(out[capacity], errors="coerce").astype(float).to_numpy()
    occ = pd.to_numeric(out[occupancy], errors="coerce").astype(float).fillna(0.0).to_numpy()
    known = ~np.isnan(cap)
    state = np.where(occ >= cap, "full", np.where(occ >= near_full * cap, "near_full", "available")).astype(object)
    state[known & (cap <= 0) & (occ <= 0)] = "no_places"
    state[~known] = "unknown"
    if closed is not None:
        state[np.asarray(closed, dtype=bool)] = "closed"
    free = np.where(known & (state != "closed"), np.maximum(np.nan_to_num(cap) - occ, 0.0), 0.0)
    free[~known & (state != "closed")] = np.nan
    out["state"] = state
    out["available"] = pd.array(free, dtype="Float64").round().astype("Int64")
    out["over_capacity"] = known & (occ > np.nan_to_num(cap)) & (state != "closed")
    return out
