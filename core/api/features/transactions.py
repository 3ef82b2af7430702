"""Part 4: create (POST), replace (PUT), update (PATCH) and delete (DELETE = retire) features.

Every write goes through the registry with ``expected_version`` and the API key owner's
name as the author, so it is checked, stamped and kept in the history like any other.
A change to a feature (PUT, PATCH, DELETE) must carry the ETag it read as ``If-Match``: without
one, or with ``*``, it is refused with 428 (it would overwrite whatever another client wrote
meanwhile: a lost update); with a stale one, 412. Creation (POST) needs none.
The registry never hard-deletes: DELETE retires the feature (it can be restored).
Geometries arrive in CRS84 unless a ``Content-Crs`` header names another offered CRS.
"""

from __future__ import annotations

from typing import Any, Callable

import orjson
import shapely.geometry

from ...errors import FeatureNotFoundError
from ...geometry import coordinate_problem
from ...registry import Batch, Feature
from ...schema import LayerDef
from .. import crs as crsmod
from ..auth import require
from .collections import layer_of, read_only
from ..context import Context
from ..errors import (BadRequest, MethodNotAllowed, NotFound, PayloadTooLarge, PreconditionFailed, PreconditionRequired,
                      UnsupportedMediaType)
from ..etags import feature_etag, matching_versions
from .items import read_feature
from ..request import Request, check_params
from ..responses import GEOJSON, Response, empty_response, json_response

_MEDIA = ("application/json", "application/geo+json", "application/merge-patch+json")


def _writable(ctx: Context, req: Request, action: str) -> tuple[LayerDef, str]:
    layer = layer_of(ctx, req.path_params["collection_id"])
    if read_only(layer):
        allowed = ["GET", "HEAD", "OPTIONS"]
        raise MethodNotAllowed(f"collection {layer.name} is read-only (reference data loaded whole); "
                               f"{req.method} is not allowed", allowed)
    principal = require(req.principal, "editor", f"{action} a feature of {layer.name}")
    return layer, principal.name


def _body(ctx: Context, req: Request, *, partial: bool) -> dict[str, Any]:
    if len(req.body) > ctx.config.max_body_bytes:
        raise PayloadTooLarge(f"the body is {len(req.body):,} bytes; at most {ctx.config.max_body_bytes:,} are accepted")
    media = (req.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media not in _MEDIA:
        raise UnsupportedMediaType(f"send the feature as application/geo+json (or application/json), "
                                   f"not {media or 'a body without Content-Type'}")
    try:
        data = orjson.loads(req.body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a GeoJSON Feature (a JSON object)")
    if data.get("type", "Feature" if partial else None) != "Feature":
        raise BadRequest(f"the body must be a GeoJSON Feature (\"type\": \"Feature\"), not {data.get('type')!r}")
    unknown = sorted(set(data) - {"type", "id", "geometry", "properties", "links", "bbox"})
    if unknown:
        raise BadRequest(f"unknown member(s) of the Feature: {', '.join(unknown)} (put fields in 'properties')")
    props = data.get("properties")
    if props is None:
        data["properties"] = {}
    elif not isinstance(props, dict):
        raise BadRequest("'properties' must be a JSON object of field: value")
    return data


def _geometry(req: Request, layer: LayerDef, data: dict[str, Any]):
    """The body's geometry in storage coordinates (None if absent or null)."""
    raw = data.get("geometry")
    if raw is None:
        return None
    if not layer.has_geometry:
        raise BadRequest(f"collection {layer.name} has no geometry; send \"geometry\": null")
    wrong = coordinate_problem(raw)
    if wrong:  # shapely would read "104.06" as 104.06 without a word
        raise BadRequest(f"{wrong} (GeoJSON coordinates are numbers)")
    try:
        geom = shapely.geometry.shape(raw)
    except Exception as exc:  # noqa: BLE001 (shapely raises several kinds for bad GeoJSON)
        raise BadRequest(f"cannot read the geometry: {exc or type(exc).__name__}") from None
    content_crs = crsmod.find(req.headers.get("content-crs"), "Content-Crs")
    try:
        return content_crs.geometry_in(geom)
    except Exception as exc:  # noqa: BLE001 (PROJ and shapely raise several kinds)
        raise BadRequest(f"cannot convert the geometry from {content_crs.uri}: {exc}") from None


def _current(ctx: Context, layer: LayerDef, uuid: str) -> Feature:
    try:
        feat = ctx.registry.get(layer.name, uuid)
    except FeatureNotFoundError:
        feat = None
    if feat is None or feat.retired:
        raise NotFound(f"collection {layer.name} has no feature {uuid!r} in use")
    return feat


def _check_if_match(req: Request, feat: Feature) -> int:
    header = (req.headers.get("if-match") or "").strip()
    if not header or header == "*":
        path = req.url(f"/collections/{feat.layer}/items/{feat.uuid}")
        raise PreconditionRequired(
            f"{req.method} of {feat.layer} {feat.uuid} needs the version it changes, so that a change made since "
            f"you read it is never overwritten: GET {path}, and send its ETag header "
            f"(\"{feat.uuid}-v<version>\") back as If-Match"
            + (" (If-Match: * matches any version and is not accepted)" if header == "*" else ""))
    versions = matching_versions(header, feat.uuid)
    if versions is not None and feat.version not in versions:
        raise PreconditionFailed(f"{feat.layer} {feat.uuid} is now at version {feat.version}; "
                                 f"If-Match names version(s) {', '.join(map(str, sorted(versions)))}")
    return feat.version


def _changes(layer: LayerDef, feat: Feature, props: dict[str, Any]) -> dict[str, Any]:
    """What a client sent, less the registry's stamps when they equal the stored ones (a GET sent back)."""
    out = {}
    for k, v in props.items():
        if layer.has_field(k) and layer.field(k).system and feat.properties.get(k) == v:
            continue
        out[k] = v
    return out


def _check_id(data: dict[str, Any], uuid: str) -> None:
    if data.get("id") not in (None, uuid):
        raise BadRequest(f"the body's id {data['id']!r} is not the feature's id {uuid}")


def _write(ctx: Context, layer: LayerDef, author: str, note: str | None,
           write: Callable[[Batch], str | None]) -> dict[str, Any]:
    """Run ``write`` (which returns the UUID it wrote) in one batch, and read the feature it wrote in the same transaction.

    Read after the commit, another client's write to the same feature could come in
    between: the answer and its ETag would name that client's version, and a PATCH sent
    with it as If-Match would overwrite a change its sender never saw.
    """
    with ctx.registry.batch(author=author, note=note) as b:
        uuid = write(b)
        if b.problems:
            return {}  # the batch refuses everything on leaving (ValidationError)
        return read_feature(ctx, layer, uuid, personal=True, crs=crsmod.DEFAULT)


def _answer(feature: dict[str, Any], status: int = 200, extra: dict[str, str] | None = None) -> Response:
    headers = {"ETag": feature_etag(feature["id"], feature["properties"]["version"]),
               "Content-Crs": crsmod.DEFAULT.header}
    headers.update(extra or {})
    return json_response(feature, status=status, media_type=GEOJSON, headers=headers)


def create_item(ctx: Context, req: Request) -> Response:
    layer, author = _writable(ctx, req, "adding")
    check_params(req, ())
    data = _body(ctx, req, partial=False)
    props = dict(data["properties"])
    if data.get("id") is not None:
        if props.get("uuid") not in (None, data["id"]):
            raise BadRequest(f"the body's id {data['id']!r} and its uuid property {props['uuid']!r} differ")
        props["uuid"] = data["id"]
    geom = _geometry(req, layer, data)
    feature = _write(ctx, layer, author, "added through the API", lambda b: b.add(layer.name, props, geom))
    location = req.url(f"/collections/{layer.name}/items/{feature['id']}")
    return _answer(feature, 201, {"Location": location})


def _target(ctx: Context, req: Request, doing: str) -> tuple[LayerDef, str, str, Feature, int]:
    """What every write to one feature checks first: role, parameters, the feature in use, If-Match."""
    layer, author = _writable(ctx, req, doing)
    check_params(req, ())
    uuid = req.path_params["feature_id"]
    feat = _current(ctx, layer, uuid)
    return layer, author, uuid, feat, _check_if_match(req, feat)


def _updated(feat: Feature | None, uuid: str) -> str | None:
    return None if feat is None else uuid


def replace_item(ctx: Context, req: Request) -> Response:
    layer, author, uuid, feat, version = _target(ctx, req, "replacing")
    data = _body(ctx, req, partial=False)
    _check_id(data, uuid)
    given = _changes(layer, feat, data["properties"])
    changes = {f.name: None for f in layer.editable_fields}  # PUT replaces: what is not sent is cleared
    changes.update(given)
    geom = _geometry(req, layer, data)
    if layer.has_geometry and geom is None:
        raise BadRequest("a geometry is required: PUT replaces the whole feature (use PATCH to change only some "
                         "properties)")
    return _answer(_write(ctx, layer, author, None, lambda b: _updated(
        b.update(layer.name, uuid, changes, geom, expected_version=version, note="replaced through the API"), uuid)))


def update_item(ctx: Context, req: Request) -> Response:
    layer, author, uuid, feat, version = _target(ctx, req, "changing")
    data = _body(ctx, req, partial=True)
    _check_id(data, uuid)
    changes = _changes(layer, feat, data["properties"])
    geom = _geometry(req, layer, data)
    if not changes and geom is None:
        raise BadRequest("nothing to change: send 'properties' and/or a 'geometry'")
    return _answer(_write(ctx, layer, author, None, lambda b: _updated(
        b.update(layer.name, uuid, changes, geom, expected_version=version, note="changed through the API"), uuid)))


def delete_item(ctx: Context, req: Request) -> Response:
    layer, author, uuid, _, version = _target(ctx, req, "retiring")
    ctx.registry.retire(layer.name, uuid, author=author, expected_version=version, reason="retired through the API")
    return empty_response(204)


def allowed_methods(ctx: Context, req: Request, *, item: bool) -> Response:
    """OPTIONS: the methods this collection really allows (clients such as QGIS ≥ 3.32 probe for POST)."""
    layer = layer_of(ctx, req.path_params["collection_id"])
    methods = ["GET", "HEAD", "OPTIONS"]
    if not read_only(layer):
        methods += ["PUT", "PATCH", "DELETE"] if item else ["POST"]
    return empty_response(204, {"Allow": ", ".join(methods)})
