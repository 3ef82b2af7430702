"""The synthetic sample region: deterministic, valid, and internally consistent."""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from rallypoint.sample_data import SHELTER_STANDARD_M2, SampleData, generate
from rallypoint.schema import builtin_layers
from rallypoint.validation import check_feature
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

LAYERS = ("shelters", "depots", "depot_stock", "teams", "hazard_points", "helipads")
SYSTEM = {"version", "created_at", "created_by", "updated_at", "updated_by", "retired_at"}
GEOHAZARDS = {"landslide", "rockfall", "debris_flow", "collapse", "ground_fissure", "subsidence", "unstable_slope"}
MOBILE = re.compile(r"^1[3-9]\d{9}$")


@pytest.fixture(scope="module")
def county() -> SampleData:
    return generate("county")


def _townships(data: SampleData) -> gpd.GeoDataFrame:
    a = data.admin_areas
    return a[a.level == "township"]


def _road_components(roads: gpd.GeoDataFrame) -> tuple[int, np.ndarray]:
    """Nodes are endpoints with identical coordinates; returns (node count, component label per node)."""
    ends = shapely.get_coordinates(shapely.get_point(roads.geometry.values, [[0], [-1]]).T.ravel())
    assert len(ends) == 2 * len(roads)
    _, inv = np.unique(ends, axis=0, return_inverse=True)
    inv = inv.ravel()
    n = int(inv.max()) + 1
    graph = coo_matrix((np.ones(len(roads)), (inv[0::2], inv[1::2])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return n, labels


def _assert_same(a: SampleData, b: SampleData) -> None:
    assert a.region == b.region
    for name in ("admin_areas", "population", "roads"):
        fa, fb = getattr(a, name), getattr(b, name)
        pd.testing.assert_frame_equal(pd.DataFrame(fa.drop(columns="geometry")),
                                      pd.DataFrame(fb.drop(columns="geometry")))
        assert fa.crs == fb.crs
        assert list(shapely.to_wkb(fa.geometry.values)) == list(shapely.to_wkb(fb.geometry.values))
    assert a.features.keys() == b.features.keys()
    for name in a.features:
        assert [p for p, _ in a.features[name]] == [p for p, _ in b.features[name]]
        assert [None if g is None else g.wkb for _, g in a.features[name]] == \
               [None if g is None else g.wkb for _, g in b.features[name]]


def test_same_seed_gives_identical_output(county):
    _assert_same(county, generate("county"))


def test_another_seed_gives_other_data(county):
    other = generate("county", seed=7)
    assert [p["uuid"] for p, _ in other.features["shelters"]] != [p["uuid"] for p, _ in county.features["shelters"]]
    assert other.population.population.to_numpy().tolist() != county.population.population.to_numpy().tolist()


def test_unknown_size_is_refused():
    with pytest.raises(ValueError, match="size"):
        generate("province")


def test_county_sizes(county):
    assert county.region == {"name": "示例县", "adcode": "519921", "bureau": "示例县应急管理局"}
    assert 10 <= len(_townships(county)) <= 15
    assert 20_000 <= len(county.population) <= 40_000
    assert 300_000 <= county.population.population.sum() <= 400_000
    assert 5_000 <= len(county.roads) <= 20_000
    f = county.features
    assert 50 <= len(f["shelters"]) <= 70
    assert 1_400 <= len(f["hazard_points"]) <= 1_600
    assert len(f["helipads"]) == 3
    assert len(f["depots"]) == 1 + len(_townships(county))
    assert 30 <= len(f["teams"]) <= 60


def test_admin_areas(county):
    a = county.admin_areas
    assert a.crs.to_epsg() == 4490
    assert set(a.geom_type) == {"MultiPolygon"}
    assert a.geometry.is_valid.all()
    assert a.adcode.is_unique
    top = a[a.level == "county"]
    assert top.adcode.tolist() == ["519921"] and top.parent_adcode.tolist() == ["519900"]
    towns = _townships(county)
    assert towns.adcode.str.fullmatch(r"519921\d{3}").all()
    assert (towns.parent_adcode == "519921").all()
    assert towns.name.str.endswith(("街道", "镇", "乡")).all()
    # townships tile the county: areas add up and the union is the county (in a metric CRS)
    proj = a.to_crs(4544)
    county_area = proj[proj.level == "county"].area.sum()
    town_areas = proj[proj.level == "township"]
    assert town_areas.area.sum() == pytest.approx(county_area, rel=1e-6)
    assert shapely.union_all(town_areas.geometry.values).symmetric_difference(
        proj[proj.level == "county"].geometry.iloc[0]).area < 1e-6 * county_area


def test_population_adds_up(county):
    cells = county.population
    a = county.admin_areas
    towns = _townships(county)
    sums = cells.groupby("adcode").population.sum()
    assert set(sums.index) <= set(towns.adcode)
    for code, pop in zip(towns.adcode, towns.population, strict=True):
        assert pop == sums.get(code, 0)
    assert a[a.level == "county"].population.iloc[0] == towns.population.sum() == cells.population.sum()


def test_population_cells(county):
    cells = county.population
    assert cells.crs.to_epsg() == 4490
    assert (cells.cell_m == 100.0).all()
    assert (cells.population >= 0).all() and (cells.population_day >= 0).all()
    assert cells.population.dtype.kind == "i" and cells.population_day.dtype.kind == "i"
    # the day population moves towards the core but the total stays about the same
    assert cells.population_day.sum() == pytest.approx(cells.population.sum(), rel=0.02)
    top = cells.population >= cells.population.quantile(0.99)
    assert cells.population_day[top].sum() > cells.population[top].sum()


def test_every_cell_lies_in_its_township(county):
    towns = _townships(county)[["adcode", "geometry"]].rename(columns={"adcode": "found"})
    joined = gpd.sjoin(county.population[["adcode", "geometry"]], towns, how="left", predicate="within")
    assert len(joined) == len(county.population)  # no cell in two townships
    assert (joined.adcode == joined.found).all()


def test_resource_features_pass_the_validator(county):
    layers = builtin_layers()
    for name in LAYERS:
        layer = layers[name]
        editable = {f.name for f in layer.fields if not f.system} | {"uuid"}
        for props, geom in county.features[name]:
            assert set(props) <= editable
            checked = check_feature(layer, props, geom, allow_uuid=True)
            assert checked.problems == [], (name, props, checked.problems)


def test_feature_conventions(county):
    layers = builtin_layers()
    towns = set(_townships(county).adcode)
    uuids = []
    for name in LAYERS:
        for props, geom in county.features[name]:
            uuids.append(props["uuid"])
            assert not SYSTEM & set(props)
            assert props["source"] == "示例县应急管理局"
            if layers[name].geometry == "None":
                assert geom is None
            else:
                assert geom.geom_type == "Point"
                assert props["adcode"] in towns
            for field in layers[name].personal_fields:
                if field.endswith("_phone") and field in props:
                    assert MOBILE.match(props[field]), props[field]
    assert len(uuids) == len(set(uuids))


def test_point_adcodes_are_the_containing_township(county):
    towns = _townships(county)[["adcode", "geometry"]].rename(columns={"adcode": "found"})
    for name in ("shelters", "depots", "teams", "hazard_points", "helipads"):
        feats = county.features[name]
        pts = gpd.GeoDataFrame({"adcode": [p["adcode"] for p, _ in feats]}, geometry=[g for _, g in feats],
                               crs=4490)
        joined = gpd.sjoin(pts, towns, how="left", predicate="within")
        assert (joined.adcode == joined.found).all(), name


def test_references_resolve(county):
    f = county.features
    depots = {p["uuid"] for p, _ in f["depots"]}
    shelters = {p["uuid"] for p, _ in f["shelters"]}
    per_depot: dict[str, int] = {}
    for props, _ in f["depot_stock"]:
        assert props["depot_uuid"] in depots
        per_depot[props["depot_uuid"]] = per_depot.get(props["depot_uuid"], 0) + 1
    assert set(per_depot) == depots and all(5 <= n <= 15 for n in per_depot.values())
    geo = [p for p, _ in f["hazard_points"] if p["hazard_type"] in GEOHAZARDS]
    assigned = [p["assigned_shelter"] for p in geo if "assigned_shelter" in p]
    assert len(assigned) >= 0.8 * len(geo)
    assert all(a in shelters for p, _ in f["hazard_points"] for a in [p.get("assigned_shelter")] if a)


def test_hazard_points(county):
    hz = [(p, g) for p, g in county.features["hazard_points"]]
    for p, _ in hz:
        if p["hazard_type"] in GEOHAZARDS or (p["hazard_type"] == "major_hazard_installation"
                                              and "risk_value_r" in p):
            assert "danger_grade" not in p
        else:
            assert "danger_grade" in p
    people = np.array([p["threatened_people"] for p, _ in hz])
    assert np.mean(people < 100) > 0.8 and people.max() >= 500
    # geohazards lie in the hilly west
    geo_lon = np.mean([g.x for p, g in hz if p["hazard_type"] in GEOHAZARDS])
    assert geo_lon < county.population.geometry.x.mean()


def test_shelters(county):
    sh = [p for p, _ in county.features["shelters"]]
    over = [p for p in sh if p["capacity_day"] > p["effective_area_m2"] / SHELTER_STANDARD_M2[p["shelter_type"]]]
    assert 1 <= len(over) <= 0.1 * len(sh)
    assert all(p["occupancy"] == 0 for p in sh if p["status"] in ("standby", "closed"))
    assert sum(p["status"] == "standby" for p in sh) > len(sh) / 2
    assert all("flood" not in p["hazards"].split(",") for p in sh if p["in_flood_plain"])


def test_shelters_are_where_people_are(county):
    cells = county.population
    tree = cKDTree(np.column_stack([cells.geometry.x, cells.geometry.y]))
    pts = np.array([(g.x, g.y) for _, g in county.features["shelters"]])
    _, near = tree.query(pts)
    assert cells.population.to_numpy()[near].mean() > 3 * cells.population.mean()


def test_road_network(county):
    roads = county.roads
    assert roads.crs.to_epsg() == 4490
    assert set(roads.geom_type) == {"LineString"}
    layer = builtin_layers()["roads"]
    assert set(roads.road_class) <= set(layer.field("road_class").codes)
    assert {"motorway", "primary", "secondary", "residential", "track", "path"} <= set(roads.road_class)
    assert not roads.walk[roads.road_class == "motorway"].any()
    assert not roads.drive[roads.road_class == "path"].any()
    assert roads.drive[roads.road_class != "path"].all()
    assert (shapely.length(roads.geometry.values) > 0).all()
    n, labels = _road_components(roads)
    assert np.bincount(labels).max() >= 0.95 * n


@pytest.mark.slow
def test_city_headline_counts():
    city = generate("city")
    assert city.region["adcode"] == "519900"
    f = city.features
    assert len(f["shelters"]) == 2938
    assert len(f["helipads"]) == 25
    assert abs(len(f["hazard_points"]) - 140_000) <= 0.05 * 140_000
    assert abs(len(city.population) - 1_000_000) <= 0.10 * 1_000_000
    assert abs(city.population.population.sum() - 9_600_000) <= 0.05 * 9_600_000
    assert 300_000 <= len(city.roads) <= 500_000
    levels = city.admin_areas.level.value_counts()
    assert levels["city"] == 1 and 10 <= levels["county"] <= 14 and 150 <= levels["township"] <= 250
    sh = [p for p, _ in f["shelters"]]
    assert sum(p["effective_area_m2"] for p in sh) == pytest.approx(1_969_000, rel=0.02)
    assert sum(p["capacity_day"] for p in sh) == pytest.approx(308_200, rel=0.02)
    rectified = np.mean([p["status"] == "rectified" for p, _ in f["hazard_points"]])
    assert rectified == pytest.approx(0.99, abs=0.005)
    assert 1_500 <= len(f["teams"]) <= 2_500
    n, labels = _road_components(city.roads)
    assert np.bincount(labels).max() >= 0.95 * n
