"""The registry file is a conformant GeoPackage with aliases, styles and metadata."""

import json
import sqlite3
import subprocess
import sys

import fiona
import pyogrio
import pytest

from rallypoint import builtin_layers
from rallypoint.check import check_registry
from rallypoint.plugins import default_plugin_manager, layer_catalog

from conftest import HERE, require, shelter


def _validate_gpkg(path):
    require("osgeo_utils", "GDAL's validate_gpkg")
    return subprocess.run([sys.executable, "-m", "osgeo_utils.samples.validate_gpkg", str(path)],
                          capture_output=True, text=True)


def test_a_new_registry_passes_gdal_validate_gpkg(registry, registry_path):
    registry.add("shelters", shelter(), HERE, author="a")
    proc = _validate_gpkg(registry_path)
    assert proc.returncode == 0 and proc.stdout == "" and proc.stderr == "", proc.stdout + proc.stderr


def test_it_is_geopackage_1_2_in_cgcs2000_in_wal_mode(registry_path):
    conn = sqlite3.connect(registry_path)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 10200
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    srs = {r[0] for r in conn.execute("SELECT srs_id FROM gpkg_geometry_columns")}
    assert srs == {4490}


def test_any_geopackage_reader_sees_the_layers(registry, registry_path):
    registry.add("shelters", shelter(), HERE, author="a")
    registry.close()  # GDAL bundles its own SQLite: never open a live registry with it in the same process
    layers = {name for name, _ in pyogrio.list_layers(registry_path)}
    assert set(builtin_layers()) <= layers
    with fiona.open(registry_path, layer="shelters") as src:
        assert src.crs.to_epsg() == 4490
        feat = next(iter(src))
        assert feat.properties["name"] == "人民公园应急避难场所"


def test_aliases_descriptions_and_allowed_values_are_in_gpkg_data_columns(registry_path):
    conn = sqlite3.connect(registry_path)
    row = conn.execute("SELECT name, title, description, constraint_name FROM gpkg_data_columns "
                       "WHERE table_name = 'shelters' AND column_name = 'effective_area_m2'").fetchone()
    assert row[0] == "Effective area" and row[1] == "有效避难面积" and "[m²]" in row[2]
    phone = conn.execute("SELECT description FROM gpkg_data_columns WHERE table_name = 'teams' "
                         "AND column_name = 'leader_phone'").fetchone()[0]
    assert "personal data" in phone
    status = conn.execute("SELECT constraint_name FROM gpkg_data_columns WHERE table_name = 'shelters' "
                          "AND column_name = 'status'").fetchone()[0]
    codes = {r[0] for r in conn.execute("SELECT value FROM gpkg_data_column_constraints WHERE constraint_name = ? "
                                         "AND constraint_type = 'enum'", (status,))}
    assert codes == {"open", "standby", "full", "closed"}
    n = conn.execute("SELECT count(*) FROM gpkg_data_columns").fetchone()[0]
    assert n == sum(len(l.fields) for l in layer_catalog(default_plugin_manager()).values())  # plugins' layers too


def test_each_layer_has_one_default_qgis_style_with_chinese_aliases_and_an_english_one(registry_path):
    conn = sqlite3.connect(registry_path)
    for layer in builtin_layers().values():
        rows = conn.execute("SELECT styleName, useAsDefault, styleQML FROM layer_styles WHERE f_table_name = ?",
                            (layer.name,)).fetchall()
        assert sorted((r[0], r[1]) for r in rows) == [("rallypoint-en", 0), ("rallypoint-zh", 1)], layer.name
        qml = dict((r[0], r[2]) for r in rows)
        first = layer.fields[1]
        assert f'name="{first.alias_zh}' in qml["rallypoint-zh"] and f'name="{first.alias_en}' in qml["rallypoint-en"]
    assert conn.execute("SELECT data_type FROM gpkg_contents WHERE table_name = 'layer_styles'").fetchone() == (
        "attributes",)


def test_registry_metadata_names_the_registry_owner_and_schema(registry):
    assert registry.info.name == "示例县应急资源" and registry.info.bureau == "示例县应急管理局"
    assert registry.info.schema_version == 1 and registry.info.adcode == "519901"
    conn = sqlite3.connect(registry.path)
    md = json.loads(conn.execute("SELECT metadata FROM gpkg_metadata").fetchone()[0])
    assert md["bureau"] == "示例县应急管理局"
    assert conn.execute("SELECT reference_scope FROM gpkg_metadata_reference").fetchone() == ("geopackage",)


def test_validate_finds_nothing_wrong_in_a_sound_registry(registry, registry_path):
    registry.add("shelters", shelter(), HERE, author="a")
    assert check_registry(registry_path) == []


def test_validate_reports_every_problem_it_finds(registry, registry_path):
    a = registry.add("shelters", shelter(), HERE, author="a")
    b = registry.add("shelters", shelter(name="第二场所"), HERE, author="a")
    registry.close()
    conn = sqlite3.connect(registry_path)
    from rallypoint.storage.gpkg.blobs import register_functions
    register_functions(conn)
    conn.execute("UPDATE shelters SET status = 'lost', capacity_day = -1 WHERE uuid = ?", (a.uuid,))
    conn.execute("UPDATE shelters SET version = 5 WHERE uuid = ?", (b.uuid,))
    conn.execute("UPDATE shelters SET geom = X'0102' WHERE uuid = ?", (b.uuid,))
    conn.commit()
    conn.close()
    found = {(p.feature, p.field) for p in check_registry(registry_path, gdal=False)}
    assert (f"feature {a.uuid}", "status") in found
    assert (f"feature {a.uuid}", "capacity_day") in found
    assert (f"feature {b.uuid}", "geom") in found


def test_validate_refuses_a_file_that_is_not_a_geopackage(tmp_path):
    bad = tmp_path / "bad.gpkg"
    bad.write_bytes(b"\x00" * 1000)
    problems = check_registry(bad)
    assert len(problems) == 1 and "not an SQLite database" in problems[0].message


def test_the_spatial_index_holds_each_geometrys_exact_bounds(registry, registry_path):
    from shapely.geometry import Point
    feats = [registry.add("helipads", dict(**{
        "name": f"点{i}", "adcode": "519901001", "source": "b", "surface": "grass", "pad_length_m": 30,
        "pad_width_m": 30, "status": "usable"}), Point(104 + i * 0.0123456789, 30.5 - i * 0.01), author="a")
        for i in range(5)]
    registry.update("helipads", feats[0].uuid, geometry=Point(103.5, 31.25), author="a")
    conn = sqlite3.connect(registry_path)
    index = {r[0]: r[1:] for r in conn.execute("SELECT id, minx, maxx, miny, maxy FROM rtree_helipads_geom")}
    assert len(index) == 5
    for f in feats:
        stored = registry.get("helipads", f.uuid)
        x, y = stored.geometry.x, stored.geometry.y
        minx, maxx, miny, maxy = index[stored.fid]
        # the R-tree keeps 32-bit floats rounded outwards
        assert minx <= x <= maxx and miny <= y <= maxy and maxx - minx < 5e-5 and maxy - miny < 5e-5
