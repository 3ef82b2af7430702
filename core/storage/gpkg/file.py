"""The registry file: a GeoPackage with Rallypoint's layers, history, metadata and styles.

Layer tables are created by GDAL (through the geometry engine: fiona, or QGIS's own GDAL) so their DDL, R-tree index and triggers
are exactly what GDAL and QGIS expect; the GeoPackage tables GDAL does not write for us
(``gpkg_data_columns`` and its constraints, ``gpkg_metadata``, QGIS's ``layer_styles``)
are written here with the DDL of the GeoPackage 1.2 specification.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from contextlib import closing
from pathlib import Path
from typing import Iterable

from ...errors import RegistryFileError
from ...geometry import STORAGE_EPSG
from ...geometry_engine import TableSpec, engine
from ...schema import LayerDef
from ...styles import render_qml, render_sld
from ..base import HISTORY_TABLE, METADATA_URI, RegistryInfo, quote
from .blobs import register_functions

BUSY_TIMEOUT_MS = 30_000
GPKG_APPLICATION_ID = 0x47504B47  # 'GPKG'

_SCHEMA_EXT = "http://www.geopackage.org/spec120/#extension_schema"
_METADATA_EXT = "http://www.geopackage.org/spec120/#extension_metadata"

HISTORY_COLUMNS = (("layer", "str:64"), ("uuid", "str:36"), ("version", "int64"), ("op", "str:16"),
                   ("author", "str:100"), ("at", "datetime"), ("before", "str"), ("after", "str"), ("note", "str"))

LAYER_STYLES_COLUMNS = (
    ("f_table_catalog", "str:256"), ("f_table_schema", "str:256"), ("f_table_name", "str:256"),
    ("f_geometry_column", "str:256"), ("styleName", "str:30"), ("styleQML", "str"), ("styleSLD", "str"),
    ("useAsDefault", "bool"), ("description", "str"), ("owner", "str:30"), ("ui", "str:30"),
    ("update_time", "datetime"))


def connect(path: str | os.PathLike, *, readonly: bool = False) -> sqlite3.Connection:
    """Open a connection with the spatial functions, a busy timeout and FULL sync.

    ``isolation_level=None``: transactions are begun explicitly (``BEGIN IMMEDIATE``) so
    a batch takes the write lock at its start, not half-way through.
    """
    p = Path(path)
    if readonly:
        uri = f"file:{p.resolve().as_posix()}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    else:
        conn = sqlite3.connect(str(p), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    register_functions(conn)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    if not readonly:
        # FULL: a committed transaction survives a power cut, not only a killed process.
        conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("PRAGMA cache_size = -131072")  # 128 MiB: bulk loads and R-tree updates stay in memory
    return conn


def table_specs(layers: Iterable[LayerDef]) -> list[TableSpec]:
    """The tables GDAL creates for a new registry: the layers, the history and QGIS's ``layer_styles``."""
    specs = [TableSpec(layer.name, layer.geometry, tuple((f.name, f.fiona_type) for f in layer.fields),
                       layer.title_zh, f"{layer.description_zh} / {layer.description_en}") for layer in layers]
    specs.append(TableSpec(HISTORY_TABLE, "None", HISTORY_COLUMNS, "变更历史",
                           "Rallypoint change history (append-only) / 变更历史"))
    specs.append(TableSpec("layer_styles", "None", LAYER_STYLES_COLUMNS, "layer_styles", "QGIS layer styles",
                           fid="id"))
    return specs


def _create_tables(path: str, layers: Iterable[LayerDef]) -> None:
    # GDAL through the geometry engine: fiona's on the command line and the server, QGIS's own inside QGIS
    # (a process that only opens registries never loads a GDAL for it).
    engine().create_tables(path, table_specs(layers), STORAGE_EPSG)


_DDL = f"""
CREATE TABLE IF NOT EXISTS gpkg_data_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, name TEXT, title TEXT, description TEXT,
  mime_type TEXT, constraint_name TEXT,
  CONSTRAINT pk_gdc PRIMARY KEY (table_name, column_name),
  CONSTRAINT gdc_tn UNIQUE (table_name, name));
CREATE TABLE IF NOT EXISTS gpkg_data_column_constraints (
  constraint_name TEXT NOT NULL, constraint_type TEXT NOT NULL, value TEXT,
  min NUMERIC, min_is_inclusive BOOLEAN, max NUMERIC, max_is_inclusive BOOLEAN, description TEXT,
  CONSTRAINT gdcc_ntv UNIQUE (constraint_name, constraint_type, value));
CREATE TABLE IF NOT EXISTS gpkg_metadata (
  id INTEGER CONSTRAINT m_pk PRIMARY KEY ASC NOT NULL, md_scope TEXT NOT NULL DEFAULT 'dataset',
  md_standard_uri TEXT NOT NULL, mime_type TEXT NOT NULL DEFAULT 'text/xml', metadata TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS gpkg_metadata_reference (
  reference_scope TEXT NOT NULL, table_name TEXT, column_name TEXT, row_id_value INTEGER,
  timestamp DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')), md_file_id INTEGER NOT NULL,
  md_parent_id INTEGER,
  CONSTRAINT crmr_mfi_fk FOREIGN KEY (md_file_id) REFERENCES gpkg_metadata(id),
  CONSTRAINT crmr_mpi_fk FOREIGN KEY (md_parent_id) REFERENCES gpkg_metadata(id));
INSERT OR IGNORE INTO gpkg_extensions VALUES ('gpkg_data_columns', NULL, 'gpkg_schema', '{_SCHEMA_EXT}', 'read-write');
INSERT OR IGNORE INTO gpkg_extensions VALUES ('gpkg_data_column_constraints', NULL, 'gpkg_schema', '{_SCHEMA_EXT}', 'read-write');
INSERT OR IGNORE INTO gpkg_extensions VALUES ('gpkg_metadata', NULL, 'gpkg_metadata', '{_METADATA_EXT}', 'read-write');
INSERT OR IGNORE INTO gpkg_extensions VALUES ('gpkg_metadata_reference', NULL, 'gpkg_metadata', '{_METADATA_EXT}', 'read-write');
"""


def _write_data_columns(conn: sqlite3.Connection, layers: Iterable[LayerDef]) -> None:
    for layer in layers:
        for f in layer.fields:
            constraint = None
            if f.values:
                constraint = f"{layer.name}_{f.name}_values"
                for v in f.values:
                    conn.execute(
                        "INSERT INTO gpkg_data_column_constraints (constraint_name, constraint_type, value, description)"
                        " VALUES (?, 'enum', ?, ?)", (constraint, v.code, f"{v.zh} / {v.en}"))
            elif f.min is not None and f.max is not None:
                constraint = f"{layer.name}_{f.name}_range"
                conn.execute(
                    "INSERT INTO gpkg_data_column_constraints (constraint_name, constraint_type, value, min,"
                    " min_is_inclusive, max, max_is_inclusive, description) VALUES (?, 'range', NULL, ?, 1, ?, 1, ?)",
                    (constraint, f.min, f.max, f.unit or ""))
            desc = f"{f.description_zh} / {f.description_en}"
            if f.unit:
                desc += f" [{f.unit}]"
            if f.personal:
                desc += " [个人信息 personal data]"
            conn.execute(
                "INSERT INTO gpkg_data_columns (table_name, column_name, name, title, description, constraint_name)"
                " VALUES (?, ?, ?, ?, ?, ?)", (layer.name, f.name, f.alias_en, f.alias_zh, desc, constraint))


def _write_layer_indexes(conn: sqlite3.Connection, layers: Iterable[LayerDef]) -> None:
    for layer in layers:
        t = quote(layer.name)
        if layer.versioned:
            conn.execute(f"CREATE UNIQUE INDEX {quote('idx_' + layer.name + '_uuid')} ON {t} (uuid)")
        if layer.has_field("adcode"):
            conn.execute(f"CREATE INDEX {quote('idx_' + layer.name + '_adcode')} ON {t} (adcode)")
        if layer.parent_field:
            conn.execute(f"CREATE INDEX {quote('idx_' + layer.name + '_parent')} ON {t} ({quote(layer.parent_field)})")


def _write_indexes(conn: sqlite3.Connection, layers: Iterable[LayerDef]) -> None:
    _write_layer_indexes(conn, layers)
    h = quote(HISTORY_TABLE)
    conn.execute(f"CREATE UNIQUE INDEX idx_rp_history_feature ON {h} (layer, uuid, version)")
    conn.execute(f"CREATE INDEX idx_rp_history_at ON {h} (at)")
    # The history is append-only: no accepted change may be rewritten or dropped.
    conn.execute(f"CREATE TRIGGER rp_history_no_update BEFORE UPDATE ON {h} "
                 "BEGIN SELECT RAISE(ABORT, 'rp_history is append-only'); END")
    conn.execute(f"CREATE TRIGGER rp_history_no_delete BEFORE DELETE ON {h} "
                 "BEGIN SELECT RAISE(ABORT, 'rp_history is append-only'); END")


def write_styles(conn: sqlite3.Connection, layers: Iterable[LayerDef], default_lang: str, now: str) -> None:
    """(Re)write the default QGIS style of each layer, and a second one in the other language."""
    for layer in layers:
        conn.execute("DELETE FROM layer_styles WHERE f_table_name = ? AND styleName LIKE 'rallypoint%'", (layer.name,))
        for lang in (default_lang, "en" if default_lang == "zh" else "zh"):
            conn.execute(
                "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, styleName,"
                " styleQML, styleSLD, useAsDefault, description, owner, ui, update_time)"
                " VALUES ('', '', ?, ?, ?, ?, ?, ?, ?, 'rallypoint', '', ?)",
                (layer.name, "geom" if layer.has_geometry else "", f"rallypoint-{lang}", render_qml(layer, lang),
                 render_sld(layer), 1 if lang == default_lang else 0,
                 f"Rallypoint default style ({'中文' if lang == 'zh' else 'English'})", now))


def write_info(conn: sqlite3.Connection, info: RegistryInfo) -> None:
    row = conn.execute("SELECT id FROM gpkg_metadata WHERE md_standard_uri = ?", (METADATA_URI,)).fetchone()
    if row:
        conn.execute("UPDATE gpkg_metadata SET metadata = ? WHERE id = ?", (info.to_json(), row[0]))
        return
    cur = conn.execute(
        "INSERT INTO gpkg_metadata (md_scope, md_standard_uri, mime_type, metadata) VALUES ('dataset', ?, "
        "'application/json', ?)", (METADATA_URI, info.to_json()))
    conn.execute(
        "INSERT INTO gpkg_metadata_reference (reference_scope, table_name, column_name, row_id_value, timestamp,"
        " md_file_id) VALUES ('geopackage', NULL, NULL, NULL, ?, ?)", (info.created_at, cur.lastrowid))


def read_info(conn: sqlite3.Connection) -> RegistryInfo:
    try:
        row = conn.execute("SELECT metadata FROM gpkg_metadata WHERE md_standard_uri = ?", (METADATA_URI,)).fetchone()
    except sqlite3.DatabaseError as exc:
        raise RegistryFileError(f"not a Rallypoint registry (no registry metadata): {exc}") from exc
    if not row:
        raise RegistryFileError("not a Rallypoint registry: gpkg_metadata holds no registry record")
    data = json.loads(row[0])
    return RegistryInfo(**data)


def fill_rtree(conn: sqlite3.Connection, rtree: str, rows: list[tuple[int, float, float, float, float]]) -> None:
    """Add entries ``(id, minx, maxx, miny, maxy)`` to the GeoPackage R-tree ``rtree`` of the connection's main
    database: in one pass when it is empty (:mod:`.rtree`, as GDAL builds a new layer's), else through the module."""
    if rows:
        import numpy as np  # not at the top: the QGIS plugin loads this module

        from .rtree import fill_empty

        a = np.asarray(rows, dtype=np.float64)
        if fill_empty(conn, rtree, a[:, 0].astype(np.int64), a[:, 1], a[:, 2], a[:, 3], a[:, 4]):
            return
        conn.executemany(f"INSERT INTO main.{quote(rtree)} VALUES (?, ?, ?, ?, ?)", rows)


def create_file(path: str | os.PathLike, layers: list[LayerDef], info: RegistryInfo, *, overwrite: bool = False) -> None:
    """Create the registry file at ``path``, atomically: it appears complete or not at all."""
    target = Path(path)
    if target.exists() and not overwrite:
        raise RegistryFileError(f"{target} already exists (use overwrite to replace it)")
    if not target.parent.is_dir():
        raise RegistryFileError(f"folder {target.parent} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp.gpkg", dir=target.parent)
    os.close(fd)
    os.unlink(tmp)
    try:
        _create_tables(tmp, layers)
        with closing(connect(tmp)) as conn:
            conn.execute("BEGIN")
            for stmt in _DDL.strip().split(";\n"):
                if stmt.strip():
                    conn.execute(stmt)
            _write_data_columns(conn, layers)
            _write_indexes(conn, layers)
            write_styles(conn, layers, info.language, info.created_at)
            write_info(conn, info)
            conn.execute("COMMIT")
            conn.execute("PRAGMA journal_mode = WAL")
        for suffix in ("-wal", "-shm"):
            Path(str(target) + suffix).unlink(missing_ok=True)
        os.replace(tmp, target)
    except BaseException:
        for p in (tmp, tmp + "-wal", tmp + "-shm", tmp + "-journal"):
            Path(p).unlink(missing_ok=True)
        raise


_SQL_OF_FIONA = {"int64": "INTEGER", "float": "REAL", "bool": "BOOLEAN", "date": "DATE", "datetime": "DATETIME"}


def add_attribute_layers(conn: sqlite3.Connection, layers: Iterable[LayerDef], language: str, now: str) -> None:
    """Add layers without geometry (a plugin's related tables) to an existing registry, inside the
    caller's transaction, as GDAL would have created them with the file: the table (the DDL GDAL
    writes), ``gpkg_contents``, GDAL's feature count, aliases and constraints, indexes and styles.

    Plain SQL on the registry's own connection, not GDAL: GDAL's SQLite in the same process as a
    live registry connection would delete its WAL. Layers with geometry need GDAL's R-tree set-up
    and are only made with a new registry.
    """
    layers = list(layers)
    for layer in layers:
        if layer.has_geometry:
            raise RegistryFileError(f"layer {layer.name} has geometry: it can only be created with a new registry")
        cols = []
        for f in layer.fields:
            ft = f.fiona_type
            sql = _SQL_OF_FIONA.get(ft) or ("TEXT(" + ft.split(":", 1)[1] + ")" if ":" in ft else "TEXT")
            cols.append(f"{quote(f.name)} {sql}")
        t = quote(layer.name)
        conn.execute(f"CREATE TABLE {t} ( \"fid\" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, {', '.join(cols)})")
        conn.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, description, last_change)"
                     " VALUES (?, 'attributes', ?, ?, ?)",
                     (layer.name, layer.title_zh, f"{layer.description_zh} / {layer.description_en}", now))
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'gpkg_ogr_contents'").fetchone():
            conn.execute("INSERT INTO gpkg_ogr_contents (table_name, feature_count) VALUES (?, 0)", (layer.name,))
            for op, sign in (("insert", "+"), ("delete", "-")):
                conn.execute(
                    f"CREATE TRIGGER {quote(f'trigger_{op}_feature_count_{layer.name}')} AFTER {op.upper()} ON {t} "
                    f"BEGIN UPDATE gpkg_ogr_contents SET feature_count = feature_count {sign} 1 "
                    f"WHERE lower(table_name) = lower('{layer.name}'); END")
    _write_data_columns(conn, layers)
    _write_layer_indexes(conn, layers)
    write_styles(conn, layers, language, now)
