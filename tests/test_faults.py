"""The server and an import killed with SIGKILL at random moments (a shortened bench/faults.py).

After every kill of a writing server the registry passes SQLite's integrity check and
``check_registry`` (GDAL's ``validate_gpkg`` every few rounds and at the end), and every
write acknowledged before the kill is there; a killed import is there whole or not at all.
The full runs (more rounds, figures in RELIABILITY.md) are ``python bench/faults.py``.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest
from shapely.geometry import Point

from rallypoint import Registry

from conftest import hazard, require, team

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

pytestmark = [pytest.mark.soak, pytest.mark.slow]


@pytest.fixture
def small_registry(registry, registry_path):
    """A dozen teams (the hot features) and a hundred hazard points: quick to check after every kill."""
    rnd = random.Random(5)

    def at():
        return Point(103.62 + rnd.random() * 0.2, 30.54 + rnd.random() * 0.15)

    registry.add_many("teams", [(team(name=f"救援队{i}"), at()) for i in range(12)], author="setup")
    registry.add_many("hazard_points", [(hazard(name=f"隐患点{i}"), at()) for i in range(100)], author="setup")
    registry.close()
    return registry_path


def test_a_server_killed_twenty_times_while_writing_loses_no_acknowledged_write(small_registry, tmp_path):
    require("aiohttp", "the writing clients")
    require("psutil", "the server's processes")
    import faults

    result = faults.server_kill_rounds(small_registry, tmp_path, rounds=20, writers=8, max_delay=1.5, gdal_every=5)
    assert result["problems"] == [], result
    assert result["rounds"] == 20
    assert result["responses_5xx"] == 0, result["first_5xx"]
    assert result["acknowledged_writes"] >= 20, result  # it really wrote, every round (killed after a write)
    assert result["cut_off_unanswered"] > 0, result  # and was killed with writes in flight


def test_an_import_killed_at_random_moments_is_there_whole_or_not_at_all(small_registry, tmp_path):
    import faults

    result = faults.import_kill_rounds(small_registry, tmp_path, rounds=8, features=1000, gdal_every=4)
    assert result["problems"] == [], result
    assert result["rounds"] == 8
    assert result["outcomes"].get("killed before its commit", 0) > 0, result  # kills did land inside the import
