"""The coverage plugin's solvers on small random cases, against independent computations: the assignment
(min-cost flow) against two linear programs in HiGHS over the cells themselves, the siting against an
enumeration of every set of k sites."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.optimize import linprog

from rallypoint_plugins.coverage import assignment as asg_mod
from rallypoint_plugins.coverage import siting


def lp_reference(demand, cell_dpos, cell_snap_min, cand_shelter, cand_min, capacity, limit):
    """Most people placed, then fewest person-minutes, as two LPs with one variable per (cell, shelter)."""
    var_c, var_s, var_t = [], [], []
    for c in range(len(demand)):
        if cell_dpos[c] < 0 or demand[c] <= 0:
            continue
        for s, t in zip(cand_shelter[cell_dpos[c]], cand_min[cell_dpos[c]]):
            if s >= 0 and t + cell_snap_min[c] <= limit + 1e-9:
                var_c.append(c)
                var_s.append(s)
                var_t.append(t + cell_snap_min[c])
    nv, nc, ns = len(var_c), len(demand), len(capacity)
    if not nv:
        return 0.0, 0.0, np.zeros(ns)
    a = sp.csr_matrix((np.ones(2 * nv), (np.concatenate([var_c, nc + np.asarray(var_s)]),
                                          np.tile(np.arange(nv), 2))), shape=(nc + ns, nv))
    b = np.concatenate([demand, capacity])
    first = linprog(-np.ones(nv), A_ub=a, b_ub=b, bounds=(0, None), method="highs")
    placed = -first.fun
    a2 = sp.vstack([a, -np.ones((1, nv))])
    second = linprog(np.asarray(var_t), A_ub=a2, b_ub=np.concatenate([b, [-placed + 1e-7]]), bounds=(0, None),
                     method="highs")
    return placed, second.fun, np.bincount(var_s, second.x, ns)


@pytest.mark.parametrize("seed", range(6))
def test_assignment_equals_two_linear_programs(seed):
    rng = np.random.default_rng(seed)
    n_cells, n_nodes, n_shel = 60, 15, 7
    demand = rng.integers(0, 30, n_cells).astype(float)
    cell_dpos = np.where(rng.random(n_cells) < 0.9, rng.integers(0, n_nodes, n_cells), -1)
    # one walk to the node per node: a unit's people share their mean walk to the node, which equals each
    # cell's own only when they are alike (a unit that is partly placed does not pick its nearest cells)
    cell_snap_min = (rng.random(n_nodes) * 5)[cell_dpos]
    cell_area = rng.integers(0, 3, n_cells)
    width = 4
    cand_shelter = np.full((n_nodes, width), -1)
    cand_min = np.full((n_nodes, width), np.inf)
    for n in range(n_nodes):
        k = rng.integers(0, width + 1)
        cand_shelter[n, :k] = rng.choice(n_shel, k, replace=False)
        cand_min[n, :k] = np.sort(rng.random(k) * 40)
    capacity = rng.integers(0, 120, n_shel).astype(float)
    limit = 30.0
    got = asg_mod.assign(demand, cell_dpos, cell_snap_min, cell_area, cand_shelter, cand_min, capacity, limit)
    placed, minutes, per_shelter = lp_reference(demand, cell_dpos, cell_snap_min, cand_shelter, cand_min, capacity,
                                                limit)
    assert got.unit_assigned.sum() == pytest.approx(placed, abs=1e-6)
    # integer minutes in the solver: within 0.001 min per person of the optimum (and never below it)
    assert minutes - 1e-6 <= got.person_minutes <= minutes + 1e-3 * placed
    assert got.shelter_assigned.sum() == pytest.approx(placed, abs=1e-6)
    assert (got.shelter_assigned <= capacity + 1e-9).all()
    assert (got.unit_assigned <= got.unit_demand + 1e-9).all()
    # a share of the population: fractional people are placed to the thousandth
    frac = asg_mod.assign(demand * 0.37, cell_dpos, cell_snap_min, cell_area, cand_shelter, cand_min, capacity,
                          limit)
    placed_f, _, _ = lp_reference(demand * 0.37, cell_dpos, cell_snap_min, cand_shelter, cand_min, capacity, limit)
    assert frac.unit_assigned.sum() == pytest.approx(placed_f, abs=1e-3 * len(demand))


def random_cover(seed, n_sites=9, n_cells=40):
    rng = np.random.default_rng(seed)
    dense = rng.random((n_sites, n_cells)) < 0.2
    dense[:, :3] = dense[:1, :3]  # identical columns are merged by the reduction
    weights = rng.integers(0, 10, n_cells).astype(float)
    return sp.csr_matrix(dense.astype(float)), weights, dense


def brute_max_cover(dense, weights, k):
    best = 0.0
    for combo in itertools.combinations(range(dense.shape[0]), k):
        best = max(best, weights[dense[list(combo)].any(axis=0)].sum())
    return best


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("k", [1, 2, 3])
def test_max_cover_equals_enumeration_of_every_k_subset(seed, k):
    cover, weights, dense = random_cover(seed)
    best = brute_max_cover(dense, weights, k)
    chosen, how = siting.max_cover(cover, weights, k)
    assert len(chosen) <= k and how == "optimal"
    assert siting.covered(cover, weights, chosen) == pytest.approx(best)
    # the large-problem path: greedy with swaps, and a bound that never falls below the true optimum
    heur, bound = siting.greedy_swap(cover, weights, k)
    assert len(heur) <= k and bound >= best - 1e-9
    assert siting.covered(cover, weights, heur) <= best + 1e-9
    chosen, how = siting.max_cover(cover, weights, k, exact_max_pairs=0)
    assert siting.covered(cover, weights, chosen) == pytest.approx(siting.covered(cover, weights, heur))
    assert how == "optimal" or "below the optimum" in how


@pytest.mark.parametrize("seed", range(6))
def test_set_cover_equals_enumeration(seed):
    cover, weights, dense = random_cover(seed, n_sites=8, n_cells=25)
    need = (weights > 0) & dense.any(axis=0)
    fewest = next(r for r in range(dense.shape[0] + 1) for combo in itertools.combinations(range(dense.shape[0]), r)
                  if dense[list(combo)].any(axis=0)[need].all())
    for exact in (siting.EXACT_MAX_PAIRS, 0):
        chosen, how = siting.set_cover(cover, weights, exact_max_pairs=exact)
        assert dense[chosen].any(axis=0)[need].all()
        if exact:
            assert len(chosen) == fewest and how == "optimal"
        else:
            assert len(chosen) >= fewest


def test_reduction_keeps_every_coverage():
    cover, weights, dense = random_cover(3)
    sites, reduced, w = siting.reduce(cover, weights)
    assert w.sum() == pytest.approx(weights[(weights > 0) & dense.any(axis=0)].sum())
    for combo in itertools.combinations(range(len(sites)), 2):
        assert siting.covered(reduced, w, list(combo)) == pytest.approx(
            siting.covered(cover, weights, [int(sites[j]) for j in combo]))


def test_thinned_convex_hulls_equal_shapely_hulls():
    import shapely

    from rallypoint_plugins.coverage.results import convex_hulls

    rng = np.random.default_rng(5)
    group = np.sort(rng.integers(0, 30, 5000))
    group = np.searchsorted(np.unique(group), group)
    pts = rng.normal(size=(len(group), 2)) * (1 + group[:, None]) * 100 + group[:, None] * 1000
    pts[:3] = pts[0]  # repeated points
    got = convex_hulls(pts, group, group.max() + 1, shapely)
    want = shapely.convex_hull(shapely.multipoints(pts, indices=group))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.equals(w) and g.area == pytest.approx(w.area)


def test_candidates_sorted_like_a_lexsort():
    rng = np.random.default_rng(2)
    s = np.sort(rng.integers(0, 20, 500)).astype(np.int32)
    dpos = rng.integers(0, 30, 500).astype(np.int32)
    t = rng.integers(0, 5, 500).astype(float)  # many equal times: ties go to the lower source
    fast = asg_mod.candidates((s, dpos, t), 30, 4)
    shuffled = rng.permutation(500)  # not by source: the lexsort path
    slow = asg_mod.candidates((s[shuffled], dpos[shuffled], t[shuffled]), 30, 4)
    assert np.array_equal(fast[0], slow[0]) and np.array_equal(fast[1], slow[1])


@pytest.mark.parametrize("seed", range(8))
def test_lagrangian_bound_is_never_below_the_optimum(seed):
    cover, weights, dense = random_cover(seed, n_sites=10, n_cells=50)
    for k in (1, 2, 3):
        best = brute_max_cover(dense, weights, k)
        for lower in (0.0, best):
            assert siting.lagrangian_bound(cover, weights, k, lower) >= best - 1e-6


def test_road_end_nodes_are_numpys_unique_rows():
    from rallypoint_plugins.coverage import network as nw

    rng = np.random.default_rng(3)
    a = rng.integers(0, 30, (5000, 2)).astype(float) / 7.0  # many repeated points, repeated x with other y
    keys, inverse = nw._unique_rows(a)
    want_keys, want_inverse = np.unique(a, axis=0, return_inverse=True)
    assert np.array_equal(keys, want_keys) and np.array_equal(inverse, want_inverse.ravel())
    assert np.array_equal(keys[inverse], a)


@pytest.mark.parametrize("sorted_targets", [True, False])
def test_walking_searches_within_reach_equal_full_searches(sorted_targets):
    from scipy.sparse.csgraph import dijkstra
    from scipy.spatial import cKDTree

    from rallypoint_plugins.coverage import network as nw

    rng = np.random.default_rng(11)
    xy = rng.uniform(0, 3000, (1500, 2))
    a, b = np.array(sorted(cKDTree(xy).query_pairs(150.0))).T
    minutes = np.hypot(*(xy[a] - xy[b]).T) * rng.uniform(1.0, 1.5, len(a)) / 75.0  # roads never shorter
    g = sp.csr_matrix((np.concatenate([minutes, minutes]), (np.concatenate([a, b]), np.concatenate([b, a]))),
                      shape=(len(xy), len(xy)))
    net = nw.Network(xy=xy, graph=g, on_network=np.ones(len(xy), bool), mode="walk", speed_kmh=4.5)
    nodes = rng.choice(len(xy), 40, replace=False)
    offsets = rng.uniform(0, 2, 40)
    targets = rng.choice(len(xy), 600, replace=False)
    if sorted_targets:
        targets.sort()
    limit = 10.0  # 750 m of a 3 km square: most of the graph lies out of reach of each batch
    got = [np.concatenate(x) for x in zip(*nw.times_from_each(net, nodes, offsets, targets, limit))]
    full, extra = nw.with_sources(net, nodes, offsets)
    d = dijkstra(full, directed=True, indices=extra)[:, targets]
    s, t = np.nonzero(d <= limit)  # row-major: by source, then target position, as the searches yield them
    assert len(s) > 1000 and len(s) < d.size / 4
    assert np.array_equal(got[0], s) and np.array_equal(got[1], t) and np.array_equal(got[2], d[s, t])
