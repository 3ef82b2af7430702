"""API keys: roles, hashed storage in the registry, and who is asking.

A key looks like ``rp_<id>_<secret>``: the id finds its row, the secret is checked against
a salted scrypt hash. Only the hash is stored, in the table ``rp_api_keys`` of the registry
file, created on first use. The table is deliberately *not* listed in ``gpkg_contents``:
it is the server's own bookkeeping, so GDAL, QGIS and exchange copies do not show it as a
layer (a GeoPackage may hold other tables). A key is revoked, never deleted, so the
history's authors stay traceable.

Roles: ``reader`` (reads personal-data fields, runs analyses) < ``editor`` (writes)
< ``admin``. Anonymous users read everything but personal data.

scrypt is slow on purpose; a verified key is remembered in the process by a SHA-256 of
itself, and its row is read on every request, so revocation is immediate.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime

from .errors import BadRequest, Forbidden, Unauthorized

TABLE = "rp_api_keys"
ROLES = ("reader", "editor", "admin")
_SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1, "dklen": 32}

_DDL = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
  id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL, role TEXT NOT NULL CHECK (role IN ('reader','editor','admin')),
  salt BLOB NOT NULL, hash BLOB NOT NULL, created_at TEXT NOT NULL, revoked_at TEXT)"""
_verified: dict[bytes, bytes] = {}  # sha256(key) -> stored hash it matched


@dataclass(frozen=True)
class Principal:
    """Who is asking: the key's owner (recorded as the author of writes) and role."""

    name: str
    role: str
    key_id: str

    def has(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


@dataclass(frozen=True)
class KeyInfo:
    id: str
    name: str
    role: str
    created_at: str
    revoked_at: str | None


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _hash(secret: str, salt: bytes) -> bytes:
    return hashlib.scrypt(secret.encode(), salt=salt, maxmem=64 * 1024 * 1024, **_SCRYPT)


def _table_exists(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (TABLE,)).fetchone() is not None


def add_key(conn: sqlite3.Connection, name: str, role: str) -> tuple[str, KeyInfo]:
    """Create a key for ``name`` with ``role``; returns the key (shown once, never stored) and its record."""
    name = (name or "").strip()
    if not name:
        raise BadRequest("a key needs its owner's name")
    if role not in ROLES:
        raise BadRequest(f"role {role!r} is not one of {', '.join(ROLES)}")
    key_id = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_bytes(16)
    created = _now()
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(_DDL)
        conn.execute(f"INSERT INTO {TABLE} (id, name, role, salt, hash, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                     (key_id, name, role, salt, _hash(secret, salt), created))
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return f"rp_{key_id}_{secret}", KeyInfo(key_id, name, role, created, None)


def list_keys(conn: sqlite3.Connection) -> list[KeyInfo]:
    if not _table_exists(conn):
        return []
    rows = conn.execute(f"SELECT id, name, role, created_at, revoked_at FROM {TABLE} ORDER BY created_at, id")
    return [KeyInfo(*r) for r in rows]


def revoke_key(conn: sqlite3.Connection, which: str) -> list[KeyInfo]:
    """Revoke the keys whose id or owner name is ``which``; returns those revoked."""
    found = [k for k in list_keys(conn) if which in (k.id, k.name) and k.revoked_at is None]
    if found:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(f"UPDATE {TABLE} SET revoked_at = ? WHERE revoked_at IS NULL AND (id = ? OR name = ?)",
                     (_now(), which, which))
        conn.execute("COMMIT")
    return found


def key_from_headers(headers) -> str | None:
    """The key sent as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>`` (None if neither)."""
    auth = headers.get("authorization")
    if auth:
        scheme, _, value = auth.strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthorized("the Authorization header must be 'Bearer <API key>'")
        return value.strip()
    key = headers.get("x-api-key")
    return key.strip() if key is not None else None


def authenticate(conn: sqlite3.Connection, key: str | None) -> Principal | None:
    """The principal a key belongs to; ``None`` without a key; 401 for a wrong or revoked key."""
    if key is None:
        return None
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != "rp" or not parts[1] or not parts[2]:
        raise Unauthorized("the API key is not valid")
    row = None
    if _table_exists(conn):
        row = conn.execute(f"SELECT name, role, salt, hash, revoked_at FROM {TABLE} WHERE id = ?",
                           (parts[1],)).fetchone()
    if row is None:
        raise Unauthorized("the API key is not valid")
    name, role, salt, stored, revoked = row
    if revoked:
        raise Unauthorized("the API key has been revoked")
    digest = hashlib.sha256(key.encode()).digest()
    if _verified.get(digest) != bytes(stored):
        if not hmac.compare_digest(_hash(parts[2], bytes(salt)), bytes(stored)):
            raise Unauthorized("the API key is not valid")
        if len(_verified) > 1024:
            _verified.clear()
        _verified[digest] = bytes(stored)
    return Principal(name=name, role=role, key_id=parts[1])


def require(principal: Principal | None, role: str, what: str) -> Principal:
    """401 without a key, 403 with one whose role is too low."""
    if principal is None:
        raise Unauthorized(f"{what} needs an API key with the role {role} or above "
                           "(send it as 'Authorization: Bearer <key>' or 'X-API-Key: <key>')")
    if not principal.has(role):
        raise Forbidden(f"{what} needs the role {role} or above; the key of {principal.name} is a {principal.role} key")
    return principal


def sees_personal_data(principal: Principal | None) -> bool:
    """Personal-data fields (contact names and phones) go only to holders of a key."""
    return principal is not None and principal.has("reader")
