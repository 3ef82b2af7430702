"""The read path of a GeoPackage registry: features straight from SQLite into GeoJSON (:class:`SqliteReader`).

Read through the request's registry connection with plain SQL, shaped by measurement on
the city sample (140,000 hazard points):

* a box is answered from the R-tree, joined to the layer in the R-tree's order (stable
  while the layer is unchanged), so a page costs the same however many features match;
  without a box, features come in fid order;
* ``numberMatched`` for a box is counted in the R-tree alone (through a grid of counts for
  large layers: :mod:`.counting`), less the retired features in the box; the retired fids
  and the unfiltered total of each layer are kept per process, checked against the layer's
  :func:`stamp` (its ``last_change`` and the newest history row) on every request, so any
  write to the layer refreshes them (see :func:`unchanged`);
* the column list is prepared once per layer (personal fields are not even selected for
  anonymous users); pages of GeoJSON are written by SQLite (:mod:`.geojson`), or, for
  other CRSs and HTML, from the rows by :mod:`.geojson`.

Layer and field names come from the definitions of tables listed in ``gpkg_contents`` (the
registry checks that when it opens); values are always bound.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from ...crs import Crs
from ...schema import LayerDef
from .. import rows as features
from ..base import ItemsQuery, quote
from ..clauses import attribute_clauses
from ..rows import served_fields
from . import counting
from .changes import contents, stamp, unchanged

_prepared: dict[tuple[int, bool], tuple[LayerDef, tuple]] = {}
_states: dict[tuple[str, str], LayerState] = {}
MAX_RETIRED_SUBTRACTED = 2000  # beyond this, count by joining the layer instead


def columns(layer: LayerDef, personal: bool) -> tuple[tuple[str, ...], tuple[int, ...], str]:
    """Field names served, positions of boolean ones, and the SELECT list (t.fid, t.geom, fields); once per layer."""
    key = (id(layer), personal)
    hit = _prepared.get(key)
    if hit is None or hit[0] is not layer:
        names, booleans = served_fields(layer, personal)
        cols = ["t.fid"] + (["t.geom"] if layer.has_geometry else []) + ["t." + quote(n) for n in names]
        hit = _prepared[key] = (layer, (names, booleans, ", ".join(cols)))
    return hit[1]


# -- what is cached about each layer -------------------------------------------------------------

@dataclass
class LayerState:
    path: str
    stamp: tuple
    retired: tuple[int, ...]  # fids of retired features
    size_hint: int = 0  # the highest fid: about how many features the layer holds
    total: int | None = None  # features in use, counted on first need


def layer_state(conn: sqlite3.Connection, path: str, layer: LayerDef, current: tuple) -> LayerState:
    """What is cached about a layer of the registry at ``path``, refreshed when its stamp changes."""
    key = (path, layer.name)
    state = _states.get(key)
    if state is not None and state.stamp != current and unchanged(conn, layer.name, state.stamp, current):
        state.stamp = current
    if state is None or state.stamp != current:
        retired: tuple[int, ...] = ()
        if layer.versioned:
            rows = conn.execute(f"SELECT fid FROM {quote(layer.name)} WHERE retired_at IS NOT NULL").fetchall()
            retired = tuple(r[0] for r in rows)
        size = conn.execute(f"SELECT max(fid) FROM {quote(layer.name)}").fetchone()[0] or 0
        state = _states[key] = LayerState(path, current, retired, size)
    return state


# -- queries -------------------------------------------------------------------------------------

def _rtree(layer: LayerDef) -> str:
    return quote(f"rtree_{layer.name}_geom")


def _box_clause(q: ItemsQuery, alias: str = "") -> tuple[str, list[float]]:
    parts, params = [], []
    p = f"{alias}." if alias else ""
    for minx, miny, maxx, maxy in q.bboxes or ():
        parts.append(f"({p}minx <= ? AND {p}maxx >= ? AND {p}miny <= ? AND {p}maxy >= ?)")
        params.extend([maxx, minx, maxy, miny])
    return " OR ".join(parts), params


def count(conn: sqlite3.Connection, q: ItemsQuery, state: LayerState) -> int:
    """Exactly how many features in use match."""
    table = quote(q.layer.name)
    plain = q.time is None and not q.filters
    if plain and not q.bboxes:
        if state.total is None:
            state.total = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] - len(state.retired)
        return state.total
    if plain and len(state.retired) <= MAX_RETIRED_SUBTRACTED:
        box, params = _box_clause(q)
        grid = None
        if len(q.bboxes) == 1:
            grid = counting.grid_for(conn, state.path, q.layer.name, state.stamp, state.size_hint)
        if grid is not None:
            n = grid.count(conn, q.bboxes[0])
        else:
            n = conn.execute(f"SELECT count(*) FROM {_rtree(q.layer)} WHERE {box}", params).fetchone()[0]
        if state.retired:
            ids = ", ".join("?" * len(state.retired))
            n -= conn.execute(f"SELECT count(*) FROM {_rtree(q.layer)} WHERE id IN ({ids}) AND ({box})",
                              [*state.retired, *params]).fetchone()[0]
        return n
    clauses, params = attribute_clauses(q)
    if q.bboxes:
        box, box_params = _box_clause(q)
        clauses.append(f"t.fid IN (SELECT id FROM {_rtree(q.layer)} WHERE {box})")
        params += box_params
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    return conn.execute(f"SELECT count(*) FROM {table} t{where}", params).fetchone()[0]


def _page_source(q: ItemsQuery) -> tuple[str, list[Any]]:
    """``FROM … LIMIT ? OFFSET ?`` of one page: R-tree order with a box, fid order without."""
    clauses, params = attribute_clauses(q)
    table = quote(q.layer.name)
    if q.bboxes:
        box, box_params = _box_clause(q, "r")
        where = " AND ".join([f"({box})", *clauses])
        return (f"FROM {_rtree(q.layer)} r JOIN {table} t ON t.fid = r.id WHERE {where} LIMIT ? OFFSET ?",
                box_params + params + [q.limit, q.offset])
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    return f"FROM {table} t{where} ORDER BY t.fid LIMIT ? OFFSET ?", params + [q.limit, q.offset]


def page(conn: sqlite3.Connection, q: ItemsQuery) -> list[tuple]:
    """One page of rows (fid, geom, fields)."""
    _, _, select = columns(q.layer, q.personal)
    source, params = _page_source(q)
    return conn.execute(f"SELECT {select} {source}", params).fetchall()


def page_ids(conn: sqlite3.Connection, q: ItemsQuery, state: LayerState) -> list[int]:
    """The fids of one page; a plain box over a layer with nothing retired is read from the R-tree alone."""
    if q.bboxes and q.time is None and not q.filters and not state.retired:
        box, params = _box_clause(q)
        sql = f"SELECT id FROM {_rtree(q.layer)} WHERE {box} LIMIT ? OFFSET ?"
    else:
        source, params = _page_source(q)
        sql = f"SELECT t.fid {source}"
        params = params[:-2]
    return [r[0] for r in conn.execute(sql, params + [q.limit, q.offset]).fetchall()]


def page_json(conn: sqlite3.Connection, q: ItemsQuery, state: LayerState) -> list[bytes]:
    """One page as GeoJSON Feature texts written by SQLite (CRS84 only): see :mod:`.geojson`."""
    from . import geojson

    return geojson.page(conn, q, page_ids(conn, q, state), state)


def one(conn: sqlite3.Connection, layer: LayerDef, feature_id: str, personal: bool) -> tuple | None:
    """The row of one feature in use (retired features are not served), or None."""
    _, _, select = columns(layer, personal)
    if layer.versioned:
        sql = f"SELECT {select} FROM {quote(layer.name)} t WHERE t.uuid = ? AND t.retired_at IS NULL"
        return conn.execute(sql, (feature_id,)).fetchone()
    try:
        fid = int(feature_id)
    except ValueError:
        return None
    if not -2**63 <= fid < 2**63:  # beyond SQLite's integers: no such feature (not an OverflowError)
        return None
    return conn.execute(f"SELECT {select} FROM {quote(layer.name)} t WHERE t.fid = ?", (fid,)).fetchone()


class SqliteReader:
    """A GeoPackage registry, read through the request's own SQLite connection (see :class:`~..base.Reader`)."""

    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection, where: str):
        self.conn = conn
        self.where = where

    def stamp(self, table: str | None = None) -> tuple:
        return stamp(self.conn, table)

    def unchanged(self, layer_name: str, old: tuple, new: tuple) -> bool:
        return unchanged(self.conn, layer_name, old, new)

    def contents(self) -> dict[str, tuple]:
        return contents(self.conn)

    def prepare(self, q: ItemsQuery, current: tuple) -> None:
        if q.cql:  # the SQL functions a filter calls, and the fids of its spatial predicates
            from .filters import register, resolve

            register(self.conn)
            q.filters = resolve(self.conn, q.filters, self.where, current)

    def layer_state(self, layer: LayerDef, current: tuple) -> LayerState:
        return layer_state(self.conn, self.where, layer, current)

    def page(self, q: ItemsQuery) -> list[tuple]:
        return page(self.conn, q)

    def page_json(self, q: ItemsQuery, state: LayerState) -> list[bytes]:
        return page_json(self.conn, q, state)

    def count(self, q: ItemsQuery, state: LayerState) -> int:
        return count(self.conn, q, state)

    def one(self, layer: LayerDef, feature_id: str, personal: bool) -> tuple | None:
        return one(self.conn, layer, feature_id, personal)

    def to_features(self, layer: LayerDef, rows_: list[tuple], crs: Crs, personal: bool, *,
                    geometry_as_text: bool = False) -> list[dict[str, Any]]:
        return features.to_features(layer, rows_, crs, personal, geometry_as_text=geometry_as_text)

    def tile(self, layers: list[LayerDef], personal: bool, z: int, x: int, y: int) -> bytes:
        from . import tile_layers

        return tile_layers.tile(self.conn, self.where, layers, personal, z, x, y)
