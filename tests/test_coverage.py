"""The coverage plugin: a tiny hand-made region checked against brute force (networkx shortest paths, an
enumeration of every whole-person assignment), the error cases, and the county sample through the CLI."""

from __future__ import annotations

import itertools
import math

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely
from click.testing import CliRunner
from conftest import hazard, shelter, team, helipad
from test_capacity import GK, X0, Y0, area_frame

from rallypoint.analysis import AnalysisError, run_analysis
from rallypoint.cli.main import cli
from rallypoint.plugins import default_plugin_manager

pytestmark = pytest.mark.both_backends

nx = pytest.importorskip("networkx")
AUTHOR = "test"
SPEED = 4.5 * 1000 / 60  # metres per minute

# Roads (metres from the south-west corner): a main road west-east, a branch north, and an island far off.
ROADS = [((0, 0), (1000, 0)), ((1000, 0), (2000, 0)), ((2000, 0), (3000, 0)), ((1000, 0), (1000, 1000)),
         ((6000, 3000), (6500, 3000))]
# Cells: (x, y, people). c4 is on the island; c5 is more than 500 m from every road.
CELLS = {"c1": (1000, 1030, 6), "c2": (2000, 40, 4), "c3": (100, 30, 3), "c4": (6200, 3050, 5),
         "c5": (4500, 3900, 2)}
# Shelters: (x, y, capacity, overrides)
SHELTERS = {"S1": (0, 50, 5, {}), "S2": (3000, 0, 4, {}),
            "S3": (2000, 10, 50, {"status": "closed"}),
            "S4": (1000, 10, 50, {"hazards": "earthquake"}),
            "S5": (0, 0, 0, {}),
            "S6": (2000, 2500, 50, {}),  # off the network (> 500 m)
            "S7": (1000, 990, 50, {}),  # 510 m from a major hazard installation
            "S8": (3000, 10, 50, {"in_flood_plain": True})}


def P(x, y):
    return shapely.Point(X0 + x, Y0 + y)


def build(reg, roads=True):
    reg.load_reference("admin_areas", area_frame(), author=AUTHOR)
    reg.load_reference("population", gpd.GeoDataFrame(
        {"adcode": ["519901001"] * len(CELLS), "cell_m": [100.0] * len(CELLS),
         "population": [p for _, _, p in CELLS.values()], "population_day": [p for _, _, p in CELLS.values()]},
        geometry=[P(x, y) for x, y, _ in CELLS.values()], crs=GK), author=AUTHOR)
    if roads:
        reg.load_reference("roads", gpd.GeoDataFrame(
            {"road_class": ["residential"] * len(ROADS), "walk": [True] * len(ROADS), "drive": [True] * len(ROADS),
             "speed_kmh": [30.0] * len(ROADS), "oneway": [False] * len(ROADS)},
            geometry=[shapely.LineString([P(*a), P(*b)]) for a, b in ROADS], crs=GK), author=AUTHOR)
    for name, (x, y, cap, over) in SHELTERS.items():
        reg.add("shelters", shelter(name=name, capacity_day=cap, status=over.get("status", "open"),
                                    hazards=over.get("hazards", "earthquake,flood"),
                                    in_flood_plain=over.get("in_flood_plain", False)), P(x, y), crs=GK, author=AUTHOR)
    reg.add("hazard_points", hazard(hazard_type="major_hazard_installation"), P(1000, 1500), crs=GK, author=AUTHOR)
    reg.add("hazard_points", hazard(name="H2"), P(2000, 100), crs=GK, author=AUTHOR)
    reg.add("teams", team(readiness_min=5), P(0, 0), crs=GK, author=AUTHOR)
    reg.add("helipads", helipad(adcode="519901001"), P(3000, 100), crs=GK, author=AUTHOR)  # in township A


def brute_times(shelters):
    """Cell → shelter walking minutes by networkx on the same network; inf when not reachable."""
    g = nx.Graph()
    for a, b in ROADS:
        g.add_edge(a, b, weight=math.dist(a, b))
    nodes = list(g.nodes)

    def snap(x, y):
        n = min(nodes, key=lambda q: math.dist(q, (x, y)))
        return n, math.dist(n, (x, y))

    out = {}
    for c, (x, y, _) in CELLS.items():
        nc, dc = snap(x, y)
        for s in shelters:
            sx, sy = SHELTERS[s][:2]
            ns, ds = snap(sx, sy)
            if dc > 500 or ds > 500:
                out[c, s] = math.inf
                continue
            try:
                out[c, s] = (dc + nx.shortest_path_length(g, nc, ns, weight="weight") + ds) / SPEED
            except nx.NetworkXNoPath:
                out[c, s] = math.inf
    return out


def analyse(reg, **params):
    return run_analysis(reg, default_plugin_manager(), "coverage", params, lang="en")


def test_tiny_region_against_brute_force(registry):
    build(registry)
    res = analyse(registry, hazard="flood", minutes="10,30,60", new_sites=1, candidates=0)
    usable = ["S1", "S2"]  # S3 closed, S4 no flood, S5 no capacity, S6 off network, S7 setback, S8 flood plain
    s = res.layers["coverage_shelters"].set_index("name")
    assert s.loc["S3", "reason"] == "status" and s.loc["S4", "reason"] == "hazard"
    assert s.loc["S5", "reason"] == "capacity" and s.loc["S7", "reason"] == "setback:major_hazard_installation"
    assert s.loc["S8", "reason"] == "flood_plain" and s.loc["S6", "eligible"] and not s.loc["S6", "on_network"]
    assert sorted(s.index[s["eligible"] & s["on_network"]]) == usable
    assert any("S6" in w for w in res.warnings) and any("no capacity" in w for w in res.warnings)

    t = brute_times(usable)
    best = {c: min(t[c, s_] for s_ in usable) for c in CELLS}
    a = res.layers["coverage_areas"].set_index("adcode")
    for th in (10, 30, 60):
        for code, cells in (("519901001", ["c1", "c2", "c3"]), ("519901002", ["c4", "c5"])):
            want = sum(CELLS[c][2] for c in cells if best[c] <= th)
            assert a.loc[code, f"covered_{th}min"] == pytest.approx(want), (code, th)
        # per shelter: people within th of each shelter
        for s_ in usable:
            want = sum(CELLS[c][2] for c in CELLS if t[c, s_] <= th)
            assert s.loc[s_, f"people_{th}min"] == pytest.approx(want), (s_, th)
    assert a.loc["519901002", "off_network"] == 2 and a.loc["519901002", "unreachable"] == 5
    unc = res.layers["coverage_uncovered"]
    assert sorted(unc["reason"]) == ["no_shelter_on_network_part", "off_network"]

    # assignment: enumerate every whole-person split of c1..c3 between S1 and S2 within 60 min
    cap = {"S1": 5, "S2": 4}
    reach = [c for c in CELLS if best[c] <= 60]
    best_key = None
    options = []
    for c in reach:
        n = CELLS[c][2]
        opts = [(x1, x2) for x1 in range(n + 1) for x2 in range(n + 1 - x1)
                if (x1 == 0 or t[c, "S1"] <= 60) and (x2 == 0 or t[c, "S2"] <= 60)]
        options.append(opts)
    for combo in itertools.product(*options):
        if sum(x[0] for x in combo) > cap["S1"] or sum(x[1] for x in combo) > cap["S2"]:
            continue
        placed = sum(x[0] + x[1] for x in combo)
        cost = sum(x[0] * t[c, "S1"] + x[1] * t[c, "S2"] for c, x in zip(reach, combo))
        key = (-placed, cost)
        best_key = key if best_key is None or key < best_key else best_key
    r = res.tables["coverage_region"].iloc[0]
    assert r["assigned"] == pytest.approx(-best_key[0])
    assert r["person_minutes"] == pytest.approx(best_key[1], rel=1e-6)
    assert r["unassigned"] == pytest.approx(7)  # c4 (island) and c5 (off network)
    assert r["overflow"] == pytest.approx(sum(CELLS[c][2] for c in reach) + best_key[0])
    assert r["assigned"] + r["overflow"] + r["unassigned"] == pytest.approx(sum(p for *_, p in CELLS.values()))

    # teams by road: readiness 5 min + drive at 30 km/h from (0, 0) to H2's road node (2000, 0) + 100 m walk
    h = res.layers["coverage_hazard_points"]
    h2 = h[h["hazard_type"] == "landslide"].iloc[0]
    assert h2["team_min"] == pytest.approx(5 + 2000 / 500 + 100 / SPEED, rel=1e-6)
    # helicopter: 1 km from the helipad at (3000, 100), at 200 km/h
    assert h2["heli_km"] == pytest.approx(1.0, abs=1e-6) and h2["heli_min"] == pytest.approx(1.0 / 200 * 60, rel=1e-5)


def test_siting_matches_enumeration(registry):
    build(registry)
    res = analyse(registry, hazard="flood", minutes="10", new_sites=1, site_spacing_m=500)
    sites = res.layers["coverage_sites"]
    r = res.tables["coverage_region"].iloc[0]
    # c1 (6 people, 27.7 min from S1) is uncovered at 10 min; one site next to it covers it
    assert r["new_sites"] == 1 and r["new_sites_cover"] >= 6
    assert (sites["problem"] == "set_covering").sum() == r["set_cover_sites"] >= 1


def test_no_roads_is_a_clear_message(registry):
    build(registry, roads=False)
    with pytest.raises(AnalysisError, match="no road network"):
        analyse(registry)


def test_a_hazard_no_shelter_serves_covers_nobody(registry):
    build(registry)
    res = analyse(registry, hazard="tsunami")
    r = res.tables["coverage_region"].iloc[0]
    assert r["covered_60min"] == 0 and r["assigned"] == 0 and r["shelters_eligible"] == 0
    assert any("no shelter is usable for 'tsunami'" in w for w in res.warnings)


def test_county_sample_through_the_cli(county_sample, tmp_path):
    out = tmp_path / "cov.gpkg"
    res = CliRunner().invoke(cli, ["analyse", "coverage", str(county_sample), "--hazard", "flood", "--minutes",
                                   "10,30,60", "--out", str(out), "--lang", "en"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "Covered within 30 min (by road)" in res.output
    layers = {n for n, _ in pyogrio.list_layers(out)}
    assert {"coverage_areas", "coverage_shelters", "coverage_uncovered", "coverage_region"} <= layers
    areas = pyogrio.read_dataframe(out, layer="coverage_areas")
    region = pyogrio.read_dataframe(out, layer="coverage_region").iloc[0]
    for col in ("covered_10min", "covered_60min", "assigned", "overflow", "unassigned"):
        assert areas[col].sum() == pytest.approx(region[col])
    assert (areas["covered_10min"] <= areas["covered_30min"]).all()
    assert (areas["covered_30min"] <= areas["covered_60min"]).all()
    assert np.isclose(region["assigned"] + region["overflow"] + region["unassigned"], region["to_place"])
    assert "data:image/png;base64," in out.with_name(f"{out.stem}_en.html").read_text(encoding="utf-8")
