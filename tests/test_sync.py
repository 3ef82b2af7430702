"""Check out, push, pull and conflicts against a real ``rallypoint serve`` on 127.0.0.1, and directly against a
registry (``backend``: a registry file, or a PostGIS database), where a push is one transaction.

The server tests run once per served backend (``web_backend``: the county sample as a file, and an exact copy
of it in PostGIS served by ``rallypoint serve postgresql://…``); sync.py speaks only HTTP to a server.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import urllib.request

import pytest
from click.testing import CliRunner
from conftest import county_copy, shelter
from web_support import Server, make_key

from rallypoint import Registry
from rallypoint.cli.main import cli
from rallypoint.sync import SyncError, pull, push

pytestmark = [pytest.mark.slow, pytest.mark.both_backends]


@pytest.fixture(scope="module")
def server(request, web_backend):
    path = county_copy(request, web_backend, "sync")
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


# -- directly against a registry: a PostGIS database or a registry file (both backends) ---------------------------
@pytest.fixture
def central(backend, request, county_sample, tmp_path):
    """The central registry checked out directly: a copy of the county sample, a file or a PostGIS database."""
    if backend == "postgis":
        return request.getfixturevalue("pg_county_copy")
    path = tmp_path / "central.gpkg"
    shutil.copyfile(county_sample, path)
    return str(path)


@pytest.fixture(scope="module")
def first_checkouts(tmp_path_factory):
    """backend → a check-out made by the CLI from that backend's pristine central registry (the first test's)."""
    return {"dir": tmp_path_factory.mktemp("checkouts")}


@pytest.fixture
def field(central, backend, tmp_path, first_checkouts):
    """A check-out of ``central`` by zhang.field. Every central registry starts as the same sample, so the
    first check-out per backend is made by the CLI and later tests get a copy of it pointed at their own."""
    import sqlite3
    from contextlib import closing

    out = tmp_path / "field.gpkg"
    if backend not in first_checkouts:
        made = first_checkouts["dir"] / f"{backend}.gpkg"
        r = CliRunner().invoke(cli, ["checkout", central, str(made), "--author", "zhang.field"])
        assert r.exit_code == 0, r.output
        first_checkouts[backend] = made
    shutil.copyfile(first_checkouts[backend], out)
    url = central if backend == "postgis" else str(__import__("pathlib").Path(central).resolve())
    with closing(sqlite3.connect(out)) as conn, conn:
        conn.execute("UPDATE rp_sync SET value = ? WHERE key = 'url'", (url,))
    return out


def test_a_direct_checkout_copies_every_feature_in_use_personal_data_included(central, field):
    from rallypoint.sync import sync_url

    with Registry.open(central) as reg, Registry.open(field) as local:
        for layer in ("shelters", "depots", "teams", "hazard_points", "helipads", "depot_stock"):
            assert local.count(layer) == reg.count(layer), layer
        s = next(reg.features("shelters"))
        mine = local.get("shelters", s.uuid)
        assert mine.properties["manager_phone"] == s.properties["manager_phone"]
        assert mine.geometry.equals_exact(s.geometry, 0)
        assert local.info.adcode == reg.info.adcode and local.info.name == reg.info.name
    assert sync_url(field) in (central, str(__import__("pathlib").Path(central).resolve()))


def test_a_direct_push_writes_the_changes_with_their_history_and_versions(central, field):
    with Registry.open(field) as local:
        target = next(local.features("shelters"))
        gone = list(local.features("helipads"))[-1]
        local.update("shelters", target.uuid, {"capacity_night": 1111}, author="zhang.field")
        new = local.add("shelters", shelter(name="野外新增避难点"), (104.01, 30.61), author="zhang.field")
        local.retire("helipads", gone.uuid, author="zhang.field")
    report = push(field)
    assert report.ok, (report.conflicts, report.errors)
    assert (report.created, report.updated, report.retired) == (1, 1, 1)
    with Registry.open(central) as reg:
        got = reg.get("shelters", target.uuid)
        assert got.properties["capacity_night"] == 1111 and got.version == target.version + 1
        assert reg.get("shelters", new.uuid).geometry.coords[0] == (104.01, 30.61)
        assert reg.get("helipads", gone.uuid).retired
        last = reg.history("shelters", target.uuid)[-1]
        assert (last.author, last.op) == ("zhang.field", "update") and last.note.startswith("pushed from field.gpkg [push ")
        assert reg.history("shelters", new.uuid)[0].author == "zhang.field"
    again = push(field, author="someone.else")  # nothing left to send
    assert (again.created, again.updated, again.retired) == (0, 0, 0) and again.ok
    with Registry.open(central) as reg:  # then others edit what was pushed: the check-out's base is the new version
        reg.update("shelters", target.uuid, {"occupancy": 5}, author="office", expected_version=target.version + 1)
    assert pull(field).updated == 1


def test_a_direct_pull_brings_others_changes_in(central, field):
    with Registry.open(field) as local:
        uid = list(local.features("teams"))[3].uuid
    with Registry.open(central) as reg:
        t = reg.get("teams", uid)
        reg.update("teams", uid, {"members": 77}, author="office", expected_version=t.version)
        gone = next(reg.features("depots")).uuid
        stock = [f.uuid for f in reg.features("depot_stock") if f.properties["depot_uuid"] == gone]
        with reg.batch(author="office") as b:
            for s in stock:
                b.retire("depot_stock", s)
            b.retire("depots", gone)
    report = pull(field, author="zhang.field")
    assert report.ok and report.updated == 1 and report.retired == 1 + len(stock)
    with Registry.open(field) as local:
        assert local.get("teams", uid).properties["members"] == 77
        assert local.history("teams", uid)[-1].op == "update" and local.get("depots", gone).retired
    assert pull(field).updated == 0


def test_a_feature_changed_directly_on_both_sides_is_a_conflict_and_no_work_is_lost(central, field):
    with Registry.open(field) as local:
        uid = list(local.features("depots"))[2].uuid
        other = list(local.features("teams"))[0].uuid
        local.update("depots", uid, {"name": "野外改名"}, author="zhang.field")
        local.update("teams", other, {"members": 8}, author="zhang.field")
    with Registry.open(central) as reg:
        reg.update("depots", uid, {"name": "办公室改名"}, author="office")
    report = push(field)
    assert [(c.layer, c.uuid) for c in report.conflicts] == [("depots", uid)] and report.updated == 1
    with Registry.open(central) as reg:
        assert reg.get("depots", uid).properties["name"] == "办公室改名"
        assert reg.get("teams", other).properties["members"] == 8  # the rest was sent
    report = pull(field)
    assert [(c.layer, c.uuid) for c in report.conflicts] == [("depots", uid)]
    with Registry.open(field) as local:
        assert local.get("depots", uid).properties["name"] == "野外改名"
    r = CliRunner().invoke(cli, ["push", str(field)])
    assert r.exit_code == 1 and uid in r.output


def test_a_feature_the_registry_refuses_is_reported_and_the_rest_is_sent(central, field):
    from conftest import stock

    with Registry.open(field) as local:
        dep = next(local.features("depots")).uuid
        added = local.add("depot_stock", stock(dep, item="冲锋舟"), author="zhang.field").uuid
        t = next(local.features("teams")).uuid
        local.update("teams", t, {"members": 99}, author="zhang.field")
    with Registry.open(central) as reg:  # meanwhile the depot is closed: stock may no longer refer to it
        with reg.batch(author="office") as b:
            for s in [f.uuid for f in reg.features("depot_stock") if f.properties["depot_uuid"] == dep]:
                b.retire("depot_stock", s)
            b.retire("depots", dep)
    report = push(field)
    assert report.updated == 1 and report.created == 0 and len(report.errors) == 1
    assert added in report.errors[0] and "depot_uuid" in report.errors[0]
    with Registry.open(central) as reg:
        assert reg.get("teams", t).properties["members"] == 99
        with pytest.raises(Exception, match="no feature"):
            reg.get("depot_stock", added)


def test_a_push_that_reached_the_registry_but_not_the_checkouts_record_is_not_a_conflict(central, field):
    """A push killed between the registry's commit and the check-out's own: the next push sees the change there."""
    with Registry.open(field) as local:
        uid = next(local.features("helipads")).uuid
        local.update("helipads", uid, {"pad_length_m": 55}, author="zhang.field")
    with Registry.open(central) as reg:  # the same change, as the killed push had written it
        reg.update("helipads", uid, {"pad_length_m": 55}, author="zhang.field")
        version = reg.get("helipads", uid).version
    report = push(field)
    assert report.ok and report.updated == 1
    with Registry.open(central) as reg:
        assert reg.get("helipads", uid).version == version  # not written twice
    assert pull(field).ok


def test_a_direct_push_killed_half_way_leaves_the_registry_without_any_of_it(central, field):
    with Registry.open(field) as local:
        points = list(local.features("hazard_points", limit=300))
        with local.batch(author="zhang.field") as b:
            for p in points:
                b.update("hazard_points", p.uuid, {"threatened_people": p.properties["threatened_people"] + 1})
    with Registry.open(central) as reg:
        before = len(reg.history())
    script = ("import sys, time\nfrom rallypoint.sync import push\n"
              "push(sys.argv[1], author='killed', progress=lambda i: (print(i, flush=True), time.sleep(0.005)))\n")
    proc = subprocess.Popen([sys.executable, "-c", script, str(field)], stdout=subprocess.PIPE, text=True)
    for line in proc.stdout:
        if int(line) >= 100:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with Registry.open(central) as reg:
        assert len(reg.history()) == before
        assert all(reg.get("hazard_points", p.uuid).version == p.version for p in points)
    report = push(field)  # nothing was sent, nothing recorded as sent: the next push sends it all
    assert report.ok and report.updated == len(points)
    with Registry.open(central) as reg:
        assert all(reg.get("hazard_points", p.uuid).properties["threatened_people"]
                   == p.properties["threatened_people"] + 1 for p in points)


def test_a_database_password_is_not_kept_in_the_checkout(pg_county_copy, tmp_path):
    from rallypoint.sync import sync_url

    with_password = pg_county_copy.replace("postgres@", "postgres:s3cret@")  # the test cluster trusts 127.0.0.1
    out = tmp_path / "field.gpkg"
    r = CliRunner().invoke(cli, ["checkout", with_password, str(out)])
    assert r.exit_code == 0, r.output
    assert sync_url(out) == pg_county_copy
    import sqlite3

    with sqlite3.connect(out) as conn:
        assert not any("s3cret" in str(v) for row in conn.execute("SELECT * FROM rp_sync") for v in row)
    assert push(out).ok
    with pytest.raises(SyncError, match="a check-out is a GeoPackage file"):
        push(pg_county_copy)


def test_a_direct_checkout_with_reference_data_runs_the_analyses_offline(central, tmp_path, county_counts):
    from rallypoint.analysis import run_analysis
    from rallypoint.plugins import default_plugin_manager

    out = tmp_path / "with_reference.gpkg"
    r = CliRunner().invoke(cli, ["checkout", central, str(out), "--with-reference"])
    assert r.exit_code == 0, r.output
    with Registry.open(out) as local:
        for layer in ("admin_areas", "population", "roads"):
            assert local.count(layer) == county_counts[layer], layer
        result = run_analysis(local, default_plugin_manager(), "capacity", {})
    with Registry.open(central) as reg:
        expected = run_analysis(reg, default_plugin_manager(), "capacity", {})
    assert result.summary == expected.summary
