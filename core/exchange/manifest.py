"""The checksum manifest of an export: inside the file, and beside it.

Two checks with two purposes:

* **Inside** the GeoPackage, in ``gpkg_metadata`` (standard URI ``urn:rallypoint:export``),
  with the export's own metadata: the row count and a SHA-256 of every exported table's
  rows (every column, in fid order). It travels with the file, survives a rename or a
  re-zip, and says which layers were changed after the export (a QGIS edit, a tampering).
* **Beside** it, ``NAME.gpkg.manifest.json``: the SHA-256 and size of the file's bytes
  and the same per-layer figures, so a receiving bureau can check the file arrived
  exactly as sent before opening it.

>>> verify_export("county-export.gpkg")   # doctest: +SKIP
[]                                         # nothing changed since the export
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any, Iterable

from ..storage.base import quote

EXPORT_URI = "urn:rallypoint:export"
MANIFEST_FORMAT = "rallypoint-export-manifest/1"
MANIFEST_SUFFIX = ".manifest.json"


def manifest_path(export_path: str | Path) -> Path:
    p = Path(export_path)
    return p.with_name(p.name + MANIFEST_SUFFIX)


def table_checksum(conn: sqlite3.Connection, table: str, schema: str = "main") -> dict[str, Any]:
    """Row count and SHA-256 of every column of every row of ``table``, in fid (rowid) order.

    Each row is rendered by SQLite's ``quote()`` (exact: reals to 20 digits, blobs in hex),
    so the digest is the same whoever computes it and is made without a Python loop per value.
    """
    cols = [r[1] for r in conn.execute(f"PRAGMA {schema}.table_info({quote(table)})")]
    h = hashlib.sha256()
    h.update(json.dumps(cols, ensure_ascii=False).encode())
    row_sql = " || '|' || ".join(f"quote({quote(c)})" for c in cols) or "''"
    # CAST AS BLOB: the row's UTF-8 bytes as SQLite made them, not decoded into a str and encoded again
    cur = conn.execute(f"SELECT CAST({row_sql} AS BLOB) FROM {schema}.{quote(table)} ORDER BY rowid")
    n = 0
    while True:
        rows = cur.fetchmany(5000)
        if not rows:
            break
        n += len(rows)
        h.update(b"\n".join(r[0] for r in rows))
        h.update(b"\n")
    return {"rows": n, "sha256": h.hexdigest()}


def layer_checksums(conn: sqlite3.Connection, tables: Iterable[str]) -> dict[str, dict[str, Any]]:
    return {t: table_checksum(conn, t) for t in tables}


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_export_info(conn: sqlite3.Connection) -> dict[str, Any] | None:
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'gpkg_metadata'").fetchone():
        return None
    row = conn.execute("SELECT metadata FROM gpkg_metadata WHERE md_standard_uri = ?", (EXPORT_URI,)).fetchone()
    return json.loads(row[0]) if row else None


def write_export_info(conn: sqlite3.Connection, info: dict[str, Any], timestamp: str) -> None:
    """Write (or replace) the export's metadata record, referenced at GeoPackage scope."""
    text = json.dumps(info, ensure_ascii=False, sort_keys=True)
    row = conn.execute("SELECT id FROM gpkg_metadata WHERE md_standard_uri = ?", (EXPORT_URI,)).fetchone()
    if row:
        conn.execute("UPDATE gpkg_metadata SET metadata = ? WHERE id = ?", (text, row[0]))
        return
    cur = conn.execute("INSERT INTO gpkg_metadata (md_scope, md_standard_uri, mime_type, metadata) "
                       "VALUES ('dataset', ?, 'application/json', ?)", (EXPORT_URI, text))
    conn.execute("INSERT INTO gpkg_metadata_reference (reference_scope, table_name, column_name, row_id_value, "
                 "timestamp, md_file_id) VALUES ('geopackage', NULL, NULL, NULL, ?, ?)", (timestamp, cur.lastrowid))


def write_manifest(export_path: str | Path, info: dict[str, Any]) -> Path:
    """Write the manifest beside the export (after the file is final)."""
    p = Path(export_path)
    data = {"format": MANIFEST_FORMAT, "file": p.name, "bytes": p.stat().st_size, "sha256": file_sha256(p),
            "layers": info.get("checksums", {}), "export": {k: v for k, v in info.items() if k != "checksums"}}
    out = manifest_path(p)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True), encoding="utf-8")
    tmp.replace(out)
    return out


def verify_export(path: str | Path) -> list[str]:
    """Every way ``path`` differs from its manifests (inside and beside); an empty list when intact."""
    p = Path(path)
    found: list[str] = []
    side = manifest_path(p)
    if side.is_file():
        try:
            m = json.loads(side.read_text(encoding="utf-8"))
        except ValueError as exc:
            found.append(f"{side.name}: not JSON ({exc})")
            m = {}
        if m:
            size = p.stat().st_size
            if m.get("bytes") != size:
                found.append(f"{p.name}: {size} bytes, the manifest says {m.get('bytes')}")
            if m.get("sha256") != file_sha256(p):
                found.append(f"{p.name}: SHA-256 differs from the manifest (changed or damaged since the export)")
    else:
        found.append(f"no manifest beside the file ({side.name}); only the checksums inside were verified")
    uri = f"file:{p.resolve().as_posix()}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as conn:
        info = read_export_info(conn)
        if info is None:
            return found + [f"{p.name}: no export metadata ({EXPORT_URI}) inside; not a Rallypoint export"]
        for table, want in sorted(info.get("checksums", {}).items()):
            if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone():
                found.append(f"layer {table}: missing")
                continue
            got = table_checksum(conn, table)
            if got["rows"] != want.get("rows"):
                found.append(f"layer {table}: {got['rows']} rows, exported {want.get('rows')}")
            elif got["sha256"] != want.get("sha256"):
                found.append(f"layer {table}: rows changed since the export (SHA-256 differs)")
    return found
