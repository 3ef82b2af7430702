"""Positions checked against divisions: a point outside the division its code names is refused on every write
path and listed by validate (also after a direct SQL edit of a PostGIS table, as QGIS makes them); points
outside China are refused even without boundaries; coordinates are numbers (GeoJSON, --at, the HTTP API).

The boundaries are drawn here: a county 519901 (104.0–104.2°E, 30.6–30.8°N) of two townships split at
104.1°E. Distances are measured independently in the test (pyproj, CGCS2000 Gauss–Krüger 105°E)."""

import json

import geopandas as gpd
import psycopg
import pyproj
import pytest
from click.testing import CliRunner
from shapely.geometry import MultiPolygon, Point, box

from rallypoint import Registry
from rallypoint.check import check_registry
from rallypoint.cli.main import cli
from rallypoint.errors import ValidationError
from rallypoint.exchange.apply import apply_import
from rallypoint.exchange.importer import plan_import
from rallypoint.positions import BOUNDARY_TOLERANCE_M
from rallypoint.web import create_app

from conftest import REAL_FIXTURES, StepClock, helipad, shelter
from web_support import auth, make_key

pytestmark = pytest.mark.both_backends

WEST = Point(104.05, 30.70)   # in 519901001 西城街道
EAST = Point(104.15, 30.70)   # in 519901002 东城街道
GK = pyproj.Transformer.from_crs(4490, 4544, always_xy=True)  # CGCS2000 / 3-degree Gauss-Kruger CM 105E


def load_areas(reg):
    county, west, east = box(104.0, 30.6, 104.2, 30.8), box(104.0, 30.6, 104.1, 30.8), box(104.1, 30.6, 104.2, 30.8)
    gdf = gpd.GeoDataFrame({"adcode": ["519901", "519901001", "519901002"], "name": ["示例县", "西城街道", "东城街道"],
                            "level": ["county", "township", "township"],
                            "parent_adcode": ["519900", "519901", "519901"], "population": [1000, 600, 400]},
                           geometry=[MultiPolygon([g]) for g in (county, west, east)], crs=4490)
    reg.load_reference("admin_areas", gdf, author="测绘")


def east_of_the_split(metres: float) -> Point:
    """A point ``metres`` east of the townships' common boundary (104.1°E) at 30.7°N, in the Gauss–Krüger plane."""
    x, y = GK.transform(104.1, 30.7)
    return Point(GK.transform(x + metres, y, direction="INVERSE"))


def refused(reg, fn):
    before = len(reg.history())
    with pytest.raises(ValidationError) as exc:
        fn()
    assert len(reg.history()) == before  # nothing written
    return exc.value.problems


# -- the division --------------------------------------------------------------------------------


def test_a_point_outside_the_division_its_code_names_is_refused_naming_both(registry):
    load_areas(registry)
    [p] = refused(registry, lambda: registry.add("helipads", helipad(adcode="519901001"), EAST, author="a"))
    assert (p.layer, p.feature, p.field) == ("helipads", "new feature #1 ('一号起降点')", "adcode")
    km = pyproj.Geod(ellps="GRS80").inv(104.15, 30.7, 104.1, 30.7)[2] / 1000  # to the boundary, due west
    assert f"lies {km:.1f} km outside division 519901001 西城街道, the division its code names" in p.message
    assert registry.count("helipads") == 0
    registry.add("helipads", helipad(adcode="519901001"), WEST, author="a")
    registry.add("helipads", helipad(adcode="519901002", name="二号"), EAST, author="a")
    assert registry.count("helipads") == 2


def test_a_point_on_the_boundary_is_within_a_tolerance_measured_in_metres(registry):
    load_areas(registry)
    assert BOUNDARY_TOLERANCE_M == 50
    for metres in (0, 30, 49):  # on the boundary, and a few metres across it: still the western township's
        registry.add("helipads", helipad(adcode="519901001", name=f"边界{metres}"), east_of_the_split(metres),
                     author="a")
    [p] = refused(registry, lambda: registry.add("helipads", helipad(adcode="519901001", name="越界"),
                                                 east_of_the_split(80), author="a"))
    assert "lies 80 m outside division 519901001 西城街道" in p.message


def test_moving_a_feature_out_of_its_division_is_refused_on_update(registry):
    load_areas(registry)
    f = registry.add("shelters", shelter(adcode="519901002"), EAST, author="a")
    [p] = refused(registry, lambda: registry.update("shelters", f.uuid, geometry=WEST, author="a"))
    assert p.feature == f"feature {f.uuid}" and "outside division 519901002 东城街道" in p.message
    [p] = refused(registry, lambda: registry.update("shelters", f.uuid, {"adcode": "519901001"}, author="a"))
    assert "outside division 519901001 西城街道" in p.message
    registry.update("shelters", f.uuid, {"adcode": "519901001"}, geometry=WEST, author="a")  # both at once: fine


def test_a_code_without_a_boundary_is_held_to_the_nearest_enclosing_one(registry):
    load_areas(registry)
    [p] = refused(registry, lambda: registry.add("helipads", helipad(adcode="519901001005"), EAST, author="a"))
    assert "outside division 519901001 西城街道, the division that holds 519901001005" in p.message
    [p] = refused(registry, lambda: registry.add("helipads", helipad(adcode="519901009"), Point(104.3, 30.7),
                                                 author="a"))
    assert "outside division 519901 示例县, the division that holds 519901009" in p.message
    registry.add("helipads", helipad(adcode="519901009"), EAST, author="a")  # in the county: no township to hold it to
    registry.add("helipads", helipad(adcode="510104001"), Point(104.08, 30.65), author="a")  # no boundary held


def test_validate_lists_every_feature_outside_its_division(registry, registry_location):
    strays = [registry.add("helipads", helipad(adcode="519901001", name=f"错位{i}"), EAST, author="a").uuid
              for i in range(2)]  # written before the registry held boundaries
    registry.add("helipads", helipad(adcode="519901002", name="正常"), EAST, author="a")
    assert check_registry(registry_location, gdal=False) == []
    load_areas(registry)
    found = check_registry(registry_location, gdal=False)
    assert sorted(p.feature for p in found) == sorted(f"feature {u}" for u in strays)
    assert all(p.field == "adcode" and "outside division 519901001 西城街道" in p.message for p in found)
    [p] = refused(registry, lambda: registry.update("helipads", strays[0], {"status": "restricted"}, author="a"))
    assert "outside division 519901001" in p.message  # any change to it is refused until the point or code is fixed
    result = CliRunner().invoke(cli, ["validate", str(registry_location)])
    assert result.exit_code == 1 and "西城街道" in result.output


# -- China's extent ------------------------------------------------------------------------------


@pytest.mark.parametrize("where", [Point(0, 0), Point(139.69, 35.69), Point(136.97, 37.04)],
                         ids=["null-island", "tokyo", "nanao"])
def test_a_point_outside_china_is_refused_even_without_boundaries(registry, where):
    [p] = refused(registry, lambda: registry.add("helipads", helipad(adcode="519901001"), where, author="a"))
    assert p.field is None and "lies outside China's extent" in p.message


def test_the_far_corners_of_china_are_inside_it(registry):
    for name, where in (("曾母暗沙附近", Point(112.28, 3.97)), ("漠河", Point(122.53, 53.48)),
                        ("抚远", Point(134.9, 48.3)), ("帕米尔", Point(73.7, 39.2))):
        registry.add("helipads", helipad(adcode="519901001", name=name), where, author="a")


def test_a_foreign_list_is_refused_by_a_chinese_registry_and_taken_by_one_for_foreign_data(registry, tmp_path):
    src = REAL_FIXTURES / "jp-gsi" / "emergency_131016.json"
    plan = plan_import(registry, src, options={"adcode": "519921"})
    result = apply_import(registry, plan, author="a")
    assert not result.applied and registry.count("shelters") == 0
    assert all("outside China's extent" in f.reason for f in result.refused)
    with Registry.create(tmp_path / "world.gpkg", name="演练", bureau="演练", extent="world") as world:
        result = apply_import(world, plan_import(world, src, options={"adcode": "519921"}), author="a")
        assert result.applied and world.count("shelters") == result.counts["insert"] > 0
    assert check_registry(tmp_path / "world.gpkg", gdal=False) == []


def test_a_registry_for_foreign_data_takes_points_anywhere_and_validates(foreign_registry, registry_location):
    assert foreign_registry.info.extent == "world"
    foreign_registry.add("helipads", helipad(adcode="519901001"), Point(139.69, 35.69), author="a")
    assert check_registry(registry_location, gdal=False) == []
    with pytest.raises(ValueError, match="unknown extent 'moon'"):
        Registry.create(registry_location, name="x", bureau="y", extent="moon", overwrite=True)


# -- coordinates are numbers -----------------------------------------------------------------------


def test_geojson_coordinates_given_as_text_are_refused_naming_the_coordinate(registry):
    geojson = {"type": "Point", "coordinates": ["104.05", 30.7]}
    [p] = refused(registry, lambda: registry.add("helipads", helipad(), geojson, author="a"))
    assert 'geometry.coordinates[0]: "104.05" is text, not a number' in p.message
    [p] = refused(registry, lambda: registry.add("helipads", helipad(), json.dumps(
        {"type": "LineString", "coordinates": [[104.0, 30.7], [104.1, True]]}), author="a"))
    assert "geometry.coordinates[1][1]: true is not a number" in p.message


@pytest.mark.parametrize("at, why", [("104.05,abc", "'abc' is not a number"), ("nan,30.7", "'nan' is not a number"),
                                     ("104.05", "1 value(s)"), ("0x68,30.7", "'0x68' is not a number")])
def test_at_on_the_command_line_takes_two_numbers(registry_location, at, why):
    sets = [a for k, v in helipad().items() for a in ("--set", f"{k}={v}")]
    result = CliRunner().invoke(cli, ["add", str(registry_location), "helipads", "--at", at, *sets],
                                env={"RALLYPOINT_AUTHOR": "cli", "COLUMNS": "200"})
    assert result.exit_code == 2 and "--at" in result.output and why in result.output


def test_a_geojson_file_with_text_coordinates_is_refused_naming_the_coordinate(registry_location, tmp_path):
    src = tmp_path / "pads.geojson"
    src.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": helipad(), "geometry": {"type": "Point", "coordinates": [104.05, "30.7"]}}]}),
        encoding="utf-8")
    env = {"RALLYPOINT_AUTHOR": "cli", "COLUMNS": "200"}
    added = CliRunner().invoke(cli, ["add", str(registry_location), "helipads", "--geojson", str(src)], env=env)
    assert added.exit_code == 1 and 'geometry.coordinates[1]: "30.7" is text, not a number' in added.output
    imported = CliRunner().invoke(cli, ["import", str(registry_location), str(src), "--layer", "helipads"], env=env)
    assert imported.exit_code == 1 and 'geometry.coordinates[1]: "30.7" is text' in imported.output
    with Registry.open(registry_location) as reg:
        assert reg.count("helipads") == 0


def test_the_http_api_answers_400_naming_a_coordinate_sent_as_text(registry, registry_location):
    load_areas(registry)
    client = create_app(registry_location, {"TESTING": True}).test_client()
    headers = {**auth(make_key(registry_location, "zhang.wei", "editor")), "Content-Type": "application/geo+json"}

    def body(coords, **over):
        return json.dumps({"type": "Feature", "geometry": {"type": "Point", "coordinates": coords},
                           "properties": helipad(adcode="519901001", **over)})

    r = client.post("/collections/helipads/items", data=body(["104.05", "30.7"]), headers=headers)
    assert r.status_code == 400 and 'geometry.coordinates[0]: "104.05" is text' in r.get_json()["description"]
    r = client.post("/collections/helipads/items", data=body([104.15, 30.7]), headers=headers)  # the other township
    assert r.status_code == 400 and "519901001 西城街道" in r.get_json()["description"]
    r = client.post("/collections/helipads/items", data=body([104.05, 30.7]), headers=headers)
    assert r.status_code == 201
    url = f"/collections/helipads/items/{r.get_json()['id']}"
    headers = {**headers, "If-Match": r.headers["ETag"]}  # a change names the version it is made on
    r = client.put(url, data=body([104.05, "30.7"]), headers=headers)
    assert r.status_code == 400 and 'geometry.coordinates[1]: "30.7" is text' in r.get_json()["description"]
    r = client.patch(url, data=json.dumps({"geometry": {"type": "Point", "coordinates": [None, 30.7]}}),
                     headers={**headers, "Content-Type": "application/merge-patch+json"})
    assert r.status_code == 400 and "geometry.coordinates[0]: null is not a number" in r.get_json()["description"]
    assert registry.count("helipads") == 1


# -- PostGIS: edits that bypass Rallypoint ------------------------------------------------------------


def test_validate_finds_a_stray_written_straight_into_a_postgis_table(pg_registry_url):
    """QGIS editing a PostGIS layer, or plain SQL, writes without Rallypoint's checks (the triggers stamp and
    record the change, nothing more): validate lists what lies outside its division."""
    with Registry.open(pg_registry_url, clock=StepClock()) as reg:
        load_areas(reg)
        ok = reg.add("helipads", helipad(adcode="519901002"), EAST, author="a")
    with psycopg.connect(pg_registry_url, autocommit=True) as conn:
        with conn.transaction():
            conn.execute("SET LOCAL rallypoint.author = 'qgis-user'")
            conn.execute("UPDATE helipads SET geom = ST_SetSRID(ST_MakePoint(104.05, 30.7), 4490) WHERE uuid = %s",
                         (ok.uuid,))
            new = helipad(adcode="519901001", name="直接写入")
            conn.execute(f"INSERT INTO helipads ({', '.join(new)}, geom) VALUES ({', '.join(['%s'] * len(new))},"
                         " ST_SetSRID(ST_MakePoint(104.15, 30.7), 4490))", list(new.values()))
            stray = conn.execute("SELECT uuid FROM helipads WHERE name = '直接写入'").fetchone()[0]
    found = check_registry(pg_registry_url)
    assert sorted((p.feature, p.field) for p in found) == sorted(
        [(f"feature {ok.uuid}", "adcode"), (f"feature {stray}", "adcode")])
    messages = {p.feature: p.message for p in found}
    assert "outside division 519901002 东城街道" in messages[f"feature {ok.uuid}"]
    assert "outside division 519901001 西城街道" in messages[f"feature {stray}"]
