"""``rallypoint validate``: every problem in a registry, by layer, feature and field (reads only).

The dispatch is here; below it, one module per backend, imports one way:

* :mod:`.gpkg` — a registry file: GeoPackage conformance (SQLite's integrity check, the
  GeoPackage tables, GDAL's ``validate_gpkg``), each layer's structure, every feature, the history;
* :mod:`.postgis` — a PostGIS registry: the database's structure (its store asks the catalogues),
  then the data on a GeoPackage snapshot, checked by :mod:`.gpkg` under the same rules.
"""

from __future__ import annotations

import os
from typing import Iterable

from ..errors import Problem
from ..schema import LayerDef
from ..storage import backend_for
from .gpkg import Progress, check_file, gdal_validator
from .postgis import check_postgis_registry

__all__ = ["Progress", "check_file", "check_postgis_registry", "check_registry", "gdal_validator"]


def check_registry(location: str | os.PathLike, *, progress: Progress | None = None, gdal: bool = True,
                   layers: Iterable[LayerDef] | None = None, features: bool = True,
                   history: bool = True, integrity: bool = True) -> list[Problem]:
    """Every problem in the registry at ``location`` (an empty list when it is sound).

    ``layers``: the definitions to check against (default: every built-in layer, which must
    be there, and plugin layers that are); an export passes the ones it was written with.
    ``features=False`` checks the structure only; ``history=False`` skips the check that each
    feature's version is its history's last (for files written without their history);
    ``integrity=False`` leaves SQLite's whole-file ``integrity_check`` to a caller that runs it otherwise
    (an export's in-process GDAL validator runs the same PRAGMA).
    A ``postgresql://`` URL is checked by :func:`.postgis.check_postgis_registry` (tables,
    triggers, then every feature); the file-only options do not apply to it.
    """
    if not backend_for(location).is_file:
        return check_postgis_registry(str(location), progress=progress)
    return check_file(location, progress=progress, gdal=gdal, layers=layers, features=features, history=history,
                      integrity=integrity)
