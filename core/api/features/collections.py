"""``/collections`` and ``/collections/{id}``: the registry's layers as OGC API collections.

Every layer of the registry is a collection: the resource layers and depot_stock (which has
no geometry) are writable through Part 4; the reference layers (admin_areas, population,
roads) are read-only. Extents come from ``gpkg_contents`` (PostGIS: the tables, see :mod:`rallypoint.storage.postgis.reader`).
"""

from __future__ import annotations

from typing import Any

from ...schema import LayerDef
from .. import crs as crsmod
from .. import html
from ..auth import sees_personal_data
from ..context import Context
from ..errors import NotFound
from ..etags import not_modified, weak_etag
from ..request import Request, check_params, output_format
from ..responses import GEOJSON, HTML, JSON, Response, json_response, link, self_and_alternates

REL_QUERYABLES = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
SCHEMA_JSON = "application/schema+json"


def layer_of(ctx: Context, collection_id: str) -> LayerDef:
    layer = ctx.registry.layers.get(collection_id)
    if layer is None:
        raise NotFound(f"no collection {collection_id!r} (collections: {', '.join(ctx.registry.layers)})")
    return layer


def read_only(layer: LayerDef) -> bool:
    """Reference layers are bulk data loaded whole, not edited feature by feature."""
    return not layer.versioned


def site_title(ctx: Context) -> str:
    return ctx.config.title or ctx.registry.info.name


def _title(ctx: Context, layer: LayerDef) -> str:
    return layer.title(ctx.registry.info.language)


def collection_doc(ctx: Context, req: Request, layer: LayerDef, row: tuple | None, fmt: str) -> dict[str, Any]:
    base = f"/collections/{layer.name}"
    doc: dict[str, Any] = {
        "id": layer.name,
        "title": _title(ctx, layer),
        "description": " / ".join(d for d in (layer.description_zh, layer.description_en) if d),
        "itemType": "feature",
        "title_zh": layer.title_zh,
        "title_en": layer.title_en,
        "readOnly": read_only(layer),
        "links": [
            link(req.url(base, "f=json"), "self" if fmt == "json" else "alternate", JSON, layer.title_en),
            link(req.url(base, "f=html"), "self" if fmt == "html" else "alternate", HTML, layer.title_en),
            link(req.url(base + "/items", "f=json"), "items", GEOJSON, f"{layer.title_en} (GeoJSON)"),
            link(req.url(base + "/items", "f=html"), "items", HTML, f"{layer.title_en} (HTML)"),
            link(req.url(base + "/queryables"), REL_QUERYABLES, SCHEMA_JSON, f"{layer.title_en}: queryables"),
        ],
    }
    if layer.has_geometry:
        doc["crs"] = list(crsmod.URIS)
        doc["storageCrs"] = crsmod.STORAGE_URI
        doc["links"].append(link(req.url(base + "/tiles"), "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector",
                                 JSON, f"{layer.title_en} (vector tiles)"))
        if row and None not in row[:4]:
            doc["extent"] = {"spatial": {"bbox": [list(row[:4])], "crs": crsmod.CRS84}}
    return doc


def list_collections(ctx: Context, req: Request) -> Response:
    check_params(req, ("f",))
    fmt = output_format(req)
    reader = ctx.reader
    contents = reader.contents()
    etag = weak_etag("collections", fmt, reader.stamp(), req.base_url, sees_personal_data(req.principal))
    if not_modified(req.headers.get("if-none-match"), etag):
        return 304, {"ETag": etag}, b""
    docs = [collection_doc(ctx, req, layer, contents.get(name), "json") for name, layer in ctx.registry.layers.items()]
    doc = {"links": self_and_alternates(req, "/collections", fmt, title="Collections"),
           "collections": docs, "crs": list(crsmod.URIS)}
    if fmt == "html":
        for c in docs:
            c["html_href"] = req.url(f"/collections/{c['id']}", "f=html")
            c["items_href"] = req.url(f"/collections/{c['id']}/items", "f=html")
        return html.render(req, "collections.html", site=site_title(ctx), doc=doc,
                           crumbs=[(req.url("/"), "首页 Home"), (req.url("/collections"), "数据集 Collections")],
                           json_href=req.url("/collections", "f=json"), headers={"ETag": etag})
    return json_response(doc, headers={"ETag": etag})


def get_collection(ctx: Context, req: Request) -> Response:
    check_params(req, ("f",))
    fmt = output_format(req)
    layer = layer_of(ctx, req.path_params["collection_id"])
    reader = ctx.reader
    row = reader.contents().get(layer.name)
    personal = sees_personal_data(req.principal)
    etag = weak_etag("collection", layer.name, fmt, row, reader.stamp(layer.name), req.base_url, personal)
    if not_modified(req.headers.get("if-none-match"), etag):
        return 304, {"ETag": etag}, b""
    doc = collection_doc(ctx, req, layer, row, fmt)
    if fmt == "html":
        fields = [f for f in layer.fields if personal or not f.personal]
        path = f"/collections/{layer.name}"
        return html.render(req, "collection.html", site=site_title(ctx), doc=doc, layer=layer, fields=fields,
                           items_href=req.url(path + "/items", "f=html"),
                           queryables_href=req.url(path + "/queryables", "f=html"),
                           crumbs=[(req.url("/"), "首页 Home"), (req.url("/collections"), "数据集 Collections"),
                                   (req.url(path), layer.title_zh)],
                           json_href=req.url(path, "f=json"), headers={"ETag": etag})
    return json_response(doc, headers={"ETag": etag})


def get_queryables(ctx: Context, req: Request) -> Response:
    """``/collections/{id}/queryables``: what a CQL2 filter may name (Part 3), as JSON Schema or HTML."""
    from .queryables import queryables_schema

    check_params(req, ("f",))
    fmt = output_format(req)
    layer = layer_of(ctx, req.path_params["collection_id"])
    personal = sees_personal_data(req.principal)
    path = f"/collections/{layer.name}/queryables"
    doc = queryables_schema(layer, personal, req.url(path))
    etag = weak_etag("queryables", layer.name, fmt, personal, req.base_url)
    if not_modified(req.headers.get("if-none-match"), etag):
        return 304, {"ETag": etag}, b""
    if fmt == "html":
        base = f"/collections/{layer.name}"
        return html.render(req, "queryables.html", site=site_title(ctx), doc=doc, layer=layer,
                           items_href=req.url(base + "/items", "f=html"),
                           crumbs=[(req.url("/"), "首页 Home"), (req.url("/collections"), "数据集 Collections"),
                                   (req.url(base), layer.title_zh),
                                   (req.url(path, "f=html"), "可查询字段 Queryables")],
                           json_href=req.url(path, "f=json"), headers={"ETag": etag})
    return json_response(doc, media_type=SCHEMA_JSON, headers={"ETag": etag})
