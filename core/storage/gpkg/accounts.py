"""Staff accounts and browser sessions of a GeoPackage registry: ``rp_accounts`` and ``rp_sessions``
(see :class:`rallypoint.storage.base.AccountStore`).

Like the API keys, not listed in gpkg_contents (the server's bookkeeping, not layers), made on the first account.
Every write is a short immediate transaction of its own: a sign-in or sign-out waits at most for the write
that holds the file's lock, as an edit does.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from ..base import ACCOUNTS_TABLE, SESSIONS_TABLE, AccountRow, SessionRow

_DDL = [
    f"""CREATE TABLE IF NOT EXISTS {ACCOUNTS_TABLE} (
  name TEXT PRIMARY KEY NOT NULL, role TEXT NOT NULL CHECK (role IN ('reader','editor','admin')),
  password_hash TEXT NOT NULL, created_at TEXT NOT NULL, disabled_at TEXT)""",
    f"""CREATE TABLE IF NOT EXISTS {SESSIONS_TABLE} (
  id TEXT PRIMARY KEY NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('account','key')), subject TEXT NOT NULL,
  created_at TEXT NOT NULL, expires_at TEXT NOT NULL)""",
    f"CREATE INDEX IF NOT EXISTS {SESSIONS_TABLE}_subject ON {SESSIONS_TABLE} (kind, subject)",
]
_ACCOUNT = "name, role, password_hash, created_at, disabled_at"
_SESSION = "id, kind, subject, created_at, expires_at"


class GpkgAccounts:
    """Accounts and sessions in the registry file's own tables."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def _exists(self) -> bool:
        return self.conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                                 (SESSIONS_TABLE,)).fetchone() is not None

    def _write(self, work: Callable[[], Any]) -> Any:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            for stmt in _DDL:
                self.conn.execute(stmt)
            out = work()
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")
        return out

    def add(self, row: AccountRow) -> bool:
        def work() -> bool:
            cur = self.conn.execute(f"INSERT INTO {ACCOUNTS_TABLE} ({_ACCOUNT}) VALUES (?, ?, ?, ?, ?) "
                                    "ON CONFLICT (name) DO NOTHING",
                                    (row.name, row.role, row.password_hash, row.created_at, row.disabled_at))
            return cur.rowcount == 1

        return self._write(work)

    def get(self, name: str) -> AccountRow | None:
        if not self._exists():
            return None
        r = self.conn.execute(f"SELECT {_ACCOUNT} FROM {ACCOUNTS_TABLE} WHERE name = ?", (name,)).fetchone()
        return None if r is None else AccountRow(*r)

    def all(self) -> list[AccountRow]:
        if not self._exists():
            return []
        return [AccountRow(*r) for r in self.conn.execute(
            f"SELECT {_ACCOUNT} FROM {ACCOUNTS_TABLE} ORDER BY created_at, name")]

    def set_password(self, name: str, password_hash: str) -> bool:
        if not self._exists():
            return False
        return self._write(lambda: self.conn.execute(
            f"UPDATE {ACCOUNTS_TABLE} SET password_hash = ? WHERE name = ?", (password_hash, name)).rowcount == 1)

    def disable(self, name: str, now: str) -> AccountRow | None:
        if not self._exists():
            return None

        def work() -> AccountRow | None:
            r = self.conn.execute(f"UPDATE {ACCOUNTS_TABLE} SET disabled_at = ? WHERE name = ? AND disabled_at IS NULL"
                                  f" RETURNING {_ACCOUNT}", (now, name)).fetchone()
            self.conn.execute(f"DELETE FROM {SESSIONS_TABLE} WHERE kind = 'account' AND subject = ?", (name,))
            return None if r is None else AccountRow(*r)

        return self._write(work)

    def start_session(self, row: SessionRow) -> None:
        def work() -> None:
            self.conn.execute(f"DELETE FROM {SESSIONS_TABLE} WHERE expires_at <= ?", (row.created_at,))
            self.conn.execute(f"INSERT INTO {SESSIONS_TABLE} ({_SESSION}) VALUES (?, ?, ?, ?, ?)",
                              (row.id, row.kind, row.subject, row.created_at, row.expires_at))

        self._write(work)

    def session(self, session_id: str) -> SessionRow | None:
        if not self._exists():
            return None
        r = self.conn.execute(f"SELECT {_SESSION} FROM {SESSIONS_TABLE} WHERE id = ?", (session_id,)).fetchone()
        return None if r is None else SessionRow(*r)

    def end_session(self, session_id: str) -> bool:
        if not self._exists():
            return False
        return self._write(lambda: self.conn.execute(
            f"DELETE FROM {SESSIONS_TABLE} WHERE id = ?", (session_id,)).rowcount == 1)
