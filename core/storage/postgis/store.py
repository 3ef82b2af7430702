"""The PostGIS store: a registry in a PostgreSQL database, through psycopg 3 (see :mod:`rallypoint.storage.base`).

Selected by a connection URL, ``postgresql://user[:password]@host[:port]/database``. The
database's triggers (:mod:`.schema`) stamp versions and write the history of
every change; Rallypoint tells them who writes and when through the transaction-local
settings ``rallypoint.author`` and ``rallypoint.now``, so a change made here carries exactly
the stamps it would carry in a GeoPackage.
"""

from __future__ import annotations

import select
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import numpy as np
import shapely

from ... import geometry as geo
from ...errors import Problem, RegistryFileError, ValidationError
from ...geometry_engine import engine
from ...schema import LayerDef
from ..base import CONFLICTS_TABLE, HistoryEntry, PreparedLoad, RegistryInfo
from .accounts import PgAccounts
from .connect import connect, label
from .keys import PgKeys
from .schema import CONFLICTS_DDL, METADATA_TABLE, layer_ddl, qi, write_styles

_CONFLICT_COLUMNS = ("layer", "uuid", "kind", "fields", "ours_version", "base", "ours", "theirs", "theirs_from",
                     "detected_at", "detected_by")
_CONFLICT_JSON = ("fields", "base", "ours", "theirs")


def _pg_sql(sql: str) -> str:
    # Shared SQL uses sqlite's '?' placeholders; none of it holds a literal '?' or '%'.
    return sql.replace("%", "%%").replace("?", "%s")


def _value(layer: LayerDef, name: str, value: Any) -> Any:
    # validation gives booleans as SQLite stores them (0/1); PostgreSQL's boolean wants bool
    if value is not None and layer.has_field(name) and layer.field(name).type == "boolean":
        return bool(value)
    return value


class PgStore:
    """A registry's tables in PostgreSQL/PostGIS. The database writes the history (triggers)."""

    geom_select = "ST_AsBinary(geom)"
    no_limit = None  # LIMIT NULL: no limit
    json_list = "SELECT jsonb_array_elements_text(?::jsonb)"

    def __init__(self, url: str, *, readonly: bool = False):
        import psycopg

        self.label = label(url)
        self.location = self.label
        self._pipeline = None
        self._pending = []
        self.conn = connect(url, readonly=readonly)
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

    def alive(self) -> bool:
        """Whether this kept connection is usable: not closed or broken, and the server did not speak while it
        was idle. An idle connection receives nothing unless the server ends it (restart,
        ``pg_terminate_backend``, idle timeout: it then sends a FATAL notice and closes the socket), so a
        readable socket means "gone". Checking costs one ``select`` system call, not a round trip."""
        conn = self.conn
        if conn.closed or conn.broken:
            return False
        try:
            readable, _, _ = select.select([conn.fileno()], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable

    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus

        conn = self.conn
        return conn.closed or conn.broken or conn.info.transaction_status != TransactionStatus.IDLE

    def reader(self, where: str):
        """The OGC API's reader of this database (:mod:`.reader`), on this connection."""
        from .reader import PgReader

        return PgReader(self.conn, where)

    def snapshot(self, target: Any, layers: list[LayerDef], *, reference: Any = None) -> None:
        from .snapshot import snapshot

        snapshot(self, target, layers, reference=reference)

    def structure_problems(self, layers: list[LayerDef]) -> list[Problem]:
        """Every problem in the database's tables, columns, indexes and triggers (see :mod:`.check`)."""
        from .check import structure_problems

        return structure_problems(self.conn, layers)

    def tables(self) -> set[str]:
        return self._tables

    def columns(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {t: set() for t in self._tables}
        for table, column in self.conn.execute("SELECT table_name, column_name FROM information_schema.columns"
                                               " WHERE table_schema = current_schema()"):
            if table in out:
                out[table].add(column)
        return out

    def close(self) -> None:
        self.conn.close()

    def keys(self) -> PgKeys:
        return PgKeys(self.conn, self.label)

    def accounts(self) -> PgAccounts:
        return PgAccounts(self.conn, self.label)

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
            from .nullable import not_null_error

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
            from .nullable import not_null_error

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
            write_styles(self.conn, layers, language)

    # -- writes --------------------------------------------------------------------
    def _say(self, history: HistoryEntry) -> None:
        """What the triggers cannot tell from the row: the kind of change and its note (sent only when
        they differ from the last change's: a batch of inserts costs one statement per feature)."""
        said = (history.op, history.note or "")
        if said != self._said:
            self.conn.execute("SELECT set_config('rallypoint.op', %s, true), set_config('rallypoint.note', %s, true)",
                              said)
            self._said = said

    def insert(self, layer: LayerDef, row: dict[str, Any], geom: Any,
               history: HistoryEntry | None, on_duplicate: Callable[[], None] | None = None) -> int | None:
        if history is not None:
            self._say(history)
        cols = [qi(c) for c in row]
        values = [_value(layer, c, v) for c, v in row.items()]
        marks = ["%s"] * len(cols)
        if layer.has_geometry:
            cols.append("geom")
            marks.append("ST_GeomFromWKB(%s, 4490)")
            values.append(None if geom is None else engine().to_wkb(geom))
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

    def insert_many(self, layer: LayerDef, names: list[str], columns: list[list[Any]], geoms: Any, *, author: str,
                    at: str, note: str | None) -> None:
        """COPY the rows in (the triggers stamp them and write their history, as for one INSERT each); COPY
        does not run in pipeline mode, so the batch's pipeline is finished first and begun again after."""
        import psycopg

        from .bulk import copy_columns
        from .nullable import not_null_error

        self.flush()
        self._end_pipeline(None)
        try:
            self._say(HistoryEntry("", 1, "insert", author, at, None, None, note))
            copy_columns(self.conn, layer, names, columns, geoms)
        except psycopg.errors.NotNullViolation as exc:  # a registry made when the field was required
            raise not_null_error(self.label, exc) from None
        except psycopg.errors.UniqueViolation as exc:  # a UUID another writer has just used
            detail = getattr(getattr(exc, "diag", None), "message_detail", None) or ""
            raise ValidationError([Problem(layer.name, "(bulk write)", "uuid",
                                           f"a UUID is already used in {layer.name}: {detail}".rstrip(": "))]) from None
        finally:
            if not self.conn.broken:
                self._pipeline = self.conn.pipeline()
                self._pipeline.__enter__()

    def update(self, layer: LayerDef, fid: int, row: dict[str, Any], geom: Any,
               history: HistoryEntry) -> None:
        self._say(history)
        cols = [c for c in row if c != "uuid"]
        sets = [f"{qi(c)} = %s" for c in cols]
        values = [_value(layer, c, row[c]) for c in cols]
        if layer.has_geometry:
            sets.append("geom = ST_GeomFromWKB(%s, 4490)")
            values.append(None if geom is None else engine().to_wkb(geom))
        self.conn.execute(f"UPDATE {qi(layer.name)} SET {', '.join(sets)} WHERE fid = %s", (*values, fid))

    def load_reference(self, layer: LayerDef, data: PreparedLoad, *, author: str, now: str, replace: bool,
                       note: str | None) -> int:
        from .bulk import load_reference

        return load_reference(self.conn, layer, data, author=author, now=now, replace=replace, note=note)

    # -- merge conflicts -------------------------------------------------------------
    def ensure_conflicts_table(self, now: str) -> None:
        if self.conn.execute("SELECT to_regclass(%s)", (CONFLICTS_TABLE,)).fetchone()[0] is None:
            for stmt in CONFLICTS_DDL:  # a registry made before rp_conflicts was part of the schema
                self.conn.execute(stmt)

    def conflict_recorded(self, layer: str, uuid: str, theirs: str) -> bool:
        return self.conn.execute(f"SELECT 1 FROM {CONFLICTS_TABLE} WHERE layer = %s AND uuid = %s"
                                 " AND theirs = %s::jsonb",
                                 (layer, uuid, theirs)).fetchone() is not None

    def record_conflict(self, row: dict[str, Any]) -> None:
        marks = ", ".join("%s::jsonb" if c in _CONFLICT_JSON else "%s" for c in _CONFLICT_COLUMNS)
        self.conn.execute(f"INSERT INTO {CONFLICTS_TABLE} ({', '.join(_CONFLICT_COLUMNS)}) VALUES ({marks})",
                          [row[c] for c in _CONFLICT_COLUMNS])

    def conflicts(self, *, resolved: bool | None = False, conflict_id: int | None = None,
                  lock: bool = False) -> list[dict[str, Any]]:
        import json

        if self.conn.execute("SELECT to_regclass(%s)", (CONFLICTS_TABLE,)).fetchone()[0] is None:
            return []
        clauses, params = [], []
        if resolved is not None:
            clauses.append(f"resolved_at IS {'NOT ' if resolved else ''}NULL")
        if conflict_id is not None:
            clauses.append("id = %s")
            params.append(conflict_id)
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        cur = self.conn.execute(f"SELECT * FROM {CONFLICTS_TABLE}{where} ORDER BY id"
                                + (" FOR UPDATE" if lock else ""), params or None)
        rows = cur.fetchall()  # before the description: inside a batch, the pipeline answers on fetching
        cols = [d.name for d in cur.description]
        out = []
        for r in rows:
            row = dict(zip(cols, r))
            for c in _CONFLICT_JSON:  # JSON text, as the GeoPackage gives it
                if row[c] is not None:
                    row[c] = json.dumps(row[c], ensure_ascii=False)
            out.append(row)
        return out

    def unresolved_conflicts(self) -> list[dict[str, Any]]:
        return self.conflicts(resolved=False)

    def mark_resolved(self, conflict_id: int, resolved_at: str, resolution: str) -> bool:
        cur = self.conn.execute(f"UPDATE {CONFLICTS_TABLE} SET resolved_at = %s, resolution = %s"
                                " WHERE id = %s AND resolved_at IS NULL RETURNING id",
                                (resolved_at, resolution, conflict_id))
        return cur.fetchone() is not None

    # -- reads ---------------------------------------------------------------------
    def lock_clause(self) -> str:
        return " FOR UPDATE"  # the row read is the row written: no other transaction changes it meanwhile

    def bbox_clause(self, layer: LayerDef, box: tuple[float, float, float, float]) -> tuple[str, list[Any]]:
        return "geom && ST_MakeEnvelope(?, ?, ?, ?, 4490)", list(box)

    def decode(self, value: Any) -> Any:
        # one feature's geometry is the engine's, as the GeoPackage store's (QgsGeometry inside QGIS: the rules
        # check it with the engine); frames (decode_many) stay shapely arrays
        return None if value is None else engine().from_wkb(bytes(value))

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
