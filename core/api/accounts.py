"""Staff accounts for browsers: a name, a role (as an API key's: reader < editor < admin) and a password.

Only an argon2id hash of the password is stored (argon2-cffi's :class:`~argon2.PasswordHasher`, RFC 9106's
parameters; the hash carries its salt and costs), in the registry's ``rp_accounts`` table through its store
(:class:`rallypoint.storage.base.AccountStore`), so every process serving the registry sees the same accounts.
An account is disabled, never deleted, so the history's authors stay traceable; disabling it ends its sessions.

Signing in (:func:`sign_in`) checks a name and password, or an API key given as the password with no name (for
a bureau whose staff have keys and no account yet), and returns the :class:`~.auth.Principal` every route
already understands; :mod:`.sessions` keeps it for the browser. The functions take the
:class:`~rallypoint.registry.Registry` (or its store).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from ..storage.base import AccountRow, AccountStore
from .auth import ROLES, Principal, authenticate
from .errors import BadRequest, Unauthorized

MIN_PASSWORD = 8  # NIST SP 800-63B's least length for a password a person chooses
MAX_PASSWORD = 1024  # argon2 takes any length; a bound keeps a form post from costing more than a hash
MAX_NAME = 100
REFUSED = "wrong name or password"  # the same words whatever was wrong, so names cannot be probed


@dataclass(frozen=True)
class AccountInfo:
    name: str
    role: str
    created_at: str
    disabled_at: str | None


@lru_cache(maxsize=1)
def _hasher():
    from argon2 import PasswordHasher

    return PasswordHasher()


@lru_cache(maxsize=1)
def _decoy() -> str:
    """A hash to check a password against when the name is unknown, so both take the same time."""
    return _hasher().hash("rallypoint-no-such-account")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def account_store(source: Any) -> AccountStore:
    """The account store of a Registry or of a store (:mod:`rallypoint.storage`)."""
    return getattr(source, "store", source).accounts()


def _info(row: AccountRow) -> AccountInfo:
    return AccountInfo(row.name, row.role, row.created_at, row.disabled_at)


def _checked_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise BadRequest("an account needs its holder's name")
    if len(name) > MAX_NAME or any(c.isspace() or not c.isprintable() for c in name):
        raise BadRequest(f"account name {name[:MAX_NAME]!r}: at most {MAX_NAME} printable characters, no spaces")
    return name


def _checked_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD:
        raise BadRequest(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise BadRequest(f"a password has at most {MAX_PASSWORD} characters")
    return password


def add_account(source: Any, name: str, role: str, password: str) -> AccountInfo:
    """Create the account ``name`` with ``role`` and ``password`` (stored as its argon2 hash only)."""
    name = _checked_name(name)
    if role not in ROLES:
        raise BadRequest(f"role {role!r} is not one of {', '.join(ROLES)}")
    row = AccountRow(name, role, _hasher().hash(_checked_password(password)), _now(), None)
    if not account_store(source).add(row):
        raise BadRequest(f"there is already an account named {name!r} (accounts are disabled, never reused)")
    return _info(row)


def list_accounts(source: Any) -> list[AccountInfo]:
    return [_info(r) for r in account_store(source).all()]


def set_password(source: Any, name: str, password: str) -> None:
    """Give the account ``name`` a new password."""
    if not account_store(source).set_password(name, _hasher().hash(_checked_password(password))):
        raise BadRequest(f"there is no account named {name!r}")


def disable_account(source: Any, name: str) -> AccountInfo | None:
    """Disable the account ``name`` in use and end its sessions; the account, or None if none was in use."""
    row = account_store(source).disable(name, _now())
    return None if row is None else _info(row)


def check_password(source: Any, name: str, password: str) -> Principal:
    """The principal of the account ``name`` if ``password`` is its own; 401 (the same words) otherwise."""
    from argon2.exceptions import InvalidHashError, VerificationError

    row = account_store(source).get((name or "").strip()) if name and len(name) <= MAX_NAME else None
    if not password or len(password) > MAX_PASSWORD:
        raise Unauthorized(REFUSED)
    try:
        _hasher().verify(row.password_hash if row is not None else _decoy(), password)
    except (VerificationError, InvalidHashError):
        raise Unauthorized(REFUSED) from None
    if row is None:
        raise Unauthorized(REFUSED)
    if row.disabled_at:
        raise Unauthorized("this account has been disabled")
    return account_principal(row)


def account_principal(row: AccountRow) -> Principal:
    return Principal(name=row.name, role=row.role, key_id=f"account:{row.name}")


def sign_in(source: Any, name: str, password: str) -> Principal:
    """Who signs in: an account by name and password, or, with no name, the holder of the API key given as the
    password. 401 for anything else, in the same words whether the name or the password was wrong."""
    if not (name or "").strip() and (password or "").startswith("rp_"):
        try:
            return authenticate(source, password.strip())
        except Unauthorized as exc:
            if "revoked" in exc.description:
                raise
            raise Unauthorized(REFUSED) from None
    return check_password(source, name, password)
