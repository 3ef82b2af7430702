"""Connecting to a PostgreSQL registry (psycopg 3), and its URL without the password for messages and records."""

from __future__ import annotations

from ...errors import RegistryFileError


def connect(url: str, *, readonly: bool = False):
    import psycopg

    try:
        conn = psycopg.connect(url, autocommit=True, application_name="rallypoint")
    except psycopg.Error as exc:
        raise RegistryFileError(f"{label(url)}: cannot connect: {str(exc).strip()}") from None
    # No JIT compilation: the registry's statements are short (a page, a tile, an edit), and the planner's
    # estimate for a tile's pass over its points crosses jit_above_cost, so each tile paid 50-230 ms of
    # compiling; off, zoom-14 tiles of 10M points came twice as fast (bench/pg_10m.py, issue 7).
    conn.execute("SET jit = off")
    if readonly:
        conn.execute("SET default_transaction_read_only = on")
    return conn


def label(url: str) -> str:
    """The URL without its password, for messages."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        d = conninfo_to_dict(url)
    except Exception:
        return "PostgreSQL database"
    return f"postgresql://{d.get('user', '')}@{d.get('host', '')}:{d.get('port', 5432)}/{d.get('dbname', '')}"


def url_without_password(url: str) -> str:
    """The URL with its password left out (kept in files and records; libpq then takes the password from
    ``PGPASSWORD``, ``~/.pgpass`` or a service file, as every PostgreSQL client does)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    user = parts.netloc.rsplit("@", 1)[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}@{host}"))
