"""Pages of GeoJSON Features written by SQLite itself (the fast path of the items list).

Turning 100 rows of 25 columns into Python objects and back into JSON costs more than
the query: so for the common case (GeoJSON in CRS84) each row comes out of SQLite as one
finished Feature string. Properties are written by SQLite's ``json_object`` (reals to 15
significant digits; booleans as true/false); the geometry by :func:`_geojson`, registered
on the connection, which writes a point straight from its GeoPackage blob at full precision
and any other geometry through shapely.

Written Features are kept per process (:mod:`rallypoint.storage.cache`), dropped as soon as the
layer is written (checked on every request: :func:`.reader.unchanged`), so a cached Feature is
never stale. A page then costs one R-tree query for its fids, and SQLite writes only the
Features not yet seen.
"""

from __future__ import annotations

import math
import sqlite3
import struct

import shapely

from ...schema import LayerDef
from .. import cache
from ..base import ItemsQuery, quote
from .changes import unchanged

_POINT = struct.Struct("<dd")
_ENVELOPE = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}
_sql: dict[tuple[int, bool], tuple[LayerDef, str]] = {}
MAX_JSON_OBJECT_ARGS = 120  # SQLite's default limit is 127 arguments


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


def page(conn: sqlite3.Connection, q: ItemsQuery, fids: list[int], state) -> list[bytes]:
    """The Features with these fids, in this order, each as UTF-8 JSON."""
    entry = cache.entry((state.path, q.layer.name, q.personal), state.stamp,
                        lambda name, old, new: unchanged(conn, name, old, new))
    kept = entry[1]
    found = {}
    missing = []
    for f in fids:
        text = kept.get(f)
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
        cache.keep(entry, fetched)
        found.update(fetched)
    return [found[f] for f in fids]
