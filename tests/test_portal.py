"""The portal at ``/`` (Flask's test client), on a GeoPackage and on PostGIS (``web_backend``): the landing page
for clients and the portal for people by content negotiation; zh by default, en on request and remembered; the
registry's figures against the registry's own reads; the latest changes in China time; the plugins' panels
through their hook; search by name and division code. In a real browser: tests/test_portal_browser.py.
"""

from __future__ import annotations

import json
import re

import pytest
from conftest import county_copy
from hostile_support import OWNERS, api_site
from shapely.geometry import Point

from rallypoint import Registry
from rallypoint.hookspecs import hookimpl
from rallypoint.plugins import get_plugin_manager
from rallypoint.portal import Figure, Link, Panel
from rallypoint.web import create_app

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
RESOURCES = ("shelters", "depots", "teams", "hazard_points", "helipads")


class BrokenPanel:
    """A plugin whose panel fails: the portal must not notice beyond that panel."""

    @hookimpl
    def rallypoint_portal_panels(self):
        def fail(request):
            raise RuntimeError("the wells database is down")

        def ok(request):
            return [Figure("水井数", "Wells", request["registry"].count("shelters")),
                    Figure("语言", "Language", request["lang"])]

        return [Panel("broken", "坏面板", "Broken panel", fail, order=1),
                Panel("wells", "水源", "Water", ok, order=2, links=(Link("/plugins/wells?lang={lang}", "水源报告",
                                                                           "Water report", role="editor"),))]


@pytest.fixture(scope="module")
def site(request, web_backend, county_sample, tmp_path_factory):
    pm = get_plugin_manager(extra=[("broken", BrokenPanel())])
    s = api_site(county_sample, tmp_path_factory.mktemp("portal"), location=county_copy(request, web_backend, "portal"),
                 RALLYPOINT_PLUGINS=pm)
    s["backend"] = web_backend
    return s


def page(site, url: str = "/", headers: dict | None = None) -> str:
    """The page a new browser gets (no language remembered from another test)."""
    r = site["app"].test_client().get(url, headers={**BROWSER, **(headers or {})})
    assert r.status_code == 200 and r.mimetype == "text/html", (url, r.status_code)
    return r.get_data(as_text=True)


def cells(html: str, attr: str, value: str) -> list[str]:
    row = re.search(rf'<tr {attr}="{re.escape(value)}">(.*?)</tr>', html, re.S).group(1)
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]


def test_clients_get_the_landing_document_and_browsers_the_portal(site):
    c = site["client"]
    for r in (c.get("/"), c.get("/", headers={"Accept": "application/json"}), c.get("/?f=json", headers=BROWSER)):
        assert r.status_code == 200 and r.is_json
        assert {lnk["rel"] for lnk in r.get_json()["links"]} >= {"service-desc", "conformance", "data"}
    for r in (c.get("/", headers=BROWSER), c.get("/?f=html")):
        assert r.mimetype == "text/html" and 'id="portal-map"' in r.get_data(as_text=True)
    assert c.get("/?lang=fr", headers=BROWSER).status_code == 400
    assert c.get("/?colour=red", headers=BROWSER).status_code == 400


def test_the_landing_pages_links_are_each_shown_once(site):
    html = page(site)
    footer = re.search(r'<footer class="card machine" id="machine">(.*?)</footer>', html, re.S).group(1)
    links = re.findall(r'<a href="([^"]+)">([^<]+)</a>', footer)
    assert len({h for h, _ in links}) == len(links) == 6 and len({t for _, t in links}) == len(links)
    assert "Conformance classes" not in html and "符合性声明" in footer
    assert [t for _, t in links].count("数据集") == 1


def test_zh_by_default_en_on_request_and_remembered_by_the_browser(site):
    c = site["app"].test_client()
    zh = c.get("/", headers=BROWSER)
    html = zh.get_data(as_text=True)
    assert '<html lang="zh">' in html and "应急资源门户" in html and "Set-Cookie" not in zh.headers
    assert 'id="lang-switch" href="http://localhost/?lang=en"' in html
    en = c.get("/?lang=en", headers=BROWSER)
    assert "rp_lang=en" in en.headers["Set-Cookie"] and "Max-Age=31536000" in en.headers["Set-Cookie"]
    assert '<html lang="en">' in en.get_data(as_text=True)
    again = c.get("/", headers=BROWSER).get_data(as_text=True)  # the cookie remembers it
    assert '<html lang="en">' in again and "Emergency resources portal" in again and "应急资源门户" not in again
    assert 'src="http://localhost/map?lang=en"' in again  # the embedded map speaks the same language
    assert '<html lang="zh">' in c.get("/?lang=zh", headers=BROWSER).get_data(as_text=True)
    assert '<html lang="zh">' in c.get("/", headers=BROWSER).get_data(as_text=True)


def test_the_figures_are_the_registrys_own(site):
    html = page(site)
    with Registry.open(site["path"]) as reg:
        for name in RESOURCES:
            assert cells(html, "data-layer", name)[1] == f"{reg.count(name):,}", name
        names = {f.properties["adcode"]: f.properties["name"] for f in reg.features("admin_areas")}
        townships = sorted({f.properties["adcode"][:9] for name in RESOURCES for f in reg.features(name)})
        assert len(townships) >= 10
        for code in townships:
            row = cells(html, "data-township", code)
            counts = [reg.count(name, adcode=code) for name in RESOURCES]
            assert row[:2] == [code, names.get(code, "（未登记区划）")]
            assert row[2:] == [f"{n:,}" for n in counts] + [f"{sum(counts):,}"], code


def test_the_latest_changes_in_china_time_with_authors_for_staff_only(site):
    c = site["client"]
    with Registry.open(site["path"]) as reg:
        shelter = next(reg.features("shelters"))
    r = c.patch(f"/collections/shelters/items/{shelter.uuid}", data=json.dumps({"properties": {"occupancy": 5}}),
                headers={**site["headers"]["editor"], "Content-Type": "application/geo+json",
                         "If-Match": f'"{shelter.uuid}-v{shelter.version}"'})
    assert r.status_code == 200
    with Registry.open(site["path"]) as reg:
        change = reg.history("shelters", shelter.uuid)[-1]
    from datetime import datetime
    from zoneinfo import ZoneInfo

    local = datetime.fromisoformat(change.at.replace("Z", "+00:00")).astimezone(ZoneInfo("Asia/Shanghai"))
    anonymous = page(site)
    section = re.search(r'<section class="card" id="changes">(.*?)</section>', anonymous, re.S).group(1)
    first = re.search(r"<tr><td[^>]*>(.*?)</td>\s*<td>(.*?)</td><td class=\"op\">(.*?)</td>", section, re.S)
    assert first.group(1) == local.strftime("%Y-%m-%d %H:%M") and shelter.properties["name"] in first.group(2)
    assert first.group(3) == "修改" and OWNERS["editor"] not in section and "操作人" not in section
    staff = page(site, headers=site["headers"]["reader"])
    assert OWNERS["editor"] in re.search(r'id="changes">(.*?)</section>', staff, re.S).group(1)
    en = page(site, "/?lang=en")
    assert "When (China time)" in en and ">changed<" in en


def test_panels_come_from_the_plugins_hook_and_fill_apart(site):
    c = site["client"]
    html = page(site)
    # the survey's figures name missing personal fields: readers only, as its endpoint
    survey = re.search(r'<article class="panel" data-panel="survey"(.*?)</article>', html, re.S).group(1)
    assert "data-src" not in survey and "登录后可见" in survey and "普查完整性报告" in survey and "需登录" in survey
    assert c.get("/portal/panels/survey").status_code == 401
    got = c.get("/portal/panels/survey", headers=site["headers"]["reader"]).get_json()
    summary = c.get("/plugins/survey", headers=site["headers"]["reader"]).get_json()["summary"]
    assert got["figures"] == [{"label": s["label_zh"], "value": s["value"], "alert": False} for s in summary]
    rect = c.get("/portal/panels/rectification?lang=en").get_json()
    assert [f["label"] for f in rect["figures"]] == ["Records", "Open", "Overdue", "Rectified", "Rectification rate"]
    assert 'data-src="http://localhost/portal/panels/rectification?lang=zh"' in html
    # a plugin outside Rallypoint's: its figures with the request's language, its failure its own
    wells = c.get("/portal/panels/wells?lang=en").get_json()
    with Registry.open(site["path"]) as reg:
        assert wells["figures"][0] == {"label": "Wells", "value": reg.count("shelters"), "alert": False}
    assert wells["figures"][1]["value"] == "en"
    broken = c.get("/portal/panels/broken")
    assert broken.status_code == 503 and broken.get_json()["unavailable"] and "database" not in broken.text
    assert html.index('data-panel="broken"') < html.index('data-panel="wells"') < html.index('data-panel="survey"')
    assert 'href="http://localhost/plugins/wells?lang=zh"' in html
    assert c.get("/portal/panels/nothing").status_code == 404


def test_every_analysis_is_linked(site):
    html = page(site)
    listed = re.search(r'data-panel="processes">(.*?)</article>', html, re.S).group(1)
    processes = site["client"].get("/processes").get_json()["processes"]
    assert len(processes) >= 5
    for p in processes:
        assert f'href="http://localhost/processes/{p["id"]}?f=html"' in listed, p["id"]


def _search(site, q: str, **more) -> dict:
    r = site["client"].get("/search", query_string={"q": q, "f": "json", **more})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_search_finds_resources_by_name_anywhere_in_it(site):
    found = _search(site, "公园", limit=50)["results"]
    with Registry.open(site["path"]) as reg:
        expected = {(name, f.uuid) for name in RESOURCES for f in reg.features(name) if "公园" in f.properties["name"]}
        assert expected and {(r["layer"], r["id"]) for r in found} == expected
        for r in found:
            feat = reg.get(r["layer"], r["id"])
            assert r["name"] == feat.properties["name"] and r["adcode"] == feat.properties["adcode"]
            assert Point(r["lon"], r["lat"]).distance(feat.geometry) < 1e-6  # where the map flies to
            assert r["href"] == f"http://localhost/collections/{r['layer']}/items/{r['id']}?f=html"
            assert set(r) == {"layer", "title_zh", "title_en", "title", "id", "name", "adcode", "lon", "lat", "href"}
    assert _search(site, "GONGYUAN")["results"] == []
    assert _search(site, "%")["results"] == [] and _search(site, "_")["results"] == []  # literals, not wildcards


def test_search_by_division_code_finds_the_townships_resources(site):
    found = _search(site, "519921001", limit=50)["results"]
    with Registry.open(site["path"]) as reg:
        for name in ("shelters", "depots", "teams", "helipads"):
            expected = {f.uuid for f in reg.features(name, adcode="519921001")}
            assert {r["id"] for r in found if r["layer"] == name} == expected, name
        assert sum(r["layer"] == "hazard_points" for r in found) == 50  # 399 there: one page of them
        phone = next(f.properties["manager_phone"] for f in reg.features("shelters"))
    assert _search(site, phone)["results"] == []  # personal fields are not searched


@pytest.mark.parametrize("query, words", [("q=", "give a name"), ("q=" + "名" * 101, "at most 100"),
                                          ("q=a&limit=0", "limit"), ("q=%00", "printable"),
                                          ("q=a%00b", "printable"), ("q=a&limit=x", "limit"), ("q=a&sort=name", "sort"),
                                          ("", "give a name")])
def test_bad_searches_are_400_naming_what_is_wrong(site, query, words):
    r = site["client"].get(f"/search?{query}")
    assert r.status_code == 400 and words in r.get_json()["description"]


def test_search_without_a_script_is_a_page(site):
    html = page(site, "/search?q=%E5%85%AC%E5%9B%AD")
    assert "搜索结果" in html and "公园" in html and "/collections/shelters/items/" in html
    assert "Search results" in page(site, "/search?q=zzz&lang=en") and "No resource matches." in page(
        site, "/search?q=zzz&lang=en")


def test_an_empty_registry_has_a_portal_too(registry_path):
    c = create_app(registry_path, {"TESTING": True}).test_client()
    html = c.get("/", headers=BROWSER).get_data(as_text=True)
    assert "尚无更新记录" in html and cells(html, "data-layer", "shelters")[1] == "0"
    assert c.get("/search?q=公园&f=json").get_json()["results"] == []
