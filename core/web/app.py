"""The Flask app factory: ``create_app(registry_path, config=None)`` (a file or a ``postgresql://`` URL).

Nothing is created at import time. The factory checks that the registry opens, builds
the plugin manager, registers the blueprints (features, processes, plugins' endpoints;
more, such as tiles, are added to :data:`BLUEPRINTS`), one error handler for every error,
gzip compression and CORS. Each request opens its own registry connection (see
:mod:`.adapter`).

Settings (``config`` keys, all optional): ``RALLYPOINT_DEFAULT_LIMIT`` (100),
``RALLYPOINT_REUSE_CONNECTIONS`` (True: see :mod:`.adapter`),
``RALLYPOINT_TILE_SHORTCUT`` (True: anonymous tiles are answered without Flask's request, see :mod:`.shortcut`),
``RALLYPOINT_MAX_LIMIT`` (10000), ``RALLYPOINT_MAX_BODY`` (bytes, 1 MB),
``RALLYPOINT_MAX_TRANSACTION_BODY`` (bytes of a ``POST /transactions``, 64 MB),
``RALLYPOINT_JOBS_DIR``, ``RALLYPOINT_JOB_TTL_HOURS`` (a week), ``RALLYPOINT_TITLE``, ``RALLYPOINT_PLUGINS`` (a plugin manager),
the job engine's ``RALLYPOINT_JOBS_SCHEDULER`` (a Dask scheduler's address; by default the environment's
``RALLYPOINT_DASK_SCHEDULER``) or ``RALLYPOINT_JOBS_SCHEDULER_FILE`` (the local cluster of ``rallypoint serve``;
with neither, analyses run inside the request) and ``RALLYPOINT_SYNC_SECONDS`` (10: see
:mod:`rallypoint.api.processes`),
the rate limits' ``RALLYPOINT_RATELIMIT_*`` (see :mod:`.ratelimit`), the sessions' ``RALLYPOINT_SESSION_*``
and ``SECRET_KEY`` (see :mod:`.session`),
and any Flask, Flask-Compress, Flask-CORS or Flask-Limiter setting.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask
from werkzeug.exceptions import HTTPException

from ..api import ApiConfig
from ..api.config import (DEFAULT_LIMIT, JOB_TTL_HOURS, MAX_BODY_BYTES, MAX_LIMIT, MAX_TRANSACTION_BYTES,
                          SYNC_SECONDS)
from ..api.errors import error_body
from ..api.responses import dumps
from ..errors import RallypointError
from ..jobs.engine import SCHEDULER_ENV
from ..registry import Registry
from ..storage import backend_for
from .adapter import close_registry
from .ratelimit import init_limiter
from .routes import (features_blueprint, map_blueprint, plugin_endpoints_blueprint, portal_blueprint,
                     processes_blueprint, tiles_blueprint)
from .session import browser_answer, init_sessions
from .shortcut import TileShortcut

log = logging.getLogger("rallypoint.web")

#: Blueprint factories registered on every app, in order (the plugin endpoints come last).
BLUEPRINTS: list[Callable[[], Blueprint]] = [features_blueprint, processes_blueprint, tiles_blueprint, map_blueprint,
                                             portal_blueprint]

_COMPRESSED = ["application/json", "application/geo+json", "application/vnd.oai.openapi+json;version=3.0",
               "text/html", "text/plain", "text/javascript", "application/javascript", "text/css"]


@dataclass(frozen=True)
class State:
    config: ApiConfig
    plugins: Any
    reuse_connections: bool = True
    local: threading.local = field(default_factory=threading.local)  # this thread's kept connection


def create_app(registry_path: str | Path, config: Mapping[str, Any] | None = None) -> Flask:
    """The app serving the registry at ``registry_path``: a GeoPackage file, or a PostGIS ``postgresql://`` URL."""
    from flask_compress import Compress
    from flask_cors import CORS

    from ..plugins import default_plugin_manager

    cfg = dict(config or {})
    path = backend_for(registry_path).absolute  # a file's absolute path, a URL as given
    plugins = cfg.pop("RALLYPOINT_PLUGINS", None) or default_plugin_manager()
    with Registry.open(path, plugins=plugins):  # fail now, with a clear message, not on the first request
        pass
    api_config = ApiConfig(
        registry_path=path,
        default_limit=int(cfg.get("RALLYPOINT_DEFAULT_LIMIT", DEFAULT_LIMIT)),
        max_limit=int(cfg.get("RALLYPOINT_MAX_LIMIT", MAX_LIMIT)),
        max_body_bytes=int(cfg.get("RALLYPOINT_MAX_BODY", MAX_BODY_BYTES)),
        max_transaction_bytes=int(cfg.get("RALLYPOINT_MAX_TRANSACTION_BODY", MAX_TRANSACTION_BYTES)),
        jobs_dir=Path(cfg["RALLYPOINT_JOBS_DIR"]) if cfg.get("RALLYPOINT_JOBS_DIR") else None,
        job_ttl_hours=float(cfg.get("RALLYPOINT_JOB_TTL_HOURS", JOB_TTL_HOURS)),
        title=cfg.get("RALLYPOINT_TITLE"),
        jobs_scheduler=cfg.get("RALLYPOINT_JOBS_SCHEDULER") or os.environ.get(SCHEDULER_ENV) or None,
        jobs_scheduler_file=Path(cfg["RALLYPOINT_JOBS_SCHEDULER_FILE"]) if cfg.get("RALLYPOINT_JOBS_SCHEDULER_FILE")
        else None,
        sync_seconds=float(cfg.get("RALLYPOINT_SYNC_SECONDS", SYNC_SECONDS)),
    )
    # static/: the map page's script, and MapLibre GL JS that `make setup` copies in from npm (static/vendor/)
    app = Flask("rallypoint.web", static_folder="static", static_url_path="/static")
    app.config.update(
        MAX_CONTENT_LENGTH=api_config.max_body_bytes,
        JSON_AS_ASCII=False,
        COMPRESS_ALGORITHM=["gzip"],
        COMPRESS_ALGORITHM_STREAMING=["gzip"],  # static files (MapLibre GL JS: 1 MB, 0.3 MB gzipped) are streamed
        # zlib level 1: a page of 100 features (78 KB) compresses to 10.3 KB in 0.39 ms; level 5 gives
        # 9.0 KB in 0.78 ms, which was a third of a request's whole time. Override with COMPRESS_LEVEL.
        COMPRESS_LEVEL=1,
        COMPRESS_MIMETYPES=_COMPRESSED,
        COMPRESS_EVALUATE_CONDITIONAL_REQUEST=False,  # the api answers 304 itself
        CORS_EXPOSE_HEADERS=["ETag", "Location", "Content-Crs", "Link"],
    )
    app.config.update(cfg)
    app.url_map.strict_slashes = False
    app.extensions["rallypoint"] = State(api_config, plugins, bool(cfg.get("RALLYPOINT_REUSE_CONNECTIONS", True)))
    for factory in BLUEPRINTS:
        app.register_blueprint(factory())
    app.register_blueprint(plugin_endpoints_blueprint(plugins.collect("rallypoint_web_endpoints")))
    app.teardown_appcontext(close_registry)
    app.before_request(_static_etags)
    app.register_error_handler(Exception, _error)
    init_sessions(app, cfg, api_config.job_root())  # sign-in forms, session cookies, CSRF (see .session)
    Compress(app)
    CORS(app)
    init_limiter(app, cfg, api_config.job_root())
    if cfg.get("RALLYPOINT_TILE_SHORTCUT", True):
        app.wsgi_app = TileShortcut(app.wsgi_app, app.extensions["rallypoint"],  # type: ignore[method-assign]
                                    app.config["CORS_EXPOSE_HEADERS"])
    return app


def _static_etags() -> None:
    """Static files revalidate (304) although gzipped: Flask-Compress appends ``:gzip`` to the tags it
    compresses, and Flask's own check of ``If-None-Match`` for static files must see the tag it made."""
    from flask import request

    if request.endpoint == "static" and "HTTP_IF_NONE_MATCH" in request.environ:
        request.environ["HTTP_IF_NONE_MATCH"] = re.sub(r':(gzip)"', '"', request.environ["HTTP_IF_NONE_MATCH"])
        request.__dict__.pop("if_none_match", None)  # werkzeug caches the parsed header


def _error(exc: Exception):
    from flask import Response

    shown = browser_answer(exc)  # a person in a browser: the sign-in page rather than JSON
    if shown is not None:
        return shown
    if isinstance(exc, HTTPException):
        status = exc.code or 500
        body = {"code": exc.name.replace(" ", ""), "description": exc.description or exc.name}
        headers = {}
        if status == 413:
            from flask import request

            body["code"] = "PayloadTooLarge"
            body["description"] = f"the body is larger than the {request.max_content_length:,} bytes accepted"
        if status == 405 and getattr(exc, "valid_methods", None):
            headers["Allow"] = ", ".join(exc.valid_methods)
        if status == 429:  # Flask-Limiter's; it adds Retry-After to the response
            body["code"] = "TooManyRequests"
    else:
        status, headers, body = error_body(exc)
        if status >= 500 and not getattr(exc, "public", False):  # (a public one says what happened itself)
            log.exception("internal error", exc_info=exc)
        elif not isinstance(exc, RallypointError):
            log.warning("unexpected error: %s", exc)
    resp = Response(dumps(body), status=status, mimetype="application/json")
    for k, v in headers.items():
        resp.headers[k] = v
    return resp
