"""Building ``(status, headers, body)`` answers: JSON through orjson, HTML, links."""

from __future__ import annotations

from typing import Any

import orjson

Response = tuple[int, dict[str, str], bytes]

JSON = "application/json"
GEOJSON = "application/geo+json"
HTML = "text/html"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"

# Representations differ by key or signed-in session (personal fields), format and compression.
VARY = "Accept, Authorization, X-API-Key, Cookie"


def dumps(data: Any) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)


def json_response(data: Any, *, status: int = 200, media_type: str = JSON,
                  headers: dict[str, str] | None = None) -> Response:
    h = {"Content-Type": media_type, "Vary": VARY}
    h.update(headers or {})
    return status, h, dumps(data)


def html_response(text: str, *, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    h = {"Content-Type": "text/html; charset=utf-8", "Vary": VARY}
    h.update(headers or {})
    return status, h, text.encode("utf-8")


def empty_response(status: int, headers: dict[str, str] | None = None) -> Response:
    return status, dict(headers or {}), b""


def link(href: str, rel: str, type_: str | None = None, title: str | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"href": href, "rel": rel}
    if type_:
        out["type"] = type_
    if title:
        out["title"] = title
    out.update(extra)
    return out


def self_and_alternates(req, path: str, current: str, *, json_type: str = JSON, title: str = "",
                        query: str = "") -> list[dict[str, Any]]:
    """``self`` for the format being answered, ``alternate`` for the other one, both with types."""
    from .request import QueryArgs

    args = QueryArgs.parse(query) if query else req.args
    out = []
    for fmt, media in (("json", json_type), ("html", HTML)):
        href = req.url(path, args.encode(f=fmt))
        rel = "self" if fmt == current else "alternate"
        out.append(link(href, rel, media, f"{title} ({'JSON' if fmt == 'json' else 'HTML'})".strip()))
    return out
