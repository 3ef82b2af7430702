"""Benchmark: export, import with full validation, and diff of the city sample's 140,000 hazard points.

Each step runs side by side with its anchor, in this one process (GDAL's tools in a
subprocess, as always next to a registry), so the ratios hold on a shared, noisy machine; each
ratio is printed twice, of wall time and of CPU time (this process's and its children's), which
another user's work on the machine does not stretch:

* export of ``hazard_points`` (the registry read in one transaction, subset, new file with styles
  and aliases, metadata, checksums, checks: GDAL's validator and the registry's own) against
  ``ogr2ogr`` (Debian's GDAL) copying the layer into a new GeoPackage;
* import of that export into an empty registry (every feature checked against its
  definition, references checked, stamped, a history row each, one transaction) against
  ``ogr2ogr -append`` of the same layers into a copy of the same empty registry;
* diff of two registries with about 1 % of the hazard points changed against pygeodiff's
  ``create_changeset`` on the same pair and the same tables.

    python bench/exchange.py                          # makes the city sample in a temporary folder (~2.5 min)
    python bench/exchange.py --registry /tmp/ex/city.gpkg   # or uses one made by `rallypoint sample --size city`
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pygeodiff

from rallypoint import Registry
from rallypoint.exchange.apply import apply_import
from rallypoint.exchange.diff import diff_registries
from rallypoint.exchange.export import export_registry
from rallypoint.exchange.importer import plan_import

RESOURCES = ["shelters", "depots", "depot_stock", "teams", "hazard_points", "helipads"]


CPU = {}  # seconds of CPU (this process and its children) of each timed step, by the step's wall time


def _cpu() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed(fn):
    """Wall time and result of ``fn()``; its CPU time (ours, and a GDAL tool's in its subprocess) is kept in CPU:
    on a shared machine the wall time waits for the other users' work, the CPU time does not."""
    t, c = time.perf_counter(), _cpu()
    out = fn()
    wall = time.perf_counter() - t
    CPU[wall] = _cpu() - c
    return wall, out


def ogr2ogr(*args: str) -> None:
    subprocess.run(["ogr2ogr", *args], check=True, capture_output=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--registry", type=Path, help="a city sample registry (made if not given)")
    ap.add_argument("--changed", type=float, default=0.01, help="share of hazard points changed for the diff")
    args = ap.parse_args()
    version = subprocess.run(["ogr2ogr", "--version"], capture_output=True, text=True).stdout.strip()

    with tempfile.TemporaryDirectory(dir=args.registry.parent if args.registry else None) as d:
        d = Path(d)
        city = args.registry
        if city is None:
            from rallypoint.sample import write_sample

            city = d / "city.gpkg"
            print("writing the city sample …", flush=True)
            write_sample(city, "city")
        rows = []

        # 1. export
        out = d / "hazard-export.gpkg"
        t_ours, result = timed(lambda: export_registry(city, out, layers=["hazard_points"], author="bench"))
        t_gdal, _ = timed(lambda: ogr2ogr("-f", "GPKG", str(d / "plain-copy.gpkg"), str(city), "hazard_points"))
        n = result.counts["hazard_points"]
        rows.append(("export hazard_points (+ referenced shelters)", n, t_ours, t_gdal, "ogr2ogr copy"))

        # 2. import with full validation into an empty registry
        empty = d / "empty.gpkg"
        Registry.create(empty, name="bench", bureau="接收局").close()
        target, plain_target = d / "imported.gpkg", d / "plain-imported.gpkg"
        shutil.copyfile(empty, target)
        shutil.copyfile(empty, plain_target)

        def rallypoint_import():
            with Registry.open(target) as reg:
                plan = plan_import(reg, out)
                res = apply_import(reg, plan, author="bench")
            assert res.applied and not res.refused, res.counts
            return res

        t_gdal, _ = timed(lambda: ogr2ogr("-append", str(plain_target), str(out), "shelters", "hazard_points"))
        t_ours, res = timed(rallypoint_import)
        rows.append(("import, every feature checked, stamped, history", res.counts["insert"], t_ours, t_gdal,
                     "ogr2ogr -append"))

        # 3. diff of two registries, ~1 % of hazard points changed
        a, b = target, d / "edited.gpkg"
        shutil.copyfile(a, b)
        with Registry.open(b) as reg:
            uuids = list(reg.read_frame("hazard_points", columns=["uuid"])["uuid"])
            picked = random.Random(2938).sample(uuids, int(len(uuids) * args.changed))
            with reg.batch(author="bench") as batch:
                for i, uid in enumerate(picked):
                    batch.update("hazard_points", uid, {"threatened_people": 1000 + i, "status": "monitoring"})

        def geodiff():
            gd = pygeodiff.GeoDiff()
            gd.set_tables_to_include(RESOURCES)
            gd.create_changeset(str(a), str(b), str(d / "changes.diff"))
            return gd.changes_count(str(d / "changes.diff"))

        t_gd, _ = timed(geodiff)
        t_ours, diff = timed(lambda: diff_registries(a, b))
        assert diff.counts()["update"] == len(picked), diff.counts()
        rows.append((f"diff, {len(picked):,} hazard points changed", len(uuids), t_ours, t_gd,
                     "pygeodiff create_changeset"))
        t_ours2, diff2 = timed(lambda: diff_registries(a, b, engine="geodiff"))
        assert diff2.counts() == diff.counts()
        rows.append(("diff --engine geodiff (+ UUIDs, field detail)", len(uuids), t_ours2, t_gd,
                     "pygeodiff create_changeset"))

    print(f"\nAnchors: {version}; pygeodiff {pygeodiff.GeoDiff().version()}")
    print(f"{'step':50} {'features':>9} {'rallypoint':>11} {'anchor':>9}  ratio   {'CPU ours':>8} {'anchor':>7}  ratio"
          "  anchor")
    for label, count, ours, anchor, what in rows:
        co, ca = CPU[ours], CPU[anchor]
        print(f"{label:50} {count:>9,} {ours:>10.2f}s {anchor:>8.2f}s {ours / anchor:>6.2f}×  {co:>7.2f}s {ca:>6.2f}s "
              f"{co / ca:>5.2f}×  {what}")


if __name__ == "__main__":
    main()
