"""The portal and sign-in in real headless Chromium (Debian's, driven by Playwright) against a real server (two
gunicorn workers) on the county sample, on a GeoPackage and on PostGIS (``web_backend``).

Checked as a person would see them: the portal in zh and en (the map drawn in it, the panels filled, the
language remembered), search flying the embedded map to the feature, sign-in refused with a wrong password and
accepted with the right one, a report that needs a reader opened, sign-out (the cookie then opens nothing),
expired and forged cookies refused, and another origin's form posts refused. Screenshots go to artifacts/.
"""

from __future__ import annotations

import secrets
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import county_copy, require, require_program
from web_support import Server

from rallypoint import Registry
from rallypoint.api.accounts import add_account, sign_in
from rallypoint.api.sessions import start_session

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
VIEWPORT = {"width": 1280, "height": 900}
NAME, PASSWORD = "li.na", "reader's long password"
RESOURCES = ("shelters", "depots", "teams", "hazard_points", "helipads")
REPORT = "/plugins/survey?f=html"


@pytest.fixture(scope="module")
def served(request, web_backend, tmp_path_factory):
    path = county_copy(request, web_backend, "portal_browser")
    with Registry.open(path) as reg:
        add_account(reg, NAME, "reader", PASSWORD)
        counts = {name: reg.count(name) for name in RESOURCES}
        target = next(f for f in reg.features("shelters") if "公园" in f.properties["name"])
    folder = tmp_path_factory.mktemp("portal_browser")
    server = Server(path, workers=2, log_dir=folder, extra_args=("--jobs-dir", str(folder / "jobs")))
    try:
        yield {"url": server.url, "path": path, "counts": counts, "target": target, "backend": web_backend,
               "server": server}
    finally:
        server.stop()


@pytest.fixture(scope="module")
def chromium():
    require("playwright", "PyPI's playwright drives the browser")
    require_program(CHROMIUM, "Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)  # Debian's, never a download
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def context(chromium):
    """A new browser profile for each test: no cookie of another test."""
    ctx = chromium.new_context(viewport=VIEWPORT)
    try:
        yield ctx
    finally:
        ctx.close()


class Watched:
    """A page with every request it made and every failure (script errors, answers of 500 and above)."""

    def __init__(self, context):
        self.page = context.new_page()
        self.requests: list[str] = []
        self.failures: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("response", lambda r: r.status >= 500 and self.failures.append(f"{r.url}: {r.status}"))
        self.page.on("pageerror", lambda e: self.failures.append(f"script error: {e}"))

    def portal(self, url: str) -> None:
        self.page.goto(url)
        self.map_idle()
        self.page.wait_for_function("() => [...document.querySelectorAll('article.panel[data-src]')]"
                                    ".every(a => a.dataset.filled === 'true')", timeout=60_000)

    def map_idle(self) -> None:
        """Wait until the map embedded in the portal has drawn its tiles."""
        self.page.wait_for_function("""() => { const w = document.getElementById('portal-map').contentWindow;
            return w && w.rallypointMap && w.rallypointMap.loaded() && w.rallypointMap.areTilesLoaded() &&
                   !w.rallypointMap.isMoving(); }""", timeout=60_000)


def shot(page, name: str, full: bool = False) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=full)
    return path


def figures(page) -> dict[str, str]:
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('#glance tr[data-layer]')]
        .map(tr => [tr.dataset.layer, tr.querySelector('td.num').textContent.trim()]))""")


def panel(page, name: str) -> dict[str, str]:
    return page.evaluate("""(name) => { const a = document.querySelector(`article[data-panel="${name}"]`);
        const dt = [...a.querySelectorAll('dl.figures dt')], dd = [...a.querySelectorAll('dl.figures dd')];
        return Object.fromEntries(dt.map((d, i) => [d.textContent, dd[i].textContent])); }""", name)


def test_the_portal_in_chinese_with_the_map_first(served, context):
    w = Watched(context)
    w.portal(served["url"] + "/")
    p = w.page
    assert p.get_attribute("html", "lang") == "zh"
    assert figures(p) == {name: f"{n:,}" for name, n in served["counts"].items()}
    box = p.locator("#portal-map").bounding_box()
    assert box["y"] < 100 and box["height"] > 400 and box["width"] > 700  # the map first, and large
    # the shelters on the embedded map: drawn one by one, or counted on their township's label when zoomed out
    drawn = p.evaluate("""() => { const m = document.getElementById('portal-map').contentWindow.rallypointMap;
        const counted = m.queryRenderedFeatures({layers: ['divisions:county', 'divisions:township']});
        return m.queryRenderedFeatures({layers: ['shelters']}).length +
               counted.reduce((n, f) => n + f.properties.n_shelters, 0); }""")
    assert drawn > 10
    assert panel(p, "rectification") == {"整改记录": "0", "未整改": "0", "逾期未整改": "0", "已整改": "0", "整改率": "—"}
    assert "登录后可见" in p.inner_text('article[data-panel="survey"]')
    assert "应急避难场所容量分析" in p.inner_text('article[data-panel="processes"]')
    assert "北京时间" in p.inner_text("#changes") and "2026-11-01 08:00" in p.inner_text("#changes")
    shot(p, f"portal-zh-{served['backend']}.png", full=True)
    outside = [u for u in w.requests if not u.startswith((served["url"] + "/", "blob:", "data:"))]
    assert outside == [] and w.failures == [], (outside, w.failures)


def test_english_is_one_click_away_and_remembered(served, context):
    w = Watched(context)
    w.portal(served["url"] + "/")
    with w.page.expect_navigation():
        w.page.click("#lang-switch")
    w.map_idle()
    p = w.page
    assert p.get_attribute("html", "lang") == "en" and "Emergency resources portal" in p.inner_text("header")
    assert "Rectification rate" in panel(p, "rectification")
    assert p.evaluate("document.getElementById('portal-map').contentDocument.documentElement.lang") == "en"
    shot(p, f"portal-en-{served['backend']}.png", full=True)
    w.page.goto(served["url"] + "/")  # a new visit: still English
    assert p.get_attribute("html", "lang") == "en"
    with w.page.expect_navigation():
        w.page.click("#lang-switch")
    assert p.get_attribute("html", "lang") == "zh"
    assert w.failures == []


def test_search_flies_the_embedded_map_to_the_feature(served, context):
    w = Watched(context)
    w.portal(served["url"] + "/")
    target = served["target"]
    w.page.fill("#search-q", target.properties["name"])
    w.page.click("#search-form button")
    w.page.wait_for_function("() => window.portalFlown !== undefined", timeout=30_000)
    w.page.wait_for_timeout(300)
    w.map_idle()
    where = w.page.evaluate("""() => { const m = document.getElementById('portal-map').contentWindow.rallypointMap;
        const c = m.getCenter(); return {lon: c.lng, lat: c.lat, zoom: m.getZoom()}; }""")
    assert w.page.evaluate("window.portalFlown.id") == target.uuid
    assert abs(where["lon"] - target.geometry.x) < 1e-5 and abs(where["lat"] - target.geometry.y) < 1e-5
    assert where["zoom"] >= 16
    results = w.page.inner_text("#search-results")
    assert target.properties["name"] in results and "应急避难场所" in results and "详情" in results
    shot(w.page, f"portal-search-{served['backend']}.png")
    assert w.failures == []


def _session_cookie(context) -> dict:
    return next(c for c in context.cookies() if c["name"] == "rp_session")


def _opens_report(url: str, cookie: str) -> int:
    """The status a request for the report gets with this session cookie (redirects not followed)."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    req = urllib.request.Request(url + REPORT, headers={"Cookie": f"rp_session={cookie}", "Accept": "text/html"})
    try:
        with urllib.request.build_opener(NoRedirect).open(req, timeout=60) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_sign_in_opens_a_report_and_sign_out_ends_the_session(served, context):
    w = Watched(context)
    p = w.page
    p.goto(served["url"] + REPORT)  # a report for readers: the browser is sent to the sign-in form
    assert "/signin?next=" in p.url and p.get_attribute("html", "lang") == "zh"
    p.fill("#name", NAME)
    p.fill("#password", "a wrong password")
    with p.expect_navigation():
        p.click("#signin-form button")
    assert p.inner_text("#message") == "用户名或密码错误。" and "/signin" in p.url
    assert not [c for c in context.cookies() if c["name"] == "rp_session"]
    shot(p, f"signin-refused-{served['backend']}.png")
    p.fill("#password", PASSWORD)
    with p.expect_navigation():
        p.click("#signin-form button")
    assert p.url == served["url"] + REPORT
    assert "填报率" in p.inner_text("body")
    shot(p, f"report-signed-in-{served['backend']}.png")
    cookie = _session_cookie(context)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and not cookie["secure"] and cookie["path"] == "/"
    hours = (datetime.fromtimestamp(cookie["expires"], UTC) - datetime.now(UTC)).total_seconds() / 3600
    assert 7.9 < hours <= 8.0
    assert p.evaluate("document.cookie").find("rp_session") == -1  # HttpOnly: no script reads it
    # both workers know the session (new connections: gunicorn hands them to either)
    assert {_opens_report(served["url"], cookie["value"]) for _ in range(6)} == {200}
    w.portal(served["url"] + "/")
    assert p.inner_text("#user") == f"已登录：{NAME}（查看员）"
    assert "填报率" in panel(p, "survey")  # the reader's panel fills in now
    shot(p, f"portal-signed-in-{served['backend']}.png", full=True)
    with p.expect_navigation():
        p.click("#sign-out")
    assert p.locator("#sign-in").count() == 1 and p.locator("#user").count() == 0
    assert not [c for c in context.cookies() if c["name"] == "rp_session"]
    assert _opens_report(served["url"], cookie["value"]) == 303  # the copied cookie is worth nothing now
    context.add_cookies([cookie])
    p.goto(served["url"] + REPORT)
    assert "/signin?next=" in p.url
    assert w.failures == []


@pytest.mark.parametrize("kind", ["expired", "forged"])
def test_expired_and_forged_cookies_are_refused(served, context, kind):
    if kind == "expired":
        with Registry.open(served["path"]) as reg:
            token, _ = start_session(reg, sign_in(reg, NAME, PASSWORD), hours=1,
                                     now=datetime.now(UTC) - timedelta(hours=2))
    else:
        token = secrets.token_urlsafe(32)
    host = served["url"].split("//")[1].split(":")[0]
    context.add_cookies([{"name": "rp_session", "value": token, "domain": host, "path": "/", "httpOnly": True,
                          "sameSite": "Lax", "expires": (datetime.now(UTC) + timedelta(hours=1)).timestamp()}])
    p = context.new_page()
    p.goto(served["url"] + REPORT)
    assert "/signin?next=" in p.url
    assert not [c for c in context.cookies() if c["name"] == "rp_session"]  # the server had the browser drop it
    assert "填报率" not in p.inner_text("body")


def _attacker_page(context, origin: str, action: str, enctype: str, fields: dict[str, str]) -> object:
    """A page of another origin (answered by the browser itself, no server) that posts a form to ``action``."""
    from html import escape

    inputs = "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in fields.items())
    html = (f'<!doctype html><html><body><form id="f" method="post" action="{action}" enctype="{enctype}">'
            f'{inputs}</form><script>document.getElementById("f").submit()</script></body></html>')
    context.route(f"{origin}/evil.html", lambda route: route.fulfill(status=200, content_type="text/html", body=html))
    return f"{origin}/evil.html"


def test_other_origins_form_posts_are_refused(served, context):
    w = Watched(context)
    p = w.page
    p.goto(served["url"] + "/signin")
    p.fill("#name", NAME)
    p.fill("#password", PASSWORD)
    with p.expect_navigation():
        p.click("#signin-form button")
    port = int(served["url"].rsplit(":", 1)[1])
    # same site, other origin (another port of the host): SameSite lets the cookie go, the CSRF token is missing
    evil = _attacker_page(context, f"http://127.0.0.1:{port + 1 if port < 65535 else port - 1}", served["url"] +
                          "/signout", "application/x-www-form-urlencoded", {"next": "/"})
    p.goto(evil)
    p.wait_for_url("**/signout")
    p.wait_for_load_state()
    assert "/signout" in p.url and "退出请求未通过安全校验" in p.inner_text("body")
    shot(p, f"csrf-refused-{served['backend']}.png")
    cookie = _session_cookie(context)
    assert _opens_report(served["url"], cookie["value"]) == 200  # still signed in: the sign-out was refused
    # a JSON-looking text/plain body to the features API (no preflight): refused, nothing written
    with Registry.open(served["path"]) as reg:
        before = reg.count("shelters")
    body = '{"type": "Feature", "geometry": {"type": "Point", "coordinates": [103.7, 30.6]}, "x": "'
    for origin in (f"http://127.0.0.1:{port + 2 if port < 65534 else port - 2}", "http://attacker.example"):
        evil = _attacker_page(context, origin, served["url"] + "/collections/shelters/items", "text/plain",
                              {body: '"}'})
        answers = []
        p.on("response", lambda r: r.url.endswith("/collections/shelters/items") and answers.append(r.status))
        p.goto(evil)
        p.wait_for_url("**/collections/shelters/items")
        p.wait_for_load_state()
        assert answers and answers[-1] in (400, 401), answers  # CSRF (same site), or no cookie at all (other site)
        text = p.inner_text("body")
        assert "CSRF" in text or "API key" in text, text
    with Registry.open(served["path"]) as reg:
        assert reg.count("shelters") == before
