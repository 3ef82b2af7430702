"""rallypoint export: subsets, personal data, conformance, metadata, styles, the checksum manifest, snapshots.

Tests of what an export selects (``source``/``county`` by ``backend``) run from a GeoPackage and from a PostGIS
registry; those about the written file's format use the GeoPackage sample once.
"""

import json
import shutil
import sqlite3
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path

import pyproj
import pytest
from click.testing import CliRunner
from shapely.geometry import Point

from rallypoint import Registry
from rallypoint.check import gdal_validator
from rallypoint.cli.main import cli
from rallypoint.exchange.export import ExportError, export_registry
from rallypoint.exchange.manifest import EXPORT_URI, manifest_path, verify_export
from rallypoint.exchange_formats import ExportFormat
from rallypoint.storage.gpkg.blobs import register_functions
from rallypoint.hookspecs import hookimpl
from rallypoint.plugins import default_plugin_manager, get_plugin_manager, layer_catalog
from rallypoint.schema import builtin_layers

from conftest import StepClock, shelter

# every layer with history: the resources, depot stock and the related tables plugins define (a ledger)
RESOURCE = tuple(n for n, d in layer_catalog(default_plugin_manager()).items() if d.versioned)


def q(path, sql, *args):
    with closing(sqlite3.connect(path)) as c:
        return c.execute(sql, args).fetchall()


@pytest.fixture(scope="module")
def full_export(county_sample, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "county-export.gpkg"
    result = export_registry(county_sample, out, author="tester")
    return out, result


pytestmark = pytest.mark.both_backends


@pytest.fixture
def source(backend, request):
    """The county sample to export from, read only: the session's file or its PostGIS database."""
    return request.getfixturevalue("pg_county_sample" if backend == "postgis" else "county_sample")


@pytest.fixture
def county(county_sample, tmp_path, backend, request):
    """A copy of the county sample to change before exporting: a file, or a PostGIS database."""
    if backend == "postgis":
        return request.getfixturevalue("pg_county_copy")
    path = tmp_path / "county.gpkg"
    shutil.copyfile(county_sample, path)
    return path


def test_a_default_export_is_a_conformant_geopackage_with_every_resource(full_export, county_counts):
    out, result = full_export
    assert gdal_validator(out) == []  # GDAL's validate_gpkg reports nothing
    assert result.counts == {n: county_counts[n] for n in RESOURCE}
    assert q(out, "PRAGMA application_id")[0][0] == 0x47504B47 and q(out, "PRAGMA user_version")[0][0] == 10200
    assert q(out, "PRAGMA journal_mode")[0][0] == "delete"
    assert not Path(str(out) + "-wal").exists() and not Path(str(out) + "-shm").exists()
    tables = {r[0] for r in q(out, "SELECT table_name FROM gpkg_contents")}
    assert {"admin_areas", "population", "roads"}.isdisjoint(tables)  # base layers only when named


def test_personal_fields_are_left_out_of_columns_aliases_styles_and_metadata(full_export):
    out, result = full_export
    for name, layer in builtin_layers().items():
        if name not in RESOURCE:
            continue
        cols = {r[1] for r in q(out, f'PRAGMA table_info("{name}")')}
        aliases = {r[0]: (r[1], r[2]) for r in q(out, "SELECT column_name, title, name FROM gpkg_data_columns "
                                                     "WHERE table_name = ?", name)}
        for f in layer.fields:
            if f.personal:
                assert f.name not in cols and f.name not in aliases, (name, f.name)
            else:
                assert f.name in cols and aliases[f.name] == (f.alias_zh, f.alias_en), (name, f.name)
        if layer.has_geometry:
            qml = q(out, "SELECT styleQML FROM layer_styles WHERE f_table_name = ? AND useAsDefault", name)
            assert len(qml) == 1 and "唯一标识" in qml[0][0]
            assert all(p not in qml[0][0] for p in layer.personal_fields)
    assert result.info["personal_fields_left_out"]["shelters"] == ["manager_name", "manager_phone"]


def test_the_metadata_says_who_sent_what_when_under_which_licence(full_export):
    out, _ = full_export
    meta = json.loads(q(out, "SELECT metadata FROM gpkg_metadata WHERE md_standard_uri = ?", EXPORT_URI)[0][0])
    assert meta["source_bureau"] == "示例县应急管理局" and meta["registry"].startswith("示例县")
    assert meta["schema_version"] == 1 and meta["exported_by"] == "tester" and meta["licence"]
    datetime.fromisoformat(meta["exported_at"].replace("Z", "+00:00"))
    assert meta["subset"]["include_personal"] is False
    with Registry.open(out, readonly=True) as reg:  # an export is a registry file of its own
        assert reg.info.bureau == "示例县应急管理局"
        assert set(reg.layers) == set(RESOURCE)


def test_personal_fields_come_along_only_when_asked(county_sample, tmp_path):
    out = tmp_path / "with-personal.gpkg"
    export_registry(county_sample, out, layers=["shelters"], include_personal=True)
    cols = {r[1] for r in q(out, 'PRAGMA table_info("shelters")')}
    assert {"manager_name", "manager_phone"} <= cols
    assert q(out, "SELECT count(*) FROM shelters WHERE manager_phone IS NOT NULL")[0][0] > 0


def test_a_subset_by_division_code_brings_what_it_refers_to(source, tmp_path):
    out = tmp_path / "town.gpkg"
    result = export_registry(source, out, adcode="519921001")
    assert q(out, "SELECT count(*) FROM hazard_points WHERE adcode NOT LIKE '519921001%'") == [(0,)]
    outside = q(out, "SELECT count(*) FROM shelters WHERE adcode NOT LIKE '519921001%'")[0][0]
    assert outside == result.referenced.get("shelters", 0)  # only assigned shelters come from outside
    refs = q(out, "SELECT count(*) FROM hazard_points WHERE assigned_shelter IS NOT NULL AND assigned_shelter "
                  "NOT IN (SELECT uuid FROM shelters)")
    assert refs == [(0,)]
    stock_parents = q(out, "SELECT count(*) FROM depot_stock WHERE depot_uuid NOT IN (SELECT uuid FROM depots)")
    assert stock_parents == [(0,)] and q(out, "SELECT count(*) FROM depot_stock")[0][0] > 0
    assert gdal_validator(out) == []


def test_a_subset_by_bounding_box_in_any_crs(county_sample, tmp_path):
    west = (103.60, 30.50, 103.72, 30.70)
    merc = pyproj.Transformer.from_crs(4490, 3857, always_xy=True)
    box = (*merc.transform(west[0], west[1]), *merc.transform(west[2], west[3]))
    out = tmp_path / "west.gpkg"
    result = export_registry(county_sample, out, layers=["shelters", "helipads"], bbox=box, bbox_crs="EPSG:3857")
    assert 0 < result.counts["shelters"] < 60
    rt = q(out, 'SELECT max(maxx) FROM "rtree_shelters_geom"')[0][0]
    assert rt <= 103.7201
    assert set(result.counts) == {"shelters", "helipads"}


def test_a_subset_by_layer_and_time_carries_retirements(county, tmp_path):
    later = datetime(2027, 3, 1, tzinfo=timezone.utc)
    with Registry.open(county, clock=lambda: later) as reg:
        a, b = list(reg.features("teams", limit=2))
        reg.update("teams", a.uuid, {"members": 99}, author="zhang")
        reg.retire("teams", b.uuid, author="zhang", reason="合并")
    out = tmp_path / "since.gpkg"
    result = export_registry(county, out, layers=["teams"], since="2027-01-01")
    assert result.counts == {"teams": 2}
    rows = dict(q(out, "SELECT uuid, retired_at FROM teams"))
    assert rows[a.uuid] is None and rows[b.uuid] is not None
    zoned = export_registry(county, tmp_path / "zoned.gpkg", layers=["teams"], since="2027-03-01T08:00:00+09:00")
    assert zoned.counts == {"teams": 2}  # 2027-02-28T23:00Z, before the changes
    assert export_registry(county, tmp_path / "later.gpkg", layers=["teams"], since="2027-03-02").counts == {"teams": 0}


def test_the_manifest_verifies_and_tampering_is_detected(full_export, tmp_path):
    out, result = full_export
    assert verify_export(out) == []
    side = json.loads(manifest_path(out).read_text())
    assert side["sha256"] and side["layers"]["shelters"]["rows"] == result.counts["shelters"]
    copy = tmp_path / "copy.gpkg"
    shutil.copyfile(out, copy)
    shutil.copyfile(manifest_path(out), manifest_path(copy))
    with closing(sqlite3.connect(copy)) as c:
        register_functions(c)
        c.execute("UPDATE shelters SET capacity_day = capacity_day + 1 WHERE fid = (SELECT min(fid) FROM shelters)")
        c.commit()
    found = verify_export(copy)
    assert any("SHA-256 differs from the manifest" in f for f in found)
    assert any(f.startswith("layer shelters: rows changed") for f in found)
    assert not any("teams" in f for f in found)
    out2 = CliRunner().invoke(cli, ["verify", str(copy)])
    assert out2.exit_code == 1 and "layer shelters" in out2.output


def test_a_live_registry_is_snapshotted_with_what_is_still_in_its_wal(county_sample, tmp_path):
    """The GeoPackage's WAL (GeoPackage only; PostGIS snapshots are REPEATABLE READ, see test_exchange_postgis)."""
    county = tmp_path / "county.gpkg"
    shutil.copyfile(county_sample, county)
    reg = Registry.open(county, clock=StepClock())
    try:
        uid = reg.add("shelters", shelter(name="刚建的避难场所", adcode="519921101"), Point(103.72, 30.61),
                      author="zhang").uuid
        assert Path(str(county) + "-wal").stat().st_size > 0  # committed, not yet checkpointed
        out = tmp_path / "live.gpkg"
        export_registry(county, out, layers=["shelters"])
        assert q(out, "SELECT name FROM shelters WHERE uuid = ?", uid) == [("刚建的避难场所",)]
        reg.update("shelters", uid, {"occupancy": 5}, author="zhang")  # the live file is untouched by the export
        assert reg.get("shelters", uid).version == 2
    finally:
        reg.close()


def test_a_bad_request_writes_nothing(source, tmp_path, full_export):
    with pytest.raises(ExportError, match="no layer wells"):
        export_registry(source, tmp_path / "a.gpkg", layers=["wells"])
    with pytest.raises(ExportError, match="already exists"):
        export_registry(source, full_export[0])
    with pytest.raises(ExportError, match="roads has no division code"):
        export_registry(source, tmp_path / "b.gpkg", layers=["roads"], adcode="519921")
    assert list(tmp_path.iterdir()) == []


def test_base_layers_and_history_when_asked(county_sample, tmp_path):
    out = tmp_path / "base.gpkg"
    result = export_registry(county_sample, out, layers=["admin_areas", "shelters"], adcode="519921001",
                             with_history=True, check="full")
    assert result.counts["admin_areas"] >= 1 and gdal_validator(out) == []
    n_hist = q(out, "SELECT count(*) FROM rp_history WHERE layer = 'shelters'")[0][0]
    assert n_hist == result.counts["shelters"]
    after = json.loads(q(out, "SELECT after FROM rp_history WHERE layer = 'shelters' LIMIT 1")[0][0])
    assert "manager_phone" not in after["properties"] and "capacity_day" in after["properties"]


def test_export_from_the_command_line(county_sample, tmp_path):
    out = tmp_path / "cli.gpkg"
    res = CliRunner().invoke(cli, ["export", str(county_sample), str(out), "--layers", "helipads,teams",
                                   "--author", "cli"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "helipads" in res.output and "Personal data left out" in res.output
    assert manifest_path(out).is_file()
    assert CliRunner().invoke(cli, ["verify", str(out)]).exit_code == 0


class CountsFormat:
    """A throwaway plugin with an export format: the number of features per layer, as JSON."""

    @hookimpl
    def rallypoint_export_formats(self):
        def write(registry, path, layers, options):
            Path(path).write_text(json.dumps({n: registry.count(n, adcode=options["adcode"]) for n in layers}))

        return [ExportFormat("counts", "Feature counts", ".json", write)]


def test_an_export_format_from_a_plugin_is_used_when_named(county_sample, tmp_path, monkeypatch):
    import rallypoint.plugins as plugins_module

    monkeypatch.setattr(plugins_module, "_default", get_plugin_manager(extra=[("counts", CountsFormat())]))
    out = tmp_path / "counts.json"
    res = CliRunner().invoke(cli, ["export", str(county_sample), str(out), "--format", "counts", "--layers",
                                   "shelters", "--adcode", "519921001"])
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text()) == {"shelters": 13}
    bad = CliRunner().invoke(cli, ["export", str(county_sample), str(out), "--format", "kml"])
    assert bad.exit_code == 2 and "no export format 'kml'" in bad.output


def _broken(path, sql, *args):
    """Change a geometry of the file at ``path`` by ``sql``; the R-tree triggers get boxes of zeros (GDAL's
    functions read no broken blob, and the validator does not read the tree's boxes)."""
    with closing(sqlite3.connect(path)) as c:
        c.create_function("ST_IsEmpty", 1, lambda b: 0)
        for fn in ("ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY"):
            c.create_function(fn, 1, lambda b: 0.0)
        c.execute(sql, args)
        c.commit()


@pytest.mark.parametrize("how, sql, args", [
    ("magic", "UPDATE shelters SET geom = CAST(X'4758' || substr(geom, 3) AS BLOB) WHERE fid = (SELECT min(fid) FROM shelters)", ()),
    ("truncated WKB", "UPDATE shelters SET geom = substr(geom, 1, length(geom) - 9) WHERE fid = "
                      "(SELECT max(fid) FROM shelters)", ()),
    ("SRS", "UPDATE shelters SET geom = ? WHERE fid = (SELECT min(fid) FROM shelters)", ("srs",)),
    ("type", "UPDATE shelters SET geom = ? WHERE fid = (SELECT max(fid) FROM shelters)", ("line",)),
    ("empty flag", "UPDATE shelters SET geom = ? WHERE fid = (SELECT min(fid) FROM shelters)", ("flagged",)),
])
def test_the_export_check_finds_in_every_geometry_what_gdal_finds(full_export, tmp_path, how, sql, args):
    """An export's check runs GDAL's validator in process with its per-blob scan done a column at a time: on a
    file with one broken geometry it names the same requirement GDAL's own validator (its own Python) names."""
    from shapely.geometry import LineString

    from rallypoint.exchange.export_check import gdal_checks
    from rallypoint.storage.gpkg.blobs import encode

    assert gdal_checks(full_export[0]) == []
    copy = tmp_path / "broken.gpkg"
    shutil.copyfile(full_export[0], copy)
    made = {"srs": encode(Point(103.7, 30.6), srs_id=4326), "line": encode(LineString([(103.7, 30.6), (103.8, 30.7)]))}
    blob = q(copy, "SELECT geom FROM shelters WHERE fid = (SELECT min(fid) FROM shelters)")[0][0]
    made["flagged"] = blob[:3] + bytes([blob[3] | 8]) + blob[4:]  # the empty flag on a point that is not empty
    _broken(copy, sql, *[made.get(a, a) for a in args])
    ours, theirs = gdal_checks(copy), gdal_validator(copy)
    assert len(ours) == 1 and len(theirs) == 1, (ours, theirs)
    req = theirs[0].message.split("Req ")[1].split(":")[0]
    assert f"GDAL validate_gpkg: Req {req}:" in ours[0].message, (ours, theirs)


def test_an_exported_r_tree_is_sound_whole_or_subset(county_sample, tmp_path, full_export):
    """A layer that goes whole takes the registry's R-tree as it is; a subset's is built in one pass."""
    sub = tmp_path / "sub.gpkg"
    export_registry(county_sample, sub, layers=["shelters"], adcode="519921001")
    for path in (full_export[0], sub):
        with closing(sqlite3.connect(path)) as c:
            for (name,) in c.execute("SELECT table_name FROM gpkg_geometry_columns").fetchall():
                rtree = f"rtree_{name}_geom"
                assert c.execute(f"SELECT rtreecheck('{rtree}')").fetchone()[0] == "ok"
                assert c.execute(f"SELECT count(*) FROM {rtree}").fetchone()[0] == \
                    c.execute(f"SELECT count(*) FROM {name} WHERE geom IS NOT NULL").fetchone()[0]
                hits = c.execute(f"SELECT count(*) FROM {name} t JOIN {rtree} r ON r.id = t.fid").fetchone()[0]
                assert hits == c.execute(f"SELECT count(*) FROM {name} WHERE geom IS NOT NULL").fetchone()[0]
