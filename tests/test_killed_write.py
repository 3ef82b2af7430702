"""A process killed in the middle of a batch write leaves a sound registry with all of the batch or none: a
file (SQLite's integrity check too) or a PostGIS database (one transaction per batch)."""

import os
import random
import signal
import subprocess
import sqlite3
import sys
import textwrap
import time

import pytest

from rallypoint import Registry
from rallypoint.check import check_registry

from conftest import helipad

pytestmark = pytest.mark.both_backends

BATCH = 1500

WRITER = textwrap.dedent(f"""
    import sys
    from shapely.geometry import Point
    from rallypoint import Registry
    from conftest import helipad
    reg = Registry.open(sys.argv[1])
    items = [(helipad(name=f"批量{{i}}"), Point(104 + (i % 100) / 1000, 30.5 + (i // 100) / 1000))
             for i in range({BATCH})]
    def progress(i):
        if i % 50 == 0:
            print("progress", i, flush=True)
    reg.add_many("helipads", items, author="batch", progress=progress)
    print("committed", flush=True)
""")


def _run_and_kill(path, kill_after_progress=None, kill_after_seconds=None):
    env = dict(os.environ, PYTHONPATH=os.path.dirname(__file__))
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True, env=env)
    start = None
    seen = 0
    try:
        for line in proc.stdout:
            if line.startswith("progress"):
                seen = int(line.split()[1])
                start = start or time.monotonic()
            if kill_after_progress is not None and seen >= kill_after_progress:
                break
            if kill_after_seconds is not None and start and time.monotonic() - start >= kill_after_seconds:
                break
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
        proc.stdout.close()
    return seen


@pytest.mark.parametrize("kill_at", [50, 700, 1450])
def test_killed_in_the_middle_of_a_batch_nothing_of_it_is_there(registry, registry_location, kill_at):
    registry.add_many("helipads", [(helipad(name=f"已有{i}"), (104, 30.5)) for i in range(10)], author="before")
    registry.close()
    seen = _run_and_kill(registry_location, kill_after_progress=kill_at)
    assert seen >= kill_at  # it really was killed mid-batch
    with Registry.open(registry_location) as reg:
        assert reg.count("helipads") == 10
        assert len(reg.history()) == 10
    assert check_registry(registry_location) == []


def test_killed_at_random_moments_the_batch_is_all_there_or_not_at_all(registry, registry_location):
    registry.close()
    rng = random.Random(20261123)
    expected = 0
    for _ in range(6):
        # the batch takes about half a second from its first progress line to its commit
        _run_and_kill(registry_location, kill_after_seconds=rng.uniform(0.0, 0.8))
        with Registry.open(registry_location) as reg:
            n = reg.count("helipads")
            assert n in (expected, expected + BATCH), n
            expected = n
            assert len(reg.history()) == n
        if not str(registry_location).startswith("postgresql:"):
            conn = sqlite3.connect(registry_location)
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            conn.close()
    assert check_registry(registry_location) == []
