"""API keys of a GeoPackage registry: the ``rp_api_keys`` table (see :class:`rallypoint.storage.base.KeyStore`)."""

from __future__ import annotations

import sqlite3

from ..base import KEYS_TABLE, KeyRow

# Not listed in gpkg_contents: the server's own bookkeeping, so GDAL, QGIS and exchange copies do not show
# it as a layer (a GeoPackage may hold other tables). Made on the first key.
_KEYS_DDL = f"""CREATE TABLE IF NOT EXISTS {KEYS_TABLE} (
  id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, role TEXT NOT NULL CHECK (role IN ('reader','editor','admin')),
  salt BLOB NOT NULL, hash BLOB NOT NULL, created_at TEXT NOT NULL, revoked_at TEXT)"""
_KEY_COLUMNS = "id, name, role, salt, hash, created_at, revoked_at"


def _key_row(r: tuple) -> KeyRow:
    return KeyRow(r[0], r[1], r[2], bytes(r[3]), bytes(r[4]), r[5], r[6])


class GpkgKeys:
    """API keys in the registry file's ``rp_api_keys`` table (see :class:`rallypoint.storage.base.KeyStore`)."""

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
