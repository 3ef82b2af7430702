"""Staff accounts and browser sessions of a PostGIS registry: ``rp_accounts`` and ``rp_sessions``
(see :class:`rallypoint.storage.base.AccountStore`)."""

from __future__ import annotations

from typing import Any

from ...errors import RegistryFileError
from ..base import ACCOUNTS_TABLE, SESSIONS_TABLE, AccountRow, SessionRow
from .schema import ACCOUNTS_DDL

_ACCOUNT = "name, role, password_hash, created_at, disabled_at"
_SESSION = "id, kind, subject, created_at, expires_at"


class PgAccounts:
    """Accounts and sessions in the database's own tables. Every statement commits on its own (the store's
    connection is in autocommit outside a batch), so a sign-out or a disabled account holds for every worker's
    next request."""

    def __init__(self, conn, label: str):
        self.conn = conn
        self.label = label

    def _read(self, sql: str, params: Any = None) -> list[tuple]:
        import psycopg

        try:
            return self.conn.execute(sql, params).fetchall()
        except psycopg.errors.UndefinedTable:  # a registry made before accounts were kept in it: none yet
            return []

    def _owner_write(self, what: str, work) -> Any:
        import psycopg

        try:
            with self.conn.transaction():
                if self.conn.execute("SELECT to_regclass(%s)", (SESSIONS_TABLE,)).fetchone()[0] is None:
                    self.conn.execute(ACCOUNTS_DDL)
                return work()
        except psycopg.errors.InsufficientPrivilege:
            raise RegistryFileError(f"{self.label}: only the registry's owner may {what} "
                                    f"(this connection's user may not write {ACCOUNTS_TABLE})") from None

    def add(self, row: AccountRow) -> bool:
        return self._owner_write("add accounts", lambda: self.conn.execute(
            f"INSERT INTO {ACCOUNTS_TABLE} ({_ACCOUNT}) VALUES (%s, %s, %s, %s, %s) ON CONFLICT (name) DO NOTHING",
            (row.name, row.role, row.password_hash, row.created_at, row.disabled_at)).rowcount == 1)

    def get(self, name: str) -> AccountRow | None:
        found = self._read(f"SELECT {_ACCOUNT} FROM {ACCOUNTS_TABLE} WHERE name = %s", (name,))
        return AccountRow(*found[0]) if found else None

    def all(self) -> list[AccountRow]:
        return [AccountRow(*r) for r in self._read(f"SELECT {_ACCOUNT} FROM {ACCOUNTS_TABLE} ORDER BY created_at, name")]

    def set_password(self, name: str, password_hash: str) -> bool:
        return self._owner_write("change passwords", lambda: self.conn.execute(
            f"UPDATE {ACCOUNTS_TABLE} SET password_hash = %s WHERE name = %s", (password_hash, name)).rowcount == 1)

    def disable(self, name: str, now: str) -> AccountRow | None:
        def work() -> AccountRow | None:
            r = self.conn.execute(f"UPDATE {ACCOUNTS_TABLE} SET disabled_at = %s WHERE name = %s AND disabled_at IS NULL"
                                  f" RETURNING {_ACCOUNT}", (now, name)).fetchone()
            self.conn.execute(f"DELETE FROM {SESSIONS_TABLE} WHERE kind = 'account' AND subject = %s", (name,))
            return None if r is None else AccountRow(*r)

        return self._owner_write("disable accounts", work)

    def start_session(self, row: SessionRow) -> None:
        import psycopg

        try:
            with self.conn.transaction():
                self.conn.execute(f"DELETE FROM {SESSIONS_TABLE} WHERE expires_at <= %s", (row.created_at,))
                self.conn.execute(f"INSERT INTO {SESSIONS_TABLE} ({_SESSION}) VALUES (%s, %s, %s, %s, %s)",
                                  (row.id, row.kind, row.subject, row.created_at, row.expires_at))
        except (psycopg.errors.UndefinedTable, psycopg.errors.InsufficientPrivilege):
            raise RegistryFileError(f"{self.label}: this registry keeps no sessions yet (its owner adds the first "
                                    "account with `rallypoint accounts add`)") from None

    def session(self, session_id: str) -> SessionRow | None:
        found = self._read(f"SELECT {_SESSION} FROM {SESSIONS_TABLE} WHERE id = %s", (session_id,))
        return SessionRow(*found[0]) if found else None

    def end_session(self, session_id: str) -> bool:
        import psycopg

        try:
            return self.conn.execute(f"DELETE FROM {SESSIONS_TABLE} WHERE id = %s", (session_id,)).rowcount == 1
        except psycopg.errors.UndefinedTable:
            return False
