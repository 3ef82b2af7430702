"""Browser sessions: a signed-in account (or API key holder) kept server-side, named by a random token.

The token (256 random bits, :func:`secrets.token_urlsafe`) goes to the browser in a cookie
(:mod:`rallypoint.web.session` sets it); the registry keeps only its SHA-256, with whose it is and until when,
in ``rp_sessions`` through its store. So sessions hold across a server's workers and their restarts (no memory
of a process is involved), a sign-out ends a session for every worker at once, and a copy of the registry gives
nobody a way in. Each request reads its session and its account (or key) again: a disabled account or a revoked
key is refused at once, whatever sessions it had.

Why not a signed cookie alone (Flask's own session): it cannot be ended server-side before it expires, which a
sign-out must do. Why not Flask-Session: its stores that several processes share (Redis, Memcached, MongoDB,
DynamoDB, SQLAlchemy) are servers or a second database a bureau's machine does not run, and its sessions would
not be the framework-free API's. A session is one row read by its key; nothing here is cryptography beyond the
standard library's random tokens and SHA-256.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from ..storage.base import SessionRow
from .accounts import account_principal, account_store
from .auth import Principal, key_store

SESSION_HOURS = 8.0  # a working shift; ``RALLYPOINT_SESSION_HOURS`` changes it
_STAMP = "%Y-%m-%dT%H:%M:%SZ"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(source: Any, principal: Principal, hours: float = SESSION_HOURS,
                  now: datetime | None = None) -> tuple[str, datetime]:
    """A new session of ``principal`` (an account, or an API key's holder) for ``hours``: its token (for the
    cookie, never stored) and when it ends (UTC)."""
    if hours <= 0:
        raise ValueError("a session lasts a positive number of hours")
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    expires = now + timedelta(hours=hours)
    token = secrets.token_urlsafe(32)
    account = principal.key_id.startswith("account:")
    row = SessionRow(_digest(token), "account" if account else "key",
                     principal.name if account else principal.key_id, now.strftime(_STAMP), expires.strftime(_STAMP))
    account_store(source).start_session(row)
    return token, expires


def session_principal(source: Any, token: str | None, now: datetime | None = None) -> Principal | None:
    """The principal whose session ``token`` names; None for no token, an unknown (forged, ended) or expired one,
    or one whose account was disabled or key revoked since."""
    if not token or len(token) > 128:
        return None
    store = account_store(source)
    row = store.session(_digest(token))
    if row is None:
        return None
    if row.expires_at <= (now or datetime.now(UTC)).strftime(_STAMP):
        return None
    if row.kind == "account":
        account = store.get(row.subject)
        if account is None or account.disabled_at:
            return None
        return account_principal(account)
    key = key_store(source).get(row.subject)
    if key is None or key.revoked_at:
        return None
    return Principal(name=key.name, role=key.role, key_id=key.id)


def end_session(source: Any, token: str | None) -> bool:
    """Sign out: the session is deleted, for every worker at once; whether there was one."""
    if not token or len(token) > 128:
        return False
    return account_store(source).end_session(_digest(token))
