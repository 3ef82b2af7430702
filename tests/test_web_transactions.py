"""Part 4 (create, replace, update, delete) with API keys and roles, through Flask's test client, on a
GeoPackage file and on a PostGIS registry (the ``site`` fixture runs the module once per backend)."""

from __future__ import annotations

import json

import pytest
from conftest import county_copy, helipad, shelter, stock
from web_support import EPSG3857, EPSG4490, auth, make_key

from rallypoint import Registry
from rallypoint.api.auth import TABLE
from rallypoint.web import create_app

GEOJSON = "application/geo+json"


@pytest.fixture(scope="module")
def site(request, web_backend):
    path = county_copy(request, web_backend, "web_tx")
    keys = {role: make_key(path, name, role) for name, role in
            (("li.na", "reader"), ("zhang.wei", "editor"), ("chen.jie", "admin"))}
    app = create_app(path, {"TESTING": True, "RALLYPOINT_MAX_BODY": 20_000})
    return {"client": app.test_client(), "path": path, "keys": keys, "backend": web_backend}


@pytest.fixture(scope="module")
def client(site):
    return site["client"]


@pytest.fixture(scope="module")
def editor(site):
    return {**auth(site["keys"]["editor"]), "Content-Type": GEOJSON}


def feature(props, coords=(103.72, 30.61)):
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": list(coords)}, "properties": props}


def post(client, layer, body, headers):
    return client.post(f"/collections/{layer}/items", data=json.dumps(body), headers=headers)


def test_post_creates_a_feature_201_with_location_and_etag(site, client, editor):
    r = post(client, "helipads", feature(helipad(name="API 起降点")), editor)
    assert r.status_code == 201, r.get_json()
    created = r.get_json()
    uid = created["id"]
    assert r.headers["Location"].endswith(f"/collections/helipads/items/{uid}")
    assert r.headers["ETag"] == f'"{uid}-v1"'
    assert created["properties"]["contact_phone"] is None and created["properties"]["version"] == 1
    got = client.get(r.headers["Location"].replace("http://localhost", "")).get_json()
    assert got["geometry"]["coordinates"] == [103.72, 30.61] and got["properties"]["name"] == "API 起降点"


def test_the_history_records_the_key_owner_as_author(site, client, editor):
    uid = post(client, "helipads", feature(helipad(name="记录作者")), editor).get_json()["id"]
    r = client.patch(f"/collections/helipads/items/{uid}", data=json.dumps({"properties": {"fuel": True}}),
                     headers={**editor, "If-Match": f'"{uid}-v1"'})
    assert r.status_code == 200
    with Registry.open(site["path"]) as reg:
        changes = reg.history("helipads", uid)
    assert [(c.op, c.author) for c in changes] == [("insert", "zhang.wei"), ("update", "zhang.wei")]
    assert changes[-1].changed_fields()["fuel"] == (None, 1)


def test_put_replaces_patch_merges_and_etags_follow_the_version(client, editor):
    uid = post(client, "shelters", feature(shelter(name="替换前", occupancy=10)), editor).get_json()["id"]
    url = f"/collections/shelters/items/{uid}"
    r = client.patch(url, data=json.dumps({"type": "Feature", "properties": {"status": "open"}}),
                     headers={**editor, "If-Match": f'"{uid}-v1"'})
    assert r.status_code == 200 and r.headers["ETag"] == f'"{uid}-v2"'
    props = r.get_json()["properties"]
    assert props["status"] == "open" and props["name"] == "替换前" and props["occupancy"] == 10
    whole = client.get(url, headers=editor).get_json()  # GET, change, PUT back: the stamps may be sent back as read
    whole["properties"]["name"] = "替换后"
    whole["properties"].pop("occupancy")
    r = client.put(url, data=json.dumps(whole), headers={**editor, "If-Match": f'"{uid}-v2"'})
    assert r.status_code == 200, r.get_json()
    props = r.get_json()["properties"]
    assert props["name"] == "替换后" and props["occupancy"] is None and props["version"] == 3
    moved = client.patch(url, data=json.dumps({"geometry": {"type": "Point", "coordinates": [103.73, 30.62]}}),
                         headers={**editor, "If-Match": r.headers["ETag"]}).get_json()
    assert moved["geometry"]["coordinates"] == [103.73, 30.62] and moved["properties"]["name"] == "替换后"


def test_a_stale_if_match_is_412_and_changes_nothing(site, client, editor):
    uid = post(client, "helipads", feature(helipad(name="并发")), editor).get_json()["id"]
    url = f"/collections/helipads/items/{uid}"
    assert client.patch(url, data=json.dumps({"properties": {"windsock": True}}),
                        headers={**editor, "If-Match": f'"{uid}-v1"'}).status_code == 200
    for method in ("patch", "put", "delete"):
        body = json.dumps(feature(helipad(name="过期"))) if method != "delete" else None
        r = getattr(client, method)(url, data=body, headers={**editor, "If-Match": f'"{uid}-v1"'})
        assert r.status_code == 412, method
        assert r.get_json()["code"] == "PreconditionFailed" and "version 2" in r.get_json()["description"]
    r = client.patch(url, data=json.dumps({"properties": {"fuel": True}}), headers={**editor, "If-Match": '"x-v2"'})
    assert r.status_code == 412
    with Registry.open(site["path"]) as reg:
        assert reg.get("helipads", uid).version == 2 and reg.get("helipads", uid).properties["name"] == "并发"
    ok = client.patch(url, data=json.dumps({"properties": {"fuel": True}}),
                      headers={**editor, "If-Match": f'W/"zzz", "{uid}-v2:gzip"'})
    assert ok.status_code == 200  # the gzip layer's suffix on a tag read back is understood


@pytest.mark.parametrize("if_match", [None, "*", " * "])
def test_changes_without_a_concrete_if_match_are_428_saying_how_to_get_the_etag(site, client, editor, if_match):
    """A change sent without the version it changes would overwrite whatever was written since it was read (a
    lost update): PATCH, PUT and DELETE are refused with 428 and a message that says where the ETag is."""
    uid = post(client, "helipads", feature(helipad(name="无版本")), editor).get_json()["id"]
    url = f"/collections/helipads/items/{uid}"
    headers = editor if if_match is None else {**editor, "If-Match": if_match}
    for method in ("patch", "put", "delete"):
        body = json.dumps(feature(helipad(name="覆盖"))) if method != "delete" else None
        r = getattr(client, method)(url, data=body, headers=headers)
        assert r.status_code == 428, (method, r.get_data(as_text=True))
        answer = r.get_json()
        assert answer["code"] == "PreconditionRequired"
        assert "If-Match" in answer["description"] and "ETag" in answer["description"]
        assert f"GET http://localhost{url}" in answer["description"]
    with Registry.open(site["path"]) as reg:
        feat = reg.get("helipads", uid)
        assert feat.version == 1 and feat.properties["name"] == "无版本" and not feat.retired
    etag = client.get(url).headers["ETag"]  # the way the message names: GET, then send the ETag back
    r = client.patch(url, data=json.dumps({"properties": {"name": "有版本"}}), headers={**editor, "If-Match": etag})
    assert r.status_code == 200 and r.get_json()["properties"]["name"] == "有版本"


def test_delete_retires_the_feature_and_it_is_no_longer_served(site, client, editor):
    uid = post(client, "helipads", feature(helipad(name="将退役")), editor).get_json()["id"]
    r = client.delete(f"/collections/helipads/items/{uid}", headers={**editor, "If-Match": f'"{uid}-v1"'})
    assert r.status_code == 204 and not r.data
    assert client.get(f"/collections/helipads/items/{uid}").status_code == 404
    assert client.delete(f"/collections/helipads/items/{uid}", headers={**editor, "If-Match": f'"{uid}-v2"'}
                         ).status_code == 404
    with Registry.open(site["path"]) as reg:
        feat = reg.get("helipads", uid)
        assert feat.retired and reg.history("helipads", uid)[-1].author == "zhang.wei"


def test_depot_stock_has_no_geometry_and_is_writable(site, client, editor):
    depot = client.get("/collections/depots/items?limit=1").get_json()["features"][0]["id"]
    body = {"type": "Feature", "geometry": None, "properties": stock(depot, item="矿泉水", quantity=50)}
    r = post(client, "depot_stock", body, editor)
    assert r.status_code == 201, r.get_json()
    with_geometry = {**body, "geometry": {"type": "Point", "coordinates": [103.7, 30.6]}}
    r = post(client, "depot_stock", with_geometry, editor)
    assert r.status_code == 400 and "no geometry" in r.get_json()["description"]


def test_reference_collections_are_read_only_405(client, site):
    admin = {**auth(site["keys"]["admin"]), "Content-Type": GEOJSON}
    road = client.get("/collections/roads/items?limit=1").get_json()["features"][0]
    for layer in ("admin_areas", "population", "roads"):
        r = post(client, layer, feature({"name": "x"}), admin)
        assert r.status_code == 405 and "read-only" in r.get_json()["description"]
        assert "POST" not in r.headers["Allow"]
    for method in ("put", "patch", "delete"):
        r = getattr(client, method)(f"/collections/roads/items/{road['id']}", data="{}", headers=admin)
        assert r.status_code == 405, method
    assert "POST" not in client.options("/collections/roads/items").headers["Allow"]
    assert "POST" in client.options("/collections/shelters/items").headers["Allow"]
    assert "PUT" in client.options("/collections/shelters/items/x").headers["Allow"]


def test_writes_need_an_editor_key(site, client):
    body = json.dumps(feature(helipad()))
    r = client.post("/collections/helipads/items", data=body, headers={"Content-Type": GEOJSON})
    assert r.status_code == 401 and "API key" in r.get_json()["description"]
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    r = client.post("/collections/helipads/items", data=body,
                    headers={**auth(site["keys"]["reader"]), "Content-Type": GEOJSON})
    assert r.status_code == 403 and "editor" in r.get_json()["description"]
    admin = {**auth(site["keys"]["admin"]), "Content-Type": GEOJSON}
    assert post(client, "helipads", feature(helipad(name="管理员")), admin).status_code == 201


@pytest.mark.parametrize("body, content_type, status, words", [
    ("{not json", GEOJSON, 400, "not valid JSON"),
    ("[1, 2]", GEOJSON, 400, "GeoJSON Feature"),
    (json.dumps({"type": "FeatureCollection", "features": []}), GEOJSON, 400, "GeoJSON Feature"),
    (json.dumps(feature(helipad(wingspan=3))), GEOJSON, 400, "wingspan"),
    (json.dumps(feature(helipad(status="flying"))), GEOJSON, 400, "status"),
    (json.dumps(feature(helipad(version=7))), GEOJSON, 400, "set by the registry"),
    (json.dumps({**feature(helipad()), "geometry": {"type": "Point", "coordinates": ["a"]}}), GEOJSON, 400,
     "geometry"),
    (json.dumps({**feature(helipad()), "geometry": {"type": "Blob"}}), GEOJSON, 400, "geometry"),
    (json.dumps({**feature(helipad()), "geometry": {"type": "LineString", "coordinates": [[103, 30], [104, 31]]}}),
     GEOJSON, 400, "LineString"),
    (json.dumps({**feature(helipad()), "geometry": None}), GEOJSON, 400, "geometry is required"),
    (json.dumps({**feature(helipad()), "colour": "red"}), GEOJSON, 400, "colour"),
    (json.dumps(feature(helipad())), "text/plain", 415, "geo+json"),
    (json.dumps(feature(helipad(name="大" * 30_000))), GEOJSON, 413, "bytes"),
])
def test_bad_bodies_are_4xx_saying_what_was_wrong(site, client, body, content_type, status, words):
    before = client.get("/collections/helipads/items").get_json()["numberMatched"]
    r = client.post("/collections/helipads/items", data=body,
                    headers={**auth(site["keys"]["editor"]), "Content-Type": content_type})
    assert r.status_code == status, r.get_data(as_text=True)
    assert r.is_json and words in json.dumps(r.get_json(), ensure_ascii=False)
    assert client.get("/collections/helipads/items").get_json()["numberMatched"] == before


def test_validation_errors_list_every_problem(client, editor):
    r = post(client, "helipads", feature(helipad(status="flying", pad_length_m=-3, surface=None)), editor)
    body = r.get_json()
    assert r.status_code == 400 and {p["field"] for p in body["problems"]} >= {"status", "pad_length_m"}


def test_put_needs_a_geometry_and_a_matching_id(client, editor):
    uid = post(client, "helipads", feature(helipad(name="整体替换")), editor).get_json()["id"]
    url = f"/collections/helipads/items/{uid}"
    editor = {**editor, "If-Match": f'"{uid}-v1"'}
    r = client.put(url, data=json.dumps({**feature(helipad()), "geometry": None}), headers=editor)
    assert r.status_code == 400 and "geometry is required" in r.get_json()["description"]
    r = client.put(url, data=json.dumps({**feature(helipad()), "id": "other"}), headers=editor)
    assert r.status_code == 400 and "id" in r.get_json()["description"]
    r = client.patch(url, data=json.dumps({"properties": {}}), headers=editor)
    assert r.status_code == 400 and "nothing to change" in r.get_json()["description"]


def test_geometries_may_come_in_another_crs_named_by_content_crs(client, editor):
    r = post(client, "helipads", feature(helipad(name="纬度在前"), (30.63, 103.74)),
             {**editor, "Content-Crs": f"<{EPSG4490}>"})
    assert r.status_code == 201 and r.get_json()["geometry"]["coordinates"] == pytest.approx([103.74, 30.63])
    r = post(client, "helipads", feature(helipad(name="墨卡托"), (11548500.0, 3587800.0)),
             {**editor, "Content-Crs": EPSG3857})
    lon, lat = r.get_json()["geometry"]["coordinates"]
    assert r.status_code == 201 and 103.7 < lon < 103.8 and 30.6 < lat < 30.7
    r = post(client, "helipads", feature(helipad()), {**editor, "Content-Crs": "EPSG:9999"})
    assert r.status_code == 400


@pytest.mark.gpkg_only  # the file's bytes and gpkg_contents (test_api_keys.py checks the rows on both backends)
def test_api_keys_are_stored_hashed(site):
    raw = site["path"].read_bytes()
    for key in site["keys"].values():
        assert key.split("_", 2)[2].encode() not in raw
    with Registry.open(site["path"]) as reg:
        assert TABLE not in reg.layers
        assert reg._conn.execute("SELECT count(*) FROM gpkg_contents WHERE table_name = ?", (TABLE,)).fetchone()[0] == 0
