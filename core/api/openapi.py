"""``/api``: the OpenAPI 3.0 document, built from what this server really does.

Per collection paths (so each lists its own property filters, and writes only where they
are allowed). ``components.parameters.limit.schema`` carries the default and maximum page
size, which QGIS 3.22 reads as its page size.
"""

from __future__ import annotations

import re
from typing import Any

from .. import __version__
from ..schema import FieldDef, LayerDef
from ..validation import INT64_MAX, INT64_MIN, PROVINCE_PREFIXES
from . import conflicts
from . import crs as crsmod
from . import html
from .features import changes
from .features.collections import read_only, site_title
from .features.queryables import field_json_schema
from .context import Context
from .features.query import MAX_INT, filterable_fields
from .request import Request, check_params, output_format
from .responses import GEOJSON, JSON, OPENAPI, Response, json_response

HTML_MEDIA = "text/html"



def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/parameters/{name}"}


def _resp(description: str, media: str | None = None, schema: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description}
    if media:
        out["content"] = {media: {"schema": {"$ref": f"#/components/schemas/{schema}"} if schema else {}}}
    return out


_ERRORS = {"400": {"$ref": "#/components/responses/BadRequest"}, "404": {"$ref": "#/components/responses/NotFound"}}


def _components(ctx: Context) -> dict[str, Any]:
    query = {"in": "query", "required": False, "style": "form", "explode": False}
    return {
        "parameters": {
            "limit": {"name": "limit", **query, "description": "Features per page (above the maximum: clamped).",
                      "schema": {"type": "integer", "minimum": 1, "maximum": ctx.config.max_limit,
                                 "default": ctx.config.default_limit}},
            "offset": {"name": "offset", **query, "description": "Features to skip (paging).",
                       "schema": {"type": "integer", "minimum": 0, "maximum": MAX_INT, "default": 0}},
            "bbox": {"name": "bbox", **query, "description": "minx,miny,maxx,maxy in bbox-crs (default CRS84); "
                                                             "features without geometry (depot_stock) all match.",
                     "schema": {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}}},
            "bbox-crs": {"name": "bbox-crs", **query, "schema": {"type": "string", "format": "uri",
                                                                  "enum": list(crsmod.URIS)}},
            "crs": {"name": "crs", **query, "schema": {"type": "string", "format": "uri", "enum": list(crsmod.URIS)}},
            "datetime": {"name": "datetime", **query,
                         "description": "An instant or an interval (start/end, '..' for open) on updated_at; "
                                        "in a collection without it (admin_areas, population, roads) all match.",
                         "schema": {"type": "string"}},
            "f": {"name": "f", **query, "schema": {"type": "string", "enum": ["json", "html"]}},
            "filter": {"name": "filter", **query,
                       "description": "A CQL2 filter (Part 3) over the collection's queryables, e.g. "
                                      "status = 'open' AND S_INTERSECTS(geometry, BBOX(103.6,30.5,104.2,31.0)).",
                       "schema": {"type": "string"}},
            "filter-lang": {"name": "filter-lang", **query,
                            "description": "The encoding of filter. cql-text is the draft's name of cql2-text, "
                                           "which GDAL 3.6 sends (date-times may be quoted strings, ILIKE allowed).",
                            "schema": {"type": "string", "enum": ["cql2-text", "cql2-json", "cql-text"],
                                       "default": "cql2-text"}},
            "filter-crs": {"name": "filter-crs", **query,
                           "description": "The CRS of the filter's geometry literals (default CRS84).",
                           "schema": {"type": "string", "format": "uri", "enum": list(crsmod.URIS),
                                      "default": crsmod.CRS84}},
            "featureId": {"name": "featureId", "in": "path", "required": True,
                          "description": "The feature's UUID (the fid for reference layers).",
                          "schema": {"type": "string"}},
            "ifMatch": {"name": "If-Match", "in": "header", "required": True,
                        "description": "The feature's ETag as last read (GET the feature: its ETag header). "
                                       "Without it, or with *, the change is refused with 428; a stale one with "
                                       "412.",
                        "schema": {"type": "string"}},
        },
        "schemas": {
            "exception": {"type": "object", "required": ["code"],
                          "properties": {"code": {"type": "string"}, "description": {"type": "string"}}},
            "featureCollectionGeoJSON": {"type": "object", "required": ["type", "features"],
                                         "properties": {"type": {"type": "string", "enum": ["FeatureCollection"]},
                                                        "features": {"type": "array", "items": {"type": "object"}},
                                                        "numberMatched": {"type": "integer"},
                                                        "numberReturned": {"type": "integer"},
                                                        "links": {"type": "array", "items": {"type": "object"}}}},
            "featureGeoJSON": {"type": "object", "required": ["type", "geometry", "properties"],
                               "properties": {"type": {"type": "string", "enum": ["Feature"]},
                                              "id": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                                              "geometry": {"nullable": True, "type": "object"},
                                              "properties": {"type": "object", "nullable": True}}},
        },
        "responses": {
            "BadRequest": _resp("A bad parameter or body; the description says what was wrong.", JSON, "exception"),
            "NotFound": _resp("No such collection or feature.", JSON, "exception"),
            "Unauthorized": _resp("The API key sent is wrong, malformed or revoked (on any operation), or the "
                                  "operation needs a key and none was sent.", JSON, "exception"),
            "Forbidden": _resp("The key's role is too low for this operation.", JSON, "exception"),
            "TooManyRequests": _resp("Too many writes from this key, or too many refused keys from this address or "
                                     "of this key id (a valid key in use is never refused): try again after "
                                     "Retry-After seconds.", JSON, "exception"),
            "PayloadTooLarge": _resp("The body is larger than the server accepts.", JSON, "exception"),
            "UnsupportedMediaType": _resp("The body is not of a media type this operation reads.", JSON,
                                          "exception"),
            "Queryables": {"description": "The queryables of the collection, as JSON Schema (HTML with f=html).",
                           "content": {"application/schema+json": {"schema": {"type": "object"}},
                                       HTML_MEDIA: {"schema": {"type": "string"}}}},
        },
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "description": "An API key: rallypoint keys add"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        },
    }


def field_schema(f: FieldDef) -> dict[str, Any]:
    """The JSON Schema of one value of field ``f``, as the queryables give it, with the division codes' pattern
    (6, 9 or 12 digits starting with a province's code, which validation also checks)."""
    schema = field_json_schema(f)
    if f.type == "adcode":
        schema["pattern"] = ADCODE_PATTERN
    if f.type == "integer":  # a registry's whole numbers are 64-bit: beyond, a filter or a write is a 400
        schema.update(format="int64", minimum=schema.get("minimum", INT64_MIN),
                      maximum=schema.get("maximum", INT64_MAX))
    return schema


#: a division code: 6, 9 or 12 digits starting with a province's code (GB/T 2260), as validation checks it
ADCODE_PATTERN = rf"^(?:{'|'.join(sorted(PROVINCE_PREFIXES))})\d{{4}}(?:\d{{3}}(?:\d{{3}})?)?$"


def _filter_param(f: FieldDef) -> dict[str, Any]:
    schema = field_schema(f)
    return {"name": f.name, "in": "query", "required": False, "style": "form", "explode": True,
            "description": f"{f.alias_zh} / {f.alias_en}: features whose value equals this (repeat for any of several)",
            "schema": schema}


def _feature_schema(layer: LayerDef, partial: bool = False) -> dict[str, Any]:
    """A feature of ``layer`` as a write sends it: its fields' values (the stamps the registry sets itself may be
    sent back as read), the required ones; the registry's rules across fields are checked on writing."""
    # personal-data fields are written like any other but not named in the document that anyone reads
    props = {f.name: {} if f.system else {**field_schema(f), "nullable": True} for f in layer.fields
             if not f.personal}
    required = [] if partial else [f.name for f in layer.editable_fields if f.required]
    return {"type": "object", "required": [] if partial else ["type", "properties"],
            "additionalProperties": False,
            "properties": {"type": {"type": "string", "enum": ["Feature"]},
                           "id": {"type": "string", "format": "uuid"},
                           "geometry": {"type": "object", "nullable": True},
                           "properties": {"type": "object", "nullable": True,
                                          "properties": props, **({"required": required} if required else {})},
                           "links": {"type": "array", "items": {"type": "object"}},
                           "bbox": {"type": "array", "items": {"type": "number"}}}}


def _collection_paths(layer: LayerDef) -> dict[str, Any]:
    secured = [{"bearer": []}, {"apiKey": []}]
    tag = [layer.name]
    # bbox and datetime on every collection (/req/core/fc-bbox-definition, /req/core/fc-time-definition): on one
    # without geometry or time property they match every feature (/req/core/fc-bbox-response, fc-time-response)
    params = [_ref(p) for p in ("limit", "offset", "bbox", "bbox-crs", "crs", "datetime", "filter", "filter-lang",
                                "filter-crs", "f") if p != "filter-crs" or layer.has_geometry]
    params += [_filter_param(f) for f in filterable_fields(layer, personal=False)]
    items: dict[str, Any] = {"get": {
        "summary": f"{layer.title_zh} / {layer.title_en}: features", "operationId": f"get_{layer.name}_items",
        "tags": tag, "parameters": params,
        "responses": {"200": _resp("A page of features.", GEOJSON, "featureCollectionGeoJSON"), **_ERRORS}}}
    one: dict[str, Any] = {"get": {
        "summary": f"{layer.title_en}: one feature", "operationId": f"get_{layer.name}_item", "tags": tag,
        "parameters": [_ref("featureId"), _ref("crs"), _ref("f")],
        "responses": {"200": _resp("The feature, with its ETag.", GEOJSON, "featureGeoJSON"),
                      "304": {"description": "Not modified (If-None-Match)."}, **_ERRORS}}}
    if not read_only(layer):
        schema = _feature_schema(layer)
        body = {"required": True, "content": {GEOJSON: {"schema": schema}, JSON: {"schema": schema}}}
        added = {"401": {"description": "No API key."}, "403": {"description": "The key's role is below editor."},
                 **_ERRORS}
        written = {**added, "412": _resp("If-Match names a version the feature is no longer at.", JSON, "exception"),
                   "428": _resp("No If-Match (or If-Match: *): send the ETag of the version the change is made "
                                "on.", JSON, "exception")}
        items["post"] = {"summary": f"{layer.title_en}: add a feature", "operationId": f"add_{layer.name}_item",
                         "tags": tag, "security": secured, "requestBody": body,
                         "responses": {"201": {"description": "Added; Location names it."}, **added}}
        for method, what in (("put", "replace"), ("patch", "update some properties or the geometry of"),
                             ("delete", "retire (the registry keeps it in its history)")):
            one[method] = {"summary": f"{layer.title_en}: {what} a feature", "tags": tag, "security": secured,
                           "operationId": f"{method}_{layer.name}_item",
                           "parameters": [_ref("featureId"), _ref("ifMatch")],
                           "responses": {"204" if method == "delete" else "200": {"description": "Done."}, **written}}
            if method == "patch":  # PATCH merges: nothing is required
                patch = _feature_schema(layer, partial=True)
                one[method]["requestBody"] = {"required": True, "content": {GEOJSON: {"schema": patch},
                                                                            JSON: {"schema": patch}}}
            elif method == "put":
                one[method]["requestBody"] = body
    queryables = {"get": {
        "summary": f"{layer.title_zh} / {layer.title_en}: queryables (what a filter may name)",
        "operationId": f"get_{layer.name}_queryables", "tags": tag, "parameters": [_ref("f")],
        "responses": {"200": {"$ref": "#/components/responses/Queryables"}, **_ERRORS}}}
    return {f"/collections/{layer.name}/items": items, f"/collections/{layer.name}/items/{{featureId}}": one,
            f"/collections/{layer.name}/queryables": queryables}


def _tile_paths(ctx: Context) -> dict[str, Any]:
    """OGC API – Tiles: tile matrix sets, tilesets, tiles (row before column) and TileJSON."""
    from .tiles.tilesets import MVT, TMS_ID

    simple = {"responses": {"200": {"description": "OK"}}}
    tiled = [n for n, lay in ctx.registry.layers.items() if lay.has_geometry]
    cid = {"name": "collectionId", "in": "path", "required": True, "schema": {"type": "string", "enum": tiled}}
    tms = {"name": "tileMatrixSetId", "in": "path", "required": True, "schema": {"type": "string", "enum": [TMS_ID]}}
    cell = [{"name": n, "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0, **most},
             "description": d}
            for n, d, most in (("tileMatrix", "zoom level, 0 to 24", {"maximum": 24}),
                               ("tileRow", "row, from the top (below 2^tileMatrix)", {}),
                               ("tileCol", "column, from the left (below 2^tileMatrix)", {}))]
    tile = {"200": {"description": "A Mapbox vector tile.", "content": {MVT: {"schema": {"type": "string",
                                                                                          "format": "binary"}}}},
            "204": {"description": "No feature in this tile."},
            "304": {"description": "Not modified (If-None-Match)."}, **_ERRORS}
    paths: dict[str, Any] = {
        "/tileMatrixSets": {"get": {"summary": "Tile matrix sets", "operationId": "getTileMatrixSetsList", **simple}},
        "/tileMatrixSets/{tileMatrixSetId}": {"get": {"summary": "A tile matrix set's definition",
                                                      "operationId": "getTileMatrixSet", "parameters": [tms],
                                                      "responses": {"200": {"description": "OK"}, **_ERRORS}}},
    }
    for base, params, what, op in (("/tiles", [], "every geometry layer", "Dataset"),
                                   ("/collections/{collectionId}/tiles", [cid], "one collection", "Collection")):
        paths[base] = {"get": {"summary": f"Vector tilesets of {what}", "operationId": f"get{op}VectorTileSetsList",
                               "parameters": params, "responses": {"200": {"description": "OK"}, **_ERRORS}}}
        paths[base + "/{tileMatrixSetId}"] = {"get": {
            "summary": f"Vector tileset of {what}: metadata and link template", "parameters": params + [tms],
            "operationId": f"get{op}VectorTileSet", "responses": {"200": {"description": "OK"}, **_ERRORS}}}
        paths[base + "/{tileMatrixSetId}/tilejson.json"] = {"get": {
            "summary": f"TileJSON 3.0 of {what}", "parameters": params + [tms],
            "operationId": f"get{op}TileJSON", "responses": {"200": {"description": "OK"}, **_ERRORS}}}
        paths[base + "/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}"] = {"get": {
            "summary": f"A vector tile of {what}", "parameters": params + [tms] + cell,
            "operationId": f"get{op}VectorTile", "responses": tile}}
    return paths


def document(ctx: Context, req: Request) -> dict[str, Any]:
    from . import processes

    simple = {"responses": {"200": {"description": "OK"}}, "parameters": [_ref("f")]}
    paths: dict[str, Any] = {
        "/": {"get": {"summary": "Landing page", "operationId": "getLandingPage", **simple}},
        "/conformance": {"get": {"summary": "Conformance classes", "operationId": "getConformance", **simple}},
        "/api": {"get": {"summary": "This API definition", "operationId": "getApi", **simple}},
        "/collections": {"get": {"summary": "The collections", "operationId": "getCollections", **simple}},
        "/collections/{collectionId}": {"get": {
            "summary": "One collection", "operationId": "getCollection",
            "parameters": [{"name": "collectionId", "in": "path", "required": True, "schema": {"type": "string",
                            "enum": list(ctx.registry.layers)}}, _ref("f")],
            "responses": {"200": {"description": "OK"}, **_ERRORS}}},
    }
    for layer in ctx.registry.layers.values():
        paths.update(_collection_paths(layer))
    paths.update(changes.paths())
    paths.update(conflicts.paths())
    paths.update(processes.openapi_paths(
        ctx, lambda analysis: {"type": "object", "additionalProperties": False,
                               "properties": {p.name: processes.input_schema(ctx, p) for p in analysis.parameters}},
        _ERRORS, _resp("The result.", GEOJSON, "featureCollectionGeoJSON")))
    paths.update(_tile_paths(ctx))
    paths["/map"] = {"get": {
        "summary": "Web map of every layer (HTML, MapLibre over the vector tiles)", "operationId": "getMap",
        "parameters": [{"name": "lang", "in": "query", "required": False,
                        "schema": {"type": "string", "enum": ["zh", "en"], "default": "zh"}}],
        "responses": {"200": {"description": "OK", "content": {"text/html": {"schema": {"type": "string"}}}},
                      **_ERRORS}}}
    paths["/map/style.json"] = {"get": {
        "summary": "The web map's MapLibre style (made from the layers' QGIS styles)", "operationId": "getMapStyle",
        "responses": {"200": {"description": "OK", "content": {JSON: {"schema": {"type": "object"}}}}, **_ERRORS}}}
    for ep in ctx.plugins.collect("rallypoint_web_endpoints"):
        params = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
                  for n in re.findall(r"{(\w+)}", ep.path)]
        op = {"summary": ep.summary or ep.path, "parameters": params,
              # the plugin chooses its success code (200, 201, 204 …)
              "responses": {"2XX": {"description": "Done; the plugin's own answer."}}}
        if ep.needed_role():
            op["security"] = [{"bearer": []}, {"apiKey": []}]  # so 403 (role too low) is documented too
        paths.setdefault(ep.path, {})[ep.method.lower()] = op
    return {
        "openapi": "3.0.2",
        "info": {"title": site_title(ctx), "version": __version__,
                 "description": f"{ctx.registry.info.bureau}: OGC API – Features (Parts 1, 2, 3 and 4) of a "
                                "Rallypoint "
                                "registry. Anonymous users read everything but personal data; writes need an "
                                "editor's API key.",
                 "license": {"name": "Apache-2.0"}},
        "servers": [{"url": req.base_url or "/"}],
        "paths": _complete(paths),
        "components": _components(ctx),
    }


def _complete(paths: dict[str, Any]) -> dict[str, Any]:
    """Add to every operation the answers it can really give beyond its own: 400 for a bad parameter, 401 for
    a wrong or revoked key (checked on every request that sends one), 403 where a role is needed, 404 where
    the path names something, 413/415 where a body is read, 414 (gunicorn's longest request line), 429 (rate
    limits); and HTML where ``f=html`` is offered."""
    err = "#/components/responses/"
    for path, operations in paths.items():
        for method, op in operations.items():
            responses = op.setdefault("responses", {})
            responses.setdefault("400", {"$ref": err + "BadRequest"})
            responses.setdefault("401", {"$ref": err + "Unauthorized"})
            if op.get("security"):
                responses.setdefault("403", {"$ref": err + "Forbidden"})
            if "{" in path:
                responses.setdefault("404", {"$ref": err + "NotFound"})
            responses.setdefault("414", {"description": "The request line is longer than the server takes "
                                                        "(8190 bytes); send a long filter in fewer words."})
            responses.setdefault("429", {"$ref": err + "TooManyRequests"})  # writes, and refused keys anywhere
            if "requestBody" in op:
                responses.setdefault("413", {"$ref": err + "PayloadTooLarge"})
                responses.setdefault("415", {"$ref": err + "UnsupportedMediaType"})
            ok = responses.get("200", {})
            if _ref("f") in op.get("parameters", []) and "content" in ok:
                ok["content"].setdefault(HTML_MEDIA, {"schema": {"type": "string"}})
    return paths


def api_document(ctx: Context, req: Request) -> Response:
    check_params(req, ("f",))
    fmt = output_format(req)
    doc = document(ctx, req)
    if fmt == "html":
        return html.render(req, "api.html", site=site_title(ctx), doc=doc,
                           crumbs=[(req.url("/"), "首页 Home"), (req.url("/api", "f=html"), "API")],
                           json_href=req.url("/api", "f=json"))
    return json_response(doc, media_type=OPENAPI)
