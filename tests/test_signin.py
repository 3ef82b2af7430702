"""Sign-in for browsers through the app (Flask's test client), on a GeoPackage and on PostGIS (``web_backend``):
wrong and right passwords, the cookie's flags, a report opened, sign-out ending the session server-side, expired
and forged cookies, CSRF on every form and on writes a cookie would authenticate, open redirects, the failed
sign-ins' rate limit, and the personal-data sweep of test_access_control.py with a session instead of a key.
The same in a real browser: tests/test_portal_browser.py.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from conftest import county_copy
from hostile_support import OWNERS, api_site, digest
from test_access_control import _anonymous_urls, _keyed_plugin_urls, _personal
from web_support import auth

from rallypoint import Registry
from rallypoint.api.accounts import add_account, sign_in
from rallypoint.api.sessions import start_session
from rallypoint.web import create_app

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
PASSWORDS = {"reader": "reader's long password", "editor": "editor's long password"}
COOKIE = "rp_session"
REPORT = "/plugins/survey?f=html"  # a report for readers (a Bearer header was the only way in until sign-in)
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def site(request, web_backend, county_sample, tmp_path_factory):
    folder = tmp_path_factory.mktemp("signin")
    s = api_site(county_sample, folder, location=county_copy(request, web_backend, "signin"))
    with Registry.open(s["path"]) as reg:  # the same people as the keys' owners
        for role, password in PASSWORDS.items():
            add_account(reg, OWNERS[role], role, password)
    r = s["client"].post("/processes/capacity/execution", data=json.dumps({"inputs": {}}),
                         headers={**s["headers"]["reader"], "Content-Type": "application/json"})
    assert r.status_code == 200, r.get_json()
    s["job"] = r.get_json()
    s["backend"] = web_backend
    return s


def form_token(client, url: str = "/signin", **kw) -> str:
    page = client.get(url, headers=BROWSER, **kw)
    assert page.status_code == 200, (url, page.status_code)
    return TOKEN.search(page.get_data(as_text=True)).group(1)


def signed_in(site, role: str = "reader", next_path: str = "/"):
    """A new browser (test client) signed in as the account of ``role``; the answer to its sign-in."""
    c = site["app"].test_client()
    r = c.post("/signin", headers=BROWSER, data={"name": OWNERS[role], "password": PASSWORDS[role],
                                                 "csrf_token": form_token(c), "next": next_path})
    assert r.status_code == 303, r.get_data(as_text=True)[:500]
    return c, r


def cookie_header(r, name: str = COOKIE) -> str:
    return next(h for h in r.headers.getlist("Set-Cookie") if h.startswith(name + "="))


def test_a_wrong_password_is_refused_with_the_form_again_and_no_session(site):
    c = site["app"].test_client()
    r = c.post("/signin", headers=BROWSER, data={"name": OWNERS["reader"], "password": "not the password",
                                                 "csrf_token": form_token(c), "next": "/"})
    page = r.get_data(as_text=True)
    assert r.status_code == 401 and r.mimetype == "text/html"
    assert "用户名或密码错误" in page and f'value="{OWNERS["reader"]}"' in page and "not the password" not in page
    assert c.get_cookie(COOKIE) is None
    assert r.headers["X-Frame-Options"] == "DENY"  # no other site frames the password form
    en = c.post("/signin", headers=BROWSER, data={"name": "nobody", "password": "not the password", "lang": "en",
                                                  "csrf_token": form_token(c, "/signin?lang=en"), "next": "/"})
    assert en.status_code == 401 and "Wrong name or password." in en.get_data(as_text=True)


def test_a_right_password_gives_a_session_cookie_and_the_report_opens(site):
    c, r = signed_in(site, "reader", "/plugins/survey?f=html")
    assert r.headers["Location"].endswith("/plugins/survey?f=html")
    cookie = cookie_header(r)
    flags = [f.strip() for f in cookie.split(";")]
    assert "HttpOnly" in flags and "SameSite=Lax" in flags and "Path=/" in flags and "Secure" not in flags
    expires = datetime.strptime(next(f for f in flags if f.startswith("Expires=")), "Expires=%a, %d %b %Y %H:%M:%S GMT")
    hours = (expires.replace(tzinfo=UTC) - datetime.now(UTC)).total_seconds() / 3600
    assert 7.9 < hours <= 8.0
    report = c.get("/plugins/survey?f=html", headers=BROWSER)  # needs a reader: a Bearer header until now
    assert report.status_code == 200 and report.mimetype == "text/html"
    assert "填报率" in report.get_data(as_text=True)
    assert report.headers["Cache-Control"] == "private, no-cache" and "Cookie" in report.headers["Vary"]
    feats = c.get("/collections/shelters/items?limit=3").get_json()["features"]
    assert all(f["properties"].get("manager_phone") for f in feats)  # the reader's personal fields
    portal = c.get("/", headers=BROWSER).get_data(as_text=True)
    assert f"已登录：{OWNERS['reader']}（查看员）" in portal and 'id="sign-out"' in portal


def test_over_https_the_cookies_are_secure(site):
    c = site["app"].test_client()
    https = {"base_url": "https://localhost"}
    token = form_token(c, **https)
    r = c.post("/signin", headers={**BROWSER, "Referer": "https://localhost/signin"}, **https,
               data={"name": OWNERS["reader"], "password": PASSWORDS["reader"], "csrf_token": token})
    assert r.status_code == 303
    assert "Secure" in [f.strip() for f in cookie_header(r).split(";")]
    # Flask-WTF also checks the Referer over https: a post from elsewhere is refused
    c2 = site["app"].test_client()
    token = form_token(c2, **https)
    r = c2.post("/signin", headers={**BROWSER, "Referer": "https://elsewhere.example/"}, **https,
                data={"name": OWNERS["reader"], "password": PASSWORDS["reader"], "csrf_token": token})
    assert r.status_code == 400 and c2.get_cookie(COOKIE) is None


def test_signing_out_ends_the_session_for_every_worker(site):
    c, r = signed_in(site)
    old = c.get_cookie(COOKIE).value
    page = c.get("/", headers=BROWSER).get_data(as_text=True)
    out = c.post("/signout", headers=BROWSER, data={"csrf_token": TOKEN.search(page).group(1)})
    assert out.status_code == 303 and "Max-Age=0" in cookie_header(out)
    assert c.get_cookie(COOKIE) is None
    # the old cookie, sent again by a copy of it (another app: another worker), no longer works
    other = create_app(site["path"], {"TESTING": True, "RALLYPOINT_JOBS_DIR": str(site["app"].extensions[
        "rallypoint"].config.job_root())}).test_client()
    other.set_cookie(COOKIE, old)
    refused = other.get("/plugins/survey?f=html", headers=BROWSER)
    assert refused.status_code == 303 and "/signin?next=" in refused.headers["Location"]
    assert "Max-Age=0" in cookie_header(refused)  # the browser is told to forget it
    assert other.get("/plugins/survey", headers={"Accept": "application/json"}).status_code == 401
    with Registry.open(site["path"]) as reg:  # its row is gone from the registry
        assert reg._store.execute("SELECT count(*) FROM rp_sessions WHERE id = ?",
                                  (hashlib.sha256(old.encode()).hexdigest(),)).fetchone()[0] == 0


@pytest.mark.parametrize("kind", ["expired", "forged", "ended"])
def test_expired_forged_and_ended_cookies_are_refused(site, kind):
    with Registry.open(site["path"]) as reg:
        who = sign_in(reg, OWNERS["reader"], PASSWORDS["reader"])
        if kind == "expired":
            token, _ = start_session(reg, who, hours=1, now=datetime.now(UTC) - timedelta(hours=1, seconds=1))
        elif kind == "forged":
            token = secrets.token_urlsafe(32)
        else:
            token, _ = start_session(reg, who)
            from rallypoint.api.sessions import end_session

            end_session(reg, token)
    c = site["app"].test_client()
    c.set_cookie(COOKIE, token)
    r = c.get("/plugins/survey?f=html", headers=BROWSER)
    assert r.status_code == 303 and r.headers["Location"].startswith("/signin?next=")
    c.set_cookie(COOKIE, token)
    feats = c.get("/collections/shelters/items?limit=3").get_json()["features"]
    assert not any("manager_phone" in f["properties"] for f in feats)
    c.set_cookie(COOKIE, token)
    assert "已登录" not in c.get("/", headers=BROWSER).get_data(as_text=True)


def test_the_forms_need_their_csrf_token(site):
    c = site["app"].test_client()
    r = c.post("/signin", headers=BROWSER, data={"name": OWNERS["reader"], "password": PASSWORDS["reader"]})
    assert r.status_code == 400 and "表单已过期" in r.get_data(as_text=True) and c.get_cookie(COOKIE) is None
    r = c.post("/signin", headers=BROWSER, data={"name": OWNERS["reader"], "password": PASSWORDS["reader"],
                                                 "csrf_token": "forged-token"})
    assert r.status_code == 400 and c.get_cookie(COOKIE) is None
    c, _ = signed_in(site)
    r = c.post("/signout", headers=BROWSER, data={})  # another site's sign-out button
    assert r.status_code == 400 and "您仍处于登录状态" in r.get_data(as_text=True)
    assert c.get("/plugins/survey?f=html", headers=BROWSER).status_code == 200  # still signed in


def test_writes_a_session_would_authenticate_need_the_csrf_token(site):
    c, _ = signed_in(site, "editor")
    with Registry.open(site["path"]) as reg:
        shelter = next(reg.features("shelters"))
    url = f"/collections/shelters/items/{shelter.uuid}"
    before = digest(site["path"])
    patch = json.dumps({"properties": {"occupancy": 11}})
    forged = [
        c.patch(url, data=patch, headers={"Content-Type": "application/geo+json"}),
        # a form of another site posting a JSON-looking body as text/plain (no preflight)
        c.post("/collections/shelters/items", data='{"type":"Feature","x":"', headers={"Content-Type": "text/plain"}),
        c.post("/processes/capacity/execution", data="inputs=", headers={
            "Content-Type": "application/x-www-form-urlencoded"}),
    ]
    for r in forged:
        assert r.status_code == 400 and "CSRF" in r.get_json()["description"], r.get_data(as_text=True)
    assert digest(site["path"]) == before
    token = TOKEN.search(c.get("/", headers=BROWSER).get_data(as_text=True)).group(1)
    r = c.patch(url, data=patch, headers={"Content-Type": "application/geo+json", "X-CSRFToken": token,
                                          "If-Match": f'"{shelter.uuid}-v{shelter.version}"'})
    assert r.status_code == 200, r.get_json()
    with Registry.open(site["path"]) as reg:
        assert reg.history("shelters", shelter.uuid)[-1].author == OWNERS["editor"]  # the account is the author
    # an API key is never sent by a browser on its own: a request with one needs no token, cookie or not
    r = c.patch(url, data=json.dumps({"properties": {"occupancy": 12}}),
                headers={**site["headers"]["editor"], "Content-Type": "application/geo+json",
                         "If-Match": f'"{shelter.uuid}-v{shelter.version + 1}"'})
    assert r.status_code == 200


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:x"])
def test_after_signing_in_a_browser_goes_only_to_this_servers_pages(site, target):
    _, r = signed_in(site, "reader", target)
    assert r.headers["Location"] in ("/", "http://localhost/")


def test_a_page_that_needs_a_sign_in_sends_a_browser_to_the_form_and_back(site):
    c = site["app"].test_client()
    r = c.get("/plugins/survey?f=html&lang=en", headers=BROWSER)
    assert r.status_code == 303 and r.headers["Location"] == "/signin?next=/plugins/survey%3Ff%3Dhtml%26lang%3Den"
    api = c.get("/plugins/survey", headers={"Accept": "application/json"})  # a client gets the API's answer
    assert api.status_code == 401 and "Bearer" in api.headers["WWW-Authenticate"]
    page = c.get(r.headers["Location"], headers=BROWSER).get_data(as_text=True)
    assert 'name="next" value="/plugins/survey?f=html&amp;lang=en"' in page
    c, r = signed_in(site, "reader", "/plugins/survey?f=html&lang=en")
    assert r.headers["Location"].endswith("/plugins/survey?f=html&lang=en")
    assert c.get(r.headers["Location"], headers=BROWSER).status_code == 200


def test_failed_sign_ins_are_rate_limited_per_address(site, tmp_path):
    app = create_app(site["path"], {"TESTING": True, "RALLYPOINT_JOBS_DIR": str(tmp_path / "jobs"),
                                    "RALLYPOINT_RATELIMIT_SIGNIN": "3 per minute"})
    c = app.test_client()
    codes = []
    for password in ["wrong one", "wrong two", "wrong three", "wrong four", PASSWORDS["reader"]]:
        r = c.post("/signin", headers=BROWSER, data={"name": OWNERS["reader"], "password": password,
                                                     "csrf_token": form_token(c)})
        codes.append(r.status_code)
    assert codes == [401, 401, 401, 429, 429]  # the right password too, until the window passes
    assert 0 < int(r.headers["Retry-After"]) <= 60
    assert "登录尝试过多" in r.get_data(as_text=True) and c.get_cookie(COOKIE) is None
    assert c.get("/collections").status_code == 200  # reads go on


# -- the personal-data sweep, with a session instead of a key ----------------------------------------

def _found(text: str, values: set[str]) -> set[str]:
    return set(re.findall(r"\d+", text)) & values


def test_a_session_sees_what_its_key_sees_and_an_ended_one_what_anonymous_users_see(site):
    names, values = _personal(site)
    urls = _anonymous_urls(site)
    keyed = _keyed_plugin_urls(site)
    c, _ = signed_in(site, "reader")
    key = auth(site["keys"]["reader"])
    shown = 0
    for url in urls:
        if "/WebMercatorQuad/" in url and re.search(r"/\d+/\d+/\d+$", url):
            continue  # tiles: their cache differs by principal, their features do not (checked below by bytes)
        by_session = c.get(url, headers={"Accept-Encoding": "identity"})
        by_key = site["client"].get(url, headers={**key, "Accept-Encoding": "identity"})
        assert by_session.status_code == by_key.status_code, url
        found = _found(by_session.get_data(as_text=True), values)
        assert found == _found(by_key.get_data(as_text=True), values), url
        shown += bool(found)
    assert shown > 20
    tile = next(u for u in urls if re.search(r"/collections/shelters/tiles/WebMercatorQuad/1[46]/\d+/\d+$", u))
    assert c.get(tile).data == site["client"].get(tile, headers=key).data
    # signed out: the same cookie sent again sees no personal field anywhere
    old = c.get_cookie(COOKIE).value
    token = TOKEN.search(c.get("/", headers=BROWSER).get_data(as_text=True)).group(1)
    assert c.post("/signout", data={"csrf_token": token}).status_code == 303
    for url in urls:
        c.set_cookie(COOKIE, old)
        r = c.get(url, headers={"Accept-Encoding": "identity"})
        if url in keyed:
            assert r.status_code == 401, url
        else:
            assert r.status_code in (200, 204) or (url.endswith("/x") and r.status_code < 500), (url, r.status_code)
        if "/WebMercatorQuad/" in url and re.search(r"/\d+/\d+/\d+$", url):
            import mapbox_vector_tile

            layers = mapbox_vector_tile.decode(r.data) if r.data else {}
            keys = {k for lay in layers.values() for feat in lay["features"] for k in feat["properties"]}
            assert not keys & names, url
            continue
        text = r.get_data(as_text=True)
        assert not [n for n in names if re.search(rf"(?<![\w]){re.escape(n)}(?![\w])" if n.isascii() else n, text)]
        assert not _found(text, values), url


# -- a real server: several workers, and workers (and the whole server) started anew --------------------

class _Browser:
    """A cookie jar and the requests of a browser, with urllib (redirects not followed)."""

    def __init__(self, url: str):
        import http.cookiejar
        import urllib.request

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        self.url = url
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), NoRedirect)

    def open(self, path: str, data: dict | None = None) -> tuple[int, str]:
        import urllib.error
        import urllib.parse
        import urllib.request

        body = None if data is None else urllib.parse.urlencode(data).encode()
        req = urllib.request.Request(self.url + path, data=body, headers=BROWSER)
        try:
            with self.opener.open(req, timeout=60) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.jar if c.name == name), None)


def test_sessions_hold_across_workers_and_their_restarts(site, tmp_path):
    import os
    import signal
    import time

    from web_support import Server

    jobs = tmp_path / "jobs"
    server = Server(site["path"], workers=2, log_dir=tmp_path, extra_args=("--jobs-dir", str(jobs),
                                                                          "--session-hours", "2"))
    try:
        b = _Browser(server.url)
        status, page = b.open("/signin")
        assert status == 200
        status, _ = b.open("/signin", {"name": OWNERS["reader"], "password": PASSWORDS["reader"],
                                       "csrf_token": TOKEN.search(page).group(1), "next": "/"})
        assert status == 303
        expires = next(c.expires for c in b.jar if c.name == COOKIE)
        assert 1.9 * 3600 < expires - time.time() <= 2 * 3600  # --session-hours
        status, portal = b.open("/")
        token = TOKEN.search(portal).group(1)  # the sign-out form's, made by one worker
        # each worker killed and started anew by gunicorn: nothing of the session was in them
        workers = server.request_workers()
        assert len(workers) == 2
        for w in workers:
            os.kill(w.pid, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while {p.pid for p in server.request_workers()} & {w.pid for w in workers} or len(server.request_workers()) < 2:
            assert time.monotonic() < deadline, "gunicorn did not start new workers"
            time.sleep(0.2)
        assert {b.open(REPORT)[0] for _ in range(6)} == {200}  # new connections: either worker answers
    finally:
        server.stop()
    # the whole server started anew on the same registry and folder: the session and the form's token still hold
    server = Server(site["path"], workers=2, log_dir=tmp_path, extra_args=("--jobs-dir", str(jobs)))
    try:
        b.url = server.url
        assert b.open(REPORT)[0] == 200
        status, _ = b.open("/signout", {"csrf_token": token})
        assert status == 303 and b.cookie(COOKIE) is None
        assert b.open(REPORT)[0] == 303  # signed out, on every worker
    finally:
        server.stop()
