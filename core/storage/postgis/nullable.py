"""Columns a PostGIS registry still holds NOT NULL though the layer definitions no longer require them.

A field that stops being required (a shelter's day capacity and effective area may be unknown: unknown is not
0) is created without NOT NULL in a new registry; a registry made before keeps the constraint, and a write
leaving the field empty is refused by the database. :func:`not_null_problems` names those columns for
``rallypoint validate``, with the statement that lifts the constraint (run by the tables' owner), and
:func:`not_null_error` turns the database's refusal into a message saying the same.
"""

from __future__ import annotations

from ...errors import Problem, RegistryFileError
from ...schema import LayerDef


def relax_sql(table: str, column: str) -> str:
    """The statement that lifts the constraint (only names checked against the definitions reach here)."""
    return f'ALTER TABLE "{table}" ALTER COLUMN "{column}" DROP NOT NULL'


def stale_not_null(conn, layer: LayerDef) -> list[str]:
    """Columns of ``layer`` NOT NULL in the database whose field the definition does not require."""
    rows = conn.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema()"
                        " AND table_name = %s AND is_nullable = 'NO'", (layer.name,)).fetchall()
    strict = {r[0] for r in rows}
    return [f.name for f in layer.fields if f.name in strict and not f.required and not f.system]


def not_null_problems(conn, layer: LayerDef) -> list[Problem]:
    return [Problem(layer.name, "(layer)", name,
                    f"column is NOT NULL in the database, but the layer definition allows it empty (a registry "
                    f"made by an earlier Rallypoint): the table's owner lifts it with {relax_sql(layer.name, name)}")
            for name in stale_not_null(conn, layer)]


def not_null_error(label: str, exc) -> RegistryFileError:
    """The database refused an empty value in a NOT NULL column: say which and how to lift it."""
    diag = getattr(exc, "diag", None)
    table, column = getattr(diag, "table_name", None) or "?", getattr(diag, "column_name", None) or "?"
    return RegistryFileError(
        f"{label} {table}: the database refuses an empty {column} (NOT NULL), though the layer definition allows "
        f"it empty: this registry was made by an earlier Rallypoint; the table's owner lifts the constraint with "
        f"{relax_sql(table, column)} (rallypoint validate lists every such column); nothing was written")
