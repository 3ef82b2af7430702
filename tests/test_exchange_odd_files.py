"""Odd GeoPackages (and GeoJSON) handled as GDAL handles them: names that differ in case, an undefined or
engineering CRS, a user_version GDAL questions, Z and M values, and --adcode whatever the field names.

Every input is built in the test's temporary folder (GDAL through pyogrio, then changed with sqlite3 where
GDAL would not write the oddity); each case ends imported correctly or refused with its reason and nothing
written. Where the claim is "as GDAL does", GDAL itself (Debian's ``ogrinfo``, the GDAL QGIS 3.22 runs on)
is asked about the same file."""

import json
import sqlite3
import subprocess
from contextlib import closing

import geopandas as gpd
import pyogrio
import pyproj
import pytest
import shapely
from click.testing import CliRunner
from shapely.geometry import Point

from rallypoint.cli.main import cli
from rallypoint.exchange.apply import apply_import
from rallypoint.exchange.importer import plan_import
from rallypoint.storage.gpkg.blobs import register_functions

from conftest import require_program

pytestmark = pytest.mark.both_backends

BUREAU = "示例县应急管理局"
UNDEFINED_SRS = ('LOCAL_CS["Undefined SRS",LOCAL_DATUM["unknown",32767],UNIT["unknown",0],'
                 'AXIS["Easting",EAST],AXIS["Northing",NORTH]]')
SITE_GRID = ('LOCAL_CS["Site grid of the county depot",LOCAL_DATUM["site",32767],UNIT["metre",1],'
             'AXIS["Easting",EAST],AXIS["Northing",NORTH]]')
GK_105E = "EPSG:4544"  # CGCS2000 / 3-degree Gauss-Kruger CM 105E


def pad(i, **over):
    props = {"code": f"HP-{i:03d}", "name": f"{i}号起降点", "adcode": "519901001", "source": BUREAU,
             "surface": "concrete", "pad_length_m": 30.0 + i, "pad_width_m": 30.0, "status": "usable"}
    props.update(over)
    return {k: v for k, v in props.items() if v is not ...}


def write_gpkg(path, rows, points, crs="EPSG:4490", layer="helipads"):
    gdf = gpd.GeoDataFrame(rows, geometry=[p if hasattr(p, "geom_type") else Point(p) for p in points], crs=crs)
    pyogrio.write_dataframe(gdf, path, layer=layer, driver="GPKG", dataset_options={"VERSION": "1.2"})
    return path


def execute(path, *statements):
    with closing(sqlite3.connect(path)) as c:
        register_functions(c)
        for s in statements:
            c.execute(*s) if isinstance(s, tuple) else c.execute(s)
        c.commit()


def run(reg, path, **kw):
    plan = plan_import(reg, path, id_field=kw.pop("id_field", "code"), **kw)
    return apply_import(reg, plan, author="importer")


def ogrinfo(path):
    """What Debian's GDAL says about a file: (stdout, stderr)."""
    exe = require_program("ogrinfo", "GDAL's own reading of the odd file is the reference")
    proc = subprocess.run([exe, "-al", "-q", str(path)], capture_output=True, text=True, timeout=60)
    return proc.stdout, proc.stderr


def _gk(lon, lat):
    return pyproj.Transformer.from_crs(4490, GK_105E, always_xy=True).transform(lon, lat)


# -- names that differ in case ------------------------------------------------------------------


def test_a_table_and_columns_named_in_another_case_than_gpkg_contents_import(registry, tmp_path):
    src = tmp_path / "upper.gpkg"
    rows = [{k.upper(): v for k, v in pad(i).items()} for i in (1, 2)]  # NAME, ADCODE … as some tools write them
    write_gpkg(src, rows, [(103.70, 30.60), (103.71, 30.61)], layer="HELIPADS")
    execute(src, "UPDATE gpkg_contents SET table_name = 'helipads'",  # the metadata names it in lower case
            "UPDATE gpkg_geometry_columns SET table_name = 'helipads', column_name = 'GEOM'")
    out, _ = ogrinfo(src)
    assert "Layer name: helipads" in out and out.count("OGRFeature(helipads)") == 2  # GDAL reads it
    res = run(registry, src, id_field="CODE")
    assert res.applied and res.counts["insert"] == 2, [f.reason for f in res.refused]
    assert res.plan.choices[0].mapping == "native:helipads"
    got = {f.properties["name"]: f for f in registry.features("helipads")}
    assert got["2号起降点"].properties["pad_length_m"] == 32.0 and got["2号起降点"].properties["adcode"] == "519901001"
    assert got["2号起降点"].geometry.equals_exact(Point(103.71, 30.61), 1e-9)
    assert not res.plan.notes  # every column matched its field (NAME, ADCODE …) or made the UUIDs (CODE)


def test_a_layer_named_in_capitals_maps_onto_the_registry_layer_of_that_name(registry, tmp_path):
    src = write_gpkg(tmp_path / "caps.gpkg", [pad(1)], [(103.70, 30.60)], layer="Helipads")
    res = run(registry, src)
    assert res.applied and res.plan.choices[0].target == "helipads" and registry.count("helipads") == 1


# -- an undefined or engineering CRS ------------------------------------------------------------


@pytest.mark.parametrize("definition, name", [(None, "Undefined SRS"), (SITE_GRID, "Site grid of the county depot")],
                         ids=["gdal-undefined-srs", "engineering-crs"])
def test_a_local_crs_is_refused_with_its_reason_until_crs_says_what_it_is(registry, tmp_path, definition, name):
    lon, lat = 103.70, 30.60
    src = tmp_path / "local.gpkg"
    with pytest.warns(UserWarning, match="'crs' was not provided"):  # GDAL then writes srs_id 99999, LOCAL_CS
        write_gpkg(src, [pad(1)], [_gk(lon, lat)], crs=None)
    with closing(sqlite3.connect(src)) as c:
        assert c.execute("SELECT definition FROM gpkg_spatial_ref_sys WHERE srs_id = 99999").fetchone()[0] \
            == UNDEFINED_SRS
    if definition:
        execute(src, ("UPDATE gpkg_spatial_ref_sys SET srs_name = ?, definition = ? WHERE srs_id = 99999",
                      (name, definition)))
    before = len(registry.history())
    res = run(registry, src)
    assert not res.applied and registry.count("helipads") == 0 and len(registry.history()) == before
    [refused] = res.refused
    assert f"srs_id 99999 is an engineering (local) CRS, {name!r}" in refused.reason and "--crs" in refused.reason
    res = run(registry, src, crs=GK_105E)  # the sender says the grid is CGCS2000 Gauss-Krüger, 105°E
    assert res.applied and res.counts["insert"] == 1
    assert next(registry.features("helipads")).geometry.equals_exact(Point(lon, lat), 1e-7)


def test_the_command_line_refuses_a_local_crs_without_a_traceback_and_takes_crs(registry_location, tmp_path):
    src = tmp_path / "local.gpkg"
    with pytest.warns(UserWarning):
        write_gpkg(src, [pad(1)], [_gk(103.70, 30.60)], crs=None)
    env = {"RALLYPOINT_AUTHOR": "cli", "COLUMNS": "200"}
    res = CliRunner().invoke(cli, ["import", str(registry_location), str(src), "--id-field", "code"], env=env)
    assert res.exit_code == 1 and res.exception is None or isinstance(res.exception, SystemExit)
    assert "engineering (local) CRS" in res.output and "--crs" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(cli, ["import", str(registry_location), str(src), "--id-field", "code",
                                   "--crs", GK_105E], env=env)
    assert res.exit_code == 0 and "1 insert" in res.output, res.output


# -- the version and application id ----------------------------------------------------------------


@pytest.mark.parametrize("user_version", [0, 10100, 10200, 10300, 10500])
def test_a_user_version_gdal_questions_is_imported_with_a_warning(registry, tmp_path, user_version):
    src = write_gpkg(tmp_path / f"v{user_version}.gpkg", [pad(1)], [(103.70, 30.60)])
    execute(src, f"PRAGMA user_version = {user_version}")
    _, gdal_says = ogrinfo(src)
    gdal_warns = "user_version" in gdal_says
    res = run(registry, src)
    assert res.applied and res.counts["insert"] == 1  # read all the same, as GDAL reads it
    ours = [w for w in res.plan.warnings if "user_version" in w]
    assert bool(ours) == gdal_warns == (user_version not in (10200, 10300)), (ours, gdal_says)
    if user_version == 10500:
        assert "may only be partially supported" in ours[0]
    elif ours:
        assert f"user_version {user_version} is not a GeoPackage version" in ours[0]


def test_the_warning_is_in_the_json_report_and_on_the_command_line(registry_location, tmp_path):
    src = write_gpkg(tmp_path / "v0.gpkg", [pad(1)], [(103.70, 30.60)])
    execute(src, "PRAGMA user_version = 0")
    report = tmp_path / "report.json"
    res = CliRunner().invoke(cli, ["import", str(registry_location), str(src), "--id-field", "code", "--report",
                                   str(report)], env={"RALLYPOINT_AUTHOR": "cli", "COLUMNS": "200"})
    assert res.exit_code == 0 and "warning: v0.gpkg: user_version 0 is not a GeoPackage version" in res.output
    assert json.loads(report.read_text())["warnings"][0].startswith("v0.gpkg: user_version 0")


def test_an_application_id_gdal_questions_is_still_refused(registry, tmp_path):
    src = write_gpkg(tmp_path / "plain.gpkg", [pad(1)], [(103.70, 30.60)])
    execute(src, "PRAGMA application_id = 1")
    _, gdal_says = ogrinfo(src)
    assert "bad application_id" in gdal_says  # GDAL opens it with a warning; an importer is stricter
    with pytest.raises(ValueError, match="application_id is 0x1, not a GeoPackage"):
        plan_import(registry, src)


# -- Z and M ------------------------------------------------------------------------------------


def test_z_values_dropped_from_a_geopackage_are_reported(registry, tmp_path):
    src = write_gpkg(tmp_path / "z.gpkg", [pad(1), pad(2)], [Point(103.70, 30.60, 512.5), Point(103.71, 30.61, 498.0)])
    res = run(registry, src)
    assert res.applied and res.counts["insert"] == 2
    assert res.plan.warnings == ["helipads: 2 feature(s) with Z (height) values (first: fid 1): the registry keeps "
                                 "x and y only, so those values were dropped"]
    assert all(not f.geometry.has_z for f in registry.features("helipads"))


def test_m_values_in_a_geopackage_blob_are_reported(registry, tmp_path):
    src = write_gpkg(tmp_path / "m.gpkg", [pad(1), pad(2)], [(103.70, 30.60), (103.71, 30.61)])
    measured = shapely.from_wkt("POINT M (103.71 30.61 7.5)")
    blob = b"GP\x00\x01" + (4490).to_bytes(4, "little") + shapely.to_wkb(measured, flavor="iso", byte_order=1)
    execute(src, ("UPDATE helipads SET geom = ? WHERE fid = 2", (blob,)), "UPDATE gpkg_geometry_columns SET m = 2")
    res = run(registry, src)
    assert res.applied and res.counts["insert"] == 2
    assert res.plan.warnings == ["helipads: 1 feature(s) with M (measure) values (first: fid 2): the registry keeps "
                                 "x and y only, so those values were dropped"]
    got = {f.properties["name"]: f.geometry for f in registry.features("helipads")}
    assert got["2号起降点"].equals_exact(Point(103.71, 30.61), 1e-9) and not shapely.has_m(got["2号起降点"])


def test_z_values_in_geojson_are_reported_too(registry, tmp_path):
    src = tmp_path / "z.geojson"
    src.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": pad(1), "geometry": {"type": "Point", "coordinates": [103.70, 30.60, 512]}},
        {"type": "Feature", "properties": pad(2), "geometry": {"type": "Point", "coordinates": [103.71, 30.61]}},
    ]}), encoding="utf-8")
    res = run(registry, src, layer_map={None: "helipads"})
    assert res.applied and res.counts["insert"] == 2
    assert [w.split(":")[1].strip() for w in res.plan.warnings] == ["1 feature(s) with Z (height) values (first"]


# -- --adcode whatever the field names --------------------------------------------------------------------


def test_adcode_gives_the_code_to_a_file_with_the_registrys_field_names_and_no_adcode(registry, tmp_path):
    src = write_gpkg(tmp_path / "no-codes.gpkg", [pad(1, adcode=...), pad(2, adcode=...)],
                     [(103.70, 30.60), (103.71, 30.61)])
    refused = run(registry, src)
    assert not refused.applied and all("adcode: is required" in f.reason for f in refused.refused)
    res = run(registry, src, options={"adcode": "519901002"})
    assert res.applied and res.counts["insert"] == 2
    assert {f.properties["adcode"] for f in registry.features("helipads")} == {"519901002"}
    assert res.plan.notes == ["helipads: --adcode 519901002 given to 2 feature(s) without a division code"]


def test_adcode_fills_only_missing_codes_and_warns_of_codes_outside_its_division(registry, tmp_path):
    src = write_gpkg(tmp_path / "mixed.gpkg", [pad(1, adcode=None), pad(2, adcode="519901003"),
                                               pad(3, adcode="110101001")],
                     [(103.70, 30.60), (103.71, 30.61), (103.72, 30.62)])
    res = run(registry, src, options={"adcode": "519901"})
    assert res.applied and res.counts["insert"] == 3
    codes = {f.properties["name"]: f.properties["adcode"] for f in registry.features("helipads")}
    assert codes == {"1号起降点": "519901", "2号起降点": "519901003", "3号起降点": "110101001"}
    assert "helipads: --adcode 519901 given to 1 feature(s) without a division code" in res.plan.notes
    assert any("2 feature(s) keep the division code the file gives them" in n for n in res.plan.notes)
    assert res.plan.warnings == ["helipads: 1 feature(s) have a division code outside 519901 (--adcode), kept as "
                                 "the file gives it: helipads fid 3: 110101001"]


def test_set_adcode_replaces_every_code_whatever_the_file_gives(registry, tmp_path):
    src = write_gpkg(tmp_path / "mixed.gpkg", [pad(1, adcode=None), pad(2, adcode="519901003")],
                     [(103.70, 30.60), (103.71, 30.61)])
    res = run(registry, src, options={"adcode": "519901"}, sets={"adcode": "519901004"})
    assert res.applied and {f.properties["adcode"] for f in registry.features("helipads")} == {"519901004"}
    assert not res.plan.warnings and not res.plan.notes
