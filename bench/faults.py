"""Faults: the server and an import are killed with SIGKILL at random moments, many times.

**Server** (``--server-rounds``): a real ``rallypoint serve`` (gunicorn master and workers, in
a process group of its own) on a copy of a sample registry, with ``--writers`` clients
writing through it as fast as they can (bench/soak.py's clients, writes only: new
helipads, PATCH and DELETE with If-Match, conflicting PATCHes of a few hot teams). At a
random moment the whole group is killed with SIGKILL, mid-request; the server is started
again on the same file for the next round. After every kill: SQLite's integrity check is
``ok``, every write acknowledged so far (in every round) is in the history at its version,
with its values, and every feature is at its last acknowledged version (later only if a
write to it was cut off unanswered), and the whole ``check_registry`` passes, GDAL's
``validate_gpkg`` included (the shortened test runs GDAL's part every few rounds).

**Import** (``--import-rounds``): ``rallypoint import`` of a GeoJSON file of
``--features`` new hazard points into a fresh copy of the registry, killed with SIGKILL
at a random moment of its run (its full run is timed first). Afterwards the registry
holds all of the file's features with their history, or none of them, and passes its
checks.

    python bench/faults.py                                # 100 server kills, 40 import kills
    python bench/faults.py --server-rounds 20 --import-rounds 8 --json faults.json

tests/test_faults.py runs a shortened form of both in the suite.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid as uuidlib
from collections import Counter
from contextlib import closing
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from soak import BUREAU, Ledger, Served, Stats, Workload, copy_registry, drive, editor_keys, extent, verify  # noqa: E402

WRITES = ["create", "create", "patch_own", "patch_own", "retire", "patch_hot", "patch_hot"]


def integrity(path: Path) -> str:
    with closing(sqlite3.connect(f"file:{path.resolve().as_posix()}?mode=ro", uri=True)) as conn:
        return "; ".join(r[0] for r in conn.execute("PRAGMA integrity_check"))


async def _write_until_killed(server: Served, work: Workload, writers: int, delay: float, stats: Stats,
                              ledger: Ledger, seed: int) -> None:
    stop = asyncio.Event()
    clients = asyncio.create_task(drive(server.url, work, writers, 3600, stats, ledger, seed, stop))
    # the random moment is counted from the round's first acknowledged write, so a slow start (a loaded
    # machine) still kills a server that writes, not one still opening its connections
    acked, until = len(ledger.acks), time.monotonic() + 60
    while len(ledger.acks) == acked and time.monotonic() < until and not clients.done():
        await asyncio.sleep(0.01)
    await asyncio.sleep(delay)
    stop.set()  # no new requests; those in flight are cut off by the kill
    await asyncio.get_running_loop().run_in_executor(None, server.kill)
    await clients


def server_kill_rounds(registry: Path, folder: Path, *, rounds: int = 100, writers: int = 8, workers: int = 2,
                       threads: int = 2, max_delay: float = 2.5, gdal_every: int = 1,
                       seed: int = 20261123) -> dict[str, Any]:
    """Kill a writing server ``rounds`` times; every figure and every problem found."""
    from rallypoint.check import check_registry

    path = copy_registry(registry, folder / "killed-server.gpkg")
    work = Workload(path, editor_keys(path, 4, "faults"), seed, reads=False)
    work.kinds = WRITES
    rng = random.Random(seed)
    stats, ledger = Stats(), Ledger()
    problems: list[str] = []
    t0 = time.monotonic()
    for r in range(rounds):
        server = Served(path, workers=workers, threads=threads, log=folder / "killed-server.log")
        delay = rng.uniform(0.2, max_delay)
        asyncio.run(_write_until_killed(server, work, writers, delay, stats, ledger, seed + r))
        state = integrity(path)
        if state != "ok":
            problems.append(f"round {r + 1}: SQLite integrity check: {state}")
            break
        found = verify(path, ledger)
        last = r == rounds - 1
        found += [str(p) for p in check_registry(path, gdal=last or (r + 1) % gdal_every == 0)]
        problems += [f"round {r + 1}: {p}" for p in found]
        if found:
            break
    five_xx = sum(n for (_, s), n in stats.statuses.items() if s >= 500)
    tracebacks = (folder / "killed-server.log").read_text(errors="replace").count("Traceback")
    if tracebacks:
        problems.append(f"{tracebacks} tracebacks in the server's log")
    return {"rounds": r + 1, "seconds": round(time.monotonic() - t0, 1), "writers": writers,
            "acknowledged_writes": len(ledger.acks), "acknowledged_by_op": dict(Counter(a.op for a in ledger.acks)),
            "cut_off_unanswered": sum(stats.errors.values()), "conflicts_412": sum(
                n for (_, s), n in stats.statuses.items() if s == 412),
            "responses_5xx": five_xx, "first_5xx": stats.server_errors, "problems": problems}


# -- killed imports ------------------------------------------------------------------------


def hazard_file(registry: Path, out: Path, n: int, seed: int) -> list[str]:
    """A GeoJSON file of ``n`` new hazard points with Rallypoint's own fields; their UUIDs."""
    rnd = random.Random(seed)
    x0, y0, x1, y1 = extent(registry, "hazard_points")
    feats, ids = [], []
    for i in range(n):
        uid = str(uuidlib.UUID(int=rnd.getrandbits(128), version=4))
        ids.append(uid)
        props = {"uuid": uid, "name": f"导入隐患点{i}", "adcode": "519921001", "source": BUREAU,
                 "hazard_type": rnd.choice(["landslide", "flood_point", "collapse"]),
                 "threatened_people": rnd.randint(0, 500), "threatened_property": rnd.randint(0, 2000),
                 "status": "active"}
        xy = [round(rnd.uniform(x0, x1), 6), round(rnd.uniform(y0, y1), 6)]
        feats.append({"type": "Feature", "geometry": {"type": "Point", "coordinates": xy}, "properties": props})
    out.write_text(json.dumps({"type": "FeatureCollection", "features": feats}, ensure_ascii=False))
    return ids


def imported(path: Path, ids: list[str]) -> tuple[int, int]:
    """How many of ``ids`` are in hazard_points, and how many history rows they have."""
    with closing(sqlite3.connect(f"file:{path.resolve().as_posix()}?mode=ro", uri=True)) as conn:
        conn.execute("CREATE TEMP TABLE ids (uuid TEXT PRIMARY KEY)")
        conn.executemany("INSERT INTO ids VALUES (?)", ((i,) for i in ids))
        n = conn.execute("SELECT count(*) FROM hazard_points WHERE uuid IN (SELECT uuid FROM ids)").fetchone()[0]
        h = conn.execute("SELECT count(*) FROM rp_history WHERE layer = 'hazard_points' "
                         "AND uuid IN (SELECT uuid FROM ids)").fetchone()[0]
    return n, h


def _fresh_copy(pristine: Path, work: Path) -> None:
    for p in (work, Path(f"{work}-wal"), Path(f"{work}-shm")):
        p.unlink(missing_ok=True)
    copy_registry(pristine, work)


IMPORT = "from rallypoint.cli.main import cli; cli()"


def _import(work: Path, source: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", IMPORT, "import", str(work), str(source), "--layer",
                             "hazard_points", "--author", "faults.import"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def import_kill_rounds(registry: Path, folder: Path, *, rounds: int = 40, features: int = 2000,
                       gdal_every: int = 1, seed: int = 20261123) -> dict[str, Any]:
    """Kill ``rallypoint import`` at random moments ``rounds`` times; every figure and every problem found."""
    from rallypoint.check import check_registry

    pristine = copy_registry(registry, folder / "pristine.gpkg")
    source = folder / "hazards.geojson"
    ids = hazard_file(pristine, source, features, seed)
    work = folder / "killed-import.gpkg"
    _fresh_copy(pristine, work)
    t = time.monotonic()
    proc = _import(work, source)
    _, err = proc.communicate(timeout=600)
    full = time.monotonic() - t
    problems: list[str] = []
    if proc.returncode != 0 or imported(work, ids) != (features, features):
        problems.append(f"the import does not complete when left alone: {err.decode()[-500:]}")
    rng = random.Random(seed)
    outcomes: Counter = Counter()
    t0 = time.monotonic()
    for r in range(rounds if not problems else 0):
        _fresh_copy(pristine, work)
        delay = rng.uniform(0.2 * full, 0.95 * full)  # the start is the interpreter loading: kill later more often
        proc = _import(work, source)
        try:
            proc.wait(timeout=delay)
            finished = True
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            finished = False
        proc.stderr.close()
        state = integrity(work)
        n, h = imported(work, ids)
        if state != "ok":
            problems.append(f"round {r + 1}: SQLite integrity check: {state}")
        if (n, h) not in ((0, 0), (features, features)):
            problems.append(f"round {r + 1}: a partial import: {n} of {features} features, {h} history rows")
        outcome = ("completed" if finished else "killed after its commit") if n else "killed before its commit"
        outcomes[outcome] += 1
        last = r == rounds - 1
        problems += [f"round {r + 1}: {p}" for p in check_registry(work, gdal=last or (r + 1) % gdal_every == 0)]
        if problems:
            break
    return {"rounds": sum(outcomes.values()), "features": features, "full_run_s": round(full, 1),
            "seconds": round(time.monotonic() - t0, 1), "outcomes": dict(outcomes), "problems": problems}


def main() -> None:
    from soak import bench_arguments, sample_registry

    ap = bench_arguments(__doc__, "use copies of")
    ap.add_argument("--server-rounds", type=int, default=100)
    ap.add_argument("--import-rounds", type=int, default=40)
    ap.add_argument("--writers", type=int, default=8)
    ap.add_argument("--features", type=int, default=2000, help="features in the imported file")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="rallypoint-faults-") as tmp:
        folder = Path(tmp)
        registry = args.registry or sample_registry(folder, "county")
        result = {"server": server_kill_rounds(registry, folder, rounds=args.server_rounds, writers=args.writers,
                                               seed=args.seed),
                  "import": import_kill_rounds(registry, folder, rounds=args.import_rounds, features=args.features,
                                               seed=args.seed)}
    s, i = result["server"], result["import"]
    print(f"server killed {s['rounds']} times in {s['seconds']} s: {s['acknowledged_writes']:,} acknowledged writes "
          f"{s['acknowledged_by_op']}, {s['cut_off_unanswered']} cut off unanswered, {s['conflicts_412']} 412s, "
          f"5xx {s['responses_5xx']}, problems {len(s['problems'])}")
    print(f"import of {i['features']} features ({i['full_run_s']} s alone) killed {i['rounds']} times: "
          f"{i['outcomes']}, problems {len(i['problems'])}")
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=1))
    bad = s["problems"] + i["problems"] + ([f"{s['responses_5xx']} 5xx answers"] if s["responses_5xx"] else [])
    for line in bad[:50]:
        print("FAIL:", line)
    raise SystemExit(1 if bad else 0)


if __name__ == "__main__":
    main()
