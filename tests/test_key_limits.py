"""Limits on refused API keys, per address and per key id, that never refuse a valid key in use.

Before, ten wrong keys from one address locked every key sent from that address out for the rest of the
minute: a bureau behind one shared address could not edit while anyone there mistyped a key. Now:

* keys of no known id from an address over its limit are answered 429 unchecked;
* keys of an id over its own limit (someone mistyped or guessed that key's secret) are answered 429 unchecked,
  except a key the server verified before, in any worker: a valid key in use is never refused;
* the one key the limits can hold back is one never used before whose own id was just tried wrongly too often;
  it goes in when the window passes.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import pytest
from conftest import county_copy
from hostile_support import api_site
from web_support import Server, make_key

import rallypoint.api.auth as auth_module

GEOJSON = "application/geo+json"


def mistyped(key: str) -> str:
    """The same key with its secret's last character changed (the id part stays)."""
    return key[:-1] + ("A" if key[-1] != "A" else "B")


@pytest.mark.parametrize("backend", ["gpkg", "postgis"])
def test_a_mistyped_key_is_limited_by_its_id_and_address_and_valid_keys_go_on(county_sample, request, backend,
                                                                               tmp_path):
    s = api_site(county_sample, tmp_path, location=county_copy(request, backend, "key_limits"),
                 RALLYPOINT_RATELIMIT_REFUSED_KEYS="4 per minute", RALLYPOINT_RATELIMIT_REFUSED_PER_KEY="3 per minute")
    c = s["client"]
    editor, reader = s["keys"]["editor"], s["keys"]["reader"]
    assert c.get("/collections", headers={"X-API-Key": editor}).status_code == 200  # in use before
    # someone mistypes the editor's key: three refusals of that id, then 429 without the secret being checked
    codes = [c.get("/collections", headers={"X-API-Key": mistyped(editor)}).status_code for _ in range(5)]
    assert codes == [401, 401, 401, 429, 429]
    r = c.get("/collections", headers={"X-API-Key": mistyped(editor)})
    assert 0 < int(r.headers["Retry-After"]) <= 60 and "not refused" in r.get_json()["description"]
    # the editor's own key still works, even in a worker that has not seen it (the verified record is shared)
    auth_module._verified.clear()
    assert c.get("/collections", headers={"X-API-Key": editor}).status_code == 200
    # the address: 3 refusals so far (those answered 429 unchecked are not refusals), one more made-up key and it
    # is over its limit: made-up keys are then 429, valid keys are not
    codes = [c.get("/collections", headers={"X-API-Key": "rp_00000000_guess"}).status_code for _ in range(3)]
    assert codes == [401, 429, 429]
    assert c.get("/collections", headers={"X-API-Key": reader}).status_code == 200
    fresh = make_key(s["path"], "new.colleague", "editor")  # a key first used now, from the same address
    assert c.get("/collections", headers={"X-API-Key": fresh}).status_code == 200
    assert c.get("/collections").status_code == 200
    # the documented exception: a key never used, whose own id was just tried wrongly too often
    unused = make_key(s["path"], "on.leave", "editor")
    codes = [c.get("/collections", headers={"X-API-Key": mistyped(unused)}).status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]
    assert c.get("/collections", headers={"X-API-Key": unused}).status_code == 429


@pytest.mark.parametrize("backend", ["gpkg", "postgis"])
def test_a_bureau_behind_one_address_keeps_editing_while_someone_mistypes_keys(request, backend, tmp_path):
    """A real server (2 workers, shared counters): three editors write with If-Match for a few seconds from
    127.0.0.1 while a colleague at the same address sends wrong keys (made-up ones, and editor 0's key
    mistyped) without pause. Every write is accepted; the wrong keys are 401, then 429."""
    location = county_copy(request, backend, "bureau")
    keys = [make_key(location, f"editor.{i}", "editor") for i in range(3)]
    server = Server(location, workers=2, threads=2, log_dir=tmp_path)
    stop = threading.Event()
    wrong_codes: list[int] = []
    write_codes: list[int] = []
    errors: list[str] = []

    def call(method, path, key, body=None, if_match=None):
        headers = {"X-API-Key": key, "Content-Type": GEOJSON}
        if if_match:
            headers["If-Match"] = if_match
        req = urllib.request.Request(server.url + path, method=method, headers=headers,
                                     data=None if body is None else json.dumps(body).encode())
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, dict(r.headers), json.loads(r.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), json.loads(exc.read() or b"null")

    def mistyper():
        i = 0
        while not stop.is_set():
            key = mistyped(keys[0]) if i % 2 else f"rp_{i:08x}_guess"
            wrong_codes.append(call("GET", "/collections", key)[0])
            i += 1

    started = [threading.Event() for _ in keys]

    def editor(n):
        try:
            _, _, page = call("GET", f"/collections/teams/items?limit=1&offset={n}", keys[n])
            uid = page["features"][0]["id"]
            started[n].set()  # each key in use before the mistyping starts
            while not stop.is_set():
                status, headers, got = call("GET", f"/collections/teams/items/{uid}", keys[n])
                assert status == 200, (status, got)
                status, _, got = call("PATCH", f"/collections/teams/items/{uid}", keys[n],
                                      {"properties": {"members": got["properties"]["members"] % 90 + 1}},
                                      headers["ETag"])
                write_codes.append(status)
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(repr(exc))

    threads = [threading.Thread(target=editor, args=(n,)) for n in range(3)] + [threading.Thread(target=mistyper)]
    try:
        for t in threads[:3]:
            t.start()
        for e in started:
            assert e.wait(60)
        threads[3].start()
        time.sleep(8)
        stop.set()
        for t in threads:
            t.join(timeout=60)
    finally:
        stop.set()
        server.stop()
    print(json.dumps({"backend": backend, "writes": len(write_codes), "writes accepted": write_codes.count(200),
                      "wrong keys": len(wrong_codes), "401": wrong_codes.count(401), "429": wrong_codes.count(429)}))
    assert errors == []
    assert len(write_codes) >= 10 and set(write_codes) == {200}, write_codes  # not one write refused
    # 10 a minute per address and 10 per key id (a run across a minute's boundary has two windows of each)
    assert wrong_codes.count(401) <= 40 and wrong_codes.count(429) >= 10
    assert set(wrong_codes) == {401, 429}
