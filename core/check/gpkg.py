"""Checking a whole registry file: GeoPackage conformance, layers, every feature, history.

:func:`check_file` reports every problem it finds (it does not stop at the first) as
:class:`~rallypoint.errors.Problem` records naming layer, feature and field. It reads
only; it never changes the file. Features are held to the position rules of :mod:`rallypoint.positions` too
(China's extent unless the registry is for foreign data, and the division boundaries it holds), so
``validate`` lists every feature lying outside its division, however it was written.
"""

from __future__ import annotations

import importlib.util
import json
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path
from typing import Callable, Iterable

from .. import geometry as geo
from ..errors import Problem
from ..frame_checks import check_frame
from ..plugins import default_plugin_manager, layer_catalog
from ..positions import CHINA, EXTENTS, sql_divisions
from ..registry import Registry
from ..schema import LayerDef, builtin_layers
from ..storage.base import HISTORY_TABLE, METADATA_URI, quote
from ..storage.gpkg import blobs as gpkg_blobs
from ..storage.gpkg.file import connect
from ..validation import check_feature

_SQL_TYPES = {
    "text": ("TEXT",), "uuid": ("TEXT",), "adcode": ("TEXT",), "phone": ("TEXT",), "codes": ("TEXT",),
    "integer": ("INTEGER", "MEDIUMINT", "INT", "BIGINT", "SMALLINT", "TINYINT"), "real": ("REAL", "DOUBLE", "FLOAT"),
    "boolean": ("BOOLEAN",), "date": ("DATE",), "datetime": ("DATETIME",),
}

Progress = Callable[[str, int, int], None]


def _file_problems(path: Path) -> list[Problem]:
    # Asked of SQLite, not read with open(): closing a descriptor of the file would drop the
    # POSIX locks of any connection this process has on it (see Registry.__init__).
    if path.stat().st_size == 0:
        return [Problem("file", str(path), None, "an empty file, not a GeoPackage")]
    conn = sqlite3.connect(f"file:{path.resolve().as_posix()}?mode=ro", uri=True)
    try:
        conn.execute("PRAGMA schema_version").fetchone()
    except sqlite3.DatabaseError:
        return [Problem("file", str(path), None, "not an SQLite database, so not a GeoPackage")]
    finally:
        conn.close()
    return []


def gdal_validator(path: Path) -> list[Problem]:
    """Run GDAL's own GeoPackage validator (``osgeo_utils.samples.validate_gpkg``) if it is installed."""
    if importlib.util.find_spec("osgeo_utils") is None:
        return []
    proc = subprocess.run([sys.executable, "-m", "osgeo_utils.samples.validate_gpkg", str(path)],
                          capture_output=True, text=True, timeout=600)
    if proc.returncode == 0 and not proc.stdout.strip():
        return []
    text = (proc.stdout + proc.stderr).strip().splitlines()
    msg = text[-1] if text else f"exit code {proc.returncode}"
    return [Problem("file", str(path), None, f"GDAL validate_gpkg: {msg}")]


def _layer_structure(conn: sqlite3.Connection, layer: LayerDef) -> list[Problem]:
    out: list[Problem] = []
    row = conn.execute("SELECT data_type, srs_id FROM gpkg_contents WHERE table_name = ?", (layer.name,)).fetchone()
    if row is None:
        return [Problem(layer.name, "(layer)", None, "missing from gpkg_contents")]
    want_type = "features" if layer.has_geometry else "attributes"
    if row[0] != want_type:
        out.append(Problem(layer.name, "(layer)", None, f"gpkg_contents data_type is {row[0]!r}, expected {want_type!r}"))
    if layer.has_geometry:
        g = conn.execute("SELECT column_name, geometry_type_name, srs_id FROM gpkg_geometry_columns WHERE table_name = ?",
                         (layer.name,)).fetchone()
        if g is None:
            out.append(Problem(layer.name, "(layer)", None, "not in gpkg_geometry_columns"))
        else:
            if g[1].upper() != layer.geometry.upper():
                out.append(Problem(layer.name, "(layer)", g[0], f"geometry type {g[1]}, expected {layer.geometry}"))
            if g[2] != geo.STORAGE_EPSG:
                out.append(Problem(layer.name, "(layer)", g[0], f"srs_id {g[2]}, expected {geo.STORAGE_EPSG}"))
    cols = {r[1]: (r[2] or "").upper() for r in conn.execute(f"PRAGMA table_info({quote(layer.name)})")}
    for f in layer.fields:
        if f.name not in cols:
            out.append(Problem(layer.name, "(layer)", f.name, "column missing"))
        elif cols[f.name].split("(")[0] not in _SQL_TYPES[f.type]:
            out.append(Problem(layer.name, "(layer)", f.name, f"declared type {cols[f.name]}, expected {_SQL_TYPES[f.type][0]}"))
    n_dc = conn.execute("SELECT count(*) FROM gpkg_data_columns WHERE table_name = ?", (layer.name,)).fetchone()[0]
    if n_dc < len(layer.fields):
        out.append(Problem(layer.name, "(layer)", None, f"gpkg_data_columns describes {n_dc} of {len(layer.fields)} fields"))
    if layer.has_geometry:
        styles = conn.execute("SELECT count(*) FROM layer_styles WHERE f_table_name = ? AND useAsDefault", (layer.name,)).fetchone()[0]
        if styles != 1:
            out.append(Problem(layer.name, "(layer)", None, f"{styles} default styles in layer_styles, expected 1"))
    return out


def _features(conn: sqlite3.Connection, layer: LayerDef, progress: Progress | None,
              rules: dict | None = None) -> list[Problem]:
    out: list[Problem] = []
    names = list(layer.field_names)
    cols = ["fid"] + (["geom"] if layer.has_geometry else []) + names
    total = conn.execute(f"SELECT count(*) FROM {quote(layer.name)}").fetchone()[0]
    history_versions: dict[str, int] = {}
    if layer.versioned:
        history_versions = dict(conn.execute(
            f"SELECT uuid, max(version) FROM {HISTORY_TABLE} WHERE layer = ? GROUP BY uuid", (layer.name,)))
    refs = {f.name: f.references for f in layer.fields if f.references}
    ref_ids = {
        target: {r[0] for r in conn.execute(f"SELECT uuid FROM {quote(target)} WHERE retired_at IS NULL")}
        for target in set(refs.values())
    }
    cur = conn.execute(f"SELECT {', '.join(quote(c) for c in cols)} FROM {quote(layer.name)}")
    for i, row in enumerate(cur, start=1):
        fid = row[0]
        values = dict(zip(names, row[2 if layer.has_geometry else 1:]))
        label = f"feature {values['uuid']}" if values.get("uuid") else f"fid {fid}"
        geom = None
        if layer.has_geometry:
            blob = row[1]
            try:
                if blob is not None:
                    srs, _, _ = gpkg_blobs.parse_header(blob)
                    if srs != geo.STORAGE_EPSG:
                        out.append(Problem(layer.name, label, "geom", f"blob srs_id {srs}, column is {geo.STORAGE_EPSG}"))
                geom = gpkg_blobs.decode(blob)
            except geo.GeometryBlobError as exc:
                out.append(Problem(layer.name, label, "geom", str(exc)))
                continue
        editable = {f.name: values[f.name] for f in layer.editable_fields}
        for f in layer.editable_fields:  # stored booleans are 0/1
            if f.type == "boolean" and editable[f.name] is not None:
                editable[f.name] = bool(editable[f.name])
        checked = check_feature(layer, editable, geom, **(rules or {}))
        for fld, msg in checked.problems:
            out.append(Problem(layer.name, label, fld, msg))
        retired = bool(values.get("retired_at"))
        for fld, target in refs.items():
            if values.get(fld) and not retired and values[fld] not in ref_ids[target]:
                out.append(Problem(layer.name, label, fld, f"refers to {target} {values[fld]}, which is not in use"))
        if layer.versioned:
            v = values.get("version")
            if not isinstance(v, int) or v < 1:
                out.append(Problem(layer.name, label, "version", f"version {v!r} is not a positive whole number"))
            elif history_versions.get(values["uuid"]) != v:
                out.append(Problem(layer.name, label, "version",
                                   f"version {v} but the history's last is {history_versions.get(values['uuid'])}"))
            for stamp in ("created_at", "created_by", "updated_at", "updated_by"):
                if not values.get(stamp):
                    out.append(Problem(layer.name, label, stamp, "missing"))
        if progress and i % 5000 == 0:
            progress(layer.name, i, total)
    if progress:
        progress(layer.name, total, total)
    if layer.has_geometry:
        n_geom = conn.execute(f"SELECT count(*) FROM {quote(layer.name)} WHERE geom IS NOT NULL").fetchone()[0]
        n_idx = conn.execute(f"SELECT count(*) FROM {quote('rtree_' + layer.name + '_geom')}").fetchone()[0]
        if n_geom != n_idx:
            out.append(Problem(layer.name, "(layer)", "geom", f"spatial index holds {n_idx} entries for {n_geom} geometries"))
    return out


def _reference_layer(conn: sqlite3.Connection, path: Path, layer: LayerDef, progress: Progress | None) -> list[Problem]:
    """Base layers are checked column-wise, as they are loaded (see :mod:`rallypoint.frame_checks`)."""
    total = conn.execute(f"SELECT count(*) FROM {quote(layer.name)}").fetchone()[0]
    if progress:
        progress(layer.name, 0, total)
    out: list[Problem] = []
    blobs = [r[0] for r in conn.execute(f"SELECT geom FROM {quote(layer.name)} ORDER BY fid")]
    bad_blobs = 0
    for i, blob in enumerate(blobs):
        try:
            srs, _, _ = gpkg_blobs.parse_header(blob) if blob is not None else (geo.STORAGE_EPSG, False, 0)
        except geo.GeometryBlobError as exc:
            bad_blobs += 1
            if bad_blobs <= 5:
                out.append(Problem(layer.name, f"row {i}", "geom", str(exc)))
            continue
        if srs != geo.STORAGE_EPSG and bad_blobs < 5:
            bad_blobs += 1
            out.append(Problem(layer.name, f"row {i}", "geom", f"blob srs_id {srs}, column is {geo.STORAGE_EPSG}"))
    del blobs
    if bad_blobs:
        return out
    # Read with Python's own SQLite (Registry.read_frame), never with GDAL's copy in this process.
    with Registry(path, readonly=True) as reg:
        gdf = reg.read_frame(layer.name)
    _, _, found = check_frame(layer, gdf)
    out.extend(found)
    n_idx = conn.execute(f"SELECT count(*) FROM {quote('rtree_' + layer.name + '_geom')}").fetchone()[0]
    n_geom = conn.execute(f"SELECT count(*) FROM {quote(layer.name)} WHERE geom IS NOT NULL").fetchone()[0]
    if n_geom != n_idx:
        out.append(Problem(layer.name, "(layer)", "geom", f"spatial index holds {n_idx} entries for {n_geom} geometries"))
    if progress:
        progress(layer.name, total, total)
    return out


def check_file(path: str | Path, *, progress: Progress | None = None, gdal: bool = True,
               layers: Iterable[LayerDef] | None = None, features: bool = True,
               history: bool = True, integrity: bool = True) -> list[Problem]:
    """Every problem in the registry file at ``path`` (an empty list when it is sound); see
    :func:`rallypoint.check.check_registry` for the options."""
    path = Path(path)
    if not path.is_file():
        return [Problem("file", str(path), None, "no such file")]
    problems = _file_problems(path)
    if problems:
        return problems
    try:
        with closing(connect(path, readonly=True)) as conn:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            user_version = conn.execute("PRAGMA user_version").fetchone()[0]
            if app_id != 0x47504B47:
                problems.append(Problem("file", str(path), None, f"application_id is {app_id:#x}, not 'GPKG'"))
            if not 10200 <= user_version <= 10400:
                problems.append(Problem("file", str(path), None, f"user_version {user_version} is not GeoPackage 1.2–1.4"))
            found = [r[0] for r in conn.execute("PRAGMA integrity_check")] if integrity else ["ok"]
            if found != ["ok"]:
                problems.append(Problem("file", str(path), None, "SQLite integrity check: " + "; ".join(found[:5])))
                return problems
            meta = conn.execute("SELECT metadata FROM gpkg_metadata WHERE md_standard_uri = ?", (METADATA_URI,)).fetchone() \
                if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'gpkg_metadata'").fetchone() else None
            extent = CHINA
            if meta is None:
                problems.append(Problem("file", str(path), None, "no Rallypoint registry metadata in gpkg_metadata"))
            else:
                try:
                    info = json.loads(meta[0])
                    extent = EXTENTS.get(info.get("extent", "china"), CHINA)
                    for key in ("name", "bureau", "schema_version"):
                        if not info.get(key):
                            problems.append(Problem("file", str(path), None, f"registry metadata lacks {key!r}"))
                except ValueError:
                    problems.append(Problem("file", str(path), None, "registry metadata is not JSON"))
            if layers is None:
                present = {r[0] for r in conn.execute("SELECT table_name FROM gpkg_contents")}
                builtin = builtin_layers()
                # a plugin's layer type this registry was made without is not missing
                layers = [d for d in layer_catalog(default_plugin_manager()).values()
                          if d.name in builtin or d.name in present]
            has_areas = conn.execute("SELECT 1 FROM gpkg_contents WHERE table_name = 'admin_areas'").fetchone()
            divisions = sql_divisions(conn.execute, "geom", gpkg_blobs.decode, bool(has_areas))
            rules = {"extent": extent, "divisions": divisions}
            for layer in layers:
                structure = _layer_structure(conn, layer)
                problems.extend(structure)
                if structure or not features:
                    continue
                if layer.versioned:
                    found = _features(conn, layer, progress, rules)
                    if not history:
                        found = [p for p in found if not (p.field == "version" and "history" in p.message)]
                    problems.extend(found)
                else:
                    problems.extend(_reference_layer(conn, path, layer, progress))
    except sqlite3.DatabaseError as exc:
        problems.append(Problem("file", str(path), None, f"cannot be read: {exc}"))
        return problems
    if gdal:
        problems.extend(gdal_validator(path))
    return problems
