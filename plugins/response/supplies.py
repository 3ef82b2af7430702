"""What the displaced need for the chosen days, and which depots supply it, nearest by road first.

The needs and the stock come from the capacity plugin (:mod:`rallypoint_plugins.capacity.stock`: a minimum-needs
profile, in-service depots' stock converted into each need's unit). For ``days`` days a consumable need is
``displaced × amount per day × days``; a one-off need (tents, quilts, toilets) is ``displaced × amount``. Each
need is drawn from the depots in order of their driving time to the area until it is met; what is still missing
is the shortfall, named per need.

>>> from rallypoint_plugins.capacity.stock import Need
>>> rice = Need("rice", "大米", "Rice", 7.0, "kg", "weekly", ("food",), {"kg": 1.0})
>>> needed(rice, 10, 3)
30.0
>>> take = allocate(np.array([[20.0], [50.0]]), np.array([30.0]))
>>> take.tolist(), (30.0 - take.sum(axis=0)).tolist()
([[20.0], [10.0]], [0.0])
"""

from __future__ import annotations

import numpy as np

from rallypoint_plugins.capacity.stock import Need


def needed(need: Need, displaced: float, days: int) -> float:
    """How much of ``need`` ``displaced`` people need for ``days`` days (once for a one-off need)."""
    return float(displaced * (need.per_day * days if need.consumable else need.amount))


def allocate(stock: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Depot × need amounts drawn: depots in row order (nearest first), each need until ``want`` is met."""
    before = np.cumsum(stock, axis=0) - stock  # what the nearer depots hold
    return np.clip(np.minimum(stock, want[None, :] - before), 0.0, None)
