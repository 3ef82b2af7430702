"""Benchmark: vector tiles of the city's hazard points from the GeoPackage, against PostGIS's ST_AsMVT.

The city sample's hazard points (140,000) are copied row for row (tests/pg_copy.py: the same fids)
into a throwaway PostgreSQL 15 + PostGIS cluster (tests/pg_support.py), and the same tile sets,
every WebMercatorQuad tile over the points at zoom 12 and at zoom 6, are made by:

* **PostGIS**: one ``ST_AsMVT`` query per tile, as a tile server would write it: the layer's tile
  fields at that zoom (anonymous: no personal field), live features only, points in the tile
  (``ST_AsMVTGeom`` with no buffer), the fid as the feature id; on one connection, then on two
  (two threads), in this process. PostGIS neither thins nor compresses: its tiles hold every point
  (a zoom-6 tile all 140,000), which is its own cost;
* **Rallypoint, in process**: the GeoPackage reader's ``tile()`` (what a cold request encodes), one
  thread;
* **Rallypoint over HTTP**: ``rallypoint serve`` under gunicorn with 2 gthread workers × 4 threads (its
  defaults), loaded by Debian's ``wrk`` (``make bench-tools`` installs it) asking for random tiles of the set: "cold"
  from a server whose tile cache is off (every request encodes its tile), with gzip accepted as a
  browser does and, as PostGIS's bytes are, without; "cached" from a server that already holds them.

The all-layer route (``/tiles/WebMercatorQuad/12/…``: every geometry layer of the registry in one
tile) is measured alike at zoom 12, in process and over HTTP (target: 300 tiles/s cold).

All of them run in alternating rounds (PostGIS, Rallypoint, PostGIS, …) of a few seconds each, so a
shared, noisy machine weighs on all alike; the ratios are per round, and their median is printed.
Before the rounds each side's tiles are counted once (features per tile set), so it is visible what
each encodes.

    python bench/tiles_postgis.py                                   # the city sample (made first if missing)
    python bench/tiles_postgis.py --registry city.gpkg --rounds 3 --seconds 2
    python bench/tiles_postgis.py --zooms 12 --no-all-layers        # hazard points at zoom 12 only
    python bench/tiles_postgis.py --threads 1                       # one thread per gthread worker

Done when (the issue): cold zoom-12 hazard-point tiles over HTTP with 2 workers at least as fast
as ``ST_AsMVT`` on two connections (ratio ≥ 1.0); the all-layer route ≥ 300 tiles/s cold at zoom 12.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from api_bbox import require_wrk, run_wrk, start_api, stop, tile_path, tiles_over  # noqa: E402

LAYER = "hazard_points"


# -- PostGIS -----------------------------------------------------------------------------------------

def load_postgis(registry: Path):
    """A throwaway cluster holding the registry's hazard points (same fids): (cluster, URL)."""
    import pg_support
    from pg_copy import copy_gpkg_to_postgis

    from rallypoint import Registry

    why = pg_support.missing()
    if why:
        raise SystemExit(f"cannot start PostgreSQL: {why}")
    cluster = pg_support.PgCluster()
    try:
        url = cluster.new_database()
        with Registry.open(registry, readonly=True) as reg:
            info = reg.info
        Registry.create(url, name=info.name, bureau=info.bureau, adcode=info.adcode, language=info.language).close()
        t = time.monotonic()
        copy_gpkg_to_postgis(registry, url, only=[LAYER])
        print(f"copied the {LAYER} of {registry} into PostGIS in {time.monotonic() - t:.0f} s", flush=True)
    except BaseException:
        cluster.stop()
        raise
    return cluster, url


def st_asmvt_sql(z: int) -> str:
    """One tile of the layer by ``ST_AsMVT``, with the fields Rallypoint's tiles carry at zoom ``z``."""
    from rallypoint.schema import builtin_layers
    from rallypoint.storage.postgis.schema import qi

    layer = builtin_layers()[LAYER]
    wanted = layer.tiles.fields_at(z)
    fields = [f.name for f in layer.fields if not f.personal and (wanted is None or f.name in wanted)]
    cols = "".join(", t." + qi(f) for f in fields)
    return (f"SELECT ST_AsMVT(q, '{LAYER}', 4096, 'geom', 'fid') FROM ("
            f"SELECT t.fid, ST_AsMVTGeom(ST_Transform(t.geom, 3857), ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4096, 0, "
            f"true) AS geom{cols} FROM {qi(LAYER)} t "
            f"WHERE t.geom && ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4490) AND t.retired_at IS NULL) q")


def postgis_rate(url: str, tiles: list[tuple[int, int, int]], connections: int, seconds: float) -> dict:
    """Tiles a second made by ``connections`` connections (one thread each) taking the set's tiles in turn."""
    import psycopg

    conns = [psycopg.connect(url, autocommit=True) for _ in range(connections)]
    for conn in conns:  # the statement prepared (psycopg prepares from the 5th execution) and the pages cached
        for t in tiles[:6]:
            conn.execute(st_asmvt_sql(t[0]), dict(zip("zxy", t))).fetchone()
    done = [0] * connections
    end = time.perf_counter() + seconds

    def work(i: int) -> None:
        conn, k, sql = conns[i], i, st_asmvt_sql(tiles[0][0])
        while True:
            z, x, y = tiles[k % len(tiles)]
            conn.execute(sql, {"z": z, "x": x, "y": y}).fetchone()
            done[i] += 1
            k += connections
            if time.perf_counter() >= end:
                return

    t0 = time.perf_counter()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(connections)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - t0
    for conn in conns:
        conn.close()
    return {"rate": sum(done) / elapsed, "tiles": sum(done)}


def postgis_features(url: str, tiles: list[tuple[int, int, int]]) -> tuple[int, int]:
    """(features, bytes) of the set's tiles as ST_AsMVT writes them."""
    import mapbox_vector_tile
    import psycopg

    n = size = 0
    with psycopg.connect(url) as conn:
        for z, x, y in tiles:
            data = bytes(conn.execute(st_asmvt_sql(z), {"z": z, "x": x, "y": y}).fetchone()[0] or b"")
            size += len(data)
            n += sum(len(lay["features"]) for lay in mapbox_vector_tile.decode(data).values()) if data else 0
    return n, size


# -- Rallypoint in process ---------------------------------------------------------------------------

class InProcess:
    """The GeoPackage reader of the registry, as a request's (its own connection, no tile cache)."""

    def __init__(self, registry: Path):
        from rallypoint import Registry
        from rallypoint.storage import reader_for

        self.reg = Registry.open(registry, readonly=True)
        self.reader = reader_for(self.reg.store, str(registry))
        self.layers = {"one": [self.reg.layers[LAYER]],
                       "all": [lay for lay in self.reg.layers.values() if lay.has_geometry]}

    def rate(self, which: str, tiles: list[tuple[int, int, int]], seconds: float) -> dict:
        layers, n, k = self.layers[which], 0, 0
        t0 = time.perf_counter()
        end = t0 + seconds
        while True:
            z, x, y = tiles[k % len(tiles)]
            self.reader.tile(layers, False, z, x, y)
            n, k = n + 1, k + 1
            if time.perf_counter() >= end:
                break
        return {"rate": n / (time.perf_counter() - t0), "tiles": n}

    def features(self, which: str, tiles: list[tuple[int, int, int]]) -> tuple[int, int]:
        import mapbox_vector_tile

        n = size = 0
        for z, x, y in tiles:
            data = self.reader.tile(self.layers[which], False, z, x, y)
            size += len(data)
            n += sum(len(lay["features"]) for lay in mapbox_vector_tile.decode(data).values()) if data else 0
        return n, size

    def close(self) -> None:
        self.reg.close()


# -- the rounds --------------------------------------------------------------------------------------

def warm(base: str, paths: list[str], connections: int, folder: Path) -> None:
    """Until the workers of the server at ``base`` hold the tiles (its cache on) or have read the pages of their
    rows (every worker's SQLite cache, the cache off): random requests, about ten for each tile (each worker
    then has most likely seen each tile: the workers take requests as they come), then until their rate
    stops rising."""
    rate = run_wrk(base, paths, 2, connections, folder, timeout=60)["rate"]
    run_wrk(base, paths, min(150, max(2, math.ceil(10 * len(paths) / max(rate, 0.5)))), connections, folder,
            timeout=60)
    last = 0.0
    for i in range(20):
        rate = run_wrk(base, paths, 2, connections, folder, timeout=60)["rate"]
        if i >= 1 and rate < 1.15 * last:
            return
        last = max(last, rate)


def _median(values: list[float]) -> float:
    values = sorted(values)
    return values[len(values) // 2] if values else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--registry", type=Path, default=Path(tempfile.gettempdir()) / "web" / "city.gpkg",
                    help="the registry (default: city.gpkg in the system's temporary folder, made with the city "
                         "sample if missing)")
    ap.add_argument("--zooms", type=int, nargs="+", default=[12, 6], help="zooms of the hazard-point tile sets")
    ap.add_argument("--no-all-layers", action="store_true", help="leave the all-layer route out")
    ap.add_argument("--rounds", type=int, default=5, help="alternating rounds")
    ap.add_argument("--seconds", type=float, default=3.0, help="seconds per measurement in each round")
    ap.add_argument("--workers", type=int, default=2, help="gunicorn workers of the Rallypoint servers")
    ap.add_argument("--threads", type=int, default=4,
                    help="threads per gthread worker (rallypoint serve's default 4; keep-alive, as a map in a "
                         "browser keeps its connections)")
    ap.add_argument("--connections", type=int, default=4, help="wrk's connections")
    ap.add_argument("--verbose", action="store_true", help="print each measurement as it comes")
    args = ap.parse_args()
    require_wrk()
    if not args.registry.exists():
        from rallypoint.sample import write_sample

        args.registry.parent.mkdir(parents=True, exist_ok=True)
        print(f"writing the city sample to {args.registry} (about 2.5 minutes) …", flush=True)
        write_sample(args.registry, "city")
    sets = {z: tiles_over(args.registry, z) for z in args.zooms}
    seconds = max(1, round(args.seconds))  # wrk counts whole seconds
    cluster, url = load_postgis(args.registry)
    procs = []
    here = InProcess(args.registry)
    try:
        cold, cold_base = start_api(args.registry, args.workers, args.threads, tile_cache=False)
        procs.append(cold)
        cached, cached_base = start_api(args.registry, args.workers, args.threads, tile_cache=True)
        procs.append(cached)
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            kinds: dict[str, list] = {}  # name -> [(label, measure)]
            counts = {}
            for z, tiles in sets.items():
                paths = [f"/collections/{LAYER}/tiles/WebMercatorQuad/{z}/{y}/{x}" for _, x, y in tiles]
                counts[f"z{z}"] = (len(tiles), postgis_features(url, tiles), here.features("one", tiles))
                warm(cached_base, paths, args.connections, tmp)
                warm(cold_base, paths, args.connections, tmp)
                kinds[f"z{z}"] = [
                    ("pg1", lambda t=tiles: postgis_rate(url, t, 1, args.seconds)),
                    ("pg2", lambda t=tiles: postgis_rate(url, t, 2, args.seconds)),
                    ("here", lambda t=tiles: here.rate("one", t, args.seconds)),
                    ("cold", lambda p=paths: run_wrk(cold_base, p, seconds, args.connections, tmp, timeout=60)),
                    ("cold-id", lambda p=paths: run_wrk(cold_base, p, seconds, args.connections, tmp, timeout=60,
                                                        gzip=False)),
                    ("cached", lambda p=paths: run_wrk(cached_base, p, seconds, args.connections, tmp, timeout=60)),
                ]
            if not args.no_all_layers:
                tiles = tiles_over(args.registry, 12)
                paths = [tile_path(t) for t in tiles]
                counts["all z12"] = (len(tiles), None, here.features("all", tiles))
                warm(cached_base, paths, args.connections, tmp)
                warm(cold_base, paths, args.connections, tmp)
                kinds["all z12"] = [
                    ("here", lambda t=tiles: here.rate("all", t, args.seconds)),
                    ("cold", lambda p=paths: run_wrk(cold_base, p, seconds, args.connections, tmp, timeout=60)),
                    ("cached", lambda p=paths: run_wrk(cached_base, p, seconds, args.connections, tmp, timeout=60)),
                ]
            rounds: dict[tuple[str, str], list[dict]] = {(k, name): [] for k, ms in kinds.items() for name, _ in ms}
            for i in range(args.rounds):
                for kind, measures in kinds.items():
                    for name, measure in measures:
                        r = measure()
                        rounds[kind, name].append(r)
                        if args.verbose:
                            print(f"  round {i + 1} {kind} {name}: {r['rate']:.1f}/s", flush=True)
    finally:
        here.close()
        for proc in procs:
            stop(proc)
        cluster.stop()
    report(args, kinds, rounds, counts)


NAMES = {"pg1": "PostGIS ST_AsMVT, 1 connection", "pg2": "PostGIS ST_AsMVT, 2 connections",
         "here": "Rallypoint in process, 1 thread", "cold": "Rallypoint HTTP cold (gzip)",
         "cold-id": "Rallypoint HTTP cold (identity)", "cached": "Rallypoint HTTP cached (gzip)"}
RATIOS = {"here": "pg1", "cold": "pg2", "cold-id": "pg2", "cached": "pg2"}


def report(args, kinds: dict, rounds: dict, counts: dict) -> None:
    print()
    print(f"{args.registry} · {LAYER} · gunicorn {args.workers} workers × {args.threads} thread(s), "
          f"wrk {args.connections} connections · "
          f"{args.rounds} alternating rounds × {args.seconds:g} s per measurement · {os.cpu_count()} CPUs")
    for kind, measures in kinds.items():
        n, pg, rp = counts[kind]
        what = f"{kind}: {n} tiles; features (bytes): Rallypoint {rp[0]:,} ({rp[1]:,})"
        if pg:
            what += f", PostGIS {pg[0]:,} ({pg[1]:,})"
        print(what)
        for name, _ in measures:
            rs = rounds[kind, name]
            line = f"  {NAMES[name]:34s} {_median([r['rate'] for r in rs]):8.1f} tiles/s"
            if "p50" in rs[0]:
                line += (f"   p50 {_median([r['p50'] for r in rs]):6.1f} ms  p99 {_median([r['p99'] for r in rs]):6.1f} ms"
                         f"   {sum(r['non_2xx'] for r in rs)} not 2xx")
            anchor = RATIOS.get(name)
            if anchor and (kind, anchor) in rounds:
                ratios = [r["rate"] / max(a["rate"], 1e-9) for r, a in zip(rs, rounds[kind, anchor])]
                line += f"   ratio to {anchor}: {_median(ratios):.2f} (rounds {', '.join(f'{x:.2f}' for x in ratios)})"
            print(line)
        if kind == "z12":
            ok = _median([r["rate"] / max(a["rate"], 1e-9) for r, a in zip(rounds[kind, "cold"], rounds[kind, "pg2"])])
            print(f"  target: cold over HTTP ≥ 1.0 × ST_AsMVT on 2 connections: {'met' if ok >= 1.0 else 'NOT met'}")
        if kind == "all z12":
            rate = _median([r["rate"] for r in rounds[kind, "cold"]])
            print(f"  target: the all-layer route ≥ 300 tiles/s cold: {'met' if rate >= 300 else 'NOT met'}")
    print("rates are medians over the rounds; a ratio is Rallypoint's rate / the anchor's in the same round")


if __name__ == "__main__":
    main()
