"""Which capacity counts (indoor places overnight and in a cold season, day capacity for a short daytime
evacuation, post-impact capacity after the hazard), and a capacity that is not known staying unknown: in the
capacity analysis, on the hand-computed region of test_capacity, in the registry and in the import profiles."""

from __future__ import annotations

import pandas as pd
import psycopg
import pytest
from click.testing import CliRunner
from conftest import REAL_FIXTURES, shelter
from test_capacity import GK, _pt, analyse, build_tiny_region

from rallypoint import Registry
from rallypoint.analysis import AnalysisError
from rallypoint.cli.main import cli
from rallypoint.exchange.apply import apply_import
from rallypoint.exchange.importer import plan_import

pytestmark = pytest.mark.both_backends


def shelters_of(result) -> pd.DataFrame:
    return result.layers["capacity_shelters"].set_index("name")


def test_the_capacity_follows_the_situation(registry):
    build_tiny_region(registry)
    # S5 in B: an open square, 300 places by day, none indoors (0 night places), no post-impact figure; 20 people.
    registry.add("shelters", shelter(name="S5", adcode="519901002", shelter_type="emergency", level="village",
                                     effective_area_m2=2000, capacity_day=300, capacity_night=0, status="open",
                                     occupancy=20), _pt(5000, 1000), crs=GK, author="test")
    # S6 in B: a hall without a night figure but indoors: its day places are indoor places. 10 people.
    registry.add("shelters", shelter(name="S6", adcode="519901002", shelter_type="fixed_short", level="township",
                                     effective_area_m2=1000, capacity_day=120, capacity_night=None, indoor=True,
                                     capacity_post_impact=60, status="open", occupancy=10),
                 _pt(5500, 1000), crs=GK, author="test")

    day = shelters_of(analyse(registry, situation="daytime"))
    # by day: the day capacities, bounded by the area (S1 1000 m² / 2 = 500; S5 2000 / 0.5 = 4000)
    assert day["places"].to_dict() == {"S1": 500, "S2": 50, "S3": 0, "S4": 90, "S5": 300, "S6": 120}
    assert day.index[day["over_capacity"]].tolist() == ["S2"]  # 55 people, 50 places

    night_result = analyse(registry, situation="overnight")
    night = shelters_of(night_result)
    # overnight: the night (indoor) places, never above the day ones (S1 records 4000 at night, 600 by day);
    # S6 has no night figure but is indoors; S5 has no indoor places and 20 people: over capacity
    assert night["capacity"].to_dict() == {"S1": 600, "S2": 40, "S3": 200, "S4": 60, "S5": 0, "S6": 120}
    assert night["places"].to_dict() == {"S1": 500, "S2": 40, "S3": 0, "S4": 60, "S5": 0, "S6": 120}
    assert night.loc["S2", "over_capacity"] and night.loc["S5", "over_capacity"]  # 55 > 40, 20 > 0
    assert night["state"].to_dict() == {"S1": "near_full", "S2": "full", "S3": "closed", "S4": "available",
                                        "S5": "full", "S6": "available"}
    region = night_result.tables["capacity_region"].iloc[0]
    assert (region["places"], region["n_over"], region["n_unknown"]) == (720, 2, 0)
    assert any("more night places than day places" in w for w in night_result.warnings)

    post_result = analyse(registry, situation="post_impact")
    post = shelters_of(post_result)
    # after the impact only S6 records a capacity: the others are unknown, never full nor zero
    assert post.loc["S6", "places"] == 60 and post.loc["S6", "state"] == "available"
    unknown = post[post["capacity_unknown"]]
    assert sorted(unknown.index) == ["S1", "S2", "S4", "S5"]  # S3 is closed: not counted at all
    assert (unknown["state"] == "unknown").all() and unknown["places"].isna().all()
    assert unknown["available"].isna().all() and not unknown["over_capacity"].any()
    assert set(unknown["unknown_reason"]) == {"未登记灾后安置容量 / no post-impact capacity recorded"}
    r = post_result.tables["capacity_region"].iloc[0]
    assert (r["places"], r["n_unknown"], r["occupancy_unknown"], r["n_full"]) == (60, 4, 450 + 55 + 20, 0)
    page = post_result.report("en")
    assert "After the impact (post-impact capacity)" in page and "no post-impact capacity recorded" in page
    assert "Shelters of unknown capacity (not counted as places, nor as full or empty) (4)" in page


@pytest.mark.parametrize("at, want, why", [
    ("2024-01-09T18:00:00+09:00", "overnight", "cold season (month 1)"),
    ("2024-07-25T13:30", "daytime", "within the day hours 8-18"),
    ("2024-07-25T20:00", "overnight", "outside the day hours 8-18"),
    ("2024-07-25T23:30:00Z", "overnight", "2024-07-26 07:30 China time"),  # 07:30 in China: before 08:00
])
def test_auto_decides_from_the_time_and_the_month(registry, at, want, why):
    build_tiny_region(registry)
    result = analyse(registry, at=at)
    region = result.tables["capacity_region"].iloc[0]
    assert region["situation"] == want
    page = result.report("en")
    assert why in page


def test_auto_without_a_time_takes_the_head_counts_then_the_population_period(registry):
    build_tiny_region(registry)
    # no head count time in the tiny region: the night population means people sleeping there
    assert analyse(registry).tables["capacity_region"].iloc[0]["situation"] == "overnight"
    assert analyse(registry, period="day").tables["capacity_region"].iloc[0]["situation"] == "daytime"
    s2 = next(f for f in registry.features("shelters") if f.properties["name"] == "S2")
    registry.update("shelters", s2.uuid, {"occupancy_at": "2026-07-01T04:00:00Z"}, author="test",
                    expected_version=s2.version)  # noon in China, in July
    result = analyse(registry, period="night")
    assert result.tables["capacity_region"].iloc[0]["situation"] == "daytime"
    assert "the latest head count, 2026-07-01 12:00 China time" in result.report("en")


@pytest.mark.parametrize("params, message", [
    ({"at": "yesterday evening"}, "is not a date-time like 2024-01-09T18:00"),
    ({"cold_months": "13"}, "above the maximum"),
    ({"cold_months": "1.5"}, "is not a month"),
    ({"day_hours": "18,8"}, "give the hours daytime starts and ends"),
    ({"situation": "night"}, "is not one of auto, overnight, daytime, post_impact"),
])
def test_bad_situation_parameters_are_clear_errors(registry, params, message):
    build_tiny_region(registry)
    with pytest.raises(AnalysisError, match=message):
        analyse(registry, **params)


def test_a_shelter_of_unknown_capacity_and_area_is_accepted_and_never_full(registry):
    build_tiny_region(registry)
    props = shelter(name="临时安置点", adcode="519901002", status="open", occupancy=35)
    for name in ("capacity_day", "capacity_night", "effective_area_m2"):
        props.pop(name)
    uid = registry.add("shelters", props, _pt(6500, 1000), crs=GK, author="test").uuid
    stored = registry.get("shelters", uid).properties
    assert stored["capacity_day"] is None and stored["effective_area_m2"] is None
    for situation in ("daytime", "overnight"):
        result = analyse(registry, situation=situation)
        s = shelters_of(result).loc["临时安置点"]
        assert s["state"] == "unknown" and s["capacity_unknown"] and pd.isna(s["places"])
        assert pd.isna(s["area_places"]) and not s["over_area"]
        region = result.tables["capacity_region"].iloc[0]
        assert region["n_unknown"] == 1 and region["occupancy_unknown"] == 35
        assert any("capacity unknown" in w and "临时安置点" in w for w in result.warnings)


@pytest.mark.parametrize("name", ["emergency_172022.json", "evacuation_172022.json"])
def test_the_gsi_lists_import_without_inventing_a_capacity_or_an_area(foreign_registry, tmp_path, name):
    registry = foreign_registry  # Japan's lists: a registry for drills, its points anywhere
    path = REAL_FIXTURES / "jp-gsi" / name
    result = apply_import(registry, plan_import(registry, path, options={"adcode": "519921", "hazards": "earthquake"}),
                          author="test", quarantine=tmp_path / "q.gpkg")
    assert result.applied and result.counts["insert"] > 0
    frame = registry.read_frame("shelters", columns=["capacity_day", "effective_area_m2"])
    assert frame["capacity_day"].isna().all() and frame["effective_area_m2"].isna().all()
    assert not any("fallback" in n and ("capacity_day" in n or "effective_area_m2" in n) for n in result.plan.notes)
    assert all(not f.fallbacks for f in result.plan.features)


def test_an_older_postgis_registry_that_still_requires_them_says_how_to_lift_it(pg_registry_url):
    with psycopg.connect(pg_registry_url, autocommit=True) as conn:  # as a registry made before
        for column in ("capacity_day", "effective_area_m2"):
            conn.execute(f'ALTER TABLE shelters ALTER COLUMN "{column}" SET NOT NULL')
    runner = CliRunner()
    res = runner.invoke(cli, ["validate", pg_registry_url])
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert 'ALTER TABLE "shelters" ALTER COLUMN "capacity_day" DROP NOT NULL' in res.output.replace("\n", " ")
    props = shelter(name="临时安置点", status="open", occupancy=35)
    props.pop("effective_area_m2")
    with Registry.open(pg_registry_url) as reg:
        with pytest.raises(Exception) as exc:
            reg.add("shelters", props, _pt(6500, 1000), crs=GK, author="test")
        assert type(exc.value).__name__ == "RegistryFileError", repr(exc.value)
        assert "DROP NOT NULL" in str(exc.value) and "effective_area_m2" in str(exc.value)
        assert reg.count("shelters") == 0
    with psycopg.connect(pg_registry_url, autocommit=True) as conn:  # what the message says to run
        for column in ("capacity_day", "effective_area_m2"):
            conn.execute(f'ALTER TABLE "shelters" ALTER COLUMN "{column}" DROP NOT NULL')
    with Registry.open(pg_registry_url) as reg:
        reg.add("shelters", props, _pt(6500, 1000), crs=GK, author="test")
        assert reg.count("shelters") == 1
    assert runner.invoke(cli, ["validate", pg_registry_url]).exit_code == 0
