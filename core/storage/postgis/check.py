"""The structure of a PostGIS registry, as the database's catalogues tell it: each layer's table and columns,
``geometry(…, 4490)`` with a GiST index, the stamping and history triggers, the append-only history
(:meth:`PgStore.structure_problems`; ``rallypoint validate`` then checks the data on a snapshot)."""

from __future__ import annotations

from ...errors import Problem
from ...schema import LayerDef
from ..base import HISTORY_TABLE
from .nullable import not_null_problems
from .schema import PG_TYPES

_LAYER_TRIGGERS = {"rp_stamp", "rp_record", "rp_retire_on_delete", "rp_no_truncate"}
_HISTORY_TRIGGERS = {"rp_history_append_only", "rp_history_no_truncate"}


def _structure(conn, layer: LayerDef) -> list[Problem]:
    out: list[Problem] = []

    def bad(msg: str, field: str | None = None) -> None:
        out.append(Problem(layer.name, "(layer)", field, msg))

    cols = dict(conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema()"
        " AND table_name = %s", (layer.name,)).fetchall())
    if not cols:
        bad("no such table")
        return out
    for f in layer.fields:
        if f.name not in cols:
            bad("column missing", f.name)
        elif cols[f.name] != PG_TYPES[f.type]:
            bad(f"column type {cols[f.name]}, expected {PG_TYPES[f.type]}", f.name)
    if layer.has_geometry:
        g = conn.execute("SELECT srid, type FROM geometry_columns WHERE f_table_schema = current_schema()"
                         " AND f_table_name = %s AND f_geometry_column = 'geom'", (layer.name,)).fetchone()
        if g is None:
            bad("no geometry column geom", "geom")
        elif (g[0], g[1]) != (4490, layer.geometry.upper()):
            bad(f"geometry column is {g[1]} in SRID {g[0]}, expected {layer.geometry.upper()} in 4490", "geom")
        gist = conn.execute("SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s"
                            " AND indexdef LIKE '%%USING gist (geom)%%'", (layer.name,)).fetchone()
        if gist is None:
            bad("no GiST index on geom", "geom")
    if layer.versioned:
        bad_triggers = _triggers(conn, layer.name, _LAYER_TRIGGERS)
        if bad_triggers:
            bad(f"trigger(s) missing or disabled: {', '.join(bad_triggers)} (changes would escape the history)")
    return out


def _triggers(conn, table: str, wanted: set[str]) -> list[str]:
    found = {r[0] for r in conn.execute(
        "SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass(%s) AND NOT tgisinternal AND tgenabled <> 'D'",
        (table,))}
    return sorted(wanted - found)


def structure_problems(conn, layers: list[LayerDef]) -> list[Problem]:
    """Every problem in the tables of ``layers`` and in the history's guards."""
    problems = [p for layer in layers for p in _structure(conn, layer)]
    present = {r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables "
                                          "WHERE table_schema = current_schema()")}
    problems += [p for layer in layers if layer.name in present for p in not_null_problems(conn, layer)]
    missing = _triggers(conn, HISTORY_TABLE, _HISTORY_TRIGGERS)
    if missing:
        problems.append(Problem(HISTORY_TABLE, "(table)", None,
                                f"trigger(s) missing or disabled: {', '.join(missing)} (it must be append-only)"))
    return problems
