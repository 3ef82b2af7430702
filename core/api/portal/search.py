"""``/search?q=``: resources by name or division code, over every resource layer, for the portal's search box.

A name matches anywhere in it, whatever the case (``公园`` finds 人民公园应急避难场所); digits match the start of a
division code (``519921001`` finds every resource of that township) or a name that holds them. Each answer
carries where the feature is (a point in CRS84), so the page flies the map there, and its page's address.
The query is a CQL2 filter (JSON, so nothing the user types is parsed as CQL2) run by the same reader as
``/collections/{id}/items``: the same rules on both backends, and no personal field is searched or shown.
"""

from __future__ import annotations

from typing import Any

from ...storage.base import ItemsQuery
from .. import html
from ..context import Context
from ..errors import BadRequest
from ..features.cql import parse_filter
from ..request import Request, check_params, output_format
from ..responses import Response, json_response
from .glance import resource_layers
from .texts import page_lang

MAX_QUERY = 100
PER_LAYER = 10
MAX_PER_LAYER = 50


def _like(text: str) -> str:
    """``text`` as a literal inside a CQL2 LIKE pattern (``\\`` escapes the wildcards)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filter(q: str, with_code: bool) -> dict[str, Any]:
    by_name = {"op": "like", "args": [{"op": "casei", "args": [{"property": "name"}]},
                                      {"op": "casei", "args": [f"%{_like(q)}%"]}]}
    if not with_code:
        return by_name
    return {"op": "or", "args": [by_name, {"op": "like", "args": [{"property": "adcode"}, f"{_like(q)}%"]}]}


def _point(text: str | None) -> tuple[float, float] | None:
    """Where a feature is, from its GeoJSON geometry's text: a point as it is, else a point inside it."""
    import orjson

    if not text:
        return None
    geometry = orjson.loads(text)
    if geometry.get("type") == "Point":
        x, y = geometry["coordinates"][:2]
        return float(x), float(y)
    from shapely.geometry import shape

    p = shape(geometry).representative_point()
    return p.x, p.y


def find(ctx: Context, q: str, per_layer: int = PER_LAYER) -> list[dict[str, Any]]:
    """Features in use whose name holds ``q`` (or, for digits, whose division code starts with them)."""
    import orjson

    reader = ctx.reader
    with_code = q.isdigit()
    found = []
    for layer in resource_layers(ctx):
        if not (layer.has_field("name") and layer.has_field("adcode")):
            continue
        cql = parse_filter(layer, orjson.dumps(_filter(q, with_code)).decode(), personal=False, lang="cql2-json",
                           filter_crs=None, dialect=reader.dialect)
        query = ItemsQuery(layer=layer, limit=per_layer, filters=[(cql.sql, cql.params)], cql=True)
        reader.prepare(query, reader.stamp(layer.name))
        for feat in reader.to_features(layer, reader.page(query), query.crs, False, geometry_as_text=True):
            props = feat["properties"]
            point = _point(feat.get("geometry"))
            found.append({"layer": layer.name, "title_zh": layer.title_zh, "title_en": layer.title_en,
                          "id": str(feat["id"]), "name": props.get("name"), "adcode": props.get("adcode"),
                          "lon": None if point is None else round(point[0], 7),
                          "lat": None if point is None else round(point[1], 7)})
    return found


def search(ctx: Context, req: Request) -> Response:
    check_params(req, ("q", "f", "lang", "limit"))
    fmt = output_format(req)
    lang, headers = page_lang(req)
    q = (req.args.single("q") or "").strip()
    if not q:
        raise BadRequest("parameter q: give a name, part of a name, or a division code to search for")
    if len(q) > MAX_QUERY:
        raise BadRequest(f"parameter q: at most {MAX_QUERY} characters")
    if any(not c.isprintable() for c in q):  # a NUL would end SQLite's pattern early, and match everything
        raise BadRequest("parameter q: give printable characters only (no control characters)")
    raw = req.args.single("limit")
    try:
        per_layer = PER_LAYER if raw is None else int(raw)
    except ValueError:
        raise BadRequest(f"parameter limit={raw!r}: a whole number from 1 to {MAX_PER_LAYER}") from None
    if not 1 <= per_layer <= MAX_PER_LAYER:
        raise BadRequest(f"parameter limit={raw!r}: a whole number from 1 to {MAX_PER_LAYER}")
    results = find(ctx, q, per_layer)
    for r in results:
        r["title"] = r["title_en"] if lang == "en" else r["title_zh"]
        r["href"] = req.url(f"/collections/{r['layer']}/items/{r['id']}", "f=html")
    if fmt == "html":
        from .page import common

        return html.render(req, "search.html", **common(ctx, req, lang), q=q, results=results, crumbs=[],
                           headers=headers)
    return json_response({"query": q, "numberReturned": len(results), "results": results}, headers=headers)
