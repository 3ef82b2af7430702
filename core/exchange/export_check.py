"""Checking an export before it is handed over: GDAL's validator, and the registry's own checks.

An export is a registry file of its own (it opens with :class:`~rallypoint.Registry`),
but holds only some layers and, unless asked, none of the personal-data fields, so
:func:`rallypoint.check.check_registry` (which expects every built-in layer with every
field) would report those omissions as faults. This module runs the same per-layer
checks of :mod:`rallypoint.check` against the layer definitions the export was written
with (personal fields left out), plus GDAL's ``validate_gpkg`` in a subprocess.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from ..check import check_registry
from ..errors import Problem
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
    return check_registry(path, gdal=gdal, layers=list(layers), features=features, history=history)
