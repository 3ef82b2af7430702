"""OGC API – Tiles (vector tiles, WebMercatorQuad) and TileJSON 3.0 of the geometry layers.

* ``/tileMatrixSets`` and ``/tileMatrixSets/WebMercatorQuad``: the standard definition;
* ``/collections/{id}/tiles`` and ``/tiles``: the tileset lists (one tileset, WebMercatorQuad);
* ``/collections/{id}/tiles/WebMercatorQuad`` and ``/tiles/WebMercatorQuad``: tileset metadata
  with the link template ``{tileMatrix}/{tileRow}/{tileCol}`` (row before column);
* ``…/WebMercatorQuad/{z}/{y}/{x}``: a Mapbox Vector Tile, one layer named after the collection
  (all geometry layers together under ``/tiles``);
* ``…/WebMercatorQuad/tilejson.json``: TileJSON 3.0, whose template names ``{z}``, ``{x}``, ``{y}``.

Anonymous users get non-personal fields only (as for items). Out-of-range ``z``/``x``/``y`` and
any tile matrix set but WebMercatorQuad are 400, an unknown collection 404; a tile with no
feature is answered ``204 No Content``. Encoded tiles are kept per worker in an LRU cache,
keyed by (registry, layer, z, x, y, personal) and checked against the layer's
:meth:`.read.Reader.stamp` (so any write to the layer drops them); tiles carry a strong ETag (a
digest of their bytes, answered 304 on ``If-None-Match``) and ``Cache-Control``. Each tile is
gzipped once, when it is encoded (by ISA-L's igzip, level 1: as small as zlib's level 6 within 2 %,
ten times faster), and the cached gzip is sent to clients that accept it (MVT is protobuf with
repeated keys and values: gzip typically halves it); the cache holds at most :data:`CACHE_SIZE`
tiles and :data:`CACHE_BYTES` bytes.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any

from isal import igzip

from ...schema import LayerDef
from ...storage import tiles as tile_grid
from ..auth import sees_personal_data
from ..features.collections import layer_of, site_title
from ..context import Context
from ..errors import BadRequest, NotFound
from ..etags import not_modified
from ..request import Request, check_params
from ..responses import JSON, VARY, Response, json_response, link

TMS_ID = "WebMercatorQuad"
TMS_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
CRS_3857 = "http://www.opengis.net/def/crs/EPSG/0/3857"
MVT = "application/vnd.mapbox-vector-tile"
REL_SCHEME = "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme"
REL_VECTOR = "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector"
TILEJSON_MAXZOOM = 18  # clients overzoom beyond; tiles are served up to tile_grid.MAX_ZOOM
CACHE_SIZE = 2048
CACHE_BYTES = 64 * 1024 * 1024  # per worker, raw and gzipped bytes together
GZIP_LEVEL = 1  # igzip's levels are 0 to 3
CACHE_ANONYMOUS = "public, max-age=30, must-revalidate"
CACHE_PERSONAL = "private, no-cache"

# key -> (stamp, etag, tile, gzipped tile)
_cache: OrderedDict[tuple, tuple[tuple, str, bytes, bytes]] = OrderedDict()
_cache_bytes = 0
_lock = threading.Lock()
_DIMENSION = {"Point": 0, "MultiPoint": 0, "LineString": 1, "MultiLineString": 1, "Polygon": 2, "MultiPolygon": 2}
_MVT_TYPES = {"integer": "Number", "real": "Number", "boolean": "Boolean"}


# -- the tile matrix set -------------------------------------------------------------------------

def tile_matrix_set() -> dict[str, Any]:
    """WebMercatorQuad as OGC 2D Tile Matrix Set 2.0 defines it (zoom levels 0 to 24)."""
    matrices = []
    for z in range(tile_grid.MAX_ZOOM + 1):
        cell = 2 * tile_grid.ORIGIN / 256 / (1 << z)
        matrices.append({"id": str(z), "scaleDenominator": cell / 0.00028, "cellSize": cell,
                         "cornerOfOrigin": "topLeft", "pointOfOrigin": [-tile_grid.ORIGIN, tile_grid.ORIGIN],
                         "tileWidth": 256, "tileHeight": 256, "matrixWidth": 1 << z, "matrixHeight": 1 << z})
    return {"id": TMS_ID, "title": "Google Maps Compatible for the World", "uri": TMS_URI, "crs": CRS_3857,
            "orderedAxes": ["X", "Y"],
            "wellKnownScaleSet": "http://www.opengis.net/def/wkss/OGC/1.0/GoogleMapsCompatible",
            "tileMatrices": matrices}


def list_tile_matrix_sets(ctx: Context, req: Request) -> Response:
    check_params(req, ("f",))
    href = req.url(f"/tileMatrixSets/{TMS_ID}")
    doc = {"tileMatrixSets": [{"id": TMS_ID, "title": "Google Maps Compatible for the World", "uri": TMS_URI,
                               "links": [link(href, "self", JSON, TMS_ID)]}],
           "links": [link(req.url("/tileMatrixSets"), "self", JSON, "Tile matrix sets")]}
    return json_response(doc)


def get_tile_matrix_set(ctx: Context, req: Request) -> Response:
    check_params(req, ("f",))
    if req.path_params["tms_id"] != TMS_ID:
        raise NotFound(f"no tile matrix set {req.path_params['tms_id']!r} (offered: {TMS_ID})")
    return json_response(tile_matrix_set())


# -- which layers, which tile ---------------------------------------------------------------------

def _geometry_layers(ctx: Context) -> list[LayerDef]:
    return [layer for layer in ctx.registry.layers.values() if layer.has_geometry]


def _tiled_layer(ctx: Context, req: Request) -> LayerDef | None:
    """The collection of the path (404 if unknown or without geometry); None for the dataset's tiles."""
    cid = req.path_params.get("collection_id")
    if cid is None:
        return None
    layer = layer_of(ctx, cid)
    if not layer.has_geometry:
        raise NotFound(f"collection {cid} has no geometry, so no tiles")
    return layer


def _check_tms(req: Request) -> None:
    tms = req.path_params.get("tms_id", TMS_ID)
    if tms != TMS_ID:
        raise BadRequest(f"tile matrix set {tms!r} is not offered here (only {TMS_ID})")


def parse_tile(req: Request) -> tuple[int, int, int]:
    """``z``, ``x`` (column), ``y`` (row) of the path; 400 unless integers inside the tile matrix."""
    p = req.path_params
    try:
        z, y, x = int(p["z"]), int(p["y"]), int(p["x"])
    except ValueError:
        raise BadRequest(f"tile {p['z']}/{p['y']}/{p['x']}: tileMatrix, tileRow and tileCol are integers") from None
    if not 0 <= z <= tile_grid.MAX_ZOOM:
        raise BadRequest(f"tileMatrix {z} is outside {TMS_ID} (0 to {tile_grid.MAX_ZOOM})")
    n = 1 << z
    if not (0 <= x < n and 0 <= y < n):
        raise BadRequest(f"tile {z}/{y}/{x}: at tileMatrix {z} tileRow and tileCol go from 0 to {n - 1}")
    return z, x, y


def _base(layer: LayerDef | None) -> str:
    return f"/collections/{layer.name}/tiles" if layer is not None else "/tiles"


# -- documents -----------------------------------------------------------------------------------

def _layer_entry(layer: LayerDef, personal: bool) -> dict[str, Any]:
    props = {f.name: {"type": {"integer": "integer", "real": "number", "boolean": "boolean"}.get(f.type, "string"),
                      "title": f.alias_en or f.name}
             for f in layer.fields if personal or not f.personal}
    return {"id": layer.name, "title": layer.title_en, "dataType": "vector",
            "geometryDimension": _DIMENSION.get(layer.geometry.removesuffix("Z"), 2),
            "minTileMatrix": "0", "maxTileMatrix": str(tile_grid.MAX_ZOOM),
            "propertiesSchema": {"type": "object", "properties": props}}


def _tileset_summary(req: Request, layer: LayerDef | None, title: str) -> dict[str, Any]:
    base = _base(layer)
    return {"title": title, "dataType": "vector", "crs": CRS_3857, "tileMatrixSetURI": TMS_URI,
            "links": [link(req.url(f"{base}/{TMS_ID}"), "self", JSON, f"{title} ({TMS_ID})"),
                      link(req.url(f"/tileMatrixSets/{TMS_ID}"), REL_SCHEME, JSON, TMS_ID)]}


def list_tilesets(ctx: Context, req: Request) -> Response:
    check_params(req, ("f",))
    layer = _tiled_layer(ctx, req)
    title = layer.title_en if layer is not None else site_title(ctx)
    doc = {"tilesets": [_tileset_summary(req, layer, title)],
           "links": [link(req.url(_base(layer)), "self", JSON, "Tilesets")]}
    return json_response(doc)


def get_tileset(ctx: Context, req: Request) -> Response:
    check_params(req, ("f",))
    _check_tms(req)
    layer = _tiled_layer(ctx, req)
    personal = sees_personal_data(req.principal)
    layers = [layer] if layer is not None else _geometry_layers(ctx)
    title = layer.title_en if layer is not None else site_title(ctx)
    doc = _tileset_summary(req, layer, title)
    base = f"{_base(layer)}/{TMS_ID}"
    doc["links"].insert(1, link(req.url(base + "/{tileMatrix}/{tileRow}/{tileCol}"), "item", MVT,
                                "Mapbox vector tiles", templated=True))
    doc["links"].append(link(req.url(base + "/tilejson.json"), "describedby", JSON, "TileJSON 3.0"))
    doc["layers"] = [_layer_entry(lay, personal) for lay in layers]
    bounds = _bounds(ctx, layers)
    if bounds:
        doc["boundingBox"] = {"lowerLeft": bounds[:2], "upperRight": bounds[2:],
                              "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}
    return json_response(doc)


def _bounds(ctx: Context, layers: list[LayerDef]) -> list[float] | None:
    contents = ctx.reader.contents()
    rows = [contents.get(lay.name) for lay in layers]
    rows = [r for r in rows if r and None not in r[:4]]
    if not rows:
        return None
    return [min(r[0] for r in rows), min(r[1] for r in rows), max(r[2] for r in rows), max(r[3] for r in rows)]


def tilejson(ctx: Context, req: Request) -> Response:
    check_params(req, ())
    _check_tms(req)
    layer = _tiled_layer(ctx, req)
    personal = sees_personal_data(req.principal)
    layers = [layer] if layer is not None else _geometry_layers(ctx)
    bounds = _bounds(ctx, layers) or [-180.0, -tile_grid.MAX_LAT, 180.0, tile_grid.MAX_LAT]
    doc = {
        "tilejson": "3.0.0",
        "name": layer.title_en if layer is not None else site_title(ctx),
        "scheme": "xyz",
        "tiles": [req.url(f"{_base(layer)}/{TMS_ID}" + "/{z}/{y}/{x}")],
        "minzoom": 0, "maxzoom": TILEJSON_MAXZOOM,
        "bounds": bounds,
        "center": [(bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2, 12],
        "vector_layers": [{"id": lay.name, "description": lay.title_en, "minzoom": 0, "maxzoom": TILEJSON_MAXZOOM,
                           "fields": {f.name: _MVT_TYPES.get(f.type, "String")
                                      for f in lay.fields if personal or not f.personal}} for lay in layers],
    }
    return json_response(doc)


# -- tiles ---------------------------------------------------------------------------------------

def _cached(key: tuple, current: tuple, changed) -> tuple[str, bytes, bytes] | None:
    global _cache_bytes
    with _lock:
        hit = _cache.get(key)
        if hit is None:
            return None
        stamp, etag, data, gz = hit
        if stamp != current:
            if not changed(stamp, current):
                _cache[key] = (current, etag, data, gz)
            else:
                del _cache[key]
                _cache_bytes -= len(data) + len(gz)
                return None
        _cache.move_to_end(key)
        return etag, data, gz


def _remember(key: tuple, current: tuple, etag: str, data: bytes, gz: bytes) -> None:
    global _cache_bytes
    with _lock:
        old = _cache.pop(key, None)
        if old is not None:
            _cache_bytes -= len(old[2]) + len(old[3])
        _cache[key] = (current, etag, data, gz)
        _cache_bytes += len(data) + len(gz)
        while len(_cache) > CACHE_SIZE or (_cache_bytes > CACHE_BYTES and len(_cache) > 1):
            _, (_, _, d, g) = _cache.popitem(last=False)
            _cache_bytes -= len(d) + len(g)


def cache_usage() -> tuple[int, int]:
    """(tiles, bytes) in this worker's tile cache."""
    with _lock:
        return len(_cache), _cache_bytes


def clear_cache() -> None:
    global _cache_bytes
    with _lock:
        _cache.clear()
        _cache_bytes = 0


def _accepts_gzip(req: Request) -> bool:
    for part in (req.headers.get("accept-encoding") or "").split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            return params.replace(" ", "").lower() not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def get_tile(ctx: Context, req: Request) -> Response:
    check_params(req, ("f",))
    _check_tms(req)
    layer = _tiled_layer(ctx, req)
    z, x, y = parse_tile(req)
    personal = sees_personal_data(req.principal)
    reader = ctx.reader
    layers = [layer] if layer is not None else _geometry_layers(ctx)
    name = layer.name if layer is not None else "*"
    key = (str(ctx.config.registry_path), name, z, x, y, personal)
    if layer is not None:
        current = reader.stamp(layer.name)

        def changed(old: tuple, new: tuple) -> bool:
            return not reader.unchanged(layer.name, old, new)
    else:
        current = reader.stamp()

        def changed(old: tuple, new: tuple) -> bool:
            return old != new
    hit = _cached(key, current, changed)
    if hit is None:
        data = reader.tile(layers, personal, z, x, y)  # encoded by the backend (a GeoPackage: in Python; PostGIS: ST_AsMVT)
        etag = '"' + hashlib.blake2b(data + repr(key[1:]).encode(), digest_size=12).hexdigest() + '"'
        gz = igzip.compress(data, GZIP_LEVEL, mtime=0) if data else b""
        _remember(key, current, etag, data, gz)
    else:
        etag, data, gz = hit
    gzipped = bool(data) and _accepts_gzip(req)
    if gzipped:  # another representation (RFC 9110 8.8.3): its own strong ETag
        etag = etag[:-1] + '-gz"'
    headers = {"ETag": etag, "Cache-Control": CACHE_PERSONAL if personal else CACHE_ANONYMOUS,
               "Vary": VARY + ", Accept-Encoding"}
    if not_modified(req.headers.get("if-none-match"), etag):
        return 304, headers, b""
    if not data:
        return 204, headers, b""
    if gzipped:
        return 200, {"Content-Type": MVT, "Content-Encoding": "gzip", **headers}, gz
    return 200, {"Content-Type": MVT, **headers}, data
