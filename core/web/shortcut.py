"""Anonymous vector tiles answered straight from WSGI, without Flask's request machinery.

A map asks for tiles by the hundred, each a plain ``GET`` of one path; a tile already encoded costs about
0.05 ms to answer (:func:`~..api.tiles.tilesets.get_tile`), and Flask's request around it (context, URL
rules, the session's and the rate limiter's hooks, CORS, compression, the response object) about 0.3 ms more,
most of a cached tile's time in a worker. So a tile request that no hook could act on is answered here, by
the same API function through the same registry connection (:func:`.adapter.take_registry`), with the
headers Flask's extensions would add (CORS): ``GET`` of a tile path, no query string, no credentials (no
``Authorization`` or ``X-API-Key`` header and no cookie: no principal, no session to refresh, and the rate
limits exempt such reads anyway). Anything else goes to Flask, as do these requests when the API refuses
them (400, 404, …): Flask answers them again, with its own error documents.

tests/test_web_tiles.py checks that both ways give the same status, headers and body.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.http import HTTP_STATUS_CODES

from ..api import Context, Headers, QueryArgs, Request
from ..api.tiles.tilesets import get_tile
from .adapter import give_back, take_registry

_TILE = re.compile(r"/(?:collections/(?P<collection_id>[A-Za-z0-9_]+)/)?tiles/(?P<tms_id>[A-Za-z0-9_]+)/"
                   r"(?P<z>[0-9]{1,3})/(?P<y>[0-9]{1,9})/(?P<x>[0-9]{1,9})")
_CREDENTIALS = ("HTTP_AUTHORIZATION", "HTTP_X_API_KEY", "HTTP_COOKIE")


class TileShortcut:
    """WSGI middleware: anonymous tile requests answered directly, everything else by ``app`` (Flask's WSGI app)."""

    def __init__(self, app: Callable, state: Any, expose_headers: Iterable[str]):
        self.app = app
        self.state = state
        self.expose = ", ".join(sorted(expose_headers))  # as Flask-CORS lists them

    def __call__(self, environ: dict, start_response: Callable):
        if environ.get("REQUEST_METHOD") != "GET" or environ.get("QUERY_STRING") or \
                any(k in environ for k in _CREDENTIALS):
            return self.app(environ, start_response)
        match = _TILE.fullmatch(environ.get("PATH_INFO", ""))
        if match is None:
            return self.app(environ, start_response)
        answer = self._answer(environ, {k: v for k, v in match.groupdict().items() if v is not None})
        if answer is None:
            return self.app(environ, start_response)
        status, headers, body = answer
        origin = environ.get("HTTP_ORIGIN")
        headers["Access-Control-Allow-Origin"] = origin or "*"
        headers["Access-Control-Expose-Headers"] = self.expose
        if body or status == 200:
            headers["Content-Length"] = str(len(body))
        listed = list(headers.items())
        if origin:  # Flask-CORS adds its own Vary header when it echoes an origin
            listed.append(("Vary", "Origin"))
        start_response(f"{status} {HTTP_STATUS_CODES[status].upper()}", listed)
        return [body]

    def _answer(self, environ: dict, params: dict[str, str]) -> tuple[int, dict[str, str], bytes] | None:
        """The API's answer; None when it refused the request or failed (Flask then answers it)."""
        headers = Headers((k[5:].replace("_", "-"), v) for k, v in environ.items() if k.startswith("HTTP_"))
        scheme = environ.get("wsgi.url_scheme", "http")
        host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME', '')}:{environ.get('SERVER_PORT', '')}"
        req = Request(method="GET", path=environ["PATH_INFO"], path_params=params, args=QueryArgs(), headers=headers,
                      body=b"", principal=None, base_url=f"{scheme}://{host}{environ.get('SCRIPT_NAME', '')}")
        s = self.state
        try:
            reg = take_registry(s)
        except Exception:  # the registry cannot be opened: Flask says so properly
            return None
        failed = True
        try:
            status, out, body = get_tile(Context(reg, s.config, s.plugins), req)
            failed = False
        except Exception:  # a refusal or a failure: Flask answers it, with its error document and log
            return None
        finally:
            give_back(s, reg, failed)
        return status, dict(out), body
