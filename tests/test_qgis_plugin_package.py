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

from conftest import require, require_program

from rallypoint.analysis import analyses
from rallypoint.cli.main import cli
from rallypoint.plugins import default_plugin_manager
from rallypoint_qgis.packaging import DEFAULT_QGIS_PYTHON

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


def test_the_zip_leaves_out_the_build_tools(tmp_path):
    require("qgis", "Debian's python3-qgis, QGIS 3.22")
    out = tmp_path / "rallypoint_qgis.zip"
    assert CliRunner().invoke(cli, ["qgis-plugin", "build", str(out)]).exit_code == 0
    with zipfile.ZipFile(out) as z:
        names = set(z.namelist())
    assert not {f"rallypoint_qgis/{m}" for m in ("packaging.py", "cli.py", "hooks.py")} & names


def test_the_command_comes_from_the_plugin_and_loads_neither_the_plugin_nor_qgis_in_the_core(tmp_path):
    """`rallypoint` alone never imports rallypoint_qgis; `qgis-plugin build` (a plugin command) never imports QGIS."""
    require_program("lrelease", "Qt's lrelease compiles the plugin's translations")
    out = tmp_path / "p.zip"
    code = (
        "import sys\n"
        "from rallypoint.cli.main import cli\n"
        "assert 'rallypoint_qgis' not in sys.modules, 'the core imported the plugin'\n"
        "from rallypoint.plugins import default_plugin_manager\n"
        "assert 'qgis_plugin' in dict(default_plugin_manager().list_name_plugin())\n"
        f"cli(['qgis-plugin', 'build', {str(out)!r}], standalone_mode=False)\n"
        "assert not [m for m in sys.modules if m == 'qgis' or m.startswith(('qgis.', 'PyQt5'))], 'QGIS was imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert zipfile.is_zipfile(out)


def test_install_fails_loudly_and_changes_nothing_when_qgis_python_cannot_start_the_plugin(tmp_path):
    """A QGIS Python with another rallypoint installed (the old `pip install --user` advice) would run the plugin on a
    core it was not built for: the command says why, exits 1 and leaves the profile alone."""
    require("qgis", "Debian's python3-qgis, QGIS 3.22")
    qgis_python = require_program(DEFAULT_QGIS_PYTHON, "Debian's Python, the one QGIS 3.22 embeds")
    env = tmp_path / "qgis-python"
    subprocess.run([qgis_python, "-m", "venv", "--system-site-packages", "--without-pip", str(env)], check=True)
    site = next(env.glob("lib/python3*/site-packages"))
    (site / "rallypoint").mkdir()
    (site / "rallypoint" / "__init__.py").write_text('__version__ = "0.0.9"\n')
    (site / "rallypoint" / "geometry_engine.py").write_text("")
    profile = tmp_path / "profile"
    plugins = profile / "python" / "plugins"
    (plugins / "rallypoint_qgis").mkdir(parents=True)
    (plugins / "rallypoint_qgis" / "metadata.txt").write_text("[general]\nname=an older install\n")
    r = CliRunner().invoke(cli, ["qgis-plugin", "install", "--plugins-dir", str(plugins),
                                 "--qgis-python", str(env / "bin" / "python")])
    assert r.exit_code == 1, r.output
    message = " ".join(r.output.split())
    assert "the plugin was not installed" in message and "has rallypoint 0.0.9 installed" in message
    assert "pip install" not in message
    assert sorted(p.name for p in plugins.iterdir()) == ["rallypoint_qgis"]  # no staging folder left behind
    assert (plugins / "rallypoint_qgis" / "metadata.txt").read_text() == "[general]\nname=an older install\n"
    assert not (profile / "QGIS" / "QGIS3.ini").exists()  # not enabled either


def test_install_enables_the_plugin_in_the_profile_as_the_plugin_manager_does(tmp_path):
    """`[PythonPlugins] rallypoint_qgis=true` in the profile's QGIS3.ini, every other line left as QGIS wrote it."""
    require("qgis", "Debian's python3-qgis, QGIS 3.22")
    qgis_python = require_program(DEFAULT_QGIS_PYTHON, "Debian's Python, the one QGIS 3.22 embeds")
    profile = tmp_path / "profiles" / "default"
    ini = profile / "QGIS" / "QGIS3.ini"
    ini.parent.mkdir(parents=True)
    before = ("[General]\nlocale\\userLocale=zh_CN\n\n[PythonPlugins]\nprocessing=true\nrallypoint_qgis=false\n\n"
              "[qgis]\nstylesheet\\fontPointSize=10\n")
    ini.write_text(before)
    r = CliRunner().invoke(cli, ["qgis-plugin", "install", "--profile", "default", "--qgis-python", qgis_python],
                           env={"QGIS_CUSTOM_CONFIG_PATH": str(tmp_path)})
    assert r.exit_code == 0, r.output
    assert (profile / "python" / "plugins" / "rallypoint_qgis" / "_vendor" / "rallypoint" / "__init__.py").is_file()
    assert ini.read_text() == before.replace("rallypoint_qgis=false", "rallypoint_qgis=true")
    ini.write_text("[General]\nlocale\\userLocale=en_US\n")  # no [PythonPlugins] yet: the section is added
    r = CliRunner().invoke(cli, ["qgis-plugin", "install", "--profile", "default", "--qgis-python", qgis_python],
                           env={"QGIS_CUSTOM_CONFIG_PATH": str(tmp_path)})
    assert r.exit_code == 0, r.output
    assert ini.read_text() == "[General]\nlocale\\userLocale=en_US\n\n[PythonPlugins]\nrallypoint_qgis=true\n"
