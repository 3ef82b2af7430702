"""The plugin zip installed as a bureau installs it: QGIS 3.22's own Plugin Manager, a fresh profile, no project venv.

The zip is built by the command ``make qgis-plugin`` runs. The QGIS desktop (Debian's ``qgis`` 3.22, on a
virtual X display: the desktop refuses to start without one, and crashes on Qt's offscreen platform) starts
with a profiles folder of its own and a bare environment: no ``PYTHONPATH``, no ``VIRTUAL_ENV``, a ``HOME`` of
its own, ``PATH`` of the system only. It runs ``qgis_scripts/install_from_zip.py``, which calls what Plugins ▸
Manage and Install Plugins ▸ Install from ZIP calls (``pyplugin_installer``'s ``installFromZipFile``: unzip into
the profile's ``python/plugins``, load and start the plugin, enable it in the profile's ``QGIS/QGIS3.ini``).
QGIS then starts again with that profile, restores the plugin as it would for the user, and
``qgis_scripts/report_installed_plugin.py`` reports where everything was loaded from and opens a registry with
the plugin's "Open registry…" action. A third start runs ``qgis_scripts/field_cycle.py``: a shelter edited in
its attribute form (a value the rules refuse, then a good one), a check-out from a real ``rallypoint serve``,
a push and a pull, what Processing and a PostGIS registry say; the form's screenshots are saved in
``artifacts/qgis_plugin_install/``. The README's QGIS steps are run as written into another fresh profile, and
QGIS started with it runs the plugin the same way.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from conftest import require, require_program
from web_support import copy_registry

from rallypoint import Registry
from rallypoint.analysis import analyses
from rallypoint.cli.main import cli
from rallypoint.plugins import default_plugin_manager

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = Path(__file__).parent / "qgis_scripts"
NAME = "rallypoint_qgis"

pytestmark = [pytest.mark.qgis, pytest.mark.slow]


ARTIFACTS = ROOT / "artifacts" / "qgis_plugin_install"
#: what QGIS's own Python lacks (Debian) or must not load beside QGIS's libraries: none of it may be needed
FOREIGN = ("shapely", "pandas", "geopandas", "fiona", "pyogrio", "psycopg", "click", "flask", "rich")


def _bare_env(home: Path) -> dict[str, str]:
    runtime = home / "xdg-runtime"
    runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
    return {"PATH": "/usr/bin:/bin", "HOME": str(home), "XDG_RUNTIME_DIR": str(runtime), "LANG": "C.UTF-8"}


def _run_qgis(programs, profiles: Path, script: Path, env: dict[str, str], report: Path, **extra: str) -> dict:
    xvfb_run, qgis = programs
    proc = subprocess.run([xvfb_run, "-a", qgis, "--profiles-path", str(profiles), "--nologo", "--noversioncheck",
                           "--code", str(script)], env={**env, **extra, "RP_REPORT": str(report)},
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"QGIS ended with {proc.returncode}: {proc.stderr[-3000:]}"
    assert report.is_file(), f"{script.name} wrote no report: {proc.stderr[-3000:]}"
    return json.loads(report.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def installed(tmp_path_factory, county_sample):
    require("qgis", "Debian's python3-qgis, QGIS 3.22")
    programs = (require_program("xvfb-run", "Debian's xvfb: the QGIS desktop needs an X display"),
                require_program("qgis", "Debian's qgis package: the QGIS 3.22 desktop and its Plugin Manager"))
    tmp = tmp_path_factory.mktemp("qgis-install")
    zip_path = tmp / "rallypoint_qgis.zip"
    r = CliRunner().invoke(cli, ["qgis-plugin", "build", str(zip_path)])  # what `make qgis-plugin` runs
    assert r.exit_code == 0, r.output
    profiles = tmp / "qgis-profiles"
    env = _bare_env(tmp / "home")
    first = _run_qgis(programs, profiles, SCRIPTS / "install_from_zip.py", env, tmp / "install.json",
                      RP_ZIP=str(zip_path))
    registry = copy_registry(county_sample, tmp / "county.gpkg")
    second = _run_qgis(programs, profiles, SCRIPTS / "report_installed_plugin.py", env, tmp / "restart.json",
                       RP_REGISTRY=str(registry))
    with zipfile.ZipFile(zip_path) as z:
        names = sorted(n for n in z.namelist() if not n.endswith("/"))
    profile = profiles / "profiles" / "default"
    return SimpleNamespace(first=first, second=second, zip_names=names, profile=profile,
                           plugins=profile / "python" / "plugins", programs=programs, profiles=profiles, env=env)


def _project_paths() -> list[str]:
    """Where this test's own Python finds Rallypoint and its wheels (the checkout, the virtual environments and
    whatever else is on its path outside the system's ``/usr``): none of it may reach QGIS."""
    roots = {str(ROOT), sys.prefix, *(p for p in sys.path if p and not p.startswith("/usr/"))}
    return sorted(str(Path(r).resolve()) for r in roots)


def test_the_plugin_manager_unzips_into_the_fresh_profile_and_enables_the_plugin(installed):
    first = installed.first
    assert first["qgis"].startswith("3.22."), first["qgis"]
    assert Path(first["home_plugin_path"]) == installed.plugins
    assert first["installed_files"] == installed.zip_names  # the zip's files, nothing else
    assert first["enabled"] is True and first["active"] is True
    ini = (installed.profile / "QGIS" / "QGIS3.ini").read_text(encoding="utf-8")
    section = ini.split("[PythonPlugins]", 1)[1].split("\n[", 1)[0]
    assert f"{NAME}=true" in section.split()


def test_qgis_restarted_with_the_profile_runs_the_installed_copy_and_nothing_of_the_project(installed):
    second = installed.second
    assert second["active"] is True  # restored from QGIS3.ini at start-up, as for the user
    assert second["executable"] == "/usr/bin/python3" and second["env"] == {}
    forbidden = _project_paths()
    leaks = [p for p in second["sys_path"] if any(str(Path(p).resolve()).startswith(f) for f in forbidden)]
    assert leaks == [], f"QGIS's Python sees the project's environment: {leaks}"
    assert second["modules"], "the plugin's package was not imported"
    plugin_dir = str(installed.plugins.resolve() / NAME)
    outside = {m: f for m, f in second["modules"].items() if not str(Path(f).resolve()).startswith(plugin_dir)}
    assert outside == {}, f"Rallypoint modules loaded from outside the installed plugin: {outside}"


def test_the_installed_plugin_starts_and_opens_a_registry(installed, county_counts):
    second = installed.second
    assert second["class"] == "RallypointPlugin", second["messages"]
    assert not [m for m in second["messages"] if "Cannot open" in m or "cannot start" in m], second["messages"]
    assert second.get("registry_error") is None, second.get("registry_error")
    opened = second["registry"]
    assert opened is not None, second["messages"]
    expected = {name: n for name, n in county_counts.items() if name in opened}
    assert set(expected) >= {"shelters", "depots", "depot_stock", "teams", "hazard_points", "helipads"}
    assert {name: opened[name] for name in expected} == expected
    core = second["modules"].get("rallypoint")
    assert core and str(Path(core).resolve()).startswith(str(installed.plugins.resolve() / NAME / "_vendor"))


# -- a bureau's day with the installed plugin ------------------------------------------------------------------

@pytest.fixture(scope="module")
def field(request, installed, county_sample, tmp_path_factory):
    from test_qgis_conflicts import two_conflicts
    from web_support import Server, make_key

    tmp = tmp_path_factory.mktemp("qgis-field")
    merged, s1, s2 = two_conflicts(request, "gpkg", tmp)
    served = copy_registry(county_sample, tmp / "served.gpkg")
    key, office = make_key(served, "zhao.field", "editor"), make_key(served, "wang.office", "editor")
    registry = copy_registry(county_sample, tmp / "county.gpkg")
    shots = tmp / "shots"
    shots.mkdir()
    srv = Server(served, workers=1, threads=2)
    try:
        report = _run_qgis(installed.programs, installed.profiles, SCRIPTS / "field_cycle.py", installed.env,
                           tmp / "field.json", RP_REGISTRY=str(registry), RP_SERVER=srv.url, RP_KEY=key,
                           RP_OFFICE_KEY=office, RP_CHECKOUT=str(tmp / "field.gpkg"), RP_SHOTS=str(shots),
                           RP_CONFLICTS=str(merged))
    finally:
        srv.stop()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for png in shots.glob("*.png"):
        shutil.copyfile(png, ARTIFACTS / png.name)
    assert report.get("error") is None, report["error"]
    return SimpleNamespace(report=report, registry=registry, served=served, shots=shots, plugins=installed.plugins,
                           merged=merged, conflicted=(s1, s2))


def test_a_value_the_rules_refuse_is_refused_in_the_form_with_the_rules_message(field):
    r = field.report
    rule = "'990101001' does not start with a GB/T 2260 province code"
    assert r["committed_bad"] is False or r["refusal"] is not None
    assert rule in r["refusal"] and "adcode" in r["refusal"]
    assert any(rule in m for m in r["messages_after_bad"]), r["messages_after_bad"]
    assert r["history_after_bad"] == r["history_before"]  # nothing written
    assert r["editable_after_bad"] is True and r["buffer_after_bad"] == {"adcode": "990101001"}  # kept to be fixed
    with Registry.open(field.registry, readonly=True) as reg:
        assert reg.get("shelters", r["shelter"]["uuid"]).properties["adcode"] == r["shelter"]["adcode"]


def test_a_good_value_is_saved_through_the_registry_with_history(field):
    r = field.report
    uuid, before = r["shelter"]["uuid"], r["shelter"]["capacity_day"]
    assert r["committed_good"] is True and r["saved_error"] is None
    assert any("saved 0 new, 1 changed" in m for m in r["messages_after_good"]), r["messages_after_good"]
    assert r["history_after_good"] == r["history_before"] + [
        [len(r["history_before"]) + 1, "update", "li.gis", [before, before + 150]]]
    assert r["layer_after_good"] == {"adcode": r["shelter"]["adcode"], "capacity_day": before + 150,
                                     "version": len(r["history_before"]) + 1, "updated_by": "li.gis"}
    with Registry.open(field.registry, readonly=True) as reg:
        stored = reg.get("shelters", uuid)
        change = reg.history("shelters", uuid)[-1]
    assert stored.properties["capacity_day"] == before + 150
    stamps = ("version", "updated_at", "updated_by")
    # the geometry is untouched, byte for byte, though it went through QGIS's QgsGeometry and back
    assert {k: v for k, v in change.changed_fields().items() if k not in stamps} == {
        "capacity_day": (before, before + 150)}


def test_check_out_push_and_pull_from_the_plugin(field):
    r = field.report
    assert r["checkout_task"] == "QgsTaskWrapper" and r["checkout_error"] is None
    assert any("Checked out" in m for m in r["messages_after_checkout"]), r["messages_after_checkout"]
    assert r["saved_in_checkout"] is True
    assert r["push"] == {"created": 0, "updated": 1, "retired": 0, "conflicts": [], "errors": []}
    assert r["office_patch"] == 200
    assert r["pull"] == {"created": 0, "updated": 1, "retired": 0, "conflicts": [], "errors": []}
    mine, theirs = r["teams"]["mine"], r["teams"]["theirs"]
    assert r["members_after_pull"] == {mine: 77, theirs: 19}
    with Registry.open(field.served, readonly=True) as reg:
        team = reg.get("teams", mine)
        assert team.properties["members"] == 77 and team.properties["updated_by"] == "zhao.field"
        assert [c.author for c in reg.history("teams", theirs)][-1] == "wang.office"


def test_processing_lists_every_analysis_and_names_what_qgis_python_lacks(field):
    algorithms = field.report["algorithms"]
    assert sorted(algorithms) == sorted(f"rallypoint:{n}" for n in analyses(default_plugin_manager()))
    for alg, (ok, why) in algorithms.items():  # Debian's QGIS Python has no pandas, geopandas, shapely
        assert ok is False, alg
        assert "这项分析需要" in why and "This analysis needs" in why and "geopandas" in why, why
    assert "ortools" in algorithms["rallypoint:coverage"][1] and "ortools" not in algorithms["rallypoint:capacity"][1]


def test_a_postgis_registry_is_refused_with_a_message_without_psycopg_3(field):
    r = field.report
    assert r["postgis"] is True
    assert any("psycopg" in m and "PostGIS" in m for m in r["messages_after_postgis"]), r["messages_after_postgis"]


def test_qgis_ran_it_all_on_its_own_libraries_and_the_zip(field):
    r = field.report
    assert r["engine"] == "qgis"
    assert [m for m in r["foreign"] if m in FOREIGN] == []
    plugin_dir = str(field.plugins.resolve() / NAME)
    outside = {m: f for m, f in r["modules"].items() if f and not str(Path(f).resolve()).startswith(plugin_dir)}
    assert outside == {}
    assert "pluggy" in r["modules"] and "rallypoint.storage.gpkg.store" in r["modules"]


def test_the_form_was_photographed(field):
    from PIL import Image

    names = {"form_bad_value.png", "form_refused_in_buffer.png", "window_refused.png", "form_good_value.png",
             "form_saved.png", "window_after_pull.png", "conflicts_listed.png", "conflicts_resolved.png"}
    assert field.report["shots"] == {n: True for n in names}
    for name in names:
        with Image.open(ARTIFACTS / name) as img:
            assert img.width >= 400 and img.height >= 400, name
            assert len(set(img.convert("L").resize((64, 64)).getdata())) > 8, f"{name} is blank"


# -- the README's steps, as written ----------------------------------------------------------------------------

def _readme_qgis_block() -> str:
    from test_readme import BLOCKS

    found = [b for b in BLOCKS if "qgis-plugin install" in b.code]
    assert len(found) == 1 and found[0].not_run is None, "the README's QGIS block must run"
    return found[0].code


def test_the_readme_steps_install_the_same_plugin_and_qgis_starts_it(installed, county_sample, county_counts,
                                                                      tmp_path):
    config = tmp_path / "qgis-config"  # where QGIS_CUSTOM_CONFIG_PATH puts the profiles, as --profiles-path does
    folder = tmp_path / "reader"
    folder.mkdir()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "QGIS_CUSTOM_CONFIG_PATH": str(config)}
    proc = subprocess.run(["bash", "-euo", "pipefail", "-c", _readme_qgis_block()], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    with zipfile.ZipFile(folder / "rallypoint_qgis.zip") as z:
        assert sorted(n for n in z.namelist() if not n.endswith("/")) == installed.zip_names
    profile = config / "profiles" / "default"
    plugins = profile / "python" / "plugins"
    installed_files = sorted(str(p.relative_to(plugins)) for p in (plugins / NAME).rglob("*")
                             if p.is_file() and "__pycache__" not in p.parts)
    assert installed_files == installed.zip_names  # the same files the Plugin Manager unzipped
    ini = (profile / "QGIS" / "QGIS3.ini").read_text(encoding="utf-8")
    assert f"{NAME}=true" in ini.split("[PythonPlugins]", 1)[1].split("\n[", 1)[0].split()
    registry = copy_registry(county_sample, tmp_path / "county.gpkg")
    started = _run_qgis(installed.programs, config, SCRIPTS / "report_installed_plugin.py", installed.env,
                        tmp_path / "started.json", RP_REGISTRY=str(registry))
    assert started["active"] is True and started["class"] == "RallypointPlugin", started["messages"]
    assert started["registry"]["shelters"] == county_counts["shelters"]


def test_merge_conflicts_are_listed_and_resolved_in_the_installed_plugin(field):
    r = field.report
    s1, s2 = field.conflicted
    assert "conflicts" in r["steps"]
    assert sorted(r["conflicts_uuids"]) == sorted([s1, s2]) and len(r["conflicts_listed"]) == 2
    assert r["conflicts_error"] is None and r["conflicts_left"] == 0
    first, second = r["conflicts_resolved_in_order"]
    theirs = {s1: 40, s2: 25}  # what the township's copy held (see test_qgis_conflicts.two_conflicts)
    assert r["conflicts_layer"] == {first: theirs[first], second: 28}  # the layer was reloaded
    assert all("qian.gis" in m for m in r["conflicts_messages"]), r["conflicts_messages"]
    with Registry.open(field.merged, readonly=True) as reg:
        assert reg.conflicts() == [] and len(reg.conflicts(resolved=True)) == 2
        for u in (s1, s2):
            last = reg.history("shelters", u)[-1]
            assert (last.op, last.author) == ("resolve", "qian.gis")
        assert reg.get("shelters", second).properties["occupancy"] == 28
