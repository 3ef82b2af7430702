"""The GeoPackage store: a registry in one file, through Python's sqlite3 (see :mod:`rallypoint.store`)."""

from __future__ import annotations

import json
import os
import sqlite3
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterator

from shapely.geometry.base import BaseGeometry

from . import geometry as geo
from .errors import RegistryFileError
from .gpkgfile import HISTORY_TABLE, RegistryInfo, connect, quote, read_info
from .schema import LayerDef
from .store import CONFLICTS_TABLE, KEYS_TABLE, HistoryEntry, KeyRow

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


# Not listed in gpkg_contents: the server's own bookkeeping, so GDAL, QGIS and exchange copies do not show
# it as a layer (a GeoPackage may hold other tables). Made on the first key.
_KEYS_DDL = f"""CREATE TABLE IF NOT EXISTS {KEYS_TABLE} (
  id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, role TEXT NOT NULL CHECK (role IN ('reader','editor','admin')),
  salt BLOB NOT NULL, hash BLOB NOT NULL, created_at TEXT NOT NULL, revoked_at TEXT)"""
_KEY_COLUMNS = "id, name, role, salt, hash, created_at, revoked_at"


def _key_row(r: tuple) -> KeyRow:
    return KeyRow(r[0], r[1], r[2], bytes(r[3]), bytes(r[4]), r[5], r[6])


class GpkgKeys:
    """API keys in the registry file's ``rp_api_keys`` table (see :class:`rallypoint.store.KeyStore`)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def _exists(self) -> bool:
        return self.conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                                 (KEYS_TABLE,)).fetchone() is not None

    def add(self, row: KeyRow) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self.conn.execute(_KEYS_DDL)
            self.conn.execute(f"INSERT INTO {KEYS_TABLE} ({_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                              (row.id, row.name, row.role, row.salt, row.hash, row.created_at, row.revoked_at))
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def get(self, key_id: str) -> KeyRow | None:
        if not self._exists():
            return None
        r = self.conn.execute(f"SELECT {_KEY_COLUMNS} FROM {KEYS_TABLE} WHERE id = ?", (key_id,)).fetchone()
        return None if r is None else _key_row(r)

    def all(self) -> list[KeyRow]:
        if not self._exists():
            return []
        return [_key_row(r) for r in self.conn.execute(
            f"SELECT {_KEY_COLUMNS} FROM {KEYS_TABLE} ORDER BY created_at, id")]

    def revoke(self, which: str, now: str) -> list[KeyRow]:
        if not self._exists():
            return []
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            rows = self.conn.execute(
                f"UPDATE {KEYS_TABLE} SET revoked_at = ? WHERE revoked_at IS NULL AND (id = ? OR name = ?)"
                f" RETURNING {_KEY_COLUMNS}", (now, which, which)).fetchall()
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")
        return sorted((_key_row(r) for r in rows), key=lambda k: (k.created_at, k.id))


class GpkgStore:
    """A registry's GeoPackage file. Rallypoint writes the history rows itself, in the batch's transaction."""

    geom_select = "geom"
    no_limit = -1
    json_list = "SELECT value FROM json_each(?)"

    def __init__(self, path: str | os.PathLike, *, readonly: bool = False):
        self.path = Path(path)
        if not self.path.is_file():
            raise RegistryFileError(f"{self.path}: no such registry file")
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

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def tables(self) -> set[str]:
        return self._tables

    def close(self) -> None:
        self.conn.close()

    def keys(self) -> GpkgKeys:
        return GpkgKeys(self.conn)

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
        from .gpkgfile import add_attribute_layers

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

    def insert(self, layer: LayerDef, row: dict[str, Any], geom: BaseGeometry | None,
               history: HistoryEntry | None, on_duplicate: Callable[[], None] | None = None) -> int | None:
        cols = tuple(row)
        values = [row[c] for c in cols]
        if layer.has_geometry:
            values.append(geo.encode(geom))
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

    def update(self, layer: LayerDef, fid: int, row: dict[str, Any], geom: BaseGeometry | None,
               history: HistoryEntry) -> None:
        cols = [c for c in row if c != "uuid"]
        values = [row[c] for c in cols]
        sets = [f"{quote(c)} = ?" for c in cols]
        if layer.has_geometry:
            sets.append("geom = ?")
            values.append(geo.encode(geom))
        self.conn.execute(f"UPDATE {quote(layer.name)} SET {', '.join(sets)} WHERE fid = ?", (*values, fid))
        self._write_history(layer.name, history)

    def load_reference(self, layer: LayerDef, data: Any, *, author: str, now: str, replace: bool,
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
        return self.conn.execute(f"SELECT 1 FROM {CONFLICTS_TABLE} WHERE layer = ? AND uuid = ? AND theirs = ? "
                                 "AND resolved_at IS NULL", (layer, uuid, theirs)).fetchone() is not None

    def record_conflict(self, row: dict[str, Any]) -> None:
        self.conn.execute(f"INSERT INTO {CONFLICTS_TABLE} ({', '.join(_CONFLICT_COLUMNS)}) "
                          f"VALUES ({', '.join('?' * len(_CONFLICT_COLUMNS))})",
                          [row[c] for c in _CONFLICT_COLUMNS])

    def unresolved_conflicts(self) -> list[dict[str, Any]]:
        if not self.conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (CONFLICTS_TABLE,)).fetchone():
            return []
        cur = self.conn.execute(f"SELECT * FROM {CONFLICTS_TABLE} WHERE resolved_at IS NULL ORDER BY id")
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur]

    # -- reads ---------------------------------------------------------------------
    def lock_clause(self) -> str:
        return ""  # BEGIN IMMEDIATE already holds the file's write lock

    def bbox_clause(self, layer: LayerDef, box: tuple[float, float, float, float]) -> tuple[str, list[Any]]:
        minx, miny, maxx, maxy = box
        rtree = quote(f"rtree_{layer.name}_geom")
        return (f"fid IN (SELECT id FROM {rtree} WHERE minx <= ? AND maxx >= ? AND miny <= ? AND maxy >= ?)",
                [maxx, minx, maxy, miny])

    def decode(self, value: Any) -> BaseGeometry | None:
        return geo.decode(value)

    def decode_many(self, values: Any) -> Any:
        return geo.decode_many(values)

    def point_coords(self, values: Any) -> Any:
        return geo.point_coords(values)
