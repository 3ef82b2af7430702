"""Serving a PostGIS registry: ``rallypoint serve postgresql://…`` and the per-thread connections it keeps.

The answers themselves (items, tiles, filters …) are checked on both backends by the test_web_*
modules; these tests are about what only a database has: no file to stat, a server that may go away.
"""

from __future__ import annotations

import json
import math
import urllib.request

import psycopg
import pytest

from rallypoint.api import ApiConfig
from rallypoint.web import create_app
from rallypoint.web.adapter import close_registry, get_registry
from web_support import Server


def backend_pid(reg) -> int:
    return reg._conn.execute("SELECT pg_backend_pid()").fetchone()[0]


def test_create_app_accepts_a_postgresql_url_and_keeps_it_as_given(pg_registry_url):
    app = create_app(pg_registry_url, {"TESTING": True})
    cfg = app.extensions["rallypoint"].config
    assert cfg.registry_path == pg_registry_url
    assert cfg.job_root() == ApiConfig(registry_path=pg_registry_url).job_root()
    assert cfg.job_root() != ApiConfig(registry_path=pg_registry_url + "x").job_root()
    res = app.test_client().get("/?f=json")
    assert res.status_code == 200, res.data
    assert res.get_json()["title"]


def test_a_connection_is_kept_per_thread_and_replaced_when_the_server_ends_it(pg_registry_url):
    app = create_app(pg_registry_url, {"TESTING": True})
    with app.app_context():
        first = get_registry()
        pid = backend_pid(first)
        close_registry()
    with app.app_context():
        again = get_registry()
        assert again is first and backend_pid(again) == pid  # kept for the thread's next request
        close_registry()
    with psycopg.connect(pg_registry_url, autocommit=True) as admin:  # as a server restart would
        assert admin.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,)).fetchone()[0]  # waits for its end
    with app.app_context():
        fresh = get_registry()
        assert fresh is not first and backend_pid(fresh) != pid
        close_registry()


def test_a_connection_left_in_a_transaction_or_after_an_error_is_not_kept(pg_registry_url):
    app = create_app(pg_registry_url, {"TESTING": True})
    with app.app_context():
        reg = get_registry()
        reg._conn.execute("BEGIN")
        close_registry()
    assert reg._conn.closed
    with app.app_context():
        reg = get_registry()
        close_registry(RuntimeError("the request failed"))
    assert reg._conn.closed


def test_rallypoint_serve_serves_a_postgis_registry(pg_registry_url, tmp_path):
    server = Server(pg_registry_url, workers=1, log_dir=tmp_path)
    try:
        with urllib.request.urlopen(server.url + "/?f=json", timeout=10) as res:
            assert json.load(res)["title"]
        assert "Traceback" not in server.read_log()
    finally:
        server.stop()


# -- the same answers from both backends ---------------------------------------------------------

@pytest.fixture(scope="module")
def both(request):
    """The county sample served from a GeoPackage and from an exact PostGIS copy of it (tests/pg_copy.py)."""
    from conftest import county_copy, place_outside

    return {b: create_app(county_copy(request, b, "web_same"), {"TESTING": True}).test_client()
            for b in ("gpkg", "postgis")}


def same(a, b, where="") -> None:
    """Equal JSON values; reals equal to 12 significant digits (SQLite's json_object writes 15 of them)."""
    if isinstance(a, float) or isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-12), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), (where, set(a) ^ set(b))
        for k in a:
            same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{where}[{i}]")
    else:
        assert a == b, (where, a, b)


def both_get(both, url, **kw):
    answers = {b: c.get(url, **kw) for b, c in both.items()}
    assert answers["gpkg"].status_code == answers["postgis"].status_code, url
    return answers["gpkg"], answers["postgis"]


def without_time(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k != "timeStamp"}


LAYERS = ("shelters", "depots", "depot_stock", "teams", "helipads", "hazard_points", "admin_areas", "roads",
          "population")


@pytest.mark.parametrize("layer", LAYERS)
def test_every_page_of_every_layer_is_the_same_geojson_on_both_backends(both, layer):
    for query in ("limit=10000", "limit=7&offset=14", "limit=50&crs=http://www.opengis.net/def/crs/EPSG/0/4490",
                  "limit=3&f=json&offset=0"):
        a, b = both_get(both, f"/collections/{layer}/items?{query}")
        assert a.status_code == 200 and a.headers["Content-Crs"] == b.headers["Content-Crs"]
        same(without_time(a.get_json()), without_time(b.get_json()), f"{layer}?{query}")
    a, b = both_get(both, f"/collections/{layer}/items?limit=2&f=html")
    assert a.get_data(as_text=True) == b.get_data(as_text=True)
    first = both["gpkg"].get(f"/collections/{layer}/items?limit=1").get_json()
    if first["features"]:
        fid = first["features"][0]["id"]
        a, b = both_get(both, f"/collections/{layer}/items/{fid}")
        same(a.get_json(), b.get_json(), f"{layer}/{fid}")
        if layer not in ("admin_areas", "roads", "population"):  # versioned: the same strong ETag
            assert a.headers["ETag"] == b.headers["ETag"]


def test_collections_give_the_same_extents_and_documents(both):
    a, b = both_get(both, "/collections")
    same(a.get_json(), b.get_json())
    for layer in LAYERS:
        a, b = both_get(both, f"/collections/{layer}")
        same(a.get_json(), b.get_json(), layer)
        a, b = both_get(both, f"/collections/{layer}/queryables")
        same(a.get_json(), b.get_json(), layer)


@pytest.mark.parametrize("query", [
    "bbox=103.66,30.57,103.74,30.64", "bbox=30.57,103.66,30.64,103.74&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/4490",
    "bbox=11540000,3575000,11550000,3585000&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/3857",
    "status=active", "datetime=../2026-01-01T00:00:00Z",
    "filter=casei(name) LIKE '%滑坡%' AND threatened_people > 10",
    "filter=S_INTERSECTS(geometry, POLYGON((103.62 30.55, 103.80 30.56, 103.70 30.68, 103.62 30.55)))",
    "filter=NOT S_DISJOINT(geometry, BBOX(103.6, 30.5, 103.7, 30.6)) OR hazard_type IN ('landslide', 'collapse')",
    "filter=threatened_people BETWEEN 10 AND 200 AND threatened_property IS NULL",
])
def test_filtered_pages_match_the_same_features_on_both_backends(both, query):
    ids = {}
    for backend, client in both.items():
        url, seen, matched = f"/collections/hazard_points/items?limit=100&{query}", [], None
        while url:
            r = client.get(url)
            assert r.status_code == 200, (backend, r.get_json())
            doc = r.get_json()
            matched = doc["numberMatched"]
            seen += [f["id"] for f in doc["features"]]
            url = next((lk["href"].split("localhost", 1)[1] for lk in doc["links"] if lk["rel"] == "next"), None)
        assert len(seen) == len(set(seen)) == matched, backend
        ids[backend] = set(seen)
    assert ids["gpkg"] == ids["postgis"]


def test_errors_are_the_same_on_both_backends(both):
    for url in ("/collections/nope/items", "/collections/shelters/items/nope", "/collections/shelters/items?limit=x",
                "/collections/shelters/items?filter=nope = 1", "/collections/shelters/items?bbox=1,2,3",
                "/collections/roads/items/99999999999999999999", "/collections/shelters/items?filter=geometry = 1"):
        a, b = both_get(both, url)
        assert a.status_code in (400, 404) and a.get_json() == b.get_json(), url


def test_high_zoom_tiles_hold_the_same_features_on_both_backends(both):
    import mapbox_vector_tile

    from rallypoint.storage.tiles import FULL_DETAIL_ZOOM

    shelters = both["gpkg"].get("/collections/shelters/items?limit=5").get_json()["features"]
    for f in shelters:
        lon, lat = f["geometry"]["coordinates"]
        z = max(FULL_DETAIL_ZOOM, 14)
        n = 1 << z
        x = int((lon + 180) / 360 * n)
        y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
        a, b = both_get(both, f"/tiles/WebMercatorQuad/{z}/{y}/{x}")
        ta, tb = mapbox_vector_tile.decode(a.data), mapbox_vector_tile.decode(b.data)
        assert ta.keys() == tb.keys() and "shelters" in ta
        for name in ta:
            if name in ("shelters", "hazard_points", "teams", "helipads", "depots", "population"):  # points
                assert sorted((g["id"], sorted(g["properties"].items())) for g in ta[name]["features"]) == \
                    sorted((g["id"], sorted(g["properties"].items())) for g in tb[name]["features"]), name


def test_beyond_the_count_cap_numbermatched_is_left_out_and_next_links_still_reach_every_feature(both, monkeypatch):
    from rallypoint.storage.postgis import reader as pg_read

    monkeypatch.setattr(pg_read, "COUNT_CAP", 50)
    query = "filter=threatened_people > 0&bbox=103.5,30.4,104.0,30.8"
    ids = {}
    for backend, client in both.items():
        url, seen, first = f"/collections/hazard_points/items?limit=40&{query}", [], None
        while url:
            doc = client.get(url).get_json()
            first = first or doc
            seen += [f["id"] for f in doc["features"]]
            url = next((lk["href"].split("localhost", 1)[1] for lk in doc["links"] if lk["rel"] == "next"), None)
        ids[backend] = seen
        assert len(seen) > 50
        assert ("numberMatched" in first) == (backend == "gpkg")  # an exact count or none, never a guess
    assert sorted(ids["gpkg"]) == sorted(ids["postgis"]) and len(set(ids["postgis"])) == len(ids["postgis"])


def test_a_write_shows_in_the_next_page_and_feature_at_once(request):
    """The Features kept per process (geojson_sql's cache, used by both backends) never outlive a write."""
    from conftest import county_copy, place_outside

    from rallypoint import Registry

    url = county_copy(request, "postgis", "web_fresh")
    client = create_app(url, {"TESTING": True}).test_client()
    page = "/collections/hazard_points/items?limit=50&bbox=103.5,30.4,103.73,30.8"  # the county's west
    first = client.get(page).get_json()["features"]
    victim, moved = first[3], first[7]
    etag = client.get(page).headers["ETag"]
    with Registry.open(url) as reg:
        reg.update("hazard_points", victim["id"], {"name": "改名的隐患点"}, author="test")
        code, there = place_outside(reg, (103.5, 30.4, 103.73, 30.8))
        reg.update("hazard_points", moved["id"], {"adcode": code}, geometry=there, author="test")  # out of the box
    r = client.get(page)
    assert r.headers["ETag"] != etag
    now = {f["id"]: f for f in r.get_json()["features"]}
    assert now[victim["id"]]["properties"]["name"] == "改名的隐患点"
    assert now[victim["id"]]["properties"]["version"] == victim["properties"]["version"] + 1
    assert moved["id"] not in now
    one = client.get(f"/collections/hazard_points/items/{moved['id']}").get_json()
    assert one["geometry"]["coordinates"] == pytest.approx([there.x, there.y])
