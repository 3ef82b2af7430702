"""Checking a PostGIS registry (``rallypoint validate postgresql://…``): its tables, and every feature.

The database's structure is checked here (each layer's table and columns, ``geometry(…, 4490)``
with a GiST index, the stamping and history triggers, the append-only history); the data
(every feature against its definition, each feature's version against its history) is checked
by :func:`~rallypoint.check.check_registry` on a consistent GeoPackage snapshot of the database
(:mod:`rallypoint.exchange.pg_snapshot`), so both backends are held to the same rules. Reads only.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from .errors import Problem, RegistryFileError
from .pg_nullable import not_null_problems
from .pg_schema import HISTORY_TABLE, PG_TYPES
from .plugins import default_plugin_manager, layer_catalog
from .registry import Registry
from .schema import LayerDef, builtin_layers

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


def check_postgis_registry(url: str, *, progress=None) -> list[Problem]:
    """Every problem in the PostGIS registry at ``url`` (an empty list when it is sound)."""
    from .check import check_registry
    from .exchange.pg_snapshot import snapshot_postgis

    try:
        reg = Registry.open(url, readonly=True)
    except RegistryFileError as exc:
        return [Problem("database", url.split("@")[-1], None, str(exc))]
    with reg:
        conn = reg._conn
        present = reg._store.tables()
        layers = [d for d in layer_catalog(default_plugin_manager()).values()
                  if d.name in builtin_layers() or d.name in present]
        problems = [p for layer in layers for p in _structure(conn, layer)]
        problems += [p for layer in layers if layer.name in present for p in not_null_problems(conn, layer)]
        missing = _triggers(conn, HISTORY_TABLE, _HISTORY_TRIGGERS)
        if missing:
            problems.append(Problem(HISTORY_TABLE, "(table)", None,
                                    f"trigger(s) missing or disabled: {', '.join(missing)} (it must be append-only)"))
    if problems:
        return problems
    with tempfile.TemporaryDirectory() as tmp:
        snap = Path(tmp) / "snapshot.gpkg"
        snapshot_postgis(url, snap)
        return check_registry(snap, progress=progress, gdal=False, layers=layers)
