"""The PostGIS store: a registry in a PostgreSQL database, through psycopg 3 (see :mod:`rallypoint.store`).

Selected by a connection URL, ``postgresql://user[:password]@host[:port]/database``. The
database's triggers (:mod:`rallypoint.pg_schema`) stamp versions and write the history of
every change; Rallypoint tells them who writes and when through the transaction-local
settings ``rallypoint.author`` and ``rallypoint.now``, so a change made here carries exactly
the stamps it would carry in a GeoPackage.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from . import geometry as geo
from .errors import RegistryFileError
from .gpkgfile import RegistryInfo
from .pg_schema import (
    CONFLICTS_DDL,
    EDITOR_ROLE_DDL,
    FUNCTIONS,
    HISTORY_DDL,
    HISTORY_TABLE,
    KEYS_DDL,
    METADATA_TABLE,
    layer_ddl,
    qi,
)
from .schema import LayerDef
from .store import CONFLICTS_TABLE, KEYS_TABLE, HistoryEntry, KeyRow
from .styles import render_qml, render_sld

_CONFLICT_COLUMNS = ("layer", "uuid", "kind", "fields", "ours_version", "base", "ours", "theirs", "theirs_from",
                     "detected_at", "detected_by")
_CONFLICT_JSON = ("fields", "base", "ours", "theirs")


def _connect(url: str, *, readonly: bool = False):
    import psycopg

    try:
        conn = psycopg.connect(url, autocommit=True, application_name="rallypoint")
    except psycopg.Error as exc:
        raise RegistryFileError(f"{_label(url)}: cannot connect: {str(exc).strip()}") from None
    # No JIT compilation: the registry's statements are short (a page, a tile, an edit), and the planner's
    # estimate for a tile's pass over its points crosses jit_above_cost, so each tile paid 50-230 ms of
    # compiling; off, zoom-14 tiles of 10M points came twice as fast (bench/pg_10m.py, issue 7).
    conn.execute("SET jit = off")
    if readonly:
        conn.execute("SET default_transaction_read_only = on")
    return conn


def _label(url: str) -> str:
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


def _pg_sql(sql: str) -> str:
    # Shared SQL uses sqlite's '?' placeholders; none of it holds a literal '?' or '%'.
    return sql.replace("%", "%%").replace("?", "%s")


def _value(layer: LayerDef, name: str, value: Any) -> Any:
    # validation gives booleans as SQLite stores them (0/1); PostgreSQL's boolean wants bool
    if value is not None and layer.has_field(name) and layer.field(name).type == "boolean":
        return bool(value)
    return value


_KEY_COLUMNS = "id, name, role, salt, hash, created_at, revoked_at"


class PgKeys:
    """API keys in the database's ``rp_api_keys`` table (see :class:`rallypoint.store.KeyStore`).

    Every statement commits on its own (the store's connection is in autocommit outside a batch), so a
    key revoked here is refused by every server worker's next request."""

    def __init__(self, conn, label: str):
        self.conn = conn
        self.label = label

    def _read(self, sql: str, params: Any = None) -> list[KeyRow]:
        import psycopg

        try:
            rows = self.conn.execute(sql, params).fetchall()
        except psycopg.errors.UndefinedTable:  # a registry made before keys were kept in it: no key yet
            return []
        return [KeyRow(*r) for r in rows]

    def add(self, row: KeyRow) -> None:
        import psycopg

        try:
            with self.conn.transaction():
                if self.conn.execute("SELECT to_regclass(%s)", (KEYS_TABLE,)).fetchone()[0] is None:
                    self.conn.execute(KEYS_DDL)
                self.conn.execute(f"INSERT INTO {KEYS_TABLE} ({_KEY_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                                  (row.id, row.name, row.role, row.salt, row.hash, row.created_at, row.revoked_at))
        except psycopg.errors.InsufficientPrivilege:
            raise RegistryFileError(f"{self.label}: only the registry's owner may add API keys "
                                    f"(this connection's user may not write {KEYS_TABLE})") from None

    def get(self, key_id: str) -> KeyRow | None:
        found = self._read(f"SELECT {_KEY_COLUMNS} FROM {KEYS_TABLE} WHERE id = %s", (key_id,))
        return found[0] if found else None

    def all(self) -> list[KeyRow]:
        return self._read(f"SELECT {_KEY_COLUMNS} FROM {KEYS_TABLE} ORDER BY created_at, id")

    def revoke(self, which: str, now: str) -> list[KeyRow]:
        import psycopg

        try:
            found = self._read(f"UPDATE {KEYS_TABLE} SET revoked_at = %s"
                               " WHERE revoked_at IS NULL AND (id = %s OR name = %s)"
                               f" RETURNING {_KEY_COLUMNS}", (now, which, which))
        except psycopg.errors.InsufficientPrivilege:
            raise RegistryFileError(f"{self.label}: only the registry's owner may revoke API keys") from None
        return sorted(found, key=lambda k: (k.created_at, k.id))


class PgStore:
    """A registry's tables in PostgreSQL/PostGIS. The database writes the history (triggers)."""

    geom_select = "ST_AsBinary(geom)"
    no_limit = None  # LIMIT NULL: no limit
    json_list = "SELECT jsonb_array_elements_text(?::jsonb)"

    def __init__(self, url: str, *, readonly: bool = False):
        import psycopg

        self.label = _label(url)
        self._pipeline = None
        self._pending = []
        self.conn = _connect(url, readonly=readonly)
        try:
            row = self.conn.execute(f"SELECT info FROM {METADATA_TABLE} WHERE id = 1").fetchone()
        except psycopg.errors.UndefinedTable:
            self.conn.close()
            raise RegistryFileError(f"{self.label}: not a Rallypoint registry (no {METADATA_TABLE} table)") from None
        if row is None:
            self.conn.close()
            raise RegistryFileError(f"{self.label}: not a Rallypoint registry ({METADATA_TABLE} is empty)")
        self.info = RegistryInfo(**row[0])
        if not readonly:
            self._follow_database_name()
        self._tables = {r[0] for r in self.conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")}

    def _follow_database_name(self) -> None:
        """QGIS finds a layer's default style by database name (``f_table_catalog``); a registry copied
        or restored under another name (``CREATE DATABASE … TEMPLATE``, pg_restore) gets its styles back."""
        import psycopg

        try:
            self.conn.execute("UPDATE layer_styles SET f_table_catalog = current_database()"
                              " WHERE owner = 'rallypoint' AND f_table_catalog IS DISTINCT FROM current_database()")
        except psycopg.errors.InsufficientPrivilege:
            pass  # an editor's connection: the owner's next open does it

    def execute(self, sql: str, params: Any = ()) -> Any:
        return self.conn.execute(_pg_sql(sql), params or None)

    def tables(self) -> set[str]:
        return self._tables

    def close(self) -> None:
        self.conn.close()

    def keys(self) -> PgKeys:
        return PgKeys(self.conn, self.label)

    # -- transactions --------------------------------------------------------------
    def begin(self) -> None:
        self.conn.execute("BEGIN")
        self._said: tuple[str, str] | None = None
        # Pipeline mode: writes are sent without waiting for each answer (one round trip per read,
        # not per statement); a duplicate UUID is found when the answers are read (flush).
        self._pipeline = self.conn.pipeline()
        self._pipeline.__enter__()
        self._pending: list[tuple[Any, Callable[[], None]]] = []

    def flush(self) -> None:
        import psycopg

        pending, self._pending = self._pending, []
        try:
            for cur, on_duplicate in pending:
                if cur.fetchone() is None:  # ON CONFLICT DO NOTHING: nothing written
                    on_duplicate()
        except psycopg.errors.NotNullViolation as exc:  # a registry made when the field was required
            from .pg_nullable import not_null_error

            raise not_null_error(self.label, exc) from None

    def _end_pipeline(self, exc: BaseException | None) -> None:
        pipeline, self._pipeline = self._pipeline, None
        if pipeline is not None:
            pipeline.__exit__(type(exc) if exc else None, exc, None)

    def stamp(self, author: str, now: str) -> None:
        self.conn.execute("SELECT set_config('rallypoint.author', %s, true), set_config('rallypoint.now', %s, true)",
                          (author, now))

    def commit(self, touched: dict[str, list[float]], now: str) -> None:
        import psycopg

        self.flush()
        try:
            self._end_pipeline(None)  # raises a pending error: the batch then rolls back
        except psycopg.errors.NotNullViolation as exc:  # a registry made when the field was required
            from .pg_nullable import not_null_error

            raise not_null_error(self.label, exc) from None
        self.conn.execute("COMMIT")  # PostGIS needs no extents kept: the GiST index answers them

    def rollback(self) -> None:
        import psycopg

        self._pending = []
        try:
            self._end_pipeline(RuntimeError("rollback"))
        except psycopg.Error:
            pass  # the error that made the batch roll back is already on its way
        self.conn.execute("ROLLBACK")

    @contextmanager
    def read_snapshot(self) -> Iterator[None]:
        self.conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            yield
        finally:
            self.conn.execute("ROLLBACK")

    def add_layers(self, layers: list[LayerDef], language: str, now: str) -> None:
        for layer in layers:  # as on a GeoPackage (add_attribute_layers)
            if layer.has_geometry:
                raise RegistryFileError(f"layer {layer.name} has geometry: it can only be created with a new registry")
        with self.conn.transaction():
            for layer in layers:
                for stmt in layer_ddl(layer):
                    self.conn.execute(stmt)
            _write_styles(self.conn, layers, language)

    # -- writes --------------------------------------------------------------------
    def _say(self, history: HistoryEntry) -> None:
        """What the triggers cannot tell from the row: the kind of change and its note (sent only when
        they differ from the last change's: a batch of inserts costs one statement per feature)."""
        said = (history.op, history.note or "")
        if said != self._said:
            self.conn.execute("SELECT set_config('rallypoint.op', %s, true), set_config('rallypoint.note', %s, true)",
                              said)
            self._said = said

    def insert(self, layer: LayerDef, row: dict[str, Any], geom: BaseGeometry | None,
               history: HistoryEntry | None, on_duplicate: Callable[[], None] | None = None) -> int | None:
        if history is not None:
            self._say(history)
        cols = [qi(c) for c in row]
        values = [_value(layer, c, v) for c, v in row.items()]
        marks = ["%s"] * len(cols)
        if layer.has_geometry:
            cols.append("geom")
            marks.append("ST_GeomFromWKB(%s, 4490)")
            values.append(None if geom is None else shapely.to_wkb(geom, output_dimension=2))
        # ON CONFLICT, not an error: a failed statement would abort the whole transaction, and a batch
        # goes on to report every bad feature, not only the first
        conflict = " ON CONFLICT (uuid) DO NOTHING" if history is not None else ""
        sql = f"INSERT INTO {qi(layer.name)} ({', '.join(cols)}) VALUES ({', '.join(marks)}){conflict} RETURNING fid"
        cur = self.conn.execute(sql, values)
        if history is not None and on_duplicate is not None and self._pipeline is not None:
            self._pending.append((cur, on_duplicate))
            return None
        row = cur.fetchone()
        if row is None:
            if on_duplicate is None:
                raise RegistryFileError(f"{self.label} {layer.name}: UUID {values[cols.index(qi('uuid'))]} is already used")
            on_duplicate()
            return None
        return row[0]

    def update(self, layer: LayerDef, fid: int, row: dict[str, Any], geom: BaseGeometry | None,
               history: HistoryEntry) -> None:
        self._say(history)
        cols = [c for c in row if c != "uuid"]
        sets = [f"{qi(c)} = %s" for c in cols]
        values = [_value(layer, c, row[c]) for c in cols]
        if layer.has_geometry:
            sets.append("geom = ST_GeomFromWKB(%s, 4490)")
            values.append(None if geom is None else shapely.to_wkb(geom, output_dimension=2))
        self.conn.execute(f"UPDATE {qi(layer.name)} SET {', '.join(sets)} WHERE fid = %s", (*values, fid))

    def load_reference(self, layer: LayerDef, data: Any, *, author: str, now: str, replace: bool,
                       note: str | None) -> int:
        from .pg_bulk import load_reference

        return load_reference(self.conn, layer, data, author=author, now=now, replace=replace, note=note)

    # -- merge conflicts -------------------------------------------------------------
    def ensure_conflicts_table(self, now: str) -> None:
        if self.conn.execute("SELECT to_regclass(%s)", (CONFLICTS_TABLE,)).fetchone()[0] is None:
            for stmt in CONFLICTS_DDL:  # a registry made before rp_conflicts was part of the schema
                self.conn.execute(stmt)

    def conflict_recorded(self, layer: str, uuid: str, theirs: str) -> bool:
        return self.conn.execute(f"SELECT 1 FROM {CONFLICTS_TABLE} WHERE layer = %s AND uuid = %s"
                                 " AND theirs = %s::jsonb AND resolved_at IS NULL",
                                 (layer, uuid, theirs)).fetchone() is not None

    def record_conflict(self, row: dict[str, Any]) -> None:
        marks = ", ".join("%s::jsonb" if c in _CONFLICT_JSON else "%s" for c in _CONFLICT_COLUMNS)
        self.conn.execute(f"INSERT INTO {CONFLICTS_TABLE} ({', '.join(_CONFLICT_COLUMNS)}) VALUES ({marks})",
                          [row[c] for c in _CONFLICT_COLUMNS])

    def unresolved_conflicts(self) -> list[dict[str, Any]]:
        import json

        if self.conn.execute("SELECT to_regclass(%s)", (CONFLICTS_TABLE,)).fetchone()[0] is None:
            return []
        cur = self.conn.execute(f"SELECT * FROM {CONFLICTS_TABLE} WHERE resolved_at IS NULL ORDER BY id")
        cols = [d.name for d in cur.description]
        out = []
        for r in cur.fetchall():
            row = dict(zip(cols, r))
            for c in _CONFLICT_JSON:  # JSON text, as the GeoPackage gives it
                if row[c] is not None:
                    row[c] = json.dumps(row[c], ensure_ascii=False)
            out.append(row)
        return out

    # -- reads ---------------------------------------------------------------------
    def lock_clause(self) -> str:
        return " FOR UPDATE"  # the row read is the row written: no other transaction changes it meanwhile

    def bbox_clause(self, layer: LayerDef, box: tuple[float, float, float, float]) -> tuple[str, list[Any]]:
        return "geom && ST_MakeEnvelope(?, ?, ?, ?, 4490)", list(box)

    def decode(self, value: Any) -> BaseGeometry | None:
        return None if value is None else shapely.from_wkb(bytes(value))

    def decode_many(self, values: Any) -> Any:
        return shapely.from_wkb(np.array([None if v is None else bytes(v) for v in values], dtype=object))

    def point_coords(self, values: Any) -> Any:
        geoms = self.decode_many(values)
        out = np.full((len(geoms), 2), np.nan)
        present = ~shapely.is_missing(geoms)
        kinds = shapely.get_type_id(geoms[present])
        if (kinds != 0).any():
            raise geo.GeometryBlobError(
                f"geometry holds a {geoms[present][kinds != 0][0].geom_type}, not a point, where points are read")
        full = np.flatnonzero(present)
        full = full[~shapely.is_empty(geoms[full])]
        out[full, 0] = shapely.get_x(geoms[full])
        out[full, 1] = shapely.get_y(geoms[full])
        return out


def _write_styles(conn, layers: list[LayerDef], default_lang: str) -> None:
    for layer in layers:
        for lang in (default_lang, "en" if default_lang == "zh" else "zh"):
            conn.execute(
                "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column,"
                " stylename, styleqml, stylesld, useasdefault, description, owner, ui, type)"
                " VALUES (current_database(), current_schema(), %s, %s, %s, %s, %s, %s, %s, 'rallypoint', '', %s)",
                # QGIS looks a style up by geometry column (NULL for a table without one); type NULL fits any
                (layer.name, "geom" if layer.has_geometry else None, f"rallypoint-{lang}", render_qml(layer, lang),
                 render_sld(layer), lang == default_lang,
                 f"Rallypoint default style ({'中文' if lang == 'zh' else 'English'})", None))


def create_database_registry(url: str, layers: list[LayerDef], info: RegistryInfo, *, overwrite: bool = False) -> None:
    """Create the registry's tables in the (existing) database at ``url``, in one transaction."""
    import psycopg

    conn = _connect(url)
    try:
        with conn.transaction():
            create_registry_tables(conn, _label(url), layers, info, overwrite=overwrite)
    except psycopg.Error as exc:
        raise RegistryFileError(f"{_label(url)}: cannot create the registry: {str(exc).strip()}") from exc
    finally:
        conn.close()


def create_registry_tables(conn, label: str, layers: list[LayerDef], info: RegistryInfo, *,
                           overwrite: bool = False) -> None:
    """Create the registry's tables in the transaction open on ``conn`` (which the caller commits: a
    registry filled in the same transaction appears whole, or not at all)."""
    exists = conn.execute("SELECT to_regclass(%s)", (METADATA_TABLE,)).fetchone()[0]
    if exists and not overwrite:
        raise RegistryFileError(f"{label} already holds a registry (use overwrite to replace it)")
    conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    conn.execute(EDITOR_ROLE_DDL)
    if exists:
        _drop_registry(conn, layers)
    conn.execute(FUNCTIONS)
    conn.execute(HISTORY_DDL)
    conn.execute(KEYS_DDL)
    for stmt in CONFLICTS_DDL:
        conn.execute(stmt)
    for layer in layers:
        for stmt in layer_ddl(layer):
            conn.execute(stmt)
    conn.execute(f"INSERT INTO {METADATA_TABLE} (id, info) VALUES (1, %s::jsonb)", (info.to_json(),))
    _write_styles(conn, layers, info.language)


def _drop_registry(conn, layers: list[LayerDef]) -> None:
    for layer in layers:
        conn.execute(f"DROP TABLE IF EXISTS {qi(layer.name)} CASCADE")
    # the keys go with the registry they opened, as they do with a GeoPackage file overwritten
    conn.execute(f"DROP TABLE IF EXISTS {HISTORY_TABLE}, {METADATA_TABLE}, {CONFLICTS_TABLE}, {KEYS_TABLE} CASCADE")
    conn.execute("DELETE FROM layer_styles WHERE stylename LIKE 'rallypoint%'")
    for fn in ("rp_setting(text)", "rp_author()", "rp_now()", "rp_stamp()", "rp_state(jsonb, geometry)",
               "rp_record()", "rp_retire_on_delete()", "rp_refuse()"):
        conn.execute(f"DROP FUNCTION IF EXISTS {fn} CASCADE")
