"""Benchmark: writes over HTTP on a PostGIS registry, against the same writes on a GeoPackage file.

``rallypoint serve`` (gunicorn, ``--workers`` × ``--threads``) on 127.0.0.1 serves a new, empty
registry; ``--clients`` threads each add helipads (POST) and change each one once (PATCH with the
If-Match of the answer), with an editor's API key, for ``--requests`` requests in all. The anchor
is the same run against a GeoPackage file, in this same run, so the ratio holds on a shared,
noisy machine. Every write goes through the registry's checks and is recorded in its history (on
PostGIS by the database's triggers, as the key's holder); at the end both registries must hold
exactly the features and history rows the acknowledged writes made.

Mind the durability settings when reading the ratio: a GeoPackage commits with ``synchronous = FULL``
(an fsync per write); a PostgreSQL server's own ``fsync``/``synchronous_commit`` decide its side (the
tests' throwaway cluster, tests/pg_support.py, turns both off, which flatters PostGIS).

    python bench/api_write.py --postgis postgresql://me@127.0.0.1/bench     # an existing database; overwritten
    python bench/api_write.py --postgis URL --clients 16 --requests 4000 --workers 2 --threads 4
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rallypoint import Registry
from rallypoint.api.auth import add_key


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(location: str, workers: int, threads: int, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    cmd = [sys.executable, "-c", "from rallypoint.cli.main import cli; cli()", "serve", location, "--port", str(port),
           "--workers", str(workers), "--threads", str(threads), "--jobs-dir", str(log.parent / f"jobs{port}"),
           "--rate-limit-writes", "1000000 per minute"]
    proc = subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    end = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "/conformance", timeout=2):
                return proc, url
        except OSError:
            if proc.poll() is not None or time.monotonic() > end:
                raise SystemExit(f"the server did not start; see {log}") from None
            time.sleep(0.2)


def stop(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


def call(url: str, method: str, body: dict, headers: dict) -> tuple[int, dict, dict]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, dict(r.headers), json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read() or b"null")


def run(location: str, args, folder: Path) -> dict:
    with Registry.open(location) as reg:
        key = add_key(reg, "bench.editor", "editor")[0]
    log = folder / f"serve-{'pg' if '://' in location else 'gpkg'}.log"
    proc, base = serve(location, args.workers, args.threads, log)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/geo+json"}
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    per_client = args.requests // args.clients // 2

    def client(c: int) -> None:
        mine, bad = [], []
        for i in range(per_client):
            point = {"type": "Point", "coordinates": [103.6 + c / 100, 30.5 + i / 1e4]}
            body = {"type": "Feature", "geometry": point,
                    "properties": {"name": f"起降点 {c}-{i}", "adcode": "519901001", "source": "bench",
                                   "surface": "concrete", "pad_length_m": 30, "pad_width_m": 30, "status": "usable"}}
            t = time.perf_counter()
            status, h, doc = call(base + "/collections/helipads/items", "POST", body, headers)
            mine.append(time.perf_counter() - t)
            if status != 201:
                bad.append(f"POST {status} {doc}")
                continue
            t = time.perf_counter()
            status, _, doc = call(f"{base}/collections/helipads/items/{doc['id']}", "PATCH",
                                  {"properties": {"pad_length_m": 40}}, {**headers, "If-Match": h["ETag"]})
            mine.append(time.perf_counter() - t)
            if status != 200 or doc["properties"]["version"] != 2:
                bad.append(f"PATCH {status} {doc}")
        with lock:
            latencies.extend(mine)
            failures.extend(bad)

    t0 = time.perf_counter()
    try:
        with ThreadPoolExecutor(args.clients) as pool:
            list(pool.map(client, range(args.clients)))
        seconds = time.perf_counter() - t0
    finally:
        stop(proc)
    with Registry.open(location) as reg:
        features = reg.count("helipads")
        history = len(reg.history("helipads"))
        authors = {c.author for c in reg.history("helipads")}
    expected = args.clients * per_client
    if failures or features != expected or history != 2 * expected or authors != {"bench.editor"}:
        failures.append(f"{features} features / {history} history rows / authors {authors}; expected {expected} "
                        f"features, {2 * expected} rows by bench.editor")
    latencies.sort()
    return {"requests": len(latencies), "seconds": seconds, "per_second": len(latencies) / seconds,
            "p50_ms": 1000 * statistics.median(latencies), "p95_ms": 1000 * latencies[int(0.95 * len(latencies))],
            "failures": failures}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--postgis", metavar="URL", required=True, help="an existing database for the PostGIS registry")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=2000, help="POSTs and PATCHes in all, per backend")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=4)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        gpkg = folder / "bench.gpkg"
        Registry.create(gpkg, name="bench", bureau="bench").close()
        Registry.create(args.postgis, name="bench", bureau="bench", overwrite=True).close()
        results = {"GeoPackage": run(str(gpkg), args, folder), "PostGIS": run(args.postgis, args, folder)}
    print(f"writes over HTTP: {args.clients} clients, {args.workers} workers × {args.threads} threads, "
          f"CPUs {os.cpu_count()}, load {os.getloadavg()[0]:.1f}")
    for name, r in results.items():
        print(f"  {name:<10} {r['requests']:>6} requests in {r['seconds']:6.1f} s = {r['per_second']:7.1f}/s, "
              f"p50 {r['p50_ms']:6.1f} ms, p95 {r['p95_ms']:6.1f} ms")
    ratio = results["PostGIS"]["per_second"] / results["GeoPackage"]["per_second"]
    print(f"  PostGIS / GeoPackage throughput: {ratio:.2f}×")
    failed = [f"{name}: {f}" for name, r in results.items() for f in r["failures"]]
    if failed:
        print("\n".join(failed[:20]))
        raise SystemExit(1)


if __name__ == "__main__":
    main()
