"""Benchmark: map tiles and item pages while two city coverage analyses run as jobs, against the same reads idle.

One ``rallypoint serve`` (gunicorn, 2 request workers with serve's default threads, and the local job cluster it
starts: 2 job workers at a lower CPU priority) serves the city sample. Debian's ``wrk`` (``make bench-tools``
installs it) asks, on a few connections, a fixed mix of map tiles (all layers,
``/tiles/WebMercatorQuad/{z}/{y}/{x}`` at zooms 13 to 15 over the data) and item pages (bbox pages of 100 hazard
points, and single shelters), after three warming passes over all of them (one request at a time) and one round
of wrk, none of them counted, in alternating rounds:

* idle: no job on the cluster (its workers quiet);
* loaded: two coverage jobs of the whole city (``Prefer: respond-async``, the parameters of
  ``bench/coverage.py``) running on the cluster the whole time wrk asks (checked before and after); they are
  dismissed after the round (which stops their workers), and the next idle round waits for the cluster to be
  quiet again.

It prints each round's p50 and p99 (wrk's latency distribution), the medians over the rounds, and the ratio
loaded p99 / idle p99 (the anchor is the idle p99 of the same run). Target (issue 17): ratio ≤ 3.
``--in-request`` runs the same loaded rounds the way analyses ran before jobs (``--job-workers 0``: the two
coverage runs are synchronous requests inside the request workers), to show what the jobs changed.

    rallypoint sample city.gpkg --size city          # once (about 2 minutes)
    python bench/jobs_load.py city.gpkg
    python bench/jobs_load.py city.gpkg --rounds 5 --duration 30 --connections 4
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from api_bbox import free_port, random_paths, require_wrk, run_wrk, stop, wait_until_up

COVERAGE = {"hazard": "flood", "minutes": "10,30,60"}


def tile_paths(registry: Path, n: int, seed: int) -> list[str]:
    """``n`` all-layer tiles at zooms 13–15 under random hazard points and shelters (where the map is read)."""
    rnd = random.Random(seed)
    conn = sqlite3.connect(f"file:{registry}?mode=ro", uri=True)
    points = []
    for layer in ("hazard_points", "shelters"):
        top = conn.execute(f"SELECT max(id) FROM rtree_{layer}_geom").fetchone()[0]
        for _ in range(n):
            row = conn.execute(f"SELECT minx, miny FROM rtree_{layer}_geom WHERE id = ?",
                               (rnd.randint(1, top),)).fetchone()
            if row:
                points.append(row)
    conn.close()
    out = set()
    while len(out) < n:
        lon, lat = rnd.choice(points)
        z = rnd.randint(13, 15)
        x = int((lon + 180) / 360 * 2 ** z)
        y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * 2 ** z)
        out.add(f"/tiles/WebMercatorQuad/{z}/{y}/{x}")
    return sorted(out)


def shelter_paths(registry: Path, n: int, seed: int) -> list[str]:
    conn = sqlite3.connect(f"file:{registry}?mode=ro", uri=True)
    uuids = [r[0] for r in conn.execute("SELECT uuid FROM shelters")]
    conn.close()
    return [f"/collections/shelters/items/{u}" for u in random.Random(seed).sample(uuids, min(n, len(uuids)))]


def call(method: str, url: str, key: str, body=None, prefer: str | None = None, timeout: float = 3600):
    headers = {"Authorization": f"Bearer {key}"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if prefer:
        headers["Prefer"] = prefer
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def job_status(base: str, key: str, job: str) -> dict:
    return call("GET", f"{base}/jobs/{job}", key)[1]


def job_cpu_seconds(server: subprocess.Popen) -> float:
    """CPU seconds used so far by the job cluster's worker processes (user + system)."""
    import psutil

    total = 0.0
    for p in psutil.Process(server.pid).children(recursive=True):
        try:
            if "spawn_main" in " ".join(p.cmdline()):
                t = p.cpu_times()
                total += t.user + t.system
        except psutil.Error:
            pass
    return total


def cluster_quiet(server: subprocess.Popen, seconds: float = 3.0, timeout: float = 180) -> None:
    """Wait until the job cluster's processes use (almost) no CPU for ``seconds`` (workers restarted and warm)."""
    import psutil

    def cluster_processes() -> list:
        out = []
        for p in psutil.Process(server.pid).children(recursive=True):
            try:
                if "rallypoint.jobs.cluster" in " ".join(p.cmdline()) or "spawn_main" in " ".join(p.cmdline()):
                    out.append(p)
            except psutil.Error:  # a worker just ended (a dismissed job's), not yet reaped
                pass
        return out

    def cpu(p) -> float:
        try:
            return p.cpu_percent(None)
        except psutil.Error:
            return 0.0

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        procs = cluster_processes()
        for p in procs:
            cpu(p)
        time.sleep(seconds)
        busy = sum(cpu(p) for p in procs)
        if len(procs) >= 3 and busy < 15:  # the scheduler's process and 2 workers; % of one core (idle: about 7)
            return
    print("  (the cluster did not become quiet; measuring anyway)", flush=True)


def prime(base: str, paths: list[str], passes: int = 3) -> None:
    """Ask every path a few times, one after the other, so both request workers hold the tiles: the rounds
    then compare the same warm server, idle and loaded (not a load: nothing is measured here)."""
    for _ in range(passes):
        for path in paths:
            with urllib.request.urlopen(base + path, timeout=120) as r:
                r.read()


def loaded_round_jobs(base: str, key: str) -> list[str]:
    jobs = []
    for _ in range(2):
        status, doc = call("POST", f"{base}/processes/coverage/execution", key, {"inputs": COVERAGE},
                           prefer="respond-async")
        if status != 201:
            raise SystemExit(f"the coverage job was not accepted: {status} {doc}")
        jobs.append(doc["jobID"])
    end = time.monotonic() + 600
    while True:  # both running, past loading the network (progress > 0)
        docs = [job_status(base, key, j) for j in jobs]
        if all(d["status"] == "running" and d.get("progress", 0) > 0 for d in docs):
            return jobs
        if any(d["status"] not in ("accepted", "running") for d in docs) or time.monotonic() > end:
            raise SystemExit(f"the coverage jobs did not run: {docs}")
        time.sleep(0.5)


def honest_p99(r: dict, timeout: float) -> dict:
    """wrk leaves requests that timed out (or never ended within the run) out of its latencies: when they are
    more than 1 % of all, the p99 is at least the time they waited (``inf`` when no request ended at all)."""
    m = re.search(r"timeout (\d+)", r.get("socket_errors") or "")
    timeouts = int(m.group(1)) if m else 0
    r["timeouts"], r["at_least"] = timeouts, False
    if r["requests"] == 0:
        r["p99"] = r["p50"] = math.inf
    elif timeouts > 0.01 * (r["requests"] + timeouts):
        r["p99"], r["at_least"] = max(r["p99"], timeout * 1000), True
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("registry", type=Path, help="the city sample (rallypoint sample city.gpkg --size city)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=20, help="seconds of wrk per measurement")
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--job-nice", type=int, default=None,
                    help="the job workers' lower CPU priority (rallypoint serve --job-nice; default: its own, 10)")
    ap.add_argument("--in-request", action="store_true",
                    help="also the loaded rounds as before jobs: coverage runs inside the request workers")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # a stopped bench still stops its server
    require_wrk()
    source = args.registry.resolve()
    if not source.exists():
        raise SystemExit(f"{source} does not exist: rallypoint sample {source} --size city")
    folder = Path(tempfile.mkdtemp(prefix="rallypoint-jobs-load-"))
    registry = folder / source.name  # a copy (SQLite's backup API): the bench's key and jobs touch only it
    with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as a, sqlite3.connect(registry) as b:
        a.backup(b)
    paths = tile_paths(registry, 200, 1) + random_paths(registry, 200, 2) + shelter_paths(registry, 100, 3)
    print(f"{source.name}: {len(paths)} paths (tiles at z13-15, bbox pages of 100 hazard points, shelters); "
          f"wrk {args.connections} connections, {args.duration} s per measurement, {args.rounds} rounds; "
          f"job workers' nice {10 if args.job_nice is None else args.job_nice}; {os.cpu_count()} CPUs", flush=True)

    from rallypoint import Registry
    from rallypoint.api.auth import add_key

    with Registry.open(registry) as reg:
        key = add_key(reg, "bench.jobs", "reader")[0]
    try:
        results = {"jobs": measure(registry, folder, paths, key, args, in_request=False)}
        if args.in_request:
            results["in_request"] = measure(registry, folder, paths, key, args, in_request=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    for how, r in results.items():
        met = "met" if r["loaded"] <= 3 * r["idle"] else "NOT met"
        print(f"{how}: idle p99 {r['idle']:.1f} ms, loaded p99 {r['loaded']:.1f} ms, "
              f"ratio {r['loaded'] / r['idle']:.2f} (target ≤ 3: {met})"
              + ("  (loaded: at least; reads waited longer than a measurement)" if r["at_least"] else ""))


def measure(registry: Path, folder: Path, paths: list[str], key: str, args, *, in_request: bool) -> dict:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    jobs_dir = folder / ("jobs-in-request" if in_request else "jobs")
    cmd = [sys.executable, "-c", "from rallypoint.cli.main import cli; cli()", "serve", str(registry),
           "--port", str(port), "--workers", "2", "--jobs-dir", str(jobs_dir), "--timeout", "3600"]
    if in_request:
        cmd += ["--job-workers", "0"]
    elif args.job_nice is not None:
        cmd += ["--job-nice", str(args.job_nice)]
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=(folder / f"serve-{port}.log").open("w"))
    print(f"\n{'before jobs: analyses inside the request workers' if in_request else 'jobs on the local cluster'}"
          f" (server log {folder / f'serve-{port}.log'})", flush=True)
    try:
        wait_until_up(base + "/conformance", server, timeout=120)
        prime(base, paths)
        run_wrk(base, paths, args.duration, args.connections, folder, timeout=60)  # a round not counted: warm
        idle, loaded = [], []
        for i in range(args.rounds):
            if not in_request:
                cluster_quiet(server)
            r = honest_p99(run_wrk(base, paths, args.duration, args.connections, folder, timeout=args.duration),
                           args.duration)
            idle.append(r)
            print(f"  round {i + 1} idle    p50 {r['p50']:8.1f} ms  p99 {r['p99']:8.1f} ms  "
                  f"{r['rate']:7.1f} req/s  {r['non_2xx']} not 2xx"
                  + (f"  socket errors: {r['socket_errors']}" if r.get("socket_errors") else ""), flush=True)
            if in_request:
                threads = [threading.Thread(target=call, daemon=True, args=(
                    "POST", f"{base}/processes/coverage/execution", key, {"inputs": COVERAGE})) for _ in range(2)]
                for t in threads:
                    t.start()
                time.sleep(5)  # both runs have begun in the request workers
                r = honest_p99(run_wrk(base, paths, args.duration, args.connections, folder, timeout=args.duration),
                               args.duration)
                note = (f"(2 coverage runs inside the request workers: {r['requests']} reads ended, "
                        f"{r['timeouts']} waited over {args.duration} s)")
                for t in threads:
                    t.join()
            else:
                jobs = loaded_round_jobs(base, key)
                before = [job_status(base, key, j) for j in jobs]
                cpu = job_cpu_seconds(server)
                r = honest_p99(run_wrk(base, paths, args.duration, args.connections, folder,
                                       timeout=args.duration), args.duration)
                cpu = job_cpu_seconds(server) - cpu
                after = [job_status(base, key, j) for j in jobs]
                note = " ".join(f"[{a.get('step', '')} → {d['status']} {d.get('step', '')}]"
                                for a, d in zip(before, after)) + f"  jobs' CPU {cpu:.1f} s"
                if any(d["status"] != "running" for d in after):
                    note += "  (a job ended during the measurement: lengthen the jobs or shorten --duration)"
                for j in jobs:
                    call("DELETE", f"{base}/jobs/{j}", key)
            loaded.append(r)
            errors = f"  socket errors: {r['socket_errors']}" if r.get("socket_errors") else ""
            print(f"  round {i + 1} loaded  p50 {r['p50']:8.1f} ms  p99 {r['p99']:8.1f} ms  "
                  f"{r['rate']:7.1f} req/s  {r['non_2xx']} not 2xx  {note}{errors}", flush=True)
    finally:
        stop(server)
    med = lambda rs: sorted(x["p99"] for x in rs)[len(rs) // 2]  # noqa: E731
    result = {"idle": med(idle), "loaded": med(loaded),
              "at_least": any(x["at_least"] and x["p99"] >= med(loaded) for x in loaded)}
    print(f"  median p99: idle {result['idle']:.1f} ms, loaded {result['loaded']:.1f} ms, "
          f"ratio {result['loaded'] / result['idle']:.2f}", flush=True)
    return result


if __name__ == "__main__":
    main()
