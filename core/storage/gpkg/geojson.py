"""Pages of GeoJSON Features written by SQLite itself (the fast path of the items list).

Turning 100 rows of 25 columns into Python objects and back into JSON costs more than
the query: so for the common case (GeoJSON in CRS84) each row comes out of SQLite as one
finished Feature string. Properties are written by SQLite's ``json_object`` (reals to 15
significant digits; booleans as true/false); the geometry by :func:`_geojson`, registered
on the connection, which writes a point straight from its GeoPackage blob at full precision
and any other geometry through shapely.

Written Features are kept per process (at most :data:`CACHE_BYTES`; when full, the oldest go first),
keyed on the layer and whether personal fields are in, and dropped as soon as the layer is
written (checked on every request: :func:`.store.unchanged`), so a cached Feature is never
stale. A page then costs one R-tree query for its fids, and SQLite writes only the Features
not yet seen.
"""

from __future__ import annotations

import math
import sqlite3
import struct
import threading
from collections import OrderedDict

import shapely

from ..gpkgfile import quote
from ..schema import LayerDef
from .query import ItemsQuery

_POINT = struct.Struct("<dd")
_ENVELOPE = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}
_sql: dict[tuple[int, bool], tuple[LayerDef, str]] = {}
MAX_JSON_OBJECT_ARGS = 120  # SQLite's default limit is 127 arguments
# Per worker. The city's 140,000 hazard points are about 110 MB of Features: with room for all of
# them a bbox page is served from here; the earlier cap of 50,000 Features, emptied when full,
# kept a random-bbox load missing about 30 Features a page (620 against 830+ pages/s).
CACHE_BYTES = 128 * 1024 * 1024
EVICT_TO = 0.9  # when full, drop the oldest down to this share, not one by one
_cache: dict[tuple, list] = {}  # (registry, layer, personal) -> [stamp, OrderedDict{fid: Feature}, bytes]
_cache_bytes = 0
_lock = threading.Lock()  # gthread workers serve several requests at once


def _geojson(blob: bytes | None) -> str | None:
    if blob is None:
        return None
    if len(blob) == 29 and blob[3] == 1 and blob[8] == 1 and blob[9:13] == b"\x01\x00\x00\x00":
        x, y = _POINT.unpack_from(blob, 13)
        if not (math.isnan(x) or math.isnan(y)):
            return f'{{"type":"Point","coordinates":[{x!r},{y!r}]}}'
    geom = shapely.from_wkb(bytes(blob[8 + _ENVELOPE.get((blob[3] >> 1) & 7, 0):]))
    return None if geom is None else shapely.to_geojson(geom)


def register(conn: sqlite3.Connection) -> None:
    conn.create_function("rp_geojson", 1, _geojson, deterministic=True)


def _value(layer: LayerDef, name: str) -> str:
    col = "t." + quote(name)
    if layer.field(name).type == "boolean":
        return f"json(CASE WHEN {col} IS NULL THEN 'null' WHEN {col} THEN 'true' ELSE 'false' END)"
    return col


def feature_sql(layer: LayerDef, personal: bool) -> str:
    """The expression writing one row as a GeoJSON Feature (prepared once per layer)."""
    key = (id(layer), personal)
    hit = _sql.get(key)
    if hit is None or hit[0] is not layer:
        names = [f.name for f in layer.fields if personal or not f.personal]
        pairs = [f"'{n}', {_value(layer, n)}" for n in names]
        chunks = [pairs[i:i + MAX_JSON_OBJECT_ARGS // 2] for i in range(0, len(pairs), MAX_JSON_OBJECT_ARGS // 2)]
        objects = [f"json_object({', '.join(c)})" for c in chunks]
        if len(objects) == 1:
            props = objects[0]
        else:  # glue the objects' members together: '{a}' + '{b}' -> '{a,b}'
            props = " || ',' || ".join(f"substr({o}, 2, length({o}) - 2)" for o in objects)
            props = f"'{{' || {props} || '}}'"
        ident = "json_quote(t.uuid)" if layer.versioned else "t.fid"
        geom = "coalesce(rp_geojson(t.geom), 'null')" if layer.has_geometry else "'null'"
        expr = (f"""'{{"type":"Feature","id":' || {ident} || ',"geometry":' || {geom} || """
                f"""',"properties":' || {props} || '}}'""")
        hit = _sql[key] = (layer, expr)
    return hit[1]


def _execute(conn: sqlite3.Connection, sql: str, params: list) -> list[tuple]:
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError as exc:
        if "rp_geojson" not in str(exc):
            raise
        register(conn)
        return conn.execute(sql, params).fetchall()


def _cache_for(conn: sqlite3.Connection, key: tuple, stamp: tuple, unchanged=None) -> list:
    """The cache entry of (registry, layer, personal) valid at ``stamp``; ``unchanged(conn, layer, old, new)``
    tells whether the layer changed between two stamps (:func:`.store.unchanged`, or PostGIS's reader's)."""
    if unchanged is None:
        from .store import unchanged

    global _cache_bytes
    with _lock:
        found = _cache.get(key)
        if found is not None and found[0] != stamp:
            if unchanged(conn, key[1], found[0], stamp):
                found[0] = stamp
            else:
                _cache_bytes -= found[2]
                found = None
        if found is None:
            found = _cache[key] = [stamp, OrderedDict(), 0]
        return found


def _keep(entry: list, fetched: dict[int, bytes]) -> None:
    global _cache_bytes
    with _lock:
        if not any(v is entry for v in _cache.values()):
            return  # the layer changed meanwhile: this entry is no longer the cache's
        added = sum(len(t) for f, t in fetched.items() if f not in entry[1])
        entry[1].update(fetched)
        entry[2] += added
        _cache_bytes += added
        if _cache_bytes > CACHE_BYTES:
            while _cache_bytes > CACHE_BYTES * EVICT_TO:
                biggest = max(_cache.values(), key=lambda e: e[2])
                if not biggest[1]:
                    break
                _, text = biggest[1].popitem(last=False)
                biggest[2] -= len(text)
                _cache_bytes -= len(text)


def clear_cache() -> None:
    global _cache_bytes
    with _lock:
        _cache.clear()
        _cache_bytes = 0


def cache_usage() -> tuple[int, int]:
    """(Features, bytes) in this worker's Feature cache."""
    with _lock:
        return sum(len(e[1]) for e in _cache.values()), _cache_bytes


def page(conn: sqlite3.Connection, q: ItemsQuery, fids: list[int], state) -> list[bytes]:
    """The Features with these fids, in this order, each as UTF-8 JSON."""
    entry = _cache_for(conn, (state.path, q.layer.name, q.personal), state.stamp)
    cache = entry[1]
    found = {}
    missing = []
    for f in fids:
        text = cache.get(f)
        if text is None:
            missing.append(f)
        else:
            found[f] = text
    if missing:
        fetched = {}
        table = quote(q.layer.name)
        expr = feature_sql(q.layer, q.personal)
        for i in range(0, len(missing), 500):
            part = missing[i:i + 500]
            sql = f"SELECT t.fid, {expr} FROM {table} t WHERE t.fid IN ({', '.join('?' * len(part))})"
            fetched.update((fid, text.encode("utf-8")) for fid, text in _execute(conn, sql, part))
        _keep(entry, fetched)
        found.update(fetched)
    return [found[f] for f in fids]
