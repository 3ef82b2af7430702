"""API keys: roles, hashed storage in the registry, and who is asking.

A key looks like ``rp_<id>_<secret>``: the id finds its row, the secret is checked against
a salted scrypt hash. Only the hash is stored, in the table ``rp_api_keys`` of the registry
itself (the GeoPackage file, or the PostGIS database), through the registry's store
(:class:`rallypoint.storage.base.KeyStore`), so every process serving the registry sees the same keys.
A key is revoked, never deleted, so the history's authors stay traceable.

Roles: ``reader`` (reads personal-data fields, runs analyses) < ``editor`` (writes)
< ``admin``. Anonymous users read everything but personal data.

scrypt is slow on purpose; a verified key is remembered in the process by a SHA-256 of
itself, and its row is read on every request, so revocation is immediate.

The functions take the :class:`~rallypoint.registry.Registry` (or its store).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from ..storage.base import KEYS_TABLE, KeyRow, KeyStore
from .errors import BadRequest, Forbidden, Unauthorized

TABLE = KEYS_TABLE
ROLES = ("reader", "editor", "admin")
_SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1, "dklen": 32}

_verified: dict[bytes, bytes] = {}  # sha256(key) -> stored hash it matched


@dataclass(frozen=True)
class Principal:
    """Who is asking: the key's owner, or the account signed in with a browser (:mod:`.accounts`), recorded as
    the author of writes, and their role. ``key_id`` is the key's id, or ``account:<name>`` for an account."""

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


def key_store(source: Any) -> KeyStore:
    """The key store of a Registry or of a store (:mod:`rallypoint.storage`)."""
    return getattr(source, "store", source).keys()


def _info(row: KeyRow) -> KeyInfo:
    return KeyInfo(row.id, row.name, row.role, row.created_at, row.revoked_at)


def add_key(source: Any, name: str, role: str) -> tuple[str, KeyInfo]:
    """Create a key for ``name`` with ``role``; returns the key (shown once, never stored) and its record."""
    name = (name or "").strip()
    if not name:
        raise BadRequest("a key needs its owner's name")
    if role not in ROLES:
        raise BadRequest(f"role {role!r} is not one of {', '.join(ROLES)}")
    key_id = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_bytes(16)
    row = KeyRow(key_id, name, role, salt, _hash(secret, salt), _now(), None)
    key_store(source).add(row)
    return f"rp_{key_id}_{secret}", _info(row)


def list_keys(source: Any) -> list[KeyInfo]:
    return [_info(r) for r in key_store(source).all()]


def revoke_key(source: Any, which: str) -> list[KeyInfo]:
    """Revoke the keys whose id or owner name is ``which``; returns those revoked."""
    return [_info(r) for r in key_store(source).revoke(which, _now())]


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


class KeyGuard(Protocol):
    """What a server puts in front of the key check: limits on refused keys (see :mod:`rallypoint.web.ratelimit`).

    The key's secret is checked (scrypt, slow on purpose) only when the guard admits it; a key this server
    has verified before is recognised by ``proof`` (a SHA-256 of the key and its stored hash) without the
    check, so a valid key in use is never refused by the limits on wrong ones."""

    def admit(self, key_id: str | None, proof: str | None) -> bool:
        """Before checking a key (``key_id`` None: no such key id, or not a key at all): raise to refuse it
        unchecked (429), True when ``proof`` shows it verified before, else False (check it)."""

    def refused(self, key_id: str | None) -> None:
        """Count one refused key (by the address, and by its id when the id is one of the registry's)."""

    def verified(self, proof: str) -> None:
        """Remember a key just verified (its ``proof``), for every worker of the server."""


def _refuse(guard: KeyGuard | None, key_id: str | None, why: str) -> Unauthorized:
    if guard is not None:
        guard.refused(key_id)
    return Unauthorized(why)


def authenticate(source: Any, key: str | None, guard: KeyGuard | None = None) -> Principal | None:
    """The principal a key belongs to; ``None`` without a key; 401 for a wrong or revoked key (429 when the
    ``guard`` refuses to check it)."""
    if key is None:
        return None
    parts = key.split("_", 2)
    row = None
    if len(parts) == 3 and parts[0] == "rp" and parts[1] and parts[2]:
        row = key_store(source).get(parts[1])
    if row is None:
        if guard is not None:
            guard.admit(None, None)
        raise _refuse(guard, None, "the API key is not valid")
    if row.revoked_at:
        raise _refuse(guard, row.id, "the API key has been revoked")
    digest = hashlib.sha256(key.encode()).digest()
    if _verified.get(digest) != row.hash:
        proof = hashlib.sha256(digest + row.hash).hexdigest()
        if guard is None or not guard.admit(row.id, proof):
            if not hmac.compare_digest(_hash(parts[2], row.salt), row.hash):
                raise _refuse(guard, row.id, "the API key is not valid")
            if guard is not None:
                guard.verified(proof)
        if len(_verified) > 1024:
            _verified.clear()
        _verified[digest] = row.hash
    return Principal(name=row.name, role=row.role, key_id=parts[1])


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
