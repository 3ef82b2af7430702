"""Benchmark: the capacity analysis against its irreducible core, in one run.

The anchor reads the population grid and the township polygons and sums people per
township with one geopandas spatial join, the least any per-area demand figure needs;
the analysis does that plus supply, occupancy, stock, teams, result layers and the report.

    rallypoint sample /tmp/city.gpkg --size city
    python bench/capacity.py /tmp/city.gpkg
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import geopandas as gpd

from rallypoint import Registry
from rallypoint.analysis import run_analysis, write_result
from rallypoint.plugins import get_plugin_manager


def anchor(path: Path) -> float:
    t = time.perf_counter()
    with Registry.open(path) as reg:
        cells = reg.read_frame("population", columns=["population"])
        areas = reg.read_frame("admin_areas", columns=["adcode", "level"])
    areas = areas[areas["level"] == "township"]
    joined = gpd.sjoin(cells, areas, predicate="within")
    joined.groupby("adcode")["population"].sum()
    return time.perf_counter() - t


def analysis(path: Path, out: Path) -> float:
    t = time.perf_counter()
    pm = get_plugin_manager()
    with Registry.open(path, plugins=pm) as reg:
        result = run_analysis(reg, pm, "capacity", {})
    write_result(result, out / "capacity.gpkg", out / "capacity.html", "zh")
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("registry", type=Path)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        rows = [(anchor(args.registry), analysis(args.registry, Path(d))) for _ in range(args.runs)]
    a = min(r[0] for r in rows)
    c = min(r[1] for r in rows)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"anchor (read grid + areas, one sjoin): best {a:.2f} s of {args.runs}")
    print(f"capacity analysis + layers + report:   best {c:.2f} s of {args.runs}")
    print(f"ratio {c / a:.2f}x; peak memory of this process {peak:.0f} MB")


if __name__ == "__main__":
    main()
