"""Export → edit in real QGIS 3.22 (headless) → import shows exactly those edits."""

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner

from rallypoint.cli.main import cli
from rallypoint.exchange.export import export_registry

from conftest import require

SCRIPT = Path(__file__).parent / "qgis_scripts" / "edit_export.py"


@pytest.mark.qgis
def test_an_edit_made_in_qgis_comes_back_as_exactly_that_update(county_sample, tmp_path):
    require("qgis", "Debian's python3-qgis, QGIS 3.22")
    registry = tmp_path / "county.gpkg"
    shutil.copyfile(county_sample, registry)
    export = tmp_path / "for-qgis.gpkg"
    export_registry(registry, export)
    with closing(sqlite3.connect(export)) as c:
        uuid, occupancy = c.execute("SELECT uuid, occupancy FROM shelters ORDER BY fid LIMIT 1").fetchone()
    runtime = tmp_path / "xdg-runtime"
    runtime.mkdir(mode=0o700)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_RUNTIME_DIR=str(runtime))
    proc = subprocess.run([sys.executable, str(SCRIPT), str(export), "shelters", uuid, "occupancy",
                           str(occupancy + 42), "0.001", "-0.002"], capture_output=True, text=True, env=env,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["qgis_version"].startswith("3.22") and report["committed"], report

    out = CliRunner().invoke(cli, ["import", str(registry), str(export), "--dry-run", "--report",
                                   str(tmp_path / "r.json")], env={"RALLYPOINT_AUTHOR": "qgis-user", "COLUMNS": "250"})
    assert out.exit_code == 0, out.output
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["counts"]["update"] == 1 and data["counts"]["insert"] == 0 and data["counts"]["refused"] == 0
    assert data["counts"]["unchanged"] == sum(c["features"] for c in data["layers"]) - 1
    [change] = data["changes"]
    assert change["uuid"] == uuid and set(change["fields"]) == {"occupancy", "geometry"}
    assert change["fields"]["occupancy"] == [occupancy, occupancy + 42]
    x, y = map(float, re.findall(r"[-\d.]+", change["fields"]["geometry"][1]))
    x0, y0 = map(float, re.findall(r"[-\d.]+", change["fields"]["geometry"][0]))
    assert abs(x - x0 - 0.001) < 1e-9 and abs(y - y0 + 0.002) < 1e-9
    assert "Dry run: 1 update" in out.output
    assert any("rows changed since the export" in n for n in data["notes"])  # the manifest saw the edit
