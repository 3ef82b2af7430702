"""A shortened soak (bench/soak.py): 50 clients for about 40 s on a real server, and nothing acknowledged is lost.

The full run (several minutes, its figures in RELIABILITY.md) is ``python bench/soak.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from conftest import require

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

pytestmark = [pytest.mark.soak, pytest.mark.slow]


def test_fifty_clients_reading_tiling_and_writing_at_once_get_no_5xx_and_lose_no_write(county_sample, tmp_path):
    require("aiohttp", "the soak's clients")
    require("psutil", "the server's memory")
    import soak

    result = soak.run_soak(county_sample, tmp_path, clients=50, duration=40, workers=2, threads=4)
    summary = soak.report(result)
    assert soak.failures(result) == [], summary
    assert result["no_answer"] == 0, summary  # every request was answered, none timed out or was refused
    kinds = result["by_kind"]
    for kind in ("items", "items_filtered", "feature", "tile", "create", "patch_own", "retire", "patch_hot"):
        assert kinds.get(kind, {}).get("requests", 0) > 0, (kind, summary)
    assert set(result["acknowledged_by_op"]) == {"insert", "update", "retire"}, summary
    # the hot teams were written by many clients at once: stale If-Match answers, and accepted changes too
    assert kinds["patch_hot"]["statuses"].get("412", 0) > 0 and kinds["patch_hot"]["statuses"].get("200", 0) > 0
    assert result["memory"]["samples"] >= 20, summary


def test_the_check_finds_a_lost_write_and_a_version_acknowledged_twice(county_sample, tmp_path):
    """The soak's own check is not blind: an acknowledgement the file does not hold is reported."""
    import soak

    path = soak.copy_registry(county_sample, tmp_path / "c.gpkg")
    uid = soak.uuids(path, "teams")[0]
    ledger = soak.Ledger(acks=[soak.Ack("teams", uid, 2, "update", "x", {"members": 5}),
                               soak.Ack("teams", uid, 1, "insert", "someone", {}),
                               soak.Ack("teams", uid, 1, "insert", "someone", {})])
    problems = soak.verify(path, ledger)
    assert any("LOST" in p and "version 2" in p for p in problems), problems
    assert any("acknowledged 2 times" in p for p in problems), problems
