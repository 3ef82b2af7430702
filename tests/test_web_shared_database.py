"""A served PostGIS registry that other processes write at the same time: every worker sees their commits.

The counterpart of test_web_shared_file.py (which is about SQLite's locks on a shared file): here
``rallypoint serve postgresql://…`` runs two gunicorn workers of two threads, each thread keeping
its own database connection between requests, while this process writes the database. Every
worker must answer with the other process's version at once, refuse a write sent with the version
before it (412), record the key's holder as the author of what it writes, and refuse a key revoked
by another process on its very next request.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import county_copy
from web_support import Server, call_json, make_key

from rallypoint import Registry
from rallypoint.api.auth import revoke_key


@pytest.fixture(scope="module")
def served(request, tmp_path_factory):
    url = county_copy(request, "postgis", "web_shared_database")
    folder = tmp_path_factory.mktemp("web_shared_database")
    keys = {"editor": make_key(url, "zhang.wei", "editor"), "doomed": make_key(url, "zhao.lei", "editor")}
    server = Server(url, workers=2, threads=2, log_dir=folder, extra_args=("--jobs-dir", str(folder / "jobs")))
    yield {"url": server.url, "registry": url, "keys": keys, "server": server}
    server.stop()


def call(served, method: str, path: str, body=None, if_match: str | None = None, key: str = "editor"):
    return call_json(served["url"], method, path, served["keys"][key], body, if_match)


def test_writes_by_another_process_are_seen_by_every_worker_and_stale_writes_are_412(served):
    with Registry.open(served["registry"]) as reg:
        teams = [f.uuid for f in reg.features("teams")][:4]
    for round_, uid in enumerate(teams):
        # new connections each time: gunicorn hands them to either worker, whose threads keep their connection
        with ThreadPoolExecutor(4) as pool:
            first = list(pool.map(lambda _: call(served, "GET", f"/collections/teams/items/{uid}"), range(8)))
        assert [s for s, _ in first] == [200] * 8, (round_, first)
        with Registry.open(served["registry"]) as reg:  # another process (this one) writes the database
            before = reg.get("teams", uid).version
            reg.update("teams", uid, {"members": 40 + round_}, author="office")
        now = before + 1
        with ThreadPoolExecutor(4) as pool:
            seen = list(pool.map(lambda _: call(served, "GET", f"/collections/teams/items/{uid}"), range(8)))
        assert {body["properties"]["version"] for _, body in seen} == {now}
        assert {body["properties"]["members"] for _, body in seen} == {40 + round_}
        status, body = call(served, "PATCH", f"/collections/teams/items/{uid}", {"properties": {"members": 99}},
                            if_match=f'"{uid}-v{before}"')
        assert status == 412, (round_, status, body)
        assert f"version {now}" in body["description"]
        status, body = call(served, "PATCH", f"/collections/teams/items/{uid}", {"properties": {"members": 7}},
                            if_match=f'"{uid}-v{now}"')
        assert status == 200 and body["properties"]["version"] == now + 1, (status, body)
        with Registry.open(served["registry"]) as reg:
            last = reg.history("teams", uid)[-1]
        assert (last.version, last.author) == (now + 1, "zhang.wei")  # the key's holder, set for the triggers
        assert last.changed_fields()["members"] == (40 + round_, 7)
    assert "Traceback" not in served["server"].read_log()


def test_a_key_revoked_by_another_process_is_refused_by_every_worker_at_once(served):
    teams = "/processes"  # any route: the key is checked before the route's own work
    with ThreadPoolExecutor(4) as pool:  # every worker has verified (and remembers) the key
        assert set(pool.map(lambda _: call(served, "GET", teams, key="doomed")[0], range(8))) == {200}
    with Registry.open(served["registry"]) as reg:
        assert [k.name for k in revoke_key(reg, "zhao.lei")] == ["zhao.lei"]
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: call(served, "GET", teams, key="doomed"), range(8)))
    assert {s for s, _ in answers} == {401} and all("revoked" in b["description"] for _, b in answers)
    assert call(served, "GET", teams)[0] == 200  # the other key is untouched


def test_simultaneous_writes_with_one_if_match_let_exactly_one_through(served):
    """Eight editors PATCH one feature at once, all sending the version they read: the database's row lock
    (SELECT … FOR UPDATE) makes them take turns, the first wins, every other is 412; none fails (500)."""
    with Registry.open(served["registry"]) as reg:
        feat = list(reg.features("shelters"))[3]
    uid, version = feat.uuid, feat.version

    def patch(i):
        return call(served, "PATCH", f"/collections/shelters/items/{uid}", {"properties": {"occupancy": 100 + i}},
                    if_match=f'"{uid}-v{version}"')

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(patch, range(8)))
    statuses = sorted(s for s, _ in answers)
    assert statuses == [200] + [412] * 7, answers
    won = next(b for s, b in answers if s == 200)
    with Registry.open(served["registry"]) as reg:
        now = reg.get("shelters", uid)
        history = reg.history("shelters", uid)
    assert now.version == version + 1 and now.properties["occupancy"] == won["properties"]["occupancy"]
    assert [c.version for c in history][-2:] == [version, version + 1] and history[-1].author == "zhang.wei"
    assert "Traceback" not in served["server"].read_log()
