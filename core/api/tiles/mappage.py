"""``/map``: a web map of the registry's vector tiles, in Chinese (default) or English (``?lang=en``).

The page is one template (:data:`.templates.MAP`) and one static script (``static/map.js`` of
:mod:`rallypoint.web`) over MapLibre GL JS, which ``make setup`` installs from npm into the
package, with the sprite and glyphs it builds there (:mod:`.mapassets`): nothing is loaded from
the internet (no CDN, web fonts, glyphs or sprites from elsewhere). What the script needs comes
with the page as JSON: the MapLibre style (made from the layers' QGIS styles, see
:mod:`.mapstyle`), the registry's extent, and per layer its title, legend (with its sprite icons)
and the fields a pop-up shows with their aliases and allowed-value labels in the page's language;
and where to search (the portal's ``/search``, and the divisions of ``/map/divisions.json``).
Anonymous users are shown no personal field (the tiles leave them out too).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from ...schema import FieldDef, LayerDef
from .. import html
from . import mapstyle, symbols
from ..auth import sees_personal_data
from ..features.collections import site_title
from ..context import Context
from ..errors import BadRequest
from ..request import Request, check_params
from ..responses import Response, json_response
from .tilesets import TMS_ID, _bounds

LANGS = ("zh", "en")
TEXTS = {
    "zh": {"title": "应急资源地图", "resources": "应急资源", "base": "基础图层", "yes": "是", "no": "否",
           "switch": "English", "home": "首页", "no_maplibre": "地图脚本 MapLibre GL JS 未安装（运行 make setup）。",
           "no_webgl": "此浏览器无法显示地图（需要 WebGL）。",
           "search": "搜索", "search_hint": "名称或行政区划代码", "search_none": "未找到匹配的名称或代码",
           "search_failed": "搜索失败", "division": "行政区划", "divisions": "分区统计",
           "counts_note": "缩小时按县（区）、乡镇（街道）显示各类资源数量；放大到 {zoom} 级显示每个点位。",
           "density": "隐患点密度（个/平方千米，按乡镇街道）", "density_note": "放大到 {zoom} 级显示每个隐患点",
           "in_division": "辖区内"},
    "en": {"title": "Emergency resources map", "resources": "Emergency resources", "base": "Base layers",
           "yes": "yes", "no": "no", "switch": "中文", "home": "Home",
           "no_maplibre": "The map script MapLibre GL JS is not installed (run make setup).",
           "no_webgl": "This browser cannot show the map (it needs WebGL).",
           "search": "Search", "search_hint": "Name or division code", "search_none": "No name or code matches",
           "search_failed": "The search failed", "division": "Division", "divisions": "Counts by division",
           "counts_note": "Zoomed out, each county and township shows how many of each resource it holds; "
                          "from zoom {zoom} every site is drawn.",
           "density": "Hazard points per km² (by township)", "density_note": "from zoom {zoom} every hazard point is drawn",
           "in_division": "In this division"},
}


# The definitions write units as a Chinese form reads them; SI symbols read the same in English.
UNITS_EN = {"人": "people", "户": "households", "辆": "vehicles", "万元": "× 10,000 yuan"}


def _field(f: FieldDef, lang: str) -> dict[str, Any]:
    out: dict[str, Any] = {"name": f.name, "alias": f.alias(lang), "type": f.type}
    if f.unit:
        out["unit"] = UNITS_EN.get(f.unit, f.unit) if lang == "en" else f.unit
    if f.values:
        out["values"] = {v.code: v.label(lang) for v in f.values}
    return out


def layer_entry(layer: LayerDef, lang: str, personal: bool) -> dict[str, Any]:
    """What the page's script knows of one layer: title, legend, its MapLibre layers, pop-up fields."""
    return {
        "id": layer.name,
        "title": layer.title(lang),
        "kind": layer.kind,
        "legend": mapstyle.legend(layer, lang),
        "geometry": layer.geometry,
        # the fields a pop-up shows, in the definition's order (a list: JSON objects get their keys sorted
        # on the way), with no registry bookkeeping and no personal data unless the key may see it
        "fields": [_field(f, lang) for f in layer.fields if not f.system and (personal or not f.personal)],
    }


def page_lang(req: Request) -> str:
    lang = req.args.single("lang")
    if lang is None:
        return "zh"
    if lang not in LANGS:  # an empty lang= too: the document offers zh and en only
        raise BadRequest(f"parameter lang={lang!r}: the map is in zh (中文) or en (English)")
    return lang


def map_config(ctx: Context, req: Request, lang: str) -> dict[str, Any]:
    """The JSON the page's script starts from."""
    layers = [lay for lay in ctx.registry.layers.values() if lay.has_geometry]
    personal = sees_personal_data(req.principal)
    prefix = urlsplit(req.base_url).path.rstrip("/")  # host-relative, so the page works behind any host name
    style = mapstyle.map_style(layers, f"{prefix}/tiles/{TMS_ID}/tilejson.json", f"{prefix}/static/map",
                               f"{prefix}/map/divisions.json")
    visible = {sl["metadata"]["rallypoint:layer"] for sl in style["layers"]
               if "rallypoint:layer" in sl.get("metadata", {}) and sl["layout"]["visibility"] == "visible"}
    entries = []
    for lay in layers:
        entry = layer_entry(lay, lang, personal)
        entry["visible"] = lay.name in visible
        entry["styleLayers"] = [sl["id"] for sl in style["layers"]
                                if sl.get("metadata", {}).get("rallypoint:layer") == lay.name]
        icons = {name for name, _ in symbols.layer_icons(lay)}
        entry["countIcon"] = lay.name if lay.name in icons else None
        entry["density"] = lay.name in mapstyle.DENSITY  # its classes come with /map/divisions.json
        entries.append(entry)
    texts = dict(TEXTS[lang])
    texts["counts_note"] = texts["counts_note"].format(zoom=mapstyle.DETAIL_ZOOM)
    texts["density_note"] = texts["density_note"].format(zoom=mapstyle.HAZARD_ZOOM)
    return {"lang": lang, "bounds": _bounds(ctx, layers), "style": style, "layers": entries, "texts": texts,
            "search": f"{prefix}/search", "divisions": f"{prefix}/map/divisions.json",
            "sprite": f"{prefix}/static/map/sprite", "aggregated": sorted(mapstyle.AGGREGATED),
            "detailZoom": mapstyle.DETAIL_ZOOM}


def style_document(ctx: Context, req: Request) -> Response:
    """``/map/style.json``: the map's MapLibre style alone, its source an absolute URL (for other clients)."""
    check_params(req, ())
    layers = [lay for lay in ctx.registry.layers.values() if lay.has_geometry]
    return json_response(mapstyle.map_style(layers, req.url(f"/tiles/{TMS_ID}/tilejson.json"), req.url("/static/map"),
                                            req.url("/map/divisions.json")))


def map_page(ctx: Context, req: Request) -> Response:
    check_params(req, ("lang",))
    lang = page_lang(req)
    other = "en" if lang == "zh" else "zh"
    prefix = urlsplit(req.base_url).path.rstrip("/")
    return html.render(req, "map.html", site=site_title(ctx), crumbs=[], lang=lang, texts=TEXTS[lang],
                       config=map_config(ctx, req, lang), static=f"{prefix}/static",
                       home_href=f"{prefix}/", switch_href=f"{prefix}/map?lang={other}")
