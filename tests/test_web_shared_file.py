"""A served registry that other processes write at the same time: every worker thread sees their commits.

Found with QGIS and the server on one file: a worker thread that opened the registry looked at
the file's header with open()/close(), and closing a descriptor drops all of the process's POSIX
locks on the file, SQLite's too. Another thread's kept connection then read stale rows, and a
PATCH with a stale If-Match went through to a 500 (a duplicate history version) instead of 412.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from web_support import Server, call_json, copy_registry, make_key

from rallypoint import Registry


@pytest.fixture(scope="module")
def served(county_sample, tmp_path_factory):
    path = copy_registry(county_sample, tmp_path_factory.mktemp("web_shared_file") / "county.gpkg")
    key = make_key(path, "zhang.wei", "editor")
    server = Server(path, workers=1, threads=2)
    yield {"url": server.url, "path": path, "key": key, "server": server}
    server.stop()


def call(served, method: str, path: str, body=None, if_match: str | None = None):
    return call_json(served["url"], method, path, served["key"], body, if_match)


def test_writes_by_another_process_are_seen_by_every_thread_and_stale_writes_are_412(served):
    with Registry.open(served["path"]) as reg:
        teams = [f.uuid for f in reg.features("teams")][:6]
    pages = [f"/collections/{layer}/items?limit=500" for layer in ("shelters", "teams", "hazard_points", "depots")]
    for round_, uid in enumerate(teams):
        with ThreadPoolExecutor(4) as pool:  # both threads open (or reuse) their connection meanwhile
            answers = list(pool.map(lambda p: call(served, "GET", p), pages * 2))
        assert [s for s, _ in answers] == [200] * len(answers), (round_, [b for s, b in answers if s != 200])
        with Registry.open(served["path"]) as reg:  # another process (this one) writes the file
            before = reg.get("teams", uid).version
            reg.update("teams", uid, {"members": 40 + round_}, author="office")
        now = before + 1
        with ThreadPoolExecutor(4) as pool:
            seen = list(pool.map(lambda _: call(served, "GET", f"/collections/teams/items/{uid}"), range(6)))
        assert {body["properties"]["version"] for _, body in seen} == {now}
        status, body = call(served, "PATCH", f"/collections/teams/items/{uid}", {"properties": {"members": 99}},
                            if_match=f'"{uid}-v{before}"')
        assert status == 412, (round_, status, body)
        assert f"version {now}" in body["description"]
    log = served["server"].log.name
    assert "Traceback" not in open(log, encoding="utf-8").read()
