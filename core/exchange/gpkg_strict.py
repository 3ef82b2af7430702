"""Reading a GeoPackage someone else wrote, more strictly than GDAL does.

GDAL reads leniently (see ``STANDARDS.md``): bare WKB comes back as a null geometry, a
blob whose srs_id differs from its column's is taken at the column's word, a table that
``gpkg_contents`` does not list is simply not a layer. An importer that trusts that can
put features in the wrong place or silently lose their geometry, so this module reads
GeoPackages itself, through Python's ``sqlite3`` (never GDAL's copy of SQLite, which
must not touch a file a registry connection in this process may have open), and checks:

* the file is an SQLite database with a GeoPackage ``application_id`` (``GPKG``, or
  ``GP10``/``GP11`` of the 1.0/1.1 drafts) and the ``gpkg_contents`` and
  ``gpkg_spatial_ref_sys`` tables;
* layers are what ``gpkg_contents`` lists (vector ``features`` and ``attributes`` only);
  a listed table must exist, and every table name reaches SQL quoted;
* the CRS is resolved from the definition in ``gpkg_spatial_ref_sys`` (WKT, or the
  organisation's own code), never from the srs_id number, which is only the file's key;
* every geometry blob has a valid ``GP`` header, carries its column's srs_id, holds
  valid WKB and is of the column's declared geometry type (or one of its subtypes).

A whole-file failure raises :class:`NotAGeoPackage`; a per-feature failure is returned as
that feature's problem, so the importer can list it, refuse it, or quarantine it.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote as quote_uri

import numpy as np
import pyproj
import shapely

from .. import geometry as geo
from ..errors import RallypointError
from ..storage.base import quote
from ..storage.gpkg import blobs as gpkg_blobs

SQLITE_MAGIC = b"SQLite format 3\x00"
APPLICATION_IDS = {0x47504B47: "GPKG", 0x47503130: "GP10", 0x47503131: "GP11"}
NOT_DATA = {"layer_styles": "QGIS layer styles, not resource data (passed on)",
            "rp_history": "the registry's change history (not imported; the target keeps its own)",
            "rp_conflicts": "merge conflicts of the sending registry (not imported)"}

# Declared geometry type → the shapely types a blob may hold (GeoPackage 1.2, annex E: subtypes).
_TYPES = {
    "POINT": {"Point"}, "LINESTRING": {"LineString"}, "POLYGON": {"Polygon"},
    "MULTIPOINT": {"MultiPoint"}, "MULTILINESTRING": {"MultiLineString"}, "MULTIPOLYGON": {"MultiPolygon"},
    "GEOMETRYCOLLECTION": {"GeometryCollection", "MultiPoint", "MultiLineString", "MultiPolygon"},
    "CURVE": {"LineString", "LinearRing"}, "SURFACE": {"Polygon"}, "CURVEPOLYGON": {"Polygon"},
    "MULTICURVE": {"MultiLineString"}, "MULTISURFACE": {"MultiPolygon"},
    "COMPOUNDCURVE": {"LineString"}, "CIRCULARSTRING": {"LineString"},
}


class NotAGeoPackage(RallypointError, ValueError):
    """The file cannot be read as a GeoPackage at all; nothing in it is imported."""

    http_status = 400
    ogc_code = "InvalidParameterValue"


@dataclass
class GpkgLayer:
    """One vector layer of a GeoPackage, as ``gpkg_contents`` and ``gpkg_geometry_columns`` declare it."""

    name: str
    data_type: str
    columns: list[str]
    pk: str | None
    geometry_column: str | None = None
    geometry_type: str | None = None
    srs_id: int | None = None
    crs: pyproj.CRS | None = None
    crs_problem: str | None = None


@dataclass
class GpkgRead:
    """The rows of one layer: properties, geometries (in the layer's CRS), labels and per-row problems."""

    layer: GpkgLayer
    rows: list[dict[str, Any]]
    geometries: list[Any]
    labels: list[str]
    problems: dict[int, str] = field(default_factory=dict)


def _uri(p: Path, **params: str) -> str:
    return f"file:{quote_uri(p.resolve().as_posix())}?" + "&".join(f"{k}={v}" for k, v in params.items())


def is_sqlite(path: str | Path) -> bool:
    """Whether ``path`` is an SQLite database, asked of SQLite.

    Never read with ``open()``: closing a descriptor of a file drops every POSIX lock this process holds on
    it, and an import source may be a registry this process (or QGIS in it) has open. SQLite's own close
    keeps them (it defers closing a descriptor while another of its connections holds locks on the file).
    The probe is ``immutable``: it takes no lock and leaves no ``-wal``/``-shm`` files behind.
    """
    p = Path(path)
    if not p.is_file() or p.stat().st_size < 512:  # a database holds at least one page; SQLite takes a shorter
        return False                                  # file for an empty database
    conn = sqlite3.connect(_uri(p, mode="ro", immutable="1"), uri=True)
    try:
        conn.execute("PRAGMA schema_version").fetchone()
    except sqlite3.DatabaseError as exc:
        return "not a database" not in str(exc)  # SQLite's, but damaged: open_geopackage says how
    finally:
        conn.close()
    return True


def check_file(path: str | Path) -> None:
    """Raise NotAGeoPackage unless ``path`` is an SQLite file (the first check, before any SQL)."""
    p = Path(path)
    if not p.is_file():
        raise NotAGeoPackage(f"{p}: no such file")
    if p.stat().st_size == 0:
        raise NotAGeoPackage(f"{p.name}: an empty file, not a GeoPackage")
    if not is_sqlite(p):
        raise NotAGeoPackage(f"{p.name}: not an SQLite database, so not a GeoPackage")


def open_geopackage(path: str | Path, *, source: bool = False) -> sqlite3.Connection:
    """Open ``path`` read-only after checking that it is a GeoPackage; raise NotAGeoPackage if not.

    ``source``: the file is someone else's import source. When no ``-wal``, ``-shm`` or ``-journal`` is
    beside it, nobody has it open to write (a WAL database in use has its ``-shm``), and it is opened
    ``immutable``, so reading it leaves no ``-shm``/``-wal`` files in a folder that is not ours. (Its header
    is not read with ``open()`` to see its journal mode: see :func:`is_sqlite`.)
    """
    check_file(path)
    p = Path(path)
    params = {"mode": "ro"}
    if source and not any(Path(str(p) + s).exists() for s in ("-wal", "-shm", "-journal")):
        params["immutable"] = "1"
    uri = _uri(p, **params)
    conn = sqlite3.connect(uri, uri=True, isolation_level=None)
    try:
        gpkg_blobs.register_functions(conn)
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        if app_id not in APPLICATION_IDS:
            raise NotAGeoPackage(f"{p.name}: application_id is {app_id:#x}, not a GeoPackage ('GPKG')")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
        missing = [t for t in ("gpkg_contents", "gpkg_spatial_ref_sys") if t not in tables]
        if missing:
            raise NotAGeoPackage(f"{p.name}: no {' or '.join(missing)} table, so not a GeoPackage")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise NotAGeoPackage(f"{p.name}: cannot be read as SQLite: {exc}") from exc
    except BaseException:
        conn.close()
        raise
    return conn


def resolve_crs(conn: sqlite3.Connection, srs_id: int) -> tuple[pyproj.CRS | None, str | None]:
    """The CRS of ``srs_id`` from its definition (WKT, else organisation + code); ``(None, why)`` if none."""
    cols = {r[1] for r in conn.execute("PRAGMA table_info(gpkg_spatial_ref_sys)")}
    extra = ", definition_12_063" if "definition_12_063" in cols else ", NULL"
    row = conn.execute(f"SELECT organization, organization_coordsys_id, definition{extra} "
                       "FROM gpkg_spatial_ref_sys WHERE srs_id = ?", (srs_id,)).fetchone()
    if row is None:
        return None, f"srs_id {srs_id} is not in gpkg_spatial_ref_sys"
    org, code, definition, definition_12_063 = row
    for text in (definition, definition_12_063):
        if text and str(text).strip().lower() not in ("undefined", ""):
            try:
                return pyproj.CRS.from_wkt(str(text)), None
            except pyproj.exceptions.CRSError:
                continue
    if org and code and int(code) > 0 and str(org).upper() != "NONE":
        try:
            return pyproj.CRS.from_authority(str(org).upper(), int(code)), None
        except pyproj.exceptions.CRSError:
            pass
    return None, f"srs_id {srs_id} has no usable CRS definition (undefined); give the CRS with --crs"


def list_layers(conn: sqlite3.Connection) -> tuple[list[GpkgLayer], list[tuple[str, str]]]:
    """The vector layers ``gpkg_contents`` lists, and ``(table, reason)`` for every entry skipped."""
    objects = {r[0]: r[1] for r in conn.execute("SELECT name, type FROM sqlite_master WHERE type IN ('table', 'view')")}
    have_gc = "gpkg_geometry_columns" in objects
    layers: list[GpkgLayer] = []
    skipped: list[tuple[str, str]] = []
    for name, data_type in conn.execute("SELECT table_name, data_type FROM gpkg_contents ORDER BY rowid").fetchall():
        if name in NOT_DATA:
            skipped.append((name, NOT_DATA[name]))
            continue
        if data_type not in ("features", "attributes"):
            why = f"data_type {data_type!r} is not vector data" if data_type in (
                "tiles", "2d-gridded-coverage", "gpkg_extensions") else f"unknown data_type {data_type!r}"
            skipped.append((name, why))
            continue
        if name not in objects:
            skipped.append((name, "listed in gpkg_contents but there is no such table"))
            continue
        info = conn.execute(f"PRAGMA table_info({quote(name)})").fetchall()
        columns = [r[1] for r in info]
        pks = [r[1] for r in info if r[5]]
        pk = pks[0] if len(pks) == 1 else None
        layer = GpkgLayer(name, data_type, columns, pk)
        if data_type == "features":
            g = conn.execute("SELECT column_name, geometry_type_name, srs_id FROM gpkg_geometry_columns "
                             "WHERE table_name = ?", (name,)).fetchall() if have_gc else []
            if len(g) != 1:
                skipped.append((name, "a features table without exactly one row in gpkg_geometry_columns"))
                continue
            layer.geometry_column, layer.geometry_type, layer.srs_id = g[0][0], str(g[0][1]).upper(), g[0][2]
            if layer.geometry_column not in columns:
                skipped.append((name, f"geometry column {layer.geometry_column!r} is not in the table"))
                continue
            if layer.geometry_type not in _TYPES and layer.geometry_type != "GEOMETRY":
                skipped.append((name, f"unknown geometry type {g[0][1]!r}"))
                continue
            layer.crs, layer.crs_problem = resolve_crs(conn, layer.srs_id)
        layers.append(layer)
    return layers, skipped


def _fast_blobs(blobs: list[Any], srs_id: int) -> np.ndarray | None:
    """Decode every blob at once when all headers are sound and carry ``srs_id``; ``None`` to go row by row."""
    present = [b for b in blobs if b is not None]
    if not present or not all(isinstance(b, bytes) and len(b) >= 8 for b in present):
        return None
    heads = np.frombuffer(b"".join(b[:8] for b in present), dtype=np.uint8).reshape(-1, 8)
    if not ((heads[:, 0] == ord("G")) & (heads[:, 1] == ord("P")) & (heads[:, 2] == 0)).all():
        return None
    little = (heads[:, 3] & 1).astype(bool)
    srs = np.where(little, heads[:, 4:8].copy().view("<i4")[:, 0], heads[:, 4:8].copy().view(">i4")[:, 0])
    if (srs != srs_id).any():
        return None
    try:
        return gpkg_blobs.decode_many(blobs)
    except (geo.GeometryBlobError, NotImplementedError, shapely.errors.GEOSException):
        return None  # read row by row, to name the rows that fail


def _blob_problem(blob: Any, srs_id: int) -> tuple[Any, str | None]:
    if not isinstance(blob, (bytes, bytearray)):
        return None, f"the geometry column holds a {type(blob).__name__}, not a GeoPackage blob"
    b = bytes(blob)
    if b[:2] != b"GP" and b[:1] in (b"\x00", b"\x01"):
        return None, "the geometry is bare WKB without the GeoPackage 'GP' header"
    try:
        got, _, _ = gpkg_blobs.parse_header(b)
    except geo.GeometryBlobError as exc:
        return None, str(exc)
    if got != srs_id:
        return None, f"the geometry blob's srs_id {got} differs from its column's srs_id {srs_id}"
    try:
        return gpkg_blobs.decode(b), None
    except geo.GeometryBlobError as exc:
        return None, str(exc)
    except NotImplementedError:
        return None, "curved geometries (CircularString, CompoundCurve, CurvePolygon …) are not supported"


def read_layer(conn: sqlite3.Connection, layer: GpkgLayer) -> GpkgRead:
    """Every row of ``layer`` with its geometry checked; problems by row index."""
    gcol = layer.geometry_column
    props = [c for c in layer.columns if c != gcol and c != layer.pk]  # the key only names the row (its label)
    key = layer.pk or "rowid"
    is_view = conn.execute("SELECT type FROM sqlite_master WHERE name = ?", (layer.name,)).fetchone()[0] == "view"
    key_sql = "NULL" if (is_view and not layer.pk) else quote(key) if layer.pk else "rowid"
    cols = [key_sql] + ([quote(gcol)] if gcol else []) + [quote(c) for c in props]
    order = "" if key_sql == "NULL" else f" ORDER BY {key_sql}"
    data = conn.execute(f"SELECT {', '.join(cols)} FROM {quote(layer.name)}{order}").fetchall()
    off = 2 if gcol else 1
    rows = [dict(zip(props, r[off:])) for r in data]
    labels = [f"{layer.pk or 'row'} {r[0]}" if r[0] is not None else f"row {i + 1}" for i, r in enumerate(data)]
    problems: dict[int, str] = {}
    geoms: list[Any] = [None] * len(data)
    if gcol:
        blobs = [r[1] for r in data]
        fast = _fast_blobs(blobs, layer.srs_id)
        if fast is not None:
            geoms = list(fast)
        else:
            for i, blob in enumerate(blobs):
                if blob is not None:
                    geoms[i], why = _blob_problem(blob, layer.srs_id)
                    if why:
                        problems[i] = why
        allowed = _TYPES.get(layer.geometry_type)
        if allowed is not None:
            for i, g in enumerate(geoms):
                if g is not None and i not in problems and g.geom_type not in allowed:
                    problems[i] = f"a {g.geom_type} in a column declared {layer.geometry_type}"
    return GpkgRead(layer, rows, geoms, labels, problems)


def read_export_metadata(conn: sqlite3.Connection) -> tuple[dict | None, dict | None]:
    """``(registry info, export info)`` when the file is a Rallypoint registry or export, else ``(None, None)``."""
    import json

    from ..storage.base import METADATA_URI
    from .manifest import EXPORT_URI

    if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'gpkg_metadata'").fetchone():
        return None, None
    found = dict(conn.execute("SELECT md_standard_uri, metadata FROM gpkg_metadata WHERE md_standard_uri IN (?, ?)",
                              (METADATA_URI, EXPORT_URI)).fetchall())
    out = []
    for uri in (METADATA_URI, EXPORT_URI):
        try:
            out.append(json.loads(found[uri]) if uri in found else None)
        except ValueError:
            out.append(None)
    return out[0], out[1]


def read_geopackage(path: str | Path) -> tuple[list[GpkgRead], list[tuple[str, str]], dict | None, dict | None]:
    """Open, check and read every vector layer: ``(reads, skipped, registry info, export info)``."""
    with closing(open_geopackage(path, source=True)) as conn:
        try:
            layers, skipped = list_layers(conn)
            reads = [read_layer(conn, layer) for layer in layers]
            info, export = read_export_metadata(conn)
        except sqlite3.DatabaseError as exc:
            raise NotAGeoPackage(f"{Path(path).name}: cannot be read: {exc}") from exc
    return reads, skipped, info, export

