"""Plugins' own endpoints (:class:`~rallypoint.web_endpoints.Endpoint`), called like the API's functions.

The handler gets a plain mapping (``method``, ``path``, ``args``, ``json``, ``headers``,
``path_params``, plus ``body``, ``principal``, ``personal`` and ``registry``) and returns
``(status, headers, body)``; a body that is not bytes or text is sent as JSON. ``personal`` says
whether the caller may see personal-data fields, decided as for every other route
(:func:`.auth.sees_personal_data`). Reading endpoints are open to anyone; any other method needs an
editor's key, so a plugin cannot open a write path by accident.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from ..web_endpoints import Endpoint
from .auth import require, sees_personal_data
from .context import Context
from .errors import BadRequest
from .request import Request
from .responses import Response, dumps

_PARAM = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)}")


def flask_rule(path: str) -> str:
    """``/plugins/demo/{name}`` → ``/plugins/demo/<name>``."""
    return _PARAM.sub(r"<\1>", path)


def call(ctx: Context, req: Request, endpoint: Endpoint) -> Response:
    role = endpoint.needed_role()
    if role:
        require(req.principal, role, f"{req.method} {endpoint.path}")
    payload: Any = None
    if req.body:
        if len(req.body) > ctx.config.max_body_bytes:
            from .errors import PayloadTooLarge

            raise PayloadTooLarge(f"the body is {len(req.body):,} bytes; at most {ctx.config.max_body_bytes:,}")
        if "json" in (req.headers.get("content-type") or ""):
            try:
                payload = orjson.loads(req.body)
            except orjson.JSONDecodeError as exc:
                raise BadRequest(f"the body is not valid JSON: {exc}") from None
    p = req.principal
    mapping = {
        "method": req.method, "path": req.path, "path_params": dict(req.path_params),
        "args": {k: req.args.get(k) for k in req.args}, "json": payload, "body": req.body,
        "headers": dict(req.headers), "principal": None if p is None else {"name": p.name, "role": p.role},
        "personal": sees_personal_data(p),
        "registry": ctx.registry,
    }
    status, headers, body = endpoint.handler(mapping)
    out = {str(k): str(v) for k, v in dict(headers or {}).items()}
    if isinstance(body, bytes):
        data = body
    elif isinstance(body, str):
        data = body.encode("utf-8")
        out.setdefault("Content-Type", "text/plain; charset=utf-8")
    elif body is None:
        data = b""
    else:
        data = dumps(body)
        out.setdefault("Content-Type", "application/json")
    return int(status), out, data
