"""``POST /transactions``: a whole change set in one request, applied in one registry batch.

Modelled on the document approach of OGC API – Features' complex transactions (the notes behind
the draft Part 11, "Atomic and Batch Transactions", and WFS-T's Transaction): a JSON document of
``insert``, ``update`` and ``delete`` actions over any collections, with the outcome of each in the
answer. What Rallypoint adds, so a check-out's push is safe to send again:

* each update and delete names the version it was made on (``baseVersion``, as ``If-Match`` does for
  one feature: without it the document is refused with 428); a feature changed since is a
  ``conflict``, never overwritten; a feature the registry's rules refuse is ``refused`` with the
  rule's message;
* ``semantic``: ``batch`` writes the rest in one transaction; ``atomic`` (the default, as in the
  notes) writes nothing unless every action goes in (then 409);
* ``id`` is chosen by the client (a push id, 8–64 of ``A-Za-z0-9._-``) and written into the note of
  every history row of the transaction: the same document sent again (its answer was lost) finds
  them, and those actions are ``already-applied``, with the feature as they left it; nothing is
  written twice. Inserts carry their feature's UUID (``id``) for the same reason.

The work is :func:`rallypoint.registry.changes.apply_change_set`, which a direct push runs too.
Needs an editor's key; the key's holder is the author in the history.

.. code-block:: json

    {"id": "3f0c9a…", "semantic": "batch", "comment": "pushed from field.gpkg",
     "actions": [
       {"action": "insert", "collection": "helipads", "id": "<uuid>", "item": {"type": "Feature", …}},
       {"action": "update", "collection": "shelters", "id": "<uuid>", "baseVersion": 3,
        "item": {"type": "Feature", "properties": {"occupancy": 35}}},
       {"action": "delete", "collection": "teams", "id": "<uuid>", "baseVersion": 7}]}
"""

from __future__ import annotations

from typing import Any

import orjson

from ...registry.changes import PUSH_ID, SEMANTICS, ChangeRequest, apply_change_set
from ..auth import require
from ..context import Context
from ..errors import BadRequest, NotFound, PayloadTooLarge, PreconditionRequired, UnsupportedMediaType
from ..etags import feature_etag
from ..request import Request, check_params
from ..responses import JSON, Response, json_response
from .collections import layer_of, read_only
from .transactions import _geometry

_KINDS = {"insert": "new", "update": "changed", "delete": "retired"}
_DONE = {"new": "inserted", "changed": "updated", "retired": "deleted"}
_OUTCOMES = {"already": "already-applied", "conflict": "conflict", "refused": "refused", "missing": "not-found",
             "not-applied": "not-applied"}
_MEDIA = ("application/json", "application/ogc-tx+json")
MAX_ACTIONS = 100_000


def _document(ctx: Context, req: Request) -> dict[str, Any]:
    if len(req.body) > ctx.config.max_transaction_bytes:
        raise PayloadTooLarge(f"the transaction is {len(req.body):,} bytes; at most "
                              f"{ctx.config.max_transaction_bytes:,} are accepted (send it in parts, each under "
                              "its own id)")
    media = (req.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media not in _MEDIA:
        got = media or "a body without Content-Type"
        raise UnsupportedMediaType(f"send the transaction as application/json, not {got}")
    try:
        doc = orjson.loads(req.body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise BadRequest("the body must be a transaction: a JSON object with 'id' and 'actions'")
    unknown = sorted(set(doc) - {"id", "semantic", "comment", "actions"})
    if unknown:
        raise BadRequest(f"unknown member(s) of the transaction: {', '.join(unknown)}")
    if not isinstance(doc.get("id"), str) or not PUSH_ID.fullmatch(doc["id"]):
        raise BadRequest("'id' must be the transaction's own id, chosen by the client and sent again unchanged "
                         "with a retry: 8 to 64 letters, digits, '.', '_' or '-'")
    if doc.get("semantic", "atomic") not in SEMANTICS:
        raise BadRequest(f"'semantic' must be one of {', '.join(SEMANTICS)}, not {doc.get('semantic')!r}")
    comment = doc.get("comment", "written through the API")
    if not isinstance(comment, str) or not comment.strip() or len(comment) > 200:
        raise BadRequest("'comment' must be a text of 1 to 200 characters (it is kept in the history)")
    actions = doc.get("actions")
    if not isinstance(actions, list) or not actions or len(actions) > MAX_ACTIONS:
        raise BadRequest(f"'actions' must be a list of 1 to {MAX_ACTIONS:,} actions")
    return doc


def _change(ctx: Context, req: Request, i: int, action: Any) -> ChangeRequest:
    where = f"action {i}"
    if not isinstance(action, dict):
        raise BadRequest(f"{where}: must be a JSON object")
    unknown = sorted(set(action) - {"action", "collection", "id", "baseVersion", "item"})
    if unknown:
        raise BadRequest(f"{where}: unknown member(s) {', '.join(unknown)}")
    kind = _KINDS.get(action.get("action"))
    if kind is None:
        raise BadRequest(f"{where}: 'action' must be insert, update or delete, not {action.get('action')!r}")
    try:
        layer = layer_of(ctx, str(action.get("collection")))
    except NotFound as exc:  # a word of the document, not the URL: a bad request
        raise BadRequest(f"{where}: {exc.description}") from None
    if read_only(layer):
        raise BadRequest(f"{where}: collection {layer.name} is read-only (reference data loaded whole)")
    uid = action.get("id")
    if not isinstance(uid, str) or not uid:
        raise BadRequest(f"{where}: 'id' must be the feature's UUID (an insert names it too, so that a retry "
                         "does not add it twice)")
    version = action.get("baseVersion")
    if kind == "new":
        if version is not None:
            raise BadRequest(f"{where}: an insert has no baseVersion")
    elif version is None:
        raise PreconditionRequired(f"{where} ({action['action']} of {layer.name} {uid}) needs the version it was made "
                                   "on, so that a change made since is never overwritten: send 'baseVersion' (the "
                                   "version in the feature's ETag, \"<uuid>-v<version>\")")
    elif not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise BadRequest(f"{where}: 'baseVersion' must be a whole number from 1, not {version!r}")
    item = action.get("item")
    if kind == "retired":
        if item is not None:
            raise BadRequest(f"{where}: a delete takes no item")
        return ChangeRequest(layer.name, uid, kind, version)
    if not isinstance(item, dict) or item.get("type", "Feature") != "Feature":
        raise BadRequest(f"{where}: 'item' must be a GeoJSON Feature")
    if item.get("id") not in (None, uid):
        raise BadRequest(f"{where}: the item's id {item['id']!r} is not the action's id {uid}")
    props = item.get("properties") or {}
    if not isinstance(props, dict):
        raise BadRequest(f"{where}: the item's 'properties' must be a JSON object")
    if "uuid" in props and props["uuid"] != uid:
        raise BadRequest(f"{where}: the item's uuid {props['uuid']!r} is not the action's id {uid}")
    props = {k: v for k, v in props.items() if k != "uuid"}
    try:
        geom = _geometry(req, layer, item)
    except BadRequest as exc:
        raise BadRequest(f"{where}: {exc.description}") from None
    return ChangeRequest(layer.name, uid, kind, version, props, geom)


def post_transaction(ctx: Context, req: Request) -> Response:
    """Apply a transaction document (see the module's description); 200 with each action's outcome (409 when an
    atomic one wrote nothing)."""
    principal = require(req.principal, "editor", "a transaction")
    check_params(req, ())
    doc = _document(ctx, req)
    changes = [_change(ctx, req, i, a) for i, a in enumerate(doc["actions"])]
    seen: set[tuple[str, str]] = set()
    for i, c in enumerate(changes):
        if (c.layer, c.uuid) in seen:
            raise BadRequest(f"action {i}: {c.layer} {c.uuid} is changed by an earlier action of the transaction; "
                             "send one action per feature")
        seen.add((c.layer, c.uuid))
    semantic = doc.get("semantic", "atomic")
    outcomes = apply_change_set(ctx.registry, changes, author=principal.name, note=doc.get("comment", "written "
                                "through the API"), push_id=doc["id"], semantic=semantic)
    results, summary = [], {"totalInserted": 0, "totalUpdated": 0, "totalDeleted": 0, "alreadyApplied": 0,
                            "conflicts": 0, "refused": 0, "notFound": 0, "notApplied": 0}
    for action, c, o in zip(doc["actions"], changes, outcomes):
        outcome = _DONE[c.kind] if o.outcome == "applied" else _OUTCOMES[o.outcome]
        key = {"inserted": "totalInserted", "updated": "totalUpdated", "deleted": "totalDeleted",
               "already-applied": "alreadyApplied", "conflict": "conflicts", "refused": "refused",
               "not-found": "notFound", "not-applied": "notApplied"}[outcome]
        summary[key] += 1
        r: dict[str, Any] = {"action": action["action"], "collection": c.layer, "id": c.uuid, "outcome": outcome,
                             "version": o.version}
        if o.version is not None and c.kind != "retired" and o.outcome in ("applied", "already"):
            r["etag"] = feature_etag(c.uuid, o.version)
        if o.message:
            r["message"] = o.message
        if o.problems:
            r["problems"] = [{"field": p.field, "message": p.message} for p in o.problems]
        if o.feature is not None:
            r["feature"] = o.feature.to_geojson()
        results.append(r)
    written = any(o.outcome == "applied" for o in outcomes)
    status = 409 if semantic == "atomic" and not written and any(
        o.outcome in ("conflict", "refused", "missing") for o in outcomes) else 200
    return json_response({"id": doc["id"], "semantic": semantic, "committed": written, "summary": summary,
                          "results": results}, status=status, media_type=JSON)


def paths() -> dict[str, Any]:
    """This endpoint in the API document (:mod:`rallypoint.api.openapi`)."""
    action = {"type": "object", "required": ["action", "collection", "id"], "additionalProperties": False,
              "properties": {"action": {"type": "string", "enum": list(_KINDS)}, "collection": {"type": "string"},
                             "id": {"type": "string"}, "baseVersion": {"type": "integer", "minimum": 1},
                             "item": {"type": "object"}}}
    doc = {"type": "object", "required": ["id", "actions"], "additionalProperties": False,
           "properties": {"id": {"type": "string", "pattern": PUSH_ID.pattern.join("^$")},
                          "semantic": {"type": "string", "enum": list(SEMANTICS), "default": "atomic"},
                          "comment": {"type": "string", "minLength": 1, "maxLength": 200},
                          "actions": {"type": "array", "minItems": 1, "maxItems": MAX_ACTIONS, "items": action}}}
    answer = {"type": "object", "properties": {"id": {"type": "string"}, "semantic": {"type": "string"},
                                               "committed": {"type": "boolean"}, "summary": {"type": "object"},
                                               "results": {"type": "array", "items": {"type": "object"}}}}
    exception = {"$ref": "#/components/schemas/exception"}
    return {"/transactions": {"post": {
        "summary": "A change set in one request (insert, update, delete over any collections), in one registry "
                   "batch, each update and delete on its baseVersion; sent again under the same id, it lands once",
        "operationId": "postTransaction", "security": [{"bearer": []}, {"apiKey": []}],
        "requestBody": {"required": True, "content": {m: {"schema": doc} for m in _MEDIA}},
        "responses": {"200": {"description": "Each action's outcome (inserted, updated, deleted, already-applied, "
                                             "conflict, refused, not-found).", "content": {JSON: {"schema": answer}}},
                      "409": {"description": "An atomic transaction wrote nothing: each action's outcome.",
                              "content": {JSON: {"schema": answer}}},
                      "428": {"description": "An update or delete without baseVersion.",
                              "content": {JSON: {"schema": exception}}}}}}}
