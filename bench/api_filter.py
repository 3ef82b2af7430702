"""Benchmark: CQL2 filters on /items against the same selections made with the native parameters.

Each pair selects the same features two ways in this one run, on the same registry and the
same process (Flask's test client, so the HTTP stack is left out and the query is what is
measured): the anchor with ``bbox`` and property parameters, the other as a CQL2 filter
(R-tree pre-filter, then GEOS; values bound). The requests alternate, with a fresh random box
each time, and the ``numberMatched`` of both must agree (to a point or two: see below). Printed: the median time of
a page of 100 (with its exact ``numberMatched``) for each, and the ratio CQL2 / anchor.

    python bench/api_filter.py                          # the city sample (140,000 hazard points; made if missing)
    python bench/api_filter.py --registry county.gpkg --requests 100
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

LAYER = "hazard_points"


def boxes(extent, n: int, rng: random.Random, size: float) -> list[tuple[float, float, float, float]]:
    minx, miny, maxx, maxy = extent
    out = []
    for _ in range(n):
        w, h = (maxx - minx) * size, (maxy - miny) * size
        x, y = rng.uniform(minx, maxx - w), rng.uniform(miny, maxy - h)
        out.append((round(x, 5), round(y, 5), round(x + w, 5), round(y + h, 5)))
    return out


def timed(client, query: dict) -> tuple[float, int]:
    t0 = time.perf_counter()
    r = client.get(f"/collections/{LAYER}/items?" + urlencode(query))
    dt = time.perf_counter() - t0
    if r.status_code != 200:
        raise SystemExit(f"{query}: {r.status_code} {r.data[:300]!r}")
    return dt, r.get_json()["numberMatched"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--registry", type=Path, default=Path(tempfile.gettempdir()) / "bench_filter" / "city.gpkg",
                    help="registry to read (default: the city sample in the temp folder, made if missing)")
    ap.add_argument("--requests", type=int, default=300, help="requests per kind")
    ap.add_argument("--box", type=float, default=0.1, help="box side as a share of the layer's extent")
    ap.add_argument("--seed", type=int, default=4711)
    args = ap.parse_args()
    if not args.registry.exists():
        from rallypoint.sample import write_sample

        args.registry.parent.mkdir(parents=True, exist_ok=True)
        print(f"writing the city sample to {args.registry} (about 2.5 minutes) …", flush=True)
        write_sample(args.registry, "city")

    from rallypoint.web import create_app

    client = create_app(args.registry, {"TESTING": True}).test_client()
    doc = client.get(f"/collections/{LAYER}").get_json()
    extent = doc["extent"]["spatial"]["bbox"][0]
    rng = random.Random(args.seed)
    total = client.get(f"/collections/{LAYER}/items?limit=1").get_json()["numberMatched"]
    print(f"{args.registry.name}: {total:,} {LAYER}; {args.requests} requests per kind, pages of 100")

    def kinds(b):
        box = ",".join(map(str, b))
        cql_box = f"S_INTERSECTS(geometry, BBOX({', '.join(map(str, b))}))"
        return {
            "box + property": ({"bbox": box, "hazard_type": "fire_risk"},
                               {"filter": f"{cql_box} AND hazard_type = 'fire_risk'"}),
            "box": ({"bbox": box}, {"filter": cql_box}),
            "property": ({"hazard_type": "flood_point", "offset": rng.randrange(0, 500)},
                         None),
        }

    results: dict[str, tuple[list[float], list[float]]] = {}
    for b in boxes(extent, args.requests, rng, args.box):
        for name, (anchor, cql) in kinds(b).items():
            if cql is None:  # the same property as a filter, at the same offset
                cql = {"filter": "hazard_type = 'flood_point'", "offset": anchor["offset"]}
            pair = [(anchor, 0), (cql, 1)]
            rng.shuffle(pair)
            times = results.setdefault(name, ([], []))
            matched = {}
            for query, i in pair:
                dt, n = timed(client, {**query, "limit": 100})
                times[i].append(dt)
                matched[i] = n
            # bbox is answered from the R-tree, whose float32 bounds are rounded outwards (under a metre
            # here); S_INTERSECTS is exact: a point that close to an edge may be counted by one only
            if abs(matched[0] - matched[1]) > 2:
                raise SystemExit(f"{name} {b}: anchor matched {matched[0]}, the filter {matched[1]}")
    print(f"{'selection':<16} {'anchor ms':>10} {'CQL2 ms':>10} {'CQL2/anchor':>12}")
    for name, (a, c) in results.items():
        ma, mc = statistics.median(a) * 1000, statistics.median(c) * 1000
        print(f"{name:<16} {ma:>10.2f} {mc:>10.2f} {mc / ma:>12.2f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
