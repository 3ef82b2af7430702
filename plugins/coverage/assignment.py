"""Capacity-constrained assignment of people to shelters: a transportation problem solved as a min-cost flow.

People are grouped into *units*: the cells of one network node and one area that can reach the same shelters
(a cell reaches a prefix of its node's shelters ordered by time, because its own walk to the node is added to
every time). Each unit may use at most its ``k`` nearest shelters within the time limit. The answer is the
most people placed and, among the ways to place that many, the fewest person-minutes: a maximum flow of
minimum cost from the units through the shelters (arc capacity: the shelter's capacity) to one sink.

It is solved with OR-Tools' network simplex/cost-scaling solver (``SimpleMinCostFlow``,
``solve_max_flow_with_min_cost``), which exploits the network structure: on the city sample it takes seconds
where the same problem as two general linear programs in HiGHS took minutes. The solver works in integers:
people are counted in thousandths and minutes in thousandths (:data:`FLOW_SCALE`, :data:`COST_SCALE`), so a
placement is exact to 0.001 people and the person-minutes (reported with the unrounded times) are within
0.001 minutes per person of the optimum. People with a shelter in reach whose shelters are all full are the
*overflow*; people with none in reach are *unassigned*.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rallypoint.analysis import AnalysisError


@dataclass
class Assignment:
    unit_area: np.ndarray  # area position per unit (-1 outside every area)
    unit_dpos: np.ndarray  # demand node position per unit
    unit_demand: np.ndarray
    unit_assigned: np.ndarray
    flow_unit: np.ndarray  # (unit, shelter, people, minutes) of every flow > 0
    flow_shelter: np.ndarray
    flow_people: np.ndarray
    flow_minutes: np.ndarray
    cell_unit: np.ndarray  # unit per cell, -1 when no shelter in reach
    shelter_assigned: np.ndarray
    person_minutes: float

    @property
    def overflow(self) -> np.ndarray:
        return self.unit_demand - self.unit_assigned


def candidates(pairs, n_dnodes: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per demand node, its shelters by time (at most ``k``; 0 = all), as padded (nodes × k) arrays."""
    s, dpos, t = pairs
    if len(s) and (np.diff(s) >= 0).all():
        # the searches give pairs by source already: two stable sorts keep that order among equal times and are
        # several times faster than a three-key lexsort on millions of pairs (same order)
        by_t = np.argsort(t, kind="stable")
        order = by_t[np.argsort(dpos[by_t], kind="stable")]
    else:
        order = np.lexsort((s, t, dpos))
    s, dpos, t = s[order], dpos[order], t[order]
    start = np.searchsorted(dpos, np.arange(n_dnodes))
    rank = np.arange(len(dpos)) - start[dpos]
    width = int(rank.max()) + 1 if len(rank) else 1
    if k > 0:
        width = min(width, k)
    keep = rank < width
    shel = np.full((n_dnodes, width), -1, dtype=np.int64)
    mins = np.full((n_dnodes, width), np.inf)
    shel[dpos[keep], rank[keep]] = s[keep]
    mins[dpos[keep], rank[keep]] = t[keep]
    return shel, mins


def assign(demand: np.ndarray, cell_dpos: np.ndarray, cell_snap_min: np.ndarray, cell_area: np.ndarray,
           cand_shelter: np.ndarray, cand_min: np.ndarray, capacity: np.ndarray, limit: float) -> Assignment:
    """Place ``demand`` (people per cell) in shelters of ``capacity`` within ``limit`` minutes."""
    nc = len(demand)
    on = cell_dpos >= 0
    reach = np.zeros(nc, dtype=np.int64)
    if on.any():
        total = cand_min[cell_dpos[on]] + cell_snap_min[on, None]
        reach[on] = (total <= limit + 1e-9).sum(axis=1)
    use = (reach > 0) & (demand > 0)
    # units: (node, reach, area)
    key = np.column_stack([cell_dpos[use], reach[use], cell_area[use]]).astype(np.int64)
    if use.any():
        # one int64 per (node, reach, area), ordered as the rows would be: np.unique on rows is several times
        # slower on a million cells
        span = key.max(axis=0) - key.min(axis=0) + 1
        code = ((key[:, 0] - key[:, 0].min()) * span[1] + key[:, 1] - key[:, 1].min()) * span[2] \
            + key[:, 2] - key[:, 2].min()
        _, first, inv = np.unique(code, return_index=True, return_inverse=True)
        ukeys = key[first]
    else:
        ukeys, inv = np.zeros((0, 3), np.int64), np.zeros(0, np.int64)
    inv = inv.ravel()
    nu = len(ukeys)
    d_u = np.bincount(inv, demand[use], nu)
    snap_u = np.bincount(inv, demand[use] * cell_snap_min[use], nu) / np.where(d_u > 0, d_u, 1)
    cell_unit = np.full(nc, -1, dtype=np.int64)
    cell_unit[use] = inv
    # variables: unit u may use the first reach[u] candidates of its node
    m_u = ukeys[:, 1]
    var_u = np.repeat(np.arange(nu), m_u)
    col = np.arange(m_u.sum()) - np.repeat(np.cumsum(m_u) - m_u, m_u)
    var_s = cand_shelter[ukeys[var_u, 0], col]
    var_c = cand_min[ukeys[var_u, 0], col] + snap_u[var_u]
    nv, ns = len(var_u), len(capacity)
    x = solve_flow(var_u, var_s, var_c, d_u, capacity) if nv else np.zeros(0)
    unit_assigned = np.minimum(np.bincount(var_u, x, nu), d_u)
    flow = x > 1e-6
    return Assignment(unit_area=ukeys[:, 2], unit_dpos=ukeys[:, 0], unit_demand=d_u, unit_assigned=unit_assigned,
                      flow_unit=var_u[flow], flow_shelter=var_s[flow], flow_people=x[flow],
                      flow_minutes=var_c[flow], cell_unit=cell_unit,
                      shelter_assigned=np.bincount(var_s, x, ns), person_minutes=float(var_c @ x))


#: The solver's integer units: people in thousandths, minutes in thousandths.
FLOW_SCALE = 1000
COST_SCALE = 1000


def solve_flow(var_u: np.ndarray, var_s: np.ndarray, var_c: np.ndarray, demand: np.ndarray,
               capacity: np.ndarray) -> np.ndarray:
    """People on each arc (unit ``var_u`` → shelter ``var_s``, ``var_c`` minutes): most placed, then fewest minutes.

    ``demand`` per unit, ``capacity`` per shelter. Nodes: units, then shelters, then one sink.
    """
    from ortools.graph.python import min_cost_flow

    nu, ns = len(demand), len(capacity)
    sink = nu + ns
    d = np.rint(np.asarray(demand, dtype=float) * FLOW_SCALE).astype(np.int64)
    cap = np.floor(np.clip(np.asarray(capacity, dtype=float), 0, 1e11) * FLOW_SCALE + 1e-6).astype(np.int64)
    mcf = min_cost_flow.SimpleMinCostFlow()
    tails = np.concatenate([var_u, nu + np.arange(ns)]).astype(np.int32)
    heads = np.concatenate([nu + var_s, np.full(ns, sink)]).astype(np.int32)
    caps = np.concatenate([d[var_u], cap])
    costs = np.concatenate([np.rint(var_c * COST_SCALE), np.zeros(ns)]).astype(np.int64)
    mcf.add_arcs_with_capacity_and_unit_cost(tails, heads, caps, costs)
    supply = np.concatenate([d, np.zeros(ns, dtype=np.int64), [-int(d.sum())]])
    mcf.set_nodes_supplies(np.arange(sink + 1, dtype=np.int32), supply)
    status = mcf.solve_max_flow_with_min_cost()
    if status != mcf.OPTIMAL:
        raise AnalysisError(f"the assignment could not be solved (min-cost flow status {status!r}): "
                            "check that capacities and populations are finite numbers")
    return mcf.flows(np.arange(len(var_u), dtype=np.int32)).astype(float) / FLOW_SCALE


def by_area(asg: Assignment, demand: np.ndarray, cell_area: np.ndarray, n_areas: int) -> dict[str, np.ndarray]:
    """Demand, assigned, overflow and unassigned people per area (areas add up to the region)."""
    inside = cell_area >= 0
    dem = np.bincount(cell_area[inside], demand[inside], n_areas)
    no_reach = inside & (asg.cell_unit < 0)
    unassigned = np.bincount(cell_area[no_reach], demand[no_reach], n_areas)
    ua = asg.unit_area >= 0
    assigned = np.bincount(asg.unit_area[ua], asg.unit_assigned[ua], n_areas)
    overflow = np.bincount(asg.unit_area[ua], asg.overflow[ua], n_areas)
    return {"demand": dem, "assigned": assigned, "overflow": overflow, "unassigned": unassigned}
