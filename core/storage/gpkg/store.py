"""The GeoPackage store: a registry in one file, through Python's sqlite3 (see :mod:`rallypoint.storage.base`)."""

from __future__ import annotations

import json
import os
import sqlite3
from contextlib import closing, contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator

from ...errors import RegistryFileError
from ...schema import LayerDef
from ..base import CONFLICTS_TABLE, HISTORY_TABLE, HistoryEntry, PreparedLoad, RegistryInfo, quote
from . import blobs
from .accounts import GpkgAccounts
from .file import add_attribute_layers, connect, read_info
from .keys import GpkgKeys

_CONFLICTS_DDL = f"""CREATE TABLE IF NOT EXISTS {CONFLICTS_TABLE} (
  id INTEGER PRIMARY KEY AUTOINCREMENT, layer TEXT NOT NULL, uuid TEXT NOT NULL, kind TEXT NOT NULL,
  fields TEXT NOT NULL, ours_version INTEGER, base TEXT, ours TEXT, theirs TEXT NOT NULL, theirs_from TEXT,
  detected_at DATETIME NOT NULL, detected_by TEXT NOT NULL, resolved_at DATETIME, resolution TEXT)"""
_CONFLICT_COLUMNS = ("layer", "uuid", "kind", "fields", "ours_version", "base", "ours", "theirs", "theirs_from",
                     "detected_at", "detected_by")


@lru_cache(maxsize=256)
def _insert_sql(table: str, cols: tuple[str, ...], with_geometry: bool) -> str:
    names = [quote(c) for c in cols] + (["geom"] if with_geometry else [])
    return f"INSERT INTO {quote(table)} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"


def _json(value: dict | None) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


class GpkgStore:
    """A registry's GeoPackage file. Rallypoint writes the history rows itself, in the batch's transaction."""

    geom_select = "geom"
    no_limit = -1
    json_list = "SELECT value FROM json_each(?)"

    def __init__(self, path: str | os.PathLike, *, readonly: bool = False):
        self.path = Path(path)
        self.label = str(self.path)
        if not self.path.is_file():
            raise RegistryFileError(f"{self.path}: no such registry file")
        self.location = str(self.path.resolve())
        self._file_id = self._identity()
        # The file is never opened and closed with open() to look at its header: closing any
        # descriptor of a file drops every POSIX lock this process holds on it, SQLite's among
        # them, and another connection of this process (a server's other thread) then reads
        # a WAL that other processes believe unused (stale rows, torn reads). SQLite says it.
        if self.path.stat().st_size == 0:
            raise RegistryFileError(f"{self.path}: an empty file, not a GeoPackage")
        self.conn = None
        try:
            self.conn = connect(self.path, readonly=readonly)
            self.info: RegistryInfo = read_info(self.conn)
            self._tables = {r[0] for r in self.conn.execute("SELECT table_name FROM gpkg_contents")}
        except sqlite3.DatabaseError as exc:
            if self.conn is not None:
                self.conn.close()
            if "file is not a database" in str(exc):
                raise RegistryFileError(f"{self.path}: not a GeoPackage (not an SQLite database)") from None
            raise RegistryFileError(f"{self.path}: cannot be read as a registry: {exc}") from exc

    def _identity(self) -> tuple[int, int] | None:
        """What tells that the file was replaced: its device and inode (None when it is gone)."""
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def alive(self) -> bool:
        return self._identity() == self._file_id

    def in_transaction(self) -> bool:
        return self.conn.in_transaction

    def reader(self, where: str):
        """The OGC API's reader of this file (:mod:`.reader`), on this connection."""
        from .reader import SqliteReader

        return SqliteReader(self.conn, where)

    def snapshot(self, target: str | os.PathLike, layers: list[LayerDef], *, reference: Any = None) -> None:
        """SQLite's online backup of the file into ``target``: one consistent state, WAL content included."""
        with closing(sqlite3.connect(str(target))) as dst:
            self.conn.backup(dst)

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def tables(self) -> set[str]:
        return self._tables

    def columns(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {t: set() for t in self._tables}
        for table, column in self.conn.execute("SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p"
                                               " WHERE m.type = 'table'"):
            if table in out:
                out[table].add(column)
        return out

    def close(self) -> None:
        self.conn.close()

    def keys(self) -> GpkgKeys:
        return GpkgKeys(self.conn)

    def accounts(self) -> GpkgAccounts:
        return GpkgAccounts(self.conn)

    # -- transactions --------------------------------------------------------------
    def begin(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def stamp(self, author: str, now: str) -> None:
        pass  # Rallypoint stamps the rows and writes the history itself

    def flush(self) -> None:
        pass  # every statement has run

    def rollback(self) -> None:
        self.conn.execute("ROLLBACK")

    @contextmanager
    def read_snapshot(self) -> Iterator[None]:
        self.conn.execute("BEGIN")  # deferred: in WAL mode, one read transaction sees one state of the file
        try:
            yield
        finally:
            self.conn.execute("ROLLBACK")

    def add_layers(self, layers: list[LayerDef], language: str, now: str) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            add_attribute_layers(self.conn, layers, language, now)
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def commit(self, touched: dict[str, list[float]], now: str) -> None:
        for table, ext in touched.items():
            if ext:
                self.conn.execute(
                    "UPDATE gpkg_contents SET last_change = ?, min_x = min(coalesce(min_x, ?), ?),"
                    " min_y = min(coalesce(min_y, ?), ?), max_x = max(coalesce(max_x, ?), ?),"
                    " max_y = max(coalesce(max_y, ?), ?) WHERE table_name = ?",
                    (now, ext[0], ext[0], ext[1], ext[1], ext[2], ext[2], ext[3], ext[3], table))
            else:
                self.conn.execute("UPDATE gpkg_contents SET last_change = ? WHERE table_name = ?", (now, table))
        self.conn.execute("COMMIT")

    # -- writes --------------------------------------------------------------------
    def _write_history(self, layer: str, h: HistoryEntry) -> None:
        self.conn.execute(
            f"INSERT INTO {HISTORY_TABLE} (layer, uuid, version, op, author, at, before, after, note)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (layer, h.uuid, h.version, h.op, h.author, h.at, _json(h.before), _json(h.after), h.note))

    def insert(self, layer: LayerDef, row: dict[str, Any], geom: Any,
               history: HistoryEntry | None, on_duplicate: Callable[[], None] | None = None) -> int | None:
        cols = tuple(row)
        values = [row[c] for c in cols]
        if layer.has_geometry:
            values.append(blobs.encode(geom))
        try:
            fid = self.conn.execute(_insert_sql(layer.name, cols, layer.has_geometry), values).lastrowid
        except sqlite3.IntegrityError as exc:  # the unique index on uuid
            if "uuid" not in str(exc) or on_duplicate is None:
                raise
            on_duplicate()
            return None
        if history is not None:
            self._write_history(layer.name, history)
        return fid

    def insert_many(self, layer: LayerDef, names: list[str], columns: list[list[Any]], geoms: Any, *, author: str,
                    at: str, note: str | None) -> None:
        from .bulk import insert_features

        insert_features(self.conn, layer, names, columns, geoms, author=author, at=at, note=note)

    def update(self, layer: LayerDef, fid: int, row: dict[str, Any], geom: Any,
               history: HistoryEntry) -> None:
        cols = [c for c in row if c != "uuid"]
        values = [row[c] for c in cols]
        sets = [f"{quote(c)} = ?" for c in cols]
        if layer.has_geometry:
            sets.append("geom = ?")
            values.append(blobs.encode(geom))
        self.conn.execute(f"UPDATE {quote(layer.name)} SET {', '.join(sets)} WHERE fid = ?", (*values, fid))
        self._write_history(layer.name, history)

    def load_reference(self, layer: LayerDef, data: PreparedLoad, *, author: str, now: str, replace: bool,
                       note: str | None) -> int:
        from .bulk import load_reference

        return load_reference(self.conn, layer, data, author=author, now=now, replace=replace, note=note)

    # -- merge conflicts -------------------------------------------------------------
    def ensure_conflicts_table(self, now: str) -> None:
        """An attributes table registered in ``gpkg_contents``, so QGIS and GDAL list it."""
        self.conn.execute(_CONFLICTS_DDL)
        self.conn.execute(
            "INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description, last_change) "
            "VALUES (?, 'attributes', ?, ?, ?)",
            (CONFLICTS_TABLE, "合并冲突", ("Merge conflicts: the other bureau's version of features both sides "
                                         "changed (ours stays in the layer)"), now))

    def conflict_recorded(self, layer: str, uuid: str, theirs: str) -> bool:
        return self.conn.execute(f"SELECT 1 FROM {CONFLICTS_TABLE} WHERE layer = ? AND uuid = ? AND theirs = ?",
                                 (layer, uuid, theirs)).fetchone() is not None

    def record_conflict(self, row: dict[str, Any]) -> None:
        self.conn.execute(f"INSERT INTO {CONFLICTS_TABLE} ({', '.join(_CONFLICT_COLUMNS)}) "
                          f"VALUES ({', '.join('?' * len(_CONFLICT_COLUMNS))})",
                          [row[c] for c in _CONFLICT_COLUMNS])

    def conflicts(self, *, resolved: bool | None = False, conflict_id: int | None = None,
                  lock: bool = False) -> list[dict[str, Any]]:
        if not self.conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (CONFLICTS_TABLE,)).fetchone():
            return []
        clauses, params = [], []
        if resolved is not None:
            clauses.append(f"resolved_at IS {'NOT ' if resolved else ''}NULL")
        if conflict_id is not None:
            clauses.append("id = ?")
            params.append(conflict_id)
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        # lock: a batch's BEGIN IMMEDIATE already holds the file's write lock
        cur = self.conn.execute(f"SELECT * FROM {CONFLICTS_TABLE}{where} ORDER BY id", params)
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur]

    def unresolved_conflicts(self) -> list[dict[str, Any]]:
        return self.conflicts(resolved=False)

    def mark_resolved(self, conflict_id: int, resolved_at: str, resolution: str) -> bool:
        cur = self.conn.execute(f"UPDATE {CONFLICTS_TABLE} SET resolved_at = ?, resolution = ? "
                                "WHERE id = ? AND resolved_at IS NULL", (resolved_at, resolution, conflict_id))
        return cur.rowcount == 1

    # -- reads ---------------------------------------------------------------------
    def lock_clause(self) -> str:
        return ""  # BEGIN IMMEDIATE already holds the file's write lock

    def bbox_clause(self, layer: LayerDef, box: tuple[float, float, float, float]) -> tuple[str, list[Any]]:
        minx, miny, maxx, maxy = box
        rtree = quote(f"rtree_{layer.name}_geom")
        return (f"fid IN (SELECT id FROM {rtree} WHERE minx <= ? AND maxx >= ? AND miny <= ? AND maxy >= ?)",
                [maxx, minx, maxy, miny])

    def decode(self, value: Any) -> Any:
        return blobs.decode(value)

    def decode_many(self, values: Any) -> Any:
        return blobs.decode_many(values)

    def point_coords(self, values: Any) -> Any:
        return blobs.point_coords(values)
