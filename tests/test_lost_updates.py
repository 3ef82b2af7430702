"""No lost update over HTTP: 20 writers at once against a real ``rallypoint serve`` (gunicorn), on both backends.

Ten writers read a few *hot* teams and add one to their members with ``If-Match`` (the version they read);
ten others write blindly: PATCH, PUT and DELETE without ``If-Match`` or with ``If-Match: *``, and POST new
helipads (creation needs no version). Afterwards, with the server stopped:

* every blind PATCH, PUT and DELETE was answered 428 and changed nothing; every POST was 201 and is there;
* every write with ``If-Match`` was answered 200 or 412 (a stale version), never anything else;
* no acknowledged change is lost: each hot team's members went up by exactly the number of 200s it got
  (a lost update would leave it lower), its version by the same, and each 200 is in the history at the
  version its answer named, with the members it sent, by the writer's key holder, the versions one after
  the other, each exactly one above the one before.

Before If-Match was required, 2,394 of 2,714 accepted blind updates in 10 s were silently overwritten.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter, defaultdict
from urllib.parse import urlsplit

import pytest
from conftest import county_copy, helipad
from web_support import Server, make_key

from rallypoint import Registry

pytestmark = [pytest.mark.soak, pytest.mark.slow]

HOT = 4
WRITERS = 20
#: seconds of writing: the whole half minute on a file, a shorter run on PostGIS
DURATION = {"gpkg": 30, "postgis": 15}


class Writer(threading.Thread):
    def __init__(self, url: str, key: str, name: str, hot: list[str], stop: threading.Event, informed: bool, n: int):
        super().__init__(daemon=True)
        self.base = urlsplit(url)
        self.key, self.name, self.hot, self.stop, self.informed, self.n = key, name, hot, stop, informed, n
        self.statuses: Counter = Counter()  # (method, status) → count
        self.acks: list[tuple[str, int, int]] = []  # (uuid, version, members) of every 200
        self.created: list[str] = []
        self.errors: list[str] = []
        self.conn: http.client.HTTPConnection | None = None

    def call(self, method: str, path: str, body=None, if_match: str | None = None):
        headers = {"Authorization": f"Bearer {self.key}", "Content-Type": "application/geo+json"}
        if if_match is not None:
            headers["If-Match"] = if_match
        for attempt in range(2):  # a kept connection the server closed meanwhile is opened again, once
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.base.hostname, self.base.port, timeout=60)
            try:
                self.conn.request(method, path, None if body is None else json.dumps(body), headers)
                r = self.conn.getresponse()
                raw = r.read()
                return r.status, dict((k.lower(), v) for k, v in r.getheaders()), json.loads(raw) if raw else None
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = None
                if attempt or method != "GET":
                    raise
        raise AssertionError("unreachable")

    def run(self) -> None:
        i = 0
        try:
            while not self.stop.is_set():
                uid = self.hot[(self.n + i) % len(self.hot)]
                path = f"/collections/teams/items/{uid}"
                if self.informed:
                    status, headers, got = self.call("GET", path)
                    assert status == 200, (status, got)
                    members = got["properties"]["members"] + 1
                    status, _, answer = self.call("PATCH", path, {"properties": {"members": members}},
                                                  headers["etag"])
                    self.statuses["PATCH", status] += 1
                    if status == 200:
                        self.acks.append((uid, answer["properties"]["version"], members))
                else:
                    kind = i % 6
                    if kind == 5:
                        body = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [103.7, 30.6]},
                                "properties": helipad(name=f"{self.name}-{i}")}
                        status, _, answer = self.call("POST", "/collections/helipads/items", body)
                        self.statuses["POST", status] += 1
                        if status == 201:
                            self.created.append(answer["id"])
                    else:
                        method = ("PATCH", "PATCH", "PUT", "DELETE", "DELETE")[kind]
                        star = "*" if kind in (1, 4) else None
                        body = None if method == "DELETE" else {"type": "Feature", "geometry": {
                            "type": "Point", "coordinates": [103.7, 30.6]}, "properties": {"members": 1}}
                        status, _, answer = self.call(method, path, body, star)
                        self.statuses[method, status] += 1
                        if status == 428:
                            assert "If-Match" in answer["description"] and "ETag" in answer["description"]
                i += 1
        except Exception as exc:  # noqa: BLE001 (reported by the test, whatever it is)
            self.errors.append(f"{self.name}: {type(exc).__name__}: {exc}")
        finally:
            if self.conn is not None:
                self.conn.close()


@pytest.mark.parametrize("backend", ["gpkg", "postgis"])
def test_twenty_writers_lose_no_update_and_every_write_without_if_match_is_428(request, backend, tmp_path):
    location = county_copy(request, backend, "lost_updates")
    keys = {f"w{k:02d}": make_key(location, f"writer.{k:02d}", "editor") for k in range(WRITERS)}
    with Registry.open(location) as reg:
        hot = [f.uuid for f in reg.features("teams", limit=HOT)]
        start = {u: reg.get("teams", u) for u in hot}
        history_start = {u: len(reg.history("teams", u)) for u in hot}
    # the blind writers' refusals are quick: far more than the default 1,000 writes a minute per key
    server = Server(location, workers=2, threads=4, log_dir=tmp_path,
                    extra_args=("--rate-limit-writes", "100000 per minute"))
    stop = threading.Event()
    writers = [Writer(server.url, keys[name], name, hot, stop, informed=k % 2 == 0, n=k)
               for k, name in enumerate(keys)]
    try:
        for w in writers:
            w.start()
        time.sleep(DURATION[backend])
        stop.set()
        for w in writers:
            w.join(timeout=120)
        log = server.read_log()
    finally:
        stop.set()
        server.stop()
    assert not any(w.is_alive() for w in writers)
    assert [e for w in writers for e in w.errors] == []
    assert "Traceback" not in log, log[-3000:]

    informed = Counter()
    blind = Counter()
    for w in writers:
        (informed if w.informed else blind).update(w.statuses)
    figures = {"backend": backend, "seconds": DURATION[backend],
               "with If-Match": {f"{m} {s}": n for (m, s), n in sorted(informed.items())},
               "without If-Match": {f"{m} {s}": n for (m, s), n in sorted(blind.items())}}
    print(json.dumps(figures, ensure_ascii=False))
    # every change sent without a concrete If-Match was refused; creation was not
    assert {s for (m, s) in blind if m != "POST"} == {428}, figures
    assert {s for (m, s) in blind if m == "POST"} == {201}, figures
    assert sum(n for (m, _), n in blind.items() if m != "POST") >= 50, figures
    # with If-Match: accepted, or stale; both happened (the writers met each other on the hot teams)
    assert set(informed) <= {("PATCH", 200), ("PATCH", 412)}, figures
    assert informed["PATCH", 200] >= 20 and informed["PATCH", 412] >= 1, figures

    acks = defaultdict(list)
    author = {}
    for w in writers:
        for uid, version, members in w.acks:
            acks[uid].append((version, members))
            author[uid, version] = f"writer.{w.name[1:]}"
    with Registry.open(location) as reg:
        for uid in hot:
            before, now = start[uid], reg.get("teams", uid)
            mine = sorted(acks[uid])
            # nothing lost: each acknowledged +1 is in the final state
            assert now.properties["members"] == before.properties["members"] + len(mine), uid
            assert now.version == before.version + len(mine) and not now.retired, uid
            changes = reg.history("teams", uid)[history_start[uid]:]
            assert [c.version for c in changes] == [v for v, _ in mine], uid  # no version acknowledged twice
            for c, (version, members) in zip(changes, mine):
                assert c.op == "update" and c.author == author[uid, version], (uid, version)
                assert c.after["properties"]["members"] == members
                assert c.before["properties"]["members"] == members - 1  # made on the version it read
        created = [u for w in writers for u in w.created]
        for uid in created:
            assert reg.get("helipads", uid).version == 1
