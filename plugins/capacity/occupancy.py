"""Occupancy against capacity: full, near full, available, and the places still free.

Used by the capacity analysis on the registry's shelters and, unchanged, on any table of
shelters with a capacity and a head count (the Nanao snapshots).

>>> import pandas as pd
>>> f = pd.DataFrame({"capacity": [100, 100, 100, 100, None], "occupancy": [120, 95, 10, None, 5]})
>>> occupancy_state(f, near_full=0.9)[["state", "available", "over_capacity"]].values.tolist()
[['full', 0, True], ['near_full', 5, False], ['available', 90, False], ['available', 100, False], \
['unknown', 0, False]]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

STATES = ("full", "near_full", "available", "closed", "unknown")
STATE_TITLES = {
    "full": ("已满", "Full"), "near_full": ("接近满员", "Near full"), "available": ("有空位", "Available"),
    "closed": ("关闭", "Closed"), "unknown": ("容量不明", "Capacity unknown"),
}


def occupancy_state(frame: "pd.DataFrame", *, capacity: str = "capacity", occupancy: str = "occupancy",
                    near_full: float = 0.9, closed: "pd.Series | None" = None) -> "pd.DataFrame":
    """State of every shelter: ``full`` (occupancy ≥ capacity), ``near_full`` (≥ near_full × capacity),
    ``available``; ``closed`` where ``closed`` is true, ``unknown`` where the capacity is missing.

    A missing head count is taken as nobody there. Returns the frame with ``state``,
    ``available`` (places still free, never negative) and ``over_capacity`` (more people than
    capacity) added.
    """
    import numpy as np

    out = frame.copy()
    cap = out[capacity].astype(float).to_numpy()
    occ = out[occupancy].astype(float).fillna(0.0).to_numpy()
    known = ~np.isnan(cap)
    state = np.where(occ >= cap, "full", np.where(occ >= near_full * cap, "near_full", "available")).astype(object)
    state[~known] = "unknown"
    if closed is not None:
        state[np.asarray(closed, dtype=bool)] = "closed"
    free = np.where(known & (state != "closed"), np.maximum(np.nan_to_num(cap) - occ, 0.0), 0.0)
    out["state"] = state
    out["available"] = free.astype(np.int64)
    out["over_capacity"] = known & (occ > np.nan_to_num(cap)) & (state != "closed")
    return out
