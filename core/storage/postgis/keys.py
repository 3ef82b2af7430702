"""API keys of a PostGIS registry: the ``rp_api_keys`` table (see :class:`rallypoint.storage.base.KeyStore`)."""

from __future__ import annotations

from typing import Any

from ...errors import RegistryFileError
from ..base import KEYS_TABLE, KeyRow
from .schema import KEYS_DDL


_KEY_COLUMNS = "id, name, role, salt, hash, created_at, revoked_at"


class PgKeys:
    """API keys in the database's ``rp_api_keys`` table (see :class:`rallypoint.storage.base.KeyStore`).

    Every statement commits on its own (the store's connection is in autocommit outside a batch), so a
    key revoked here is refused by every server worker's next request."""

    def __init__(self, conn, label: str):
        self.conn = conn
        self.label = label

    def _read(self, sql: str, params: Any = None) -> list[KeyRow]:
        import psycopg

        try:
            rows = self.conn.execute(sql, params).fetchall()
        except psycopg.errors.UndefinedTable:  # a registry made before keys were kept in it: no key yet
            return []
        return [KeyRow(*r) for r in rows]

    def add(self, row: KeyRow) -> None:
        import psycopg

        try:
            with self.conn.transaction():
                if self.conn.execute("SELECT to_regclass(%s)", (KEYS_TABLE,)).fetchone()[0] is None:
                    self.conn.execute(KEYS_DDL)
                self.conn.execute(f"INSERT INTO {KEYS_TABLE} ({_KEY_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                                  (row.id, row.name, row.role, row.salt, row.hash, row.created_at, row.revoked_at))
        except psycopg.errors.InsufficientPrivilege:
            raise RegistryFileError(f"{self.label}: only the registry's owner may add API keys "
                                    f"(this connection's user may not write {KEYS_TABLE})") from None

    def get(self, key_id: str) -> KeyRow | None:
        found = self._read(f"SELECT {_KEY_COLUMNS} FROM {KEYS_TABLE} WHERE id = %s", (key_id,))
        return found[0] if found else None

    def all(self) -> list[KeyRow]:
        return self._read(f"SELECT {_KEY_COLUMNS} FROM {KEYS_TABLE} ORDER BY created_at, id")

    def revoke(self, which: str, now: str) -> list[KeyRow]:
        import psycopg

        try:
            found = self._read(f"UPDATE {KEYS_TABLE} SET revoked_at = %s"
                               " WHERE revoked_at IS NULL AND (id = %s OR name = %s)"
                               f" RETURNING {_KEY_COLUMNS}", (now, which, which))
        except psycopg.errors.InsufficientPrivilege:
            raise RegistryFileError(f"{self.label}: only the registry's owner may revoke API keys") from None
        return sorted(found, key=lambda k: (k.created_at, k.id))
