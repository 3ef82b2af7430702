"""The rallypoint command, driven as a user would (click's CliRunner on the real files, and on a real
PostGIS database: the tests that name ``reg`` run once per backend, ``reg`` being where ``init`` makes the
registry: a new file's path or a new empty database's URL)."""

import json
import re
import sqlite3

import pyproj
import pytest
from click.testing import CliRunner

from rallypoint import Registry
from rallypoint.cli.main import cli
from rallypoint.storage.gpkg.blobs import register_functions

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture(autouse=True)
def wide_console(monkeypatch):
    """Tables are checked for their content: give them room whatever terminal runs the tests."""
    from rallypoint.cli.common import console

    monkeypatch.setattr(console, "_width", 200)


@pytest.fixture(params=("gpkg", "postgis"))
def reg(request, tmp_path):
    """Where a test's registry is made by ``rallypoint init``: a file path, or an empty database's URL."""
    if request.param == "gpkg":
        return tmp_path / "r.gpkg"
    cluster = request.getfixturevalue("pg_cluster")
    url = cluster.new_database()
    request.addfinalizer(lambda: cluster.drop_database(url))
    return url


def run(*args, ok=True):
    result = CliRunner().invoke(cli, [str(a) for a in args], env={"RALLYPOINT_AUTHOR": "cli-user", "COLUMNS": "200"})
    if ok:
        assert result.exit_code == 0, result.output + repr(result.exception)
    return result


HELIPAD = ["--set", "name=一号起降点", "--set", "adcode=519901001", "--set", "source=示例县应急管理局",
           "--set", "surface=混凝土", "--set", "pad_length_m=40", "--set", "pad_width_m=40", "--set", "status=可用"]


def test_help_explains_every_command():
    out = run("--help").output
    for cmd in ("init", "sample", "layers", "add", "list", "show", "edit", "retire", "restore", "history", "validate"):
        assert cmd in out
        assert "Usage" in run(cmd, "--help").output


def test_a_whole_life_of_a_feature_from_the_command_line(reg, tmp_path):
    assert "Created" in run("init", reg, "--name", "示例县应急资源", "--bureau", "示例县应急管理局").output
    out = run("add", reg, "helipads", "--at", "104.06,30.66", *HELIPAD).output
    uid = UUID.search(out).group(0)
    assert "一号起降点" in run("list", reg, "helipads").output
    shown = run("show", reg, "helipads", uid).output
    assert "道面类型" in shown and "混凝土" in shown
    run("edit", reg, "helipads", uid, "--set", "night_lighting=是", "--if-version", "1")
    stale = run("edit", reg, "helipads", uid, "--set", "fuel=yes", "--if-version", "1", ok=False)
    assert stale.exit_code == 1 and "changed since version 1" in stale.output
    run("retire", reg, "helipads", uid, "--reason", "场地征用")
    assert "0 of 0" in run("list", reg, "helipads").output
    run("restore", reg, "helipads", uid)
    run("restore", reg, "helipads", uid, "--version", "1")
    hist = json.loads(run("history", reg, "helipads", uid, "--json").output)
    assert [h["op"] for h in hist] == ["restore", "restore", "retire", "update", "insert"]
    assert {h["author"] for h in hist} == {"cli-user"}
    assert "场地征用" in run("history", reg).output
    gj = json.loads(run("show", reg, "helipads", uid, "--json").output)
    assert gj["properties"]["night_lighting"] is None and gj["properties"]["version"] == 5


def test_a_refused_add_lists_the_problems_and_writes_nothing(reg, tmp_path):
    run("init", reg, "--name", "n", "--bureau", "b")
    bad = run("add", reg, "helipads", "--at", "104.06,30.66", *HELIPAD, "--set", "pad_width_m=-3",
              "--set", "contact_phone=123", ok=False)
    assert bad.exit_code == 1
    assert "pad_width_m" in bad.output and "contact_phone" in bad.output and "nothing was written" in bad.output
    assert "Traceback" not in bad.output
    with Registry.open(reg) as r:
        assert r.count("helipads") == 0 and r.history() == []


def test_reprojected_input_and_output_formats(reg, tmp_path):
    run("init", reg, "--name", "n", "--bureau", "b")
    x, y = pyproj.Transformer.from_crs(4490, 3857, always_xy=True).transform(104.06, 30.66)
    run("add", reg, "helipads", "--at", f"{x},{y}", "--crs", "EPSG:3857", *HELIPAD)
    gj = json.loads(run("list", reg, "helipads", "--format", "geojson").output)
    lon, lat = gj["features"][0]["geometry"]["coordinates"]
    assert lon == pytest.approx(104.06, abs=1e-7) and lat == pytest.approx(30.66, abs=1e-7)
    csv_out = run("list", reg, "helipads", "--format", "csv", "--no-personal").output
    assert csv_out.splitlines()[0].startswith("uuid,name,adcode") and "contact_phone" not in csv_out


def test_uuids_and_keys_are_printed_alone_for_scripts(reg, tmp_path):
    """UUID=$(rallypoint list … --format ids) and KEY=$(rallypoint keys add …), as the README's tour does."""
    run("init", reg, "--name", "n", "--bureau", "b")
    added = [UUID.search(run("add", reg, "helipads", "--at", "104.06,30.66", *HELIPAD).output).group(0)
             for _ in range(3)]
    run("retire", reg, "helipads", added[1], "--reason", "场地征用")
    assert run("list", reg, "helipads", "--format", "ids").stdout.splitlines() == [added[0], added[2]]
    assert run("list", reg, "helipads", "--format", "ids", "--limit", "1").stdout == added[0] + "\n"
    assert run("list", reg, "helipads", "--format", "ids", "--retired").stdout.splitlines() == added
    refused = run("list", reg, "roads", "--format", "ids", ok=False)
    assert refused.exit_code == 2 and "roads is reference data" in refused.output and not refused.stdout
    key = run("keys", "add", reg, "zhang.wei", "--role", "editor")
    assert re.fullmatch(r"rp_[0-9a-f]+_\S+\n", key.stdout) and "not shown again" in key.stderr


def test_geojson_files_are_added_in_one_batch(reg, tmp_path):
    run("init", reg, "--name", "n", "--bureau", "b")
    props = {"name": "甲", "adcode": "519901001", "source": "b", "surface": "grass", "pad_length_m": 30,
             "pad_width_m": 30, "status": "usable"}
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": props, "geometry": {"type": "Point", "coordinates": [104, 30.5]}},
        {"type": "Feature", "properties": dict(props, status="?"), "geometry": {"type": "Point", "coordinates": [104, 30]}},
    ]}
    src = tmp_path / "in.geojson"
    src.write_text(json.dumps(fc, ensure_ascii=False), encoding="utf-8")
    assert run("add", reg, "helipads", "--geojson", src, ok=False).exit_code == 1
    fc["features"].pop()
    src.write_text(json.dumps(fc, ensure_ascii=False), encoding="utf-8")
    assert "Added 1 feature" in run("add", reg, "helipads", "--geojson", src).output


def test_layers_lists_fields_with_aliases_and_allowed_values():
    out = run("layers", "shelters", "--lang", "en").output
    assert "effective_area_m2" in out and "Effective area" in out and "standby" in out
    assert "hazard_points" in run("layers").output


def test_validate_reports_problems_with_exit_status_1(reg, tmp_path):
    run("init", reg, "--name", "n", "--bureau", "b")
    run("add", reg, "helipads", "--at", "104.06,30.66", *HELIPAD)
    assert "OK" in run("validate", reg).output
    if isinstance(reg, str):  # a direct SQL edit of the database: its triggers check types, not allowed values
        import psycopg

        with psycopg.connect(reg) as conn:
            conn.execute("UPDATE helipads SET surface = 'lava'")
    else:
        conn = sqlite3.connect(reg)
        register_functions(conn)  # the R-tree triggers GDAL wrote call ST_IsEmpty
        conn.execute("UPDATE helipads SET surface = 'lava'")
        conn.commit()
        conn.close()
    bad = run("validate", reg, ok=False)
    assert bad.exit_code == 1 and "surface" in bad.output and "lava" in bad.output


def test_errors_are_messages_not_tracebacks(reg, tmp_path):
    missing = run("list", tmp_path / "none.gpkg", "shelters", ok=False)
    assert missing.exit_code == 1 and "no such registry file" in missing.output
    run("init", reg, "--name", "n", "--bureau", "b")
    assert "no layer 'shelter'" in run("list", reg, "shelter", ok=False).output
    assert "not MINX" in run("list", reg, "shelters", "--bbox", "1,2,3", ok=False).output
    again = run("init", reg, "--name", "n", "--bureau", "b", ok=False)
    assert again.exit_code == 1 and "Traceback" not in again.output
    assert ("already holds a registry" if isinstance(reg, str) else "already exists") in again.output


def test_sample_writes_the_same_county_every_time(tmp_path, county_sample, county_counts):
    out = tmp_path / "again.gpkg"
    run("sample", out, "--size", "county")
    with Registry.open(out) as a, Registry.open(county_sample) as b:
        for layer, n in county_counts.items():
            assert a.count(layer) == n
        fa = [f.to_geojson() for f in a.features("shelters")]
        fb = [f.to_geojson() for f in b.features("shelters")]
        assert fa == fb
