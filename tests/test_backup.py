"""``rallypoint backup`` of a registry a server is writing, and ``rallypoint restore-backup``.

The backup is taken while clients keep writing through a real server; every write
acknowledged before the backup started must be in it, and in the registry after a
restore. A bad backup is refused and changes nothing; so is a restore while a server
has the registry open; a restore killed half-way leaves the registry as it was or as
the backup, never anything else.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner
from web_support import Server, copy_registry, make_key

from rallypoint.check import check_registry
from rallypoint.cli.main import cli

pytestmark = pytest.mark.slow


def history_rows(path: Path) -> int:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return conn.execute("SELECT count(*) FROM rp_history").fetchone()[0]


def helipad_uuids(path: Path) -> set[str]:
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return {r[0] for r in conn.execute("SELECT uuid FROM helipads")}


class Writers:
    """Threads adding helipads through the server until stopped; each acknowledged uuid with the time of its 201."""

    def __init__(self, url: str, key: str, n: int = 3):
        self.url, self.key = url, key
        self.acks: list[tuple[float, str]] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(n)]
        for t in self._threads:
            t.start()

    def _run(self, i: int) -> None:
        k = 0
        while not self._stop.is_set():
            k += 1
            body = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [103.72 + k % 100 / 1e4, 30.61]},
                    "properties": {"name": f"备份测试{i}-{k}", "adcode": "519921101", "source": "示例县应急管理局",
                                   "surface": "concrete", "pad_length_m": 30, "pad_width_m": 30, "status": "usable"}}
            req = urllib.request.Request(self.url + "/collections/helipads/items", data=json.dumps(body).encode(),
                                         method="POST", headers={"Authorization": f"Bearer {self.key}",
                                                                 "Content-Type": "application/geo+json"})
            try:
                with urllib.request.urlopen(req, timeout=60) as r:
                    uid = json.loads(r.read())["id"]
                    self.acks.append((time.monotonic(), uid))
            except (urllib.error.URLError, OSError) as exc:
                if not self._stop.is_set():
                    self.failures.append(repr(exc))

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=60)


@pytest.fixture
def served_copy(county_sample, tmp_path):
    path = copy_registry(county_sample, tmp_path / "county.gpkg")
    key = make_key(path, "zhang.wei", "editor")
    server = Server(path, workers=2, threads=2)
    yield path, server, key
    server.stop()


def run_cli(*args: str):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    result.said = " ".join(result.output.split())  # the console wraps long lines
    return result


def test_backup_while_writing_then_restore_keeps_every_write_acknowledged_before_it(served_copy, tmp_path):
    path, server, key = served_copy
    writers = Writers(server.url, key)
    try:
        while len(writers.acks) < 20:
            time.sleep(0.05)
        started = time.monotonic()
        before = {uid for t, uid in writers.acks if t < started}
        result = run_cli("backup", path, tmp_path / "backup.gpkg")
        assert result.exit_code == 0, result.output
        finished = time.monotonic()
        while not any(t > finished for t, _ in writers.acks):  # the server went on writing after it
            time.sleep(0.05)
        # a restore while the server has the registry open is refused and changes nothing
        rows = history_rows(path)
        refused = run_cli("restore-backup", tmp_path / "backup.gpkg", path)
        assert refused.exit_code == 1
        assert "open in another process" in refused.said and "stop it first" in refused.said
    finally:
        writers.stop()
        server.stop()
    assert not writers.failures, writers.failures[:3]
    assert history_rows(path) >= rows
    backup = tmp_path / "backup.gpkg"
    assert check_registry(backup) == []
    in_backup = helipad_uuids(backup)
    assert before <= in_backup, f"{len(before - in_backup)} acknowledged writes missing from the backup"
    after = {uid for t, uid in writers.acks if t > finished}
    assert after and not after & in_backup  # a snapshot of one moment, not of the end

    result = run_cli("restore-backup", backup, path)
    assert result.exit_code == 0, result.output
    assert helipad_uuids(path) == in_backup
    assert history_rows(path) == history_rows(backup)
    assert check_registry(path) == []


def test_backup_refuses_to_overwrite_without_force_and_keeps_the_old_one(county_sample, tmp_path):
    out = tmp_path / "b.gpkg"
    assert run_cli("backup", county_sample, out).exit_code == 0
    assert out.stat().st_mode & 0o777 == county_sample.stat().st_mode & 0o777  # not the temporary file's 0600
    stamp = out.stat().st_mtime_ns
    again = run_cli("backup", county_sample, out)
    assert again.exit_code == 1 and "already exists" in again.said and "--force" in again.said
    assert out.stat().st_mtime_ns == stamp
    assert run_cli("backup", county_sample, out, "--force").exit_code == 0
    assert check_registry(out) == []
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []  # no temporary file left


def test_backup_of_something_that_is_not_a_registry_is_refused(tmp_path):
    bad = tmp_path / "notes.gpkg"
    bad.write_text("not a database")
    result = run_cli("backup", bad, tmp_path / "b.gpkg")
    assert result.exit_code == 1 and "not a GeoPackage" in result.said
    assert not (tmp_path / "b.gpkg").exists()


def _corrupt_middle(path: Path) -> None:
    """Overwrite one page in the middle of the file with noise (no SQLite connection of this process has it open)."""
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.seek((size // 2) // 4096 * 4096)
        f.write(random.Random(7).randbytes(4096))


@pytest.mark.parametrize("damage", ["noise in a page", "cut short", "not a database"])
def test_a_damaged_backup_is_refused_and_the_registry_is_unchanged(county_sample, tmp_path, damage):
    registry = copy_registry(county_sample, tmp_path / "county.gpkg")
    backup = copy_registry(county_sample, tmp_path / "backup.gpkg")
    if damage == "noise in a page":
        _corrupt_middle(backup)
    elif damage == "cut short":
        os.truncate(backup, backup.stat().st_size // 3)
    else:
        backup.write_bytes(b"PK\x03\x04 a zip file, say")
    rows = history_rows(registry)
    result = run_cli("restore-backup", backup, registry)
    assert result.exit_code == 1
    assert "not a sound registry" in result.said and "backup.gpkg" in result.said
    assert "unchanged" in result.said
    assert history_rows(registry) == rows
    assert check_registry(registry) == []


def test_restore_into_a_registry_sqlite_cannot_read_replaces_it(county_sample, tmp_path):
    backup = copy_registry(county_sample, tmp_path / "backup.gpkg")
    registry = tmp_path / "county.gpkg"
    registry.write_bytes(b"\0" * 8192)
    Path(f"{registry}-wal").write_bytes(b"stale journal of the lost file")
    result = run_cli("restore-backup", backup, registry)
    assert result.exit_code == 0, result.output
    assert not Path(f"{registry}-wal").exists() or Path(f"{registry}-wal").stat().st_size == 0
    assert history_rows(registry) == history_rows(backup)
    assert check_registry(registry) == []


RESTORE = "from rallypoint.cli.main import cli; cli()"


def test_a_restore_killed_at_random_moments_leaves_the_old_registry_or_the_backup(county_sample, tmp_path):
    """The pages go in as one SQLite transaction: killed in the middle, the registry is as it was."""
    from shapely.geometry import Point

    from rallypoint import Registry

    from conftest import helipad

    backup = copy_registry(county_sample, tmp_path / "backup.gpkg")
    registry = copy_registry(county_sample, tmp_path / "county.gpkg")
    with Registry.open(registry) as reg:  # the registry has moved on since the backup
        reg.add_many("helipads", [(helipad(adcode="519921101", name=f"后加{i}"), Point(103.72, 30.61))
                                  for i in range(300)], author="later")
    old, new = history_rows(registry), history_rows(backup)
    rng = random.Random(20261124)
    for _ in range(4):
        proc = subprocess.Popen([sys.executable, "-c", RESTORE, "restore-backup", "--no-gdal", str(backup),
                                 str(registry)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for line in proc.stderr:  # its progress: the write starts after the check of the backup
            if line.startswith("writing"):
                break
        time.sleep(rng.uniform(0, 0.6))  # writing and checking the pages of the county sample takes ~0.9 s
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
        rows = history_rows(registry)
        assert rows in (old, new), rows
        with closing(sqlite3.connect(registry)) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        if rows == new:  # it went through: put the newer registry back for the next round
            with Registry.open(registry) as reg:
                reg.add_many("helipads", [(helipad(adcode="519921101", name=f"后加{i}"), Point(103.72, 30.61))
                                          for i in range(300)], author="later")
            old = history_rows(registry)
    assert check_registry(registry) == []
