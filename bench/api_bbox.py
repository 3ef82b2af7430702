"""Benchmark: random bbox pages of 100 hazard points over HTTP, against a Flask "hello world"
and pygeoapi 0.21 on the same GeoPackage; then cold and cached vector tile rates.

All servers run under gunicorn with the same settings (``rallypoint serve``'s, 2 workers by
default) on 127.0.0.1, in alternating rounds of this one run, and are hit by the same load
generator in a separate process: Debian's ``wrk`` with a Lua script that picks a random
bbox per request. wrk is required (``make bench-tools`` installs it): a Python client caps
near 4,600 requests/s and would distort the ratio against Flask's hello world. The ratios of
the rates hold on a shared, noisy machine; p50 and p99 are the client's latencies.

pygeoapi 0.21 with its OGR provider serves the same file (read-only, through Debian's GDAL)
from a virtual environment of its own, made on the first run under ~/.cache/rallypoint-bench
(it needs Debian's python3-gdal; ``--no-pygeoapi`` leaves it out).

Tiles (all layers, ``/tiles/WebMercatorQuad/{z}/{y}/{x}``, gzip accepted as a browser does):
"cold" requests random tiles of zoom 12 and 13 over the data from a second server whose tile
cache is off, so that every tile is encoded on request; "cached" hits 200 zoom-14 tiles that
both workers already hold. bench/tiles_postgis.py compares the tiles with PostGIS's.

    python bench/api_bbox.py                           # the city sample (made first if missing, ~2.5 min)
    python bench/api_bbox.py --registry county.gpkg --duration 5
    python bench/api_bbox.py --threads 4               # gthread workers with keep-alive
    python bench/api_bbox.py --postgis --no-pygeoapi   # the same registry served from PostGIS too

``--postgis`` starts a throwaway PostgreSQL 15 + PostGIS server (tests/pg_support.py), copies the
registry into it row for row (tests/pg_copy.py: the same fids, UUIDs and stamps) and serves it as
a fourth server in the same alternating rounds: "ratio postgis / api" compares the backends.

Target (the issue): at least 1,000 requests/s with 2 workers and p99 under 50 ms.
pygeoapi 0.21 answered 5 (SQLite provider) and 33 (OGR provider) such pages a second
on another machine (the standards notes); this run measures it here.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

LAYER = "hazard_points"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited ({proc.returncode}) before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"no answer from {url} within {timeout:.0f} s")


def hello_app():
    """The anchor: the smallest Flask app, served with the same gunicorn settings."""
    from flask import Flask

    app = Flask("hello")
    app.add_url_rule("/", "hello", lambda: "Hello, World!")
    return app


def serve_hello(port: int, workers: int, threads: int) -> None:
    from rallypoint.cli.serve_cmd import gunicorn_options, run_gunicorn_app

    run_gunicorn_app(hello_app, gunicorn_options("127.0.0.1", port, workers, threads, 30, False))


def start(cmd: list[str], url: str) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_until_up(url, proc)
    return proc


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def random_paths(registry: Path, n: int, seed: int) -> list[str]:
    """``n`` bbox requests centred on random hazard points, 0.02–0.08° wide (2–8 km), pages of 100."""
    rnd = random.Random(seed)
    conn = sqlite3.connect(f"file:{registry}?mode=ro", uri=True)
    total = conn.execute(f"SELECT max(id) FROM rtree_{LAYER}_geom").fetchone()[0]
    paths = []
    while len(paths) < n:
        row = conn.execute(f"SELECT minx, miny FROM rtree_{LAYER}_geom WHERE id = ?", (rnd.randint(1, total),)).fetchone()
        if row is None:
            continue
        w, h = rnd.uniform(0.02, 0.08), rnd.uniform(0.02, 0.08)
        x, y = row[0] - w * rnd.random(), row[1] - h * rnd.random()
        paths.append(f"/collections/{LAYER}/items?bbox={x:.5f},{y:.5f},{x + w:.5f},{y + h:.5f}&limit=100")
    conn.close()
    return paths


_LUA = """
local paths = {%s}
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
end
function init(args)
  math.randomseed(seed * 7919)
  wrk.headers["Accept-Encoding"] = "gzip"
end
function request()
  return wrk.format(nil, paths[math.random(#paths)])
end
"""


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    value, unit = float(m.group(1)), m.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def require_wrk() -> None:
    """The load generator of every HTTP benchmark here: Debian's wrk, never a Python stand-in."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: the benchmarks load the servers with Debian's wrk only (a Python client "
                         "caps near 4,600 requests/s and distorts the ratios); `make bench-tools` installs it")


def serve_api(where: str, port: int, workers: int, threads: int, tile_cache: bool) -> None:
    """``rallypoint serve WHERE`` in this process (gunicorn's master); ``tile_cache`` False: every tile is encoded
    on request (cold), as the workers fork from here with the cache's size at 0."""
    from rallypoint.api.tiles import tilesets as tiles
    from rallypoint.cli.main import cli

    if not tile_cache:
        tiles.CACHE_SIZE = 0
    cli(["serve", where, "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
         "--threads", str(threads)])


def start_api(where: str, workers: int, threads: int, tile_cache: bool = True) -> tuple[subprocess.Popen, str]:
    """A Rallypoint server of ``where`` (a file or a PostGIS URL) on a free port: (process, base URL)."""
    port = free_port()
    cmd = [sys.executable, __file__, "--serve-api", str(where), "--port", str(port), "--workers", str(workers),
           "--threads", str(threads)] + ([] if tile_cache else ["--no-tile-cache"])
    base = f"http://127.0.0.1:{port}"
    return start(cmd, base + "/"), base


def run_wrk(base: str, paths: list[str], duration: int, connections: int, folder: Path,
            timeout: int | None = None, gzip: bool = True) -> dict:
    """``timeout``: seconds before wrk gives a request up (its default, 2 s, drops slow ones from the latencies);
    ``gzip``: accept gzip, as a browser does."""
    script = folder / "paths.lua"
    lua = _LUA % ",".join(json.dumps(p) for p in paths)
    script.write_text(lua if gzip else lua.replace('wrk.headers["Accept-Encoding"] = "gzip"', ""))
    wait = [f"--timeout={timeout}s"] if timeout else []
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", *wait, "-s", str(script),
                          base], capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.MULTILINE))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    return {"rate": rate, "p50": _ms(lat["50"]), "p99": _ms(lat["99"]), "requests": total,
            "non_2xx": int(bad.group(1)) if bad else 0, "socket_errors": errors.group(1) if errors else ""}


# Not a load generator (wrk is): requests each path once and waits for every answer, for warm-ups that
# must finish (bench/pg_10m.py's first pages).
_PY_CLIENT = r"""
import asyncio, json, random, sys, time
base, duration, conns, paths = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), json.load(open(sys.argv[4]))
host, port = base.split("//")[1].rstrip("/").split(":")
lat, bad = [], 0
todo = list(reversed(paths))  # duration <= 0: every path once, then stop
async def worker(seed):
    global bad
    rnd = random.Random(seed); end = time.perf_counter() + duration
    while (todo if duration <= 0 else time.perf_counter() < end):
        path = todo.pop() if duration <= 0 else rnd.choice(paths)
        r, w = await asyncio.open_connection(host, int(port))
        t = time.perf_counter()
        w.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept-Encoding: gzip\r\n"
                "Connection: close\r\n\r\n".encode())
        data = await r.read()
        lat.append(time.perf_counter() - t)
        bad += not (data.startswith(b"HTTP/1.1 200") or data.startswith(b"HTTP/1.1 204"))
        w.close()
async def main():
    t = time.perf_counter(); await asyncio.gather(*(worker(i) for i in range(conns)))
    lat.sort(); print(json.dumps({"rate": len(lat) / (time.perf_counter() - t), "p50": lat[len(lat) // 2] * 1000,
                                  "p99": lat[int(len(lat) * 0.99)] * 1000, "requests": len(lat), "non_2xx": bad}))
asyncio.run(main())
"""


def run_python_client(base: str, paths: list[str], duration: int, connections: int, folder: Path) -> dict:
    (folder / "paths.json").write_text(json.dumps(paths))
    out = subprocess.run([sys.executable, "-c", _PY_CLIENT, base, str(duration), str(connections),
                          str(folder / "paths.json")], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def _median(rounds: list[dict]) -> dict:
    """Per figure, the median over the rounds (requests and errors are summed)."""
    out = {}
    for key in ("rate", "p50", "p99"):
        values = sorted(r[key] for r in rounds)
        out[key] = values[len(values) // 2]
    out["requests"] = sum(r["requests"] for r in rounds)
    out["non_2xx"] = sum(r["non_2xx"] for r in rounds)
    return out


# -- pygeoapi 0.21 on the same file ---------------------------------------------------------------

PYGEOAPI = "pygeoapi==0.21.*"


def pygeoapi_python() -> Path:
    """The interpreter of a venv holding pygeoapi 0.21, made once (Debian's GDAL bindings for its OGR provider)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rallypoint-bench" / "pygeoapi-0.21"
    python = cache / "bin" / "python"
    if not (cache / ".installed").exists():
        print(f"installing {PYGEOAPI} into {cache} (once) …", flush=True)
        subprocess.run(["/usr/bin/python3", "-m", "venv", "--system-site-packages", str(cache)], check=True)
        # numpy<2: Debian's python3-gdal is built against numpy 1.x
        subprocess.run([str(python), "-m", "pip", "install", "-q", PYGEOAPI, "numpy<2", "pyproj>=3.6", "gunicorn"],
                       check=True)
        (cache / ".installed").touch()
    return python


def pygeoapi_config(registry: Path, port: int, folder: Path) -> dict[str, str]:
    """pygeoapi's configuration (JSON is YAML) and OpenAPI document; the environment that points at them."""
    conn = sqlite3.connect(f"file:{registry}?mode=ro", uri=True)
    bbox = list(conn.execute("SELECT min_x, min_y, max_x, max_y FROM gpkg_contents WHERE table_name = ?",
                             (LAYER,)).fetchone())
    conn.close()
    url = f"http://127.0.0.1:{port}"
    config = {
        "server": {"bind": {"host": "127.0.0.1", "port": port}, "url": url,
                   "mimetype": "application/json; charset=UTF-8", "encoding": "utf-8", "languages": ["en-US"],
                   "limits": {"default_items": 100, "max_items": 10000},
                   "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": "OSM"}},
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {"title": "bench", "description": "bench", "keywords": ["bench"],
                               "keywords_type": "theme", "terms_of_service": "none", "url": url},
            "license": {"name": "CC-BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"},
            "provider": {"name": "bench", "url": url},
            "contact": {"name": "bench", "position": "bench", "address": "-", "city": "-", "stateorprovince": "-",
                        "postalcode": "-", "country": "-", "phone": "-", "fax": "-", "email": "-", "url": url,
                        "hours": "-", "instructions": "-", "role": "pointOfContact"}},
        "resources": {LAYER: {
            "type": "collection", "title": LAYER, "description": LAYER, "keywords": [LAYER],
            "extents": {"spatial": {"bbox": bbox, "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
            "providers": [{"type": "feature", "name": "OGR", "id_field": "uuid", "layer": LAYER,
                           "data": {"source_type": "GPKG", "source": str(registry), "source_srs": "EPSG:4490",
                                    "target_srs": "EPSG:4490", "source_capabilities": {"paging": True}}}]}},
    }
    cfg, oas = folder / "pygeoapi.yml", folder / "pygeoapi-openapi.yml"
    cfg.write_text(json.dumps(config))
    env = {**os.environ, "PYGEOAPI_CONFIG": str(cfg), "PYGEOAPI_OPENAPI": str(oas)}
    subprocess.run([str(pygeoapi_python().parent / "pygeoapi"), "openapi", "generate", str(cfg), "--output-file",
                    str(oas)], check=True, env=env, capture_output=True)
    return env


def start_pygeoapi(registry: Path, workers: int, threads: int, folder: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = pygeoapi_config(registry, port, folder)
    cmd = [str(pygeoapi_python()), "-m", "gunicorn", "-w", str(workers), "--threads", str(threads),
           "-b", f"127.0.0.1:{port}", "pygeoapi.flask_app:APP"]
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    wait_until_up(base + "/", proc)
    return proc, base


# -- vector tiles ---------------------------------------------------------------------------------

def tiles_over(registry: Path, z: int) -> list[tuple[int, int, int]]:
    """Every (z, x, y) over the hazard points' extent."""
    import math

    conn = sqlite3.connect(f"file:{registry}?mode=ro", uri=True)
    x0, y0, x1, y1 = conn.execute("SELECT min_x, min_y, max_x, max_y FROM gpkg_contents WHERE table_name = ?",
                                  (LAYER,)).fetchone()
    conn.close()
    n = 1 << z

    def col(lon: float) -> int:
        return int((lon + 180) / 360 * n)

    def row(lat: float) -> int:
        return int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)

    return [(z, x, y) for x in range(col(x0), col(x1) + 1) for y in range(row(y1), row(y0) + 1)]


def tile_path(t: tuple[int, int, int]) -> str:
    z, x, y = t
    return f"/tiles/WebMercatorQuad/{z}/{y}/{x}"


def tile_rates(base: str, cold_base: str, registry: Path, args, folder: Path) -> dict[str, dict]:
    """Cold tiles from ``cold_base`` (a server whose tile cache is off), cached ones from ``base``."""
    seconds = max(2, args.duration // args.rounds)
    cold_paths = [tile_path(t) for z in (12, 13) for t in tiles_over(registry, z)]
    cold = run_wrk(cold_base, cold_paths, seconds, args.connections, folder, timeout=30)  # every request encoded
    hot = [tile_path(t) for t in tiles_over(registry, 14)]
    hot = random.Random(args.seed).sample(hot, min(200, len(hot)))
    run_wrk(base, hot, 3, args.connections, folder)  # both workers encode and keep them
    cached = run_wrk(base, hot, seconds, args.connections, folder)
    return {"cold": cold | {"tiles": len(cold_paths)}, "cached": cached | {"tiles": len(hot)}}


def postgis_copy(registry: Path):
    """A throwaway PostGIS server holding an exact copy of ``registry``: (cluster, the registry's URL)."""
    tests = Path(__file__).resolve().parents[1] / "tests"
    sys.path.insert(0, str(tests))
    from pg_copy import copy_gpkg_to_postgis
    from pg_support import PgCluster

    from rallypoint import Registry

    cluster = PgCluster()
    try:
        url = cluster.new_database()
        with Registry.open(registry, readonly=True) as reg:
            info = reg.info
        Registry.create(url, name=info.name, bureau=info.bureau, adcode=info.adcode, language=info.language).close()
        t = time.monotonic()
        copy_gpkg_to_postgis(registry, url)
        print(f"copied {registry} into PostGIS in {time.monotonic() - t:.0f} s", flush=True)
    except BaseException:
        cluster.stop()
        raise
    return cluster, url


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--registry", type=Path, default=Path(tempfile.gettempdir()) / "web" / "city.gpkg",
                    help="registry to serve (default: city.gpkg in the system's temporary folder, made with the "
                         "city sample if missing)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="threads per worker (>1: gthread with keep-alive)")
    ap.add_argument("--duration", type=int, default=30, help="seconds of load per server, in all rounds")
    ap.add_argument("--rounds", type=int, default=5, help="alternating rounds (api, hello, pygeoapi, api, …)")
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--requests", type=int, default=2000, help="distinct random bboxes to draw from")
    ap.add_argument("--seed", type=int, default=2938)
    ap.add_argument("--no-pygeoapi", action="store_true", help="leave pygeoapi out")
    ap.add_argument("--no-tiles", action="store_true", help="leave the tile rates out")
    ap.add_argument("--postgis", action="store_true",
                    help="also serve an exact copy of the registry from a throwaway PostGIS server")
    ap.add_argument("--serve-hello", type=int, metavar="PORT", help=argparse.SUPPRESS)
    ap.add_argument("--serve-api", metavar="WHERE", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--no-tile-cache", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_hello:
        serve_hello(args.serve_hello, args.workers, args.threads)
        return
    if args.serve_api:
        serve_api(args.serve_api, args.port, args.workers, args.threads, not args.no_tile_cache)
        return
    require_wrk()

    if not args.registry.exists():
        from rallypoint.sample import write_sample

        args.registry.parent.mkdir(parents=True, exist_ok=True)
        print(f"writing the city sample to {args.registry} (about 2.5 minutes) …", flush=True)
        write_sample(args.registry, "city")
    client, load = "wrk", run_wrk
    paths = random_paths(args.registry, args.requests, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        api_base = f"http://127.0.0.1:{free_port()}"
        hello_base = f"http://127.0.0.1:{free_port()}"
        cli = [sys.executable, "-c", "from rallypoint.cli.main import cli; cli()"]
        cleanups: list = []
        procs = [start(cli + ["serve", str(args.registry), "--port", api_base.rsplit(":", 1)[1],
                              "--workers", str(args.workers), "--threads", str(args.threads)], api_base + "/")]
        try:
            procs.append(start([sys.executable, __file__, "--serve-hello", hello_base.rsplit(":", 1)[1],
                                "--workers", str(args.workers), "--threads", str(args.threads)], hello_base + "/"))
            servers = {"api": (api_base, paths), "hello": (hello_base, ["/"])}
            if args.postgis:
                cluster, url = postgis_copy(args.registry)
                cleanups.append(cluster.stop)
                pg_api = f"http://127.0.0.1:{free_port()}"
                procs.append(start(cli + ["serve", url, "--port", pg_api.rsplit(":", 1)[1], "--workers",
                                          str(args.workers), "--threads", str(args.threads)], pg_api + "/"))
                servers["postgis"] = (pg_api, paths)
            if not args.no_pygeoapi:
                proc, pg_base = start_pygeoapi(args.registry, args.workers, args.threads, tmp)
                procs.append(proc)
                servers["pygeoapi"] = (pg_base, paths)
            with urllib.request.urlopen(api_base + paths[0]) as r:
                sample = json.load(r)
            for base, some in servers.values():  # warm up
                load(base, some, 2, args.connections, tmp)
            # Alternate short rounds, so that all see the same machine (a shared VM's CPU comes and goes).
            rounds: dict[str, list[dict]] = {name: [] for name in servers}
            per_round = max(1, args.duration // args.rounds)
            for _ in range(args.rounds):
                for name, (base, some) in servers.items():
                    rounds[name].append(load(base, some, per_round, args.connections, tmp))
            tiles = None
            if not args.no_tiles:
                proc, cold_base = start_api(args.registry, args.workers, args.threads, tile_cache=False)
                procs.append(proc)
                tiles = tile_rates(api_base, cold_base, args.registry, args, tmp)
            if tiles and "postgis" in servers:  # the same tiles written by ST_AsMVT
                proc, cold_pg = start_api(url, args.workers, args.threads, tile_cache=False)
                procs.append(proc)
                tiles |= {f"{k} pg": v for k, v in tile_rates(servers["postgis"][0], cold_pg, args.registry, args,
                                                                tmp).items()}
        finally:
            for proc in procs:
                stop(proc)
            for cleanup in cleanups:
                cleanup()
    results = {name: _median(rs) for name, rs in rounds.items()}
    api = results["api"]
    print(f"registry {args.registry} · {LAYER} · gunicorn {args.workers} workers × {args.threads} thread(s) · "
          f"client {client}, {args.connections} connections, {args.rounds} × {per_round} s each · "
          f"{os.cpu_count()} CPUs")
    print(f"first page: numberMatched {sample['numberMatched']}, numberReturned {sample['numberReturned']}")
    print("medians of the rounds:")
    names = {"api": "bbox pages of 100", "hello": "Flask hello world", "pygeoapi": "pygeoapi 0.21 (OGR)",
             "postgis": "the same, on PostGIS"}
    for name, r in results.items():
        print(f"  {names[name]:20s} {r['rate']:8.1f} requests/s   p50 {r['p50']:7.1f} ms   p99 {r['p99']:7.1f} ms   "
              f"({r['requests']} requests, {r['non_2xx']} not 2xx)")
    for other in ("hello", "pygeoapi"):
        if other in rounds:
            ratios = sorted(a["rate"] / max(o["rate"], 1e-9) for a, o in zip(rounds["api"], rounds[other]))
            print(f"  ratio api / {other}: {ratios[len(ratios) // 2]:.2f} (median of {len(ratios)} alternating rounds)")
    if "postgis" in rounds:
        ratios = sorted(p["rate"] / max(a["rate"], 1e-9) for p, a in zip(rounds["postgis"], rounds["api"]))
        print(f"  ratio postgis / api: {ratios[len(ratios) // 2]:.2f} (median of {len(ratios)} alternating rounds)")
    api_rates = ", ".join(f"{r['rate']:.0f}" for r in rounds["api"])
    print(f"  api rates in the rounds: {api_rates}")
    ok = api["rate"] >= 1000 and api["p99"] < 50
    print(f"  target ≥ 1,000 requests/s and p99 < 50 ms: {'met' if ok else 'NOT met'}")
    if tiles:
        for name, r in tiles.items():
            print(f"  tiles {name:9s} {r['rate']:8.1f} tiles/s      p50 {r['p50']:7.1f} ms   p99 {r['p99']:7.1f} ms   "
                  f"({r['requests']} requests over {r['tiles']} tiles, {r['non_2xx']} not 2xx or 204)")
        print(f"  ratio cached / cold tiles: {tiles['cached']['rate'] / tiles['cold']['rate']:.1f}")
        if "cold pg" in tiles:
            print(f"  ratio postgis / api, cold tiles: {tiles['cold pg']['rate'] / tiles['cold']['rate']:.2f}")


if __name__ == "__main__":
    main()
