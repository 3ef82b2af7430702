"""What a CQL2 filter's SQL needs on a GeoPackage's connection: its functions, and spatial predicates resolved.

The API writes a filter as SQL for SQLite (:mod:`rallypoint.api.features.cql_sql`); a spatial
predicate is left as a :class:`~..base.Spatial` value, which :func:`resolve` turns into the
matching fids once per request (R-tree candidates, then one vectorised GEOS test; kept while the
layer is unchanged), so SQL gets them as one bound JSON array.
"""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

import numpy as np
import shapely

from ..base import Spatial, quote
from ..filters import fold
from .blobs import decode_many


_TESTS = {"s_intersects": shapely.intersects, "s_disjoint": shapely.disjoint, "s_equals": shapely.equals,
          "s_touches": shapely.touches, "s_crosses": shapely.crosses, "s_overlaps": shapely.overlaps,
          # literal first (prepared): the feature within the literal is the literal containing the feature
          "s_within": shapely.contains, "s_contains": shapely.within}
_matches: dict[tuple, str] = {}
_lock = threading.Lock()
MAX_CACHED = 32


def _match(conn: sqlite3.Connection, sp: Spatial) -> str:
    """The fids (a JSON array) of the layer's features whose geometry stands in ``sp.op`` to the literal."""
    lit = shapely.from_wkb(sp.wkb)
    shapely.prepare(lit)
    table = quote(sp.layer)
    if sp.op == "s_disjoint":  # every geometry is a candidate
        rows = conn.execute(f"SELECT fid, geom FROM {table} WHERE geom IS NOT NULL").fetchall()
    else:
        minx, miny, maxx, maxy = lit.bounds
        rtree = quote(f"rtree_{sp.layer}_geom")
        rows = conn.execute(f"SELECT t.fid, t.geom FROM {table} t WHERE t.fid IN (SELECT id FROM {rtree} "
                            "WHERE minx <= ? AND maxx >= ? AND miny <= ? AND maxy >= ?)",
                            (maxx, minx, maxy, miny)).fetchall()
    if not rows:
        return "[]"
    fids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    geoms = decode_many([r[1] for r in rows])
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    hit = present & _TESTS[sp.op](lit, geoms)
    return "[" + ",".join(map(str, fids[hit].tolist())) + "]"


def resolve(conn: sqlite3.Connection, filters: list[tuple[str, list[Any]]], path: str,
            stamp: tuple) -> list[tuple[str, list[Any]]]:
    """``filters`` with every :class:`Spatial` value replaced by its matching fids (cached per layer state)."""
    out = []
    for sql, values in filters:
        if any(isinstance(v, Spatial) for v in values):
            done = []
            for v in values:
                if isinstance(v, Spatial):
                    key = (path, stamp, v)
                    found = _matches.get(key)
                    if found is None:
                        found = _match(conn, v)
                        with _lock:
                            if len(_matches) >= MAX_CACHED:
                                _matches.clear()
                            _matches[key] = found
                    v = found
                done.append(v)
            values = done
        out.append((sql, values))
    return out


def register(conn: sqlite3.Connection) -> None:
    """The functions a translated filter calls, on a connection that will run it."""
    conn.create_function("rp_cql_casei", 1, lambda v: fold("casei", v) if isinstance(v, str) else v,
                         deterministic=True)
    conn.create_function("rp_cql_accenti", 1, lambda v: fold("accenti", v) if isinstance(v, str) else v,
                         deterministic=True)
