"""``/conflicts``: the merge conflicts a registry holds, listed and resolved over HTTP (editors only).

A merge (``rallypoint merge``) that meets a feature both sides changed differently keeps ours in the
layer and theirs in ``rp_conflicts``; these endpoints are :meth:`Registry.conflicts` and
:meth:`Registry.resolve_conflict` (see :mod:`rallypoint.registry.conflicts`), as OGC-style JSON
with links, and HTML with ``f=html``. The states hold personal data: an editor's key is needed.

* ``GET /conflicts`` (``state=open``, the default, ``resolved`` or ``all``), ``GET /conflicts/{id}``: each
  conflict with its fields' base, ours (when merged), theirs and the feature's value now; one conflict
  answers the feature's current ETag.
* ``POST /conflicts/{id}/resolution`` with ``{"keep": "ours" | "theirs", "set": {field: value}}`` and
  ``If-Match`` naming the feature's version the choice was made on (428 without one, 412 when stale, as
  for any write): the chosen state is written as one new version (its history names the key's holder)
  and the conflict is marked resolved; 409 when it was resolved already.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..errors import FeatureNotFoundError
from ..registry import MergeConflict
from . import html
from .auth import require
from .context import Context
from .errors import BadRequest, NotFound, PayloadTooLarge, PreconditionRequired, UnsupportedMediaType
from .etags import feature_etag, matching_versions
from .features.collections import site_title
from .request import Request, check_params, output_format
from .responses import JSON, Response, json_response, link, self_and_alternates

STATES = {"open": False, "resolved": True, "all": None}


def _editor(req: Request, what: str) -> str:
    return require(req.principal, "editor", what).name


def _doc(ctx: Context, req: Request, c: MergeConflict) -> dict[str, Any]:
    doc = c.to_json()
    try:
        now = ctx.registry.get(c.layer, c.uuid)
    except FeatureNotFoundError:
        now = None
    doc["now"] = None if now is None else {
        "version": now.version, "retired": now.retired,
        "values": {f: (now.properties.get(f) if f != "geometry" else None) for f in c.fields}}
    base = f"/conflicts/{c.id}"
    doc["links"] = [link(req.url(base), "self", JSON, f"conflict {c.id}"),
                    link(req.url(base, "f=html"), "alternate", "text/html", f"conflict {c.id} (HTML)"),
                    link(req.url(f"/collections/{c.layer}/items/{c.uuid}"), "item", "application/geo+json",
                         "the feature as it stands")]
    if not c.resolved:
        doc["links"].append(link(req.url(base + "/resolution"), "resolution", JSON,
                                 'POST {"keep": "ours" | "theirs", "set": {...}} with If-Match'))
    return doc


def _number(req: Request) -> int:
    raw = req.path_params["conflict_id"]
    shown = raw if len(raw) <= 40 else raw[:40] + "…"
    digits = raw[1:] if raw.startswith("-") else raw
    # the length is looked at before int(): Python refuses to read a number of more than 4,300 digits
    if not digits.isascii() or not digits.isdigit() or len(digits) > 19 or not 0 < int(raw) < 2 ** 63:
        raise BadRequest(f"conflictId: {shown!r} is not a conflict number (a whole number from 1 to {2 ** 63 - 1})")
    return int(raw)


def _conflict(ctx: Context, req: Request) -> MergeConflict:
    try:
        return ctx.registry.conflict(_number(req))
    except FeatureNotFoundError:
        raise NotFound(f"no merge conflict {req.path_params['conflict_id']} in this registry") from None


def _crumbs(req: Request, *more: tuple[str, str]) -> list[tuple[str, str]]:
    return [(req.url("/"), "首页 Home"), (req.url("/conflicts", "f=html"), "合并冲突 Conflicts"), *more]


def list_conflicts(ctx: Context, req: Request) -> Response:
    check_params(req, ("f", "state"))  # a bad request is a 400 for everyone, before the key is asked for
    fmt = output_format(req)
    state = req.args.single("state") or "open"
    if state not in STATES:
        raise BadRequest(f"state must be open, resolved or all, not {state!r}")
    _editor(req, "listing merge conflicts")
    docs = [_doc(ctx, req, c) for c in ctx.registry.conflicts(resolved=STATES[state])]
    doc = {"conflicts": docs, "numberMatched": len(docs), "numberReturned": len(docs),
           "links": self_and_alternates(req, "/conflicts", fmt, title="Merge conflicts")}
    if fmt == "html":
        return html.render(req, "conflicts.html", site=site_title(ctx), doc=doc, state=state, crumbs=_crumbs(req),
                           json_href=req.url("/conflicts", req.args.encode(f="json")))
    return json_response(doc)


def get_conflict(ctx: Context, req: Request) -> Response:
    check_params(req, ("f",))
    fmt = output_format(req)
    _number(req)
    _editor(req, "reading a merge conflict")
    c = _conflict(ctx, req)
    doc = _doc(ctx, req, c)
    headers = {} if doc["now"] is None else {"ETag": feature_etag(c.uuid, doc["now"]["version"])}
    if fmt == "html":
        return html.render(req, "conflicts.html", site=site_title(ctx), doc={"conflicts": [doc]}, state=None,
                           crumbs=_crumbs(req, (req.url(f"/conflicts/{c.id}", "f=html"), f"#{c.id}")),
                           json_href=req.url(f"/conflicts/{c.id}", "f=json"), headers=headers)
    return json_response(doc, headers=headers)


def resolve(ctx: Context, req: Request) -> Response:
    check_params(req, ())
    _number(req)
    author = _editor(req, "resolving a merge conflict")
    c = _conflict(ctx, req)
    if len(req.body) > ctx.config.max_body_bytes:
        raise PayloadTooLarge(f"the body is {len(req.body):,} bytes; at most {ctx.config.max_body_bytes:,} are "
                              "accepted")
    media = (req.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media != "application/json":
        raise UnsupportedMediaType(f"send the resolution as application/json, not {media or 'no Content-Type'}")
    try:
        body = orjson.loads(req.body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict) or set(body) - {"keep", "set"}:
        raise BadRequest('the body must be {"keep": "ours" | "theirs", "set": {field: value, …}}')
    keep, values = body.get("keep"), body.get("set") or {}
    if keep not in (None, "ours", "theirs") or not isinstance(values, dict) or (keep is None and not values):
        raise BadRequest('say what to keep: "keep": "ours" or "theirs", and/or chosen values in "set"')
    header = (req.headers.get("if-match") or "").strip()
    if not header or header == "*":
        raise PreconditionRequired(
            f"resolving conflict {c.id} changes {c.layer} {c.uuid}: send If-Match with the feature's ETag as you "
            f"saw it (GET {req.url(f'/conflicts/{c.id}')} answers it in its ETag header), so that a change made "
            "since is never overwritten")
    versions = matching_versions(header, c.uuid) or set()
    try:
        now = ctx.registry.get(c.layer, c.uuid).version
    except FeatureNotFoundError:
        raise NotFound(f"merge conflict {c.id}: {c.layer} has no feature {c.uuid} any more") from None
    expected = now if now in versions else max(versions)  # a stale one: 412 from the registry, in the batch
    resolved, feat = ctx.registry.resolve_conflict(c.id, keep=keep or "ours", values=values, author=author,
                                                   expected_version=expected)
    doc = _doc(ctx, req, resolved)
    return json_response(doc, headers={"ETag": feature_etag(feat.uuid, feat.version)})


def paths() -> dict[str, Any]:
    """These endpoints in the API document (:mod:`rallypoint.api.openapi`)."""
    secured = [{"bearer": []}, {"apiKey": []}]
    cid = {"name": "conflictId", "in": "path", "required": True,
           "schema": {"type": "integer", "minimum": 1, "maximum": 2 ** 63 - 1}}
    f = {"$ref": "#/components/parameters/f"}
    ok = {"description": "OK", "content": {JSON: {"schema": {"type": "object"}}}}
    body = {"type": "object", "additionalProperties": False,
            "properties": {"keep": {"type": "string", "enum": ["ours", "theirs"]}, "set": {"type": "object"}}}
    exception = {"content": {JSON: {"schema": {"$ref": "#/components/schemas/exception"}}}}
    to_signin = {"description": "Without a key, a browser asking for the HTML page is sent to the sign-in page."}
    return {
        "/conflicts": {"get": {
            "summary": "Merge conflicts (editors): base, ours, theirs and now for each field in conflict",
            "operationId": "getConflicts", "security": secured,
            "parameters": [f, {"name": "state", "in": "query", "required": False,
                               "schema": {"type": "string", "enum": list(STATES), "default": "open"}}],
            "responses": {"200": ok, "303": to_signin}}},
        "/conflicts/{conflictId}": {"get": {
            "summary": "One merge conflict, with the feature's current ETag", "operationId": "getConflict",
            "security": secured, "parameters": [cid, f], "responses": {"200": ok, "303": to_signin}}},
        "/conflicts/{conflictId}/resolution": {"post": {
            "summary": "Resolve a merge conflict: keep ours, theirs or chosen values, as one new version",
            "operationId": "resolveConflict", "security": secured,
            "parameters": [cid, {"$ref": "#/components/parameters/ifMatch"}],
            "requestBody": {"required": True, "content": {JSON: {"schema": body}}},
            "responses": {"200": ok, "409": {"description": "Already resolved.", **exception},
                          "412": {"description": "The feature changed since the version If-Match names.",
                                  **exception},
                          "428": {"description": "No If-Match (or If-Match: *).", **exception}}}},
    }
