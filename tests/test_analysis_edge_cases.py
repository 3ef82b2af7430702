"""Every analysis the plugins provide, and its report, on the edge cases: everyone covered, nobody covered, one
shelter, an empty layer, a township with no people. Each run goes through the command line (``rallypoint analyse
NAME``) on a small hand-built registry, and must end with a report written, its result said plainly, and no
traceback."""

from __future__ import annotations

import html
import re

import geopandas as gpd
import pyogrio
import pytest
import shapely
from click.testing import CliRunner
from conftest import BUREAU, hazard, shelter
from test_capacity import GK, X0, Y0, area_frame

from rallypoint.analysis import analyses
from rallypoint.cli.main import cli
from rallypoint.plugins import default_plugin_manager

pytestmark = pytest.mark.both_backends

AUTHOR = "test"
# A road west-east along y = 2000 m (metres from the region's south-west corner, EPSG:4544), across township A
# (x < 4000) and township B (x > 4000), open to walking and driving.
ROAD = [((x, 2000), (x + 500, 2000)) for x in range(0, 8000, 500)]
# People beside the road: two cells in A, two in B. A walk of 1 km takes 13.3 minutes at 4.5 km/h.
CELLS = {"a1": (1000, 2050, 300), "a2": (3000, 2050, 200), "b1": (5000, 2050, 400), "b2": (7000, 2050, 100)}
# Shelters on the road: S1 in A, S2 in B, each within a 1 km walk of its township's cells.
SHELTERS = {"S1": (2000, 2000), "S2": (6000, 2000)}

CASES = ("everyone_covered", "nobody_covered", "one_shelter", "empty_layer", "township_without_people")
ANALYSES = ("capacity", "coverage", "response", "survey", "rectification")
# The response sheet's incident: a 300 m circle around cell a1 (in A), or around b1 (in B) where A's cells are gone.
INCIDENT = {"township_without_people": (5000, 2050)}


def P(x, y):
    return shapely.Point(X0 + x, Y0 + y)


def build(reg, case: str) -> None:
    """The region of ``case``: areas, roads and people always (but B's people gone in township_without_people)."""
    reg.load_reference("admin_areas", area_frame(), author=AUTHOR)
    cells = {k: v for k, v in CELLS.items() if not (case == "township_without_people" and k.startswith("b"))}
    reg.load_reference("population", gpd.GeoDataFrame(
        {"adcode": ["519901001" if k.startswith("a") else "519901002" for k in cells], "cell_m": [100.0] * len(cells),
         "population": [p for *_, p in cells.values()], "population_day": [p for *_, p in cells.values()]},
        geometry=[P(x, y) for x, y, _ in cells.values()], crs=GK), author=AUTHOR)
    reg.load_reference("roads", gpd.GeoDataFrame(
        {"road_class": ["residential"] * len(ROAD), "walk": [True] * len(ROAD), "drive": [True] * len(ROAD),
         "speed_kmh": [30.0] * len(ROAD), "oneway": [False] * len(ROAD)},
        geometry=[shapely.LineString([P(*a), P(*b)]) for a, b in ROAD], crs=GK), author=AUTHOR)
    if case == "empty_layer":
        return  # no shelters, no hazard points, no ledger records: the layers are there, empty
    names = ["S1"] if case == "one_shelter" else list(SHELTERS)
    for name in names:
        reg.add("shelters", shelter(name=name, adcode="519901001" if name == "S1" else "519901002",
                                    capacity_day=2000, capacity_night=1500,
                                    status="closed" if case == "nobody_covered" else "open"),
                P(*SHELTERS[name]), crs=GK, author=AUTHOR)
    h = reg.add("hazard_points", hazard(adcode="519901001"), P(1500, 2500), crs=GK, author=AUTHOR).uuid
    reg.add("hazard_rectification", {
        "hazard_uuid": h, "source": BUREAU, "problem": "坡体裂缝扩大", "found_at": "2026-04-01", "found_by": "张三",
        "responsible_unit": "东河镇人民政府", "deadline": "2026-06-30", "state": "found", "progress": 0},
        author=AUTHOR)


def args_for(name: str, case: str) -> list[str]:
    if name == "coverage":
        return ["--hazard", "flood", "--new-sites", "2"]
    if name == "response":
        x, y = INCIDENT.get(case, (1000, 2050))
        return ["--point", f"{X0 + x},{Y0 + y}", "--radius-m", "300", "--area-crs", f"EPSG:{GK}",
                "--incident", "flood"]
    if name == "rectification":
        return ["--as-of", "2026-05-01"]
    return []


def text_of(page: str) -> str:
    """The words of an HTML page, without its markup, styles and embedded images."""
    page = re.sub(r"<(style|script)[^>]*>.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


# What each analysis must say, in its English report, for each case (a case not listed: its figures suffice).
SAYS = {
    ("coverage", "everyone_covered"): "nobody is left uncovered",
    ("coverage", "nobody_covered"): "nobody is covered",
    ("coverage", "empty_layer"): "nobody is covered",
    ("coverage", "one_shelter"): "are not covered",  # B's far cell is beyond an hour's walk of S1
    ("coverage", "township_without_people"): "nobody is left uncovered",
    ("capacity", "everyone_covered"): "every area has places",
    ("capacity", "one_shelter"): "1 of 2 areas lack places",
    ("capacity", "nobody_covered"): "no shelter offers places",
    ("capacity", "empty_layer"): "no shelter offers places",
    ("capacity", "township_without_people"): "nobody lives in",
    ("response", "everyone_covered"): "everyone to evacuate",
    ("response", "nobody_covered"): "nobody can be placed",
    ("response", "one_shelter"): "everyone to evacuate",
    ("response", "empty_layer"): "nobody can be placed",
    ("response", "township_without_people"): "nobody lives in the area",
    ("rectification", "empty_layer"): "no rectification records",
    ("rectification", "everyone_covered"): "1 rectification records",
    ("survey", "empty_layer"): "0 / 0",
}


def test_every_analysis_a_plugin_provides_is_covered_here():
    assert set(analyses(default_plugin_manager())) == set(ANALYSES)


@pytest.mark.parametrize("case", CASES)
def test_each_analysis_reports_each_edge_case_without_a_traceback(registry, registry_location, tmp_path, case):
    build(registry, case)
    registry.close()
    runner = CliRunner()
    for name in ANALYSES:
        for lang in ("en", "zh"):
            out, report = tmp_path / f"{name}-{lang}.gpkg", tmp_path / f"{name}-{lang}.html"
            res = runner.invoke(cli, ["analyse", name, str(registry_location), "--out", str(out), "--report",
                                      str(report), "--lang", lang, *args_for(name, case)], env={"COLUMNS": "200"})
            where = f"{name} on {case} ({lang})"
            assert "Traceback" not in res.output, f"{where}:\n{res.output}"
            assert res.exception is None or isinstance(res.exception, SystemExit), \
                f"{where}: {type(res.exception).__name__}: {res.exception}\n{res.output}"
            assert res.exit_code == 0, f"{where}:\n{res.output}"
            assert report.is_file() and out.is_file(), where
            assert pyogrio.list_layers(out).size, where
            page = text_of(report.read_text(encoding="utf-8"))
            assert "Traceback" not in page and "nan" not in page.lower().split(), where
            said = SAYS.get((name, case))
            if said and lang == "en":
                assert said.lower() in page.lower(), f"{where}: the report does not say {said!r}:\n{page[:3000]}"
