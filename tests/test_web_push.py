"""``POST /transactions``: a whole change set in one request, in one registry batch, with each action's outcome;
sent again under the same id it lands once. Through Flask's test client, on a GeoPackage and on PostGIS."""

from __future__ import annotations

import json
import uuid

import pytest
from conftest import county_copy, helipad
from web_support import auth, make_key

from rallypoint import Registry
from rallypoint.web import create_app

JSON = "application/json"


@pytest.fixture(scope="module")
def site(request, web_backend):
    path = county_copy(request, web_backend, "web_push")
    keys = {role: make_key(path, name, role) for name, role in
            (("li.na", "reader"), ("zhang.wei", "editor"))}
    app = create_app(path, {"TESTING": True, "RALLYPOINT_MAX_TRANSACTION_BODY": 200_000})
    return {"client": app.test_client(), "path": path, "keys": keys}


def send(site, doc, role="editor", raw=None, content_type=JSON):
    headers = {"Content-Type": content_type, **(auth(site["keys"][role]) if role else {})}
    return site["client"].post("/transactions", data=raw if raw is not None else json.dumps(doc), headers=headers)


def pid() -> str:
    return uuid.uuid4().hex


def features(site, layer, n, offset=0):
    with Registry.open(site["path"]) as reg:
        return list(reg.features(layer, limit=n, offset=offset))


def new_helipad(name, coords=(103.71, 30.62)):
    uid = str(uuid.uuid4())
    return uid, {"action": "insert", "collection": "helipads", "id": uid,
                 "item": {"type": "Feature", "geometry": {"type": "Point", "coordinates": list(coords)},
                          "properties": helipad(name=name)}}


def test_a_change_set_lands_in_one_batch_and_each_action_says_what_became_of_it(site):
    team, depot = features(site, "teams", 1)[0], features(site, "depots", 1)[0]
    shelter = features(site, "shelters", 1, offset=5)[0]
    new_uid, insert = new_helipad("一次推送")
    # moved a few metres: a shelter stays inside the township its division code names
    moved = [shelter.geometry.x + 0.0002, shelter.geometry.y + 0.0001]
    doc = {"id": pid(), "semantic": "batch", "comment": "pushed from field.gpkg", "actions": [
        insert,
        {"action": "update", "collection": "teams", "id": team.uuid, "baseVersion": team.version,
         "item": {"type": "Feature", "properties": {"members": 61}}},
        {"action": "update", "collection": "shelters", "id": shelter.uuid, "baseVersion": shelter.version,
         "item": {"type": "Feature", "geometry": {"type": "Point", "coordinates": moved}}},
        {"action": "delete", "collection": "depots", "id": depot.uuid, "baseVersion": depot.version},
    ]}
    r = send(site, doc)
    assert r.status_code == 200, r.get_json()
    answer = r.get_json()
    assert [x["outcome"] for x in answer["results"]] == ["inserted", "updated", "updated", "deleted"], answer
    assert answer["committed"] and answer["summary"]["totalUpdated"] == 2
    assert answer["results"][1]["version"] == team.version + 1
    assert answer["results"][1]["etag"] == f'"{team.uuid}-v{team.version + 1}"'
    with Registry.open(site["path"]) as reg:
        assert reg.get("helipads", new_uid).properties["name"] == "一次推送"
        assert reg.get("teams", team.uuid).properties["members"] == 61
        assert reg.get("shelters", shelter.uuid).geometry.coords[0] == pytest.approx(tuple(moved))
        assert reg.get("depots", depot.uuid).retired
        rows = [reg.history(layer, u)[-1] for layer, u in (("helipads", new_uid), ("teams", team.uuid),
                                                           ("depots", depot.uuid))]
    assert {(c.author, c.note) for c in rows} == {("zhang.wei", f"pushed from field.gpkg [push {doc['id']}]")}
    assert len({c.at for c in rows}) == 1  # one batch: one time


def test_the_same_transaction_sent_again_lands_once(site):
    team = features(site, "teams", 1, offset=3)[0]
    new_uid, insert = new_helipad("重发一次")
    doc = {"id": pid(), "semantic": "batch", "actions": [insert, {
        "action": "update", "collection": "teams", "id": team.uuid, "baseVersion": team.version,
        "item": {"type": "Feature", "properties": {"members": team.properties["members"] + 1}}}]}
    first = send(site, doc).get_json()
    again = send(site, doc)  # the first answer was lost: the client sends the same document again
    assert again.status_code == 200
    answer = again.get_json()
    assert [x["outcome"] for x in answer["results"]] == ["already-applied", "already-applied"]
    assert [x["version"] for x in answer["results"]] == [x["version"] for x in first["results"]]
    assert answer["results"][1]["feature"]["properties"]["members"] == team.properties["members"] + 1
    assert not answer["committed"]
    with Registry.open(site["path"]) as reg:
        assert reg.get("teams", team.uuid).version == team.version + 1  # not written twice
        assert len(reg.history("helipads", new_uid)) == 1


def test_conflicts_and_refusals_are_reported_and_the_rest_lands_in_a_batch(site):
    stale, fine = features(site, "teams", 2, offset=6)
    etag = site["client"].get(f"/collections/teams/items/{stale.uuid}").headers["ETag"]
    r = site["client"].patch(f"/collections/teams/items/{stale.uuid}", data=json.dumps(
        {"properties": {"members": 3}}), headers={**auth(site["keys"]["editor"]), "Content-Type": "application/geo+json",
                                                 "If-Match": etag})
    assert r.status_code == 200  # someone changed it since the push's base
    bad_uid, bad = new_helipad("坏数据")
    bad["item"]["properties"]["status"] = "flying"
    doc = {"id": pid(), "semantic": "batch", "actions": [
        {"action": "update", "collection": "teams", "id": stale.uuid, "baseVersion": stale.version,
         "item": {"type": "Feature", "properties": {"members": 40}}},
        bad,
        {"action": "update", "collection": "teams", "id": fine.uuid, "baseVersion": fine.version,
         "item": {"type": "Feature", "properties": {"members": 41}}},
        {"action": "delete", "collection": "teams", "id": str(uuid.uuid4()), "baseVersion": 1},
    ]}
    answer = send(site, doc).get_json()
    outcomes = [x["outcome"] for x in answer["results"]]
    assert outcomes == ["conflict", "refused", "updated", "not-found"], answer
    assert f"changed since version {stale.version}" in answer["results"][0]["message"]
    assert answer["results"][1]["problems"][0]["field"] == "status"  # the rule's own message
    assert "status" in answer["results"][1]["message"]
    with Registry.open(site["path"]) as reg:
        assert reg.get("teams", stale.uuid).properties["members"] == 3  # not overwritten
        assert reg.get("teams", fine.uuid).properties["members"] == 41
        with pytest.raises(Exception, match="no feature"):
            reg.get("helipads", bad_uid)


def test_an_atomic_transaction_writes_nothing_unless_everything_goes_in(site):
    a, b = features(site, "teams", 2, offset=10)
    doc = {"id": pid(), "actions": [  # atomic is the default
        {"action": "update", "collection": "teams", "id": a.uuid, "baseVersion": a.version,
         "item": {"type": "Feature", "properties": {"members": 50}}},
        {"action": "update", "collection": "teams", "id": b.uuid, "baseVersion": b.version,
         "item": {"type": "Feature", "properties": {"members": -5}}},
    ]}
    r = send(site, doc)
    assert r.status_code == 409
    assert [x["outcome"] for x in r.get_json()["results"]] == ["not-applied", "refused"]
    with Registry.open(site["path"]) as reg:
        assert reg.get("teams", a.uuid).version == a.version and reg.get("teams", b.uuid).version == b.version
    doc["actions"][1]["item"]["properties"]["members"] = 51
    doc["id"] = pid()
    r = send(site, doc)
    assert r.status_code == 200 and [x["outcome"] for x in r.get_json()["results"]] == ["updated", "updated"]


def test_an_update_or_delete_without_its_base_version_is_428_and_nothing_is_written(site):
    team = features(site, "teams", 1, offset=12)[0]
    _, insert = new_helipad("不应写入")
    for action in ({"action": "update", "collection": "teams", "id": team.uuid,
                    "item": {"type": "Feature", "properties": {"members": 9}}},
                   {"action": "delete", "collection": "teams", "id": team.uuid}):
        r = send(site, {"id": pid(), "semantic": "batch", "actions": [insert, action]})
        assert r.status_code == 428 and "baseVersion" in r.get_json()["description"]
    with Registry.open(site["path"]) as reg:
        assert reg.get("teams", team.uuid).version == team.version
        assert not any(f.properties["name"] == "不应写入" for f in reg.features("helipads"))


def test_a_transaction_needs_an_editor_key(site):
    _, insert = new_helipad("越权")
    doc = {"id": pid(), "actions": [insert]}
    assert send(site, doc, role=None).status_code == 401
    assert send(site, doc, role="reader").status_code == 403
    with Registry.open(site["path"]) as reg:
        assert not any(f.properties["name"] == "越权" for f in reg.features("helipads"))


@pytest.mark.parametrize("doc, words", [
    ({"actions": []}, "'id'"),
    ({"id": "short", "actions": []}, "'id'"),
    ({"id": "a" * 20, "actions": []}, "'actions'"),
    ({"id": "a" * 20, "actions": [{"action": "upsert", "collection": "teams", "id": "x"}]}, "insert, update or delete"),
    ({"id": "a" * 20, "actions": [{"action": "delete", "collection": "roads", "id": "1", "baseVersion": 1}]},
     "read-only"),
    ({"id": "a" * 20, "actions": [{"action": "delete", "collection": "nowhere", "id": "1", "baseVersion": 1}]},
     "no collection"),
    ({"id": "a" * 20, "semantic": "maybe", "actions": []}, "semantic"),
    ({"id": "a" * 20, "actions": [{"action": "insert", "collection": "teams"}]}, "UUID"),
    ({"id": "a" * 20, "extra": 1, "actions": []}, "extra"),
])
def test_a_bad_transaction_is_refused_saying_what_and_where(site, doc, words):
    r = send(site, doc)
    assert 400 <= r.status_code < 500 and r.is_json
    assert words in r.get_json()["description"], r.get_json()


def test_duplicate_actions_bad_json_and_oversize_bodies_are_refused(site):
    team = features(site, "teams", 1)[0]
    upd = {"action": "update", "collection": "teams", "id": team.uuid, "baseVersion": team.version,
           "item": {"type": "Feature", "properties": {"members": 9}}}
    r = send(site, {"id": pid(), "actions": [upd, upd]})
    assert r.status_code == 400 and "one action per feature" in r.get_json()["description"]
    assert send(site, None, raw="{nope").status_code == 400
    assert send(site, {"id": pid(), "actions": [upd]}, content_type="text/plain").status_code == 415
    big = {"id": pid(), "actions": [new_helipad("大" * 100)[1] for _ in range(500)]}
    r = send(site, big)  # above the transaction limit this app was given (200 kB)
    assert r.status_code == 413 and "bytes" in r.get_json()["description"]


def test_the_api_document_describes_the_transaction_endpoint(site):
    doc = site["client"].get("/api").get_json()
    post = doc["paths"]["/transactions"]["post"]
    assert {"200", "409", "428", "401", "403", "413"} <= set(post["responses"])
    assert post["requestBody"]["content"]["application/json"]["schema"]["required"] == ["id", "actions"]
