"""A grid of counts: exact ``numberMatched`` for a box over a large layer, whatever the backend.

Counting a box in a spatial index visits every entry in it. So for a layer of more than
:data:`MIN_ENTRIES` entries, a :data:`CELLS` × :data:`CELLS` grid counts the entries by the cell
holding their box's lower-left corner, as prefix sums. A box is then the sum of the cells wholly
inside it, plus an index count of the entries in the box whose corner lies outside those cells,
in four thin strips (each backend counts its strips: :mod:`.gpkg.counting` in the R-tree,
:mod:`.postgis.reader` with the GiST index). Cell edges are compared with exactly the values the
index holds, so every entry is counted once.
"""

from __future__ import annotations

import numpy as np

CELLS = 512
MIN_ENTRIES = 20_000


def edges(values: np.ndarray) -> np.ndarray:
    """:data:`CELLS` + 1 cell edges spanning ``values``, -inf and +inf at the ends."""
    lo, hi = float(values.min()), float(values.max())
    out = np.linspace(lo, hi, CELLS + 1) if hi > lo else np.full(CELLS + 1, lo)
    out[0], out[-1] = -np.inf, np.inf
    return out


def prefix_sums(counts: np.ndarray) -> np.ndarray:
    """``cum[i, j]`` = entries in cells ``[:i, :j]`` of a CELLS × CELLS array of counts."""
    cum = np.zeros((CELLS + 1, CELLS + 1), dtype=np.int64)
    cum[1:, 1:] = counts.cumsum(0).cumsum(1)
    return cum


def full_cells(cell_edges: np.ndarray, lo: float, hi: float) -> tuple[int, int]:
    """Cells [a, b) lying wholly within [lo, hi]."""
    return int(np.searchsorted(cell_edges, lo, "left")), int(np.searchsorted(cell_edges, hi, "right")) - 1


def inner_count(cum: np.ndarray, a: int, b: int, c: int, d: int) -> int:
    """The entries whose corner lies in cells [a, b) × [c, d)."""
    return int(cum[b, d] - cum[a, d] - cum[b, c] + cum[a, c])
