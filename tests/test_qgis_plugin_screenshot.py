"""A screenshot of QGIS under Xvfb with the plugin installed and the county registry loaded and styled."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import require, require_program
from web_support import copy_registry

from rallypoint.cli.main import cli

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
SCRIPT = Path(__file__).parent / "qgis_scripts" / "plugin_screenshot.py"

pytestmark = [pytest.mark.qgis, pytest.mark.slow]


def test_qgis_under_xvfb_shows_the_registry_styled_with_the_plugin(county_sample, tmp_path):
    require("qgis", "Debian's python3-qgis, QGIS 3.22")
    xvfb_run = require_program("xvfb-run", "Debian's xvfb: QGIS's window on a virtual X server")
    plugins = tmp_path / "plugins"
    r = CliRunner().invoke(cli, ["qgis-plugin", "install", "--plugins-dir", str(plugins),
                                 "--qgis-python", sys.executable])
    assert r.exit_code == 0, r.output
    registry = copy_registry(county_sample, tmp_path / "county.gpkg")
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "qgis_plugin.png"
    shot.unlink(missing_ok=True)
    runtime = tmp_path / "xdg-runtime"
    runtime.mkdir(mode=0o700)
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}  # a real X display, not offscreen
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / ".config"), XDG_RUNTIME_DIR=str(runtime))
    proc = subprocess.run([xvfb_run, "-a", "-s", "-screen 0 1600x1200x24", sys.executable, str(SCRIPT),
                           str(plugins), str(registry), str(shot)], capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["saved"] and report["platform"] == "xcb"
    # GDAL wheels bundle a second SQLite, which would delete the live registry's WAL: never in QGIS's process
    assert report["bundled_gdal_modules"] == []
    assert report["canvas_layers"] == 8  # the stock table has no geometry
    import matplotlib.image

    img = matplotlib.image.imread(shot)[:, :, :3]
    h, w, _ = img.shape
    assert (w, h) == tuple(report["size"])
    canvas = img[h // 8:, w // 4:]  # right of the layer tree, below the toolbar
    not_white = (canvas < 0.95).any(axis=2).mean()
    assert not_white > 0.3, f"the map is mostly blank ({not_white:.0%} drawn)"
    colours = {tuple(px) for px in (canvas[::7, ::7] * 255).astype(int).reshape(-1, 3)}
    assert len(colours) > 200  # styled layers, not one flat fill
