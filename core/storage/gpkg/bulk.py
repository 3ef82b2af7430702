"""Bulk writing of a checked reference layer (administrative areas, population grid, roads) into a GeoPackage.

The data were checked column by column (:mod:`rallypoint.frame_checks`) and are written in one
transaction. The spatial index is filled from bounds computed with shapely in one pass rather than
by the per-row trigger, which would call back into Python four times per row; the trigger is
dropped and re-created inside the same transaction, so a failure leaves it in place.
"""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import shapely

from ...schema import LayerDef
from ..base import HISTORY_TABLE, PreparedLoad, quote
from . import blobs

def load_reference(conn: sqlite3.Connection, layer: LayerDef, data: PreparedLoad, *, author: str, now: str,
                   replace: bool = True, note: str | None = None) -> int:
    """Write a whole reference layer, checked by :func:`~rallypoint.frame_checks.prepare_reference`, in one
    transaction."""
    columns, geoms = data.columns, data.geoms
    names = list(columns)
    encoded = blobs.encode_many(geoms)
    bounds = shapely.bounds(geoms)
    rtree = quote(f"rtree_{layer.name}_geom")
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
            conn.execute(f"DELETE FROM {rtree}")
        start = conn.execute(f"SELECT coalesce(max(fid), 0) FROM {table}").fetchone()[0] + 1
        fids = np.arange(start, start + data.rows)
        values = [columns[n].to_numpy(dtype=object) for n in names]
        rows = ((int(fid), blob, *[None if (v is pd.NA or v is None or (isinstance(v, float) and np.isnan(v))) else
                                   (int(v) if isinstance(v, (np.integer,)) else v) for v in vals])
                for fid, blob, vals in zip(fids, encoded, zip(*values) if values else [()] * data.rows))
        conn.executemany(
            f"INSERT INTO {table} (fid, geom{''.join(', ' + quote(n) for n in names)})"
            f" VALUES (?, ?{', ?' * len(names)})", rows)
        conn.executemany(f"INSERT INTO {rtree} VALUES (?, ?, ?, ?, ?)",
                         ((int(f), b[0], b[2], b[1], b[3]) for f, b in zip(fids, bounds)))
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
