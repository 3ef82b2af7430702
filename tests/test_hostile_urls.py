"""Path traversal and other hostile URLs and requests, sent as raw bytes to a real server (gunicorn on
127.0.0.1, nothing normalises them on the way) and to the WSGI app: each is a 4xx with a message, nothing
outside the app's own data is ever served, and nothing changes."""

from __future__ import annotations

import http.client
import json
import socket

import pytest
from hostile_support import api_site, digest
from web_support import Server, copy_registry

SECRETS = ("root:x:0:0", "def create_app", "import ", "[extensions]", "PRIVATE KEY", '"author"')

TRAVERSALS = [
    "/collections/..%2F..%2Fetc/items",
    "/collections/..%2F..%2F..%2Fetc%2Fpasswd",
    "/collections/%2e%2e%2f%2e%2e%2fetc%2fpasswd/items",
    "/collections/../../../../etc/passwd",
    "/collections/shelters/items/..%2F..%2F..%2Fetc%2Fpasswd",
    "/collections/shelters/items/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/collections/shelters/queryables/..%2F..%2F..%2Fcore%2Fweb%2Fapp.py",
    "/static/../../../../etc/passwd",
    "/static/..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/static/%2e%2e/%2e%2e/web/app.py",
    "/static/..%2fapp.py",
    "/static/vendor/..%2f..%2fapp.py",
    "/static/..%5c..%5capp.py",
    "/static/map.js%00.html",
    "/static//etc/passwd",
    "/collections/shelters/tiles/WebMercatorQuad/..%2F..%2F..%2Fetc/0/0",
    "/collections/shelters/tiles/..%2F..%2Fetc%2Fpasswd/0/0/0",
    "/collections/..%2F..%2Fetc/tiles/WebMercatorQuad/0/0/0",
    "/tiles/WebMercatorQuad/0/0/0%2F..%2F..%2Fetc",
    "/tiles/..%2F..%2F..%2Fetc%2Fpasswd",
    "/tiles/WebMercatorQuad/99999999999999999999999/0/0",
    "/tiles/WebMercatorQuad/-1/0/0",
    "/tiles/WebMercatorQuad/1/0/..",
    "/tileMatrixSets/..%2F..%2Fetc%2Fpasswd",
    "/processes/..%2F..%2Fetc%2Fpasswd",
    "/processes/capacity/jobs/..%2F..%2F..%2Fetc/results",
    "/processes/capacity/jobs/{job}/results/..%2Fjob.json",
    "/processes/capacity/jobs/{job}/results/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "/processes/capacity/jobs/{job}/results/job.json",
    "/processes/capacity/jobs/{job}%2F..%2F..%2F/report",
    "/map/style.json/..%2F..%2F..%2Fetc%2Fpasswd",
    "/collections/shelters/items?f=..%2F..%2Fetc%2Fpasswd",
    "/collections/shelters/items?crs=file:///etc/passwd",
    "/collections/shelters/items?filter-crs=file:///etc/passwd&filter=S_INTERSECTS(geom,POINT(1%201))",
    "/collections/shelters/items?bbox-crs=..%2F..%2Fetc%2Fpasswd&bbox=1,2,3,4",
    "/api?f=%00",
    "/collections/shelters/items?limit=1e999",
    "/collections/shelters/items?offset=99999999999999999999999999",
    "/collections/shelters/items/%00",
]


@pytest.fixture(scope="module")
def site(county_sample, tmp_path_factory):
    s = api_site(county_sample, tmp_path_factory.mktemp("urls"))
    r = s["client"].post("/processes/capacity/execution", data=json.dumps({"inputs": {}}),
                         headers={**s["headers"]["reader"], "Content-Type": "application/json"})
    assert r.status_code == 200
    s["job"] = r.get_json()["jobID"]
    return s


def _check(url: str, status: int, content_type: str, body: bytes) -> None:
    assert 400 <= status < 500, (url, status, body[:200])
    text = body.decode("utf-8", "replace")
    assert not any(s in text for s in SECRETS), (url, text[:300])
    if "json" in content_type:
        assert json.loads(text)["description"], url


def test_hostile_urls_are_4xx_with_a_message_through_the_wsgi_app(site):
    before = digest(site["path"])
    for url in TRAVERSALS:
        url = url.replace("{job}", site["job"])
        # Werkzeug redirects "//" to "/" (308): followed, it must end in a refusal too
        r = site["client"].get(url, headers={"Accept-Encoding": "identity"}, follow_redirects=True)
        _check(url, r.status_code, r.content_type, r.data)
        assert r.is_json, (url, r.content_type)
    assert digest(site["path"]) == before


def test_hostile_urls_and_requests_to_a_real_server(site, county_sample, tmp_path):
    path = copy_registry(county_sample, tmp_path / "county.gpkg")
    server = Server(path, workers=2)
    before = digest(path)
    try:
        for url in TRAVERSALS:
            url = url.replace("{job}", "0" * 32)
            for _ in range(2):  # a redirect ("//" to "/") once, to a URL of the same server
                conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
                conn.putrequest("GET", url, skip_accept_encoding=True)  # sent exactly as written
                conn.endheaders()
                r = conn.getresponse()
                body = r.read()
                conn.close()
                if r.status not in (301, 308):
                    break
                url = r.getheader("Location").replace(server.url, "")
                assert url.startswith("/") and ".." not in url, url
            _check(url, r.status, r.getheader("Content-Type") or "", body)
        # a request line longer than gunicorn takes, a body declared at a terabyte, a body above the limit
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
        conn.request("GET", "/collections/shelters/items?filter=" + "a" * 20000)
        r = conn.getresponse()
        assert r.status in (400, 414), r.status
        conn.close()
        with socket.create_connection(("127.0.0.1", server.port), timeout=20) as s:
            s.sendall(b"POST /collections/shelters/items HTTP/1.1\r\nHost: x\r\nContent-Type: application/geo+json\r\n"
                      b"Authorization: Bearer rp_x_y\r\nContent-Length: 1000000000000\r\n\r\n{")
            head = s.recv(4096).decode("latin-1")
        assert head.split()[1] in ("400", "401", "413"), head[:200]
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
        conn.request("POST", "/processes/capacity/execution", body=b"{" + b" " * 2_000_000 + b"}",
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        assert r.status == 413 and "bytes" in json.loads(r.read())["description"]
        conn.close()
    finally:
        server.stop()
    assert digest(path) == before


def test_an_offset_beyond_64_bits_is_a_400_not_an_internal_error(site):
    """Found by the URL corpus: SQLite cannot bind it, and the OverflowError was answered 500."""
    for url in ("/collections/shelters/items?offset=99999999999999999999999999",
                "/collections/shelters/items?offset=9223372036854775808&f=html"):
        r = site["client"].get(url)
        assert r.status_code == 400 and "offset=" in r.get_json()["description"], url
    r = site["client"].get("/collections/shelters/items?offset=9223372036854775807")
    assert r.status_code == 200 and r.get_json()["features"] == []
    r = site["client"].get("/collections/shelters/items?limit=99999999999999999999999999")  # a limit is clamped
    assert r.status_code == 200


@pytest.mark.parametrize("query, status", [
    ("bbox=0,0,0,0&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/3857", 200),  # a point
    ("bbox=0,0,0,0,0,0&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/3857", 200),
    ("bbox=11550000,3580000,11560000,3580000&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/3857", 200),  # a line
    ("bbox=-5e15,1.8e16,3e16,9.5e165&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/3857", 400),
    ("bbox=0,0,2e7,2.1e7&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/3857", 400),
])
def test_degenerate_and_huge_mercator_boxes_are_answered_not_internal_errors(site, query, status):
    """Found by the long API fuzz (bench/hostile.py): GEOS could not segmentize a box of no width, nor one of
    1e165 metres, and both were answered 500."""
    r = site["client"].get(f"/collections/shelters/items?{query}")
    assert r.status_code == status, (query, r.get_json())
    if status == 400:
        assert "EPSG:3857" in r.get_json()["description"]


def test_an_empty_map_language_is_refused_as_the_document_says(site):
    """Found by the long API fuzz: the document offers lang=zh or en, and lang= (empty) was taken as zh."""
    r = site["client"].get("/map?lang=")
    assert r.status_code == 400 and "lang" in r.get_json()["description"]
    assert site["client"].get("/map").status_code == 200
