"""Bulk writing into a GeoPackage: a checked reference layer (administrative areas, population grid, roads),
and checked, stamped features of a versioned layer with their history (a batch's ``add_many``).

The data were checked column by column (:mod:`rallypoint.frame_checks`, :mod:`rallypoint.column_checks`)
and are written in one transaction. The spatial index is filled from bounds computed with shapely in one
pass rather than by the per-row trigger, which would call back into Python four times per row; the
trigger is dropped and re-created inside the same transaction, so a failure leaves it in place.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import numpy as np
import shapely

from ...schema import LayerDef
from ..base import HISTORY_TABLE, PreparedLoad, quote
from . import blobs
from .rtree import clear, fill_empty
from .states import history_from_rows, states_json


def load_reference(conn: sqlite3.Connection, layer: LayerDef, data: PreparedLoad, *, author: str, now: str,
                   replace: bool = True, note: str | None = None) -> int:
    """Write a whole reference layer, checked by :func:`~rallypoint.frame_checks.prepare_reference`, in one
    transaction."""
    import pandas as pd  # for its NA; here, not at the top: a batch's insert_many needs no pandas (~0.5 s)

    columns, geoms = data.columns, data.geoms
    names = list(columns)
    encoded = blobs.encode_many(geoms)
    bounds = shapely.bounds(geoms)
    table = quote(layer.name)
    conn.execute("BEGIN IMMEDIATE")
    try:
        triggers = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?",
                                (layer.name,)).fetchall()
        # Per-row triggers (R-tree and GDAL's feature count) are replaced by set-wise work below.
        for name, _ in triggers:
            conn.execute(f"DROP TRIGGER {quote(name)}")
        if replace:
            conn.execute(f"DELETE FROM {table}")
            clear(conn, f"rtree_{layer.name}_geom")
        start = conn.execute(f"SELECT coalesce(max(fid), 0) FROM {table}").fetchone()[0] + 1
        fids = np.arange(start, start + data.rows)
        values = [columns[n].to_numpy(dtype=object) for n in names]
        rows = ((int(fid), blob, *[None if (v is pd.NA or v is None or (isinstance(v, float) and np.isnan(v))) else
                                   (int(v) if isinstance(v, (np.integer,)) else v) for v in vals])
                for fid, blob, vals in zip(fids, encoded, zip(*values) if values else [()] * data.rows))
        conn.executemany(
            f"INSERT INTO {table} (fid, geom{''.join(', ' + quote(n) for n in names)})"
            f" VALUES (?, ?{', ?' * len(names)})", rows)
        fill_rtree(conn, f"rtree_{layer.name}_geom", fids, bounds)
        for _, sql in triggers:
            conn.execute(sql)
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'gpkg_ogr_contents'").fetchone():
            conn.execute(f"UPDATE gpkg_ogr_contents SET feature_count = (SELECT count(*) FROM {table})"
                         " WHERE lower(table_name) = lower(?)", (layer.name,))
        total = shapely.total_bounds(geoms) if len(geoms) else None
        if total is not None:
            conn.execute("UPDATE gpkg_contents SET last_change = ?, min_x = ?, min_y = ?, max_x = ?, max_y = ?"
                         " WHERE table_name = ?", (now, *map(float, total), layer.name))
        load_id, summary = data.load_id, data.summary
        version = conn.execute(f"SELECT coalesce(max(version), 0) + 1 FROM {HISTORY_TABLE} WHERE layer = ? AND uuid = ?",
                               (layer.name, load_id)).fetchone()[0]
        conn.execute(
            f"INSERT INTO {HISTORY_TABLE} (layer, uuid, version, op, author, at, before, after, note)"
            " VALUES (?, ?, ?, 'load', ?, ?, NULL, ?, ?)",
            (layer.name, load_id, version, author, now, summary, note))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return data.rows


_HISTORY_SLICE = 20_000


def fill_rtree(conn: sqlite3.Connection, rtree: str, ids: np.ndarray, bounds: np.ndarray) -> None:
    """Add entries (``bounds``: shapely's minx, miny, maxx, maxy) to a GeoPackage R-tree as GDAL's insert
    trigger would: in one pass when the tree is empty (:mod:`.rtree`), else one by one through the module."""
    if fill_empty(conn, rtree, ids, bounds[:, 0], bounds[:, 2], bounds[:, 1], bounds[:, 3]):
        return
    conn.executemany(f"INSERT OR REPLACE INTO {quote(rtree)} VALUES (?, ?, ?, ?, ?)",
                     zip(np.asarray(ids).tolist(), bounds[:, 0].tolist(), bounds[:, 2].tolist(),
                         bounds[:, 1].tolist(), bounds[:, 3].tolist()))


def _insert_triggers(conn: sqlite3.Connection, table: str) -> list[tuple[str, str]]:
    """The per-row triggers of inserts into ``table`` that a bulk insert does set-wise instead: GDAL's R-tree
    insert (it calls back into Python four times a row) and its feature count (any other trigger stays)."""
    wanted = {f"rtree_{table}_geom_insert", f"trigger_insert_feature_count_{table}"}
    return [(name, sql) for name, sql in conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?", (table,)) if name in wanted]


def _history(conn: sqlite3.Connection, layer: LayerDef, names: list[str], columns: list[list[Any]],
             geoms: np.ndarray | None, start: int, *, author: str, at: str, note: str | None) -> None:
    """The ``insert`` history of the rows from fid ``start`` on: written by SQLite from the rows when it writes
    json.dumps' very text (:func:`.states.history_from_rows`), else made in Python a slice at a time."""
    offset = None
    if geoms is not None:
        kinds = set(shapely.get_type_id(geoms).tolist())
        offset = 8 if kinds == {0} else 40 if 0 not in kinds and -1 not in kinds else -1  # the blobs' envelopes
        if offset >= 0 and shapely.is_empty(geoms).any():
            offset = -1
    if offset != -1 and history_from_rows(conn, layer.name, [layer.field(k).type for k in names], names, columns,
                                          start, offset, layer=layer.name, author=author, at=at, note=note):
        return
    uuids = columns[names.index("uuid")]
    n = len(uuids)
    for i in range(0, n, _HISTORY_SLICE):  # the history's text a slice at a time: memory stays bounded
        part = slice(i, i + _HISTORY_SLICE)
        hexes = None if geoms is None else \
            shapely.to_wkb(geoms[part], hex=True, byte_order=1, output_dimension=2).tolist()
        after = states_json(names, [c[part] for c in columns], hexes)
        conn.executemany(f"INSERT INTO {HISTORY_TABLE} (layer, uuid, version, op, author, at, before, after, note)"
                         " VALUES (?, ?, 1, 'insert', ?, ?, NULL, ?, ?)",
                         ((layer.name, u, author, at, a, note) for u, a in zip(uuids[part], after)))


def _indexes(conn: sqlite3.Connection, table: str) -> list[tuple[str, str]]:
    """The indexes of ``table`` that can be dropped and made again (not those of its own constraints)."""
    return conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
                        "AND sql IS NOT NULL", (table,)).fetchall()


def insert_features(conn: sqlite3.Connection, layer: LayerDef, names: list[str], columns: list[list[Any]],
                    geoms: np.ndarray | None, *, author: str, at: str, note: str | None) -> None:
    """Insert checked, stamped rows of a versioned layer and their ``insert`` history rows, in the open
    transaction, as one ``insert`` per row with its history entry would write them: the same fids (the
    table's AUTOINCREMENT), blobs, R-tree entries, feature counts and history text (:mod:`.states`)."""
    n = len(columns[0])
    table = quote(layer.name)
    seq = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (layer.name,)).fetchone()
    top = conn.execute(f"SELECT max(fid) FROM {table}").fetchone()[0]
    start = max(seq[0] if seq else 0, top or 0) + 1
    fids = range(start, start + n)
    values = list(columns)
    cols = [quote(c) for c in names]
    if geoms is not None:
        values.append(blobs.encode_many(geoms))
        cols.append("geom")
    triggers = _insert_triggers(conn, layer.name) + _insert_triggers(conn, HISTORY_TABLE)
    for name, _ in triggers:
        conn.execute(f"DROP TRIGGER {quote(name)}")
    history_top = conn.execute(f"SELECT max(fid) FROM {HISTORY_TABLE}").fetchone()[0] or 0
    # an index of a table no larger than what comes in is built again at the end (one sort), not kept
    # up to date row by row; the UUIDs were checked unique before, so its unique index builds again
    indexes = _indexes(conn, layer.name) if (top or 0) <= n else []
    indexes += _indexes(conn, HISTORY_TABLE) if history_top <= n else []
    for name, _ in indexes:
        conn.execute(f"DROP INDEX {quote(name)}")
    conn.executemany(f"INSERT INTO {table} (fid, {', '.join(cols)}) VALUES (?{', ?' * len(cols)})",
                     zip(fids, *values))
    names_of = {name for name, _ in triggers}
    if geoms is not None and f"rtree_{layer.name}_geom_insert" in names_of:
        keep = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        fill_rtree(conn, f"rtree_{layer.name}_geom", np.arange(start, start + n)[keep], shapely.bounds(geoms[keep]))
    _history(conn, layer, names, columns, geoms, start, author=author, at=at, note=note)
    for table_name in (layer.name, HISTORY_TABLE):
        if f"trigger_insert_feature_count_{table_name}" in names_of:
            conn.execute("UPDATE gpkg_ogr_contents SET feature_count = feature_count + ? "
                         "WHERE lower(table_name) = lower(?)", (n, table_name))
    for _, sql in triggers + indexes:
        conn.execute(sql)
