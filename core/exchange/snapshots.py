"""Registries as files for the code that reads GeoPackages (``diff``, ``merge``): a database becomes a snapshot.

A GeoPackage registry stays itself; a PostGIS registry is copied as of one moment into a temporary
registry file (:meth:`rallypoint.registry.Registry.snapshot`), removed afterwards.
"""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..registry import Registry
from ..storage import backend_for


@contextmanager
def as_files(*locations: str | Path | None) -> Iterator[list[str | Path | None]]:
    """The locations as registry files: a PostGIS URL becomes a snapshot of its resource layers in a
    temporary folder (diff and merge compare the resource layers), a file stays itself."""
    with tempfile.TemporaryDirectory(prefix="rallypoint-snapshot-") as tmp:
        out: list[str | Path | None] = []
        for i, loc in enumerate(locations):
            if loc is None or backend_for(loc).is_file:
                out.append(loc)
                continue
            snap = Path(tmp) / f"{i}.gpkg"
            with Registry.open(str(loc), readonly=True) as reg:
                reg.snapshot(snap, reference=())
            out.append(snap)
        yield out
