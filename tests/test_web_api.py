"""The OGC API – Features read side (Parts 1 and 2), through Flask's test client on a copy of the county sample.

Every test runs on a GeoPackage and on a PostGIS copy of the sample (``web_backend``), but those
marked ``gpkg_only``."""

from __future__ import annotations

import gzip
import re

import pytest
from conftest import county_copy
from web_support import CRS84, EPSG3857, EPSG4490, auth, make_key

from rallypoint import Registry, builtin_layers
from rallypoint.plugins import default_plugin_manager, layer_catalog
from rallypoint.web import create_app

F1 = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/"
LAYERS = list(layer_catalog(default_plugin_manager()))  # the built-in layers, then those plugins define


@pytest.fixture(scope="module")
def site(request, web_backend):
    path = county_copy(request, web_backend, "web_api")
    reader = make_key(path, "li.na", "reader")
    with Registry.open(path) as reg:  # a retired shelter, which must never be served
        victim = next(reg.features("shelters"))
        reg.retire("shelters", victim.uuid, author="test", reason="closed")
    app = create_app(path, {"TESTING": True})
    return {"client": app.test_client(), "path": path, "reader": reader, "retired": victim.uuid}


@pytest.fixture(scope="module")
def client(site):
    return site["client"]


def counts(path) -> dict[str, int]:
    with Registry.open(path) as reg:
        return {name: reg.count(name) for name in reg.layers}


# -- landing page, conformance, OpenAPI -----------------------------------------------------------

def test_landing_page_links_to_the_api_conformance_and_collections(client):
    doc = client.get("/").get_json()
    rels = {link["rel"]: link for link in doc["links"]}
    assert rels["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    assert rels["service-doc"]["type"] == "text/html"
    assert rels["conformance"]["href"].endswith("/conformance")
    assert rels["data"]["href"].endswith("/collections")
    assert rels["self"]["type"] == "application/json" and rels["alternate"]["type"] == "text/html"


def test_conformance_declares_what_works_and_nothing_else(client):
    classes = set(client.get("/conformance").get_json()["conformsTo"])
    assert {F1 + "core", F1 + "oas30", F1 + "html", F1 + "geojson",
            "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
            "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete",
            "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/update",
            "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/features"} == {
        c for c in classes if "tiles" not in c and "features-3" not in c and "cql2" not in c and "processes" not in c}
    # tiles: tests/test_web_tiles.py; Part 3 and CQL2: tests/test_web_filter.py; Processes: tests/test_web_jobs.py


def test_openapi_limit_parameter_gives_qgis_its_page_size(client):
    r = client.get("/api")
    assert r.status_code == 200 and r.mimetype == "application/vnd.oai.openapi+json"
    doc = r.get_json()
    assert doc["openapi"].startswith("3.0")
    limit = doc["components"]["parameters"]["limit"]
    assert limit["in"] == "query" and limit["schema"]["default"] == 100 and limit["schema"]["maximum"] == 10000
    items = doc["paths"]["/collections/shelters/items"]
    refs = [p.get("$ref") for p in items["get"]["parameters"]]
    assert "#/components/parameters/limit" in refs and "#/components/parameters/bbox" in refs
    names = [p.get("name") for p in items["get"]["parameters"]]
    assert "status" in names and "manager_phone" not in names
    assert "post" in items and "post" not in doc["paths"]["/collections/roads/items"]
    assert "put" in doc["paths"]["/collections/shelters/items/{featureId}"]


# -- collections ------------------------------------------------------------------------------------

def test_collections_are_every_layer_with_crs_and_storage_crs(client):
    doc = client.get("/collections").get_json()
    found = {c["id"]: c for c in doc["collections"]}
    assert list(found) == LAYERS
    assert found["shelters"]["storageCrs"] == EPSG4490
    assert found["shelters"]["crs"][0] == CRS84 and EPSG4490 in found["shelters"]["crs"]
    assert EPSG3857 in found["roads"]["crs"]
    assert found["admin_areas"]["readOnly"] and not found["depot_stock"]["readOnly"]
    bbox = found["hazard_points"]["extent"]["spatial"]["bbox"][0]
    assert 103 < bbox[0] < bbox[2] < 105 and 30 < bbox[1] < bbox[3] < 32
    assert "extent" not in found["depot_stock"]  # no geometry
    items = [link for link in found["teams"]["links"] if link["rel"] == "items"]
    assert {link["type"] for link in items} == {"application/geo+json", "text/html"}


def test_one_collection_and_unknown_ones(client):
    doc = client.get("/collections/helipads").get_json()
    assert doc["id"] == "helipads" and doc["title"] == builtin_layers()["helipads"].title_zh
    r = client.get("/collections/bridges")
    assert r.status_code == 404 and r.get_json()["code"] == "NotFound" and "bridges" in r.get_json()["description"]


# -- items: paging, counts, links -------------------------------------------------------------------

def test_items_counts_are_exact_and_retired_features_are_not_served(site, client):
    expected = counts(site["path"])
    for name in LAYERS:
        doc = client.get(f"/collections/{name}/items?limit=5").get_json()
        assert doc["type"] == "FeatureCollection"
        assert doc["numberMatched"] == expected[name], name
        assert doc["numberReturned"] == len(doc["features"]) == min(5, expected[name])
    r = client.get(f"/collections/shelters/items/{site['retired']}")
    assert r.status_code == 404


def test_paging_follows_next_links_to_every_feature_once(site, client):
    seen, url, pages = [], "/collections/teams/items?limit=7", 0
    while url:
        doc = client.get(url).get_json()
        pages += 1
        seen += [f["id"] for f in doc["features"]]
        links = {link["rel"]: link for link in doc["links"]}
        assert links["self"]["type"] == "application/geo+json" and links["alternate"]["type"] == "text/html"
        url = links["next"]["href"].replace("http://localhost", "") if "next" in links else None
        if url:
            assert links["next"]["type"] == "application/geo+json"
    assert len(seen) == len(set(seen)) == counts(site["path"])["teams"] == 41
    assert pages == 6
    last = client.get("/collections/teams/items?limit=7&offset=35").get_json()
    assert "next" not in {link["rel"] for link in last["links"]} and "prev" in {link["rel"] for link in last["links"]}


def test_a_limit_above_the_maximum_is_clamped_not_refused(client):
    doc = client.get("/collections/population/items?limit=50000").get_json()
    assert doc["numberReturned"] == 10000 and doc["numberMatched"] == 30012
    next_link = next(link for link in doc["links"] if link["rel"] == "next")
    assert "limit=10000" in next_link["href"] and "offset=10000" in next_link["href"]


def test_default_limit_is_100(client):
    assert client.get("/collections/hazard_points/items").get_json()["numberReturned"] == 100


def test_an_offset_past_the_end_gives_an_empty_page_with_the_true_count(client):
    doc = client.get("/collections/helipads/items?offset=50").get_json()
    assert doc["numberReturned"] == 0 and doc["numberMatched"] == 3


def test_one_feature_by_uuid_with_a_strong_etag(client):
    first = client.get("/collections/helipads/items?limit=1").get_json()["features"][0]
    r = client.get(f"/collections/helipads/items/{first['id']}")
    assert r.status_code == 200 and r.mimetype == "application/geo+json"
    assert r.headers["ETag"] == f'"{first["id"]}-v{first["properties"]["version"]}"'
    assert r.headers["Content-Crs"] == f"<{CRS84}>"
    assert r.get_json()["properties"]["name"] == first["properties"]["name"]
    assert client.get("/collections/helipads/items/not-a-uuid").status_code == 404
    road = client.get("/collections/roads/items?limit=1").get_json()["features"][0]
    assert client.get(f"/collections/roads/items/{road['id']}").get_json()["id"] == road["id"]


# -- bbox, crs, datetime, filters ---------------------------------------------------------------------

def test_bbox_in_crs84_and_in_cgcs2000_lat_lon_order_give_the_same_features(client):
    a = client.get("/collections/hazard_points/items?bbox=103.70,30.58,103.76,30.64&limit=1000").get_json()
    b = client.get("/collections/hazard_points/items?bbox=30.58,103.70,30.64,103.76&limit=1000"
                   f"&bbox-crs={EPSG4490}").get_json()
    assert 0 < a["numberMatched"] < 1500
    assert a["numberMatched"] == b["numberMatched"] and [f["id"] for f in a["features"]] == [f["id"] for f in b["features"]]
    for f in a["features"]:
        x, y = f["geometry"]["coordinates"]
        assert 103.70 <= x <= 103.76 and 30.58 <= y <= 30.64


def test_bbox_count_agrees_with_the_registry(site, client):
    box = (103.65, 30.55, 103.80, 30.66)
    with Registry.open(site["path"]) as reg:
        expected = reg.count("shelters", bbox=box)
    doc = client.get("/collections/shelters/items?bbox=" + ",".join(map(str, box)) + "&limit=3").get_json()
    assert doc["numberMatched"] == expected and 3 < expected < 59  # one shelter is retired


def test_bbox_in_web_mercator(client):
    doc = client.get("/collections/hazard_points/items?bbox=11543000,3577000,11550000,3584000"
                     f"&bbox-crs={EPSG3857}&limit=1000").get_json()
    assert doc["numberMatched"] > 0
    from pyproj import Transformer

    lon0, lat0 = Transformer.from_crs(3857, 4326, always_xy=True).transform(11543000, 3577000)
    lon1, lat1 = Transformer.from_crs(3857, 4326, always_xy=True).transform(11550000, 3584000)
    for f in doc["features"]:
        x, y = f["geometry"]["coordinates"]
        assert lon0 <= x <= lon1 and lat0 <= y <= lat1


def test_crs_4490_answers_in_lat_lon_order_and_says_so(client):
    plain = client.get("/collections/helipads/items?limit=1").get_json()["features"][0]
    r = client.get(f"/collections/helipads/items?limit=1&crs={EPSG4490}")
    assert r.headers["Content-Crs"] == f"<{EPSG4490}>"
    lat, lon = r.get_json()["features"][0]["geometry"]["coordinates"]
    assert [lon, lat] == plain["geometry"]["coordinates"]
    item = client.get(f"/collections/helipads/items/{plain['id']}?crs=EPSG:4490")
    assert item.headers["Content-Crs"] == f"<{EPSG4490}>"
    assert item.get_json()["geometry"]["coordinates"] == [lat, lon]
    merc = client.get(f"/collections/helipads/items/{plain['id']}?crs={EPSG3857}").get_json()
    assert 1.1e7 < merc["geometry"]["coordinates"][0] < 1.2e7
    roads = client.get(f"/collections/roads/items?limit=1&crs={EPSG4490}").get_json()["features"][0]
    assert 30 < roads["geometry"]["coordinates"][0][0] < 32  # latitude first in lines too


def test_every_items_response_says_its_crs(client):
    for name in LAYERS:
        assert client.get(f"/collections/{name}/items?limit=1").headers["Content-Crs"] == f"<{CRS84}>"


def test_property_filters_use_the_layers_fields_codes_and_labels(site, client):
    with Registry.open(site["path"]) as reg:
        by_status = {}
        for f in reg.features("teams"):
            by_status[f.properties["status"]] = by_status.get(f.properties["status"], 0) + 1
    status, n = max(by_status.items(), key=lambda kv: kv[1])
    doc = client.get(f"/collections/teams/items?status={status}&limit=100").get_json()
    assert doc["numberMatched"] == n and all(f["properties"]["status"] == status for f in doc["features"])
    both = client.get("/collections/teams/items?" + "&".join(f"status={s}" for s in by_status)).get_json()
    assert both["numberMatched"] == 41
    label = builtin_layers()["teams"].field("status").value(status).zh
    assert client.get(f"/collections/teams/items?status={label}").get_json()["numberMatched"] == n
    flood = client.get("/collections/teams/items?specialties=flood&limit=100").get_json()
    assert all("flood" in f["properties"]["specialties"].split(",") for f in flood["features"])
    indoor = client.get("/collections/shelters/items?indoor=true&limit=100").get_json()
    assert indoor["numberMatched"] > 0 and all(f["properties"]["indoor"] is True for f in indoor["features"])


def test_datetime_filters_updated_at(site, client):
    everything = client.get("/collections/shelters/items?datetime=2000-01-01T00:00:00Z/..").get_json()
    assert everything["numberMatched"] == 59
    nothing = client.get("/collections/shelters/items?datetime=../2000-01-01").get_json()
    assert nothing["numberMatched"] == 0
    with Registry.open(site["path"]) as reg:
        retired_day = reg.history("shelters", site["retired"])[-1].at[:10]
        updated = next(reg.features("shelters")).properties["updated_at"]
    instant = client.get(f"/collections/shelters/items?datetime={updated}&limit=100").get_json()
    assert instant["numberMatched"] >= 1
    assert all(f["properties"]["updated_at"] == updated for f in instant["features"])
    assert client.get(f"/collections/shelters/items?datetime={retired_day}").status_code == 200


@pytest.mark.parametrize("query, words", [
    ("colour=red", "unknown query parameter"),
    ("bbox=1,2,3", "bbox"),
    ("bbox=a,b,c,d", "bbox"),
    ("bbox=103,31,104,30", "south"),
    ("bbox=103,30,104,31,5", "bbox"),
    ("bbox-crs=EPSG:4490", "bbox-crs is given without bbox"),
    ("bbox=103,30,104,31&bbox-crs=EPSG:2000", "bbox-crs"),
    ("crs=EPSG:9999", "crs"),
    ("crs=http://www.opengis.net/def/crs/EPSG/0/4544", "not offered"),
    ("limit=0", "limit"),
    ("limit=ten", "limit"),
    ("offset=-1", "offset"),
    ("limit=5&limit=6", "once"),
    ("status=flying", "status"),
    ("capacity_day=lots", "capacity_day"),
    ("indoor=perhaps", "indoor"),
    ("status=", "empty"),
    ("datetime=yesterday", "datetime"),
    ("datetime=2026-05-01T08:00:00", "time zone"),
    ("datetime=../..", "interval"),
    ("datetime=2026-05-02/2026-05-01", "ends before"),
    ("manager_phone=13800001234", "unknown query parameter"),  # personal data: not for anonymous users
    ("retired_at=2026-01-01T00:00:00Z", "unknown query parameter"),
    ("f=xml", "format"),
])
def test_bad_queries_are_400_saying_what_was_wrong(client, query, words):
    r = client.get(f"/collections/shelters/items?{query}")
    assert r.status_code == 400, query
    body = r.get_json()
    assert body["code"] == "InvalidParameterValue" and words in body["description"], body


def test_bad_queries_elsewhere_are_400_too(client):
    for url in ("/?x=1", "/conformance?page=2", "/collections?limit=3", "/collections/shelters?crs=EPSG:4490",
                "/collections/shelters/items/abc?limit=1", "/api?f=yaml"):
        r = client.get(url)
        assert r.status_code == 400 and r.is_json, url
    # checked on collections without geometry or time property too
    assert client.get("/collections/depot_stock/items?bbox=103,30,104").status_code == 400
    assert client.get("/collections/roads/items?datetime=2026-13-01").status_code == 400


def test_bbox_and_datetime_match_every_feature_without_geometry_or_time(client):
    """/req/core/fc-bbox-response: "The bbox parameter SHALL match all features in the collection that are not
    associated with a spatial geometry, too."; /req/core/fc-time-response says the same of datetime."""
    for cid, query in (("depot_stock", "bbox=5,48,20,70"), ("depot_stock", "bbox=0,0,1,1&bbox-crs=" + EPSG3857),
                       ("roads", "datetime=2026-01-01"), ("admin_areas", "datetime=../2000-01-01T00:00:00Z")):
        whole = client.get(f"/collections/{cid}/items?limit=50").get_json()
        some = client.get(f"/collections/{cid}/items?limit=50&{query}").get_json()
        assert some["numberMatched"] == whole["numberMatched"] > 0, (cid, query)
        assert [f["id"] for f in some["features"]] == [f["id"] for f in whole["features"]], (cid, query)
    api = client.get("/api").get_json()
    for cid in ("depot_stock", "roads", "admin_areas", "shelters"):
        params = api["paths"][f"/collections/{cid}/items"]["get"]["parameters"]
        names = {p.get("$ref", "").rsplit("/", 1)[-1] for p in params}
        assert {"bbox", "bbox-crs", "datetime"} <= names, cid


def test_unknown_paths_and_methods_answer_json(client):
    r = client.get("/nowhere")
    assert r.status_code == 404 and r.get_json()["code"] == "NotFound"
    r = client.delete("/collections")
    assert r.status_code == 405 and r.is_json and "GET" in r.headers["Allow"]


# -- personal data ----------------------------------------------------------------------------------

def _personal_values(path) -> dict[str, set[str]]:
    out = {}
    with Registry.open(path) as reg:
        for name, layer in reg.layers.items():
            values = set()
            for f in reg.features(name):
                values |= {str(f.properties[p]) for p in layer.personal_fields if f.properties.get(p)}
            out[name] = values
    return out


def test_anonymous_users_never_receive_personal_data_in_any_format(site, client):
    values = _personal_values(site["path"])
    assert sum(len(v) for v in values.values()) > 100
    for name, layer in builtin_layers().items():
        personal = layer.personal_fields
        aliases = [layer.field(p).alias_zh for p in personal]
        for fmt in ("json", "html"):
            for url in (f"/collections/{name}/items?limit=10000&f={fmt}", f"/collections/{name}?f={fmt}",
                        f"/collections?f={fmt}", f"/api?f={fmt}"):
                text = client.get(url).get_data(as_text=True)
                assert not any(re.search(rf'"{p}"', text) for p in personal), url
                assert not any(a in text for a in aliases), url
                phones = [v for v in values[name] if v.isdigit()]
                assert not any(v in text for v in phones), url
        doc = client.get(f"/collections/{name}/items?limit=1").get_json()
        if doc["features"]:
            fid = doc["features"][0]["id"]
            for fmt in ("json", "html"):
                text = client.get(f"/collections/{name}/items/{fid}?f={fmt}").get_data(as_text=True)
                assert not any(f'"{p}"' in text or layer.field(p).alias_zh in text for p in personal), (name, fmt)


def test_a_reader_key_sees_personal_data(site, client):
    doc = client.get("/collections/shelters/items?limit=5", headers=auth(site["reader"])).get_json()
    assert all("manager_phone" in f["properties"] for f in doc["features"])
    phone = doc["features"][0]["properties"]["manager_phone"]
    found = client.get(f"/collections/shelters/items?manager_phone={phone}", headers={"X-API-Key": site["reader"]})
    assert found.status_code == 200 and found.get_json()["numberMatched"] >= 1
    html = client.get("/collections/shelters/items?limit=5&f=html", headers=auth(site["reader"])).get_data(as_text=True)
    assert "责任人电话" in html and phone in html


def test_a_wrong_or_malformed_key_is_401_even_for_reading(client):
    for headers in ({"Authorization": "Bearer rp_00000000_nope"}, {"X-API-Key": "hello"},
                    {"Authorization": "Basic dXNlcjpwYXNz"}):
        r = client.get("/collections", headers=headers)
        assert r.status_code == 401 and r.is_json and "Bearer" in r.headers["WWW-Authenticate"]


# -- HTML -------------------------------------------------------------------------------------------

def test_browsers_get_html_pages_with_chinese_and_english_labels(client):
    browser = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    for url in ("/", "/conformance", "/api", "/collections", "/collections/shelters", "/collections/shelters/items"):
        r = client.get(url, headers=browser)
        assert r.status_code == 200 and r.mimetype == "text/html", url
        scripts = re.findall(r"<script[^>]*>", r.get_data(as_text=True))
        if url == "/":  # the portal (tests/test_portal.py): its configuration and its own script, nothing else
            assert scripts == ['<script type="application/json" id="portal-config">',
                               '<script src="http://localhost/static/portal.js">'], scripts
        else:
            assert scripts == [], url
    page = client.get("/collections/shelters/items?limit=5", headers=browser).get_data(as_text=True)
    status = builtin_layers()["shelters"].field("status")
    assert "应急避难场所" in page and "Emergency shelters" in page
    assert status.alias_zh in page and status.alias_en in page
    assert "下一页" in page
    first = client.get("/collections/shelters/items?limit=1").get_json()["features"][0]
    item = client.get(f"/collections/shelters/items/{first['id']}?f=html").get_data(as_text=True)
    assert first["properties"]["name"] in item and "名称" in item
    assert client.get("/collections/shelters/items?limit=1", headers={"Accept": "application/geo+json"}).is_json


# -- caching, compression, CORS, HEAD ----------------------------------------------------------------

def test_if_none_match_gives_304_for_items_collections_and_one_feature(client):
    for url in ("/collections", "/collections/teams", "/collections/teams/items?limit=3"):
        r = client.get(url)
        assert r.headers["ETag"].startswith('W/"'), url
        again = client.get(url, headers={"If-None-Match": r.headers["ETag"]})
        assert again.status_code == 304 and not again.data, url
    first = client.get("/collections/teams/items?limit=1").get_json()["features"][0]
    r = client.get(f"/collections/teams/items/{first['id']}")
    assert client.get(f"/collections/teams/items/{first['id']}",
                      headers={"If-None-Match": r.headers["ETag"]}).status_code == 304
    assert client.get(f"/collections/teams/items/{first['id']}",
                      headers={"If-None-Match": '"something-else"'}).status_code == 200


def test_gzip_cors_and_head(client):
    r = client.get("/collections/hazard_points/items?limit=200", headers={"Accept-Encoding": "gzip"})
    assert r.headers["Content-Encoding"] == "gzip"
    assert b'"FeatureCollection"' in gzip.decompress(r.data)
    r = client.get("/collections", headers={"Origin": "https://example.org"})
    assert r.headers["Access-Control-Allow-Origin"] in ("*", "https://example.org")
    assert "ETag" in r.headers["Access-Control-Expose-Headers"]
    head = client.head("/collections/shelters/items?limit=2")
    assert head.status_code == 200 and not head.data


def test_every_reference_in_the_openapi_document_resolves(client):
    doc = client.get("/api").get_json()
    refs = set(re.findall(r'"\$ref": ?"#/([^"]+)"', __import__("json").dumps(doc)))
    assert refs
    for ref in refs:
        node = doc
        for part in ref.split("/"):
            node = node[part]
    for path, ops in doc["paths"].items():
        declared = {p.get("name") for op in ops.values() for p in op.get("parameters", [])
                    if isinstance(p, dict) and p.get("in") == "path"}
        for name in re.findall(r"{(\w+)}", path):
            assert name in declared or path == "/collections/{collectionId}" or \
                any(p.get("$ref", "").endswith(name) for op in ops.values() for p in op.get("parameters", [])), path


@pytest.mark.gpkg_only  # the GeoPackage's Feature cache (geojson_sql); PostgreSQL writes every page
def test_the_feature_cache_keeps_under_its_byte_cap_and_pages_stay_right(site, client, monkeypatch):
    from rallypoint.storage import cache as geojson_sql

    urls = [f"/collections/hazard_points/items?limit=100&offset={o}" for o in range(0, 1000, 100)]
    geojson_sql.clear_cache()
    before = geojson_sql.cache_usage()[1]
    first = [client.get(u).get_json()["features"] for u in urls]  # anonymous: with room to spare
    one_pass = geojson_sql.cache_usage()[1] - before
    assert one_pass > 0
    cap = before + one_pass // 3
    monkeypatch.setattr(geojson_sql, "CACHE_BYTES", cap)
    keyed = auth(site["reader"])  # another cache entry (personal fields in): every page a miss, evicting
    second = [client.get(u, headers=keyed).get_json()["features"] for u in urls]
    assert geojson_sql.cache_usage()[1] <= cap
    again = [client.get(u).get_json()["features"] for u in urls]  # what was evicted is written again, the same
    assert again == first and geojson_sql.cache_usage()[1] <= cap
    assert [[f["id"] for f in page] for page in second] == [[f["id"] for f in page] for page in first]
    assert "manager_phone" in str(second) or "monitor_phone" in str(second)
