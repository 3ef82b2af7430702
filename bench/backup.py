"""Backup of a registry that a server is writing, and its restore: how long, and is everything there.

A copy of the registry is served (``rallypoint serve``, 2 workers × 2 threads) while
``--writers`` clients write through it without pause (bench/soak.py's writing clients).
``rallypoint backup`` runs in the middle of that; a ``restore-backup`` is tried while the
server still runs (it must be refused); then the server is stopped and the backup restored.
Every write acknowledged before the backup started must be in the backup and in the
restored registry, and none acknowledged after the backup finished may be in it (it is one
moment, not a smear). The times are of the whole commands, checks included.

    python bench/backup.py                              # the county sample (9 MB)
    python bench/backup.py --registry city.gpkg         # the city (~430 MB)
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from faults import WRITES  # noqa: E402
from soak import (Ledger, Served, Stats, Workload, bench_arguments, copy_registry, drive, editor_keys,  # noqa: E402
                  sample_registry, verify)

CLI = "from rallypoint.cli.main import cli; cli()"


def rallypoint(*args: object) -> tuple[int, float, str]:
    t = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", CLI, *map(str, args)], capture_output=True, text=True)
    return proc.returncode, time.monotonic() - t, (proc.stdout + proc.stderr).strip()


async def _backup_while_writing(server: Served, work: Workload, writers: int, live: Path, out: Path, stats: Stats,
                                ledger: Ledger, seed: int) -> dict:
    stop = asyncio.Event()
    clients = asyncio.create_task(drive(server.url, work, writers, 3600, stats, ledger, seed, stop))
    await asyncio.sleep(3)
    started = time.monotonic()
    loop = asyncio.get_running_loop()
    code, seconds, said = await loop.run_in_executor(None, rallypoint, "backup", live, out)
    finished = time.monotonic()
    refused = await loop.run_in_executor(None, rallypoint, "restore-backup", "--no-gdal", out, live)
    await asyncio.sleep(2)
    stop.set()
    await clients
    return {"started": started, "finished": finished, "backup_exit": code, "backup_s": round(seconds, 1),
            "backup_said": said[-300:], "restore_while_served_exit": refused[0],
            "restore_while_served_said": refused[2][-200:]}


def history_rows(path: Path) -> int:
    with closing(sqlite3.connect(f"file:{path.resolve().as_posix()}?mode=ro", uri=True)) as conn:
        return conn.execute("SELECT count(*) FROM rp_history").fetchone()[0]


def in_history(path: Path, acks: list) -> int:
    """How many of ``acks`` are in the history of the registry at ``path``."""
    with closing(sqlite3.connect(f"file:{path.resolve().as_posix()}?mode=ro", uri=True)) as conn:
        return sum(conn.execute("SELECT count(*) FROM rp_history WHERE layer = ? AND uuid = ? AND version = ?",
                                (a.layer, a.uuid, a.version)).fetchone()[0] for a in acks)


def run(registry: Path, folder: Path, *, writers: int = 8, seed: int = 20261123) -> dict:
    live = copy_registry(registry, folder / "live.gpkg")
    out = folder / "backup.gpkg"
    work = Workload(live, editor_keys(live, 4, "backup"), seed, reads=False)
    work.kinds = WRITES
    stats, ledger = Stats(), Ledger()
    server = Served(live, workers=2, threads=2, log=folder / "server.log")
    try:
        r = asyncio.run(_backup_while_writing(server, work, writers, live, out, stats, ledger, seed))
    finally:
        server.stop()
    before = Ledger(acks=[a for a in ledger.acks if a.at < r["started"]])
    during = [a for a in ledger.acks if r["started"] <= a.at <= r["finished"]]
    after = [a for a in ledger.acks if a.at > r["finished"]]
    problems = [f"backup: {p}" for p in verify(out, before, complete=False)] if r["backup_exit"] == 0 else \
        [f"the backup failed: {r['backup_said']}"]
    later = in_history(out, after)
    if later:
        problems.append(f"{later} writes acknowledged after the backup finished are in it")
    if r["restore_while_served_exit"] == 0:
        problems.append("restore-backup went through while the server had the registry open")
    code, restore_s, said = rallypoint("restore-backup", out, live)
    if code != 0:
        problems.append(f"the restore failed: {said[-300:]}")
    problems += [f"restored: {p}" for p in verify(live, before, complete=False)]
    if history_rows(live) != history_rows(out):
        problems.append("the restored registry's history is not the backup's")
    return {"registry": registry.name, "bytes": out.stat().st_size if out.exists() else 0, "writers": writers,
            "backup_s": r["backup_s"], "restore_s": round(restore_s, 1),
            "acknowledged_before": len(before.acks), "acknowledged_during": len(during),
            "acknowledged_after": len(after), "restore_while_served": r["restore_while_served_said"],
            "responses_5xx": sum(n for (_, s), n in stats.statuses.items() if s >= 500), "problems": problems}


def main() -> None:
    ap = bench_arguments(__doc__, "serve, back up and restore a copy of")
    ap.add_argument("--writers", type=int, default=8)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="rallypoint-backup-") as tmp:
        folder = Path(tmp)
        registry = args.registry or sample_registry(folder, "county")
        result = run(registry, folder, writers=args.writers, seed=args.seed)
    print(f"backup of {result['registry']} ({result['bytes'] / 2 ** 20:.0f} MB) while {result['writers']} clients "
          f"wrote: {result['backup_s']} s; {result['acknowledged_before']} writes acknowledged before it, "
          f"{result['acknowledged_during']} during it, {result['acknowledged_after']} after it; restore "
          f"{result['restore_s']} s; 5xx {result['responses_5xx']}; problems {len(result['problems'])}")
    print(f"restore while the server ran: {result['restore_while_served']}")
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=1))
    for line in result["problems"][:50]:
        print("FAIL:", line)
    raise SystemExit(1 if result["problems"] else 0)


if __name__ == "__main__":
    main()
