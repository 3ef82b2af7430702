"""Who reaches a safe shelter within each time: by road (one multi-source search) and as the crow flies.

A cell's time to a shelter is the walk from the cell to its nearest network node (straight, at walking speed),
then along the network, then from the shelter's node to the shelter. A cell farther than ``max_snap_m`` from
the network is off the network; a cell whose part of the network holds no eligible shelter is unreachable:
both are counted as not covered at every threshold and reported apart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from . import network as nw

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def cell_times(net: nw.Network, cells_snap: nw.Snap, shelter_nodes: np.ndarray, shelter_snap_min: np.ndarray,
               limit: float) -> tuple[np.ndarray, np.ndarray]:
    """Each cell's time (minutes, inf beyond ``limit`` or unreachable) to its nearest shelter, and which one."""
    speed = net.speed_kmh * 1000.0 / 60.0
    dist, which = nw.nearest_source(net, shelter_nodes, shelter_snap_min, limit=limit)
    t = np.full(len(cells_snap.node), np.inf)
    w = np.full(len(cells_snap.node), -1, dtype=np.int64)
    ok = cells_snap.ok
    t[ok] = dist[cells_snap.node[ok]] + cells_snap.dist_m[ok] / speed
    w[ok] = which[cells_snap.node[ok]]
    beyond = t > limit
    t[beyond], w[beyond] = np.inf, -1
    return t, w


def unreachable_cells(net: nw.Network, cells_snap: nw.Snap, shelter_nodes: np.ndarray) -> np.ndarray:
    """Cells on the network whose connected part of it holds no shelter at all (at any time)."""
    from scipy.sparse.csgraph import connected_components

    _, comp = connected_components(net.graph, directed=True, connection="weak")
    has = np.zeros(comp.max() + 1 if len(comp) else 0, dtype=bool)
    has[comp[shelter_nodes]] = True
    out = np.zeros(len(cells_snap.node), dtype=bool)
    ok = cells_snap.ok
    out[ok] = ~has[comp[cells_snap.node[ok]]]
    return out


def straight_times(cell_xy: np.ndarray, shelter_xy: np.ndarray, walk_kmh: float) -> tuple[np.ndarray, np.ndarray]:
    """Each cell's time to the nearest shelter as the crow flies (KD-tree), and which shelter."""
    from scipy.spatial import cKDTree

    if not len(shelter_xy):
        return np.full(len(cell_xy), np.inf), np.full(len(cell_xy), -1, dtype=np.int64)
    d, i = cKDTree(shelter_xy).query(cell_xy, k=1, workers=-1)
    return d / (walk_kmh * 1000.0 / 60.0), i.astype(np.int64)


def by_area(pop: np.ndarray, area: np.ndarray, n_areas: int, times: np.ndarray, straight: np.ndarray,
            thresholds: tuple[float, ...], off_network: np.ndarray, unreachable: np.ndarray) -> "pd.DataFrame":
    """Population covered per area and threshold, by road and in a straight line; the region is their sum."""
    import pandas as pd

    inside = area >= 0
    a = area[inside]
    p = pop[inside].astype(float)
    cols = {"population": np.bincount(a, p, n_areas),
            "off_network": np.bincount(a, p * off_network[inside], n_areas),
            "unreachable": np.bincount(a, p * unreachable[inside], n_areas)}
    for t in thresholds:
        k = _label(t)
        cols[f"covered_{k}"] = np.bincount(a, p * (times[inside] <= t), n_areas)
        cols[f"share_{k}"] = np.divide(cols[f"covered_{k}"], cols["population"],
                                       out=np.full(n_areas, np.nan), where=cols["population"] > 0)
        cols[f"uncovered_{k}"] = cols["population"] - cols[f"covered_{k}"]
        cols[f"straight_{k}"] = np.bincount(a, p * (straight[inside] <= t), n_areas)
    return pd.DataFrame(cols)


def _label(t: float) -> str:
    """``10`` for 10.0 minutes, ``7_5`` for 7.5 (a column-name suffix)."""
    return f"{t:g}".replace(".", "_") + "min"


def label(t: float) -> str:
    return _label(t)


def service_areas(net: nw.Network, cells_snap: nw.Snap, pop: np.ndarray, shelter_nodes: np.ndarray,
                  shelter_snap_min: np.ndarray, thresholds: tuple[float, ...], limit: float, batch: int = 16):
    """Per shelter and threshold, the cells and people within reach; and every (shelter, node, minutes) pair.

    Returns ``(people, cells, pairs, dnodes, cell_dpos)``: ``people`` and ``cells`` are (shelters × thresholds) arrays;
    ``pairs`` are ``(shelter, demand node position, minutes)`` arrays over the demand nodes (the nodes that
    carry cells), for the assignment; ``dnodes``, the demand nodes; ``cell_dpos``, each cell's demand node
    position (-1 off the network).
    """
    speed = net.speed_kmh * 1000.0 / 60.0
    ok = np.flatnonzero(cells_snap.ok)
    dnodes, cell_dpos = np.unique(cells_snap.node[ok], return_inverse=True)
    order = np.argsort(cell_dpos, kind="stable")
    cells_sorted = ok[order]
    starts = np.searchsorted(cell_dpos[order], np.arange(len(dnodes) + 1))
    counts = np.diff(starts)
    snap_min = cells_snap.dist_m[cells_sorted] / speed
    pop_sorted = pop[cells_sorted].astype(float)
    ns, nt = len(shelter_nodes), len(thresholds)
    people = np.zeros((ns, nt))
    ncells = np.zeros((ns, nt), dtype=np.int64)
    parts = []
    for s, t, d in nw.many_to_many(net, shelter_nodes, shelter_snap_min, dnodes, limit, batch=batch):
        parts.append((s, t, d))
        # expand (shelter, node) pairs to the node's cells
        rep = counts[t]
        first = np.repeat(starts[t], rep)
        within = np.arange(rep.sum()) - np.repeat(np.cumsum(rep) - rep, rep)
        c = first + within
        ss = np.repeat(s, rep)
        tt = np.repeat(d, rep) + snap_min[c]
        for j, th in enumerate(thresholds):
            m = tt <= th
            people[:, j] += np.bincount(ss[m], pop_sorted[c[m]], ns)
            ncells[:, j] += np.bincount(ss[m], minlength=ns)
    if parts:
        pairs = tuple(np.concatenate(x) for x in zip(*parts))
    else:
        pairs = (np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0))
    cell_dpos_all = np.full(len(pop), -1, dtype=np.int64)
    cell_dpos_all[ok] = cell_dpos
    return people, ncells, pairs, dnodes, cell_dpos_all


def expand(pairs, cell_dpos: np.ndarray, cell_snap_min: np.ndarray, limit: float) -> tuple[np.ndarray, np.ndarray]:
    """(source, cell) for every node-level pair ``(source, node position, minutes)`` and every cell of that node
    whose own walk to the node keeps the total within ``limit``."""
    s, t, d = pairs
    ok = np.flatnonzero(cell_dpos >= 0)
    order = ok[np.argsort(cell_dpos[ok], kind="stable")]
    n = int(cell_dpos.max()) + 1 if len(ok) else 0
    starts = np.searchsorted(cell_dpos[order], np.arange(n + 1))
    counts = np.diff(starts)
    rep = counts[t] if len(t) else np.zeros(0, dtype=np.int64)
    first = np.repeat(starts[t], rep)
    within = np.arange(rep.sum()) - np.repeat(np.cumsum(rep) - rep, rep)
    c = order[first + within]
    ss = np.repeat(s, rep)
    keep = np.repeat(d, rep) + cell_snap_min[c] <= limit
    return ss[keep], c[keep]
