"""Flask ⇄ API: a Flask request becomes an api :class:`~rallypoint.api.Request`, an api answer a Flask response.

Each request has its own registry connection in ``flask.g``, taken on first use and given
back in ``teardown_appcontext``; requests that do not need the registry never take one.
Opening a registry costs about 2 ms (SQLite parses the GeoPackage's schema on every new
connection, and closing the last one checkpoints the WAL), as much as a whole page of 100
features: so, unless ``RALLYPOINT_REUSE_CONNECTIONS`` is false, a connection given back
is kept for the next request *of the same thread* (a connection is never shared across
threads, and never used by two requests at once). It is closed instead after an error,
inside an unfinished transaction, or when the registry file was replaced meanwhile. A PostGIS
registry (``postgresql://`` URL) is kept the same way; a kept connection whose server went
away (restart, terminated backend) is replaced by a new one before the request uses it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, current_app, g, request
from flask_wtf.csrf import generate_csrf

from ..api import Context, Headers, QueryArgs, Request
from ..api.auth import Principal, authenticate, key_from_headers
from ..api.sessions import session_principal
from ..registry import Registry
from .ratelimit import key_guard

#: the cookie of a signed-in browser (set and removed by :mod:`.session`)
SESSION_COOKIE = "rp_session"


def state():
    return current_app.extensions["rallypoint"]


def get_registry() -> Registry:
    if "registry" not in g:
        g.registry = take_registry(state())
    return g.registry


def take_registry(s) -> Registry:
    """This thread's kept registry connection (checked), else a new one."""
    kept = getattr(s.local, "registry", None) if s.reuse_connections else None
    if kept is not None:
        s.local.registry = None
        if kept.store.alive():
            return kept
        _close_quietly(kept)  # the file was replaced, or the database server ended the session
    return Registry.open(s.config.registry_path, plugins=s.plugins)


def give_back(s, reg: Registry, failed: bool) -> None:
    """Keep ``reg`` for this thread's next request, unless the request ``failed`` or left a transaction open."""
    if s.reuse_connections and not failed and not reg.store.in_transaction() and \
            getattr(s.local, "registry", None) is None:
        s.local.registry = reg
    else:
        _close_quietly(reg)


def _close_quietly(reg: Registry) -> None:
    try:
        reg.close()
    except Exception:  # a connection whose server went away may fail to close; it is dropped all the same
        pass


def close_registry(exc: BaseException | None = None) -> None:
    reg = g.pop("registry", None)
    if reg is not None:
        give_back(state(), reg, exc is not None)


def api_request(path_params: dict[str, Any]) -> Request:
    headers = Headers(request.headers.items())
    body = b""
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        body = request.get_data(cache=False)  # MAX_CONTENT_LENGTH stops an oversize body early (413)
    principal, csrf_token = _principal(headers)
    return Request(method=request.method, path=request.path, path_params={k: str(v) for k, v in path_params.items()},
                   args=QueryArgs(request.args.items(multi=True)), headers=headers, body=body, principal=principal,
                   base_url=request.url_root.rstrip("/"), csrf_token=csrf_token)


def _principal(headers: Headers) -> tuple[Principal | None, Callable[[], str] | None]:
    """Who asks: an API key's holder (a header), else a signed-in browser's (its session cookie), else nobody.
    A cookie that names no session in use (expired, ended, forged) counts for nothing and is removed."""
    key = key_from_headers(headers)
    if key is not None:
        return authenticate(get_registry(), key, key_guard()), None
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None, None
    principal = session_principal(get_registry(), token)
    if principal is None:
        g.stale_session = True
        return None, None
    g.session_principal = principal
    return principal, generate_csrf


def flask_response(answer: tuple[int, dict[str, str], bytes]) -> Response:
    status, headers, body = answer
    resp = Response(body, status=status)
    for k, v in headers.items():
        resp.headers[k] = v
    if "Content-Type" not in headers and not body:
        resp.headers.pop("Content-Type", None)
    return resp


def handle(fn: Callable[[Context, Request], tuple[int, dict[str, str], bytes]], *, form: bool = False,
           **path_params: Any) -> Response:
    """Run one api function for the current Flask request; ``form``: it shows a form, which needs a CSRF token
    whoever asks (a signed-in browser's pages have one anyway)."""
    req = api_request(path_params)
    if form:
        req.csrf_token = generate_csrf
    s = state()
    return flask_response(fn(Context(get_registry(), s.config, s.plugins), req))
