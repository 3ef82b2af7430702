"""``/collections/{id}/items`` and ``/collections/{id}/items/{featureId}`` (GET), as GeoJSON or HTML.

Retired features are not served. Anonymous users never receive personal-data fields. Paging
is by ``offset`` with a ``next`` link while more remain; ``numberMatched`` is exact (left out on
PostGIS when more than :data:`.pg_read.COUNT_CAP` match). Reads go through ``ctx.reader``
(:mod:`.read`), SQLite or PostGIS.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ...schema import LayerDef
from .. import html
from ..auth import sees_personal_data
from .collections import layer_of, site_title
from ..context import Context
from ..errors import NotFound
from ..etags import feature_etag, not_modified, weak_etag
from .query import ItemsQuery, parse_items_query
from ..request import Request, check_params, output_format
from ..responses import GEOJSON, HTML, JSON, VARY, Response, dumps, json_response, link, self_and_alternates

ITEM_PARAMS = ("f", "crs")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _crumbs(req: Request, layer: LayerDef, *extra: tuple[str, str]) -> list[tuple[str, str]]:
    return [(req.url("/"), "首页 Home"), (req.url("/collections"), "数据集 Collections"),
            (req.url(f"/collections/{layer.name}"), layer.title_zh), *extra]


def get_items(ctx: Context, req: Request) -> Response:
    layer = layer_of(ctx, req.path_params["collection_id"])
    personal = sees_personal_data(req.principal)
    reader = ctx.reader
    q = parse_items_query(req, layer, personal=personal, default_limit=ctx.config.default_limit,
                          max_limit=ctx.config.max_limit, dialect=reader.dialect)
    fmt = output_format(req)
    current = reader.stamp(layer.name)
    etag = weak_etag("items", current, q.key(), fmt, req.base_url)
    headers = {"ETag": etag, "Content-Crs": q.crs.header}
    if not_modified(req.headers.get("if-none-match"), etag):
        return 304, headers, b""
    reader.prepare(q, current)  # e.g. spatial predicates: their matching fids, once per layer state
    fast = fmt == "json" and q.crs.identity
    state = reader.layer_state(layer, current)
    rows = reader.page_json(q, state) if fast else reader.page(q)
    n = len(rows)
    if n < q.limit and (n or not q.offset):
        matched: int | None = q.offset + n  # the last page: no need to count
    else:
        matched = reader.count(q, state)  # None: too many to count (PostGIS, see pg_read.COUNT_CAP)
    path = f"/collections/{layer.name}/items"
    links = self_and_alternates(req, path, fmt, json_type=GEOJSON, title=layer.title_en)
    next_href = prev_href = None
    if (q.offset + n < matched) if matched is not None else n == q.limit:
        next_href = req.url(path, req.args.encode(offset=q.offset + n, limit=q.limit))
        links.append(link(next_href, "next", HTML if fmt == "html" else GEOJSON, "next page"))
    if q.offset > 0:
        prev_href = req.url(path, req.args.encode(offset=max(0, q.offset - q.limit) or None, limit=q.limit))
        links.append(link(prev_href, "prev", HTML if fmt == "html" else GEOJSON, "previous page"))
    links.append(link(req.url(f"/collections/{layer.name}"), "collection", JSON, layer.title_en))
    if fmt == "html":
        return _items_html(ctx, req, layer, q, rows, matched, prev_href, next_href, headers)
    doc = {"type": "FeatureCollection", "numberMatched": matched, "numberReturned": n, "timeStamp": _now(),
           "links": links}
    if matched is None:
        del doc["numberMatched"]
    if fast:  # splice the Features SQLite wrote into the document
        body = dumps(doc)[:-1] + b',"features":[' + b",".join(rows) + b"]}"
        return 200, {"Content-Type": GEOJSON, "Vary": VARY, **headers}, body
    doc["features"] = reader.to_features(layer, rows, q.crs, personal)
    return json_response(doc, media_type=GEOJSON, headers=headers)


def _items_html(ctx: Context, req: Request, layer: LayerDef, q: ItemsQuery, rows: list[tuple], matched: int | None,
                prev_href: str | None, next_href: str | None, headers: dict[str, str]) -> Response:
    feats = ctx.reader.to_features(layer, rows, q.crs, q.personal, geometry_as_text=True)
    fields = [f for f in layer.fields if q.personal or not f.personal]
    shown = []
    for feat in feats:
        props = feat["properties"]
        shown.append({"href": req.url(f"/collections/{layer.name}/items/{feat['id']}", "f=html"),
                      "values": [html.show_value(f, props.get(f.name)) for f in fields],
                      "geometry": html.show_geometry(feat["geometry"])})
    doc = {"numberMatched": matched, "numberReturned": len(rows)}
    return html.render(req, "items.html", site=site_title(ctx), doc=doc, layer=layer, fields=fields, rows=shown,
                       offset=q.offset, prev_href=prev_href, next_href=next_href,
                       crumbs=_crumbs(req, layer, (req.url(f"/collections/{layer.name}/items", "f=html"),
                                                   "要素 Items")),
                       json_href=req.url(f"/collections/{layer.name}/items", req.args.encode(f="json")),
                       headers=headers)


def item_etag(ctx: Context, layer: LayerDef, feature: dict[str, Any], *extra: Any) -> str:
    """Strong ``"<uuid>-v<version>"`` for registry features; weak for reference features (no version)."""
    props = feature["properties"]
    if layer.versioned:
        return feature_etag(props["uuid"], props["version"])
    return weak_etag("feature", layer.name, feature["id"], ctx.reader.stamp(layer.name), *extra)


def read_feature(ctx: Context, layer: LayerDef, feature_id: str, *, personal: bool, crs, as_text: bool = False):
    row = ctx.reader.one(layer, feature_id, personal)
    if row is None:
        raise NotFound(f"collection {layer.name} has no feature {feature_id!r} in use")
    return ctx.reader.to_features(layer, [row], crs, personal, geometry_as_text=as_text)[0]


def get_item(ctx: Context, req: Request) -> Response:
    from .. import crs as crsmod

    layer = layer_of(ctx, req.path_params["collection_id"])
    check_params(req, ITEM_PARAMS)
    fmt = output_format(req)
    crs = crsmod.find(req.args.single("crs"))
    personal = sees_personal_data(req.principal)
    fid = req.path_params["feature_id"]
    feature = read_feature(ctx, layer, fid, personal=personal, crs=crs, as_text=fmt == "html")
    etag = item_etag(ctx, layer, feature, fmt, crs.uri, personal, req.base_url)
    headers = {"ETag": etag, "Content-Crs": crs.header}
    if not_modified(req.headers.get("if-none-match"), etag):
        return 304, headers, b""
    path = f"/collections/{layer.name}/items/{fid}"
    if fmt == "html":
        fields = [f for f in layer.fields if personal or not f.personal]
        pairs = [(f, html.show_value(f, feature["properties"].get(f.name))) for f in fields]
        title = feature["properties"].get("name") or feature["properties"].get("item") or str(feature["id"])
        return html.render(req, "item.html", site=site_title(ctx), title=f"{layer.title_zh} · {title}", pairs=pairs,
                           geometry=html.show_geometry(feature["geometry"]),
                           crumbs=_crumbs(req, layer, (req.url(f"/collections/{layer.name}/items", "f=html"),
                                                       "要素 Items"), (req.url(path, "f=html"), title)),
                           json_href=req.url(path, req.args.encode(f="json")), headers=headers)
    feature["links"] = self_and_alternates(req, path, fmt, json_type=GEOJSON, title=str(feature["id"])) + [
        link(req.url(f"/collections/{layer.name}"), "collection", JSON, layer.title_en)]
    return json_response(feature, media_type=GEOJSON, headers=headers)
