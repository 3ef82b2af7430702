"""Check out, push, pull and conflicts against a real ``rallypoint serve`` on 127.0.0.1."""

from __future__ import annotations

import json
import urllib.request

import pytest
from click.testing import CliRunner
from conftest import shelter
from web_support import Server, copy_registry, make_key

from rallypoint import Registry
from rallypoint.cli.main import cli
from rallypoint.sync import SyncError, pull, push

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(county_sample, tmp_path_factory):
    path = copy_registry(county_sample, tmp_path_factory.mktemp("sync") / "served.gpkg")
    keys = {"editor": make_key(path, "zhang.field", "editor"), "reader": make_key(path, "li.reader", "reader"),
            "office": make_key(path, "wang.office", "editor")}
    srv = Server(path, workers=1, threads=2)
    srv.keys = keys
    srv.path = path
    yield srv
    srv.stop()


def http(srv, method, path, key, body=None, headers=None):
    req = urllib.request.Request(srv.url + path, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Authorization": f"Bearer {key}", "Content-Type": "application/geo+json",
                                          **(headers or {})})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.loads(r.read() or b"null"), dict(r.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null"), dict(exc.headers)


def server_feature(srv, layer, uid):
    return http(srv, "GET", f"/collections/{layer}/items/{uid}", srv.keys["office"])[1]


@pytest.fixture
def checkout(server, tmp_path):
    out = tmp_path / "field.gpkg"
    r = CliRunner().invoke(cli, ["checkout", server.url, str(out), "--key", server.keys["editor"],
                                 "--author", "zhang.field"])
    assert r.exit_code == 0, r.output
    return out


def test_checkout_copies_every_feature_in_use_with_personal_data_only_with_a_key(server, checkout, tmp_path):
    with Registry.open(server.path, readonly=True) as srv_reg, Registry.open(checkout) as local:
        for layer in ("shelters", "depots", "teams", "hazard_points", "helipads", "depot_stock"):
            assert local.count(layer) == srv_reg.count(layer), layer
        s = next(srv_reg.features("shelters"))
        mine = local.get("shelters", s.uuid)
        assert mine.properties["manager_phone"] == s.properties["manager_phone"]
        assert mine.geometry.equals_exact(s.geometry, 1e-9)
    anonymous = tmp_path / "anonymous.gpkg"
    r = CliRunner().invoke(cli, ["checkout", server.url, str(anonymous)], env={"RALLYPOINT_KEY": None})
    assert r.exit_code == 0, r.output
    with Registry.open(anonymous) as local:
        assert all(f.properties["manager_phone"] is None for f in local.features("shelters"))


def test_edit_offline_push_and_the_server_has_it_in_its_history(server, checkout):
    with Registry.open(checkout) as local:
        target = next(local.features("shelters"))
        gone = list(local.features("helipads"))[-1]
        local.update("shelters", target.uuid, {"capacity_night": 1111}, author="zhang.field")
        new = local.add("shelters", shelter(name="野外新增避难点"), (104.01, 30.61), author="zhang.field")
        local.retire("helipads", gone.uuid, author="zhang.field")
    report = push(checkout, key=server.keys["editor"])
    assert report.ok, (report.conflicts, report.errors)
    assert (report.created, report.updated, report.retired) == (1, 1, 1)
    assert server_feature(server, "shelters", target.uuid)["properties"]["capacity_night"] == 1111
    created = server_feature(server, "shelters", new.uuid)
    assert created["properties"]["name"] == "野外新增避难点" and created["geometry"]["coordinates"] == [104.01, 30.61]
    status, _, _ = http(server, "GET", f"/collections/helipads/items/{gone.uuid}", server.keys["office"])
    assert status == 404
    with Registry.open(server.path, readonly=True) as reg:
        assert reg.history("shelters", target.uuid)[-1].author == "zhang.field"
    again = push(checkout, key=server.keys["editor"])  # nothing left to send
    assert (again.created, again.updated, again.retired) == (0, 0, 0)


def test_pull_brings_others_changes_in(server, checkout):
    with Registry.open(checkout) as local:
        uid = list(local.features("teams"))[3].uuid
    etag = http(server, "GET", f"/collections/teams/items/{uid}", server.keys["office"])[2]["ETag"]
    status, _, _ = http(server, "PATCH", f"/collections/teams/items/{uid}", server.keys["office"],
                        {"properties": {"members": 77}}, {"If-Match": etag})
    assert status == 200
    report = pull(checkout, key=server.keys["editor"])
    assert report.ok and report.updated == 1
    with Registry.open(checkout) as local:
        assert local.get("teams", uid).properties["members"] == 77
        assert local.history("teams", uid)[-1].op == "update"
    assert pull(checkout, key=server.keys["editor"]).updated == 0


def test_a_feature_changed_on_both_sides_is_a_conflict_and_no_work_is_lost(server, checkout):
    with Registry.open(checkout) as local:
        uid = list(local.features("depots"))[2].uuid
        local.update("depots", uid, {"name": "野外改名"}, author="zhang.field")
    etag = http(server, "GET", f"/collections/depots/items/{uid}", server.keys["office"])[2]["ETag"]
    assert http(server, "PATCH", f"/collections/depots/items/{uid}", server.keys["office"],
                {"properties": {"name": "办公室改名"}}, {"If-Match": etag})[0] == 200
    report = push(checkout, key=server.keys["editor"])
    assert [(c.layer, c.uuid) for c in report.conflicts] == [("depots", uid)]
    assert server_feature(server, "depots", uid)["properties"]["name"] == "办公室改名"
    report = pull(checkout, key=server.keys["editor"])
    assert [(c.layer, c.uuid) for c in report.conflicts] == [("depots", uid)]
    with Registry.open(checkout) as local:
        assert local.get("depots", uid).properties["name"] == "野外改名"
    r = CliRunner().invoke(cli, ["push", str(checkout), "--key", server.keys["editor"]])
    assert r.exit_code == 1 and uid in r.output


def test_a_checkout_with_reference_data_runs_the_analyses_offline(server, tmp_path, county_counts):
    from rallypoint.analysis import run_analysis
    from rallypoint.plugins import default_plugin_manager

    out = tmp_path / "with_reference.gpkg"
    r = CliRunner().invoke(cli, ["checkout", server.url, str(out), "--with-reference"], env={"RALLYPOINT_KEY": None})
    assert r.exit_code == 0, r.output
    with Registry.open(out) as local:
        for layer in ("admin_areas", "population", "roads"):
            assert local.count(layer) == county_counts[layer], layer
        result = run_analysis(local, default_plugin_manager(), "capacity", {})
    with Registry.open(server.path, readonly=True) as served:
        expected = run_analysis(served, default_plugin_manager(), "capacity", {})
    assert result.summary == expected.summary


def test_push_of_a_file_that_is_not_a_checkout_says_so(registry_path):
    with pytest.raises(SyncError, match="not a check-out"):
        push(registry_path)
    with pytest.raises(SyncError, match="not a check-out"):
        pull(registry_path)
    import sqlite3

    with sqlite3.connect(registry_path) as conn:  # refused unchanged: no sync tables were added
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert not any(n.startswith("rp_sync") for n in names)


def test_sync_url_is_none_for_anything_but_a_checkout(registry_path, tmp_path, checkout):
    from rallypoint.sync import sync_url

    text = tmp_path / "notes.gpkg"
    text.write_text("not a database")
    assert sync_url(registry_path) is None and sync_url(text) is None
    assert sync_url(tmp_path / "missing.gpkg") is None and sync_url("dbname=x host=y") is None
    assert sync_url(checkout).startswith("http://127.0.0.1:")


def test_a_checkout_that_fails_leaves_no_file(server, tmp_path):
    from rallypoint.sync import checkout as do_checkout

    out = tmp_path / "failed.gpkg"
    with pytest.raises(SyncError):  # the server answers, but not as a Rallypoint server
        do_checkout(server.url + "/collections/shelters/items/nothing", out)
    with pytest.raises(SyncError, match="cannot reach"):
        do_checkout("http://127.0.0.1:9", out)
    assert not out.exists()
