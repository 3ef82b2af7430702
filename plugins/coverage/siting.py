"""Where new shelters would help most: maximal covering (k sites) and set covering (fewest sites for all).

Candidate sites are grid points (``spacing_m`` apart) over the populated area, snapped to the walking network
like any shelter. A site covers a cell when the cell reaches it within the time. Both problems are solved
exactly as integer programs (:func:`scipy.optimize.milp`, HiGHS) within a time limit, with the greedy answer
kept when the solver does not prove a better one in time.
"""

from __future__ import annotations

import numpy as np


def grid_sites(cell_xy: np.ndarray, weights: np.ndarray, spacing_m: float) -> np.ndarray:
    """Grid points ``spacing_m`` apart at the centres of the grid squares that hold people with weight > 0."""
    xy = cell_xy[weights > 0]
    if not len(xy):
        return np.zeros((0, 2))
    sq = np.unique(np.floor(xy / spacing_m).astype(np.int64), axis=0)
    return (sq + 0.5) * spacing_m


def greedy_max_cover(cover, weights: np.ndarray, k: int) -> list[int]:
    """Pick up to ``k`` sites, each time the one covering the most still-uncovered weight (``cover``: sites × cells).

    Lazy greedy (CELF): a site's gain can only shrink as others are chosen, so gains are kept in a heap and
    only the site on top is recomputed, instead of one pass over the whole matrix per pick.
    """
    import heapq

    w = weights.astype(float).copy()
    cover = cover.tocsr()
    gains = cover @ w
    heap = [(-float(g), j) for j, g in enumerate(gains) if g > 0]
    heapq.heapify(heap)
    chosen: list[int] = []
    while heap and len(chosen) < k:
        _, j = heapq.heappop(heap)
        start, end = cover.indptr[j], cover.indptr[j + 1]
        cells = cover.indices[start:end]
        gain = float(cover.data[start:end] @ w[cells])
        if gain <= 0:
            continue
        if heap and gain < -heap[0][0]:
            heapq.heappush(heap, (-gain, j))  # stale: someone else may now gain more
            continue
        chosen.append(j)
        w[cells] = 0
    return chosen


def max_cover(cover, weights: np.ndarray, k: int, time_limit: float = 10.0) -> tuple[list[int], str]:
    """Maximal covering: ``k`` sites covering the most weight; returns the sites and how it was solved."""
    import scipy.sparse as sp
    from scipy.optimize import Bounds, LinearConstraint, milp

    greedy = greedy_max_cover(cover, weights, k)
    ns, nc = cover.shape
    live = np.flatnonzero((weights > 0) & (np.asarray(cover.sum(axis=0)).ravel() > 0))
    if not ns or not len(live) or k <= 0:
        return greedy, "greedy"
    c = cover.tocsc()[:, live]
    # variables: x (sites, binary) then y (cells covered, 0..1); y_i - sum_j c_ji x_j <= 0; sum x = k
    a1 = sp.hstack([-c.T, sp.identity(len(live))])
    a2 = sp.hstack([sp.csr_matrix(np.ones((1, ns))), sp.csr_matrix((1, len(live)))])
    res = milp(np.concatenate([np.zeros(ns), -weights[live].astype(float)]),
               constraints=[LinearConstraint(a1, -np.inf, 0), LinearConstraint(a2, 0, min(k, ns))],
               integrality=np.concatenate([np.ones(ns), np.zeros(len(live))]),
               bounds=Bounds(0, 1), options={"time_limit": time_limit})
    if res.x is None:
        return greedy, "greedy"
    chosen = sorted(np.flatnonzero(res.x[:ns] > 0.5).tolist())
    got = _covered(cover, weights, chosen)
    if got + 1e-9 < _covered(cover, weights, greedy):
        return greedy, "greedy"
    return chosen, "optimal" if res.status == 0 else "best found in time"


def set_cover(cover, weights: np.ndarray, time_limit: float = 10.0) -> tuple[list[int], str]:
    """Set covering: the fewest sites that cover every cell with weight that any site can reach."""
    import scipy.sparse as sp
    from scipy.optimize import Bounds, LinearConstraint, milp

    ns, _ = cover.shape
    live = np.flatnonzero((weights > 0) & (np.asarray(cover.sum(axis=0)).ravel() > 0))
    greedy = greedy_max_cover(cover, (weights > 0).astype(float), ns)
    if not ns or not len(live):
        return [], "nothing to cover"
    a = cover.tocsc()[:, live].T.tocsr().astype(float)
    res = milp(np.ones(ns), constraints=[LinearConstraint(a, 1, np.inf)], integrality=np.ones(ns),
               bounds=Bounds(0, 1), options={"time_limit": time_limit})
    if res.x is None:
        return greedy, "greedy"
    chosen = sorted(np.flatnonzero(res.x > 0.5).tolist())
    if len(chosen) > len(greedy):
        return greedy, "greedy"
    return chosen, "optimal" if res.status == 0 else "best found in time"


def _covered(cover, weights: np.ndarray, sites: list[int]) -> float:
    if not sites:
        return 0.0
    hit = np.asarray(cover.tocsr()[sites].sum(axis=0)).ravel() > 0
    return float(weights[hit].sum())


def covered(cover, weights: np.ndarray, sites: list[int]) -> float:
    """The weight the ``sites`` cover together."""
    return _covered(cover, weights, sites)
