"""Rate limits on writes, refused API keys and failed sign-ins, counted across gunicorn's workers.

* **writes** (POST, PUT, PATCH, DELETE: features, transactions, conflict resolutions, analysis runs,
  job dismissals, plugins' write endpoints), per API key (per address for requests without one), by
  Flask-Limiter, answered ``429`` with ``Retry-After``. Only writes that got past the key check count,
  so nobody can spend someone else's budget by sending their key id.
* **refused keys** ("failed logins"): a key that is wrong, malformed or revoked (401) counts against
  the client's **address** and, when its id (the part before the secret, ``rp_<id>_…``) is one of the
  registry's, against that **key id**. Over the address's limit, keys from that address whose id is
  not one of the registry's are answered 429 without a look at them; over a key id's limit, keys
  with that id are answered 429 without their secret being checked, **unless** the key is one the
  server has verified before (any worker, within a day): so a valid key in use is never refused, and
  a bureau behind one shared address goes on editing while someone there mistypes keys. What the
  limits bound is the slow scrypt checks a guesser can make: a few per key id and window, none for
  made-up ids. Anonymous requests are never refused by them.
* **failed sign-ins**: posts of the browser's sign-in form refused (a wrong name, password or key: 401), per
  client address. Once over the limit, the form refuses every post from that address until the window
  passes (the page says so, in the form's language: :mod:`.session`), right passwords included.

:class:`RefusedKeys` keeps the counters of refused keys, and the record of verified keys (a SHA-256 of each
key with its stored hash, never the key), in the limiter's storage; the key check asks it through
:class:`rallypoint.api.auth.KeyGuard`.

Flask-Limiter (with the ``limits`` library) does the counting, windows and headers. Its
stores that several processes can share are Redis, Memcached, MongoDB or etcd: servers a
bureau's machine does not run. Gunicorn's workers are separate processes, so an in-memory
store would let each of them allow the whole limit. :class:`SQLiteStorage` is therefore a small
``limits`` store in an SQLite file of its own (never the registry: the limits' writes would
contend with the registry's), beside the jobs folder by default; a Redis URI can replace it
(``RALLYPOINT_RATELIMIT_STORAGE``). The write limit is generous (a client syncing a bureau's edits
writes in bursts); it stops a runaway script, not a busy editor.

Settings (``create_app`` config): ``RALLYPOINT_RATELIMIT_WRITES`` ("1000 per minute"),
``RALLYPOINT_RATELIMIT_REFUSED_KEYS`` ("10 per minute": refused keys per address),
``RALLYPOINT_RATELIMIT_REFUSED_PER_KEY`` ("10 per minute": refused tries of one key id),
``RALLYPOINT_RATELIMIT_SIGNIN`` ("10 per minute"), ``RALLYPOINT_RATELIMIT_STORAGE`` (a ``limits`` storage
URI), ``RATELIMIT_ENABLED`` (Flask-Limiter's switch, True; off, no limit is applied).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from limits import parse_many
from limits.storage import Storage

from ..errors import RallypointError


class ConfigError(RallypointError, ValueError):
    """A rate limit setting that cannot be read."""

WRITES = "1000 per minute"
REFUSED_KEYS = "10 per minute"
REFUSED_PER_KEY = "10 per minute"
SIGNIN = "10 per minute"
#: how long a verified key is remembered by every worker (seconds)
VERIFIED_FOR = 24 * 3600
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
SCHEME = "rallypoint+sqlite"


class SQLiteStorage(Storage):
    """A ``limits`` store for the fixed-window strategy in an SQLite file that every worker opens.

    ``rallypoint+sqlite:///absolute/path/limits.sqlite``. Each counter is one row; an increment is one
    ``INSERT … ON CONFLICT`` in an immediate transaction, so concurrent workers never lose a hit.
    """

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any):
        path = unquote(urlparse(uri or "").path)
        if not path:
            raise ValueError(f"{uri!r}: give the counters' file as {SCHEME}:///path/to/limits.sqlite")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()  # one connection per thread, never shared
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> type[Exception]:
        return sqlite3.Error

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            self._prepare(conn)
            self._local.conn = conn
        return conn

    @staticmethod
    def _prepare(conn: sqlite3.Connection) -> None:
        """WAL mode and the table, once per file. When a server's threads first open a new file together,
        switching to WAL can fail at once with "database is locked": SQLite does not wait on its busy
        handler for that lock. So the switch is made only if needed and retried for up to 10 s."""
        deadline = time.monotonic() + 10
        while True:
            try:
                if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                    conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, hits INTEGER NOT NULL, "
                             "expires REAL NOT NULL)")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = time.time()
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("DELETE FROM counters WHERE key = ? AND expires <= ?", (key, now))
            hits = conn.execute("INSERT INTO counters (key, hits, expires) VALUES (?, ?, ?) "
                                "ON CONFLICT(key) DO UPDATE SET hits = hits + excluded.hits RETURNING hits",
                                (key, amount, now + expiry)).fetchone()[0]
            if now % 60 < 1:  # now and then, drop every counter whose window has passed
                conn.execute("DELETE FROM counters WHERE expires <= ?", (now,))
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return int(hits)

    def get(self, key: str) -> int:
        row = self._conn().execute("SELECT hits FROM counters WHERE key = ? AND expires > ?",
                                   (key, time.time())).fetchone()
        return int(row[0]) if row else 0

    def get_expiry(self, key: str) -> float:
        row = self._conn().execute("SELECT expires FROM counters WHERE key = ? AND expires > ?",
                                   (key, time.time())).fetchone()
        return float(row[0]) if row else time.time()

    def check(self) -> bool:
        try:
            self._conn().execute("SELECT 1")
        except sqlite3.Error:
            return False
        return True

    def reset(self) -> int | None:
        with self._conn() as conn:
            return conn.execute("DELETE FROM counters").rowcount

    def clear(self, key: str) -> None:
        self._conn().execute("DELETE FROM counters WHERE key = ?", (key,))


def _sent_key() -> str | None:
    from flask import request

    auth = request.headers.get("Authorization")
    if auth:
        return auth.strip()
    return request.headers.get("X-API-Key")


def _address() -> str:
    from flask import request

    return request.remote_addr or "unknown"


def _endpoint() -> str | None:
    from flask import request

    return request.endpoint


def _writer() -> str:
    """Writes are counted per key (its id, the part before the secret), else per address."""
    key = _sent_key()
    if key:
        parts = key.split()[-1].split("_")
        if len(parts) >= 3 and parts[0] == "rp":
            return "key:" + parts[1]
    return "address:" + _address()


def rate_limits(config: dict[str, Any]) -> dict[str, str]:
    """The limits of ``config`` (defaults where not given); ConfigError names a setting that is not a limit."""
    given = {}
    for name, default in (("RALLYPOINT_RATELIMIT_WRITES", WRITES), ("RALLYPOINT_RATELIMIT_REFUSED_KEYS", REFUSED_KEYS),
                          ("RALLYPOINT_RATELIMIT_REFUSED_PER_KEY", REFUSED_PER_KEY),
                          ("RALLYPOINT_RATELIMIT_SIGNIN", SIGNIN)):
        given[name] = str(config.get(name) or default)
        try:
            parse_many(given[name])
        except ValueError:
            raise ConfigError(f"{name}={given[name]!r} is not a rate limit such as '10 per minute' or "
                              "'100/hour'") from None
    return given


class RefusedKeys:
    """The limits on refused keys (per address, per key id) and the record of verified keys, in ``storage``."""

    def __init__(self, storage: Storage, per_address: str, per_key: str):
        from limits import parse
        from limits.strategies import FixedWindowRateLimiter

        self.storage = storage
        self.counter = FixedWindowRateLimiter(storage)
        self.per_address = parse(per_address)
        self.per_key = parse(per_key)

    def guard(self, address: str) -> "KeyGuard":
        return KeyGuard(self, address)


class KeyGuard:
    """One request's guard (:class:`rallypoint.api.auth.KeyGuard`): the client's address and the counters."""

    def __init__(self, limits: RefusedKeys, address: str):
        self.limits = limits
        self.address = address

    def _wait(self, item, *ids: str) -> int | None:
        """Seconds until the window of ``item`` for ``ids`` passes, when it is used up; None while it is not."""
        if self.limits.counter.test(item, *ids):
            return None
        return int(self.limits.counter.get_window_stats(item, *ids).reset_time - time.time()) + 1

    def admit(self, key_id: str | None, proof: str | None) -> bool:
        from ..api.errors import TooManyRequests

        if key_id is None:
            wait = self._wait(self.limits.per_address, "refused-keys/address", self.address)
            if wait:
                raise TooManyRequests("too many refused API keys from this address: try again after Retry-After "
                                      "seconds (a valid key is not refused)", wait)
            return False
        if proof and self.limits.storage.get(f"rallypoint/verified/{proof}") > 0:
            return True
        wait = self._wait(self.limits.per_key, "refused-keys/key", key_id)
        if wait:
            raise TooManyRequests(f"too many refused tries of API key {key_id}: try again after Retry-After seconds "
                                  "(a key already in use is not refused)", wait)
        return False

    def refused(self, key_id: str | None) -> None:
        self.limits.counter.hit(self.limits.per_address, "refused-keys/address", self.address)
        if key_id is not None:
            self.limits.counter.hit(self.limits.per_key, "refused-keys/key", key_id)

    def verified(self, proof: str) -> None:
        self.limits.storage.incr(f"rallypoint/verified/{proof}", VERIFIED_FOR)


def key_guard() -> KeyGuard | None:
    """The guard for the current request (None when the limits are switched off)."""
    from flask import current_app

    limits = current_app.extensions.get("rallypoint_refused_keys")
    return None if limits is None or not current_app.config.get("RATELIMIT_ENABLED", True) else \
        limits.guard(_address())


def init_limiter(app, config: dict[str, Any], jobs_folder: Path):
    """Put Flask-Limiter on ``app`` with the limits on writes and sign-ins, and the limits on refused keys beside
    it (their counters in the same storage); returns the Limiter. The counters' file is by default beside the
    jobs folder (``<jobs>.limits.sqlite``), which every worker of a server shares."""
    from flask_limiter import ApplicationLimit, Limiter

    default = jobs_folder.with_name(jobs_folder.name + ".limits.sqlite")
    uri = config.get("RALLYPOINT_RATELIMIT_STORAGE") or f"{SCHEME}://{default.resolve().as_posix()}"
    given = rate_limits(config)
    writes = ApplicationLimit(
        given["RALLYPOINT_RATELIMIT_WRITES"], key_function=_writer, scope="writes",
        methods=list(WRITE_METHODS), deduct_when=lambda response: response.status_code not in (401, 429),
        error_message="too many writes from this key: try again after Retry-After seconds")
    signin = ApplicationLimit(
        given["RALLYPOINT_RATELIMIT_SIGNIN"], key_function=_address, scope="signin", methods=["POST"],
        exempt_when=lambda: _endpoint() != "signin.signin",
        deduct_when=lambda response: response.status_code == 401,
        error_message="too many failed sign-ins from this address: try again after Retry-After seconds")
    limiter = Limiter(_address, app=app, application_limits=[writes, signin], storage_uri=uri,
                      headers_enabled=True, strategy="fixed-window", key_prefix="rallypoint")
    # Neither limit applies to a read without a key: exempt it before Flask-Limiter resolves the limits
    # (a third of the framework's time of a cached tile or a cold tile's request otherwise).
    limiter.request_filter(_anonymous_read)
    app.extensions["rallypoint_refused_keys"] = RefusedKeys(limiter.storage,
                                                            given["RALLYPOINT_RATELIMIT_REFUSED_KEYS"],
                                                            given["RALLYPOINT_RATELIMIT_REFUSED_PER_KEY"])
    return limiter


def _anonymous_read() -> bool:
    from flask import request

    return request.method not in WRITE_METHODS and _sent_key() is None
