"""A consistent GeoPackage copy of a PostGIS registry (:meth:`PgStore.snapshot`), for exports, checks and diffs.

An export, ``validate`` and ``diff``/``merge`` read a snapshot. For a GeoPackage the snapshot is
SQLite's backup of the file; for PostGIS it is this: every layer and the history read in one
``REPEATABLE READ`` transaction (one moment, while editors keep writing) into a new registry
file made by :func:`~rallypoint.storage.gpkg.file.create_file`, rows with their fids. The R-tree
is filled from bounds computed in one vectorised pass, as :mod:`rallypoint.storage.gpkg.bulk` does.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Iterable

import numpy as np
import shapely

from ...schema import LayerDef
from ..base import HISTORY_TABLE, Store, quote
from ..gpkg.blobs import encode_many
from ..gpkg.file import connect, create_file


def _copy_layer(src, dst: sqlite3.Connection, ldef: LayerDef) -> None:
    t = quote(ldef.name)
    names = list(ldef.field_names)
    rows = src.execute(f"SELECT fid{', ST_AsBinary(geom)' if ldef.has_geometry else ''}"
                       f"{''.join(', ' + quote(n) for n in names)} FROM {t} ORDER BY fid").fetchall()
    if not rows:
        return
    bools = [i for i, n in enumerate(names) if ldef.field(n).type == "boolean"]
    start = 2 if ldef.has_geometry else 1
    fids = [r[0] for r in rows]
    triggers = dst.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?",
                           (ldef.name,)).fetchall()
    for name, _ in triggers:  # R-tree and feature-count triggers: done set-wise below
        dst.execute(f"DROP TRIGGER {quote(name)}")
    if ldef.has_geometry:
        geoms = shapely.from_wkb(np.array([None if r[1] is None else bytes(r[1]) for r in rows], dtype=object))
        blobs = encode_many(geoms)
    else:
        blobs = [None] * len(rows)

    def values(row, blob):
        vals = list(row[start:])
        for i in bools:
            if vals[i] is not None:
                vals[i] = int(vals[i])
        return (row[0], blob, *vals) if ldef.has_geometry else (row[0], *vals)

    cols = "fid" + (", geom" if ldef.has_geometry else "") + "".join(", " + quote(n) for n in names)
    marks = ", ".join("?" * (len(names) + (2 if ldef.has_geometry else 1)))
    dst.executemany(f"INSERT INTO {t} ({cols}) VALUES ({marks})", (values(r, b) for r, b in zip(rows, blobs)))
    if ldef.has_geometry:
        present = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
        bounds = shapely.bounds(geoms)
        dst.executemany(f"INSERT INTO {quote(f'rtree_{ldef.name}_geom')} VALUES (?, ?, ?, ?, ?)",
                        ((int(f), b[0], b[2], b[1], b[3]) for f, b, ok in zip(fids, bounds, present) if ok))
        if present.any():
            dst.execute("UPDATE gpkg_contents SET min_x = ?, min_y = ?, max_x = ?, max_y = ? WHERE table_name = ?",
                        (*map(float, shapely.total_bounds(geoms[present])), ldef.name))
    for _, sql in triggers:
        dst.execute(sql)
    if dst.execute("SELECT 1 FROM sqlite_master WHERE name = 'gpkg_ogr_contents'").fetchone():
        dst.execute("UPDATE gpkg_ogr_contents SET feature_count = ? WHERE lower(table_name) = lower(?)",
                    (len(rows), ldef.name))


def snapshot(src: Store, target: str | Path, layers: list[LayerDef], *, reference: Iterable[str] | None = None) -> None:
    """Copy the PostGIS registry open as ``src`` into a new registry file ``target``, as of one moment.

    ``reference``: the reference layers (areas, population, roads) whose rows are wanted (default: all);
    the others are left empty, as an export that does not name them never reads them (a city's million
    population cells are most of a snapshot's time).
    """
    with src.read_snapshot():  # REPEATABLE READ: every layer and the history as of one moment
        create_file(target, layers, src.info)
        with closing(connect(target)) as dst:
            dst.execute("PRAGMA journal_mode = OFF")  # a temporary file: deleted on any error
            dst.execute("PRAGMA synchronous = OFF")
            dst.execute("BEGIN")
            for ldef in layers:
                if ldef.versioned or reference is None or ldef.name in reference:
                    _copy_layer(src, dst, ldef)
            history = src.execute(f"SELECT fid, layer, uuid, version, op, author, at, before, after, note "
                                  f"FROM {HISTORY_TABLE} ORDER BY fid")
            dst.executemany(
                f"INSERT INTO {HISTORY_TABLE} (fid, layer, uuid, version, op, author, at, before, after, note)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ((*r[:7], None if r[7] is None else json.dumps(r[7], ensure_ascii=False),
                  None if r[8] is None else json.dumps(r[8], ensure_ascii=False), r[9]) for r in history))
            dst.execute("COMMIT")
