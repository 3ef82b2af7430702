"""``/conflicts``: merge conflicts listed and resolved over HTTP by editors, as JSON and HTML, on a GeoPackage and
on PostGIS (the served registry merged another bureau's export that conflicts with it)."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import StepClock, county_copy
from web_support import auth, make_key

from rallypoint import Registry
from rallypoint.exchange.export import export_registry
from rallypoint.exchange.merge import merge_registries
from rallypoint.web import create_app


@pytest.fixture(scope="module")
def site(request, web_backend, tmp_path_factory):
    ours = county_copy(request, web_backend, "web_conflicts")
    d = tmp_path_factory.mktemp("web_conflicts_files")
    base, theirs = d / "base.gpkg", d / "theirs.gpkg"
    export_registry(ours, base, layers=["shelters"])  # without personal data, as bureaus exchange
    shutil.copyfile(base, theirs)
    with Registry.open(theirs, clock=StepClock()) as reg:
        a, b = list(reg.features("shelters", limit=2))
        reg.update("shelters", a.uuid, {"occupancy": 111, "status": "open"}, author="them")
        reg.retire("shelters", b.uuid, author="them", reason="拆除")
    with Registry.open(ours) as reg:
        reg.update("shelters", a.uuid, {"occupancy": 222}, author="us")
        reg.update("shelters", b.uuid, {"occupancy": 3}, author="us")
        phone = reg.get("shelters", a.uuid).properties["manager_phone"]
    result = merge_registries(ours, theirs, base, author="us")
    assert len(result.conflicts) == 2
    keys = {role: make_key(ours, name, role) for name, role in (("li.na", "reader"), ("zhang.wei", "editor"))}
    app = create_app(ours, {"TESTING": True})
    return {"client": app.test_client(), "path": ours, "keys": keys, "a": a.uuid, "b": b.uuid, "phone": phone}


def get(site, url, role="editor"):
    return site["client"].get(url, headers=auth(site["keys"][role]) if role else {})


def resolve(site, cid, body, if_match=None, role="editor"):
    headers = {"Content-Type": "application/json", **auth(site["keys"][role])}
    if if_match is not None:
        headers["If-Match"] = if_match
    return site["client"].post(f"/conflicts/{cid}/resolution", data=json.dumps(body), headers=headers)


def conflict_of(site, uuid):
    listed = get(site, "/conflicts?state=all").get_json()["conflicts"]
    return next(c for c in listed if c["uuid"] == uuid)


def test_conflicts_are_for_editors_only(site):
    assert get(site, "/conflicts", role=None).status_code == 401
    assert get(site, "/conflicts", role="reader").status_code == 403


def test_the_list_shows_base_ours_theirs_and_now_with_links_and_in_html(site):
    r = get(site, "/conflicts")
    assert r.status_code == 200
    doc = r.get_json()
    by_uuid = {c["uuid"]: c for c in doc["conflicts"]}
    assert site["a"] in by_uuid and doc["numberMatched"] == len(doc["conflicts"])
    a = by_uuid[site["a"]]
    assert a["kind"] == "edit/edit" and a["fields"]["occupancy"]["ours"] == 222
    assert a["fields"]["occupancy"]["theirs"] == 111 and a["now"]["values"]["occupancy"] == 222
    assert {lk["rel"] for lk in a["links"]} >= {"self", "alternate", "item", "resolution"}
    assert by_uuid[site["b"]]["kind"] == "retired-by-them/edited-by-us"
    page = get(site, "/conflicts?f=html")
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    text = page.get_data(as_text=True)
    assert "合并冲突" in text and "edit/edit" in text and a["name"] in text
    assert get(site, "/conflicts?state=never").status_code == 400
    one = get(site, f"/conflicts/{a['id']}")
    assert one.status_code == 200 and one.headers["ETag"] == f'"{site["a"]}-v{a["now"]["version"]}"'
    assert get(site, f"/conflicts/{a['id']}?f=html").status_code == 200
    assert get(site, "/conflicts/999999").status_code == 404  # a number no conflict has
    bad = get(site, "/conflicts/x")  # not a number: the parameter named
    assert bad.status_code == 400 and "conflictId" in bad.get_json()["description"]


def test_a_resolution_needs_the_features_version_and_lands_once_with_its_author(site):
    c = conflict_of(site, site["a"])
    etag = get(site, f"/conflicts/{c['id']}").headers["ETag"]
    r = resolve(site, c["id"], {"keep": "theirs"})
    assert r.status_code == 428 and "If-Match" in r.get_json()["description"]
    assert resolve(site, c["id"], {"keep": "theirs"}, if_match="*").status_code == 428
    stale = f'"{site["a"]}-v{c["now"]["version"] - 1}"'
    assert resolve(site, c["id"], {"keep": "theirs"}, if_match=stale).status_code == 412
    assert resolve(site, c["id"], {"keep": "theirs"}, if_match=etag, role="reader").status_code == 403
    r = resolve(site, c["id"], {"set": {"occupancy": -1}}, if_match=etag)
    assert r.status_code == 400 and r.get_json()["problems"][0]["field"] == "occupancy"
    assert resolve(site, c["id"], {"keep": "mine"}, if_match=etag).status_code == 400
    r = resolve(site, c["id"], {"keep": "theirs"}, if_match=etag)
    assert r.status_code == 200, r.get_json()
    done = r.get_json()
    assert done["resolved_at"] and done["resolution"]["by"] == "zhang.wei" and done["resolution"]["keep"] == "theirs"
    assert r.headers["ETag"] == f'"{site["a"]}-v{c["now"]["version"] + 1}"'
    with Registry.open(site["path"]) as reg:
        feat = reg.get("shelters", site["a"])
        assert feat.properties["occupancy"] == 111
        assert feat.properties["manager_phone"] == site["phone"]  # the export carried no phones: ours stays
        last = reg.history("shelters", site["a"])[-1]
        assert (last.op, last.author) == ("resolve", "zhang.wei")
    again = resolve(site, c["id"], {"keep": "ours"}, if_match=r.headers["ETag"])
    assert again.status_code == 409 and "already resolved" in again.get_json()["description"]
    assert c["id"] not in {x["id"] for x in get(site, "/conflicts").get_json()["conflicts"]}
    assert c["id"] in {x["id"] for x in get(site, "/conflicts?state=resolved").get_json()["conflicts"]}


def test_the_api_document_lists_the_conflict_endpoints(site):
    paths = get(site, "/api").get_json()["paths"]
    assert "get" in paths["/conflicts"] and "get" in paths["/conflicts/{conflictId}"]
    post = paths["/conflicts/{conflictId}/resolution"]["post"]
    assert {"200", "409", "412", "428"} <= set(post["responses"])
