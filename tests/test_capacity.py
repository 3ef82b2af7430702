"""The capacity analysis plugin: a hand-computed region, the county sample, the CLI, bad input, Nanao."""

from __future__ import annotations

import math
import re
import unicodedata
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from click.testing import CliRunner
from conftest import REAL_FIXTURES, depot, hazard, shelter, stock, team

from rallypoint.analysis import run_analysis
from rallypoint.cli.main import cli
from rallypoint.hookspecs import hookimpl
from rallypoint.plugins import default_plugin_manager, get_plugin_manager
from rallypoint.profiles import Profile

pytestmark = pytest.mark.both_backends

NANAO = REAL_FIXTURES / "noto-nanao" / "history"
AUTHOR = "test"

# The tiny region, in CGCS2000 / 3-degree GK CM 105E (EPSG:4544) metres: two 4 km squares side by side,
# township A (519901001) west of township B (519901002), both inside county 519901.
X0, Y0 = 404_000.0, 3_390_000.0
GK = 4544


def _pt(x: float, y: float):
    """A point given in metres from the region's south-west corner (EPSG:4544)."""
    return shapely.Point(X0 + x, Y0 + y)


def area_frame() -> gpd.GeoDataFrame:
    a = shapely.box(X0, Y0, X0 + 4000, Y0 + 4000)
    b = shapely.box(X0 + 4000, Y0, X0 + 8000, Y0 + 4000)
    areas = gpd.GeoDataFrame({
        "adcode": ["519901", "519901001", "519901002"], "name": ["示例县", "甲镇", "乙镇"],
        "level": ["county", "township", "township"], "parent_adcode": ["519900", "519901", "519901"],
        "population": [2200, 1000, 1200]},
        geometry=[shapely.MultiPolygon([shapely.union(a, b)]), shapely.MultiPolygon([a]), shapely.MultiPolygon([b])],
        crs=GK)
    return areas


def cell_frame() -> gpd.GeoDataFrame:
    # Night: A 400 + 600 = 1000, B 800 + 400 = 1200.  Day: A 300 + 500 = 800, B 500 + 300 = 800.
    # The last cell lies in B but carries A's code: cells are placed by location, not by code.
    return gpd.GeoDataFrame({
        "adcode": ["519901001", "519901001", "519901002", "519901001"], "cell_m": [100.0] * 4,
        "population": [400, 600, 800, 400], "population_day": [300, 500, 500, 300]},
        geometry=[_pt(1050, 1050), _pt(2950, 2950), _pt(5050, 1050), _pt(6950, 2950)], crs=GK)


def build_tiny_region(reg) -> dict[str, str]:
    """Load the hand-computed region into an empty registry; returns a few UUIDs by role."""
    reg.load_reference("population", cell_frame(), author=AUTHOR)
    ids: dict[str, str] = {}
    # S1 (A) fixed_short 1000 m² / 2.0 = 500 places < 600 recorded: over_area, places 500; 450 people ≥ 0.9 × 500.
    ids["s1"] = reg.add("shelters", shelter(name="S1", adcode="519901001", shelter_type="fixed_short",
                                            level="township", effective_area_m2=1000, capacity_day=600,
                                            status="open", occupancy=450), _pt(1000, 2000), crs=GK,
                        author=AUTHOR).uuid
    # S2 (A) emergency 40 m² / 0.5 = 80 ≥ 50 recorded: places 50; 55 people: full, over capacity.
    ids["s2"] = reg.add("shelters", shelter(name="S2", adcode="519901001", shelter_type="emergency", level="village",
                                            effective_area_m2=40, capacity_day=50, capacity_night=40, status="full",
                                            occupancy=55), _pt(3000, 1000), crs=GK, author=AUTHOR).uuid
    # S3 (A) fixed_long 900 m² / 4.5 = 200 < 300 recorded: over_area; closed, so no places.
    ids["s3"] = reg.add("shelters", shelter(name="S3", adcode="519901001", shelter_type="fixed_long", level="county",
                                            effective_area_m2=900, capacity_day=300, capacity_night=200,
                                            status="closed", occupancy=0), _pt(2000, 3000), crs=GK,
                        author=AUTHOR).uuid
    # S4 lies in B though its code says A; fixed_medium 300 m² / 3.0 = 100 ≥ 90 recorded: places 90; no head count.
    ids["s4"] = reg.add("shelters", shelter(name="S4", adcode="519901001", shelter_type="fixed_medium",
                                            level="township", effective_area_m2=300, capacity_day=90,
                                            capacity_night=60, status="standby", occupancy=None),
                        _pt(6000, 2000), crs=GK, author=AUTHOR).uuid
    # D1 in A's centre, 2 km from B: within 30 km of both. D2 50 km east of B: within reach of neither.
    d1 = reg.add("depots", depot(name="D1", adcode="519901001"), _pt(2000, 2000), crs=GK, author=AUTHOR).uuid
    d2 = reg.add("depots", depot(name="D2", adcode="519901002"), _pt(58_000, 2000), crs=GK, author=AUTHOR).uuid
    for item, cat, unit, qty in [("大米", "food", "kg", 420), ("大米", "food", "t", 0.28),
                                 ("饮用水", "water", "L", 1050), ("瓶装水", "water", "box", 10),
                                 ("家庭包", "family_kit", "set", 30), ("帐篷", "tent", "set", 20),
                                 ("棉被", "quilt", "piece", 100)]:
        reg.add("depot_stock", stock(d1, item=item, category=cat, unit=unit, quantity=qty), author=AUTHOR)
    reg.add("depot_stock", stock(d2, item="大米", category="food", unit="kg", quantity=10_000), author=AUTHOR)
    # Teams: 45 members in A (ready), 30 in B (deployed); the unavailable one in B does not count.
    reg.add("teams", team(name="T1", members=45, status="ready"), _pt(500, 500), crs=GK, author=AUTHOR)
    reg.add("teams", team(name="T2", adcode="519901002", members=30, status="deployed"), _pt(4500, 500), crs=GK,
            author=AUTHOR)
    reg.add("teams", team(name="T3", adcode="519901002", members=20, status="unavailable"), _pt(4600, 500),
            crs=GK, author=AUTHOR)
    # Hazard points: A active + monitoring (+ rectified, not counted); B active (+ closed, + a retired one).
    for x, st in [(100, "active"), (200, "monitoring"), (300, "rectified"), (4100, "active"), (4200, "closed")]:
        reg.add("hazard_points", hazard(status=st), _pt(x, 3900), crs=GK, author=AUTHOR)
    gone = reg.add("hazard_points", hazard(status="active"), _pt(4300, 3900), crs=GK, author=AUTHOR).uuid
    reg.retire("hazard_points", gone, author=AUTHOR)
    # The boundaries come last: a registry holding them refuses S4 and D2, whose points lie outside the division
    # their code names; stored before (or by a direct edit of a PostGIS table) they are what analyses must place
    # by location, and what validate lists.
    reg.load_reference("admin_areas", area_frame(), author=AUTHOR)
    return ids


def analyse(reg, pm=None, **params):
    return run_analysis(reg, pm or default_plugin_manager(), "capacity", params, lang="en")


def by_code(result) -> pd.DataFrame:
    return result.layers["capacity_areas"].set_index("adcode")


def test_hand_computed_region(registry):
    build_tiny_region(registry)
    result = analyse(registry, situation="daytime")  # day capacities (the overnight ones: test_capacity_situation)
    a = by_code(result)
    assert list(a.index) == ["519901001", "519901002"]  # townships only, by code
    A, B = a.loc["519901001"], a.loc["519901002"]
    # population by location: A 400 + 600, B 800 + 400 (the mislabelled cell counts in B)
    assert (A.population, B.population) == (1000, 1200)
    # 15 % rule, rounded up: A 150, B 180
    assert (A.demand, B.demand) == (150, 180)
    # places: A = S1 500 + S2 50 (S3 closed); B = S4 90 (placed by location)
    assert (A.places, B.places) == (550, 90)
    assert (A.recorded_capacity, A.area_places) == (650, 580)
    assert (A.shelters, A.shelters_closed, A.over_area, B.shelters) == (2, 1, 2, 1)
    assert (A.shortfall, A.surplus, B.shortfall, B.surplus) == (0, 400, 90, 0)
    assert A.coverage == pytest.approx(550 / 150) and B.coverage == pytest.approx(90 / 180)
    # fixed places: A S1 500 → 50 % ≥ 15 %; B S4 90 → 7.5 % < 15 %
    assert (A.fixed_places, B.fixed_places) == (500, 90)
    assert A.fixed_ratio == pytest.approx(0.5) and B.fixed_ratio == pytest.approx(0.075)
    assert (bool(A.fixed_ok), bool(B.fixed_ok)) == (True, False)
    assert (A.n_township, A.places_township, A.n_village, A.places_village, A.n_county) == (1, 500, 1, 50, 0)

    s = result.layers["capacity_shelters"].set_index("name")
    assert s.loc["S1", "over_area"] and s.loc["S3", "over_area"]
    assert not s.loc["S2", "over_area"] and not s.loc["S4", "over_area"]
    assert s["places"].to_dict() == {"S1": 500, "S2": 50, "S3": 0, "S4": 90}
    assert s["state"].to_dict() == {"S1": "near_full", "S2": "full", "S3": "closed", "S4": "available"}
    assert s["available"].to_dict() == {"S1": 50, "S2": 0, "S3": 0, "S4": 90}
    assert s.loc["S2", "over_capacity"] and not s.loc["S1", "over_capacity"]
    assert s.loc["S4", "area_adcode"] == "519901002" and s.loc["S4", "adcode"] == "519901001"
    assert (A.occupancy, A.available, A.n_full, A.n_near_full, B.available) == (505, 50, 1, 1, 90)

    # Stock of D1 only (D2 is 50 km away): rice 420 kg + 0.28 t = 700 kg, water 1050 L (the box is not counted),
    # 30 family kits, 20 tents, 100 quilts, no toilets.
    # Rice: 2.8 kg/week = 0.4 kg/day; A 150 × 0.4 = 60 kg/day → 700 / 60; B 180 × 0.4 = 72 → 700 / 72.
    assert A.stock_rice == pytest.approx(700) and A.days_rice == pytest.approx(700 / 60)
    assert B.days_rice == pytest.approx(700 / 72)
    # Water: 17.5 L/week = 2.5 L/day; A 375 L/day → 2.8 days; B 450 → 2.333 days.
    assert A.days_drinking_water == pytest.approx(2.8) and B.days_drinking_water == pytest.approx(1050 / 450)
    # Family kits: 0.2/week per person; A 150 × 0.2 / 7 = 30/7 a day → 7 days.
    assert A.days_family_kits == pytest.approx(7.0)
    # One-off: toilets none (0 %); tents 20 of 150 × 0.2 = 30 → 2/3; quilts 100 of 150.
    assert A.cover_toilets == 0.0 and A.cover_tents == pytest.approx(2 / 3) and A.cover_quilts == pytest.approx(2 / 3)
    assert (A.depots_in_reach, B.depots_in_reach) == (1, 1)
    assert any("water in box" in w for w in result.warnings)

    # Teams: A 45 / 1000 people = 450 per 10,000; B 30 / 1200 = 250. Hazard points: A 2, B 1 → 2.0 and 1.0 per team.
    assert (A.teams, A.team_members, B.teams, B.team_members) == (1, 45, 1, 30)
    assert A.members_per_10k == pytest.approx(450) and B.members_per_10k == pytest.approx(250)
    assert (A.hazard_points, B.hazard_points) == (2, 1)
    assert (A.hazards_per_team, B.hazards_per_team) == (2.0, 1.0)

    # Region: sums of the areas; ratios from the sums; stock of each depot once.
    r = result.tables["capacity_region"].iloc[0]
    assert (r.population, r.demand, r.places, r.shortfall, r.surplus) == (2200, 330, 640, 90, 400)
    assert bool(r.fixed_ok) and r.fixed_ok_areas == 1
    assert r.members_per_10k == pytest.approx(75 / 2200 * 10_000) and r.hazards_per_team == pytest.approx(1.5)
    assert r.days_rice == pytest.approx(700 / (330 * 0.4))
    st = result.tables["capacity_stock"]
    region_rice = st[(st.scope == "region") & (st.need == "rice")].iloc[0]
    assert region_rice.days == pytest.approx(700 / 132) and region_rice.depots == 1
    summary = {en: v for _, en, v in result.summary}
    assert summary["People to shelter"] == 330 and summary["Shortfall (sum of areas)"] == 90

    # by day: A 800 and B 800 people → 120 each; a 52 km reach brings D2 (50 km from B, 54 km from A) to B only
    day = by_code(analyse(registry, period="day", depot_reach_km="52"))
    assert day["demand"].tolist() == [120, 120]
    assert day.loc["519901002", "stock_rice"] == pytest.approx(10_700)
    assert day.loc["519901001", "stock_rice"] == pytest.approx(700)


class _RatesPlugin:
    """A throwaway plugin adding a displacement profile (a profile is data any plugin can add)."""

    @hookimpl
    def rallypoint_profiles(self):
        return [Profile("displacement", "test", "测试", "Test", "hand-made",
                        {"classes": {"high": {"displacement_rate": 0.5, "fatality_rate": 0.02}}})]


def test_hazard_method(registry):
    build_tiny_region(registry)
    pm = get_plugin_manager(extra=[("test-rates", _RatesPlugin())])
    try:
        result = analyse(registry, pm, method="hazard", hazard_class="high", displacement="test", situation="daytime")
    finally:
        pm.unregister(name="test-rates")
    a = by_code(result)
    # A: fatalities ⌈1000 × 0.02⌉ = 20, displaced ⌈(1000 − 20) × 0.5⌉ = 490; B: 24 and ⌈1176 × 0.5⌉ = 588
    assert a["fatalities"].tolist() == [20, 24] and a["demand"].tolist() == [490, 588]
    assert a["shortfall"].tolist() == [0, 498]
    assert a.loc["519901001", "days_rice"] == pytest.approx(700 / (490 * 0.4))
    # InaSAFE's own generic classes: everyone displaced in the medium zone, nobody in the low zone
    medium = by_code(analyse(registry, method="hazard", hazard_class="medium"))
    assert medium["demand"].tolist() == [1000, 1200]
    low = analyse(registry, method="hazard", hazard_class="low")
    assert by_code(low)["demand"].tolist() == [0, 0]
    assert math.isnan(by_code(low).loc["519901001", "days_rice"])  # nobody to feed: no days figure


def test_areas_add_up_to_the_region_on_the_county_sample(county_sample):
    from rallypoint import Registry
    from rallypoint_plugins.capacity.analysis import ADDITIVE

    with Registry.open(county_sample, readonly=True) as reg:
        total_pop = int(reg.read_frame("population", columns=["population"])["population"].sum())
        n_shelters = reg.count("shelters")
        for level in ("township", "county"):
            result = analyse(reg, level=level)
            areas = result.layers["capacity_areas"]
            region = result.tables["capacity_region"].iloc[0]
            for col in ADDITIVE:
                assert int(areas[col].sum()) == int(region[col]), col
            assert region["population"] == total_pop  # every cell lies in some area
            assert region["shelters"] + region["shelters_closed"] == n_shelters
            assert region["places"] == result.layers["capacity_shelters"]["places"].sum()
            assert region["shortfall"] - region["surplus"] == region["demand"] - region["places"]
            summary = {en: v for _, en, v in result.summary}
            assert summary["Shelter places"] == region["places"]
            assert summary["People to shelter"] == areas["demand"].sum()


def cli_run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], env={"COLUMNS": "200"})


def test_cli_writes_layers_and_an_english_report(county_sample, tmp_path):
    out = tmp_path / "result.gpkg"
    res = cli_run("analyse", "capacity", county_sample, "--out", out, "--lang", "en")
    assert res.exit_code == 0, res.output
    assert "People to shelter" in res.output and "Shortfall" in res.output
    layers = {name for name, _ in pyogrio.list_layers(out)}
    assert layers == {"capacity_areas", "capacity_shelters", "capacity_stock", "capacity_region"}
    areas = pyogrio.read_dataframe(out, layer="capacity_areas")
    assert len(areas) == 11 and areas.crs.to_epsg() == 4490 and "shortfall" in areas.columns
    assert len(pyogrio.read_dataframe(out, layer="capacity_shelters")) == 60
    page = out.with_name(f"{out.stem}_en.html").read_text(encoding="utf-8")  # the report names its language
    assert page.count("<img") >= 4 and "data:image/png;base64," in page
    for heading in ("Headline figures", "Shortfall of shelter places by area", "People to shelter and places by area",
                    "Days of supply", "Figures by area"):
        assert heading in page


@pytest.mark.parametrize("args, message", [
    (["--share", "2"], "above the maximum"),
    (["--share", "lots"], "is not a number"),
    (["--standard", "nosuch"], "no shelter_standard profile 'nosuch'"),
    (["--needs", "nosuch"], "no minimum_needs profile"),
    (["--level", "county", "--period", "day"], None),  # fine: a check that good options pass
])
def test_bad_parameters_give_a_clear_message(registry, registry_path, tmp_path, args, message):
    build_tiny_region(registry)
    registry.close()
    res = cli_run("analyse", "capacity", registry_path, "--out", tmp_path / "o.gpkg", *args)
    if message is None:
        assert res.exit_code == 0, res.output
        return
    assert res.exit_code == 1
    assert message in res.output and "Traceback" not in res.output


def test_a_registry_missing_data_gives_a_clear_message(registry, registry_path, tmp_path):
    res = cli_run("analyse", "capacity", registry_path, "--out", tmp_path / "o.gpkg")
    assert res.exit_code == 1 and "needs features in 'admin_areas'" in res.output
    build_tiny_region(registry)
    registry.load_reference("population", gpd.GeoDataFrame(
        {"adcode": [], "cell_m": [], "population": [], "population_day": []}, geometry=[], crs=4490), author=AUTHOR)
    registry.close()
    res = cli_run("analyse", "capacity", registry_path, "--out", tmp_path / "o.gpkg")
    assert res.exit_code == 1 and "needs features in 'population', and it is empty" in res.output
    assert "Traceback" not in res.output


def test_a_level_without_areas_and_a_day_without_figures_are_refused(registry):
    # Every write comes before the first read: read_frame (GDAL's own SQLite) checkpoints and removes the
    # registry's -wal file, so in one process a later write is not seen by the next read_frame (see the report).
    build_tiny_region(registry)
    areas = area_frame()
    registry.load_reference("admin_areas", areas[areas["level"] == "township"], author=AUTHOR)
    registry.load_reference("population", cell_frame().drop(columns=["population_day"]), author=AUTHOR)
    from rallypoint.analysis import AnalysisError

    with pytest.raises(AnalysisError, match="no administrative areas at level 'county'"):
        analyse(registry, level="county")
    with pytest.raises(AnalysisError, match="needs the daytime population"):
        analyse(registry, period="day")


# -- Nanao (Noto Peninsula earthquake, 2024): the real shelters, as a DataFrame -----------------------------

def _independent_over_capacity(path: Path) -> list[str]:
    """Written apart from the plugin: plain csv, own regex; occupancy > indoor capacity."""
    import csv

    out = []
    with open(path, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            people_col = next(k for k in row if k.startswith("人数_"))
            text = unicodedata.normalize("NFKC", row["想定収容人数"] or "")
            m = re.search(r"屋内([0-9,]+)人", text)
            if m and int(row[people_col]) > int(m.group(1).replace(",", "")):
                out.append(row["名称"])
    return out


def test_nanao_over_capacity_on_the_evening_of_9_january_2024():
    from rallypoint_plugins.capacity.capacity_text import parse_capacity_text
    from rallypoint_plugins.capacity.nanao import over_capacity, read_snapshot

    path = NANAO / "open_shelter_Nanao-shi_2024-01-09-1800.csv"
    frame = read_snapshot(path)
    assert frame.attrs["snapshot"].isoformat() == "2024-01-09T18:00:00"
    assert len(frame) == 29 and frame["indoor_capacity"].notna().sum() == 28  # one shelter gives no capacity
    states = over_capacity(frame)
    over = states.loc[states["over_capacity"], "name"].tolist()
    print("Nanao, 2024-01-09 18:00, over indoor capacity:",
          states.loc[states["over_capacity"], ["name", "occupancy", "indoor_capacity"]].to_dict("records"))
    assert over == _independent_over_capacity(path) == ["石崎小学校"]
    assert states.set_index("name").loc["寄合い処みそぎ", "state"] == "unknown"
    # the parser on the forms the real files and hand-typed lists use
    assert parse_capacity_text("屋内1,065人／屋外2,210人（面積の1/2）").indoor == 1065
    assert parse_capacity_text("屋内２，７３６人屋外１１，７００人").outdoor == 11700
    assert parse_capacity_text("屋内990人／屋外0人(座席数)").note == "座席数"
    assert parse_capacity_text(float("nan")) is None and parse_capacity_text("未定") is None


def test_locate_xy_places_coordinates_as_locate_places_points():
    from rallypoint_plugins.capacity import areas as areas_mod

    areas = area_frame()  # the county first, then its two towns: a point in both goes to the county
    towns = areas.iloc[1:].reset_index(drop=True)  # two towns sharing the edge x = X0 + 4000
    rng = np.random.default_rng(7)
    xy = np.vstack([rng.uniform([X0 - 500, Y0 - 500], [X0 + 8500, Y0 + 4500], (2000, 2)),
                    [[X0 + 4000, Y0 + 100], [X0, Y0], [X0 + 8000, Y0 + 4000], [X0 + 9000, Y0], [np.nan, np.nan]]])
    for frame in (areas, towns):
        want = areas_mod.locate(shapely.points(xy), frame)
        got = areas_mod.locate_xy(xy, frame)
        assert got.tolist() == want.tolist()
    got = areas_mod.locate_xy(xy, towns)
    assert got[-5:].tolist() == [0, 0, 1, -1, -1]  # shared edge: the first town; corners are in; outside; NaN
    assert set(got[:-5].tolist()) == {-1, 0, 1}
