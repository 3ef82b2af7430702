"""The response sheet plugin: a tiny region with hand-computed answers (people in partial cells, who goes to which
shelter, team arrival on a road line, depot supplies for the days, helipads), bad input, the CLI with its card
looked at in the real browser and its PDF rendered to an image, and the web endpoint."""

from __future__ import annotations

import json
import math

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from click.testing import CliRunner
from conftest import depot, hazard, helipad, require, require_program, shelter, stock, team
from test_capacity import GK, X0, Y0, area_frame

from rallypoint.analysis import AnalysisError, run_analysis
from rallypoint.cli.main import cli
from rallypoint.plugins import default_plugin_manager

AUTHOR = "test"
WALK = 4.5 * 1000 / 60  # metres per minute
DRIVE = 30 * 1000 / 60  # metres per minute at 30 km/h

# A road west-east along y = 2000 m, nodes every 500 m, open to walking and driving at 30 km/h.
ROAD = [((x, 2000), (x + 500, 2000)) for x in range(0, 8000, 500)]
# Cells of 100 m: (x, y, people). The area is the square 1500..2500 × 1500..2500 m.
# c1 wholly inside; c2 centred on the east edge (half inside); c3's square 1470..1570 is 70 % inside; c4 outside.
CELLS = {"c1": (2000, 2000, 300), "c2": (2500, 2100, 200), "c3": (1520, 1800, 100), "c4": (3500, 2000, 1000)}
AREA = [(1500, 1500), (2500, 1500), (2500, 2500), (1500, 2500), (1500, 1500)]


def P(x, y):
    return shapely.Point(X0 + x, Y0 + y)


def town(x) -> str:
    """The code of the township (area_frame: A west of 4,000 m, B east of it) a point x metres east lies in."""
    return "519901001" if x <= 4000 else "519901002"


def area_geojson(ring=AREA) -> str:
    return json.dumps({"type": "Feature", "properties": {},
                       "geometry": {"type": "Polygon", "coordinates": [[[X0 + x, Y0 + y] for x, y in ring]]}})


def build(reg) -> dict[str, str]:
    reg.load_reference("admin_areas", area_frame(), author=AUTHOR)
    reg.load_reference("population", gpd.GeoDataFrame(
        {"adcode": ["519901001"] * len(CELLS), "cell_m": [100.0] * len(CELLS),
         "population": [p for *_, p in CELLS.values()], "population_day": [p for *_, p in CELLS.values()]},
        geometry=[P(x, y) for x, y, _ in CELLS.values()], crs=GK), author=AUTHOR)
    reg.load_reference("roads", gpd.GeoDataFrame(
        {"road_class": ["residential"] * len(ROAD), "walk": [True] * len(ROAD), "drive": [True] * len(ROAD),
         "speed_kmh": [30.0] * len(ROAD), "oneway": [False] * len(ROAD)},
        geometry=[shapely.LineString([P(*a), P(*b)]) for a, b in ROAD], crs=GK), author=AUTHOR)
    ids = {}
    # (x, y, capacity_day, occupancy, overrides): free places = capacity − occupancy (the area allows 6,000)
    for name, (x, y, cap, occ, over) in {
            "A": (1000, 2000, 250, 50, {}),  # free 200, west of the area
            "B": (4000, 2000, 150, 0, {}),  # free 150, east
            "C": (2000, 2300, 1000, 0, {}),  # inside the area
            "D": (6000, 2000, 1000, 0, {"hazards": "earthquake"}),  # does not serve floods
            "E": (6300, 3900, 1000, 0, {})}.items():  # 4.05 km from the area: beyond a 40-min walk + snaps
        ids[name] = reg.add("shelters", shelter(name=name, adcode=town(x), capacity_day=cap, occupancy=occ,
                                                status="open",
                                                hazards=over.get("hazards", "earthquake,flood")),
                            P(x, y), crs=GK, author=AUTHOR).uuid
    reg.add("hazard_points", hazard(name="HP1", threatened_people=120), P(1800, 1700), crs=GK, author=AUTHOR)
    reg.add("hazard_points", hazard(name="HP2"), P(3500, 3500), crs=GK, author=AUTHOR)
    ids["mhi"] = reg.add("hazard_points", hazard(name="化工厂", hazard_type="major_hazard_installation"),
                         P(7500, 500), crs=GK, author=AUTHOR).uuid
    reg.add("teams", team(name="T1", adcode=town(0), readiness_min=5, specialties="flood,water_rescue"), P(0, 2000),
            crs=GK, author=AUTHOR)
    reg.add("teams", team(name="T2", adcode=town(8000), readiness_min=10, specialties="hazmat"), P(8000, 2000),
            crs=GK, author=AUTHOR)
    reg.add("teams", team(name="T3", adcode=town(7500), status="deployed"), P(7500, 2000), crs=GK, author=AUTHOR)
    d1 = reg.add("depots", depot(name="D1", adcode=town(1000)), P(1000, 2100), crs=GK, author=AUTHOR).uuid
    d2 = reg.add("depots", depot(name="D2", adcode=town(6000)), P(6000, 2000), crs=GK, author=AUTHOR).uuid
    for d, rice, quilts in ((d1, 100, 300), (d2, 1000, 500)):
        reg.add("depot_stock", stock(d, item="大米", category="food", unit="kg", quantity=rice), author=AUTHOR)
        reg.add("depot_stock", stock(d, item="棉被", category="quilt", unit="piece", quantity=quilts), author=AUTHOR)
    reg.add("helipads", helipad(name="H1", adcode=town(3500)), P(3500, 3000), crs=GK, author=AUTHOR)
    reg.add("helipads", helipad(name="H2", adcode=town(2000)), P(2000, 2200), crs=GK, author=AUTHOR)
    reg.add("helipads", helipad(name="H3", adcode=town(5000), status="unusable"), P(5000, 2000), crs=GK, author=AUTHOR)
    return ids


def sheet(reg, **params):
    base = {"area": area_geojson(), "area_crs": f"EPSG:{GK}", "incident": "flood", "walk_minutes": 40,
            "team_minutes": 20}
    base.update(params)
    return run_analysis(reg, default_plugin_manager(), "response", {k: v for k, v in base.items() if v is not None},
                        lang="en")


@pytest.fixture
def region(registry):
    ids = build(registry)
    return registry, ids


def test_hand_computed_incident(region):
    reg, _ = region
    res = sheet(reg)
    m = res.tables["response_summary"].iloc[0]
    # people: c1 300 whole + c2 half of 200 + c3 70 % of 100; c4 outside
    assert m["people"] == pytest.approx(300 + 100 + 70)
    assert m["households"] == math.ceil(470 / 2.62) == 180
    assert m["boundary_cells"] == 2 and m["hazard_points"] == 1 and m["threatened_people"] == 120
    cells = res.layers["response_people"].sort_values("population")
    assert cells["share_inside"].tolist() == pytest.approx([0.7, 0.5, 1.0])

    # shelters: A (free 200) and B (free 150) usable; C inside, D not for floods, E beyond the walk
    s = res.layers["response_shelters"].set_index("name")
    assert s.loc["C", "reason"] == "inside_area" and s.loc["D", "reason"] == "hazard"
    assert s.loc["E", "reason"] == "beyond_walk"
    assert (s.loc["A", "free"], s.loc["B", "free"]) == (200, 150)
    assert (s.loc["A", "assigned"], s.loc["B", "assigned"]) == pytest.approx((200, 150))
    assert bool(s.loc["A", "open"]) and bool(s.loc["B", "open"]) and not s["open"].drop(["A", "B"]).any()
    # most placed (350 of 470), then fewest person-minutes: A takes c3 and 130 of c1, B takes c2 and 50 of c1
    c3_a = (math.hypot(20, 200) + 500) / WALK
    c1_a, c1_b, c2_ab = 1000 / WALK, 2000 / WALK, (100 + 1500) / WALK
    assert m["placed"] == pytest.approx(350) and m["unplaced"] == pytest.approx(120)
    assert m["unplaced_full"] == pytest.approx(120) and m["unplaced_no_reach"] == 0
    assert m["person_minutes"] == pytest.approx(70 * c3_a + 130 * c1_a + 100 * c2_ab + 50 * c1_b, rel=1e-4)
    a = res.layers["response_assignment"]
    assert a["people"].sum() == pytest.approx(350)
    assert a.groupby("shelter")["people"].sum().to_dict() == pytest.approx({"A": 200, "B": 150})
    assert cells.set_index("population").loc[300, "why_unplaced"] == "shelters_full"

    # teams: T1 5 min ready + 1,500 m to the area's edge at 30 km/h; T2 10 + 5,500 m → 21 min > 20; T3 deployed
    t = res.layers["response_teams"].set_index("name")
    assert sorted(t.index) == ["T1", "T2"]
    assert t.loc["T1", "arrive_min"] == pytest.approx(5 + 1500 / DRIVE)
    assert t.loc["T2", "arrive_min"] == pytest.approx(10 + 5500 / DRIVE)
    assert bool(t.loc["T1", "send"]) and bool(t.loc["T1", "match"]) and not t.loc["T2", "send"]
    assert m["teams_sent"] == 1 and m["first_team_min"] == pytest.approx(8.0)

    # supplies for 3 days of 470 displaced: rice 2.8 kg/week → 470 × 0.4 × 3 = 564 kg: D1 (nearer) 100, D2 464
    d = res.layers["response_depots"].set_index("name")
    assert d.loc["D1", "road_min"] == pytest.approx(100 / WALK + 500 / DRIVE)
    assert d.loc["D2", "road_min"] == pytest.approx(3500 / DRIVE)
    assert (d.loc["D1", "give_rice"], d.loc["D2", "give_rice"]) == pytest.approx((100, 464))
    assert (d.loc["D1", "give_quilts"], d.loc["D2", "give_quilts"]) == pytest.approx((300, 170))
    sup = res.tables["response_supply"].set_index("need")
    assert sup.loc["rice", "needed"] == pytest.approx(564) and sup.loc["rice", "shortfall"] == pytest.approx(0)
    assert sup.loc["rice", "days_available"] == pytest.approx(1100 / (470 * 0.4))
    assert sup.loc["drinking_water", "shortfall"] == pytest.approx(470 * 2.5 * 3)
    assert sup.loc["tents", "shortfall"] == pytest.approx(470 * 0.2)
    assert set(m["needs_short"].split(", ")) == {"drinking_water", "family_kits", "toilets", "tents"}
    assert any("Drinking water (short 3,525 L)" in w for w in res.warnings)

    # helipads: H1 usable 1.118 km away; H2 inside the area; H3 unusable
    h = res.layers["response_helipads"].set_index("name")
    assert h.loc["H1", "to_area_km"] == pytest.approx(math.hypot(1000, 500) / 1000)
    assert h["reason"].to_dict() == {"H1": "", "H2": "inside_area", "H3": "status"}
    # the area is stored in EPSG:4490 and measures 1 km²
    assert res.layers["response_area"].crs.to_epsg() == 4490 and m["area_km2"] == pytest.approx(1.0, rel=1e-6)


def test_a_rerun_sees_roads_changed_since(region):
    """The road networks kept in memory for re-runs are dropped as soon as the registry file changes."""
    reg, _ = region
    first = sheet(reg)
    again = sheet(reg, area=area_geojson([(1550, 1550), (2500, 1550), (2500, 2500), (1550, 2500), (1550, 1550)]))
    assert first.tables["response_summary"].iloc[0]["placed"] == pytest.approx(350)
    assert again.tables["response_summary"].iloc[0]["placed"] == pytest.approx(350)
    cut = [r for r in ROAD if r != ((1000, 2000), (1500, 2000))]  # A's road to the area is gone
    reg.load_reference("roads", gpd.GeoDataFrame(
        {"road_class": ["residential"] * len(cut), "walk": [True] * len(cut), "drive": [True] * len(cut),
         "speed_kmh": [30.0] * len(cut), "oneway": [False] * len(cut)},
        geometry=[shapely.LineString([P(*a), P(*b)]) for a, b in cut], crs=GK), author=AUTHOR)
    after = sheet(reg).layers["response_shelters"].set_index("name")
    assert after.loc["A", "assigned"] == 0 and after.loc["B", "assigned"] == pytest.approx(150)


def test_a_hazard_point_takes_the_radius_of_its_type(region):
    reg, ids = region
    res = sheet(reg, area=None, area_crs=None, incident=None, hazard_uuid=ids["mhi"])
    m = res.tables["response_summary"].iloc[0]
    assert m["incident"] == "hazmat" and m["radius_m"] == 1000.0  # GB 50413-2007's setback, from the profile
    assert m["area_km2"] == pytest.approx(math.pi, rel=1e-3)
    assert "GB 50413" in res.layers["response_area"].iloc[0]["how_en"]
    # the same point with a given radius, as a re-run with a changed area
    res2 = sheet(reg, area=None, area_crs=None, incident="hazmat", hazard_uuid=ids["mhi"], radius_m=500)
    assert res2.tables["response_summary"].iloc[0]["area_km2"] == pytest.approx(math.pi / 4, rel=1e-3)


def test_point_and_radius_in_another_crs(region):
    reg, _ = region
    res = sheet(reg, area=None, point=f"{X0 + 2000},{Y0 + 2000}", radius_m=400)
    m = res.tables["response_summary"].iloc[0]
    assert m["people"] == pytest.approx(300)  # only c1's square lies within 400 m
    assert m["area_km2"] == pytest.approx(math.pi * 0.16, rel=1e-3)


def test_an_area_with_nobody_is_a_clear_result(region):
    reg, _ = region
    res = sheet(reg, area=area_geojson([(5000, 500), (5500, 500), (5500, 900), (5000, 900), (5000, 500)]))
    m = res.tables["response_summary"].iloc[0]
    assert m["people"] == 0 and m["to_evacuate"] == 0 and m["placed"] == 0 and m["shelters_open"] == 0
    assert any("nobody lives in the area" in w for w in res.warnings)
    assert res.tables["response_supply"]["needed"].sum() == 0


def test_an_area_covering_every_shelter_leaves_everyone_unplaced(region):
    reg, _ = region
    res = sheet(reg, area=area_geojson([(-100, -100), (8100, -100), (8100, 4100), (-100, 4100), (-100, -100)]))
    m = res.tables["response_summary"].iloc[0]
    assert m["people"] == pytest.approx(1600) and m["placed"] == 0 and m["unplaced"] == pytest.approx(1600)
    assert m["unplaced_no_reach"] == pytest.approx(1600) and m["shelters_usable"] == 0
    assert any("no safe shelter with free places is left outside the area" in w for w in res.warnings)
    assert set(res.layers["response_shelters"]["reason"]) == {"inside_area", "hazard"}


@pytest.mark.parametrize("params, message", [
    ({"area": '{"type": "Polygon", "coordinates": [[[0, 0], [1'}, "not valid JSON"),
    ({"area": '{"type": "Point", "coordinates": [404000, 3390000]}'}, "is a Point, not an area"),
    ({"area": json.dumps({"type": "Polygon", "coordinates": [[[X0, Y0], [X0 + 10, Y0 + 10], [X0 + 10, Y0],
                                                              [X0, Y0 + 10], [X0, Y0]]]})}, "not a valid polygon"),
    ({"area": None, "point": f"{X0},{Y0}", "radius_m": -5}, "radius_m': -5.0 is below the minimum 0"),
    ({"area": None, "point": f"{X0},{Y0}"}, "needs 'radius_m'"),
    ({"area": None}, "none was given"),
    ({"point": f"{X0},{Y0}", "radius_m": 100}, "got area, point"),
    ({"area": None, "hazard_uuid": "no-such-uuid"}, "no hazard point 'no-such-uuid'"),
    ({"area": None, "point": "200,95", "radius_m": 100, "area_crs": "EPSG:4490"}, "outside EPSG:4490"),
    ({"area": None, "point": f"{X0 + 90_000},{Y0}", "radius_m": 500}, "outside the registry's region"),
    ({"area": None, "point": "104.0,30.6", "radius_m": 500, "area_crs": "EPSG:4490", "incident": "auto"},
     "'auto' only works with a hazard point"),
])
def test_bad_input_is_a_clear_error(region, params, message):
    reg, _ = region
    before = reg.count("shelters")
    with pytest.raises(AnalysisError, match=message.replace("(", r"\(")):
        sheet(reg, **params)
    assert reg.count("shelters") == before


def _non_blank(png: np.ndarray) -> float:
    """Share of pixels that are not (near) white."""
    return float((png[..., :3].astype(int).sum(axis=-1) < 720).mean())


def _area_pixels(png: np.ndarray) -> int:
    """Pixels of the area's red outline (#d62728) on the map."""
    rgb = png[..., :3].astype(int)
    return int(((abs(rgb[..., 0] - 0xd6) < 30) & (abs(rgb[..., 1] - 0x27) < 40) & (abs(rgb[..., 2] - 0x28) < 40)).sum())


def test_the_card_through_the_cli_in_the_browser_and_as_pdf(registry_path, tmp_path):
    """`rallypoint sheet` writes the GeoPackage, the card in Chinese and English and their PDFs; the card is
    screenshotted in the real browser and the PDF rendered to an image, and both are looked at."""
    require("playwright", "screenshots the card in Debian's chromium")
    require("pypdfium2", "renders the card's PDF to an image")
    chromium = require_program("chromium", "prints the card to PDF and shows it")
    from rallypoint import Registry

    with Registry.open(registry_path) as reg:
        build(reg)
    area = tmp_path / "flood.geojson"
    area.write_text(area_geojson(), encoding="utf-8")
    out = tmp_path / "sheet"
    res = CliRunner().invoke(cli, ["sheet", str(registry_path), "--area", str(area), "--crs", f"EPSG:{GK}",
                                   "--incident", "flood", "--set", "walk_minutes=40", "--set", "team_minutes=20",
                                   "--out", str(out)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "People inside: 470" in res.output and "Placed in a shelter: 350" in res.output
    layers = {n for n, _ in pyogrio.list_layers(out / "sheet.gpkg")}
    assert {"response_area", "response_shelters", "response_teams", "response_supply"} <= layers
    opened = pyogrio.read_dataframe(out / "sheet.gpkg", layer="response_shelters")
    assert sorted(opened.loc[opened["open"], "name"]) == ["A", "B"]

    import pypdfium2
    from PIL import Image
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 800, "height": 1130})
        for lang, title in (("zh", "突发事件应急响应卡"), ("en", "Incident response sheet")):
            page.goto((out / f"sheet_{lang}.html").as_uri())
            assert title in page.locator("h1").inner_text()
            short = {"zh": "可调储备不足：饮用水（缺 3,525 升）", "en": "Drinking water (short 3,525 L)"}[lang]
            assert short in page.locator(".notes").last.inner_text()  # the sheet's warnings in the card's language
            assert page.locator("img").evaluate("i => i.complete && i.naturalWidth") > 300  # the map drew
            shot = tmp_path / f"card_{lang}.png"
            page.screenshot(path=str(shot), full_page=True)
            png = np.asarray(Image.open(shot))
            assert _non_blank(png) > 0.05 and _area_pixels(png) > 200

            pdf = pypdfium2.PdfDocument(str(out / f"sheet_{lang}.pdf"))
            assert len(pdf) == 1  # one page
            text = pdf[0].get_textpage().get_text_range()
            assert title in text and ("S1" in text)
            image = np.asarray(pdf[0].render(scale=1.5).to_pil())
            Image.fromarray(image).save(tmp_path / f"card_{lang}_pdf.png")
            assert _non_blank(image) > 0.05 and _area_pixels(image) > 200
        browser.close()


@pytest.mark.both_backends
def test_the_web_endpoint(registry_location, tmp_path):
    from web_support import auth, copy_registry, make_key

    from rallypoint import Registry
    from rallypoint.web.app import create_app

    with Registry.open(registry_location) as reg:
        build(reg)
    path = registry_location if isinstance(registry_location, str) else \
        copy_registry(registry_location, tmp_path / "served.gpkg")
    key = auth(make_key(path, "li.na", "reader"))
    client = create_app(path, {"TESTING": True, "RALLYPOINT_JOBS_DIR": str(tmp_path / "jobs")}).test_client()
    q = {"point": f"{X0 + 2000},{Y0 + 2000}", "radius_m": "400", "area_crs": f"EPSG:{GK}", "incident": "flood"}
    assert client.get("/plugins/response/sheet", query_string=q).status_code == 401  # no key, no run
    got = client.get("/plugins/response/sheet", query_string={**q, "f": "json"}, headers=key)
    assert got.status_code == 200, got.data[:500]
    assert got.get_json()["summary"]["people"] == pytest.approx(300)
    page = client.get("/plugins/response/sheet", query_string={**q, "lang": "en"}, headers=key)
    assert page.status_code == 200 and "Incident response sheet" in page.get_data(as_text=True)
    bad = client.get("/plugins/response/sheet", query_string={**q, "radius_m": "-1"}, headers=key)
    assert bad.status_code == 400 and "radius_m" in bad.get_data(as_text=True)
    # the same run as an OGC process: its layers kept as a job
    job = client.post("/processes/response/execution", data=json.dumps({"inputs": {**q, "radius_m": 400}}),
                      content_type="application/json", headers=key)
    assert job.status_code == 200, job.data[:500]
    doc = job.get_json()
    assert doc["outputs"]["response_shelters"] == 5 and doc["outputs"]["response_area"] == 1
    people = client.get(f"/processes/response/jobs/{doc['jobID']}/results/response_people", headers=key).get_json()
    assert sum(f["properties"]["people_inside"] for f in people["features"]) == pytest.approx(300)
