"""Benchmark: the incident response sheet on a city against a naive geopandas + networkx approach, in one run.

The sheet (the analysis, its GeoPackage and its HTML card with the map) is timed for an incident area holding
about 100,000 people: the first run in the process (with matplotlib's first import), then re-runs as the area
changes (the radius grows by 100 m each time). The PDF print by headless Chromium is timed apart.

The anchor does less for the same area, the naive way: every population cell read as a shapely point and
joined to the area with geopandas (the people inside), the whole road network read into a networkx graph and one
multi-source Dijkstra from the area's road nodes within the walking limit (which shelters are in reach at all;
no capacities, no assignment, no teams, depots or card).

    rallypoint sample /tmp/city.gpkg --size city
    python bench/response.py /tmp/city.gpkg                     # 104.06,30.66 and 1,900 m: ~100,000 people
    python bench/response.py /tmp/city.gpkg --point 104.0,30.7 --radius 2500 --pdf
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from rallypoint import Registry
from rallypoint.analysis import run_analysis, write_result
from rallypoint.plugins import get_plugin_manager

WALK_MINUTES = 60.0
WALK_KMH = 4.5
# per sheet: analysis, HTML card, GeoPackage (wall-clock s), and the CPU time of the whole sheet: on a machine
# whose cores are shared with other work the wall clock grows, the CPU time much less
STAGES: list[tuple[float, float, float, float]] = []


def params(point: str, radius: float) -> dict:
    return {"point": point, "radius_m": radius, "incident": "flood", "walk_minutes": WALK_MINUTES,
            "walk_kmh": WALK_KMH}


def sheet(path: Path, out: Path, point: str, radius: float, pdf: bool) -> tuple[float, float, dict]:
    t, cpu = time.perf_counter(), time.process_time()
    pm = get_plugin_manager()
    with Registry.open(path, plugins=pm) as reg:
        result = run_analysis(reg, pm, "response", params(point, radius))
    analysed = time.perf_counter() - t
    write_result(result, None, out / "sheet_zh.html", "zh")
    carded = time.perf_counter() - t - analysed
    write_result(result, out / "sheet.gpkg")
    ready = time.perf_counter() - t
    STAGES.append((analysed, carded, ready - analysed - carded, time.process_time() - cpu))
    printed = float("nan")
    if pdf:
        from rallypoint_plugins.reporting.pdf import html_to_pdf

        t = time.perf_counter()
        html_to_pdf((out / "sheet_zh.html").read_text(encoding="utf-8"), out / "sheet_zh.pdf")
        printed = time.perf_counter() - t
    return ready, printed, result.tables["response_summary"].iloc[0].to_dict()


def anchor(path: Path, point: str, radius: float) -> tuple[float, float, int]:
    """People inside by a geopandas join of every cell, shelters in walking reach by networkx on every road."""
    import networkx as nx
    from scipy.spatial import cKDTree

    from rallypoint_plugins.capacity.areas import work_epsg

    t = time.perf_counter()
    x, y = (float(v) for v in point.split(","))
    centre = gpd.GeoSeries([shapely.Point(x, y)], crs=4490)
    epsg = work_epsg(centre)
    area = gpd.GeoDataFrame(geometry=centre.to_crs(epsg).buffer(radius, resolution=32), crs=epsg).to_crs(4490)
    with Registry.open(path) as reg:
        cells = reg.read_frame("population", columns=["population"])
        roads = reg.read_frame("roads", columns=["walk"])
        shelters = reg.read_frame("shelters", columns=["status"])
    inside = gpd.sjoin(cells, area, predicate="within")
    people = float(inside["population"].sum())
    roads = roads[roads["walk"].fillna(False).astype(bool)].to_crs(epsg)
    g = nx.Graph()
    speed = WALK_KMH * 1000 / 60
    for line in roads.geometry.values:
        c = np.asarray(line.coords) if line.geom_type == "LineString" else np.asarray(line.geoms[0].coords)
        g.add_edge(tuple(c[0]), tuple(c[-1]), weight=line.length / speed)
    nodes = np.array(list(g.nodes))
    tree = cKDTree(nodes)
    area_m = area.to_crs(epsg).geometry.iloc[0]
    sources = [tuple(n) for n in nodes[shapely.contains_xy(area_m, nodes[:, 0], nodes[:, 1])]]
    times = nx.multi_source_dijkstra_path_length(g, sources, cutoff=WALK_MINUTES, weight="weight")
    sxy = shelters.to_crs(epsg)
    _, near = tree.query(np.column_stack([sxy.geometry.x, sxy.geometry.y]))
    reached = sum(1 for i in near if tuple(nodes[i]) in times)
    return time.perf_counter() - t, people, reached


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("registry", type=Path)
    ap.add_argument("--point", default="104.06,30.66", help="incident point lon,lat (EPSG:4490)")
    ap.add_argument("--radius", type=float, default=1900.0, help="evacuation radius (m)")
    ap.add_argument("--runs", type=int, default=3, help="sheets in all: the first, then re-runs")
    ap.add_argument("--pdf", action="store_true", help="also time printing the card to PDF with Chromium")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        runs = []
        for i in range(args.runs):
            out = Path(d) / f"run{i}"
            out.mkdir()
            runs.append(sheet(args.registry, out, args.point, args.radius + 100 * i, args.pdf and i == 0))
    a, a_people, a_reached = anchor(args.registry, args.point, args.radius)
    first, printed, m = runs[0]
    again = min(r[0] for r in runs[1:]) if len(runs) > 1 else float("nan")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"incident: {args.point}, {args.radius:,.0f} m: {m['people']:,.0f} people inside "
          f"(anchor's join of cell centres: {a_people:,.0f}), {m['shelters_open']} shelters to open, "
          f"{m['placed']:,.0f} placed, {m['teams_sent']} teams sent, {m['depots_drawn']} depots drawn")
    print(f"sheet (analysis + GeoPackage + HTML card), first run:  {first:.2f} s")
    print(f"sheet re-run with a changed area, best of {len(runs) - 1}:       {again:.2f} s")
    for i, (an, card, gpkg, cpu) in enumerate(STAGES):
        print(f"  run {i + 1}: analysis {an:.2f} s, HTML card {card:.2f} s, GeoPackage {gpkg:.2f} s "
              f"(CPU time of the sheet {cpu:.2f} s)")
    print(f"load average while it ran: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if args.pdf:
        print(f"PDF print by headless Chromium:                     {printed:.2f} s")
    print(f"anchor (geopandas join of every cell + networkx walk from the area, {a_reached} shelters in reach): "
          f"{a:.2f} s")
    print(f"ratio sheet / anchor: first {first / a:.2f}x, re-run {again / a:.2f}x; peak memory {peak:.0f} MB")


if __name__ == "__main__":
    main()
