"""Soak: many clients at once on a real ``rallypoint serve``, and nothing acknowledged is lost.

A copy of a sample registry is served by gunicorn (several workers and gthread threads) on
127.0.0.1, and ``--clients`` asyncio clients (aiohttp, one process) mix for ``--duration``
seconds, with no pause between requests:

* reads: pages of items with a bbox, some with a property filter or a CQL2 filter; single
  features; vector tiles of all layers at zooms 10 to 16;
* writes with an editor's key: new helipads (POST), changes to them (PATCH with If-Match)
  and their retirement (DELETE with If-Match), and changes to a few *hot* teams that every
  client reads and changes at once, so that most of those writes conflict: a 412 is the
  correct answer to a stale If-Match, and is counted, not a failure.

Every acknowledged write (2xx) is recorded with the version the server said it made and the
values sent. Afterwards, with the server stopped, every one must be in the registry's
history at that version, by that author, with those values; no two acknowledgements may
name the same version of a feature; each feature must be at its last acknowledged version
(or later, only if a write to it had no answer); and the file must pass
``check_registry`` (SQLite's integrity check, every feature, GDAL's ``validate_gpkg``).
The server's memory (RSS of the master and workers, psutil) is sampled every second.

It fails (exit status 1) on any 5xx answer or any write lost or altered. There is no
anchor to compare with: the figures are counts and latencies of this run, with the
machine's load beside them.

    python bench/soak.py                              # the county sample, 60 clients, 5 minutes
    python bench/soak.py --registry city.gpkg --clients 100 --duration 600 --workers 2 --threads 8
    python bench/soak.py --json soak.json             # the figures as JSON too

tests/test_soak.py runs a shortened form of it (50 clients, about 40 s) in the suite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api_bbox import free_port, random_paths, tile_path, tiles_over, wait_until_up  # noqa: E402

BUREAU = "示例县应急管理局"
HOT_LAYER = "teams"
OWN_LAYER = "helipads"


# -- the server ----------------------------------------------------------------------------


class Served:
    """``rallypoint serve`` in a process group of its own: stopped gracefully, or killed whole with SIGKILL."""

    def __init__(self, registry: Path, *, workers: int, threads: int, log: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-c", "from rallypoint.cli.main import cli; cli()", "serve", str(registry),
               "--port", str(self.port), "--workers", str(workers), "--threads", str(threads)]
        self.log_path = log
        with open(log, "a") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until_up(self.url + "/conformance", self.proc)

    def rss(self) -> tuple[int, int]:
        """Bytes resident in the master and in all its workers together (0 once gone)."""
        import psutil

        try:
            master = psutil.Process(self.proc.pid)
            workers = master.children(recursive=True)
            return master.memory_info().rss, sum(w.memory_info().rss for w in workers)
        except psutil.Error:
            return 0, 0

    def kill(self) -> None:
        """SIGKILL to the master and every worker at once (its own process group)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


class MemorySampler(threading.Thread):
    """The server's RSS every ``every`` seconds, as (seconds since start, master bytes, workers bytes)."""

    def __init__(self, server: Served, every: float = 1.0):
        super().__init__(daemon=True)
        self.server, self.every = server, every
        self.samples: list[tuple[float, int, int]] = []
        self._done = threading.Event()

    def run(self) -> None:
        t0 = time.monotonic()
        while not self._done.is_set():
            master, workers = self.server.rss()
            if master:
                self.samples.append((time.monotonic() - t0, master, workers))
            self._done.wait(self.every)

    def finish(self) -> dict[str, Any]:
        self._done.set()
        self.join()
        return memory_figures(self.samples)


def memory_figures(samples: list[tuple[float, int, int]]) -> dict[str, Any]:
    """Start, end and peak RSS (MB, master + workers) and the growth per minute over the second half of the run."""
    if len(samples) < 2:
        return {"samples": len(samples)}
    import numpy as np

    t = np.array([s[0] for s in samples])
    total = np.array([s[1] + s[2] for s in samples]) / 2 ** 20
    half = t >= t[-1] / 2  # the first half warms the caches (features, tiles, prepared statements)
    slope = float(np.polyfit(t[half], total[half], 1)[0] * 60) if half.sum() >= 2 else float("nan")
    return {"samples": len(samples), "start_mb": round(float(total[0]), 1), "end_mb": round(float(total[-1]), 1),
            "peak_mb": round(float(total.max()), 1), "growth_mb_per_min_second_half": round(slope, 2),
            "growth_mb_per_min_whole": round(float((total[-1] - total[0]) / (t[-1] / 60)), 2)}


# -- the registry copy and keys ------------------------------------------------------------


def copy_registry(src: Path, dst: Path) -> Path:
    """A copy with SQLite's backup API (the source may be open elsewhere; never cp a live registry)."""
    with closing(sqlite3.connect(f"file:{src.resolve().as_posix()}?mode=ro", uri=True)) as a, \
            closing(sqlite3.connect(dst)) as b:
        a.backup(b)
    return dst


def editor_keys(path: Path, n: int, prefix: str = "soak") -> dict[str, str]:
    """``n`` editors' keys, by the name recorded as the author of their writes."""
    from rallypoint import Registry
    from rallypoint.api.auth import add_key

    with Registry.open(path) as reg:
        return {f"{prefix}.editor{i}": add_key(reg, f"{prefix}.editor{i}", "editor")[0] for i in range(n)}


def uuids(path: Path, layer: str) -> list[str]:
    with closing(sqlite3.connect(f"file:{path.resolve().as_posix()}?mode=ro", uri=True)) as conn:
        return [r[0] for r in conn.execute(f'SELECT uuid FROM "{layer}" WHERE retired_at IS NULL ORDER BY fid')]


def extent(path: Path, layer: str) -> tuple[float, float, float, float]:
    with closing(sqlite3.connect(f"file:{path.resolve().as_posix()}?mode=ro", uri=True)) as conn:
        return conn.execute("SELECT min_x, min_y, max_x, max_y FROM gpkg_contents WHERE table_name = ?",
                            (layer,)).fetchone()


# -- what was acknowledged, and whether it is there ----------------------------------------


@dataclass
class Ack:
    layer: str
    uuid: str
    version: int
    op: str  # insert, update, retire
    author: str
    values: dict[str, Any]
    at: float = field(default_factory=time.monotonic)  # when the answer came


@dataclass
class Ledger:
    """Every acknowledged write, and the features a write went to without an answer (outcome unknown)."""

    acks: list[Ack] = field(default_factory=list)
    unanswered: set[tuple[str, str]] = field(default_factory=set)
    unanswered_creates: int = 0
    inconsistent: list[str] = field(default_factory=list)  # answers whose ETag and body disagree


def verify(path: Path, ledger: Ledger, *, complete: bool = True) -> list[str]:
    """What is wrong between the acknowledgements and the registry file (empty when nothing is lost).

    ``complete=False``: the ledger holds only some of the writes (those acknowledged before a
    backup), so a feature may be at a later version than its last one there.
    Read with Python's sqlite3 (never GDAL in this process), with no server running.
    """
    from rallypoint.storage.base import HISTORY_TABLE

    problems: list[str] = list(ledger.inconsistent)
    seen = Counter((a.layer, a.uuid, a.version) for a in ledger.acks)
    for (layer, uid, version), n in seen.items():
        if n > 1:
            problems.append(f"{layer} {uid} version {version} was acknowledged {n} times")
    last: dict[tuple[str, str], Ack] = {}
    with closing(sqlite3.connect(f"file:{path.resolve().as_posix()}?mode=ro", uri=True)) as conn:
        for a in ledger.acks:
            row = conn.execute(f"SELECT op, author, after FROM {HISTORY_TABLE} WHERE layer = ? AND uuid = ? "
                               "AND version = ?", (a.layer, a.uuid, a.version)).fetchone()
            if row is None:
                problems.append(f"LOST: {a.op} of {a.layer} {a.uuid} acknowledged as version {a.version} "
                                "is not in the history")
                continue
            op, author, after = row
            if op != a.op or author != a.author:
                problems.append(f"{a.layer} {a.uuid} version {a.version}: history has {op} by {author}, "
                                f"acknowledged {a.op} by {a.author}")
            stored = json.loads(after)["properties"] if after else {}
            differ = {k: (v, stored.get(k)) for k, v in a.values.items() if stored.get(k) != v}
            if differ:
                problems.append(f"{a.layer} {a.uuid} version {a.version}: sent/stored differ {differ}")
            key = (a.layer, a.uuid)
            if key not in last or a.version > last[key].version:
                last[key] = a
        for (layer, uid), a in last.items():
            row = conn.execute(f'SELECT version, retired_at FROM "{layer}" WHERE uuid = ?', (uid,)).fetchone()
            if row is None:
                problems.append(f"LOST: {layer} {uid} is not in the layer at all")
                continue
            version, retired = row
            if version < a.version:
                problems.append(f"LOST: {layer} {uid} is at version {version}, version {a.version} was acknowledged")
            elif version > a.version and complete and (layer, uid) not in ledger.unanswered:
                problems.append(f"{layer} {uid} is at version {version}, but the last write acknowledged or sent "
                                f"made version {a.version}")
            elif version == a.version and bool(retired) != (a.op == "retire"):
                problems.append(f"{layer} {uid}: retired is {bool(retired)} after the acknowledged {a.op}")
    return problems


# -- the clients ---------------------------------------------------------------------------


@dataclass
class Stats:
    statuses: Counter = field(default_factory=Counter)  # (kind, status)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter = field(default_factory=Counter)  # (kind, exception name): no answer at all
    server_errors: list[str] = field(default_factory=list)  # the first 5xx answers, for the report

    def figures(self) -> dict[str, Any]:
        import numpy as np

        kinds = sorted({k for k, _ in self.statuses} | set(self.latencies) | {k for k, _ in self.errors})
        out = {}
        for kind in kinds:
            lat = np.array(self.latencies.get(kind) or [float("nan")]) * 1000
            out[kind] = {"requests": sum(n for (k, _), n in self.statuses.items() if k == kind),
                         "statuses": {str(s): n for (k, s), n in sorted(self.statuses.items()) if k == kind},
                         "no_answer": sum(n for (k, _), n in self.errors.items() if k == kind),
                         "p50_ms": round(float(np.percentile(lat, 50)), 1),
                         "p99_ms": round(float(np.percentile(lat, 99)), 1)}
        return out


class Workload:
    """What the clients ask for: reads of a few layers, tiles, and writes (some conflicting) with editors' keys."""

    def __init__(self, path: Path, keys: dict[str, str], seed: int, hot: int = 4, reads: bool = True):
        rnd = random.Random(seed)
        self.keys = list(keys.items())
        self.teams = uuids(path, HOT_LAYER)
        self.hot = rnd.sample(self.teams, hot)
        self.box = extent(path, HOT_LAYER)
        if not reads:  # writes only (bench/faults.py): any registry with a few teams will do
            return
        self.shelters = uuids(path, "shelters")
        self.box = extent(path, "hazard_points")
        self.pages = random_paths(path, 400, seed)  # bbox pages of hazard points (bench/api_bbox.py's)
        self.tiles = []
        for z in range(10, 17):
            over = tiles_over(path, z)
            self.tiles += [tile_path(t) for t in rnd.sample(over, min(60, len(over)))]
        self.kinds = (["items"] * 6 + ["items_filtered"] * 3 + ["feature"] * 4 + ["tile"] * 6 + ["create"] * 2
                      + ["patch_own"] * 2 + ["retire"] + ["patch_hot"] * 4)

    def point(self, rnd: random.Random) -> list[float]:
        x0, y0, x1, y1 = self.box
        return [round(rnd.uniform(x0, x1), 6), round(rnd.uniform(y0, y1), 6)]


def helipad_props(rnd: random.Random, who: str, n: int) -> dict[str, Any]:
    return {"name": f"{who}-起降点{n}", "adcode": "519921001", "source": BUREAU, "surface": "concrete",
            "pad_length_m": rnd.randint(20, 60), "pad_width_m": rnd.randint(20, 60), "status": "usable"}


class Client:
    """One client: requests one after another until the deadline, recording answers and acknowledgements."""

    TIMEOUT = 120

    def __init__(self, n: int, work: Workload, session, base: str, stats: Stats, ledger: Ledger, seed: int):
        self.rnd = random.Random(seed * 1000 + n)
        self.author, key = work.keys[n % len(work.keys)]
        self.auth = {"Authorization": f"Bearer {key}"}
        self.n, self.work, self.session, self.base, self.stats, self.ledger = n, work, session, base, stats, ledger
        self.own: dict[str, int] = {}  # helipads this client made and has not retired: uuid → version
        self.made = 0

    async def request(self, kind: str, method: str, path: str, *, body: dict | None = None,
                      headers: dict | None = None, target: tuple[str, str] | None = None):
        """(status, headers, parsed body) or None when no answer came; ``target``: the feature written."""
        import aiohttp

        h = dict(headers or {})
        data = None
        if body is not None:
            h["Content-Type"] = "application/geo+json"
            data = json.dumps(body)
        t0 = time.perf_counter()
        try:
            async with self.session.request(method, self.base + path, data=data, headers=h) as r:
                raw = await r.read()
                status, rh = r.status, r.headers
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            self.stats.errors[(kind, type(exc).__name__)] += 1
            if target is not None:
                self.ledger.unanswered.add(target)
            elif method == "POST":
                self.ledger.unanswered_creates += 1
            return None
        self.stats.latencies[kind].append(time.perf_counter() - t0)
        self.stats.statuses[(kind, status)] += 1
        if status >= 500 and len(self.stats.server_errors) < 20:
            self.stats.server_errors.append(f"{method} {path} → {status}: {raw[:300]!r}")
        parsed = None
        if raw and rh.get("Content-Type", "").split(";")[0].endswith("json"):
            parsed = json.loads(raw)
        return status, rh, parsed

    def _ack(self, layer: str, uuid: str, version: int, op: str, values: dict[str, Any]) -> None:
        self.ledger.acks.append(Ack(layer, uuid, version, op, self.author, values))

    def _version(self, headers, body, uuid: str) -> int:
        """The version an answer says the write made; its ETag and its body must agree."""
        version = body["properties"]["version"]
        etag = (headers.get("ETag") or "").replace(":gzip", "")  # Flask-Compress marks the tags it gzipped
        if etag != f'"{uuid}-v{version}"':
            self.ledger.inconsistent.append(f"ETag {headers.get('ETag')} and body version {version} of {uuid} differ")
        return version

    async def create(self) -> None:
        self.made += 1
        props = helipad_props(self.rnd, self.author, self.made)
        body = {"type": "Feature", "geometry": {"type": "Point", "coordinates": self.work.point(self.rnd)},
                "properties": props}
        got = await self.request("create", "POST", f"/collections/{OWN_LAYER}/items", body=body, headers=self.auth)
        if got and got[0] == 201:
            uid = got[2]["id"]
            version = self._version(got[1], got[2], uid)
            self._ack(OWN_LAYER, uid, version, "insert", props)
            self.own[uid] = version

    async def patch_own(self) -> None:
        if not self.own:
            return await self.create()
        uid = self.rnd.choice(list(self.own))
        values = {"pad_length_m": self.rnd.randint(20, 60), "night_lighting": self.rnd.random() < 0.5}
        got = await self.request("patch_own", "PATCH", f"/collections/{OWN_LAYER}/items/{uid}",
                                 body={"type": "Feature", "properties": values}, target=(OWN_LAYER, uid),
                                 headers=self.auth | {"If-Match": f'"{uid}-v{self.own[uid]}"'})
        if got is None:
            self.own.pop(uid)  # its version is unknown now
        elif got[0] == 200:
            self.own[uid] = self._version(got[1], got[2], uid)
            self._ack(OWN_LAYER, uid, self.own[uid], "update", values)

    async def retire(self) -> None:
        if not self.own:
            return await self.create()
        uid = self.rnd.choice(list(self.own))
        version = self.own.pop(uid)
        got = await self.request("retire", "DELETE", f"/collections/{OWN_LAYER}/items/{uid}", target=(OWN_LAYER, uid),
                                 headers=self.auth | {"If-Match": f'"{uid}-v{version}"'})
        if got and got[0] == 204:  # no body: If-Match made it the next version
            self._ack(OWN_LAYER, uid, version + 1, "retire", {})

    async def patch_hot(self) -> None:
        """Read a hot team and change it with the ETag read: many clients do this to the same few at once."""
        uid = self.rnd.choice(self.work.hot)
        got = await self.request("feature", "GET", f"/collections/{HOT_LAYER}/items/{uid}", headers=self.auth)
        if not got or got[0] != 200:
            return
        values = {"members": self.rnd.randint(10, 200), "readiness_min": self.rnd.randint(1, 60)}
        got = await self.request("patch_hot", "PATCH", f"/collections/{HOT_LAYER}/items/{uid}",
                                 body={"type": "Feature", "properties": values}, target=(HOT_LAYER, uid),
                                 headers=self.auth | {"If-Match": got[1]["ETag"]})
        if got and got[0] == 200:
            self._ack(HOT_LAYER, uid, self._version(got[1], got[2], uid), "update", values)

    async def read(self, kind: str) -> None:
        rnd, work = self.rnd, self.work
        if kind == "items":
            path = rnd.choice(work.pages)
        elif kind == "items_filtered":
            x0, y0, x1, y1 = work.box
            w = rnd.uniform(0.02, 0.1)
            x, y = rnd.uniform(x0, x1 - w), rnd.uniform(y0, y1 - w)
            if rnd.random() < 0.5:
                path = (f"/collections/shelters/items?bbox={x:.4f},{y:.4f},{x + w:.4f},{y + w:.4f}"
                        f"&status={rnd.choice(['open', 'standby'])}&limit=50")
            else:
                path = (f"/collections/{HOT_LAYER}/items?filter=members%20%3E%3D%20{rnd.randint(10, 150)}"
                        f"%20AND%20S_INTERSECTS(geometry,BBOX({x:.4f},{y:.4f},{x + w:.4f},{y + w:.4f}))&limit=50")
        elif kind == "feature":
            layer, ids = rnd.choice([("shelters", work.shelters), (HOT_LAYER, work.teams)])
            path = f"/collections/{layer}/items/{rnd.choice(ids)}"
        else:
            path = rnd.choice(work.tiles)
        await self.request(kind, "GET", path, headers=self.auth if rnd.random() < 0.3 else None)

    async def run(self, deadline: float, stop: asyncio.Event) -> None:
        while time.monotonic() < deadline and not stop.is_set():
            kind = self.rnd.choice(self.work.kinds)
            if kind == "create":
                await self.create()
            elif kind == "patch_own":
                await self.patch_own()
            elif kind == "retire":
                await self.retire()
            elif kind == "patch_hot":
                await self.patch_hot()
            else:
                await self.read(kind)


async def drive(base: str, work: Workload, clients: int, duration: float, stats: Stats, ledger: Ledger,
                seed: int, stop: asyncio.Event | None = None) -> None:
    """``clients`` clients against ``base`` for ``duration`` seconds (or until ``stop`` is set)."""
    import aiohttp

    stop = stop or asyncio.Event()
    connector = aiohttp.TCPConnector(limit=clients, force_close=False)
    timeout = aiohttp.ClientTimeout(total=Client.TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout,
                                     headers={"Accept-Encoding": "gzip"}) as session:
        deadline = time.monotonic() + duration
        await asyncio.gather(*(Client(n, work, session, base, stats, ledger, seed).run(deadline, stop)
                               for n in range(clients)))


# -- one soak run --------------------------------------------------------------------------


def run_soak(registry: Path, folder: Path, *, clients: int = 60, duration: float = 300, workers: int = 2,
             threads: int = 4, seed: int = 20261123, gdal: bool = True) -> dict[str, Any]:
    """Serve a copy of ``registry`` from ``folder`` and soak it; every figure and every problem found."""
    from rallypoint.check import check_registry

    path = copy_registry(registry, folder / "soak.gpkg")
    keys = editor_keys(path, 5)
    work = Workload(path, keys, seed)
    stats, ledger = Stats(), Ledger()
    load_before = os.getloadavg()
    server = Served(path, workers=workers, threads=threads, log=folder / "server.log")
    sampler = MemorySampler(server)
    sampler.start()
    t0 = time.monotonic()
    try:
        asyncio.run(drive(server.url, work, clients, duration, stats, ledger, seed))
    finally:
        elapsed = time.monotonic() - t0
        memory = sampler.finish()
        load_after = os.getloadavg()
        server.stop()
    problems = verify(path, ledger)
    problems += [str(p) for p in check_registry(path, gdal=gdal)]
    log = server.log_text()
    five_xx = sum(n for (_, s), n in stats.statuses.items() if s >= 500)
    requests = sum(stats.statuses.values())
    ops = Counter(a.op for a in ledger.acks)
    return {
        "registry": registry.name, "clients": clients, "workers": workers, "threads": threads,
        "seconds": round(elapsed, 1), "requests": requests, "rate_per_s": round(requests / elapsed, 1),
        "responses_5xx": five_xx, "no_answer": sum(stats.errors.values()),
        "conflicts_412": sum(n for (k, s), n in stats.statuses.items() if s == 412),
        "acknowledged_writes": len(ledger.acks), "acknowledged_by_op": dict(ops),
        "lost_or_altered": [p for p in problems if p], "server_tracebacks": log.count("Traceback"),
        "first_5xx": stats.server_errors, "by_kind": stats.figures(), "memory": memory,
        "cpus": os.cpu_count(), "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in load_after],
    }


def failures(result: dict[str, Any]) -> list[str]:
    """Why a soak run failed: any 5xx, any write lost or altered, a traceback in the server's log."""
    out = []
    if result["responses_5xx"]:
        out.append(f"{result['responses_5xx']} answers with a 5xx status: {result['first_5xx'][:5]}")
    out += result["lost_or_altered"][:50]
    if result["server_tracebacks"]:
        out.append(f"{result['server_tracebacks']} tracebacks in the server's log")
    return out


def report(result: dict[str, Any]) -> str:
    lines = [f"soak of {result['registry']}: {result['clients']} clients, {result['workers']} workers × "
             f"{result['threads']} threads, {result['seconds']} s, {result['cpus']} CPUs, load "
             f"{result['load_before'][0]} → {result['load_after'][0]}",
             f"  {result['requests']:,} requests ({result['rate_per_s']}/s), 5xx: {result['responses_5xx']}, "
             f"no answer: {result['no_answer']}, 412 conflicts: {result['conflicts_412']}",
             f"  acknowledged writes: {result['acknowledged_writes']:,} {result['acknowledged_by_op']}, "
             f"lost or altered: {len(result['lost_or_altered'])}",
             "  kind             requests   p50 ms   p99 ms  statuses"]
    for kind, f in result["by_kind"].items():
        lines.append(f"  {kind:<16} {f['requests']:>8,} {f['p50_ms']:>8} {f['p99_ms']:>8}  {f['statuses']}"
                     + (f" no answer {f['no_answer']}" if f["no_answer"] else ""))
    m = result["memory"]
    if "start_mb" in m:
        lines.append(f"  server RSS (master + workers): start {m['start_mb']} MB, end {m['end_mb']} MB, "
                     f"peak {m['peak_mb']} MB; growth {m['growth_mb_per_min_whole']} MB/min over the run, "
                     f"{m['growth_mb_per_min_second_half']} MB/min over its second half")
    return "\n".join(lines)


def sample_registry(folder: Path, size: str) -> Path:
    from rallypoint.sample import write_sample

    path = folder / f"{size}.gpkg"
    write_sample(path, size)
    return path


def bench_arguments(doc: str, what: str) -> argparse.ArgumentParser:
    """The options soak.py and faults.py share: the registry, the seed, a JSON file of the figures."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--registry", type=Path, help=f"a registry to {what} (default: a new county sample)")
    ap.add_argument("--seed", type=int, default=20261123)
    ap.add_argument("--json", type=Path, help="write the figures here as JSON too")
    return ap


def main() -> None:
    ap = bench_arguments(__doc__, "soak a copy of")
    ap.add_argument("--clients", type=int, default=60)
    ap.add_argument("--duration", type=float, default=300, help="seconds")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=4)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="rallypoint-soak-") as tmp:
        folder = Path(tmp)
        registry = args.registry or sample_registry(folder, "county")
        result = run_soak(registry, folder, clients=args.clients, duration=args.duration, workers=args.workers,
                          threads=args.threads, seed=args.seed)
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=1))
    bad = failures(result)
    for line in bad:
        print("FAIL:", line)
    raise SystemExit(1 if bad else 0)


if __name__ == "__main__":
    main()
