"""Checking an export before it is handed over: GDAL's validator, and the registry's own checks.

An export is a registry file of its own (it opens with :class:`~rallypoint.Registry`),
but holds only some layers and, unless asked, none of the personal-data fields, so
:func:`rallypoint.check.check_registry` (which expects every built-in layer with every
field) would report those omissions as faults. This module runs the same per-layer
checks of :mod:`rallypoint.check` against the layer definitions the export was written
with (personal fields left out), plus GDAL's ``validate_gpkg`` in a subprocess.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Iterable

from ..check import _features, _layer_structure, _reference_layer, gdal_validator  # the same checks, per layer
from ..errors import Problem
from ..gpkgfile import GPKG_APPLICATION_ID, connect
from ..schema import LayerDef


def check_export(path: str | Path, layers: Iterable[LayerDef], *, gdal: bool = True, features: bool = False,
                 history: bool = True) -> list[Problem]:
    """Every problem in the export at ``path``, checked against the definitions it was written with.

    Always: SQLite integrity, GeoPackage identity, every layer's structure (table, columns and
    types, ``gpkg_contents``, geometry column, aliases, default style) and GDAL's validator.
    ``features``: every feature too, as ``rallypoint validate`` does; without the history in
    the export (``history=False``) the check that a feature's version is its history's last
    does not apply and is left out.
    """
    path = Path(path)
    problems: list[Problem] = []
    with closing(connect(path, readonly=True)) as conn:
        try:
            if conn.execute("PRAGMA application_id").fetchone()[0] != GPKG_APPLICATION_ID:
                problems.append(Problem("file", str(path), None, "application_id is not 'GPKG'"))
            if not 10200 <= conn.execute("PRAGMA user_version").fetchone()[0] <= 10400:
                problems.append(Problem("file", str(path), None, "user_version is not GeoPackage 1.2–1.4"))
            integrity = [r[0] for r in conn.execute("PRAGMA integrity_check")]
            if integrity != ["ok"]:
                return problems + [Problem("file", str(path), None, "SQLite integrity: " + "; ".join(integrity[:5]))]
            for layer in layers:
                structure = _layer_structure(conn, layer)
                problems.extend(structure)
                if structure:
                    continue
                if not features:
                    continue
                if layer.versioned:
                    found = _features(conn, layer, None)
                    if not history:
                        found = [p for p in found if not (p.field == "version" and "history" in p.message)]
                    problems.extend(found)
                else:
                    problems.extend(_reference_layer(conn, path, layer, None))
        except sqlite3.DatabaseError as exc:
            problems.append(Problem("file", str(path), None, f"cannot be read: {exc}"))
            return problems
    if gdal:
        problems.extend(gdal_validator(path))
    return problems
