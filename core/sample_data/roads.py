"""The road network: local streets and tracks, named routes between towns, motorways and hill trails."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from scipy.sparse import coo_matrix, csgraph
from scipy.spatial import Delaunay, cKDTree

from .config import STORAGE_EPSG
from .names import _place_names
from .projection import _to_geo
from .world import _World

_SPEED = {"motorway": 100.0, "primary": 60.0, "secondary": 50.0, "tertiary": 40.0, "residential": 30.0,
          "track": 20.0, "path": np.nan}


def _roads(w: _World, rng: np.random.Generator) -> gpd.GeoDataFrame:
    cfg = w.cfg
    # Junctions: one chance per 100 m cell, near certain in the core, rare in the hills.
    p = (0.10 * (1.0 - w.cell_h) + 0.025 * w.cell_h + np.minimum(1.0, (w.pop / 150.0) ** 0.65)) * cfg.node_scale
    p = np.clip(p, 0.0, 0.95)
    take = np.flatnonzero(rng.random(len(p)) < p)
    nxy = w.cell_xy[take] + rng.uniform(-35.0, 35.0, (len(take), 2))
    node_p = p[take]
    node_h = w.cell_h[take]
    n = len(nxy)

    # Candidate streets: Delaunay edges; Gabriel edges are the plausible ones.
    tri = Delaunay(nxy)
    s = tri.simplices
    a = s.ravel()
    b = s[:, [1, 2, 0]].ravel()
    c = s[:, [2, 0, 1]].ravel()
    dot = np.einsum("ij,ij->i", nxy[a] - nxy[c], nxy[b] - nxy[c])
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    key = lo.astype(np.int64) * n + hi
    ukey, inv = np.unique(key, return_inverse=True)
    gabriel = np.bincount(inv, weights=(dot <= 0.0)) == 0
    eu, ev = ukey // n, ukey % n
    length = np.hypot(*(nxy[eu] - nxy[ev]).T)
    mid = 0.5 * (nxy[eu] + nxy[ev])
    usable = gabriel & (length < 3_000.0) & shapely.contains_xy(w.region, mid[:, 0], mid[:, 1])
    eu, ev, length = eu[usable], ev[usable], length[usable]
    ekey = eu * n + ev
    g = coo_matrix((length, (eu, ev)), shape=(n, n)).tocsr()
    mst = csgraph.minimum_spanning_tree(g).tocoo()
    mkey = np.minimum(mst.row, mst.col).astype(np.int64) * n + np.maximum(mst.row, mst.col)
    in_mst = np.isin(ekey, mkey)
    local_p = np.minimum(node_p[eu], node_p[ev])
    q = 0.28 + 0.45 * local_p
    keep = in_mst | (rng.random(len(ekey)) < q)
    eu, ev, length, ekey = eu[keep], ev[keep], length[keep], ekey[keep]
    ne = len(ekey)  # ekey is sorted (from np.unique), so edges are found with searchsorted
    graph = coo_matrix((length, (eu, ev)), shape=(n, n)).tocsr()

    cls = np.full(ne, "track", dtype=object)
    urban = local_p[keep] >= 0.3
    cls[urban] = "residential"
    # Footpaths: on loops and dead ends only, so that every junction can still be reached by car.
    hm = 0.5 * (node_h[eu] + node_h[ev])
    deg = np.bincount(np.concatenate([eu, ev]), minlength=n)
    spare = ~in_mst[keep] | (deg[eu] == 1) | (deg[ev] == 1)
    r = rng.random(ne)
    cls[spare & ~urban & (hm > 0.6) & (r < 0.8)] = "path"
    cls[spare & ~urban & (hm <= 0.6) & (r < 0.12)] = "path"
    names = np.full(ne, None, dtype=object)
    rank_of = {"path": 0, "track": 1, "residential": 1, "tertiary": 2, "secondary": 3, "primary": 4}
    rank = np.array([rank_of[k] for k in cls], np.int8)

    tree = cKDTree(nxy)

    def nearest_node(xy):
        return tree.query(np.atleast_2d(xy))[1]

    def edge_ids(u, v):
        k = np.minimum(u, v).astype(np.int64) * n + np.maximum(u, v)
        return np.searchsorted(ekey, k)

    def mark(eids, klass, route_names):
        better = rank[eids] < rank_of[klass]
        e = eids[better]
        cls[e] = klass
        rank[e] = rank_of[klass]
        names[e] = route_names[better]

    def trace(starts, pred, route_names):
        cur = np.asarray(starts, np.int64)
        rn = np.asarray(route_names, dtype=object)
        es, ns = [], []
        while len(cur):
            nxt = pred[cur]
            ok = nxt >= 0
            cur, nxt, rn = cur[ok], nxt[ok], rn[ok]
            if not len(cur):
                break
            es.append(edge_ids(cur, nxt))
            ns.append(rn)
            cur = nxt
        if es:
            return np.concatenate(es), np.concatenate(ns)
        return np.zeros(0, np.int64), np.zeros(0, dtype=object)

    def link_neighbours(sources, klass, name_of, skip_pair=None):
        """Shortest paths between sources whose graph-Voronoi regions touch."""
        src = np.unique(sources)
        dist, pred, owner = csgraph.dijkstra(graph, directed=False, indices=src, return_predecessors=True,
                                             min_only=True)
        su, sv = owner[eu], owner[ev]
        valid = (su >= 0) & (sv >= 0) & (su != sv)
        idx = np.flatnonzero(valid)
        cost = dist[eu[idx]] + length[idx] + dist[ev[idx]]
        pa, pb = np.minimum(su[idx], sv[idx]), np.maximum(su[idx], sv[idx])
        pkey = pa.astype(np.int64) * n + pb
        order = np.lexsort((cost, pkey))
        first = order[np.r_[True, pkey[order][1:] != pkey[order][:-1]]]
        chosen = idx[first]
        pa, pb = pa[first], pb[first]
        if skip_pair is not None:
            ok = ~skip_pair(pa, pb)
            chosen, pa, pb = chosen[ok], pa[ok], pb[ok]
        rnames = np.array([name_of(i, x, y) for i, (x, y) in enumerate(zip(pa.tolist(), pb.tolist()))],
                          dtype=object)
        mark(chosen, klass, rnames)
        e1, n1 = trace(eu[chosen], pred, rnames)
        e2, n2 = trace(ev[chosen], pred, rnames)
        mark(np.concatenate([e1, e2]), klass, np.concatenate([n1, n2]))
        return pred

    road_names = _place_names(rng, 600)
    town_nodes = nearest_node(w.town_xy)
    seat_nodes = town_nodes[w.county_seat]
    # Exits: roads leaving the region, spread around its boundary.
    ang = rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.arange(cfg.exits) / cfg.exits
    cen = np.array(w.region.centroid.coords[0])
    far = cen + 2e5 * np.column_stack([np.cos(ang), np.sin(ang)])
    bpts = [shapely.intersection(w.region.exterior, shapely.linestrings([cen, f])) for f in far]
    bxy = np.array([np.asarray(shapely.get_coordinates(bp))[0] for bp in bpts])
    exit_nodes = nearest_node(bxy)
    exits = set(exit_nodes.tolist())

    major = np.concatenate([seat_nodes, exit_nodes, town_nodes[:1]])
    link_neighbours(
        major, "primary",
        lambda i, x, y: f"S{101 + i}线" if cfg.core_districts == 0 or i % 3 else f"{road_names[i]}大道",
        skip_pair=lambda a_, b_: np.array([x in exits and y in exits for x, y in zip(a_.tolist(), b_.tolist())],
                                          bool),
    )
    town_pred = link_neighbours(
        np.concatenate([town_nodes, exit_nodes]), "secondary",
        lambda i, x, y: f"X{i + 1:03d}线" if i % 2 else f"{road_names[(i + 50) % len(road_names)]}路",
        skip_pair=lambda a_, b_: np.array([x in exits and y in exits for x, y in zip(a_.tolist(), b_.tolist())],
                                          bool),
    )
    vnodes = nearest_node(w.village_xy)
    vnames = np.array([f"Y{i + 1:03d}线" if i % 3 == 0 else None for i in range(len(vnodes))], dtype=object)
    e, nm = trace(vnodes, town_pred, vnames)
    mark(e, "tertiary", nm)

    oneway = np.zeros(ne, bool)
    core_streets = (cls == "residential") & (local_p[keep] >= 0.85)
    oneway[core_streets & (rng.random(ne) < 0.08)] = True

    # Motorways: separate carriageways over the local roads, joined at interchanges by ramps.
    m_u, m_v, m_xy, m_name = _motorways(w, rng, nxy, n, tree)
    # A few short hill trails that join nothing, as real networks have.
    t_u, t_v, t_xy = _trails(w, rng, nxy, eu, ev, tree, n + len(m_xy), 30 if cfg.core_districts else 3)
    all_xy = np.vstack([nxy, m_xy.reshape(-1, 2), t_xy.reshape(-1, 2)])
    lon, lat = _to_geo(all_xy[:, 0], all_xy[:, 1])
    ll = np.column_stack([lon, lat])
    U = np.concatenate([eu, m_u, t_u])
    V = np.concatenate([ev, m_v, t_v])
    nm, nt_ = len(m_u), len(t_u)
    klass = np.concatenate([cls, np.full(nm, "motorway", dtype=object), np.full(nt_, "path", dtype=object)])
    nm_all = np.concatenate([names, np.asarray(m_name, dtype=object), np.full(nt_, None, dtype=object)])
    # a one-way street runs the way its coordinates run; flip some so both directions occur
    flip = oneway & (rng.random(ne) < 0.5)
    U[:ne][flip], V[:ne][flip] = ev[flip], eu[flip]
    geoms = shapely.linestrings(np.stack([ll[U], ll[V]], axis=1))
    speed = np.array([_SPEED[k] for k in klass], float)
    urban_all = np.concatenate([urban, np.zeros(nm + nt_, bool)])
    speed[urban_all & (klass == "secondary")] = 40.0
    speed[urban_all & (klass == "tertiary")] = 30.0
    return gpd.GeoDataFrame(
        {
            "road_class": klass,
            "name": nm_all,
            "walk": klass != "motorway",
            "drive": klass != "path",
            "speed_kmh": speed,
            "oneway": np.concatenate([oneway, np.zeros(nm + nt_, bool)]),
        },
        geometry=geoms,
        crs=STORAGE_EPSG,
    )


def _trails(w: _World, rng, nxy, eu, ev, tree, first_id: int, count: int):
    """``count`` (or fewer) two-segment footpaths in the hills, clear of every other road."""
    hill = np.flatnonzero(w.cell_h > 0.6)
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 2)))
    if not len(hill) or not count:
        return empty
    start = w.cell_xy[rng.choice(hill, size=min(len(hill), 20 * count), replace=False)]
    start = start + rng.uniform(-30, 30, start.shape)
    dn, _ = tree.query(start)
    start = start[dn > 350.0]
    a1, a2 = rng.uniform(0, 2 * np.pi, (2, len(start)))
    l1, l2 = rng.uniform(80, 140, (2, len(start)))
    p1 = start + np.column_stack([np.cos(a1), np.sin(a1)]) * l1[:, None]
    p2 = p1 + np.column_stack([np.cos(a2), np.sin(a2)]) * l2[:, None]
    lines = shapely.linestrings(np.stack([start, p1, p2], axis=1))
    # drop trails that touch a road or another trail
    mid = 0.5 * (nxy[eu] + nxy[ev])
    hill_edges = np.flatnonzero(w.hilliness(mid[:, 0], mid[:, 1]) > 0.3)
    roads = shapely.linestrings(np.stack([nxy[eu[hill_edges]], nxy[ev[hill_edges]]], axis=1))
    hit = np.zeros(len(lines), bool)
    if len(roads):
        li, _ = shapely.STRtree(roads).query(shapely.buffer(lines, 30.0), predicate="intersects")
        hit[li] = True
    chosen: list[int] = []
    for i in np.flatnonzero(~hit).tolist():
        if len(chosen) == count:
            break
        if all(shapely.distance(lines[i], lines[j]) > 100.0 for j in chosen):
            chosen.append(i)
    if not chosen:
        return empty
    c = np.array(chosen)
    pts = np.stack([start[c], p1[c], p2[c]], axis=1).reshape(-1, 2)
    ids = first_id + np.arange(len(pts)).reshape(-1, 3)
    u = np.concatenate([ids[:, 0], ids[:, 1]])
    v = np.concatenate([ids[:, 1], ids[:, 2]])
    return u, v, pts


def _motorways(w: _World, rng, nxy, n, tree):
    """Motorway polylines (nodes every ~1.2 km) and ramps to the nearest local junction."""
    cfg = w.cfg
    routes: list[tuple[np.ndarray, str]] = []
    if cfg.core_districts:
        rad = 1.05 * cfg.core_radius_m
        th = np.linspace(0, 2 * np.pi, int(2 * np.pi * rad / 1_200.0), endpoint=False)
        rr = rad * (1 + 0.05 * np.sin(3 * th + rng.uniform(0, 6.3)))
        ring = w.core_xy + np.column_stack([rr * np.cos(th), rr * np.sin(th)])
        routes.append((np.vstack([ring, ring[:1]]), f"{cfg.name[:2]}绕城高速"))
        for k, t in enumerate(w.county_seat[cfg.core_districts:]):
            target = w.town_xy[t]
            d = target - w.core_xy
            dist = np.hypot(*d)
            if dist < rad * 1.3:
                continue
            start = ring[int(np.argmin(np.hypot(*(ring - (w.core_xy + d / dist * rad)).T)))]
            routes.append((_wavy(rng, start, target - d / dist * 1_500.0), f"{cfg.name[:2]}-{k + 1}高速"))
    else:
        ang = np.radians(35.0 + rng.uniform(-10, 10))
        t = np.array([np.sin(ang), np.cos(ang)])
        nrm = np.array([t[1], -t[0]])
        mid = w.core_xy + 2_500.0 * nrm
        routes.append((_wavy(rng, mid - 40_000.0 * t, mid + 40_000.0 * t), "G5901高速"))
    us, vs, names, xy = [], [], [], []
    nid = 0
    for pts, name in routes:
        inside = shapely.contains_xy(w.region, pts[:, 0], pts[:, 1])
        # runs of consecutive inside points
        breaks = np.flatnonzero(np.diff(inside.astype(int)) != 0) + 1
        for seg in np.split(np.arange(len(pts)), breaks):
            if not inside[seg[0]] or len(seg) < 2:
                continue
            p = pts[seg]
            ids = nid + np.arange(len(p))
            xy.append(p)
            us.append(ids[:-1]), vs.append(ids[1:]), names.extend([name] * (len(p) - 1))
            # interchanges: both ends and about every 5 km
            ramps = sorted(set([0, len(p) - 1] + list(range(2, len(p) - 1, 4))))
            _, local = tree.query(p[ramps])
            us.append(ids[ramps]), vs.append(-1 - local), names.extend([f"{name}匝道"] * len(ramps))
            nid += len(p)
    if not xy:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 2)), []
    # Points given twice (a radial starting on the ring, the ring's closing point) are one junction.
    pts, inv = np.unique(np.vstack(xy), axis=0, return_inverse=True)
    inv = inv.ravel()
    u, v = np.concatenate(us), np.concatenate(vs)
    u = n + inv[u]
    v = np.where(v < 0, -1 - v, n + inv[np.maximum(v, 0)])
    return u, v, pts, names


def _wavy(rng, a, b, step=1_200.0):
    d = b - a
    dist = np.hypot(*d)
    k = max(2, int(dist / step) + 1)
    s = np.linspace(0, 1, k)
    nrm = np.array([-d[1], d[0]]) / dist
    off = 0.04 * dist * np.sin(np.pi * s * rng.integers(1, 3)) * rng.choice([-1, 1])
    return a + s[:, None] * d + off[:, None] * nrm
