"""Serving a PostGIS registry: ``rallypoint serve postgresql://…`` and the per-thread connections it keeps.

The answers themselves (items, tiles, filters …) are checked on both backends by the test_web_*
modules; these tests are about what only a database has: no file to stat, a server that may go away.
"""

from __future__ import annotations

import json
import urllib.request

import psycopg
import pytest

from rallypoint.api import ApiConfig
from rallypoint.web import create_app
from rallypoint.web.adapter import close_registry, get_registry
from web_support import Server


def backend_pid(reg) -> int:
    return reg._conn.execute("SELECT pg_backend_pid()").fetchone()[0]


def test_create_app_accepts_a_postgresql_url_and_keeps_it_as_given(pg_registry_url):
    app = create_app(pg_registry_url, {"TESTING": True})
    cfg = app.extensions["rallypoint"].config
    assert cfg.registry_path == pg_registry_url
    assert cfg.job_root() == ApiConfig(registry_path=pg_registry_url).job_root()
    assert cfg.job_root() != ApiConfig(registry_path=pg_registry_url + "x").job_root()
    res = app.test_client().get("/?f=json")
    assert res.status_code == 200, res.data
    assert res.get_json()["title"]


def test_a_connection_is_kept_per_thread_and_replaced_when_the_server_ends_it(pg_registry_url):
    app = create_app(pg_registry_url, {"TESTING": True})
    with app.app_context():
        first = get_registry()
        pid = backend_pid(first)
        close_registry()
    with app.app_context():
        again = get_registry()
        assert again is first and backend_pid(again) == pid  # kept for the thread's next request
        close_registry()
    with psycopg.connect(pg_registry_url, autocommit=True) as admin:  # as a server restart would
        assert admin.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,)).fetchone()[0]  # waits for its end
    with app.app_context():
        fresh = get_registry()
        assert fresh is not first and backend_pid(fresh) != pid
        close_registry()


def test_a_connection_left_in_a_transaction_or_after_an_error_is_not_kept(pg_registry_url):
    app = create_app(pg_registry_url, {"TESTING": True})
    with app.app_context():
        reg = get_registry()
        reg._conn.execute("BEGIN")
        close_registry()
    assert reg._conn.closed
    with app.app_context():
        reg = get_registry()
        close_registry(RuntimeError("the request failed"))
    assert reg._conn.closed


def test_rallypoint_serve_serves_a_postgis_registry(pg_registry_url, tmp_path):
    server = Server(pg_registry_url, workers=1, log_dir=tmp_path)
    try:
        with urllib.request.urlopen(server.url + "/?f=json", timeout=10) as res:
            assert json.load(res)["title"]
        assert "Traceback" not in server.read_log()
    finally:
        server.stop()
