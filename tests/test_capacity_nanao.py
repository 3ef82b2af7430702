"""The capacity analysis on Nanao's real shelter history (Noto Peninsula earthquake, 2024), imported with the
project's own profiles, against a computation written here from the CSV text alone.

At 18:00 on 9 January 2024 石崎小学校 held 120 people against 100 indoor places (4,660 with the outdoor ones):
people sleeping in a shelter in January count against indoor places, so the analysis must find it over capacity.
A shelter opened ad hoc, with no capacity in the list (寄合い処みそぎ, 40 people that evening), is of unknown
capacity: reported apart, never full, never zero.
"""

from __future__ import annotations

import math
import re
import unicodedata
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import REAL_FIXTURES

from rallypoint.analysis import run_analysis
from rallypoint.exchange.apply import apply_import
from rallypoint.exchange.importer import plan_import
from rallypoint.plugins import default_plugin_manager

pytestmark = pytest.mark.both_backends

NANAO = REAL_FIXTURES / "noto-nanao"
HISTORY = sorted((NANAO / "history").glob("*.csv"))  # the names sort by date and time
NANAO_IDS = uuid.uuid5(uuid.NAMESPACE_URL, "urn:rallypoint:jp:nanao-city:shelter-ID")  # the profiles' identity rule
OPTIONS = {"adcode": "519921"}  # the receiving bureau's division code (Japanese shelters have none)
# Moments to analyse (the snapshot files' names, Japan time): January evenings while 石崎小学校 was over its
# indoor places and the first evening it no longer was, early March (still the cold season), and summer middays
# (daytime head counts outside the cold season, with two ad hoc welfare shelters of unknown capacity).
MOMENTS = ("2024-01-09-1800", "2024-01-15-1800", "2024-01-16-1800", "2024-03-01-0600", "2024-06-02-1200",
           "2024-07-25-1300")
COLD = (11, 12, 1, 2, 3)  # the analysis's default cold-season months
DAY = (8, 18)  # its default day hours, China time
M2_PER_PERSON = 2.0  # GB 51143-2015, short-term fixed shelter: the type the Nanao profiles give


# -- the independent computation: pandas on the CSV text, nothing from the project ---------------------------

def _number(pattern: str, text: str) -> float:
    m = re.search(pattern, text)
    return float(m.group(1).replace(",", "")) if m else math.nan


def snapshot(path: Path) -> pd.DataFrame:
    """One snapshot: id, name, people, indoor and outdoor places and the area they were counted from."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    people = next(c for c in raw.columns if c.startswith("人数"))
    text = raw["想定収容人数"].map(lambda s: unicodedata.normalize("NFKC", s))
    out = pd.DataFrame({
        "id": raw["ID"], "name": raw["名称"],
        "people": pd.to_numeric(raw[people].str.replace(",", ""), errors="coerce"),
        "indoor": text.map(lambda s: _number(r"屋内\s*([\d,]+)\s*人", s)),
        "outdoor": text.map(lambda s: _number(r"屋外\s*([\d,]+)\s*人", s)),
        # 面積の1/N: one person per N m², so the area is N times the places counted
        "per_m2": text.map(lambda s: _number(r"面積の\s*1\s*/\s*(\d+)", s)),
    })
    out["area_m2"] = (out["indoor"] + out["outdoor"]) * out["per_m2"]
    out["uuid"] = out["id"].map(lambda i: str(uuid.uuid5(NANAO_IDS, i)))
    return out


def china_time(name: str) -> datetime:
    """The moment in a file name (Japan time, UTC+9) in China time (UTC+8)."""
    stamp = re.search(r"(\d{4}-\d{2}-\d{2}-\d{4})", name).group(1)
    return datetime.strptime(stamp, "%Y-%m-%d-%H%M") - timedelta(hours=1)


def situation_at(moment: datetime) -> str:
    if moment.month in COLD or not DAY[0] <= moment.hour < DAY[1]:
        return "overnight"
    return "daytime"


def places(frame: pd.DataFrame, situation: str) -> pd.Series:
    """Places of each shelter: the capacity of the situation (indoor overnight, indoor + outdoor by day), no more
    than its area holds at 2 m² a person; NaN where no capacity is given."""
    cap = frame["indoor"] if situation == "overnight" else frame["indoor"] + frame["outdoor"]
    bound = np.floor(frame["area_m2"] / M2_PER_PERSON + 1e-9)
    return pd.Series(np.where(bound.notna(), np.minimum(cap, bound), cap), index=frame.index)


def expected(frame: pd.DataFrame, situation: str) -> tuple[set[str], set[str]]:
    """(over capacity, unknown capacity with people in it) among the shelters of one snapshot."""
    p = places(frame, situation)
    over = frame[p.notna() & (frame["people"] > p)]
    unknown = frame[p.isna() & frame["people"].notna()]
    return set(over["uuid"]), set(unknown["uuid"])


# -- the registry, imported with the project's profiles ------------------------------------------------------

def nanao_region(reg) -> None:
    """One township box around Nanao city and one population cell in it: the analysis reports by area."""
    box = shapely.box(136.5, 36.8, 137.3, 37.3)
    reg.load_reference("admin_areas", gpd.GeoDataFrame(
        {"adcode": ["519921", "519921001"], "name": ["七尾市", "七尾"], "level": ["county", "township"],
         "parent_adcode": ["519900", "519921"], "population": [50000, 50000]},
        geometry=[shapely.MultiPolygon([box])] * 2, crs=4490), author="test")
    reg.load_reference("population", gpd.GeoDataFrame(
        {"adcode": ["519921001"], "cell_m": [100.0], "population": [50000], "population_day": [50000]},
        geometry=[shapely.Point(136.96, 37.04)], crs=4490), author="test")


def analyse(reg, **params):
    return run_analysis(reg, default_plugin_manager(), "capacity", params, lang="en")


def test_shelters_over_capacity_at_several_moments_match_a_computation_from_the_csv(foreign_registry, tmp_path):
    registry = foreign_registry  # Nanao lies outside China: a registry made for foreign data
    nanao_region(registry)
    first = apply_import(registry, plan_import(registry, NANAO / "reference_data.csv", options=OPTIONS),
                         author="nanao", quarantine=tmp_path / "q.gpkg")
    assert first.counts["insert"] == 109
    todo = {m: next(p for p in HISTORY if m in p.name) for m in MOMENTS}
    seen_unknown: set[str] = set()  # ad hoc shelters seen so far with no capacity (standby once they close)
    found = {}
    for path in HISTORY:
        result = apply_import(registry, plan_import(registry, path, options=OPTIONS), author="nanao",
                              quarantine=tmp_path / "q.gpkg")
        assert result.applied and not result.refused, (path.name, [f.reason for f in result.refused])
        frame = snapshot(path)
        seen_unknown |= set(frame.loc[frame["indoor"].isna(), "uuid"])
        moment = next((m for m, p in todo.items() if p == path), None)
        if moment is None:
            continue
        when = china_time(path.name)
        want_situation = situation_at(when)
        res = analyse(registry)
        s = res.layers["capacity_shelters"].set_index("uuid")
        region = res.tables["capacity_region"].iloc[0]
        assert region["situation"] == want_situation, moment
        want_over, want_unknown = expected(frame, want_situation)
        got_over = set(s.index[s["over_capacity"]])
        names = s["name"].to_dict()
        found[moment] = (want_situation, sorted(names[u] for u in got_over), sorted(names[u] for u in want_unknown))
        assert got_over == want_over, (moment, sorted(names.get(u, u) for u in got_over ^ want_over))
        # every shelter of the snapshot: its people and its places, as computed from the text
        known = frame[places(frame, want_situation).notna()]
        got = s.loc[known["uuid"]]
        assert got["occupancy"].astype(float).tolist() == known["people"].tolist(), moment
        assert got["places"].astype(float).tolist() == places(known, want_situation).tolist(), moment
        # unknown capacity: every ad hoc shelter seen so far, with or without people now; never full or zero
        unknown = s[s["capacity_unknown"]]
        assert set(unknown.index) == seen_unknown, moment
        assert want_unknown <= set(unknown.index), moment
        assert (unknown["state"] == "unknown").all() and unknown["places"].isna().all(), moment
        assert unknown["available"].isna().all() and not unknown["over_capacity"].any(), moment
        assert int(region["n_unknown"]) == len(seen_unknown), moment
        assert int(region["occupancy_unknown"]) == int(frame.loc[frame["uuid"].isin(want_unknown), "people"].sum())
        # the same moment counted as a night in the shelters: indoor places, as the people sleeping there need
        if want_situation == "daytime":
            night = analyse(registry, situation="overnight").layers["capacity_shelters"].set_index("uuid")
            assert set(night.index[night["over_capacity"]]) == expected(frame, "overnight")[0], moment
        todo.pop(moment)
    assert not todo

    print("Nanao, shelters over capacity (situation, over, unknown with people):", found)
    situation, over, unknown = found["2024-01-09-1800"]
    assert situation == "overnight" and over == ["石崎小学校"] and unknown == ["寄合い処みそぎ"]


def test_the_evening_of_9_january_2024_in_the_report(foreign_registry, tmp_path):
    registry = foreign_registry  # Nanao lies outside China: a registry made for foreign data
    """The report names the situation and lists 石崎小学校 over capacity and 寄合い処みそぎ as capacity unknown;
    the standby hall whose capacity text gives no area (七尾市文化ホール, 990 seats) is neither full nor zero."""
    nanao_region(registry)
    apply_import(registry, plan_import(registry, NANAO / "reference_data.csv", options=OPTIONS), author="nanao",
                 quarantine=tmp_path / "q.gpkg")
    evening = next(p for p in HISTORY if "2024-01-09-1800" in p.name)
    for path in HISTORY[:HISTORY.index(evening) + 1]:
        apply_import(registry, plan_import(registry, path, options=OPTIONS), author="nanao",
                     quarantine=tmp_path / "q.gpkg")
    res = analyse(registry)
    s = res.layers["capacity_shelters"].set_index("name")
    assert (s.loc["石崎小学校", "capacity"], s.loc["石崎小学校", "occupancy"]) == (100, 120)
    assert s.loc["石崎小学校", "state"] == "full" and s.loc["石崎小学校", "over_capacity"]
    hall = s.loc["七尾市文化ホール"]
    assert pd.isna(hall["effective_area_m2"]) and pd.isna(hall["area_places"])  # the import wrote no 0 m²
    assert hall["places"] == 990 and hall["state"] == "available" and hall["available"] == 990
    page = res.report("en")
    assert "Overnight or cold season (indoor places)" in page and "cold season (month 1)" in page
    over = page[page.index("Shelters over capacity (1)"):]
    assert "石崎小学校" in over[:over.index("</table>")]
    unknown = page[page.index("Shelters of unknown capacity (not counted"):]
    assert "寄合い処みそぎ" in unknown[:unknown.index("</table>")] and "no night (indoor) capacity recorded" in unknown
    zh = res.report("zh")
    assert "过夜/寒冷季节（按室内容量）" in zh and "容量不明" in zh
    # by day the same evening would count the outdoor places too: nobody over capacity
    day = analyse(registry, situation="daytime").layers["capacity_shelters"]
    assert not day["over_capacity"].any()
    summary = {en: v for _, en, v in res.summary}
    assert summary["Capacity counted for"] == "overnight" and summary["Shelters over capacity"] == 1
    assert summary["Shelters of unknown capacity"] == 1 and summary["People in shelters of unknown capacity"] == 40
