"""What changed in a GeoPackage registry since a moment: its stamps, which key every per-process cache.

Every write records history rows, and every write of a layer moves its ``gpkg_contents.last_change``
(the registry's store does both in the write's transaction), so (last change, newest history row)
is a stamp that moves with every write, and a layer is known unchanged between two stamps when
no history row of it came in between.
"""

from __future__ import annotations

import sqlite3

from ..base import HISTORY_TABLE


def stamp(conn: sqlite3.Connection, table: str | None = None) -> tuple:
    """Changes whenever the layer (or, without ``table``, any layer) is written: for caches and ETags."""
    if table is None:
        sql = f"SELECT (SELECT max(last_change) FROM gpkg_contents), (SELECT max(fid) FROM {HISTORY_TABLE})"
        return tuple(conn.execute(sql).fetchone())
    sql = f"SELECT (SELECT last_change FROM gpkg_contents WHERE table_name = ?), (SELECT max(fid) FROM {HISTORY_TABLE})"
    return tuple(conn.execute(sql, (table,)).fetchone())


def unchanged(conn: sqlite3.Connection, layer_name: str, old: tuple, new: tuple) -> bool:
    """Whether a layer is as it was at stamp ``old``, now that the stamp is ``new``.

    Every write records history rows, so when the layer's ``last_change`` is the same and no
    history row for it came after ``old``, only other layers were written meanwhile.
    """
    if old == new:
        return True
    if old[0] != new[0] or new[1] is None:
        return False
    sql = f"SELECT NOT EXISTS (SELECT 1 FROM {HISTORY_TABLE} WHERE fid > ? AND layer = ?)"
    return bool(conn.execute(sql, (old[1] or 0, layer_name)).fetchone()[0])


def contents(conn: sqlite3.Connection) -> dict[str, tuple]:
    """Table name → (min_x, min_y, max_x, max_y, last_change) from ``gpkg_contents``."""
    rows = conn.execute("SELECT table_name, min_x, min_y, max_x, max_y, last_change FROM gpkg_contents")
    return {r[0]: r[1:] for r in rows}
