"""Bad values are refused: the error names layer, feature and field, and nothing is written."""

import pytest
from shapely.geometry import LineString, Point, Polygon

from rallypoint import ValidationError

from conftest import HERE, depot, hazard, helipad, shelter, stock

pytestmark = pytest.mark.both_backends


def _refused(registry, layer, props, geom=HERE, **kw):
    before = (registry.count(layer, include_retired=True), len(registry.history()))
    with pytest.raises(ValidationError) as exc:
        registry.add(layer, props, geom, author="tester", **kw)
    assert (registry.count(layer, include_retired=True), len(registry.history())) == before, "something was written"
    return exc.value.problems


@pytest.mark.parametrize("field, value, message", [
    ("capacity_day", -5, "below the minimum 0"),
    ("capacity_day", "many", "is not a number"),
    ("capacity_day", 10.5, "not a whole number"),
    ("effective_area_m2", float("nan"), "not a finite number"),
    ("status", "abandoned", "not an allowed value"),
    ("hazards", "earthquake,meteor", "'meteor' is not an allowed value"),
    ("adcode", "12345", "6, 9 or 12 digits"),
    ("adcode", "999901001", "province code"),
    ("manager_phone", "12345", "not a Chinese mobile or landline"),
    ("occupancy_at", "2024-01-09 18:00", "no time zone"),
    ("occupancy_at", "yesterday", "not an ISO 8601"),
    ("wheelchair_access", "perhaps", "not true or false"),
    ("name", "名" * 101, "longer than 100"),
    ("name", None, "is required"),
    ("colour", "red", "no such field"),
    ("version", 7, "set by the registry"),
    ("created_by", "me", "set by the registry"),
])
def test_each_kind_of_bad_value_names_layer_feature_and_field(registry, field, value, message):
    problems = _refused(registry, "shelters", shelter(**{field: value}))
    assert len(problems) == 1, problems
    p = problems[0]
    assert (p.layer, p.field) == ("shelters", field)
    assert "人民公园应急避难场所" in p.feature or field == "name"
    assert message in p.message


@pytest.mark.parametrize("geom, message", [
    (None, "geometry is required"),
    (LineString([(104, 30), (104.1, 30.1)]), "a LineString was given where the layer holds Point"),
    (Point(), "empty"),
    (Point(500, 30), "outside longitude"),
    ("POINT (104 30", "cannot read the geometry"),
])
def test_bad_geometries_are_refused(registry, geom, message):
    problems = _refused(registry, "helipads", helipad(), geom)
    assert [p.field for p in problems] == [None]
    assert message in problems[0].message


def test_an_invalid_polygon_is_refused_with_the_reason(registry):
    bowtie = Polygon([(104, 30), (104.1, 30.1), (104.1, 30), (104, 30.1)])
    import geopandas as gpd
    gdf = gpd.GeoDataFrame({"adcode": ["519901"], "name": ["甲"], "level": ["county"]}, geometry=[bowtie], crs=4490)
    with pytest.raises(ValidationError, match="Self-intersection"):
        registry.load_reference("admin_areas", gdf, author="tester")
    assert registry.count("admin_areas") == 0


def test_one_bad_feature_in_a_batch_writes_nothing_and_every_problem_is_listed(registry):
    good = [(helipad(name=f"起降点{i}"), Point(104 + i / 100, 30.5)) for i in range(5)]
    bad = (helipad(name="坏点", pad_length_m=0, status="gone"), Point(104.2, 30.5))
    with pytest.raises(ValidationError) as exc:
        registry.add_many("helipads", good[:3] + [bad] + good[3:], author="tester")
    assert registry.count("helipads") == 0 and registry.history() == []
    assert {(p.feature, p.field) for p in exc.value.problems} == {
        ("new feature #4 ('坏点')", "pad_length_m"), ("new feature #4 ('坏点')", "status")}


def test_labels_are_accepted_for_codes_and_stored_as_codes(registry):
    f = registry.add("shelters", shelter(status="待命", hazards="地震，Flood", wheelchair_access="是"), HERE,
                     author="tester")
    assert f.properties["status"] == "standby"
    assert f.properties["hazards"] == "earthquake,flood"
    assert f.properties["wheelchair_access"] is True


def test_danger_grade_is_derived_from_the_threat_for_geohazards(registry):
    f = registry.add("hazard_points", hazard(threatened_people=120, threatened_property=6000), HERE, author="t")
    assert f.properties["danger_grade"] == "II"  # property 60 M CNY beats people 120 (III)
    f = registry.update("hazard_points", f.uuid, {"threatened_property": 10}, author="t")
    assert f.properties["danger_grade"] == "III"  # recomputed when the threat changes
    problems = _refused(registry, "hazard_points", hazard(threatened_people=2000, danger_grade="IV"))
    assert problems[0].field == "danger_grade" and "gives 'I'" in problems[0].message


def test_major_hazard_installations_are_graded_from_r_and_other_types_by_hand(registry):
    f = registry.add("hazard_points", hazard(hazard_type="major_hazard_installation", risk_value_r=55), HERE,
                     author="t")
    assert f.properties["danger_grade"] == "II"
    f = registry.add("hazard_points", hazard(hazard_type="fire_risk", danger_grade="III"), HERE, author="t")
    assert f.properties["danger_grade"] == "III"


def test_references_must_point_at_a_feature_in_use(registry):
    s = registry.add("shelters", shelter(), HERE, author="t")
    ok = registry.add("hazard_points", hazard(assigned_shelter=s.uuid), HERE, author="t")
    assert ok.properties["assigned_shelter"] == s.uuid
    problems = _refused(registry, "hazard_points", hazard(assigned_shelter="00000000-0000-4000-8000-000000000000"))
    assert problems[0].field == "assigned_shelter"
    d = registry.add("depots", depot(), HERE, author="t")
    registry.retire("depots", d.uuid, author="t")
    problems = _refused(registry, "depot_stock", stock(d.uuid), None)
    assert problems[0].field == "depot_uuid" and "not" in problems[0].message or "no depots" in problems[0].message


def test_a_related_row_can_refer_to_a_depot_added_in_the_same_batch(registry):
    with registry.batch(author="t") as b:
        d = b.add("depots", depot(), HERE)
        b.add("depot_stock", stock(d), None)
    assert registry.count("depot_stock") == 1


def test_a_duplicate_uuid_is_refused(registry):
    s = registry.add("shelters", shelter(), HERE, author="t")
    problems = _refused(registry, "shelters", shelter(uuid=s.uuid))
    assert problems[0].field == "uuid" and "already used" in problems[0].message
