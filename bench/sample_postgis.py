"""Benchmark: ``rallypoint sample`` into PostGIS (one transaction, resources checked then COPYed) against
writing the same sample through the registry's batches (``add_many``, one INSERT per feature in pipeline mode),
and against the GeoPackage sample.

All three run in this one process, one after the other, on the same generated data, so the
ratios hold on a shared, noisy machine. The database given is overwritten (twice).

    python bench/sample_postgis.py --url postgresql://me@127.0.0.1/bench               # county
    python bench/sample_postgis.py --url postgresql://me@127.0.0.1/bench --size city   # the large one
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from rallypoint import Registry
from rallypoint.sample.postgis import write_sample_postgis
from rallypoint.sample import RESOURCE_ORDER, SAMPLE_AUTHOR, SAMPLE_TIME, write_sample
from rallypoint.sample_data import generate


def by_batches(url: str, data) -> None:
    """The anchor: what `rallypoint sample URL` would do through the ordinary write path."""
    region = data.region
    with Registry.create(url, name="bench", bureau=region["bureau"], adcode=region["adcode"], overwrite=True,
                         clock=lambda: SAMPLE_TIME) as reg:
        for layer in ("admin_areas", "population", "roads"):
            reg.load_reference(layer, getattr(data, layer), author=SAMPLE_AUTHOR, note="sample data")
        for layer in RESOURCE_ORDER:
            reg.add_many(layer, data.features[layer], author=SAMPLE_AUTHOR, note="sample data")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", required=True, help="an existing PostgreSQL database with PostGIS (overwritten)")
    ap.add_argument("--size", choices=["county", "city"], default="county")
    args = ap.parse_args()
    data = generate(args.size)
    resources = sum(len(data.features[n]) for n in RESOURCE_ORDER)
    print(f"{args.size}: {resources:,} resources, {len(data.population):,} population cells, "
          f"{len(data.roads):,} road edges")

    t = time.perf_counter()
    write_sample_postgis(args.url, data, name="bench", author=SAMPLE_AUTHOR, at=SAMPLE_TIME,
                         resource_order=RESOURCE_ORDER, overwrite=True)
    copy_s = time.perf_counter() - t
    print(f"PostGIS, one transaction + COPY : {copy_s:7.2f} s", flush=True)
    with Registry.open(args.url) as reg:
        assert reg.count("hazard_points") == len(data.features["hazard_points"])

    t = time.perf_counter()
    by_batches(args.url, data)
    batch_s = time.perf_counter() - t
    print(f"PostGIS, batches (anchor)       : {batch_s:7.2f} s   ratio {batch_s / copy_s:.2f}x slower", flush=True)

    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        write_sample(Path(d) / "sample.gpkg", args.size)  # generates again: a few tenths of a second
        gpkg_s = time.perf_counter() - t

    print(f"GeoPackage sample               : {gpkg_s:7.2f} s   ratio {gpkg_s / copy_s:.2f}x of the COPY path")


if __name__ == "__main__":
    main()
