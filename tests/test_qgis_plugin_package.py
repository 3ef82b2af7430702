"""The plugin as users get it: the zip, the install into a profile, QGIS loading it, in Chinese or English."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import require

from rallypoint.analysis import analyses
from rallypoint.cli.main import cli
from rallypoint.plugins import default_plugin_manager

SCRIPT = Path(__file__).parent / "qgis_scripts" / "load_installed_plugin.py"


def test_the_zip_holds_the_plugin_with_metadata_and_compiled_translation(tmp_path):
    require("qgis", "Debian's python3-qgis, QGIS 3.22")  # lrelease comes with the QGIS tool chain in CI
    out = tmp_path / "rallypoint_qgis.zip"
    r = CliRunner().invoke(cli, ["qgis-plugin", "build", str(out)])
    assert r.exit_code == 0, r.output
    with zipfile.ZipFile(out) as z:
        names = set(z.namelist())
        meta = z.read("rallypoint_qgis/metadata.txt").decode()
        qm = z.read("rallypoint_qgis/i18n/rallypoint_zh_CN.qm")
    assert {"rallypoint_qgis/__init__.py", "rallypoint_qgis/plugin.py", "rallypoint_qgis/processing_provider.py",
            "rallypoint_qgis/i18n/rallypoint_zh_CN.ts"} <= names
    assert all(n.startswith("rallypoint_qgis/") for n in names)
    for key in ("name=Rallypoint", "qgisMinimumVersion=3.22", "version=", "hasProcessingProvider=yes"):
        assert key in meta
    assert qm[:4] == b"\x3c\xb8\x64\x18"  # the magic number of a compiled Qt translation


def _load_installed(tmp_path, locale):
    require("qgis", "Debian's python3-qgis, QGIS 3.22")
    plugins = tmp_path / "profile" / "python" / "plugins"
    r = CliRunner().invoke(cli, ["qgis-plugin", "install", "--plugins-dir", str(plugins),
                                 "--qgis-python", sys.executable])
    assert r.exit_code == 0, r.output
    assert "cannot import" not in r.output
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    runtime = tmp_path / "xdg-runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
               XDG_RUNTIME_DIR=str(runtime))
    proc = subprocess.run([sys.executable, str(SCRIPT), str(plugins), locale], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return plugins, json.loads(proc.stdout.strip().splitlines()[-1])


def test_qgis_loads_the_installed_plugin_in_chinese(tmp_path):
    plugins, report = _load_installed(tmp_path, "zh_CN")
    assert Path(report["module"]).resolve().parent == (plugins / "rallypoint_qgis").resolve()
    assert report["class"] == "RallypointPlugin"
    assert report["menu"] == "应急资源登记(&R)"
    assert report["actions"]["open"] == "打开登记库…"
    assert report["actions"]["push"] == "推送本地修改"
    assert report["toolbar"] == "应急资源登记"
    assert report["algorithms"] == sorted(f"rallypoint:{n}" for n in analyses(default_plugin_manager()))
    assert report["plugin_menus"]["应急资源登记(&R)"][:2] == ["打开登记库…", "从服务器签出…"]
    assert report["unloaded"] and report["unload_messages"] == []
    assert report["provider_after_unload"] is False
    assert report["menus_after_unload"] == {"应急资源登记(&R)": 0}


def test_in_english_the_menu_is_english(tmp_path):
    _, report = _load_installed(tmp_path, "en_US")
    assert report["menu"] == "&Rallypoint"
    assert report["actions"]["open"] == "Open registry…"


def test_without_lrelease_the_build_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no Qt tools on this PATH
    out = tmp_path / "p.zip"
    r = CliRunner().invoke(cli, ["qgis-plugin", "build", str(out)])
    assert r.exit_code == 1
    assert "lrelease" in r.output and "qttools5-dev-tools" in r.output
    assert not out.exists()
