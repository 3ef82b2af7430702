"""A push to a server is one request that lands all or nothing, and sent again it lands once: killed half-way on
either side, against a real ``rallypoint serve`` (gunicorn), on a GeoPackage and on PostGIS.

* the **server's worker** is killed (SIGKILL) while it is inside the push's transaction: the registry has none of
  the push (no feature changed, no history row), the client reports the broken connection, and the push sent
  again (under the same push id, kept in the check-out) lands whole, once;
* the **client** (``rallypoint push``) is killed while the server is inside the push's transaction: the server
  finishes and commits all of it, the check-out never hears; the push sent again finds the changes there
  (already applied, nothing written twice) and records them, so nothing is left to send and nothing conflicts.

"Inside the transaction" is observed, not guessed: the file's write lock is held (a GeoPackage), or the server's
database session has begun writing (PostGIS: its transaction has an id).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import county_copy, require
from web_support import Server, make_key

from rallypoint import Registry
from rallypoint.cli.main import cli
from rallypoint.sync import CheckoutBase, pending, push

pytestmark = [pytest.mark.slow, pytest.mark.soak]

N = 1500  # hazard points changed in the check-out: one push's worth, a few seconds of the server's batch


def writing(location) -> bool:
    """Whether a writer is inside a transaction of the registry right now."""
    if "://" in str(location):
        import psycopg

        with psycopg.connect(str(location), autocommit=True) as conn:
            return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL").fetchone()[0] > 0
    conn = sqlite3.connect(location, timeout=0, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            return True
        raise
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.close()
    return False


def wait_until(check, what: str, timeout: float = 120, every: float = 0.005) -> None:
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"waited {timeout} s for {what}")
        time.sleep(every)


@pytest.fixture(params=["gpkg", "postgis"])
def setup(request, tmp_path):
    require("psutil", "to find the server's worker")
    location = county_copy(request, request.param, "push_killed")
    key = make_key(location, "zhang.field", "editor")
    server = Server(location, workers=1, threads=2, log_dir=tmp_path)
    request.addfinalizer(server.stop)
    field = tmp_path / "field.gpkg"
    r = CliRunner().invoke(cli, ["checkout", server.url, str(field), "--key", key])
    assert r.exit_code == 0, r.output
    with Registry.open(field) as local:
        points = list(local.features("hazard_points", limit=N))
        with local.batch(author="zhang.field") as b:
            for p in points:
                b.update("hazard_points", p.uuid, {"threatened_people": p.properties["threatened_people"] + 7})
    with Registry.open(location) as reg:
        before = {p.uuid: reg.get("hazard_points", p.uuid) for p in points}
    return {"location": location, "key": key, "server": server, "field": field, "before": before}


def push_id(field: Path) -> str | None:
    with sqlite3.connect(field) as conn:
        row = conn.execute("SELECT value FROM rp_sync WHERE key = 'push_id'").fetchone()
    return row[0] if row else None


def landed(location, before: dict, note_id: str) -> list[int]:
    """For each feature of the push: how many history rows this push wrote (0 or 1, never more)."""
    with Registry.open(location) as reg:
        return [sum(1 for c in reg.history("hazard_points", u) if c.note and f"[push {note_id}]" in c.note)
                for u in before]


def start_push(s) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "from rallypoint.cli.main import cli; cli()", "push",
                             str(s["field"]), "--key", s["key"]], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def check_landed_once(s, pid: str) -> None:
    assert landed(s["location"], s["before"], pid) == [1] * N
    with Registry.open(s["location"]) as reg:
        for u, was in s["before"].items():
            now = reg.get("hazard_points", u)
            assert now.version == was.version + 1
            assert now.properties["threatened_people"] == was.properties["threatened_people"] + 7
    assert push_id(s["field"]) is None  # the push is recorded as done
    again = push(s["field"], key=s["key"])
    assert (again.created, again.updated, again.retired) == (0, 0, 0) and again.ok  # nothing left to send


def test_a_server_worker_killed_inside_the_push_leaves_nothing_and_the_push_sent_again_lands_once(setup):
    s = setup
    proc = start_push(s)
    wait_until(lambda: writing(s["location"]) or proc.poll() is not None, "the server to start writing the push")
    assert proc.poll() is None, proc.stdout.read()
    worker = s["server"].request_workers()[0]
    os.kill(worker.pid, signal.SIGKILL)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 1 and "connection" in out.lower(), out  # the client was told, not fooled
    pid = push_id(s["field"])
    assert pid is not None  # kept for the push to be sent again
    assert landed(s["location"], s["before"], pid) == [0] * N  # nothing of it
    with Registry.open(s["location"]) as reg:
        assert all(reg.get("hazard_points", u).version == was.version for u, was in s["before"].items())
    wait_until(lambda: len(s["server"].request_workers()) == 1, "gunicorn's new worker", every=0.1)
    report = _push_until_answered(s)
    assert report.ok and report.updated == N, (report.conflicts[:3], report.errors[:3])
    check_landed_once(s, pid)


def test_a_client_killed_while_the_server_writes_its_push_is_answered_by_the_push_sent_again(setup):
    s = setup
    proc = start_push(s)
    wait_until(lambda: writing(s["location"]) or proc.poll() is not None, "the server to start writing the push")
    assert proc.poll() is None, proc.stdout.read()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    pid = push_id(s["field"])
    assert pid is not None
    wait_until(lambda: not writing(s["location"]), "the server to finish the push")
    assert landed(s["location"], s["before"], pid) == [1] * N  # the server committed all of it, once
    with Registry.open(s["field"]) as local:  # the check-out never heard: to it, all N are still to be sent
        assert len(pending(local, CheckoutBase(local))["hazard_points"]) == N
    report = push(s["field"], key=s["key"])  # sent again under the same id
    assert report.ok and report.updated == N, (report.conflicts[:3], report.errors[:3])
    check_landed_once(s, pid)


def _push_until_answered(s, tries: int = 20):
    """The push sent again; a connection refused while gunicorn starts its new worker is tried again."""
    from rallypoint.sync import SyncError

    for _ in range(tries):
        try:
            return push(s["field"], key=s["key"])
        except SyncError as exc:
            if "cannot reach" not in str(exc) and "connection" not in str(exc).lower():
                raise
            time.sleep(0.5)
    raise AssertionError("the server did not come back")
