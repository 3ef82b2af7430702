"""rallypoint import: formats, mapping profiles, reprojection, strict GeoPackage checks, dry run, re-import,
all or nothing and quarantine. Inputs are made in a temporary folder with pyogrio (they are not registries)."""

import json
import sqlite3
import struct
from contextlib import closing

import geopandas as gpd
import pandas as pd
import pyogrio
import pyproj
import pytest
import shapely
from click.testing import CliRunner
from shapely.geometry import Point, Polygon

from rallypoint import Registry
from rallypoint.cli.main import cli
from rallypoint.exchange.apply import apply_import
from rallypoint.exchange.gpkg_strict import NotAGeoPackage
from rallypoint.exchange.importer import ImportRefused, plan_import
from rallypoint.storage.gpkg.blobs import register_functions
from rallypoint.hookspecs import hookimpl
from rallypoint.plugins import get_plugin_manager
from rallypoint.profiles import Profile

from conftest import REAL_FIXTURES

pytestmark = pytest.mark.both_backends  # the `registry` tests import into a file and into PostGIS

BUREAU = "示例县应急管理局"


def pad(i, **over):
    props = {"code": f"HP-{i:03d}", "name": f"{i}号起降点", "adcode": "519921001", "source": BUREAU,
             "surface": "concrete", "pad_length_m": 30.0 + i, "pad_width_m": 30.0, "status": "usable"}
    props.update(over)
    return props


def frame(rows, points, crs="EPSG:4490"):
    return gpd.GeoDataFrame(rows, geometry=[Point(p) if not hasattr(p, "geom_type") else p for p in points], crs=crs)


def write_gpkg(path, gdf, layer="helipads"):
    pyogrio.write_dataframe(gdf, path, layer=layer, driver="GPKG", dataset_options={"VERSION": "1.2"})
    return path


def run_import(reg, path, **kw):
    dry = kw.pop("dry_run", False)
    quarantine = kw.pop("quarantine", None)
    plan = plan_import(reg, path, **kw)
    return apply_import(reg, plan, author="importer", dry_run=dry, quarantine=quarantine)


def n_history(reg):
    return len(reg.history())


def rows(path, sql, *args):
    with closing(sqlite3.connect(path)) as c:
        register_functions(c)
        return c.execute(sql, args).fetchall()


def execute(path, *statements):
    with closing(sqlite3.connect(path)) as c:
        register_functions(c)
        for s in statements:
            c.execute(*s) if isinstance(s, tuple) else c.execute(s)
        c.commit()


# -- formats ------------------------------------------------------------------------------


def test_a_geojson_file_imports_and_a_second_import_changes_nothing(registry, tmp_path):
    src = tmp_path / "pads.geojson"
    pyogrio.write_dataframe(frame([pad(1), pad(2)], [(103.70, 30.60), (103.71, 30.61)], "EPSG:4326"), src,
                            driver="GeoJSON")
    res = run_import(registry, src, layer_map={None: "helipads"}, id_field="code")
    assert res.applied and res.counts["insert"] == 2
    pads = {f.properties["name"]: f for f in registry.features("helipads")}
    assert pads["1号起降点"].properties["pad_length_m"] == 31.0
    assert pads["2号起降点"].geometry.equals_exact(Point(103.71, 30.61), 1e-6)
    before = n_history(registry)
    again = run_import(registry, src, layer_map={None: "helipads"}, id_field="code")
    assert again.counts["unchanged"] == 2 and again.counts["insert"] == 0 and n_history(registry) == before


def test_a_shapefile_with_cut_field_names_imports(registry, tmp_path):
    src = tmp_path / "pads.shp"
    with pytest.warns(RuntimeWarning, match="laundered"):  # GDAL cuts the names, and says so
        pyogrio.write_dataframe(frame([pad(1), pad(2)], [(103.70, 30.60), (103.71, 30.61)], "EPSG:4490"), src,
                                driver="ESRI Shapefile", encoding="UTF-8")
    assert "pad_length" in [f for f in pyogrio.read_info(src)["fields"]]  # cut to ten characters
    res = run_import(registry, src, layer_map={None: "helipads"}, id_field="code")
    assert res.applied and res.counts["insert"] == 2
    assert sorted(f.properties["pad_length_m"] for f in registry.features("helipads")) == [31.0, 32.0]


def test_a_csv_with_coordinates_imports_in_the_crs_given(registry, tmp_path):
    src = tmp_path / "pads.csv"
    lines = ["code,name,adcode,source,surface,pad_length_m,pad_width_m,status,经度,纬度",
             f"A,甲起降点,519921001,{BUREAU},grass,\"1,000\",40,可用,103.70,30.60",
             f"B,乙起降点,519921002,{BUREAU},earth,35,40,usable,103.72,30.62"]
    src.write_text("\n".join(lines), encoding="utf-8")
    res = run_import(registry, src, layer_map={None: "helipads"}, id_field="code", crs="EPSG:4490")
    assert res.applied and res.counts["insert"] == 2, [f.reason for f in res.refused]
    got = {f.properties["name"]: f for f in registry.features("helipads")}
    assert got["甲起降点"].properties["pad_length_m"] == 1000.0 and got["甲起降点"].properties["status"] == "usable"
    assert got["乙起降点"].geometry.equals_exact(Point(103.72, 30.62), 1e-9)


def test_a_geopackage_layer_named_like_ours_maps_onto_it(registry, tmp_path):
    src = write_gpkg(tmp_path / "pads.gpkg", frame([pad(1)], [(103.70, 30.60)]))
    res = run_import(registry, src, id_field="code")
    assert res.applied and res.counts["insert"] == 1
    assert res.plan.choices[0].mapping == "native:helipads"


# -- reprojection from the file's CRS definition ----------------------------------------------


def _expected(lon, lat, crs):
    return pyproj.Transformer.from_crs(4490, crs, always_xy=True).transform(lon, lat)


def test_web_mercator_and_a_cgcs2000_gauss_krueger_zone_with_a_custom_srs_id(registry, tmp_path):
    lon, lat = 103.70, 30.60
    merc = write_gpkg(tmp_path / "merc.gpkg", frame([pad(1)], [_expected(lon, lat, 3857)], "EPSG:3857"))
    # CGCS2000 3-degree Gauss-Krüger, central meridian 105°E, written from a definition with no EPSG code:
    # GDAL gives it srs_id 100000, a number that says nothing about the CRS.
    gk = pyproj.CRS.from_proj4("+proj=tmerc +lat_0=0 +lon_0=105 +k=1 +x_0=500000 +y_0=0 +ellps=GRS80 +units=m +no_defs")
    gk_file = write_gpkg(tmp_path / "gk.gpkg", frame([pad(2)], [_expected(lon + 0.01, lat, gk)], gk))
    assert rows(gk_file, "SELECT srs_id FROM gpkg_geometry_columns")[0][0] >= 100000
    for path in (merc, gk_file):
        res = run_import(registry, path, id_field="code")
        assert res.applied, [f.reason for f in res.refused]
    got = {f.properties["name"]: f.geometry for f in registry.features("helipads")}
    assert got["1号起降点"].equals_exact(Point(lon, lat), 1e-7)
    assert got["2号起降点"].equals_exact(Point(lon + 0.01, lat), 1e-7)


def test_the_crs_comes_from_the_definition_not_the_srs_id_number(registry, tmp_path):
    lon, lat = 103.70, 30.60
    src = write_gpkg(tmp_path / "liar.gpkg", frame([pad(1)], [_expected(lon, lat, 3857)], "EPSG:3857"))
    blob = rows(src, "SELECT geom FROM helipads")[0][0]
    blob = blob[:4] + struct.pack("<i", 4490) + blob[8:]
    execute(src,  # renumber the Web Mercator definition as srs_id 4490, the registry's own EPSG code
            "UPDATE gpkg_spatial_ref_sys SET srs_id = 4490, organization = 'NONE', organization_coordsys_id = 4490 "
            "WHERE srs_id = 3857",
            "UPDATE gpkg_geometry_columns SET srs_id = 4490", "UPDATE gpkg_contents SET srs_id = 4490",
            ("UPDATE helipads SET geom = ?", (blob,)))
    res = run_import(registry, src, id_field="code")
    assert res.applied
    assert next(registry.features("helipads")).geometry.equals_exact(Point(lon, lat), 1e-7)


# -- strict GeoPackage checks ----------------------------------------------------------------


def test_a_file_that_is_not_sqlite_is_refused(registry, tmp_path):
    src = tmp_path / "fake.gpkg"
    src.write_text("name,lon,lat\n", encoding="utf-8")
    with pytest.raises(NotAGeoPackage, match="not an SQLite database"):
        plan_import(registry, src)


def test_sqlite_without_the_geopackage_application_id_is_refused(registry, tmp_path):
    src = write_gpkg(tmp_path / "plain.gpkg", frame([pad(1)], [(103.7, 30.6)]))
    execute(src, "PRAGMA application_id = 0")
    with pytest.raises(NotAGeoPackage, match="application_id is 0x0"):
        plan_import(registry, src)


def test_a_table_missing_from_gpkg_contents_is_not_a_layer(registry, tmp_path):
    src = write_gpkg(tmp_path / "hidden.gpkg", frame([pad(1)], [(103.7, 30.6)]))
    execute(src, "DELETE FROM gpkg_contents WHERE table_name = 'helipads'")
    with pytest.raises(ImportRefused, match="nothing to import"):
        plan_import(registry, src, id_field="code")


@pytest.mark.parametrize("damage, reason", [
    ("bare", "bare WKB without the GeoPackage 'GP' header"),
    ("srs", "srs_id 4326 differs from its column's srs_id 4490"),
    ("type", "a Polygon in a column declared POINT"),
])
def test_bad_geometry_blobs_are_refused_with_the_reason(registry, tmp_path, damage, reason):
    src = write_gpkg(tmp_path / f"{damage}.gpkg", frame([pad(1), pad(2)], [(103.70, 30.60), (103.71, 30.61)]))
    if damage == "bare":
        blob = shapely.to_wkb(Point(103.72, 30.62))
    elif damage == "srs":
        blob = rows(src, "SELECT geom FROM helipads WHERE fid = 2")[0][0]
        blob = blob[:4] + struct.pack("<i", 4326) + blob[8:]
    else:
        poly = Polygon([(103.7, 30.6), (103.71, 30.6), (103.71, 30.61)])
        wkb = shapely.to_wkb(poly, byte_order=1)
        blob = b"GP\x00\x03" + struct.pack("<i", 4490) + struct.pack("<4d", *poly.bounds[::2], *poly.bounds[1::2]) + wkb
    execute(src, ("UPDATE helipads SET geom = ? WHERE fid = 2", (blob,)))
    before = n_history(registry)
    res = run_import(registry, src, id_field="code")
    assert not res.applied and n_history(registry) == before  # all or nothing
    [(label, why)] = [(f.label, f.reason) for f in res.refused]
    assert label == "helipads fid 2" and reason in why


def test_a_hostile_layer_name_is_only_ever_a_quoted_identifier(registry, registry_path, tmp_path):
    name = 'x"; DROP TABLE shelters; --'
    src = write_gpkg(tmp_path / "hostile.gpkg", frame([pad(1)], [(103.7, 30.6)]), layer=name)
    with pytest.raises(ImportRefused, match="no layer maps to a Rallypoint layer"):
        plan_import(registry, src)
    res = run_import(registry, src, layer_map={name: "helipads"}, id_field="code")
    assert res.applied and res.counts["insert"] == 1
    assert rows(registry_path, "SELECT count(*) FROM sqlite_master WHERE name = 'shelters'") == [(1,)]
    assert rows(src, "SELECT count(*) FROM sqlite_master WHERE name = ?", name) == [(1,)]


# -- dry run, re-import, all or nothing, quarantine ------------------------------------------------


def test_a_dry_run_reports_and_changes_nothing(registry, registry_path, tmp_path):
    src = write_gpkg(tmp_path / "pads.gpkg", frame([pad(1), pad(2)], [(103.7, 30.6), (103.71, 30.61)]))
    before = rows(registry_path, "SELECT count(*) FROM helipads")
    res = run_import(registry, src, id_field="code", dry_run=True)
    assert res.counts["insert"] == 2 and not res.applied and not res.refused
    assert rows(registry_path, "SELECT count(*) FROM helipads") == before and n_history(registry) == 0


def test_an_update_is_matched_on_uuid_and_listed_field_by_field(registry, tmp_path):
    path = tmp_path / "pads.gpkg"
    write_gpkg(path, frame([pad(1), pad(2)], [(103.7, 30.6), (103.71, 30.61)]))
    run_import(registry, path, id_field="code")
    path.unlink()
    # the same features in another order (new fids), one of them changed
    write_gpkg(path, frame([pad(2, status="restricted"), pad(1)], [(103.71, 30.61), (103.7, 30.6)]))
    res = run_import(registry, path, id_field="code", dry_run=True)
    assert res.counts == {"insert": 0, "update": 1, "retire": 0, "restore": 0, "unchanged": 1, "refused": 0}
    change = res.plan.changes[0]
    assert change.changes == {"status": ("usable", "restricted")} and "2号起降点" in change.label


def test_one_refused_feature_and_nothing_is_written_unless_quarantined(registry, tmp_path):
    src = write_gpkg(tmp_path / "mixed.gpkg", frame([pad(1), pad(2, surface="marble"), pad(3, adcode="99")],
                                                    [(103.7, 30.6), (103.71, 30.61), (103.72, 30.62)]))
    res = run_import(registry, src, id_field="code")
    assert not res.applied and registry.count("helipads") == 0
    reasons = {f.label: f.reason for f in res.refused}
    assert "'marble' is not an allowed value" in reasons["helipads fid 2 (2号起降点)"]
    assert "division code" in reasons["helipads fid 3 (3号起降点)"]
    quarantine = tmp_path / "refused.gpkg"
    res = run_import(registry, src, id_field="code", quarantine=quarantine)
    assert res.applied and registry.count("helipads") == 1
    refused = pyogrio.read_dataframe(quarantine)
    assert sorted(refused["code"]) == ["HP-002", "HP-003"]
    assert refused["rp_reason"].str.len().min() > 10 and refused.crs.to_epsg() == 4490


def test_a_reference_to_a_refused_feature_is_refused_in_turn(registry, tmp_path):
    depot = {"code": "D1", "name": "库", "adcode": "519921001", "source": BUREAU, "level": "galaxy",
             "status": "in_service"}
    src = tmp_path / "depots.gpkg"
    write_gpkg(src, frame([depot], [(103.7, 30.6)]), layer="depots")
    uid = plan_import(registry, src, id_field="code").features[0].uuid
    stock = pd.DataFrame([{"code": "S1", "depot_uuid": uid, "source": BUREAU, "item": "帐篷",
                           "category": "tent", "unit": "piece", "quantity": 10}])
    pyogrio.write_dataframe(stock, src, layer="depot_stock", driver="GPKG", append=True)
    res = run_import(registry, src, id_field="code", quarantine=tmp_path / "q.gpkg")
    assert {f.layer for f in res.refused} == {"depots", "depot_stock"}
    assert "no depots feature in use" in [f for f in res.refused if f.layer == "depot_stock"][0].reason


# -- mapping profiles ------------------------------------------------------------------------------


class ParkProfiles:
    """A throwaway plugin: a mapping profile with a value map, a unit conversion, a template and constants."""

    @hookimpl
    def rallypoint_profiles(self):
        return [Profile("import_mapping", "parks", "公园", "Parks", "test", {
            "layer": "shelters", "match": ["park_id", "park_name", "area_ha"],
            "options": {"adcode": "division code"},
            "id": {"namespace": "urn:test:parks", "from": ["park_id"]},
            "fields": {
                "name": {"template": "{park_name}应急避难场所"},
                "adcode": {"option": "adcode"},
                "effective_area_m2": {"from": "area_ha", "unit": "ha"},
                "capacity_day": {"from": "people", "parse": "number"},
                "status": {"from": "state", "map": {"开放": "open", "关闭": "closed"}},
            },
            "constants": {"source": "园林局", "shelter_type": "emergency", "level": "county", "hazards": "earthquake"},
        })]


def test_a_profile_from_a_plugin_maps_converts_and_keeps_stable_uuids(tmp_path, empty_registry_file):
    path = tmp_path / "reg.gpkg"
    path.write_bytes(empty_registry_file.read_bytes())
    src = tmp_path / "parks.csv"
    src.write_text("park_id,park_name,area_ha,people,state,lon,lat\n"
                   "P1,人民公园,1.5,\"7,500人\",开放,103.70,30.60\n"
                   "P2,滨江公园,0.8,4000,维修,103.71,30.61\n", encoding="utf-8")
    pm = get_plugin_manager(entrypoints=False, extra=[("parks", ParkProfiles())])
    with Registry.open(path, plugins=pm) as reg:
        with pytest.raises(ImportRefused, match="needs --adcode"):
            plan_import(reg, src)
        res = run_import(reg, src, options={"adcode": "519921001"}, crs="EPSG:4490", quarantine=tmp_path / "q.gpkg")
        assert res.counts["insert"] == 1 and res.applied
        assert "'维修' is not in the profile's value map" in res.refused[0].reason
        park = next(reg.features("shelters"))
        assert park.properties["name"] == "人民公园应急避难场所" and park.properties["effective_area_m2"] == 15000.0
        assert park.properties["capacity_day"] == 7500 and park.properties["source"] == "园林局"
        reg.update("shelters", park.uuid, {"status": "full"}, author="duty")  # the bureau's own change
        again = run_import(reg, src, options={"adcode": "519921001"}, crs="EPSG:4490")
        assert again.plan.features[0].op == "update" and again.plan.features[0].changes == {
            "status": ("full", "open")}  # what the source says is applied; constants are not re-applied


def test_a_foreign_file_needs_a_division_code_from_the_receiving_bureau(foreign_registry, tmp_path):
    registry = foreign_registry  # Chiyoda (Tokyo) lies outside China: a registry for foreign data takes it
    src = str(REAL_FIXTURES / "jp-gsi" / "emergency_131016.json")
    with pytest.raises(ImportRefused, match="needs --adcode"):
        plan_import(registry, src)
    res = run_import(registry, src, options={"adcode": "519921"})
    assert res.applied and {f.properties["adcode"] for f in registry.features("shelters")} == {"519921"}


def test_import_from_the_command_line_with_a_json_report(registry_path, tmp_path):
    src = write_gpkg(tmp_path / "mixed.gpkg", frame([pad(1), pad(2, status="broken")], [(103.7, 30.6), (103.71, 30.6)]))
    report = tmp_path / "report.json"
    res = CliRunner().invoke(cli, ["import", str(registry_path), str(src), "--id-field", "code", "--dry-run",
                                   "--report", str(report)], env={"RALLYPOINT_AUTHOR": "cli", "COLUMNS": "200"})
    assert res.exit_code == 1 and "would be refused" in res.output
    data = json.loads(report.read_text())
    assert data["dry_run"] and not data["applied"]
    assert [r["label"] for r in data["refused"]] == ["helipads fid 2 (2号起降点)"]
    assert "'broken' is not an allowed value" in data["refused"][0]["reason"]


# -- an export of this very registry comes back --------------------------------------------------------


def test_an_export_of_this_registry_applies_only_what_changed_in_the_file(county_sample, tmp_path):
    from rallypoint.exchange.export import export_registry

    reg_path = tmp_path / "county.gpkg"
    reg_path.write_bytes(county_sample.read_bytes())
    export = tmp_path / "out.gpkg"
    export_registry(reg_path, export, layers=["teams"])
    a, b = rows(export, "SELECT uuid FROM teams ORDER BY fid LIMIT 2")
    execute(export, ("UPDATE teams SET vehicles = 33, members = 44 WHERE uuid = ?", a),
            ("UPDATE teams SET members = 55 WHERE uuid = ?", b))
    with Registry.open(reg_path) as reg:
        reg.update("teams", a[0], {"readiness_min": 9}, author="duty")  # changed here since the export
        reg.update("teams", b[0], {"members": 66}, author="duty")       # the same field the file changed
        res = run_import(reg, export, dry_run=True)
        assert res.plan.lineage == "this registry"
        changes = {f.uuid: f for f in res.plan.features if f.op != "unchanged"}
        assert set(changes[a[0]].changes) == {"vehicles", "members"}  # readiness_min stays 9, not reverted
        assert changes[b[0]].op == "refused" and "conflict: members changed both" in changes[b[0]].reason


class PadsFormat:
    """A throwaway plugin with an import format of its own (one record per line: name;lon;lat)."""

    @hookimpl
    def rallypoint_import_formats(self):
        from rallypoint.exchange_formats import ImportFormat

        def read(path, options):
            for line in open(path, encoding="utf-8"):
                name, lon, lat = line.strip().split(";")
                yield "helipads", pad(int(name), name=f"{name}号"), Point(float(lon), float(lat)), "EPSG:4326"

        return [ImportFormat("pads", "Pads list", (".pads",), read)]


def test_an_import_format_from_a_plugin_is_read(tmp_path, empty_registry_file):
    path = tmp_path / "reg.gpkg"
    path.write_bytes(empty_registry_file.read_bytes())
    src = tmp_path / "list.pads"
    src.write_text("1;103.70;30.60\n2;103.71;30.61\n", encoding="utf-8")
    pm = get_plugin_manager(entrypoints=False, extra=[("pads", PadsFormat())])
    with Registry.open(path, plugins=pm) as reg:
        res = run_import(reg, src, id_field="code")
        assert res.applied and res.counts["insert"] == 2 and res.plan.source.format == "Pads list"


def test_codes_given_as_lists_are_put_in_the_definitions_order_whichever_rows_hold_them(registry):
    """The mapping copies fields a column at a time; a value that is a list (in any row, from a rule or --set)
    is still turned into the layer's codes in the definition's order, and no other value is touched."""
    from rallypoint.exchange import mapping as mp
    from rallypoint.exchange.importer import _map_layer
    from rallypoint.exchange.readers import SourceLayer

    ldef = registry.layer("shelters")
    rows = [{"name": "甲", "hazards": "flood"}, {"name": "乙", "hazards": ["flood", "earthquake"]},
            {"name": "丙", "hazards": ("fire",)}, {"name": ["x"]}]
    layer = SourceLayer("shelters", ["name", "hazards"], rows, [None] * 4, [f"row {i}" for i in range(1, 5)])
    m = mp.native_mapping(ldef, layer)
    out = _map_layer(ldef, layer, m, [None] * 4, {}, {}, None, None, {}, None)
    assert [given.get("hazards") for _, given, _ in out] == ["flood", "earthquake,flood", "fire", None]
    assert out[3][1]["name"] == "x" and out[0][1]["name"] == "甲"  # any list is joined; other values as they came
    out = _map_layer(ldef, layer, m, [None] * 4, {}, {"hazards": ["typhoon", "earthquake"]}, None, None, {}, None)
    assert {given["hazards"] for _, given, _ in out} == {"earthquake,typhoon"}
