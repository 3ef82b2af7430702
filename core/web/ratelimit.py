"""Rate limits on writes, refused API keys and failed sign-ins (Flask-Limiter), counted across gunicorn's workers.

Three limits, all answered ``429 Too Many Requests`` with ``Retry-After``:

* **writes** (POST, PUT, PATCH, DELETE: features, analysis runs, job dismissals, plugins' write
  endpoints), per API key (per address for requests without one). Only writes that got past the
  key check count, so nobody can spend someone else's budget by sending their key id.
* **refused keys** ("failed logins"): requests whose key was wrong, malformed or revoked (401),
  per client address. Once over the limit, every request from that address that carries a key
  is refused until the window passes; anonymous reads go on.
* **failed sign-ins**: posts of the browser's sign-in form refused (a wrong name, password or key: 401), per
  client address. Once over the limit, the form refuses every post from that address until the window
  passes (the page says so, in the form's language: :mod:`.session`), right passwords included.

Flask-Limiter (with the ``limits`` library) does the counting, windows and headers. Its
stores that several processes can share are Redis, Memcached, MongoDB or etcd: servers a
bureau's machine does not run. Gunicorn's workers are separate processes, so an in-memory
store would let each of them allow the whole limit. :class:`SQLiteStorage` is therefore a small
``limits`` store in an SQLite file of its own (never the registry: the limits' writes would
contend with the registry's), beside the jobs folder by default; a Redis URI can replace it
(``RALLYPOINT_RATELIMIT_STORAGE``). The write limit is generous (a client syncing a bureau's edits
writes in bursts); it stops a runaway script, not a busy editor.

Settings (``create_app`` config): ``RALLYPOINT_RATELIMIT_WRITES`` ("1000 per minute"),
``RALLYPOINT_RATELIMIT_REFUSED_KEYS`` ("10 per minute"), ``RALLYPOINT_RATELIMIT_SIGNIN`` ("10 per minute"),
``RALLYPOINT_RATELIMIT_STORAGE``
(a ``limits`` storage URI), ``RATELIMIT_ENABLED`` (Flask-Limiter's switch, True).
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
SIGNIN = "10 per minute"
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
                          ("RALLYPOINT_RATELIMIT_SIGNIN", SIGNIN)):
        given[name] = str(config.get(name) or default)
        try:
            parse_many(given[name])
        except ValueError:
            raise ConfigError(f"{name}={given[name]!r} is not a rate limit such as '10 per minute' or "
                              "'100/hour'") from None
    return given


def init_limiter(app, config: dict[str, Any], jobs_folder: Path):
    """Put Flask-Limiter on ``app`` with the three limits; returns the Limiter. The counters' file is by default
    beside the jobs folder (``<jobs>.limits.sqlite``), which every worker of a server shares."""
    from flask_limiter import ApplicationLimit, Limiter

    default = jobs_folder.with_name(jobs_folder.name + ".limits.sqlite")
    uri = config.get("RALLYPOINT_RATELIMIT_STORAGE") or f"{SCHEME}://{default.resolve().as_posix()}"
    given = rate_limits(config)
    writes = ApplicationLimit(
        given["RALLYPOINT_RATELIMIT_WRITES"], key_function=_writer, scope="writes",
        methods=list(WRITE_METHODS), deduct_when=lambda response: response.status_code != 401,
        error_message="too many writes from this key: try again after Retry-After seconds")
    refused = ApplicationLimit(
        given["RALLYPOINT_RATELIMIT_REFUSED_KEYS"], key_function=_address,
        scope="refused-keys", exempt_when=lambda: _sent_key() is None,
        deduct_when=lambda response: response.status_code == 401,
        error_message="too many refused API keys from this address: try again after Retry-After seconds")
    signin = ApplicationLimit(
        given["RALLYPOINT_RATELIMIT_SIGNIN"], key_function=_address, scope="signin", methods=["POST"],
        exempt_when=lambda: _endpoint() != "signin.signin",
        deduct_when=lambda response: response.status_code == 401,
        error_message="too many failed sign-ins from this address: try again after Retry-After seconds")
    limiter = Limiter(_address, app=app, application_limits=[writes, refused, signin], storage_uri=uri,
                      headers_enabled=True, strategy="fixed-window", key_prefix="rallypoint")
    # Neither limit applies to a read without a key: exempt it before Flask-Limiter resolves the limits
    # (a third of the framework's time of a cached tile or a cold tile's request otherwise).
    limiter.request_filter(_anonymous_read)
    return limiter


def _anonymous_read() -> bool:
    from flask import request

    return request.method not in WRITE_METHODS and _sent_key() is None
