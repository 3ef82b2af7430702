"""Checking an export before it is handed over: GDAL's validator, and the registry's own checks.

An export is a registry file of its own (it opens with :class:`~rallypoint.Registry`),
but holds only some layers and, unless asked, none of the personal-data fields, so
:func:`rallypoint.check.check_registry` (which expects every built-in layer with every
field) would report those omissions as faults. This module runs the same per-layer
checks of :mod:`rallypoint.check` against the layer definitions the export was written
with (personal fields left out), plus GDAL's ``validate_gpkg``.

GDAL's validator runs in this process, not in a Python of its own (the export's file is this process's
alone until it is moved into place, so its opening and closing the file disturbs no other connection), and
every requirement it checks is still checked; two of its parts are done cheaper, with the same outcome:

* its scan of every geometry blob of a layer, a Python loop with an OGR geometry per row (three quarters of
  its time on 140,000 points), is replaced by :func:`_geometry_problems`: the same requirements (19: the
  ``GP`` header, version, flags, envelope, WKB type and dimensions, a WKB that parses; 33: the SRS id; 152:
  the empty flag; 32: the layer's geometry type) checked a column at a time with numpy and shapely's
  vectorised WKB reader (GEOS, which is stricter than OGR's: it refuses an unclosed ring OGR would read).
  Should a GDAL change the text of that scan's query, it is not recognised and GDAL's own scan runs;
* its ``PRAGMA integrity_check`` is SQLite's whole-file check, which the registry's checks ran too: it runs
  once, in GDAL's validator.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any, Iterable

from ..check import check_registry, gdal_validator
from ..errors import Problem
from ..schema import LayerDef

_SIMPLE = ("POINT", "LINESTRING", "POLYGON", "MULTIPOINT", "MULTILINESTRING", "MULTIPOLYGON")


def check_export(path: str | Path, layers: Iterable[LayerDef], *, gdal: bool = True, features: bool = False,
                 history: bool = True) -> list[Problem]:
    """Every problem in the export at ``path``, checked against the definitions it was written with.

    Always: SQLite integrity, GeoPackage identity, every layer's structure (table, columns and
    types, ``gpkg_contents``, geometry column, aliases, default style) and GDAL's validator.
    ``features``: every feature too, as ``rallypoint validate`` does; without the history in
    the export (``history=False``) the check that a feature's version is its history's last
    does not apply and is left out.
    """
    in_process = gdal and importlib.util.find_spec("osgeo_utils") is not None
    problems = check_registry(path, gdal=gdal and not in_process, layers=list(layers), features=features,
                              history=history, integrity=not in_process)
    if in_process and not any(p.layer == "file" and "cannot be read" in p.message for p in problems):
        problems += gdal_checks(Path(path))
    return problems


def gdal_checks(path: Path) -> list[Problem]:
    """GDAL's ``validate_gpkg`` of ``path``, in this process (see the module's description); its warnings count
    as problems, as they do when it runs on its own (:func:`rallypoint.check.gdal_validator`)."""
    from osgeo_utils.samples import validate_gpkg

    class Checker(validate_gpkg.GPKGChecker):
        def _check_vector_user_table(self, c, table_name):
            scan = _ScanInstead(c, table_name, validate_gpkg._esc_id)
            super()._check_vector_user_table(scan, table_name)
            if scan.skipped:
                found = _geometry_problems(c, table_name, *scan.skipped, self.BASE_GEOM_TYPES + self.EXT_GEOM_TYPES)
                if found:
                    self._assert(False, *found)

    checker = Checker(str(path), abort_at_first_error=True, warning_msg=False)
    try:
        checker.check()
    except validate_gpkg.GPKGCheckException as exc:
        return [Problem("file", str(path), None, f"GDAL validate_gpkg: {exc}")]
    except Exception:  # the validator failing in a way of its own: run it as GDAL ships it, in a Python of its own
        return gdal_validator(path)
    return [Problem("file", str(path), None, f"GDAL validate_gpkg: {w}") for w in checker.warnings]


class _ScanInstead:
    """A cursor that runs every statement of GDAL's check of a layer but its scan of every geometry blob
    (``SELECT <pk>, <geom> FROM <table> ``), which it answers with no rows and records for
    :func:`_geometry_problems`; only for the simple geometry types that function knows."""

    def __init__(self, cursor: Any, table: str, esc_id):
        self._c = cursor
        self._scan = re.compile(r"SELECT (\S+), (\S+) FROM " + re.escape(esc_id(table)) + " $")
        self._table = table
        self.skipped: tuple | None = None

    def execute(self, sql: str, *args: Any):
        m = self._scan.match(sql) if isinstance(sql, str) else None
        if m and self.skipped is None:
            row = self._c.execute("SELECT column_name, z, m, geometry_type_name, srs_id FROM gpkg_geometry_columns "
                                  "WHERE table_name = ?", (self._table,)).fetchone()
            if row and row[3].upper() in _SIMPLE + ("GEOMETRY",) and m.group(1) != "-1":
                self.skipped = (m.group(1), m.group(2), row[1], row[2], row[3].upper(), row[4])
                return self._c.execute(sql + "LIMIT 0", *args)
        return self._c.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._c, name)


def _geometry_problems(c: Any, table: str, pk: str, geom: str, z: int, m: int, type_name: str, srs_id: int,
                       wkb_types: tuple[str, ...]) -> tuple[int, str] | None:
    """GDAL's per-blob requirements for a layer's every geometry, a column at a time: the first failing one as
    ``(requirement, message)`` (GDAL's numbers and words), or None."""
    import numpy as np
    import shapely

    rows = c.execute(f"SELECT {pk}, {geom} FROM {_esc(table)} WHERE {geom} IS NOT NULL ORDER BY {pk}").fetchall()
    if not rows:
        return None
    fids = np.array([r[0] for r in rows], dtype=np.int64)
    blobs = [bytes(r[1]) if not isinstance(r[1], bytes) else r[1] for r in rows]
    lens = np.fromiter(map(len, blobs), dtype=np.int64, count=len(blobs))

    def first(bad: np.ndarray, req: int, msg: str) -> tuple[int, str] | None:
        if bad.any():
            return req, f"{msg} (fid {int(fids[np.argmax(bad)])} of table {table})"
        return None

    if (found := first(lens < 8, 19, "Invalid geometry")):
        return found
    head = np.frombuffer(b"".join(b[:8] for b in blobs), dtype=np.uint8).reshape(-1, 8)
    flags = head[:, 3]
    for bad, msg in (((head[:, 0] != ord("G")) | (head[:, 1] != ord("P")) | (head[:, 2] != 0), "Invalid geometry"),
                     ((flags >> 5) & 1 == 1, "Invalid geometry: ExtendedGeoPackageBinary not allowed"),
                     ((flags >> 1) & 7 > 4, "Invalid geometry: invalid envelope indicator code")):
        if (found := first(bad, 19, msg)):
            return found
    big = (flags & 1) == 0
    srs = np.where(big, head[:, 4:8].copy().view(">i4")[:, 0], head[:, 4:8].copy().view("<i4")[:, 0])
    if (srs != srs_id).any():
        got = int(srs[np.argmax(srs != srs_id)])
        return 33, f"table {table} has geometries with SRID {got}, whereas only {srs_id} is expected"
    empty = (flags >> 3) & 1 == 1
    env = (flags >> 1) & 7
    if (found := first(empty & (env != 0), 152, "Invalid empty geometry")):
        return found
    header = 8 + np.array([0, 2, 3, 3, 4], dtype=np.int64)[np.minimum(env, 4)] * 16
    if (found := first(lens < header + 5, 19, "Invalid geometry")):
        return found
    wkb = [b[h:] for b, h in zip(blobs, header.tolist())]
    typ = np.frombuffer(b"".join(w[:5] for w in wkb), dtype=np.uint8).reshape(-1, 5)
    wtype = np.where(typ[:, 0] == 0, typ[:, 1:5].copy().view(">u4")[:, 0], typ[:, 1:5].copy().view("<u4")[:, 0])
    base, dim = wtype % 1000, wtype // 1000
    if (found := first(base >= len(wkb_types), 19, "Invalid WKB geometry type")):
        return found
    for bad, msg in ((dim > 3, "Invalid WKB geometry type"),
                     ((z == 1) & ~np.isin(dim, (1, 3)), "geometry without Z found"),
                     ((m == 1) & ~np.isin(dim, (2, 3)), "geometry without M found"),
                     (np.isin(dim, (1, 3)) & (z <= 0), "z found in geometry, but not in gpkg_geometry_columns"),
                     (np.isin(dim, (2, 3)) & (m <= 0), "m found in geometry, but not in gpkg_geometry_columns")):
        if (found := first(bad, 19, msg)):
            return found
    shapes = shapely.from_wkb(np.array(wkb, dtype=object), on_invalid="ignore")
    if (found := first(shapely.is_missing(shapes), 19, "Invalid geometry")):
        return found
    if (found := first(shapely.is_empty(shapes) != empty, 152, "Inconsistent empty_flag vs geometry content")):
        return found
    if type_name in _SIMPLE:
        seen = {wkb_types[int(t)] for t in np.unique(base)}
        if seen != {type_name}:
            return 32, f"in table {table}, found geometry types {seen} whereas {type_name} was expected"
    return None


def _esc(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
