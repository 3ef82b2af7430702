"""The read path of a PostGIS registry: pages, counts, features and tiles written by PostgreSQL.

The same answers as the GeoPackage's read path (:mod:`..gpkg.reader`), by other means:

* a page is one query, ``LIMIT … OFFSET …``; a box is ``geom && ST_MakeEnvelope(…)``. Without a
  box, pages come in fid order (as from a GeoPackage). With one, in the GiST index's order of
  distance from the box's lower-left corner (``ORDER BY geom <-> corner``: a nearest-first index
  scan that stops after the page), as a GeoPackage gives its R-tree's order: stable while the layer
  is unchanged, the same features over the pages, each page ordered otherwise. Measured on the
  city sample (140,000 hazard points, 1 million population cells), a page of 100 from a box holding
  20,000 to 40,000 features took 1.6–3 ms this way against 230–260 ms sorted by fid (the planner
  then reads every feature in the box and sorts them);
* each Feature of a GeoJSON page is written by PostgreSQL as one finished text (``ST_AsGeoJSON``
  for the geometry at full precision, ``row_to_json`` for the properties, in the layer's field
  order), so Python only splices them into the document, as it does with SQLite's; and, as for a
  GeoPackage, written Features are kept per process (:mod:`..cache`, dropped when the
  layer is written), so a page costs one query for its fids and PostgreSQL writes only the
  Features not yet seen. Other CRSs and HTML go through :mod:`.geojson` from WKB;
* ``numberMatched``: the unfiltered total of a layer is counted once per process and layer state;
  a single box over a layer of more than :data:`.counting.MIN_ENTRIES` features is counted exactly
  with a grid of counts (:mod:`..grid`, :class:`PgGrid`: the cells wholly inside the box summed,
  the GiST index counting only four thin strips at its edges), whatever it holds; any other
  box or filter is counted exactly up to :data:`COUNT_CAP` matches (a count with ``LIMIT``:
  bounded work through the GiST index, whatever the layer's size: each match costs a visit to its
  row, about as long as writing a tenth of a page's Feature). Beyond that it is left out,
  as OGC API – Features allows (``numberMatched`` is optional, and must be exact when given:
  an estimate from the planner's statistics would be a wrong number). Pages still link ``next``
  while they are full. tipg (``_features_count_query``) and pygeoapi's PostgreSQL provider run a
  separate exact ``count(*)`` on every request, whose cost grows with the matches (a wide box
  over 10 million rows: seconds, for a page of 100); the grid and the cap keep it bounded;
* the state of the registry (:meth:`PgReader.stamp`) comes from ``rp_history``, which every
  write through Rallypoint and every trigger-stamped edit (QGIS too) appends to in the same
  transaction: its highest id, and how many of its last :data:`STAMP_WINDOW` ids are visible
  (a transaction that took an id earlier but commits later changes that number). A write that
  bypasses the history (a direct SQL change of a reference layer, which has no triggers) is not
  seen until the next recorded change.

Layer and field names come from the registry's definitions; values are always bound.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg

from ...crs import Crs
from ...schema import LayerDef
from .. import cache, grid
from .. import rows as features
from ..base import HISTORY_TABLE, ItemsQuery
from ..clauses import attribute_clauses
from .schema import qi

COUNT_CAP = 10_000
# After a write to a large layer its grid of counts is not rebuilt at once (a full pass: 24 s over 10M rows, in
# every worker, after every write of a busy registry): box counts are capped counts (exact up to COUNT_CAP, else
# left out) until the layer has been quiet this long, then the grid is rebuilt once.
GRID_QUIET_S = 60.0
STAMP_WINDOW = 256
_EXTENT_EXACT_ROWS = 1_000_000  # above: the planner's estimated extent (ST_EstimatedExtent), not a full scan
_prepared: dict[tuple[int, bool], tuple[LayerDef, tuple[str, str]]] = {}
_states: dict[tuple[str, str], PgLayerState] = {}
_contents: dict[str, tuple[tuple, dict[str, tuple]]] = {}
_lock = threading.Lock()


@dataclass
class PgLayerState:
    stamp: tuple
    total: int | None = None  # features in use, counted on first need
    size: int | None = None  # the highest fid: about how many features the layer holds
    grid: PgGrid | None = None  # counts of a large layer's features by cell, built on first need
    grid_after: float = 0.0  # time.monotonic() before which no grid is built (GRID_QUIET_S after a write)


@dataclass
class PgGrid:
    """The grid of counts (:mod:`..grid`) of a PostGIS layer: the features in use by the cell holding their
    box's lower-left corner (``ST_XMin``, ``ST_YMin``), counted by PostgreSQL (``width_bucket``)."""

    xs: np.ndarray  # cell edges, -inf and +inf at the ends
    ys: np.ndarray
    cum: np.ndarray  # cum[i, j] = features in cells [:i, :j]

    @classmethod
    def build(cls, conn, layer: LayerDef) -> PgGrid | None:
        table = qi(layer.name)
        use = " AND t.retired_at IS NULL" if layer.versioned else ""
        lo_x, hi_x, lo_y, hi_y = conn.execute(
            f"SELECT min(ST_XMin(t.geom)), max(ST_XMin(t.geom)), min(ST_YMin(t.geom)), max(ST_YMin(t.geom)) "
            f"FROM {table} t WHERE t.geom IS NOT NULL{use}").fetchone()
        if lo_x is None:
            return None
        xs, ys = grid.edges(np.array([lo_x, hi_x])), grid.edges(np.array([lo_y, hi_y]))
        rows = conn.execute(
            f"SELECT width_bucket(ST_XMin(t.geom), %s::float8[]), width_bucket(ST_YMin(t.geom), %s::float8[]), "
            f"count(*) FROM {table} t WHERE t.geom IS NOT NULL{use} GROUP BY 1, 2",
            (xs[1:-1].tolist(), ys[1:-1].tolist())).fetchall()
        counts = np.zeros((grid.CELLS, grid.CELLS), dtype=np.int64)
        if rows:
            cells = np.array(rows, dtype=np.int64)
            counts[cells[:, 0], cells[:, 1]] = cells[:, 2]
        return cls(xs, ys, grid.prefix_sums(counts))

    def count(self, reader: PgReader, q: ItemsQuery) -> int:
        """Exactly the features in use whose box meets ``q``'s one box, as ``count(*)`` with ``&&`` would say."""
        minx, miny, maxx, maxy = q.bboxes[0]
        a, b = grid.full_cells(self.xs, minx, maxx)
        c, d = grid.full_cells(self.ys, miny, maxy)
        where, params = reader._where(q)
        table = qi(q.layer.name)
        if b <= a or d <= c:
            return reader._all(f"SELECT count(*) FROM {table} t{where}", params)[0][0]
        x0, x1, y0, y1 = float(self.xs[a]), float(self.xs[b]), float(self.ys[c]), float(self.ys[d])
        cum = self.cum
        inner = int(cum[b, d] - cum[a, d] - cum[b, c] + cum[a, c])  # a corner inside the box: surely in it
        # the rest of the box: four thin strips, each feature in exactly one (by its corner's cell)
        # (the second && narrows the index scan to the strip: a feature whose corner lies left of x0 and
        # that meets the box meets the box's part left of x0, and so on)
        strips = [("ST_XMin(t.geom) < ?", [x0], (minx, miny, x0, maxy)),
                  ("ST_XMin(t.geom) >= ?", [x1], (x1, miny, maxx, maxy)),
                  ("ST_XMin(t.geom) >= ? AND ST_XMin(t.geom) < ? AND ST_YMin(t.geom) < ?", [x0, x1, y0],
                   (x0, miny, x1, y0)),
                  ("ST_XMin(t.geom) >= ? AND ST_XMin(t.geom) < ? AND ST_YMin(t.geom) >= ?", [x0, x1, y1],
                   (x0, y1, x1, maxy))]
        sql = " + ".join(f"(SELECT count(*) FROM {table} t{where} AND t.geom && ST_MakeEnvelope(?, ?, ?, ?, 4490) "
                         f"AND {cond})" for cond, _, _ in strips)
        return inner + reader._all(f"SELECT {sql}", [v for _, extra, env in strips
                                                     for v in (*params, *env, *extra)])[0][0]


def _sql(sql: str) -> str:
    # the filters are written with '?' placeholders (see .query and .cql); none holds a literal '?' or '%'
    return sql.replace("%", "%%").replace("?", "%s")


def _selects(layer: LayerDef, personal: bool) -> tuple[str, str]:
    """The row SELECT list (t.fid, WKB, fields) and the GeoJSON Feature expression; once per layer."""
    key = (id(layer), personal)
    hit = _prepared.get(key)
    if hit is None or hit[0] is not layer:
        names = [f.name for f in layer.fields if personal or not f.personal]
        cols = ", ".join("t." + qi(n) for n in names)
        row = "t.fid" + (", ST_AsBinary(t.geom)" if layer.has_geometry else "") + (", " + cols if cols else "")
        ident = "to_json(t.uuid)::text" if layer.versioned else "t.fid::text"
        # options 0: no "crs" member (PostGIS adds one for any SRID but 4326 by default)
        geom = "coalesce(ST_AsGeoJSON(t.geom, 15, 0), 'null')" if layer.has_geometry else "'null'"
        props = f"(SELECT row_to_json(p) FROM (SELECT {cols}) p)::text" if cols else "'{}'"
        feature = (f"""'{{"type":"Feature","id":' || {ident} || ',"geometry":' || {geom} || """
                   f"""',"properties":' || {props} || '}}'""")
        hit = _prepared[key] = (layer, (row, feature))
    return hit[1]


class PgReader:
    """A PostGIS registry, read through the request's own psycopg connection (autocommit)."""

    dialect = "postgis"

    def __init__(self, conn, where: str):
        self.conn = conn
        self.where = where

    def _all(self, sql: str, params: Any = ()) -> list[tuple]:
        return self.conn.execute(_sql(sql), params or None).fetchall()

    # -- state ---------------------------------------------------------------------------------
    def stamp(self, table: str | None = None) -> tuple:
        # one stamp for every layer, as the GeoPackage's history id is; unchanged() tells layers apart
        row = self.conn.execute(
            f"SELECT max(fid), count(*) FROM {HISTORY_TABLE} WHERE fid > "
            f"(SELECT coalesce(max(fid), 0) FROM {HISTORY_TABLE}) - {STAMP_WINDOW}").fetchone()
        return ("pg", row[0], row[1])

    def unchanged(self, layer_name: str, old: tuple, new: tuple) -> bool:
        if old == new:
            return True
        if old[1] is None:
            return False
        # every change since `old` has a history row past old's window (see the module's notes)
        row = self.conn.execute(
            f"SELECT NOT EXISTS (SELECT 1 FROM {HISTORY_TABLE} WHERE fid > %s AND layer = %s)",
            (old[1] - STAMP_WINDOW, layer_name)).fetchone()
        return bool(row[0])

    def contents(self) -> dict[str, tuple]:
        current = self.stamp()
        hit = _contents.get(self.where)
        if hit is not None and hit[0] == current:
            return hit[1]
        out: dict[str, tuple] = {}
        tables = {r[0]: r[1] for r in self.conn.execute(
            "SELECT c.relname, c.reltuples FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace "
            "AND c.relkind = 'r'")}
        for name, rows in tables.items():
            if not self._has_geom(name):
                continue
            box = None
            if rows > _EXTENT_EXACT_ROWS:  # from the planner's statistics: a little wider than the data, at most
                try:
                    box = self.conn.execute("SELECT ST_EstimatedExtent(current_schema(), %s, 'geom')",
                                            (name,)).fetchone()[0]
                except psycopg.Error:  # no statistics yet: the exact extent, once per state
                    box = None
            if box is None:
                box = self.conn.execute(f"SELECT ST_Extent(geom) FROM {qi(name)}").fetchone()[0]
            out[name] = (None, None, None, None, None) if box is None else (*_box(box), None)
        with _lock:
            _contents[self.where] = (current, out)
        return out

    def _has_geom(self, table: str) -> bool:
        # a layer's geometry is its column geom (a companion table's, such as rp_points_*, is not a layer's)
        return self.conn.execute("SELECT EXISTS (SELECT 1 FROM geometry_columns WHERE f_table_schema = "
                                 "current_schema() AND f_table_name = %s AND f_geometry_column = 'geom')",
                                 (table,)).fetchone()[0]

    def layer_state(self, layer: LayerDef, current: tuple) -> PgLayerState:
        key = (self.where, layer.name)
        state = _states.get(key)
        if state is not None and state.stamp != current and self.unchanged(layer.name, state.stamp, current):
            state.stamp = current
        if state is None or state.stamp != current:
            fresh = PgLayerState(current)
            if state is not None and (state.grid is not None or state.grid_after):  # a large layer was written
                fresh.grid_after = time.monotonic() + GRID_QUIET_S
            state = _states[key] = fresh
        return state

    # -- items ---------------------------------------------------------------------------------
    def prepare(self, q: ItemsQuery, current: tuple) -> None:
        pass  # PostgreSQL runs the filters as written (cql's postgis dialect)

    @staticmethod
    def _where(q: ItemsQuery) -> tuple[str, list[Any]]:
        clauses, params = attribute_clauses(q)  # filters written by query._filter and cql (dialect postgis)
        if q.bboxes:
            clauses.append("(" + " OR ".join("t.geom && ST_MakeEnvelope(?, ?, ?, ?, 4490)" for _ in q.bboxes) + ")")
            for box in q.bboxes:
                params.extend(box)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def _page(self, q: ItemsQuery, select: str) -> list[tuple]:
        where, params = self._where(q)
        if q.bboxes:  # the GiST index's nearest-first order from the box's corner: stops after the page
            order = "t.geom <-> ST_SetSRID(ST_MakePoint(?, ?), 4490)"
            params += [q.bboxes[0][0], q.bboxes[0][1]]
        else:
            order = "t.fid"
        return self._all(f"SELECT {select} FROM {qi(q.layer.name)} t{where} ORDER BY {order} LIMIT ? OFFSET ?",
                         params + [q.limit, q.offset])

    def page(self, q: ItemsQuery) -> list[tuple]:
        return self._page(q, _selects(q.layer, q.personal)[0])

    def page_json(self, q: ItemsQuery, state: PgLayerState) -> list[bytes]:
        """The page's fids, then the Features not yet in the per-process cache (:mod:`..cache`) (kept, as for a
        GeoPackage, until the layer is written): on the county sample a page of 100 hazard points took
        4.6 ms with every Feature written by PostgreSQL on each request."""
        entry = cache.entry((self.where, q.layer.name, q.personal), state.stamp, self.unchanged)
        kept = entry[1]
        fids = [r[0] for r in self._page(q, "t.fid")]
        found = {f: kept.get(f) for f in fids}
        missing = [f for f, text in found.items() if text is None]
        if missing:
            feature = _selects(q.layer, q.personal)[1]
            rows = self._all(f"SELECT t.fid, {feature} FROM {qi(q.layer.name)} t WHERE t.fid = ANY(?)", [missing])
            fetched = {fid: text.encode("utf-8") for fid, text in rows}
            cache.keep(entry, fetched)
            found.update(fetched)
        return [found[f] for f in fids]

    def count(self, q: ItemsQuery, state: PgLayerState) -> int | None:
        table = qi(q.layer.name)
        where, params = self._where(q)
        if q.bboxes is None and q.time is None and not q.filters:
            if state.total is None:
                state.total = self._all(f"SELECT count(*) FROM {table} t{where}")[0][0]
            return state.total
        if q.bboxes is not None and len(q.bboxes) == 1 and q.time is None and not q.filters:
            grid = self._grid(q.layer, state)
            if grid is not None:
                return grid.count(self, q)
        n = self._all(f"SELECT count(*) FROM (SELECT 1 FROM {table} t{where} LIMIT ?) s",
                      params + [COUNT_CAP + 1])[0][0]
        return None if n > COUNT_CAP else n

    def _grid(self, layer: LayerDef, state: PgLayerState) -> PgGrid | None:
        """The grid of a layer large enough to need one, built on first need and kept with the layer's state."""
        if state.size is None:
            state.size = self.conn.execute(f"SELECT coalesce(max(fid), 0) FROM {qi(layer.name)}").fetchone()[0]
        if state.size < grid.MIN_ENTRIES:
            return None
        if state.grid is None:
            if time.monotonic() < state.grid_after:
                return None  # written lately: a capped count now, the grid once the layer is quiet
            state.grid = PgGrid.build(self.conn, layer)
        return state.grid

    def one(self, layer: LayerDef, feature_id: str, personal: bool) -> tuple | None:
        row, _ = _selects(layer, personal)
        if layer.versioned:
            sql = f"SELECT {row} FROM {qi(layer.name)} t WHERE t.uuid = %s AND t.retired_at IS NULL"
            return self.conn.execute(sql, (feature_id,)).fetchone()
        try:
            fid = int(feature_id)
        except ValueError:
            return None
        if not -2**63 <= fid < 2**63:
            return None
        return self.conn.execute(f"SELECT {row} FROM {qi(layer.name)} t WHERE t.fid = %s", (fid,)).fetchone()

    def to_features(self, layer: LayerDef, rows_: list[tuple], crs: Crs, personal: bool, *,
                    geometry_as_text: bool = False) -> list[dict[str, Any]]:
        return features.to_features(layer, rows_, crs, personal, geometry_as_text=geometry_as_text, wkb=True)

    # -- tiles ---------------------------------------------------------------------------------
    def tile(self, layers: list[LayerDef], personal: bool, z: int, x: int, y: int) -> bytes:
        from . import tiles

        return tiles.tile(self.conn, layers, personal, z, x, y)


def _box(box: str) -> tuple[float, float, float, float]:
    """``BOX(minx miny,maxx maxy)`` (ST_Extent's text) as numbers."""
    inner = box[box.index("(") + 1:box.rindex(")")]
    lo, hi = inner.split(",")
    minx, miny = (float(v) for v in lo.split())
    maxx, maxy = (float(v) for v in hi.split())
    return minx, miny, maxx, maxy
