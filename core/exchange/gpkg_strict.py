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
  a listed table must exist, and every table name reaches SQL quoted. Table and column
  names are matched without regard to case, as SQLite and GDAL match them (``SHELTERS``
  in the file is the ``shelters`` that ``gpkg_contents`` lists);
* the CRS is resolved from the definition in ``gpkg_spatial_ref_sys`` (WKT, or the
  organisation's own code), never from the srs_id number, which is only the file's key;
  an undefined or engineering (local) CRS places nothing on the earth: it is refused, and
  ``--crs`` says what it really is;
* a ``user_version`` that GDAL would question (not GeoPackage 1.2–1.4) is imported with a
  warning, in GDAL's own words (:func:`version_warnings`);
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
    table: str | None = None  # the table's own name in sqlite_master (its case may differ from ``name``)


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
            # GDAL opens such a file with a warning ("bad application_id"); an importer must be stricter
            raise NotAGeoPackage(f"{p.name}: application_id is {app_id:#x}, not a GeoPackage ('GPKG')")
        tables = {r[0].lower() for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
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


# GeoPackage versions GDAL reads without a word (its driver accepts any 102xx, 103xx and 104xx user_version).
KNOWN_VERSIONS = ((10200, 10299), (10300, 10399), (10400, 10499))


def version_warnings(conn: sqlite3.Connection, name: str) -> list[str]:
    """What GDAL's GeoPackage driver would warn about this file's header, for the import report.

    GDAL questions the ``user_version`` of a file whose application_id is ``GPKG`` when it is not
    a GeoPackage 1.2, 1.3 or 1.4 version: a newer one "may only be partially supported", any other
    (0, or 10100 from a 1.1 writer that forgot to set it) is "unrecognized". The drafts' ``GP10``
    and ``GP11`` carry no version, and GDAL asks none. (Another application_id is refused before
    this: see :func:`open_geopackage`.)
    """
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if APPLICATION_IDS.get(app_id) != "GPKG" or any(lo <= version <= hi for lo, hi in KNOWN_VERSIONS):
        return []
    if version > KNOWN_VERSIONS[-1][1]:
        v = f"{version // 10000}.{version % 10000 // 100}.{version % 100}"
        return [f"{name}: GeoPackage user_version {version} (v{v}) is newer than 1.4: it may only be partially "
                "supported (GDAL warns the same); read by the GeoPackage 1.4 rules"]
    return [f"{name}: user_version {version} is not a GeoPackage version (1.2 = 10200, 1.3 = 10300, 1.4 = 10400); "
            "GDAL warns 'unrecognized user_version' on such a file: whatever wrote it did not follow the standard. "
            "Its layers were read all the same, as strictly as any GeoPackage's"]


def _unplaced(crs: pyproj.CRS) -> bool:
    """An engineering (local) CRS: coordinates on a site's own grid, with nothing that ties them to the earth."""
    return crs.is_engineering or crs.type_name == "Engineering CRS"


def resolve_crs(conn: sqlite3.Connection, srs_id: int) -> tuple[pyproj.CRS | None, str | None]:
    """The CRS of ``srs_id`` from its definition (WKT, else organisation + code); ``(None, why)`` if none.

    An engineering CRS (GDAL writes a layer without a CRS as srs_id 99999, ``LOCAL_CS["Undefined SRS"…]``)
    is ``(None, why)`` too: it cannot be transformed to EPSG:4490, and only the sender knows what it is.
    """
    cols = {r[1] for r in conn.execute("PRAGMA table_info(gpkg_spatial_ref_sys)")}
    extra = ", definition_12_063" if "definition_12_063" in cols else ", NULL"
    row = conn.execute(f"SELECT organization, organization_coordsys_id, definition{extra} "
                       "FROM gpkg_spatial_ref_sys WHERE srs_id = ?", (srs_id,)).fetchone()
    if row is None:
        return None, f"srs_id {srs_id} is not in gpkg_spatial_ref_sys"
    org, code, definition, definition_12_063 = row
    found = None
    for text in (definition, definition_12_063):
        if text and str(text).strip().lower() not in ("undefined", ""):
            try:
                found = pyproj.CRS.from_wkt(str(text))
                break
            except pyproj.exceptions.CRSError:
                continue
    if found is None and org and code and int(code) > 0 and str(org).upper() != "NONE":
        try:
            found = pyproj.CRS.from_authority(str(org).upper(), int(code))
        except pyproj.exceptions.CRSError:
            pass
    if found is not None and _unplaced(found):
        return None, (f"srs_id {srs_id} is an engineering (local) CRS, {found.name!r}: its coordinates are not "
                      "placed on the earth; give the CRS they are really in with --crs")
    if found is not None:
        return found, None
    return None, f"srs_id {srs_id} has no usable CRS definition (undefined); give the CRS with --crs"


def list_layers(conn: sqlite3.Connection) -> tuple[list[GpkgLayer], list[tuple[str, str]]]:
    """The vector layers ``gpkg_contents`` lists, and ``(table, reason)`` for every entry skipped."""
    # SQLite's names are case-insensitive (ASCII only, as SQLite folds them): SHELTERS is the table shelters
    objects = {_fold(r[0]): r[0]
               for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
    have_gc = "gpkg_geometry_columns" in objects
    layers: list[GpkgLayer] = []
    skipped: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    for name, data_type in conn.execute("SELECT table_name, data_type FROM gpkg_contents ORDER BY rowid").fetchall():
        name = str(name)
        if _fold(name) in NOT_DATA:
            skipped.append((name, NOT_DATA[_fold(name)]))
            continue
        if data_type not in ("features", "attributes"):
            why = f"data_type {data_type!r} is not vector data" if data_type in (
                "tiles", "2d-gridded-coverage", "gpkg_extensions") else f"unknown data_type {data_type!r}"
            skipped.append((name, why))
            continue
        table = objects.get(_fold(name))
        if table is None:
            skipped.append((name, "listed in gpkg_contents but there is no such table"))
            continue
        if _fold(table) in seen:
            skipped.append((name, f"the same table as {seen[_fold(table)]!r} (names differ only in case)"))
            continue
        seen[_fold(table)] = name
        info = conn.execute(f"PRAGMA table_info({quote(table)})").fetchall()
        columns = [r[1] for r in info]
        pks = [r[1] for r in info if r[5]]
        pk = pks[0] if len(pks) == 1 else None
        layer = GpkgLayer(name, data_type, columns, pk, table=table)
        if data_type == "features":
            g = conn.execute("SELECT column_name, geometry_type_name, srs_id FROM gpkg_geometry_columns "
                             "WHERE lower(table_name) = lower(?)", (name,)).fetchall() if have_gc else []
            if len(g) != 1:
                skipped.append((name, "a features table without exactly one row in gpkg_geometry_columns"))
                continue
            by_fold = {_fold(c): c for c in columns}
            declared = str(g[0][0])
            layer.geometry_column, layer.geometry_type, layer.srs_id = by_fold.get(_fold(declared), declared), \
                str(g[0][1]).upper(), g[0][2]
            if layer.geometry_column not in columns:
                skipped.append((name, f"geometry column {declared!r} is not in the table"))
                continue
            if layer.geometry_type not in _TYPES and layer.geometry_type != "GEOMETRY":
                skipped.append((name, f"unknown geometry type {g[0][1]!r}"))
                continue
            layer.crs, layer.crs_problem = resolve_crs(conn, layer.srs_id)
        layers.append(layer)
    return layers, skipped


def _fold(name: str) -> str:
    """A name as SQLite compares identifiers: ASCII letters folded, anything else as it is."""
    return name.translate(_ASCII_LOWER)


_TYPE_IDS = {"Point": 0, "LineString": 1, "LinearRing": 2, "Polygon": 3, "MultiPoint": 4, "MultiLineString": 5,
             "MultiPolygon": 6, "GeometryCollection": 7}  # shapely.GeometryType
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


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
    table = layer.table or layer.name
    is_view = conn.execute("SELECT type FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0] == "view"
    key_sql = "NULL" if (is_view and not layer.pk) else quote(key) if layer.pk else "rowid"
    cols = [key_sql] + ([quote(gcol)] if gcol else []) + [quote(c) for c in props]
    order = "" if key_sql == "NULL" else f" ORDER BY {key_sql}"
    data = conn.execute(f"SELECT {', '.join(cols)} FROM {quote(table)}{order}").fetchall()
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
        if allowed is not None and geoms:
            # the types of all geometries at once (shapely's type ids), then only the rows that differ
            ids = shapely.get_type_id(fast if fast is not None else np.array(geoms, dtype=object))
            ok = np.isin(ids, [_TYPE_IDS[t] for t in allowed] + [-1])
            for i in np.flatnonzero(~ok).tolist():
                g = geoms[i]
                if i not in problems:
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


def read_geopackage(path: str | Path) -> tuple[list[GpkgRead], list[tuple[str, str]], dict | None, dict | None,
                                                list[str]]:
    """Open, check and read every vector layer: ``(reads, skipped, registry info, export info, warnings)``."""
    with closing(open_geopackage(path, source=True)) as conn:
        try:
            warnings = version_warnings(conn, Path(path).name)
            layers, skipped = list_layers(conn)
            reads = [read_layer(conn, layer) for layer in layers]
            info, export = read_export_metadata(conn)
        except sqlite3.DatabaseError as exc:
            raise NotAGeoPackage(f"{Path(path).name}: cannot be read: {exc}") from exc
    return reads, skipped, info, export, warnings

