"""Checking a PostGIS registry (``rallypoint validate postgresql://…``): its tables, and every feature.

The database's structure is checked by its store (each layer's table and columns, ``geometry(…, 4490)``
with a GiST index, the stamping and history triggers, the append-only history); the data (every
feature against its definition, each feature's version against its history) is checked by
:func:`~rallypoint.check.gpkg.check_file` on a consistent GeoPackage snapshot of the database
(:meth:`rallypoint.registry.Registry.snapshot`), so both backends are held to the same rules. Reads only.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from ..errors import Problem, RegistryFileError
from ..plugins import default_plugin_manager, layer_catalog
from ..registry import Registry
from ..schema import builtin_layers
from .gpkg import Progress, check_file


def check_postgis_registry(url: str, *, progress: Progress | None = None) -> list[Problem]:
    """Every problem in the PostGIS registry at ``url`` (an empty list when it is sound)."""
    try:
        reg = Registry.open(url, readonly=True)
    except RegistryFileError as exc:
        return [Problem("database", url.split("@")[-1], None, str(exc))]
    with tempfile.TemporaryDirectory() as tmp:
        snap = Path(tmp) / "snapshot.gpkg"
        with reg:
            present = reg.store.tables()
            layers = [d for d in layer_catalog(default_plugin_manager()).values()
                      if d.name in builtin_layers() or d.name in present]
            problems = reg.store.structure_problems(layers)
            if problems:
                return problems
            reg.snapshot(snap)
        return check_file(snap, progress=progress, gdal=False, layers=layers)
