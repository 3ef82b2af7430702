"""The landing page (``/``) and ``/conformance``: only classes that really work are declared.

``/`` is for clients and for people alike, by content negotiation: ``Accept: application/json`` (or ``f=json``)
gets the OGC landing document, a browser (``Accept: text/html``, or ``f=html``) the portal (:mod:`.portal`).
"""

from __future__ import annotations

from . import html, processes
from .features.collections import site_title
from .context import Context
from .portal.page import portal_page
from .request import Request, check_params, output_format
from .responses import HTML, JSON, OPENAPI, Response, json_response, link, self_and_alternates

_F1 = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/"
_F2 = "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/"
_F3 = "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/"
_CQL2 = "http://www.opengis.net/spec/cql2/1.0/conf/"
_F4 = "http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/"
_T1 = "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/"

CONFORMANCE = (
    _F1 + "core",
    _F1 + "oas30",
    _F1 + "html",
    _F1 + "geojson",
    _F2 + "crs",
    _F3 + "queryables",
    _F3 + "filter",
    _F3 + "features-filter",
    _CQL2 + "cql2-text",
    _CQL2 + "cql2-json",
    _CQL2 + "basic-cql2",
    _CQL2 + "advanced-comparison-operators",
    _CQL2 + "case-insensitive-comparison",
    _CQL2 + "accent-insensitive-comparison",
    _CQL2 + "basic-spatial-functions",
    _CQL2 + "basic-spatial-functions-plus",
    _CQL2 + "spatial-functions",
    _F4 + "create-replace-delete",
    _F4 + "update",
    _F4 + "features",
    _T1 + "core",
    _T1 + "tileset",
    _T1 + "tilesets-list",
    _T1 + "geodata-tilesets",
    _T1 + "dataset-tilesets",
    _T1 + "mvt",
    _T1 + "oas30",
) + processes.CONFORMANCE
REL_PROCESSES = "http://www.opengis.net/def/rel/ogc/1.0/processes"
REL_CONFORMANCE = "http://www.opengis.net/def/rel/ogc/1.0/conformance"
REL_DATA = "http://www.opengis.net/def/rel/ogc/1.0/data"
REL_TILESETS_VECTOR = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"
REL_TMS = "http://www.opengis.net/def/rel/ogc/1.0/tiling-schemes"


def landing_page(ctx: Context, req: Request) -> Response:
    check_params(req, ("f", "lang"))
    fmt = output_format(req)
    if fmt == "html":
        return portal_page(ctx, req)
    info = ctx.registry.info
    doc = {
        "title": site_title(ctx),
        "description": f"{info.bureau} · 应急资源登记 / emergency resources registry (Rallypoint)",
        "links": self_and_alternates(req, "/", fmt, title="Landing page") + [
            link(req.url("/api"), "service-desc", OPENAPI, "API definition (OpenAPI 3.0)"),
            link(req.url("/api", "f=html"), "service-doc", HTML, "API documentation / 接口说明"),
            link(req.url("/conformance"), "conformance", JSON, "Conformance classes / 符合性"),
            link(req.url("/conformance"), REL_CONFORMANCE, JSON, "Conformance classes"),
            link(req.url("/collections"), "data", JSON, "Collections / 数据集"),
            link(req.url("/collections"), REL_DATA, JSON, "Collections"),
            link(req.url("/processes"), REL_PROCESSES, JSON, "Analyses / 分析"),
            link(req.url("/tiles"), REL_TILESETS_VECTOR, JSON, "Vector tiles of every layer / 矢量瓦片"),
            link(req.url("/tileMatrixSets"), REL_TMS, JSON, "Tile matrix sets"),
            link(req.url("/map"), "related", HTML, "Map / 地图"),
        ],
    }
    return json_response(doc)


def conformance(ctx: Context, req: Request) -> Response:
    check_params(req, ("f",))
    fmt = output_format(req)
    doc = {"conformsTo": list(CONFORMANCE)}
    if fmt == "html":
        return html.render(req, "conformance.html", site=site_title(ctx), doc=doc,
                           crumbs=[(req.url("/"), "首页 Home"), (req.url("/conformance"), "符合性 Conformance")],
                           json_href=req.url("/conformance", "f=json"))
    return json_response(doc)
