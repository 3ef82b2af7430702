"""Benchmark: the whole coverage analysis on a city, and the straightforward alternatives on the same data.

One run prints:

* the whole analysis (walking times for three thresholds, capacity-constrained assignment, siting, team
  and helicopter times, result layers and the report written): total and per-step seconds, peak memory;
* straight-line coverage: a geopandas ``sjoin_nearest`` of the population cells to the eligible shelters
  against the analysis' KD-tree on the same points;
* shortest paths on one district (its roads, the eligible shelters in it): networkx
  ``single_source_dijkstra_path_length`` per shelter against the analysis' csgraph search, same times;
* maximal covering on a sub-problem (the district's demand nodes, shelters and grid sites, 10 minutes):
  spopt's MCLP (PuLP + CBC) against the analysis' solver, same covered population. spopt needs numpy 2
  and a newer scipy than the project's (numpy 1.x for Debian's GDAL and QGIS), so it runs in a throwaway
  virtual environment made on first use (``--spopt-venv``, ``--no-spopt`` to leave it out).

Issue target: the whole analysis under 30 s and under 4 GB peak memory on a 2-core machine.

    rallypoint sample city.gpkg --size city
    python bench/coverage.py city.gpkg
    python bench/coverage.py city.gpkg --district 519903 --no-spopt
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from rallypoint import Registry
from rallypoint.analysis import run_analysis, write_result
from rallypoint.plugins import get_plugin_manager

HAZARD, MINUTES = "flood", (10.0, 30.0, 60.0)
SPOPT_VENV = Path.home() / ".cache" / "rallypoint" / "bench-spopt"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def whole_analysis(path: Path, out: Path, client=None) -> tuple[float, list[tuple[str, float]], dict]:
    steps: list[tuple[str, float]] = []
    last = [time.perf_counter(), "start"]

    def progress(stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        steps.append((last[1], now - last[0]))
        last[:] = [now, stage]

    from contextlib import nullcontext

    from rallypoint_plugins.coverage.distributed import searches_on

    t = time.perf_counter()
    pm = get_plugin_manager()
    with Registry.open(path, plugins=pm) as reg, (searches_on(client) if client is not None else nullcontext()):
        result = run_analysis(reg, pm, "coverage", {"hazard": HAZARD, "minutes": ",".join(map(str, MINUTES))},
                              progress=progress)
    write_result(result, out / "coverage.gpkg", out / "coverage.html", "zh")
    total = time.perf_counter() - t
    steps.append((last[1] + " + write", time.perf_counter() - last[0]))
    return total, steps, result.tables["coverage_region"].iloc[0].to_dict()


def inputs(path: Path):
    """What the anchors need, computed with the plugin's own pieces: network, cells, eligible shelters."""
    from rallypoint_plugins.capacity import areas as areas_mod
    from rallypoint_plugins.coverage import network as nw
    from rallypoint_plugins.coverage.eligibility import COLUMNS, eligible_shelters, setbacks
    from rallypoint_plugins.coverage.plugin import builtin_profiles

    prof = next(p for p in builtin_profiles() if p.kind == "shelter_setbacks" and p.name == "gb50413")
    distances, statuses = setbacks(prof.data)
    with Registry.open(path) as reg:
        areas = areas_mod.read_areas(reg, "county")
        epsg = areas_mod.work_epsg(areas)
        roads = nw.read_roads(reg, epsg)
        cells = reg.read_frame("population", columns=["population"])
        hp = reg.read_frame("hazard_points", columns=["hazard_type", "status", "danger_grade", "threatened_people"])
        shelters = eligible_shelters(reg.read_frame("shelters", columns=COLUMNS), HAZARD, hp, distances, statuses,
                                     epsg)
    walk = nw.build(roads, epsg, "walk", 4.5)
    return areas, epsg, walk, cells, shelters[shelters["eligible"]].reset_index(drop=True)


def straight_line(epsg, cells, shelters) -> tuple[float, float, list[float], list[float]]:
    import geopandas as gpd

    from rallypoint_plugins.coverage import coverage as cov

    speed = 4.5 * 1000 / 60
    pop = cells["population"].astype(float).to_numpy()
    c = cells[["population", "geometry"]].to_crs(epsg)
    s = gpd.GeoDataFrame(geometry=gpd.points_from_xy(shelters["x"], shelters["y"]), crs=epsg)
    t = time.perf_counter()
    j = gpd.sjoin_nearest(c, s, how="left", max_distance=max(MINUTES) * speed, distance_col="d")
    j = j[~j.index.duplicated()]  # ties: one row per cell
    d = j["d"].fillna(np.inf).to_numpy()
    anchor = [float(pop[d / speed <= m].sum()) for m in MINUTES]
    t_anchor = time.perf_counter() - t
    xy = np.column_stack([c.geometry.x, c.geometry.y])
    t = time.perf_counter()
    mins, _ = cov.straight_times(xy, shelters[["x", "y"]].to_numpy(), 4.5)
    ours = [float(pop[mins <= m].sum()) for m in MINUTES]
    return t_anchor, time.perf_counter() - t, anchor, ours


def district_network(areas, epsg: int, district: str | None, walk, shelters):
    """The walking network inside one district (both ends of an edge inside) and its eligible shelters."""
    import shapely

    from rallypoint_plugins.coverage import network as nw

    row = areas.iloc[0] if district is None else areas[areas["adcode"] == district].iloc[0]
    poly = areas[areas["adcode"] == row["adcode"]].to_crs(epsg).geometry.iloc[0]
    inside = shapely.contains_xy(poly, walk.xy[:, 0], walk.xy[:, 1])
    keep = np.flatnonzero(inside)
    sub = walk.graph[keep][:, keep].tocsr()
    on = np.zeros(len(keep), dtype=bool)
    coo = sub.tocoo()
    on[coo.row] = True
    on[coo.col] = True
    net = nw.Network(xy=walk.xy[keep], graph=sub, on_network=on, mode="walk", speed_kmh=walk.speed_kmh)
    sin = shapely.contains_xy(poly, shelters["x"].to_numpy(), shelters["y"].to_numpy())
    s = shelters[sin].reset_index(drop=True)
    snap = nw.snap(net, s[["x", "y"]].to_numpy(), 500.0)
    s = s[snap.ok].reset_index(drop=True)
    speed = 4.5 * 1000 / 60
    return row, net, snap.node[snap.ok], snap.dist_m[snap.ok] / speed


def shortest_paths(net, nodes, offsets) -> tuple[float, float, int, float, int, int]:
    """networkx one search per shelter against one csgraph call per batch; same (shelter, node, minutes)."""
    import networkx as nx

    from rallypoint_plugins.coverage import network as nw

    tmax = max(MINUTES)
    coo = net.graph.tocoo()
    t = time.perf_counter()
    g = nx.DiGraph()
    g.add_weighted_edges_from(zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist()))
    anchor = {}
    for i, (n, off) in enumerate(zip(nodes.tolist(), offsets.tolist())):
        for node, d in nx.single_source_dijkstra_path_length(g, n, cutoff=tmax - off).items():
            anchor[i, node] = d + off
    t_anchor = time.perf_counter() - t
    everything = np.arange(net.n)
    t = time.perf_counter()
    parts = list(nw.times_from_each(net, nodes, offsets, everything, tmax))
    t_ours = time.perf_counter() - t
    s, tg, d = (np.concatenate(x) for x in zip(*parts))
    ours = dict(zip(zip(s.tolist(), tg.tolist()), d.tolist()))
    # nodes right at the limit may fall either side by rounding: compare the pairs both found
    common = anchor.keys() & ours.keys()
    diff = max((abs(anchor[k] - ours[k]) for k in common), default=0.0)
    return t_anchor, t_ours, len(common), diff, len(anchor), len(ours)


def mclp_subproblem(net, nodes, offsets, cells_xy, pop, out: Path, p: int = 5, minutes: float = 10.0):
    """Demand: people per network node of the district; facilities: shelters' nodes; cover within ``minutes``."""
    from rallypoint_plugins.coverage import network as nw

    snap = nw.snap(net, cells_xy, 500.0)
    dnodes, pos = np.unique(snap.node[snap.ok], return_inverse=True)
    weights = np.bincount(pos.ravel(), pop[snap.ok], len(dnodes))
    parts = list(nw.times_from_each(net, nodes, offsets, dnodes, minutes))
    s, t, d = (np.concatenate(x) for x in zip(*parts))
    cost = np.full((len(dnodes), len(nodes)), 10 * minutes)  # beyond reach: any time above the radius
    cost[t, s] = d
    np.savez(out, cost=cost, weights=weights, radius=minutes, p=p)
    return cost, weights


SPOPT_SCRIPT = r"""
import json, sys, time
import numpy as np, pulp
from spopt.locate import MCLP
z = np.load(sys.argv[1])
t = time.perf_counter()
m = MCLP.from_cost_matrix(z["cost"], z["weights"], service_radius=float(z["radius"]), p_facilities=int(z["p"]))
m = m.solve(pulp.PULP_CBC_CMD(msg=False))
chosen = [j for j, v in enumerate(m.fac_vars) if v.value() > 0.5]
covered = float(sum(z["weights"][i] for i in range(len(z["weights"])) if (z["cost"][i, chosen] <= float(z["radius"])).any()))
print(json.dumps({"seconds": time.perf_counter() - t, "covered": covered, "chosen": chosen}))
"""


def spopt_venv(path: Path) -> Path:
    py = path / "bin" / "python"
    if not py.exists():
        print(f"making a throwaway virtual environment for spopt at {path} (once)", flush=True)
        base = Path(sys.base_prefix) / "bin" / "python3"  # not this venv's interpreter: a venv of its own
        subprocess.run([str(base), "-m", "venv", str(path)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "spopt"], check=True)
    return py


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("registry", type=Path)
    ap.add_argument("--district", help="adcode of the county-level area of the sub-region (default: the first)")
    ap.add_argument("--spopt-venv", type=Path, default=SPOPT_VENV)
    ap.add_argument("--no-spopt", action="store_true")
    ap.add_argument("--dask", type=int, metavar="N", default=0,
                    help="also run the whole analysis with its searches on a LocalCluster of N worker processes")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as d:
        cpu0 = cpu_s()
        total, steps, region = whole_analysis(args.registry, Path(d))
        cpu, peak = cpu_s() - cpu0, peak_mb()
        print(f"whole coverage analysis ({HAZARD}, {', '.join(f'{m:g}' for m in MINUTES)} min, assignment, siting, "
              f"teams, layers + report written): {total:.1f} s wall, {cpu:.1f} s CPU (this process; its solvers "
              f"may use several threads), peak memory {peak:.0f} MB")
        for name, sec in steps[1:]:
            print(f"  {name:22s} {sec:6.1f} s")
        print(f"  (before the first step: {steps[0][1]:.1f} s)")
        print(f"  covered 10/30/60 min: {region['covered_10min']:,.0f} / {region['covered_30min']:,.0f} / "
              f"{region['covered_60min']:,.0f}; assigned {region['assigned']:,.0f}; new sites cover "
              f"{region['new_sites_cover']:,.0f} ({region['new_sites_how']})")

        if args.dask:
            from dask.distributed import Client, LocalCluster

            with LocalCluster(n_workers=args.dask, threads_per_worker=1, dashboard_address=None) as cluster, \
                    Client(cluster) as client:
                t_dask, _, region_dask = whole_analysis(args.registry, Path(d), client)
            same = all(region_dask[k] == v for k, v in region.items())
            print(f"the same on a Dask LocalCluster of {args.dask} worker processes: {t_dask:.1f} s "
                  f"(one process {total:.1f} s); every region figure identical: {same}")

        areas, epsg, walk, cells, shelters = inputs(args.registry)
        ta, to, anchor, ours = straight_line(epsg, cells, shelters)
        same = all(abs(a - b) < 1e-6 for a, b in zip(anchor, ours))
        print(f"straight-line coverage, {len(cells):,} cells to {len(shelters):,} shelters: geopandas sjoin_nearest "
              f"{ta:.2f} s, KD-tree {to:.2f} s, ratio {ta / to:.1f}x (same people: {same})")

        row, net, nodes, offsets = district_network(areas, epsg, args.district, walk, shelters)
        ta, to, n, diff, na, no = shortest_paths(net, nodes, offsets)
        print(f"shortest paths in {row['name']} ({row['adcode']}: {net.n:,} nodes, {len(nodes)} shelters, "
              f"{max(MINUTES):g} min): networkx per shelter {ta:.2f} s, csgraph {to:.2f} s, ratio {ta / to:.1f}x "
              f"({n:,} pairs both found, {na:,} / {no:,} in all, largest difference {diff:.2e} min)")

        if not args.no_spopt:
            import shapely

            from rallypoint_plugins.coverage import siting

            c = cells.to_crs(epsg)
            poly = areas[areas["adcode"] == row["adcode"]].to_crs(epsg).geometry.iloc[0]
            inside = shapely.contains_xy(poly, c.geometry.x.to_numpy(), c.geometry.y.to_numpy())
            xy = np.column_stack([c.geometry.x, c.geometry.y])[inside]
            pop = c["population"].astype(float).to_numpy()[inside]
            sub = Path(d) / "mclp.npz"
            cost, weights = mclp_subproblem(net, nodes, offsets, xy, pop, sub)
            import scipy.sparse as sp

            cover = sp.csr_matrix((cost <= 10.0).T.astype(float))
            t = time.perf_counter()
            chosen, how = siting.max_cover(cover, weights, 5)
            t_ours = time.perf_counter() - t
            got = siting.covered(cover, weights, chosen)
            py = spopt_venv(args.spopt_venv)
            script = Path(d) / "mclp.py"
            script.write_text(SPOPT_SCRIPT)
            res = subprocess.run([str(py), str(script), str(sub)], capture_output=True, text=True)
            if res.returncode:
                print("spopt failed:", res.stderr[-2000:])
            else:
                sp_ = json.loads(res.stdout.strip().splitlines()[-1])
                print(f"maximal covering, {cost.shape[0]:,} demand nodes x {cost.shape[1]} sites, 5 sites, 10 min: "
                      f"spopt MCLP (CBC) {sp_['seconds']:.2f} s covers {sp_['covered']:,.0f}; ours {t_ours:.2f} s "
                      f"covers {got:,.0f} ({how}); ratio {sp_['seconds'] / t_ours:.1f}x")
    print(f"peak memory of this process, anchors included: {peak_mb():.0f} MB")


if __name__ == "__main__":
    main()
