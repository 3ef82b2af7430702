"""Warnings to an area (“两个直达”): a CAP 1.2 alert written by hand in the shape of China's national early-warning
feed, and the same area as GeoJSON, give the same response sheet and notification list, both equal to an answer
worked out by hand on a small region (people by the share of each 100 m cell inside, by township and village;
who is responsible for what); the CSV for SMS tools, the first report and its 30-minute deadline; personal data
by role; bad CAP files refused with the element and position named; the CLI and the page in the real browser;
the endpoint of a served registry. Registry-touching tests run on GeoPackage and PostGIS."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from conftest import BUREAU, depot, hazard, require, require_program, shelter, stock, team
from pyproj import Transformer
from test_capacity import GK, X0, Y0, area_frame

from rallypoint.analysis import AnalysisError
from rallypoint.api.auth import Principal, sees_personal_data
from rallypoint.cli.main import cli
from rallypoint_plugins.response.alert_page import csv_list, render
from rallypoint_plugins.response.alert_run import run_alert
from rallypoint_plugins.response.cap import CapError, read_cap
from rallypoint_plugins.response.first_report import text

pytestmark = pytest.mark.both_backends

DATA = Path(__file__).parent / "data" / "cap"
CAP = (DATA / "rainstorm_orange_zh.xml").read_text(encoding="utf-8")
AS_OF = "2026-07-15T14:35:00+08:00"  # 15 minutes after the alert was sent
AUTHOR = "test"
# the warned area in metres from the region's corner (EPSG:4544): the fixture's polygon is these corners in WGS 84
AREA = (3500.0, 1500.0, 4500.0, 2500.0)
CELL = 100.0
# population cells: name -> (x, y, people, cell's township code)
CELLS = {"c1": (3800, 2000, 300, "519901001"), "c2": (3500, 1800, 200, "519901001"),
         "c3": (4200, 1700, 150, "519901002"), "c4": (4300, 2300, 80, "519901002"),
         "c5": (4480, 2480, 100, "519901002"), "c6": (1000, 2000, 1000, "519901001"),
         "c7": (6000, 2000, 500, "519901002")}
# villages: code -> (name, box); the north of 乙镇 (519901002) has no village boundary
VILLAGES = {"519901001201": ("东村", (2000, 0, 4000, 4000)), "519901001202": ("西村", (0, 0, 2000, 4000)),
            "519901002201": ("南村", (4000, 0, 8000, 2000))}
TOWNS = {"519901001": "甲镇", "519901002": "乙镇"}
ROAD = [((x, 2000), (x + 500, 2000)) for x in range(0, 8000, 500)]


def P(x, y):
    return shapely.Point(X0 + x, Y0 + y)


def build(reg) -> None:
    """The small region: two townships, three villages, seven cells, a road, shelters, teams, hazard points with
    their monitors, and a rectification ledger."""
    import geopandas as gpd

    areas = area_frame()
    villages = gpd.GeoDataFrame(
        {"adcode": list(VILLAGES), "name": [n for n, _ in VILLAGES.values()], "level": ["village"] * len(VILLAGES),
         "parent_adcode": [c[:9] for c in VILLAGES], "population": [100] * len(VILLAGES)},
        geometry=[shapely.MultiPolygon([shapely.box(X0 + a, Y0 + b, X0 + c, Y0 + d)]) for _, (a, b, c, d) in
                  VILLAGES.values()], crs=GK)
    reg.load_reference("admin_areas", pd.concat([areas, villages], ignore_index=True), author=AUTHOR)
    reg.load_reference("population", gpd.GeoDataFrame(
        {"adcode": [c[3] for c in CELLS.values()], "cell_m": [CELL] * len(CELLS),
         "population": [c[2] for c in CELLS.values()], "population_day": [c[2] for c in CELLS.values()]},
        geometry=[P(x, y) for x, y, *_ in CELLS.values()], crs=GK), author=AUTHOR)
    reg.load_reference("roads", gpd.GeoDataFrame(
        {"road_class": ["residential"] * len(ROAD), "walk": [True] * len(ROAD), "drive": [True] * len(ROAD),
         "speed_kmh": [30.0] * len(ROAD), "oneway": [False] * len(ROAD)},
        geometry=[shapely.LineString([P(*a), P(*b)]) for a, b in ROAD], crs=GK), author=AUTHOR)
    for name, x, y, code, over in (
            ("甲镇东村小学避难点", 3900, 2200, "519901001", {"manager_name": "李明", "manager_phone": "13900000001",
                                                       "status": "open"}),
            ("乙镇中心广场避难场所", 5500, 2000, "519901002", {"manager_name": "赵强", "manager_phone": "13900000002"}),
            ("县体育中心避难场所", 7500, 3500, "519901002", {"manager_name": "钱芳", "manager_phone": "13900000003",
                                                       "hazards": "earthquake"})):
        reg.add("shelters", shelter(name=name, adcode=code, **over), P(x, y), crs=GK, author=AUTHOR)
    for name, x, y, code, over in (
            ("乙镇应急救援队", 6000, 2000, "519901002", {"leader_name": "孙伟", "leader_phone": "13700000001"}),
            ("乙镇南村应急分队", 4100, 2100, "519901002", {"leader_name": "周杰", "leader_phone": "13700000002",
                                                      "status": "deployed", "category": "village_squad"}),
            ("县消防救援大队", 0, 2000, "519901001", {"leader_name": "郑军", "leader_phone": "13700000003",
                                                 "status": "unavailable"})):
        reg.add("teams", team(name=name, adcode=code, **over), P(x, y), crs=GK, author=AUTHOR)
    inside = reg.add("hazard_points", hazard(name="乙镇后山滑坡", adcode="519901002", monitor_name="周杰",
                                             monitor_phone="13700000002"), P(4200, 1900), crs=GK, author=AUTHOR).uuid
    outside = reg.add("hazard_points", hazard(name="西村河堤", adcode="519901001", hazard_type="unstable_slope",
                                              monitor_name="冯丽", monitor_phone="13600000002"), P(1000, 1000), crs=GK,
                      author=AUTHOR).uuid
    base = {"source": BUREAU, "found_at": "2026-04-01", "found_by": "张三", "deadline": "2026-06-30",
            "progress": 0}
    reg.add("hazard_rectification", {**base, "hazard_uuid": inside, "problem": "坡体裂缝", "state": "found",
                                     "responsible_unit": "乙镇人民政府"}, author=AUTHOR)
    reg.add("hazard_rectification", {**base, "hazard_uuid": inside, "problem": "排水沟堵塞", "state": "closed",
                                     "responsible_unit": "乙镇水务站", "measures": "清淤", "progress": 100,
                                     "rectified_at": "2026-04-10", "verified_at": "2026-04-12", "verified_by": "李四",
                                     "closed_at": "2026-04-15", "closed_by": "王五"}, author=AUTHOR)
    reg.add("hazard_rectification", {**base, "hazard_uuid": outside, "problem": "护坡开裂", "state": "found",
                                     "responsible_unit": "甲镇人民政府"}, author=AUTHOR)
    d = reg.add("depots", depot(name="乙镇物资储备点", adcode="519901002"), P(6000, 1900), crs=GK, author=AUTHOR).uuid
    reg.add("depot_stock", stock(d, item="大米", category="food", unit="kg", quantity=2000), author=AUTHOR)


# ---- the answer by hand: axis-aligned squares against the axis-aligned area, villages by their boxes ----------

def by_hand() -> tuple[dict[tuple[str, str], float], float]:
    """People inside per (township, village code or ''), and the total: each cell's square overlap with the area
    worked out with interval arithmetic (no geometry library)."""
    ax0, ay0, ax1, ay1 = AREA
    out: dict[tuple[str, str], float] = {}
    for x, y, people, town in CELLS.values():
        h = CELL / 2
        w = max(0.0, min(x + h, ax1) - max(x - h, ax0))
        d = max(0.0, min(y + h, ay1) - max(y - h, ay0))
        share = w * d / CELL ** 2
        if share <= 0:
            continue
        village = next((c for c, (_, (a, b, cc, dd)) in VILLAGES.items() if a <= x < cc and b <= y < dd), "")
        out[(town, village)] = out.get((town, village), 0.0) + people * share
    return out, sum(out.values())


EXPECTED_PEOPLE = {("519901001", "519901001201"): 300 + 100, ("519901002", "519901002201"): 150,
                   ("519901002", ""): 80 + 49}
EXPECTED_CONTACTS = {  # (role, resource, name, phone)
    ("hazard_monitor", "乙镇后山滑坡", "周杰", "13700000002"),
    ("shelter_inside", "甲镇东村小学避难点", "李明", "13900000001"),
    ("team_inside", "乙镇南村应急分队", "周杰", "13700000002"),
    ("rectification", "乙镇后山滑坡", "乙镇人民政府", None),
    ("shelter_open", "乙镇中心广场避难场所", "赵强", "13900000002"),
    ("team_sent", "乙镇应急救援队", "孙伟", "13700000001"),
}


def geojson_area() -> str:
    """The fixture's polygon as GeoJSON (lon, lat), read from the XML by a regular expression."""
    text = re.search(r"<polygon>([^<]+)</polygon>", CAP).group(1)
    ring = [[float(p.split(",")[1]), float(p.split(",")[0])] for p in text.split()]
    return json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"areaDesc": "示例县甲镇东村、乙镇"},
         "geometry": {"type": "Polygon", "coordinates": [ring]}}]})


def test_the_hand_computation_itself():
    got, total = by_hand()
    assert got == pytest.approx(EXPECTED_PEOPLE) and total == pytest.approx(679)
    # the fixture's polygon is the area's corners in WGS 84 (to 1 cm)
    back = Transformer.from_crs(4326, GK, always_xy=True)
    ring = json.loads(geojson_area())["features"][0]["geometry"]["coordinates"][0]
    corners = [(X0 + AREA[0], Y0 + AREA[1]), (X0 + AREA[2], Y0 + AREA[1]), (X0 + AREA[2], Y0 + AREA[3]),
               (X0 + AREA[0], Y0 + AREA[3]), (X0 + AREA[0], Y0 + AREA[1])]
    for (lon, lat), (x, y) in zip(ring, corners):
        assert back.transform(lon, lat) == pytest.approx((x, y), abs=0.02)


def test_the_fixture_reads_as_a_chinese_feed_publishes_it():
    alert = read_cap(CAP.encode("utf-8"))
    assert (alert.status, alert.msg_type, alert.scope) == ("Actual", "Alert", "Public")
    assert [i.language for i in alert.infos] == ["zh-CN", "en-US"]
    zh = alert.info("zh")
    assert zh.event == "暴雨" and zh.severity == "Severe" and ("预警级别", "橙色") in zh.parameters
    assert zh.areas[0].desc == "示例县甲镇东村、乙镇" and zh.areas[0].geocodes == [("行政区划代码", "519901002")]
    assert zh.areas[0].polygons[0][0] == (104.0350812, 30.6403661)  # stored lon, lat; CAP gives lat first
    assert alert.info("en").headline.startswith("Example County")
    assert alert.expires.isoformat() == "2026-07-16T14:20:00+08:00"


def _contacts(notice) -> set:
    return {(r["role"], r["resource"], r["name"], r["phone"]) for r in notice.contacts.to_dict("records")}


def _people(notice) -> dict:
    return {(r["township_code"], r["village_code"]): r["people"] for r in notice.areas.to_dict("records")}


def test_cap_and_geojson_give_the_same_sheet_and_list_as_worked_out_by_hand(registry):
    build(registry)
    cap = run_alert(registry, CAP.encode("utf-8"), {"as_of": AS_OF}, personal=True)
    gj = run_alert(registry, geojson_area().encode("utf-8"), {"incident": "flood", "area_crs": "EPSG:4326",
                                                               "as_of": AS_OF}, personal=True)
    assert cap.incident == gj.incident == "flood" and cap.warning.level == "orange"
    hand, total = by_hand()
    for o in (cap, gj):
        m = o.summary
        assert m["people"] == pytest.approx(total, abs=0.05) and m["households"] == math.ceil(679 / 2.62) == 260
        assert m["hazard_points"] == 1 and m["shelters_open"] == 1 and m["teams_sent"] == 1
        assert _contacts(o.notice) == EXPECTED_CONTACTS
        assert _people(o.notice) == pytest.approx(hand, abs=0.05)
        areas = o.notice.areas.set_index("village_code")
        assert areas.loc["519901001201", ["township", "village"]].tolist() == ["甲镇", "东村"]
        assert areas.loc["519901002201", "village"] == "南村" and areas.loc["", "township"] == "乙镇"
        # households per row: that row's people ÷ 2.62, rounded up (400 → 153, 150 → 58, 129 → 50)
        assert areas["households"].to_dict() == {"519901001201": 153, "519901002201": 58, "": 50}
    # the same sheet: every headline figure, every layer's features, the same lists
    a, b = cap.summary, gj.summary
    assert a.keys() == b.keys()
    for k in a:
        assert a[k] == pytest.approx(b[k], abs=1e-6, nan_ok=True) if isinstance(a[k], float) else a[k] == b[k], k
    for name in ("response_shelters", "response_teams", "response_hazard_points", "response_people"):
        assert sorted(map(str, cap.result.layers[name].get("uuid", cap.result.layers[name].index))) == \
            sorted(map(str, gj.result.layers[name].get("uuid", gj.result.layers[name].index))), name
    pd.testing.assert_frame_equal(cap.notice.contacts, gj.notice.contacts)
    pd.testing.assert_frame_equal(cap.notice.areas, gj.notice.areas)
    # the geocode beside the polygon is noted as not used
    assert any("geocode 519901002 is not used" in en for en, _ in cap.notes)


def test_personal_data_follows_the_core_rule(registry):
    """The list without personal data keeps every row but no name or phone; the rectification owner, a unit,
    stays. Who may see personal data is the core's rule (anonymous no; reader and editor yes)."""
    build(registry)
    assert not sees_personal_data(None)
    assert sees_personal_data(Principal("li", "reader", "k1")) and sees_personal_data(Principal("w", "editor", "k2"))
    o = run_alert(registry, CAP.encode("utf-8"), {"as_of": AS_OF}, personal=False)
    assert {(r, res, n, p) for r, res, n, p in _contacts(o.notice)} == {
        (r, res, n if r == "rectification" else None, None) for r, res, n, _ in EXPECTED_CONTACTS}
    page = render(o, "zh")
    for phone in ("13700000002", "13900000001", "13900000002", "13700000001", "周杰", "李明", "赵强", "孙伟"):
        assert phone not in page and phone.encode() not in csv_list(o, "contacts")
    assert "姓名和电话为个人信息" in page and o.notice.without_phone() == 0
    # a monitor with no phone recorded cannot be reached by SMS: the list says so
    monitor = run_alert(registry, CAP.encode("utf-8"), {"as_of": AS_OF}, personal=True).notice.contacts.iloc[0]
    assert monitor["role"] == "hazard_monitor"
    registry.update("hazard_points", monitor["uuid"], {"monitor_phone": None}, author=AUTHOR)
    o = run_alert(registry, CAP.encode("utf-8"), {"as_of": AS_OF}, personal=True)
    assert o.notice.without_phone() == 1 and o.notice.contacts.iloc[0]["detail_zh"].endswith("（未登记联系电话）")
    assert "其中 1 人次未登记联系电话，需另行通知。" in render(o, "zh")


def _read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with a byte-order mark, as Excel wants for Chinese
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_the_csv_lists_open_with_their_columns(registry):
    build(registry)
    o = run_alert(registry, CAP.encode("utf-8"), {"as_of": AS_OF}, personal=True)
    rows = _read_csv(csv_list(o, "contacts", "zh"))
    assert rows[0] == ["姓名/单位", "手机号码", "角色", "资源", "乡镇（街道）", "说明", "资源类型", "UUID"]
    by_phone = {r[1]: r for r in rows[1:] if r[1]}
    # one row per person to message: 周杰 monitors the landslide and leads the village squad
    assert sorted(by_phone) == ["13700000001", "13700000002", "13900000001", "13900000002"]
    assert by_phone["13700000002"][0] == "周杰" and "隐患点监测人" in by_phone["13700000002"][2] \
        and "队长（驻地在区域内）" in by_phone["13700000002"][2]
    assert [r[0] for r in rows[1:] if not r[1]] == ["乙镇人民政府"]
    assert len(rows) == 1 + 5
    en = _read_csv(csv_list(o, "contacts", "en"))
    assert en[0][:3] == ["Name / unit", "Phone", "Role"] and len(en) == len(rows)
    people = _read_csv(csv_list(o, "people", "zh"))
    assert people[0] == ["乡镇（街道）代码", "乡镇（街道）", "村（社区）代码", "村（社区）", "人口", "户数"]
    assert people[1:] == [["519901001", "甲镇", "519901001201", "东村", "400", "153"],
                          ["519901002", "乙镇", "", "（未划村）", "129", "50"],
                          ["519901002", "乙镇", "519901002201", "南村", "150", "58"],
                          ["", "合计", "", "", "679", "260"]]
    frame = pd.read_csv(io.BytesIO(csv_list(o, "people", "en")), encoding="utf-8-sig", dtype=str)
    assert list(frame.columns) == ["Township code", "Township", "Village code", "Village", "People", "Households"]


def test_the_first_report_and_its_30_minute_deadline(registry):
    build(registry)
    o = run_alert(registry, CAP.encode("utf-8"), {"as_of": AS_OF}, personal=True)
    zh = text(o, "zh")
    assert zh.startswith("【突发事件信息初报】") and f"报告单位：{BUREAU}" in zh
    assert "报告时间：2026年7月15日 14:35" in zh and "2026年7月15日 14:50前" in zh and "尚余 15 分钟" in zh
    assert "示例县气象台于2026年7月15日 14:20发布“示例县气象台发布暴雨橙色预警信号[Ⅱ级/严重]”" in zh
    assert "区域内约 679 人、260 户" in zh and "甲镇 400 人、乙镇 279 人" in zh
    assert "拟派出救援队伍 1 支（乙镇应急救援队" in zh and "开放避难场所 1 处（乙镇中心广场避难场所）" in zh
    assert "区域内隐患点 1 处" in zh and "责任人 6 人次" in zh
    en = text(o, "en")
    assert "about 679 people in 260 households" in en and "2026-07-15 14:50 (UTC+08:00)" in en
    assert "15 min left" in en
    late = run_alert(registry, CAP.encode("utf-8"), {"as_of": "2026-07-15T15:02:00+08:00"}, personal=True)
    assert "已超时 12 分钟，请立即报送" in text(late, "zh")


def test_a_circle_and_a_division_code_as_the_area(registry):
    build(registry)
    centre = Transformer.from_crs(GK, 4326, always_xy=True).transform(X0 + 4000, Y0 + 2000)
    # 270 m around (4000, 2000): c1's square (3750..3850 × 1950..2050) lies wholly inside (farthest corner 255 m),
    # every other cell's square wholly outside (nearest corner: c3 291 m)
    circle = re.sub(r"<polygon>[^<]+</polygon>", f"<circle>{centre[1]:.7f},{centre[0]:.7f} 0.27</circle>", CAP)
    o = run_alert(registry, circle.encode(), {"as_of": AS_OF}, personal=True)
    assert o.summary["people"] == pytest.approx(300) and o.summary["area_km2"] == pytest.approx(math.pi * 0.27 ** 2,
                                                                                                  rel=2e-3)
    # an area given only by its division code: the township of 乙镇 (x 4000..8000), all its cells whole
    coded = re.sub(r"<polygon>[^<]+</polygon>", "", CAP)
    coded = coded.replace("<polygon>", "").replace(
        "<areaDesc>Dongcun village of Jia town, and Yi town, Example County</areaDesc>",
        "<areaDesc>Yi town</areaDesc><geocode><valueName>adcode</valueName><value>519901002</value></geocode>")
    o = run_alert(registry, coded.encode(), {"as_of": AS_OF}, personal=True)
    assert o.summary["people"] == pytest.approx(150 + 80 + 100 + 500)
    assert o.summary["area_km2"] == pytest.approx(16.0, rel=1e-6)
    with pytest.raises(CapError, match=r"<info> #1, <area> #1 \(示例县甲镇东村、乙镇\): the division code 519901009 is "
                                       r"not an administrative area"):
        run_alert(registry, coded.replace("519901002</value>", "519901009</value>", 1).encode(), {"as_of": AS_OF},
                  personal=True)


def _swap(old: str, new: str, count: int = 1) -> bytes:
    assert old in CAP
    return CAP.replace(old, new, count).encode("utf-8")


POLY = re.search(r"<polygon>([^<]+)</polygon>", CAP).group(1)
PAIRS = POLY.split()

BAD = [
    (b"<alert xmlns='urn:oasis:names:tc:emergency:cap:1.2'><identifier>x</alert>",
     r"not well-formed XML \(line 1, column \d+\)"),
    (b'<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
     b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><note>&b;</note></alert>', "DTD or entity declarations"),
    (_swap("urn:oasis:names:tc:emergency:cap:1.2", "urn:oasis:names:tc:emergency:cap:1.1"),
     "CAP 1.1; only CAP 1.2"),
    (b'<feed xmlns="http://www.w3.org/2005/Atom"/>', r"root element is <feed>, not a CAP <alert>"),
    (_swap("<msgType>Alert</msgType>", "<msgType>Cancel</msgType><references>51990141600000,x,"
                                       "2026-07-15T13:00:00+08:00</references>"),
     "is a Cancel .* of 51990141600000,x,2026-07-15T13:00:00\\+08:00: it withdraws a warning and is not an incident"),
    (_swap("<status>Actual</status>", "<status>Test</status>"), r"<status>Test</status>: it is not an incident"),
    (_swap("<status>Actual</status>", ""), r"<alert> has no <status>"),
    (_swap(POLY, " ".join(PAIRS[:2] + PAIRS[:1])),
     r"<info> #1, <area> #1 <polygon> #1 has 3 pairs; a CAP polygon needs at least 4"),
    (_swap(POLY, " ".join(PAIRS[:4])), r"<info> #1, <area> #1 <polygon> #1 is not closed: its first pair "
                                       r"'30.6403661,104.0350812' differs from its last \(pair #4\)"),
    (_swap(POLY, " ".join(",".join(reversed(p.split(","))) for p in PAIRS)),
     r"<polygon> #1, pair #1 '104.0350812,30.6403661': latitude 104.035 is outside -90..90 \(CAP puts the "
     r"latitude first"),
    (_swap(PAIRS[2], "30.6494619,204.0454230"), r"<polygon> #1, pair #3 '30.6494619,204.0454230': longitude "
                                                r"204.045 is outside -180..180"),
    (_swap(PAIRS[1], "30.64x,104.04"), r"<polygon> #1, pair #2 '30.64x,104.04' is not a 'lat,lon' pair"),
    (_swap(f"<polygon>{POLY}</polygon>", "<circle>30.645,104.040 0</circle>"),
     r"<info> #1, <area> #1 <circle> #1: radius '0' km is not a number above 0"),
    (_swap(POLY, " ".join([PAIRS[0], PAIRS[2], PAIRS[1], PAIRS[3], PAIRS[0]])),
     r"<info> #1, <area> #1 <polygon> #1 is not a valid polygon \(Self-intersection"),
    (re.sub(rb"<area>.*?</area>", b"", CAP.encode(), flags=re.S), "no <info> of the alert has an <area>"),
    (b"shelters,people\n", "neither a CAP 1.2 alert"),
]


@pytest.mark.parametrize("data, message", BAD, ids=[
    "malformed", "entities", "cap-1.1", "atom-feed", "cancel", "test", "no-status", "three-pairs", "not-closed",
    "lon-lat-swapped", "lon-out-of-range", "not-a-number", "zero-radius", "self-crossing", "no-area", "csv"])
def test_bad_warnings_are_refused_naming_the_element_and_position(registry, data, message):
    build(registry)
    before = registry.count("shelters"), len(registry.history())
    with pytest.raises(AnalysisError, match=message):
        run_alert(registry, data, {"as_of": AS_OF}, personal=True)
    assert (registry.count("shelters"), len(registry.history())) == before


def test_expired_alerts_an_exercise_and_an_unknown_event(registry):
    build(registry)
    with pytest.raises(AnalysisError, match=r"the alert EXPIRED at 2026-07-16T14:20:00\+08:00 \(1.0 h ago\).*"
                                            r"give allow_expired"):
        run_alert(registry, CAP.encode(), {"as_of": "2026-07-16T15:20:00+08:00"}, personal=True)
    late = run_alert(registry, CAP.encode(), {"as_of": "2026-07-16T15:20:00+08:00", "allow_expired": "true"},
                     personal=True)
    assert any("EXPIRED" in en for en, _ in late.notes) and "已于" in render(late, "zh")
    drill = run_alert(registry, _swap("<status>Actual</status>", "<status>Exercise</status>"), {"as_of": AS_OF},
                      personal=True)
    assert "（演练）" in text(drill, "zh") and "本预警为演练" in render(drill, "zh")
    windy = CAP.replace("<event>暴雨</event>", "<event>大风</event>").replace("暴雨橙色", "大风橙色").replace(
        "<event>Rainstorm</event>", "<event>Gale</event>").replace("rainstorm", "gale")
    with pytest.raises(AnalysisError, match="the alert's event '大风' is none of the incident types.*give incident"):
        run_alert(registry, windy.encode(), {"as_of": AS_OF}, personal=True)
    assert run_alert(registry, windy.encode(), {"as_of": AS_OF, "incident": "flood"},
                     personal=True).summary["people"] == pytest.approx(679, abs=0.05)
    with pytest.raises(AnalysisError, match="a GeoJSON area says nothing of what happened"):
        run_alert(registry, geojson_area().encode(), {"as_of": AS_OF}, personal=True)


def _non_blank(png: np.ndarray) -> float:
    return float((png[..., :3].astype(int).sum(axis=-1) < 720).mean())


def test_the_cli_writes_everything_and_the_page_reads_in_the_browser(registry_path, tmp_path):
    require("playwright", "shows the page in Debian's chromium")
    chromium = require_program("chromium", "shows the page")
    from rallypoint import Registry

    with Registry.open(registry_path) as reg:
        build(reg)
    src = tmp_path / "alert.xml"
    src.write_text(CAP, encoding="utf-8")
    out = tmp_path / "alert"
    run = CliRunner().invoke(cli, ["alert", str(registry_path), str(src), "--as-of", AS_OF, "--lang", "both",
                                   "--out", str(out)], env={"COLUMNS": "200"})
    assert run.exit_code == 0, run.output
    assert "区域内约 679 人、260 户" in run.output and "Responsible persons: 6" in run.output
    for lang in ("zh", "en"):
        for name in ("alert_{}.html", "sheet_{}.html", "first_report_{}.txt", "contacts_{}.csv", "people_{}.csv"):
            assert (out / name.format(lang)).stat().st_size > 100, name
    assert (out / "sheet.gpkg").exists()
    assert _read_csv((out / "contacts_en.csv").read_bytes())[0][0] == "Name / unit"
    # a bad file: a clear error, no traceback, nothing written
    bad = tmp_path / "bad.xml"
    bad.write_bytes(_swap(POLY, " ".join(PAIRS[:4])))
    run = CliRunner().invoke(cli, ["alert", str(registry_path), str(bad), "--as-of", AS_OF, "--out",
                                   str(tmp_path / "bad")])
    assert run.exit_code == 1 and "Error: <info> #1, <area> #1 <polygon> #1 is not closed" in run.output
    assert "Traceback" not in run.output and not (tmp_path / "bad").exists()

    from PIL import Image
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 900, "height": 1200})
        for lang, title, due in (("zh", "预警区域应急响应", "2026年7月15日 14:50前"),
                                 ("en", "Warning to an area: response", "by 2026-07-15 14:50 (UTC+08:00)")):
            page.goto((out / f"alert_{lang}.html").as_uri())
            assert title in page.locator("h1.title").inner_text()  # the page's (the card has its own h1)
            assert due in page.locator(".deadline").inner_text()
            assert page.locator("table").nth(2).locator("tbody tr").count() == 6  # the responsible persons
            card = page.locator("div.sheet")  # the card, in its own shadow root (Playwright's CSS pierces it)
            assert card.locator("img").evaluate("i => i.complete && i.naturalWidth") > 300  # the card's map drew
            shot = tmp_path / f"alert_{lang}.png"
            page.screenshot(path=str(shot), full_page=True)
            assert _non_blank(np.asarray(Image.open(shot))) > 0.05
        browser.close()


def _post(url: str, path: str, body: bytes, ctype: str, key: str | None = None):
    headers = {"Content-Type": ctype, **({"Authorization": f"Bearer {key}"} if key else {})}
    req = urllib.request.Request(url + path, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_the_endpoint_of_a_served_registry(registry_location, tmp_path):
    from web_support import Server, make_key

    from rallypoint import Registry

    with Registry.open(registry_location) as reg:
        build(reg)
    reader = make_key(registry_location, "li.na", "reader")
    editor = make_key(registry_location, "wang.wei", "editor")
    server = Server(registry_location, workers=1, log_dir=tmp_path)
    try:
        url, q = server.url, f"/plugins/response/alert?as_of={urllib.request.quote(AS_OF)}"
        status, _, body = _post(url, q + "&f=json", CAP.encode(), "application/cap+xml")
        assert status == 401 and b"13700000002" not in body  # anonymous: no run, nothing personal
        for key in (reader, editor):
            status, _, body = _post(url, q + "&f=json", CAP.encode(), "application/cap+xml", key)
            assert status == 200, body[:500]
            doc = json.loads(body)
            assert doc["personal"] is True and doc["incident"] == "flood" and doc["level"] == "orange"
            assert {(c["role"], c["resource"], c["name"], c["phone"]) for c in doc["contacts"]} == EXPECTED_CONTACTS
            assert doc["summary"]["people"] == pytest.approx(679, abs=0.05) and doc["summary"]["households"] == 260
        status, headers, body = _post(url, q + "&f=csv&list=people&lang=en", geojson_area().encode(),
                                      "application/geo+json", reader)
        assert status == 400 and b"give incident" in body
        status, headers, body = _post(url, q + "&f=csv&list=people&lang=en&incident=flood&area_crs=EPSG:4326",
                                      geojson_area().encode(), "application/geo+json", reader)
        assert status == 200 and headers["Content-Type"].startswith("text/csv")
        assert _read_csv(body)[-1] == ["", "Total", "", "", "679", "260"]
        status, headers, body = _post(url, q + "&f=txt", CAP.encode(), "application/xml", reader)
        assert status == 200 and "尚余 15 分钟" in body.decode()
        status, headers, body = _post(url, q, CAP.encode(), "application/xml", editor)
        page = body.decode()
        assert status == 200 and "预警区域应急响应" in page and "13900000002" in page
        status, _, body = _post(url, q, _swap(PAIRS[1], "30.64x,104.04"), "application/xml", reader)
        assert status == 400 and b"pair #2 '30.64x,104.04' is not a 'lat,lon' pair" in body
        assert b"Traceback" not in body and str(tmp_path).encode() not in body
        status, _, body = _post(url, q, b"", "application/xml", reader)
        assert status == 400 and b"send the warning as the request body" in body
    finally:
        server.stop()
