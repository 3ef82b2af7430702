"""The resource-survey plugin (应急资源调查填报率) on a small registry whose answers are computed by hand.

The registry (as of 2026-11-01, period 365d, so anything last updated before 2025-11-01 is overdue):

Township 519901001 (城关镇), shelters
  S1 人民公园应急避难场所  at P0            full, updated 2026-06-01
  S2 人民公园              20 m east of P0  full, 2026-07-01   → duplicate of S1 (type word stripped)
  S3 第一中学避难场所      at P1            no manager phone, 2025-06-01 → missing, overdue
  S4 第一中学              80 m north of P1 full, 2026-07-02   → NOT a duplicate (80 m > 50 m)
  S5 体育馆                at P2            capacity_day 0     → placeholder
  S6 图书馆                10 m east of P0  no address         → missing; NOT a duplicate (other name)
  S10 retired, with missing fields                               → not counted at all
Township 519901002 (河西乡), shelters
  S7 河西小学   village code 519901002201, created 2023-06-01, updated 2026-06-01
  S8 河西　小学 (ideographic space) 5 m from S7, created 2024-01-01 → duplicate of S7, overdue
  S9 河西小学   5 km away, full                                     → NOT a duplicate (far apart)
Depots
  D1 ＡＢ仓库（一号）  519901001, full
  D2 ab仓库一号        30 m from D1, full                 → duplicate of D1 (NFKC, case, punctuation)
  D3 城关储备库        county code 519901, no keeper phone, staffed_24h not answered → missing
Teams, hazard points, helipads: none (0 of 0, no rate).

By hand, shelters: 9 records; filled S1 S2 S4 S7 S8 S9 = 6 (66.7 %); missing S3 S6 = 2; placeholder S5 = 1;
overdue S3 S8 = 2; duplicates S2 S8 = 2; to fix S2 S3 S5 S6 S8 = 5.
  519901001: 6 records, 3 filled (50 %), missing 2, placeholder 1, overdue 1, duplicates 1, to fix 4.
  519901002: 3 records, 3 filled, overdue 1, duplicates 1, to fix 1.
Depots: 3 records, 2 filled; 519901001: 2 of 2, 1 duplicate, 1 to fix; 519901: 0 of 1, 1 missing, 1 to fix.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

import geopandas as gpd
import pandas as pd
import pyproj
import pytest
import shapely
from click.testing import CliRunner

from conftest import depot, shelter
from web_support import auth, copy_registry, make_key
from rallypoint import Registry
from rallypoint.analysis import run_analysis
from rallypoint.errors import RallypointError
from rallypoint.plugins import default_plugin_manager

AS_OF = "2026-11-01"
AUTHOR = "surveyor"
GEOD = pyproj.Geod(ellps="GRS80")
P0, P1, P2 = (104.0600, 30.6600), (104.0700, 30.6700), (104.0800, 30.6500)


def moved(p, east_m=0.0, north_m=0.0):
    """A point ``east_m`` metres east and ``north_m`` north of ``p`` (geodesic, on GRS80)."""
    lon, lat = p
    if east_m:
        lon, lat, _ = GEOD.fwd(lon, lat, 90.0, east_m)
    if north_m:
        lon, lat, _ = GEOD.fwd(lon, lat, 0.0, north_m)
    return shapely.Point(lon, lat)


class SetClock:
    """A clock the test sets: every record written takes the time it shows."""

    def __init__(self) -> None:
        self.t = datetime(2026, 1, 1, tzinfo=timezone.utc)

    def at(self, day: str) -> "SetClock":
        self.t = datetime.fromisoformat(day).replace(tzinfo=timezone.utc)
        return self

    def __call__(self) -> datetime:
        return self.t


def full_shelter(**over):
    return shelter(address="城关镇人民路1号", site_area_m2=15000, **over)


def full_depot(**over):
    props = depot(address="城关镇工业路8号", floor_area_m2=800, volume_m3=3000, staffed_24h=True,
                  keeper_name="李强", keeper_phone="13900001111")
    props.update(over)
    return props


@pytest.fixture
def survey_registry(registry_path):
    """The registry described in the module docstring; returns (path, uuids by label)."""
    return registry_path, _build(registry_path)


@pytest.fixture
def survey_location(registry_location):
    """The same registry on the test's backend (a file, or a PostGIS database: see conftest's both_backends)."""
    return registry_location, _build(registry_location)


def _build(location) -> dict[str, str]:
    clock = SetClock()
    ids: dict[str, str] = {}
    with Registry.open(location, clock=clock) as reg:
        areas = gpd.GeoDataFrame({
            "adcode": ["519901", "519901001", "519901002"], "name": ["示例县", "城关镇", "河西乡"],
            "level": ["county", "township", "township"], "parent_adcode": ["519900", "519901", "519901"],
            "population": [30000, 20000, 10000]},
            geometry=[shapely.MultiPolygon([shapely.box(103.9, 30.5, 104.3, 30.8)]),
                      shapely.MultiPolygon([shapely.box(103.9, 30.5, 104.1, 30.8)]),
                      shapely.MultiPolygon([shapely.box(104.1, 30.5, 104.3, 30.8)])], crs=4490)
        reg.load_reference("admin_areas", areas, author=AUTHOR)

        def add(label, day, layer, props, geom):
            clock.at(day)
            ids[label] = reg.add(layer, props, geom, author=AUTHOR).uuid

        add("S7", "2023-06-01", "shelters", full_shelter(name="河西小学", adcode="519901002201"), moved(P0, 8000))
        add("S8", "2024-01-01", "shelters", full_shelter(name="河西\u3000小学", adcode="519901002"),
            moved(P0, 8005))
        add("S3", "2025-06-01", "shelters", full_shelter(name="第一中学避难场所", manager_phone=None),
            shapely.Point(P1))
        add("S1", "2026-06-01", "shelters", full_shelter(name="人民公园应急避难场所"), shapely.Point(P0))
        clock.at("2026-06-01")
        reg.update("shelters", ids["S7"], {"status": "open"}, author=AUTHOR)
        add("S2", "2026-07-01", "shelters", full_shelter(name="人民公园"), moved(P0, 20))
        add("S4", "2026-07-02", "shelters", full_shelter(name="第一中学"), moved(P1, north_m=80))
        add("S5", "2026-07-03", "shelters", full_shelter(name="体育馆", capacity_day=0, capacity_night=0),
            shapely.Point(P2))
        add("S6", "2026-07-04", "shelters", shelter(name="图书馆", site_area_m2=15000), moved(P0, 10))
        add("S9", "2026-07-05", "shelters", full_shelter(name="河西小学", adcode="519901002"), moved(P0, 13000))
        add("S10", "2026-07-06", "shelters", shelter(name="已拆除场所"), moved(P2, 500))
        clock.at("2026-07-07")
        reg.retire("shelters", ids["S10"], author=AUTHOR, reason="拆除")
        add("D1", "2026-03-01", "depots", full_depot(name="ＡＢ仓库（一号）"), moved(P2, -3000))
        add("D2", "2026-04-01", "depots", full_depot(name="ab仓库一号"), moved(P2, -3030))
        add("D3", "2026-05-01", "depots", full_depot(name="城关储备库", adcode="519901", keeper_phone=None,
                                                      staffed_24h=None), moved(P2, 6000))
    return ids


def run(path, **params):
    params.setdefault("as_of", AS_OF)
    with Registry.open(path, readonly=True) as reg:
        return run_analysis(reg, default_plugin_manager(), "survey", params, lang="zh")


def by(frame, *keys):
    return {tuple(r[k] for k in keys) if len(keys) > 1 else r[keys[0]]: r for r in frame.to_dict("records")}


def test_counts_and_rates_by_layer_match_the_hand_computed_ones(survey_registry):
    path, _ = survey_registry
    result = run(path)
    layers = by(result.tables["survey_layers"], "layer")
    s = layers["shelters"]
    assert (s["records"], s["complete"], s["missing"], s["placeholder"], s["stale"], s["duplicates"],
            s["to_fix"]) == (9, 6, 2, 1, 2, 2, 5)
    assert s["fill_rate"] == pytest.approx(6 / 9)
    d = layers["depots"]
    assert (d["records"], d["complete"], d["missing"], d["stale"], d["duplicates"], d["to_fix"]) == (3, 2, 1, 0, 1, 2)
    assert d["fill_rate"] == pytest.approx(2 / 3)
    for empty in ("teams", "hazard_points", "helipads"):  # 0 of 0: no rate, and no division error
        assert layers[empty]["records"] == 0 and layers[empty]["complete"] == 0
        assert math.isnan(layers[empty]["fill_rate"])
        assert any(empty in w and "0 of 0" in w for w in result.warnings)
    assert layers["shelters"]["date_field"] == "updated_at"
    summary = {en: v for _, en, v in result.summary}
    assert summary["Records surveyed"] == 12 and summary["Fully filled records"] == 8
    assert summary["Fill rate"] == "66.7 %"
    assert summary["Duplicate records"] == 3 and summary["Records to fix"] == 7


def test_counts_by_township_use_the_first_nine_digits_and_admin_area_names(survey_registry):
    path, _ = survey_registry
    town = by(run(path).tables["survey_townships"], "township", "layer")
    assert set(town) == {("519901001", "shelters"), ("519901002", "shelters"), ("519901001", "depots"),
                         ("519901", "depots")}
    a = town[("519901001", "shelters")]
    assert a["township_name"] == "城关镇"
    assert (a["records"], a["complete"], a["missing"], a["placeholder"], a["stale"], a["duplicates"],
            a["to_fix"]) == (6, 3, 2, 1, 1, 1, 4)
    assert a["fill_rate"] == pytest.approx(0.5)
    b = town[("519901002", "shelters")]  # S7's village code 519901002201 counts in its township
    assert b["township_name"] == "河西乡"
    assert (b["records"], b["complete"], b["stale"], b["duplicates"], b["to_fix"]) == (3, 3, 1, 1, 1)
    assert b["fill_rate"] == 1.0
    c = town[("519901", "depots")]
    assert c["township_name"] == "示例县" and (c["records"], c["complete"], c["to_fix"]) == (1, 0, 1)
    assert c["fill_rate"] == 0.0
    assert (town[("519901001", "depots")]["complete"], town[("519901001", "depots")]["duplicates"]) == (2, 1)


def test_township_boundaries_carry_the_figures_of_all_layers(survey_registry):
    path, _ = survey_registry
    areas = run(path).layers["survey_areas"].set_index("adcode")
    assert list(areas.index) == ["519901001", "519901002"]  # townships only; the county's depot is in the tables
    a = areas.loc["519901001"]  # 6 shelters and 2 depots: 3 + 2 filled; to fix: S2 S3 S5 S6 and D2
    assert (a["name"], a["records"], a["complete"], a["to_fix"]) == ("城关镇", 8, 5, 5)
    assert a["fill_rate"] == pytest.approx(5 / 8) and a.geometry.geom_type == "MultiPolygon"
    assert (areas.loc["519901002", "records"], areas.loc["519901002", "fill_rate"]) == (3, 1.0)


def test_the_fix_list_says_what_is_wrong_with_each_record(survey_registry):
    path, ids = survey_registry
    fixes = run(path).layers["survey_fixes"]
    assert fixes.crs.to_epsg() == 4490
    rows = {r["uuid"]: r for r in fixes.to_dict("records")}
    label = {v: k for k, v in ids.items()}
    assert sorted(label[u] for u in rows) == ["D2", "D3", "S2", "S3", "S5", "S6", "S8"]
    s3 = rows[ids["S3"]]
    assert s3["missing_zh"] == "责任人电话" and s3["missing_en"] == "Manager phone"
    assert s3["stale"] and s3["last_updated"] == "2025-06-01"
    assert "超过 365 天未核查更新（最近 2025-06-01）" in s3["problems_zh"] and "缺填：责任人电话" in s3["problems_zh"]
    s2 = rows[ids["S2"]]
    assert s2["duplicate_of"] == ids["S1"] and s2["duplicate_of_name"] == "人民公园应急避难场所"
    assert s2["duplicate_distance_m"] == pytest.approx(20.0, abs=0.1)
    assert not s2["stale"] and s2["missing_zh"] == ""
    s8 = rows[ids["S8"]]  # created after S7 (S7's later update does not make it the newer record)
    assert s8["duplicate_of"] == ids["S7"] and s8["duplicate_distance_m"] == pytest.approx(5.0, abs=0.1)
    assert "not inspected or updated within 365 days (last 2024-01-01)" in s8["problems_en"]
    s5 = rows[ids["S5"]]
    assert s5["placeholder_zh"] == "日间容量=0、夜间容量=0" and s5["missing_zh"] == ""
    assert rows[ids["S6"]]["missing_en"] == "Address" and rows[ids["S6"]]["duplicate_of"] == ""
    assert rows[ids["D2"]]["duplicate_of"] == ids["D1"]
    d3 = rows[ids["D3"]]
    assert d3["missing_zh"] == "24小时值守、保管人电话" and d3["missing_en"] == "Staffed 24 h, Keeper phone"
    assert d3["township"] == "519901" and d3["township_name"] == "示例县"
    p = fixes.set_index("uuid").geometry[ids["S5"]]
    assert (p.x, p.y) == pytest.approx(P2)


def test_near_duplicates_match_only_within_the_tolerance(survey_registry):
    path, ids = survey_registry
    fixes = run(path, tolerance_m=100).layers["survey_fixes"].set_index("uuid")
    assert fixes.loc[ids["S4"], "duplicate_of"] == ids["S3"]  # 80 m apart: a duplicate within 100 m
    assert fixes.loc[ids["S4"], "duplicate_distance_m"] == pytest.approx(80.0, abs=0.1)
    assert fixes.loc[ids["S6"], "duplicate_of"] == ""  # 10 m from S1 but another name
    assert ids["S9"] not in fixes.index  # same name as S7, 5 km away
    none = run(path, tolerance_m=0).tables["survey_layers"].set_index("layer")
    assert none.loc["shelters", "duplicates"] == 0 and none.loc["depots", "duplicates"] == 0


def test_the_period_and_reference_time_decide_what_is_overdue(survey_registry):
    path, _ = survey_registry
    layers = run(path, within="2y").tables["survey_layers"].set_index("layer")
    assert layers.loc["shelters", "stale"] == 1  # only S8 (2024-01-01) before 2024-11-01
    layers = run(path, within="6m").tables["survey_layers"].set_index("layer")
    # before 2026-05-01: S3, S8 and the depots D1 (03-01) and D2 (04-01); D3 (05-01) is not before it
    assert (layers.loc["shelters", "stale"], layers.loc["depots", "stale"]) == (2, 2)
    layers = run(path, within="365d", as_of="2027-07-02").tables["survey_layers"].set_index("layer")
    assert layers.loc["shelters", "stale"] == 5  # S1, S2, S3, S7, S8 last updated before 2026-07-02


def test_a_profile_or_field_override_changes_what_must_be_filled(survey_registry, tmp_path):
    path, _ = survey_registry
    layers = run(path, profile="contacts").tables["survey_layers"].set_index("layer")
    # contacts asks name, address, status and the contact: S3 (phone) and S6 (address) fall short; S5's 0
    # capacity is not asked
    assert (layers.loc["shelters", "complete"], layers.loc["shelters", "placeholder"]) == (7, 0)
    only = run(path, layers="shelters", fields="shelters:name,capacity_day").tables["survey_layers"]
    assert list(only["layer"]) == ["shelters"]
    # every shelter has both, but S5's capacity_day of 0 is still the profile's placeholder
    assert only.loc[0, "complete"] == 8 and only.loc[0, "required_fields"] == "name,capacity_day"
    custom = tmp_path / "mine.toml"
    custom.write_text('kind = "survey_requirements"\nname = "mine"\ntitle_zh = "自定"\ntitle_en = "Mine"\n'
                      '[data.layers.depots]\nrequired = ["name", "keeper_phone"]\n', encoding="utf-8")
    out = tmp_path / "mine.gpkg"
    res = CliRunner().invoke(_cli(), ["survey", "report", str(path), "--profile", str(custom), "--as-of", AS_OF,
                                      "--out", str(out), "--lang", "en"])
    assert res.exit_code == 0, res.output
    import pyogrio

    table = pyogrio.read_dataframe(out, layer="survey_layers")
    assert list(table["layer"]) == ["depots"] and table.loc[0, "complete"] == 2


def _cli():
    from rallypoint.cli.main import cli

    return cli


@pytest.mark.parametrize("params, message", [
    ({"layers": "bridges"}, "no layer 'bridges' in this registry"),
    ({"layers": "depot_stock"}, "layer 'depot_stock' has no division code"),
    ({"fields": "shelters:capacity"}, "layer 'shelters' has no field 'capacity'"),
    ({"fields": "shelters"}, "is not LAYER:FIELD,FIELD"),
    ({"layers": "depots", "fields": "teams:members"}, "names 'teams', which parameter 'layers' (depots) leaves out"),
    ({"within": "12x"}, "parameter 'within': '12x' is not a period"),
    ({"within": "0d"}, "not a period longer than zero"),
    ({"as_of": "yesterday"}, "parameter 'as_of': 'yesterday' is not a date"),
    ({"profile": "nosuch"}, "no survey_requirements profile 'nosuch'"),
    ({"tolerance_m": -5}, "below the minimum"),
])
def test_bad_input_is_a_clear_error_naming_it(survey_registry, params, message):
    path, _ = survey_registry
    with pytest.raises(RallypointError) as exc:  # AnalysisError, or UnknownProfileError for the profile
        run(path, **params)
    assert message in str(exc.value)


def test_a_bad_profile_file_names_the_file_layer_and_field(survey_registry, tmp_path):
    path, _ = survey_registry
    bad = tmp_path / "bad.toml"
    bad.write_text('kind = "survey_requirements"\nname = "bad"\ntitle_zh = "坏"\ntitle_en = "Bad"\n'
                   '[data.layers.teams]\nrequired = ["name", "leader_mobile"]\n', encoding="utf-8")
    broken = tmp_path / "broken.toml"
    broken.write_text("kind = [", encoding="utf-8")
    out = tmp_path / "never.gpkg"
    for f, message in ((bad, "survey profile 'bad', layer teams: required: layer 'teams' has no field "
                             "'leader_mobile'"), (broken, f"survey profile {broken}: not valid TOML")):
        res = CliRunner().invoke(_cli(), ["survey", "report", str(path), "--profile", str(f), "--out", str(out)])
        assert res.exit_code == 1 and message in " ".join(res.output.split()), res.output
        assert not out.exists()  # nothing written


def test_a_registry_with_only_empty_layers_reports_0_of_0(registry_path, tmp_path):
    result = run(registry_path, layers="teams,helipads")
    layers = result.tables["survey_layers"]
    assert list(layers["records"]) == [0, 0] and layers["fill_rate"].isna().all()
    assert dict((en, v) for _, en, v in result.summary)["Fill rate"] == "0 / 0"
    assert result.tables["survey_townships"].empty and result.layers["survey_fixes"].empty
    from rallypoint.analysis import write_result

    write_result(result, tmp_path / "empty.gpkg", tmp_path / "empty.html", "en")  # empty layers are written too
    import pyogrio

    assert pyogrio.read_info(tmp_path / "empty.gpkg", layer="survey_fixes")["features"] == 0
    assert "无记录" in result.report("zh") and "no records" in result.report("en")


def test_the_command_writes_the_fix_list_as_geopackage_csv_and_report(survey_registry, tmp_path):
    path, ids = survey_registry
    before = _history_rows(path)
    out, csv, report = tmp_path / "s.gpkg", tmp_path / "fixes.csv", tmp_path / "s.html"
    res = CliRunner().invoke(_cli(), ["survey", "report", str(path), "--as-of", AS_OF, "--out", str(out),
                                      "--csv", str(csv), "--report", str(report), "--lang", "en"])
    assert res.exit_code == 0, res.output
    assert "66.7 %" in res.output and "Records to fix: 7" in res.output
    import pyogrio

    fixes = pyogrio.read_dataframe(out, layer="survey_fixes")
    assert len(fixes) == 7 and fixes.crs.to_epsg() == 4490
    assert set(pyogrio.list_layers(out)[:, 0]) == {"survey_fixes", "survey_areas", "survey_layers",
                                                    "survey_townships", "survey_fields"}
    table = pd.read_csv(csv, encoding="utf-8-sig", dtype={"adcode": str, "township": str})
    assert sorted(table["uuid"]) == sorted(fixes["uuid"])
    assert table.set_index("uuid").loc[ids["S2"], "duplicate_of"] == ids["S1"]
    page = report.read_text(encoding="utf-8")
    assert "Resource survey completeness" in page and "城关镇" in page and "not inspected or updated" in page
    assert _history_rows(path) == before  # a survey reads; it never writes to the registry
    res = CliRunner().invoke(_cli(), ["analyse", "survey", str(path), "--as-of", AS_OF, "--out",
                                      str(tmp_path / "a.gpkg"), "--tolerance-m", "0"])
    assert res.exit_code == 0, res.output
    again = pyogrio.read_dataframe(tmp_path / "a.gpkg", layer="survey_fixes")
    assert sorted(again["uuid"]) == sorted(ids[k] for k in ("S3", "S5", "S6", "S8", "D3"))  # no S2, D2 at 0 m
    res = CliRunner().invoke(_cli(), ["survey", "profiles", "bureau", "--lang", "en"])
    assert res.exit_code == 0 and "manager_phone (Manager phone)" in " ".join(res.output.split())


def _history_rows(path) -> int:
    with Registry.open(path, readonly=True) as reg:
        return len(reg.history())


def _client(path, tmp_path):
    """A test client of the web app serving a copy of ``path`` (tmp_path/served.gpkg), or a PostGIS registry."""
    from rallypoint.web import create_app

    served = path if isinstance(path, str) else copy_registry(path, tmp_path / "served.gpkg")
    return create_app(served, {"TESTING": True, "RALLYPOINT_JOBS_DIR": str(tmp_path / "jobs")}).test_client()


@pytest.mark.both_backends
def test_the_web_endpoints_give_the_figures_and_the_fix_list(survey_location, tmp_path):
    from web_support import auth, make_key

    path, ids = survey_location
    client = _client(path, tmp_path)
    served = path if isinstance(path, str) else tmp_path / "served.gpkg"
    # the figures name the personal fields that are missing: for key holders only
    assert client.get(f"/plugins/survey?as_of={AS_OF}").status_code == 401
    assert client.get("/plugins/survey/fixes").status_code == 401
    client.environ_base.update({"HTTP_" + k.upper().replace("-", "_"): v
                                for k, v in auth(make_key(served, "li.na", "reader")).items()})
    r = client.get(f"/plugins/survey?as_of={AS_OF}")
    assert r.status_code == 200, r.data
    body = r.get_json()
    layers = {row["layer"]: row for row in body["layers"]}
    assert (layers["shelters"]["records"], layers["shelters"]["complete"]) == (9, 6)
    assert layers["teams"]["fill_rate"] is None and body["fixes"] == 7
    town = {(row["township"], row["layer"]): row for row in body["townships"]}
    assert town[("519901001", "shelters")]["fill_rate"] == 0.5
    r = client.get(f"/plugins/survey/fixes?as_of={AS_OF}&layer=shelters&limit=2")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/geo+json")
    page = r.get_json()
    assert page["numberMatched"] == 5 and page["numberReturned"] == 2
    assert page["features"][0]["geometry"]["type"] == "Point"
    assert "manager_phone" not in page["features"][0]["properties"]  # what is missing, never personal data
    r = client.get(f"/plugins/survey?as_of={AS_OF}&f=html&lang=en")
    assert r.status_code == 200 and b"Resource survey completeness" in r.data
    with Registry.open(served) as reg:  # an edit is seen at once, not after the cache's time
        reg.update("shelters", ids["S3"], {"manager_phone": "13800005678"}, author=AUTHOR)
    again = {row["layer"]: row for row in client.get(f"/plugins/survey?as_of={AS_OF}").get_json()["layers"]}
    assert again["shelters"]["complete"] == 7 and again["shelters"]["missing"] == 1
    r = client.get("/plugins/survey?within=soon")
    assert r.status_code == 400 and "within" in r.get_json()["description"]
    r = client.get("/plugins/survey/fixes?limit=lots")
    assert r.status_code == 400 and "limit" in r.get_json()["description"]


def test_the_survey_is_an_ogc_process(survey_registry, tmp_path):
    path, _ = survey_registry
    client = _client(path, tmp_path)
    r = client.get("/processes/survey")
    assert r.status_code == 200
    inputs = r.get_json()["inputs"]
    assert {"profile", "within", "tolerance_m", "fields", "layers", "as_of"} <= set(inputs)
    key = make_key(tmp_path / "served.gpkg", "li.na", "reader")
    r = client.post("/processes/survey/execution", json={"inputs": {"as_of": AS_OF, "profile": "bureau"}},
                    headers=auth(key))
    assert r.status_code == 200, r.get_json()
    job = r.get_json()
    assert {s["label_en"]: s["value"] for s in job["summary"]}["Records to fix"] == 7
    links = {link["title"].split(" ")[0]: link["href"].replace("http://localhost", "") for link in job["links"]}
    table = client.get(links["survey_layers"])  # the empty layers' rate is null in JSON, not NaN
    assert table.status_code == 200
    rows = {f["properties"]["layer"]: f["properties"] for f in table.get_json()["features"]}
    assert rows["teams"]["fill_rate"] is None and rows["shelters"]["complete"] == 6
