"""A throwaway PostgreSQL 15 + PostGIS cluster for the tests, started from Debian's binaries.

``initdb`` in a temporary folder, a server listening only on 127.0.0.1 on a free port (its
Unix socket in that folder, not /var/run), stopped and removed at the end of the session.
initdb and postgres refuse to run as root (CI and containers run as root): there the
server runs as the ``postgres`` system user that Debian's package creates, through
``runuser``, with the folder owned by that user.

Each test gets its own database, copied from a template that already holds an empty
registry (``CREATE DATABASE … TEMPLATE``: milliseconds, where creating one takes a second).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PG_BIN = Path(os.environ.get("RALLYPOINT_PG_BIN", "/usr/lib/postgresql/15/bin"))


class PgCluster:
    """A running cluster: :meth:`url` of a database, :meth:`new_database` from a template."""

    def __init__(self, folder: Path | None = None, options: str = "") -> None:
        """A new cluster in a temporary folder; or, with ``folder`` (the benchmarks keep a loaded
        database between runs), the cluster in that folder, made there first if missing and kept
        by :meth:`stop` ``(remove=False)``. ``options``: more ``-c name=value`` server settings."""
        self.port = _free_port()
        self.user = "postgres"
        self.dir = Path(folder) if folder else Path(tempfile.mkdtemp(prefix="rallypoint-pg-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.data = self.dir / "data"
        self._as: list[str] = []
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            self._as = [shutil.which("runuser") or "/sbin/runuser", "-u", "postgres", "--"]
        if not (self.data / "PG_VERSION").exists():
            self._run([str(PG_BIN / "initdb"), "-D", str(self.data), "-U", self.user, "-A", "trust",
                       "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
        opts = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.dir}"
                " -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100"
                + (" " + options if options else ""))
        self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "server.log"), "-o", opts,
                   "-w", "-t", "60", "start"])
        self._counter = 0

    def _run(self, cmd: list[str]) -> None:
        proc = subprocess.run(self._as + cmd, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            log = self.dir / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(cmd[:1])} failed ({proc.returncode}): {proc.stderr[-2000:]}\n{tail}")

    def url(self, dbname: str = "postgres", user: str | None = None) -> str:
        return f"postgresql://{user or self.user}@127.0.0.1:{self.port}/{dbname}"

    def sql(self, statement: str, dbname: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(self.url(dbname), autocommit=True) as conn:
            conn.execute(statement)

    def new_database(self, template: str | None = None) -> str:
        """A new empty database (a copy of ``template`` if given); returns its URL."""
        self._counter += 1
        name = f"t{self._counter}"
        self.sql(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop a database made by :meth:`new_database` (each copy of a registry takes tens of megabytes)."""
        self.sql(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')

    def stop(self, remove: bool = True) -> None:
        """Stop the server and remove its folder (``remove=False``: a clean shutdown, the data kept)."""
        try:
            self._run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate" if remove else "fast",
                       "-w", "stop"])
        finally:
            if remove:
                shutil.rmtree(self.dir, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def missing() -> str | None:
    """Why a cluster cannot be started here (None when it can)."""
    for prog in ("initdb", "pg_ctl", "postgres"):
        if not (PG_BIN / prog).exists():
            return f"PostgreSQL 15 is not installed ({PG_BIN / prog} is missing; Debian package postgresql-15)"
    if not Path("/usr/share/postgresql/15/extension/postgis.control").exists():
        return "PostGIS is not installed (Debian package postgresql-15-postgis-3)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root but there is no postgres user to run the server as"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed"
    return None


def wait_until(predicate, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise TimeoutError
        time.sleep(0.05)
