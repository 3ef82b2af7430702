"""The road network as a sparse graph, points snapped to it, and shortest travel times from many sources at once.

Nodes are the exact end coordinates of the road lines (as stored, EPSG:4490); an edge's length is the length
of its line in metres in a projected CRS (the Gauss–Krüger zone of the region). Walking uses ``walk`` roads in
both directions at one walking speed; driving uses ``drive`` roads at their ``speed_kmh``, one way where
``oneway`` is set. Times are in minutes. Shortest paths come from :func:`scipy.sparse.csgraph.dijkstra`, all
sources in one call.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from rallypoint.analysis import AnalysisError

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd
    import scipy.sparse as sp

#: Travel times are never exactly zero on an edge (csgraph would read an explicit zero as no edge).
MIN_EDGE_MIN = 1e-9


@dataclass
class Network:
    """Nodes (projected x, y) and a travel-time graph (CSR, minutes) over them."""

    xy: np.ndarray  # (n, 2) metres in the work CRS
    graph: "sp.csr_matrix"  # minutes, directed (walking: both directions present)
    on_network: np.ndarray  # bool (n,): the node touches at least one usable edge
    mode: str  # "walk" or "drive"
    speed_kmh: float | None  # walking speed (drive: None, speeds per edge)

    @property
    def n(self) -> int:
        return len(self.xy)


def read_roads(reg, epsg: int, bbox: tuple[float, float, float, float] | None = None) -> "gpd.GeoDataFrame":
    """The registry's roads (EPSG:4490; only those whose extent meets ``bbox``, in EPSG:4490, when given);
    a clear message when the registry has none."""
    if "roads" not in reg.layers or reg.count("roads") == 0:
        raise AnalysisError("the registry has no road network (layer 'roads' is empty): load one with "
                            "`rallypoint import` or Registry.load_reference('roads', …) before a coverage analysis")
    roads = reg.read_frame("roads", columns=["road_class", "walk", "drive", "speed_kmh", "oneway"], bbox=bbox)
    roads = roads[~roads.geometry.isna() & ~roads.geometry.is_empty]
    return roads


@dataclass
class RoadGeometry:
    """What both networks take from the road lines: end nodes per road, lengths (m) and node positions."""

    u: np.ndarray
    v: np.ndarray
    length: np.ndarray
    xy: np.ndarray


def road_geometry(roads: "gpd.GeoDataFrame", epsg: int) -> RoadGeometry:
    """End nodes, projected lengths and node positions of ``roads`` (in EPSG:4490), measured in EPSG ``epsg``.

    Computed once and shared by the walking and the driving network (projecting ~4·10^5 lines is the slow part).
    """
    import pyproj
    import shapely

    geoms = np.asarray(roads.geometry.values, dtype=object)
    multi = shapely.get_type_id(geoms) == 5  # a MultiLineString: its first part joins the network
    geoms = geoms.copy()
    geoms[multi] = shapely.get_geometry(geoms[multi], 0)
    m = len(geoms)
    # each line's first and last vertex from one array of all vertices (get_point makes a shapely Point per
    # road and end: 10x slower on a city)
    coords, owner = shapely.get_coordinates(geoms, return_index=True)
    at = np.arange(m)
    first = coords[np.searchsorted(owner, at)]
    last = coords[np.searchsorted(owner, at, side="right") - 1]
    ends = np.vstack([first, last])
    keys, node_of = _unique_rows(ends)
    projected = roads.geometry.to_crs(epsg)
    length = shapely.length(np.asarray(projected.values, dtype=object))
    tx = pyproj.Transformer.from_crs(4490, epsg, always_xy=True)
    px, py = tx.transform(keys[:, 0], keys[:, 1])
    return RoadGeometry(u=node_of[:m], v=node_of[m:], length=length, xy=np.column_stack([px, py]))


def _unique_rows(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(a, axis=0, return_inverse=True)`` for an (n, 2) float array, the same answer 4-5x faster.

    numpy's ``axis=0`` path sorts the rows as opaque structured records, which is slow for 10^6 points;
    a lexsort on the two columns gives the same order (by x, then y) and the same groups.
    """
    order = np.lexsort((a[:, 1], a[:, 0]))
    s = a[order]
    new = np.ones(len(s), dtype=bool)
    new[1:] = (s[1:] != s[:-1]).any(axis=1)
    inverse = np.empty(len(s), dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return s[new], inverse


def build(roads: "gpd.GeoDataFrame", epsg: int, mode: str, walk_kmh: float = 4.5,
          geometry: RoadGeometry | None = None) -> Network:
    """The walking or driving network of ``roads`` (in EPSG:4490), measured in EPSG ``epsg``."""
    import scipy.sparse as sp

    rg = geometry if geometry is not None else road_geometry(roads, epsg)
    u, v, length, xy = rg.u, rg.v, rg.length, rg.xy
    m = len(u)
    n = len(xy)

    if mode == "walk":
        use = roads["walk"].fillna(False).to_numpy(dtype=bool)
        minutes = length / (walk_kmh * 1000.0 / 60.0)
        both = np.ones(m, dtype=bool)
        speed = walk_kmh
    else:
        kmh = roads["speed_kmh"].to_numpy(dtype=float)
        use = roads["drive"].fillna(False).to_numpy(dtype=bool) & np.isfinite(kmh) & (kmh > 0)
        minutes = length / (np.where(use, kmh, 1.0) * 1000.0 / 60.0)
        both = ~roads["oneway"].fillna(False).to_numpy(dtype=bool)
        speed = None
    use &= u != v  # a closed loop leads nowhere
    minutes = np.maximum(minutes, MIN_EDGE_MIN)
    src = np.concatenate([u[use], v[use & both]])
    dst = np.concatenate([v[use], u[use & both]])
    w = np.concatenate([minutes[use], minutes[use & both]])
    # parallel roads between the same two nodes: keep the fastest (a sparse matrix would add them up)
    order = np.lexsort((w, dst, src))
    src, dst, w = src[order], dst[order], w[order]
    keep = np.ones(len(src), dtype=bool)
    keep[1:] = (src[1:] != src[:-1]) | (dst[1:] != dst[:-1])
    graph = sp.csr_matrix((w[keep], (src[keep], dst[keep])), shape=(n, n))
    on = np.zeros(n, dtype=bool)
    on[src] = True
    on[dst] = True
    return Network(xy=xy, graph=graph, on_network=on, mode=mode, speed_kmh=speed)


@dataclass
class Snap:
    """Points snapped to their nearest network node: the node, the distance and whether it is within reach."""

    node: np.ndarray  # int (k,), -1 where off the network
    dist_m: np.ndarray  # float (k,), metres to the nearest node (inf when the network has no node)
    ok: np.ndarray  # bool (k,)


def snap(net: Network, xy: np.ndarray, max_snap_m: float) -> Snap:
    """Snap points (projected x, y) to the nearest node of ``net`` that touches a usable edge."""
    from scipy.spatial import cKDTree

    usable = np.flatnonzero(net.on_network)
    k = len(xy)
    if not len(usable) or not k:
        return Snap(np.full(k, -1, dtype=np.int64), np.full(k, np.inf), np.zeros(k, dtype=bool))
    tree = cKDTree(net.xy[usable])
    d, i = tree.query(xy, k=1, workers=-1)  # every core: each point's answer is its own, the same
    ok = d <= max_snap_m
    node = np.where(ok, usable[i], -1)
    return Snap(node.astype(np.int64), d, ok)


def with_sources(net: Network, nodes: np.ndarray, offsets_min: np.ndarray) -> tuple["sp.csr_matrix", np.ndarray]:
    """The graph with one extra node per source, joined to its snapped node by its snapping time.

    Sources at the same node, or snapped from different distances, keep apart: a search from the extra nodes
    tells which source is nearest, with the time from the source's own location. Returns the graph and the
    indices of the extra nodes.
    """
    import scipy.sparse as sp

    n, s = net.n, len(nodes)
    extra = np.arange(n, n + s)
    g = net.graph.tocoo()
    # the walk from the source to its node: outgoing (source → node) and back (node → source) for searches
    # towards the sources on a directed graph
    rows = np.concatenate([g.row, extra, nodes])
    cols = np.concatenate([g.col, nodes, extra])
    data = np.concatenate([g.data, np.maximum(offsets_min, MIN_EDGE_MIN), np.maximum(offsets_min, MIN_EDGE_MIN)])
    return sp.csr_matrix((data, (rows, cols)), shape=(n + s, n + s)), extra


def nearest_source(net: Network, nodes: np.ndarray, offsets_min: np.ndarray, limit: float,
                   reverse: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """For every node, the time (minutes) from the nearest source within ``limit``, and which source (-1: none).

    One multi-source search (``min_only=True``). With ``reverse`` the times are towards the sources
    (for a directed graph: how long from each node to reach a source).
    """
    from scipy.sparse.csgraph import dijkstra

    if not len(nodes):
        return np.full(net.n, np.inf), np.full(net.n, -1, dtype=np.int64)
    g, extra = with_sources(net, nodes, offsets_min)
    if reverse:
        g = g.T.tocsr()
    dist, _, src = dijkstra(g, directed=True, indices=extra, limit=limit, min_only=True,
                            return_predecessors=True)
    which = np.where(src >= net.n, src - net.n, -1)
    dist = dist[:net.n]
    which = which[:net.n]
    which[~np.isfinite(dist)] = -1
    return dist, which.astype(np.int64)


def times_from_each(net: Network, nodes: np.ndarray, offsets_min: np.ndarray, targets: np.ndarray,
                    limit: float, batch: int = 16, reverse: bool = False):
    """Times from each source to the ``targets`` nodes within ``limit``, as sparse triples.

    Sources are searched in batches (each search stops at ``limit``), so memory stays at ``batch`` × nodes; small
    batches (16) are faster than large ones on a city: the distance rows are reused from the heap instead of
    fresh pages being mapped and zeroed for every batch.
    Yields ``(source, target position, minutes)`` arrays per batch.
    """
    from scipy.sparse.csgraph import dijkstra

    if not len(nodes) or not len(targets):
        return
    g, extra = with_sources(net, nodes, offsets_min)
    if reverse:
        g = g.T.tocsr()
    nt = len(targets)
    radius = _reach_m(net, limit)
    if radius is not None and len(np.unique(targets)) == nt:
        yield from _times_in_reach(net, g, nodes, extra, targets, limit, batch, radius)
        return
    for start in range(0, len(nodes), batch):
        idx = extra[start:start + batch]
        d = np.take(dijkstra(g, directed=True, indices=idx, limit=limit), targets, axis=1).ravel()
        flat = np.flatnonzero(d <= limit)  # beyond the limit the search leaves inf
        yield (flat // nt + start).astype(np.int32), (flat % nt).astype(np.int32), d[flat]


def _reach_m(net: Network, limit: float) -> float | None:
    """How far (metres, straight line) a walk of ``limit`` minutes can get from its start node; None when driving.

    A walking edge takes at least its line's length / walking speed, and a line is never shorter than the
    straight line between its end nodes, so nothing farther is reached in time (the margin covers rounding).
    Driving speeds differ per edge: no such bound is used there.
    """
    if net.mode != "walk" or not net.speed_kmh or not np.isfinite(limit):
        return None
    return limit * net.speed_kmh * 1000.0 / 60.0 * (1 + 1e-6) + 1.0


def _times_in_reach(net: Network, g, nodes, extra, targets, limit: float, batch: int, radius: float):
    """:func:`times_from_each`'s triples (same values, same order), each batch searched on the part of the graph
    within ``radius`` of its sources' nodes only.

    scipy's dijkstra sets up every node of the graph for every source (a quarter of a million on a city) while a
    walk of an hour reaches a few ten thousand; on the smaller graph the searches take about half the time. Every
    path within the limit stays inside the radius, so the times found are the same.
    """
    from scipy.sparse.csgraph import dijkstra
    from scipy.spatial import cKDTree

    tree = cKDTree(net.xy)
    tpos = np.full(net.n, -1, dtype=np.int64)
    tpos[targets] = np.arange(len(targets))
    for start in range(0, len(nodes), batch):
        idx = extra[start:start + batch]
        near = tree.query_ball_point(net.xy[nodes[start:start + batch]], radius)
        keep = np.unique(np.concatenate([np.asarray(x, dtype=np.int64) for x in near]))
        sub_nodes = np.concatenate([keep, idx])
        sub = g[sub_nodes][:, sub_nodes]
        d = dijkstra(sub, directed=True, indices=np.arange(len(keep), len(sub_nodes)), limit=limit)
        pos = tpos[keep]
        cols = np.flatnonzero(pos >= 0)
        cols = cols[np.argsort(pos[cols], kind="stable")]  # in target order, as the full search gives them
        tp = pos[cols]
        d = d[:, cols].ravel()
        flat = np.flatnonzero(d <= limit)
        yield (flat // len(cols) + start).astype(np.int32), tp[flat % len(cols)].astype(np.int32), d[flat]


#: Who runs the one-to-many searches of :func:`many_to_many`: None for this process, or a function with the
#: signature of :func:`times_from_each` (see :mod:`.distributed`, which spreads them over a Dask cluster).
SEARCH: contextvars.ContextVar = contextvars.ContextVar("rallypoint_coverage_search", default=None)


def many_to_many(net: Network, nodes: np.ndarray, offsets_min: np.ndarray, targets: np.ndarray, limit: float,
                 batch: int = 16, reverse: bool = False):
    """:func:`times_from_each`, or the searcher set in :data:`SEARCH` (the same triples, in the same order)."""
    search = SEARCH.get() or times_from_each
    return search(net, nodes, offsets_min, targets, limit, batch=batch, reverse=reverse)
