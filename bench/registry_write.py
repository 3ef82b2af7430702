"""Benchmark: writing resources and base layers into a registry, against a plain GDAL write.

The anchor is pyogrio (GDAL) writing the same features to a new GeoPackage with no checks,
no stamps and no history; Rallypoint checks every feature, stamps it and writes a history
row in the same transaction. Both run in this one process, one after the other, so the
ratio holds on a shared, noisy machine.

    python bench/registry_write.py --size city      # the figures in the issue note
    python bench/registry_write.py --size county    # a quick run
    python bench/registry_write.py --postgis postgresql://me@127.0.0.1/bench   # into PostGIS

With ``--postgis URL`` (an existing database, which the run fills and overwrites) Rallypoint
writes into a PostGIS registry (the database's triggers stamp and record each feature), and
the anchor is GDAL's ``ogr2ogr`` loading the same features into a plain PostGIS table.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import pyogrio

from rallypoint import Registry
from rallypoint.sample_data import generate


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", choices=["county", "city"], default="county")
    ap.add_argument("--layer", default="hazard_points", help="resource layer to write (default hazard_points)")
    ap.add_argument("--postgis", metavar="URL", help="write into a PostGIS registry in this (existing) database")
    args = ap.parse_args()
    if args.postgis:
        postgis(args)
        return

    data = generate(args.size)
    items = data.features[args.layer]
    n = len(items)
    gdf = gpd.GeoDataFrame([p for p, _ in items], geometry=[g for _, g in items], crs=4490)
    pop = data.population

    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        empty = d / "empty.gpkg"
        with Registry.create(empty, name="bench", bureau="bench") as reg:  # what the layer refers to
            for layer in ("shelters", "depots"):
                if layer != args.layer:
                    reg.add_many(layer, data.features[layer], author="bench")

        def rallypoint_resources():
            path = d / "rp.gpkg"
            path.write_bytes(empty.read_bytes())
            with Registry.open(path) as reg:
                reg.add_many(args.layer, items, author="bench")

        def gdal_resources():
            pyogrio.write_dataframe(gdf, d / "plain.gpkg", layer=args.layer, driver="GPKG",
                                    dataset_options={"VERSION": "1.2"})

        def rallypoint_population():
            path = d / "rp_pop.gpkg"
            path.write_bytes(empty.read_bytes())
            with Registry.open(path) as reg:
                reg.load_reference("population", pop, author="bench")

        def gdal_population():
            pyogrio.write_dataframe(pop, d / "plain_pop.gpkg", layer="population", driver="GPKG",
                                    dataset_options={"VERSION": "1.2"})

        rows = []
        for label, ours, anchor, count in (
            (f"{args.layer} (checked, stamped, history)", rallypoint_resources, gdal_resources, n),
            ("population grid (bulk, checked)", rallypoint_population, gdal_population, len(pop)),
        ):
            a = timed(anchor)
            r = timed(ours)
            rows.append((label, count, r, a))

    print(f"size={args.size}")
    print(f"{'what':45} {'rows':>9} {'rallypoint s':>13} {'rows/s':>9} {'GDAL s':>8} {'rows/s':>9} {'ratio':>6}")
    for label, count, r, a in rows:
        print(f"{label:45} {count:9,} {r:13.2f} {count / r:9,.0f} {a:8.2f} {count / a:9,.0f} {r / a:6.1f}x")


def postgis(args) -> None:
    from psycopg.conninfo import conninfo_to_dict

    data = generate(args.size)
    items = data.features[args.layer]
    gdf = gpd.GeoDataFrame([p for p, _ in items], geometry=[g for _, g in items], crs=4490)
    pg = "PG:" + " ".join(f"{k}={v}" for k, v in conninfo_to_dict(args.postgis).items())

    def fresh() -> Registry:
        reg = Registry.create(args.postgis, name="bench", bureau="bench", overwrite=True)
        for layer in ("shelters", "depots"):  # what the layer refers to
            if layer != args.layer:
                reg.add_many(layer, data.features[layer], author="bench")
        return reg

    with tempfile.TemporaryDirectory() as d:
        plain = Path(d) / "plain.gpkg"
        pyogrio.write_dataframe(gdf, plain, layer=args.layer, driver="GPKG", dataset_options={"VERSION": "1.2"})

        def ogr(src: Path, layer: str) -> None:
            subprocess.run(["ogr2ogr", "-f", "PostgreSQL", pg, str(src), layer, "-nln", f"plain_{layer}",
                            "-overwrite", "-lco", "GEOMETRY_NAME=geom"], check=True)

        rows = []
        with fresh() as reg:
            r = timed(lambda: reg.add_many(args.layer, items, author="bench"))
        a = timed(lambda: ogr(plain, args.layer))
        rows.append((f"{args.layer} (checked, stamped, history)", len(items), r, a))
        pyogrio.write_dataframe(data.population, plain, layer="population", driver="GPKG")  # a second layer
        with fresh() as reg:
            r = timed(lambda: reg.load_reference("population", data.population, author="bench"))
        a = timed(lambda: ogr(plain, "population"))
        rows.append(("population grid (bulk, checked)", len(data.population), r, a))
    print(f"size={args.size} backend=PostGIS (anchor: ogr2ogr into a plain table)")
    print(f"{'what':45} {'rows':>9} {'rallypoint s':>13} {'rows/s':>9} {'GDAL s':>8} {'rows/s':>9} {'ratio':>6}")
    for label, count, r, a in rows:
        print(f"{label:45} {count:9,} {r:13.2f} {count / r:9,.0f} {a:8.2f} {count / a:9,.0f} {r / a:6.1f}x")


if __name__ == "__main__":
    main()
