"""Every analysis' report fit for a meeting, on the county sample served by a real server: each report's page opened
in headless Chromium (Debian's) in Chinese and English with a key, on GeoPackage and PostGIS, and its PDF printed by
the server's Chromium, on A4 (landscape where a table is wide).

What the pages must not do (the defects they had): a raw parameter dump (``hazard=flood, minutes=(10.0, …)``), field
names as headers (``off_network``, ``covered_10min``) or states as codes (``found``) in Chinese, people as
``86,087.0``, a rate promised to two decimals shown as ``100.0``, times in UTC, English warnings, notes or units
(``set``, ``piece``) in Chinese, a card that sends field staff to "the GeoPackage", a map without a legend, scale bar
or north arrow, a table running off the page. Screenshots of every page and of every PDF page are kept in
artifacts/reports/.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from conftest import county_copy, require, require_program
from web_support import Server, make_key

from rallypoint import Registry
from rallypoint.cli.main import cli

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "reports"
CHROMIUM = "chromium"
A4 = (595.28, 841.89)  # points
# The response sheet's incident on the county sample: 1.5 km around a point of 西河街道 (EPSG:4490).
SHEET = "point=103.75,30.65&radius_m=1500&incident=flood"
REPORTS = {  # name: (route with the analysis' parameters, title zh, title en)
    "capacity": ("/plugins/capacity/report?", "应急避难场所容量分析", "Shelter capacity analysis"),
    "coverage": ("/plugins/coverage/report?hazard=flood&new_sites=3&", "应急避难疏散覆盖分析", "Evacuation coverage"),
    "survey": ("/plugins/survey/report?", "应急资源调查填报率", "Resource survey completeness"),
    "rectification": ("/plugins/rectification/report?", "隐患排查治理统计", "Hazard rectification ledger"),
    "response": (f"/plugins/response/report?{SHEET}&", "突发事件应急响应卡", "Incident response sheet"),
}
STEPS = ("found", "rectifying", "rectified", "verified", "closed")
# Latin words a Chinese report may hold: names of standards and sources, the zone, the map's labels (S1, T2 …).
LATIN_OK = {"GB", "InaSAFE", "BNPB", "Perka", "Rallypoint", "EPSG", "UTC", "Sphere"}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
FIELD_NAME = re.compile(r"(?<![\w/])[a-z]+(?:_[a-z0-9]+)+\b")  # snake_case, not inside a path


def add_ledger(location) -> None:
    """Twenty rectification records on the sample's hazard points, in every state, some overdue (the sample's
    ledger is empty)."""
    from rallypoint_plugins.rectification.records import add_record, advance

    with Registry.open(location) as reg:
        hz = reg.read_frame("hazard_points", columns=["uuid"]).sort_values("uuid")
        for i, uuid in enumerate(hz["uuid"][:40:2]):
            target = STEPS[i % 5]
            w = add_record(reg, {"hazard_uuid": uuid, "problem": f"坡体裂缝扩大（{i + 1} 号）", "found_at": "2026-01-10",
                                 "found_by": "张三", "responsible_unit": "镇人民政府",
                                 "deadline": "2026-03-31" if i % 3 == 0 else "2099-12-31"}, author="test")
            for k, step in enumerate(STEPS[1:STEPS.index(target) + 1]):
                w = advance(reg, w.feature.uuid, step, author="test", on=f"2026-02-{10 + k:02d}", by="李四",
                            values={"measures": "削坡减载"} if step == "rectifying" else {})


@pytest.fixture(scope="module")
def site(request, web_backend, tmp_path_factory):
    """The county sample with a ledger, served (one worker, four threads) on the module's backend, and a reader's
    key."""
    path = county_copy(request, web_backend, "reports")
    add_ledger(path)
    key = make_key(path, "li.na", "reader")
    # threads: a browser keeps idle (pre)connections open, which would hold a sync worker until its timeout
    server = Server(path, workers=1, threads=4, log_dir=tmp_path_factory.mktemp("reports_log"))
    try:
        yield {"url": server.url, "key": key, "backend": web_backend, "path": path}
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium (Debian's) for the whole module."""
    require("playwright", "PyPI's playwright drives the browser")
    require_program(CHROMIUM, "Debian's chromium")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="chromium-reports-") as profile, sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(profile, executable_path=shutil.which(CHROMIUM),
                                                   args=["--no-sandbox"], viewport={"width": 1000, "height": 1400})
        yield ctx
        ctx.close()


def get(url: str, key: str | None = None, data: bytes | None = None, ctype: str | None = None):
    headers = {**({"Authorization": f"Bearer {key}"} if key else {}), **({"Content-Type": ctype} if ctype else {})}
    req = urllib.request.Request(url, data=data, headers=headers, method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=300) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def latin_words(text: str) -> set[str]:
    """The Latin words of a Chinese page that are not allowed there (UUIDs, file names and map labels aside)."""
    text = UUID.sub(" ", text).replace("m²", " ")  # square metres are written m² in Chinese standards too
    words = set(re.findall(r"[A-Za-z][A-Za-z0-9_./-]*", text))
    return {w for w in words if w not in LATIN_OK and not re.fullmatch(r"[STDHN]\d+", w)
            and "/" not in w and not w.endswith(".json")}


def check_time(text: str, lang: str) -> None:
    """The report says when it was made in local time (Asia/Shanghai), with its offset, within minutes of now."""
    if lang == "zh":
        m = re.search(r"生成于 (\d{4})年(\d{1,2})月(\d{1,2})日 (\d{2}):(\d{2})（北京时间，UTC\+08:00）", text)
        assert m, text[:400]
        made = datetime(*map(int, m.groups()), tzinfo=ZoneInfo("Asia/Shanghai"))
    else:
        m = re.search(r"made (\d{4}-\d{2}-\d{2} \d{2}:\d{2}) \(UTC\+08:00\)", text)
        assert m, text[:400]
        made = datetime.fromisoformat(m.group(1)).replace(tzinfo=ZoneInfo("Asia/Shanghai"))
    assert abs(datetime.now(ZoneInfo("Asia/Shanghai")) - made) < timedelta(minutes=15)


def check_words(name: str, text: str, lang: str) -> None:
    """No parameter dump, no field name, no '.0' on people; in Chinese no English word, unit or state code."""
    assert not re.search(r"\b[a-z_]+=[\w(]", text), f"{name}: a raw parameter dump"
    fields = FIELD_NAME.findall(text)
    assert not fields, f"{name}: field names: {fields[:5]}"
    assert not re.search(r"\b\d{1,3}(?:,\d{3})+\.0\b", text), f"{name}: people with a '.0'"
    assert "GeoPackage" not in text, f"{name}: sends the reader to a GeoPackage"
    if lang == "zh":
        assert latin_words(text) == set(), f"{name}: English in the Chinese report: {sorted(latin_words(text))[:20]}"
        assert not re.search(r"\b(?:sets?|pieces?|km|kg|min|found|rectifying)\b", text)


def check_maps(page, name: str, lang: str) -> int:
    """Every map of the page carries its legend, scale bar and north arrow (read off the drawing's artists, named
    in its alt text) and drew."""
    maps = page.locator("img.map")
    n = maps.count()
    for i in range(n):
        img = maps.nth(i)
        assert set(img.get_attribute("data-furniture").split()) == {"legend", "scale-bar", "north-arrow"}, name
        alt = img.get_attribute("alt")
        assert (("图例" in alt and "比例尺" in alt and "指北针" in alt) if lang == "zh" else
                ("legend" in alt and "scale bar" in alt and "north arrow" in alt)), alt
        assert img.evaluate("i => i.complete && i.naturalWidth") > 300, f"{name}: the map did not draw"
    return n


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_report_opens_in_the_browser(site, browser, lang):
    """Each report's page, opened with a key: its title, the run in words with the local time, headers in the
    report's language, whole people, two-decimal rates, warnings in the report's language, furnished maps."""
    out = ARTIFACTS / site["backend"]
    out.mkdir(parents=True, exist_ok=True)
    page = browser.new_page()
    page.set_extra_http_headers({"Authorization": f"Bearer {site['key']}"})
    try:
        for name, (route, title_zh, title_en) in REPORTS.items():
            answer = page.goto(f"{site['url']}{route}lang={lang}", timeout=300_000)
            assert answer.status == 200, f"{name}: {answer.status} {answer.text()[:300]}"
            assert answer.headers["content-type"].startswith("text/html")
            assert page.locator("html").get_attribute("lang") == ("zh-CN" if lang == "zh" else "en")
            title = title_zh if lang == "zh" else title_en
            assert page.locator("h1").first.inner_text().startswith(title)
            text = page.inner_text("body")
            check_time(text, lang)
            check_words(name, text, lang)
            assert not PHONE.search(text), f"{name}: a phone number in a report with no personal data"
            assert check_maps(page, name, lang) >= 1, f"{name}: no map"
            page.screenshot(path=str(out / f"{name}_{lang}.png"), full_page=True)
            (out / f"{name}_{lang}.html").write_text(page.content(), encoding="utf-8")
            if name == "coverage":
                heads = page.locator("table").nth(1).locator("th").all_inner_texts()
                assert heads[:3] == (["乡镇（街道）", "代码", "人口"] if lang == "zh" else ["Township", "Code", "People"])
                people = page.locator("table").nth(1).locator("tbody tr td:nth-child(3)").all_inner_texts()
                assert people and all(re.fullmatch(r"\d{1,3}(,\d{3})*", p) for p in people), people
                assert "86,087" in people  # 西河街道, once printed as 86,087.0
                sub = page.locator("p.sub").nth(1).inner_text()
                assert ("灾种：洪涝" in sub and "10、30、60 分钟" in sub) if lang == "zh" else \
                    ("Hazard: flood" in sub and "10, 30, 60 minutes" in sub)
            if name == "rectification":
                rates = page.locator("table").first.locator("tbody tr td:last-child").all_inner_texts()
                assert rates and all(re.fullmatch(r"\d+\.\d{2} %", r) for r in rates), rates
                assert rates[-1] == "60.00 %"  # 12 of the 20 records rectified or later
                assert re.search(r"(整改率|rectification rate) 60\.00 %", text)
                overdue = page.locator("table").nth(1).locator("tbody tr td:nth-child(6)").all_inner_texts()
                assert set(overdue) <= ({"待整改", "整改中"} if lang == "zh" else {"Found", "In rectification"})
            if name == "capacity" and lang == "zh":
                assert "床" in text and "顶" in text  # quilts and tents in their own measure words
            if name == "response":
                unit = page.locator("table").nth(3).locator("tbody tr td:nth-child(2)").all_inner_texts()
                assert set(unit) == ({"千克", "升", "套", "个", "顶", "床"} if lang == "zh" else
                                     {"kg", "L", "sets", "pieces"})
                assert ("附表" if lang == "zh" else "Annex") in text  # the lists continue on the next page
    finally:
        page.close()


def check_pdf(data: bytes, title: str, path: Path) -> list[tuple[bool, str]]:
    """Every page A4 (either way) with every character on it; each page rendered to PNG beside ``path``.
    Returns (landscape, text) per page."""
    import pypdfium2

    path.write_bytes(data)
    doc = pypdfium2.PdfDocument(str(path))
    pages = []
    for i in range(len(doc)):
        pg = doc[i]
        w, h = pg.get_size()
        assert sorted((round(w), round(h))) == [round(A4[0]), round(A4[1])], f"{path.name} p{i + 1}: {w}×{h}"
        tp = pg.get_textpage()
        boxes = [tp.get_charbox(j) for j in range(tp.count_chars())]
        assert boxes, f"{path.name} p{i + 1} is empty"
        assert max(b[2] for b in boxes) <= w + 0.5 and min(b[0] for b in boxes) >= -0.5, \
            f"{path.name} p{i + 1}: text runs off the page ({max(b[2] for b in boxes):.0f} > {w:.0f})"
        assert max(b[3] for b in boxes) <= h + 0.5 and min(b[1] for b in boxes) >= -0.5
        pg.render(scale=1.5).to_pil().save(path.with_name(f"{path.stem}_p{i + 1}.png"))
        pages.append((w > h, re.sub(r"\s+", "", tp.get_text_range())))
        tp.close()
        pg.close()
    doc.close()
    assert re.sub(r"\s+", "", title) in pages[0][1]
    return pages


@pytest.mark.gpkg_only
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_report_prints_on_a4(site, lang):
    """Each report as PDF (``f=pdf``, printed by the server's headless Chromium): A4 pages, nothing off the page,
    wide tables on landscape pages, the card on one page with its annex after."""
    require("pypdfium2", "reads the PDFs' pages")
    out = ARTIFACTS / "pdf"
    out.mkdir(parents=True, exist_ok=True)
    for name, (route, title_zh, title_en) in REPORTS.items():
        status, headers, data = get(f"{site['url']}{route}lang={lang}&f=pdf", site["key"])
        assert status == 200, data[:300]
        assert headers["Content-Type"] == "application/pdf" and data[:5] == b"%PDF-"
        assert f'{"sheet" if name == "response" else name}_{lang}.pdf' in headers["Content-Disposition"]
        pages = check_pdf(data, title_zh if lang == "zh" else title_en, out / f"{name}_{lang}.pdf")
        if name == "capacity":  # the 19-column table by area, on a landscape page, its last column there
            wide = [t for landscape, t in pages if landscape]
            assert wide and ("家庭应急包可供天数" if lang == "zh" else "Daysoffamilykits") in wide[0]
            assert all(not landscape for landscape, _ in pages[:1])
        if name == "response":  # the card on page one, the annex (the lists in full) from page two
            assert len(pages) >= 2 and pages[1][1].startswith("附表" if lang == "zh" else "Annex")
            assert ("附表" if lang == "zh" else "Annex") not in pages[0][1].split("见附表")[0].split("seetheannex")[0]
    # the warning to an area prints whole: its page, then the card and the card's annex on pages of their own
    area = {"type": "Polygon", "coordinates": [[[103.735, 30.637], [103.765, 30.637], [103.765, 30.663],
                                                [103.735, 30.663], [103.735, 30.637]]]}
    status, headers, data = get(f"{site['url']}/plugins/response/alert?incident=flood&f=pdf&lang={lang}", site["key"],
                                json.dumps(area).encode(), "application/geo+json")
    assert status == 200, data[:300]
    pages = check_pdf(data, "预警区域应急响应" if lang == "zh" else "Warningtoanarea", out / f"alert_{lang}.pdf")
    card = next(i for i, (_, t) in enumerate(pages) if t.startswith("突发事件应急响应卡" if lang == "zh"
                                                                   else "Incidentresponsesheet"))
    assert card >= 1 and len(pages) > card + 1  # the card on a page of its own, its annex after it
    assert PHONE.search("".join(t for _, t in pages))  # the reader may see the persons' phones


def test_who_may_open_which_report(site):
    """Anonymous callers get no run (401) and never a personal field; the ledger's page is open, as its lists are,
    but its PDF is for key holders; a bad language or format is a 400 naming it."""
    url = site["url"]
    for route in ("/plugins/capacity/report", "/plugins/coverage/report", "/plugins/survey/report",
                  f"/plugins/response/report?{SHEET}", f"/plugins/response/sheet?{SHEET}&f=pdf"):
        status, _, body = get(url + route)
        assert status == 401 and b"Unauthorized" in body, route
    status, headers, body = get(url + "/plugins/rectification/report?lang=zh")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "隐患排查治理统计".encode() in body and not PHONE.search(body.decode())
    status, headers, body = get(url + "/plugins/rectification/report?f=pdf")
    assert status == 401 and "WWW-Authenticate" in headers
    status, headers, body = get(url + "/rectification/townships?f=html&lang=en")  # once a JSON 400
    assert status == 200 and b"Hazard rectification ledger" in body
    for route, word in (("/plugins/rectification/report?lang=fr", "lang"), ("/plugins/capacity/report?f=doc", "'f'"),
                        ("/plugins/rectification/report?colour=red", "colour")):
        status, _, body = get(url + route, site["key"])
        assert status == 400 and word in json.loads(body)["description"], body


def test_report_files_name_their_language_and_times_follow_the_zone(county_sample, tmp_path):
    """A run in Chinese and one in English write two files, never one over the other; ``RALLYPOINT_TZ`` moves the
    report's times to another zone, said with its offset."""
    reg = tmp_path / "county.gpkg"
    shutil.copyfile(county_sample, reg)
    add_ledger(reg)
    runner = CliRunner()
    for lang, env in (("zh", {}), ("en", {"RALLYPOINT_TZ": "Asia/Tokyo"})):
        res = runner.invoke(cli, ["analyse", "rectification", str(reg), "--lang", lang, "--as-of", "2026-05-01"],
                            env={"COLUMNS": "200", **env})
        assert res.exit_code == 0, res.output
    zh = (tmp_path / "county_rectification_zh.html").read_text(encoding="utf-8")
    en = (tmp_path / "county_rectification_en.html").read_text(encoding="utf-8")
    assert "隐患排查治理统计" in zh and "（北京时间，UTC+08:00）" in zh
    assert "Hazard rectification ledger" in en and "(UTC+09:00, Asia/Tokyo)" in en
    res = runner.invoke(cli, ["analyse", "rectification", str(reg)], env={"RALLYPOINT_TZ": "Mars/Olympus"})
    assert res.exit_code != 0 and "RALLYPOINT_TZ 'Mars/Olympus' is not a time zone" in res.output


def test_the_furniture_is_read_off_the_drawing():
    """What a map's ``data-furniture`` says comes from the figure's own artists: a bare map has none, and each piece
    counts only when drawn (so a map that lost its scale bar shows it)."""
    import matplotlib
    from matplotlib.lines import Line2D

    from rallypoint_plugins.reporting import maps

    style = maps.Style("zh")
    with matplotlib.rc_context(style.rc):  # as every map is drawn: its fonts, the CJK one first
        fig = maps.figure(style, 4, 3)
        ax = fig.add_subplot(1, 1, 1)
        ax.set_xlim(0, 12_000)
        ax.set_ylim(0, 9_000)
        assert maps.drawn(fig).furniture == ()
        maps.legend(ax, [Line2D([], [], color="red", label="避难场所")])
        maps.north_arrow(ax, "zh")
        assert maps.furniture(fig) == ("legend", "north-arrow")
        maps.scale_bar(ax, "zh")
        got = maps.drawn(fig)
    assert got.furniture == ("legend", "scale-bar", "north-arrow") and got.png[:4] == b"\x89PNG"
    assert 'data-furniture="legend scale-bar north-arrow"' in got.img("地图", "zh") and "图例、比例尺、指北针" in got.img(
        "地图", "zh")
    assert maps.distance_words(2000, "zh") == "2 千米" and maps.distance_words(500, "en") == "500 m"
