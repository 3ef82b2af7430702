"""``rallypoint export``: a subset of a registry as a standalone GeoPackage for another bureau.

How an export is made, and why:

1. **One moment.** A registry file is attached read-only to the new file's connection and read
   in the one transaction that selects, copies and checksums: SQLite gives a transaction one
   consistent view of a database (in WAL mode, the snapshot its first read began; WAL content
   included), while QGIS or the server keep writing. Nothing is copied whole: the file's backup
   (every page, history included, several times the exported rows) cost as much as the export.
   A PostGIS registry is first copied as of one moment (REPEATABLE READ) into a temporary file.
   Never ``cp`` (a ``-wal`` beside the file would be lost).
2. **Selection**, in SQL on that view: the layers asked for, by division code prefix
   (``adcode``), bounding box (the R-tree), time (``updated_at >= since``; retirements are
   changes too, so retired features changed since are included) and retirement. Stock
   follows its depot. References are followed: a hazard point's ``assigned_shelter`` comes
   along even outside the subset (counted as ``referenced`` in the metadata), so the export
   imports on its own into an empty registry.
3. **A new file** made by the registry's own :func:`~rallypoint.storage.gpkg.file.create_file` from
   the exported layers' definitions, **without the personal-data fields** unless asked:
   the columns, ``gpkg_data_columns`` aliases and the default QGIS styles in ``layer_styles``
   are all written from the same definitions, so nothing personal is left in a label,
   a style or a form. Rows (with their fids) and R-tree entries are copied across in one
   transaction with the registry attached; an R-tree whose layer goes whole is copied as it is
   (SQLite's three tables of it), a subset's is built in one pass (as GDAL builds a new layer's). The
   history of the
   exported features (personal values removed from it with SQLite's ``json_remove``)
   comes along only when asked (``with_history``): it is the sending registry's own record,
   often several times the size of the data, and names every author.
4. **Metadata and checksums** (:mod:`.manifest`): source bureau, registry, schema and
   software version, time, author, licence, the subset, counts and per-layer SHA-256 in
   ``gpkg_metadata``; the file is switched to ``journal_mode=DELETE`` (one file, nothing
   beside it to lose; freed pages were zeroed as they were freed, ``secure_delete``, and the file
   is vacuumed only when they are many), checked (:mod:`.export_check`: GDAL's ``validate_gpkg``
   and the structure of every layer; ``check="full"`` also re-checks every feature, which were all
   checked when they were written) and only then moved into place, with
   ``NAME.gpkg.manifest.json`` beside it.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

import shapely

from .. import __version__
from .. import geometry as geo
from ..errors import Problem, RallypointError, ValidationError
from ..storage.base import HISTORY_TABLE, RegistryInfo, quote
from ..storage.gpkg.file import BUSY_TIMEOUT_MS, connect, create_file, fill_rtree, read_info
from ..plugins import RallypointPluginManager, default_plugin_manager, layer_catalog
from ..registry import Registry, adcode_prefix
from ..schema import LayerDef
from ..validation import format_datetime
from . import manifest
from .export_check import check_export

DEFAULT_LICENCE = ("仅供应急管理部门间交换使用，未经许可不得公开 / For exchange between emergency management bureaus; "
                   "not to be published without permission")
EXPORT_FORMAT = "rallypoint-export/1"


class ExportError(RallypointError, ValueError):
    """The export cannot be made as asked (bad subset, existing file); nothing was written."""

    http_status = 400
    ogc_code = "InvalidParameterValue"


@dataclass
class ExportResult:
    path: Path
    manifest: Path
    counts: dict[str, int]
    referenced: dict[str, int]
    info: dict[str, Any]
    problems: list[Problem] = field(default_factory=list)


def _source(registry: str | os.PathLike, snap: Path, layers: Iterable[str] | None) -> tuple[Path, RegistryInfo,
                                                                                            set[str]]:
    """The file the export reads (a registry file itself, read in one transaction later; a database's copy as of
    one moment), its registry metadata and its tables."""
    with Registry.open(registry, readonly=True) as reg:
        if reg.path is not None:
            source = reg.path
        else:
            reg.snapshot(snap, reference=set(layers or ()))
            source = snap
    with closing(connect(source, readonly=True)) as conn:
        return source, read_info(conn), {r[0] for r in conn.execute("SELECT table_name FROM gpkg_contents")}


def _open_work(work: Path, source: Path) -> sqlite3.Connection:
    """The new file's connection, ``source`` attached read-only as ``src`` (URIs: the read-only mode is asked of
    SQLite, not trusted to the code)."""
    conn = sqlite3.connect(work.resolve().as_uri(), uri=True, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA cache_size = -131072")
    # A file of our own until it is moved into place: no journal, no syncs (on any error it is deleted); what is
    # freed (the empty R-tree root replaced, indexes rebuilt) is zeroed, so nothing but the export is in the file.
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA secure_delete = ON")
    conn.execute("ATTACH DATABASE ? AS src", (Path(source).resolve().as_uri() + "?mode=ro",))
    return conn


def parse_since(text: str | datetime | None) -> str | None:
    """``2026-05-01`` or an ISO date-time (UTC when no zone is given) → the stored UTC form."""
    if text is None or text == "":
        return None
    if isinstance(text, datetime):
        dt = text
    else:
        s = str(text).strip().replace(" ", "T", 1)
        if s.endswith(("Z", "z")):
            s = s[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(s if "T" in s else s + "T00:00:00")
        except ValueError:
            raise ExportError(f"--since {text!r} is not a date or ISO 8601 date-time") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return format_datetime(dt)


def _bbox_storage(bbox, bbox_crs) -> tuple[float, float, float, float]:
    minx, miny, maxx, maxy = (float(v) for v in bbox)
    if minx > maxx or miny > maxy:
        raise ExportError(f"bbox {bbox} is not minx,miny,maxx,maxy")
    if bbox_crs is None:
        return minx, miny, maxx, maxy
    box = shapely.box(minx, miny, maxx, maxy).segmentize(max(maxx - minx, maxy - miny) / 16 or 1)
    return geo.to_storage(box, bbox_crs).bounds


def _where(ldef: LayerDef, adcode, box, since, include_retired, alias: str = "t") -> tuple[list[str], list[Any]]:
    """The WHERE clauses of a layer's subset, on the registry attached as ``src``."""
    clauses, params = [], []
    if ldef.versioned and not include_retired and not since:
        clauses.append(f"{alias}.retired_at IS NULL")
    if adcode and ldef.has_field("adcode"):
        clauses.append(f"{alias}.adcode LIKE ?")
        params.append(adcode_prefix(str(adcode)) + "%")
    elif adcode and ldef.has_geometry and not ldef.parent_field and box is None:
        raise ExportError(f"{ldef.name} has no division code: select it with --bbox, not --adcode")
    if box is not None and ldef.has_geometry:
        rtree = quote(f"rtree_{ldef.name}_geom")
        clauses.append(f"{alias}.fid IN (SELECT id FROM src.{rtree} "
                       "WHERE minx <= ? AND maxx >= ? AND miny <= ? AND maxy >= ?)")
        params += [box[2], box[0], box[3], box[1]]
    if since and ldef.versioned:
        clauses.append(f"{alias}.updated_at >= ?")
        params.append(since)
    return clauses, params


def _select(conn: sqlite3.Connection, catalog: dict[str, LayerDef], wanted: list[str], *, adcode, box, since,
            include_retired) -> tuple[dict[str, int], dict[str, int]]:
    """Fill ``temp.sel(layer, fid)`` with the subset of the registry attached as ``src`` and what it refers to;
    return counts and referenced counts."""
    conn.execute("CREATE TEMP TABLE sel (layer TEXT NOT NULL, fid INTEGER NOT NULL, PRIMARY KEY (layer, fid)) "
                 "WITHOUT ROWID")
    for name in wanted:
        ldef = catalog[name]
        t = quote(name)
        clauses, params = _where(ldef, adcode, box, since, include_retired)
        if ldef.parent_field and (adcode or box is not None):
            parent = catalog[ldef.parent]
            pc, pp = _where(parent, adcode, box, None, include_retired, alias="p")
            clauses.append(f"t.{quote(ldef.parent_field)} IN (SELECT p.uuid FROM src.{quote(parent.name)} p"
                           + (" WHERE " + " AND ".join(pc) if pc else "") + ")")
            params += pp
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        conn.execute(f"INSERT INTO temp.sel SELECT ?, t.fid FROM src.{t} t{where}", [name, *params])
    referenced: dict[str, int] = {}
    changed = True
    while changed:  # follow references until nothing new comes in (stock → depots, hazards → shelters)
        changed = False
        layers_now = [r[0] for r in conn.execute("SELECT DISTINCT layer FROM temp.sel")]
        for name in layers_now:
            for f in catalog[name].fields:
                if not f.references or f.references not in catalog:
                    continue
                before = conn.total_changes
                conn.execute(
                    f"INSERT OR IGNORE INTO temp.sel SELECT ?, r.fid FROM src.{quote(f.references)} r WHERE r.uuid IN "
                    f"(SELECT t.{quote(f.name)} FROM src.{quote(name)} t JOIN temp.sel s ON s.layer = ? AND s.fid = t.fid)",
                    (f.references, name))
                added = conn.total_changes - before
                if added:
                    referenced[f.references] = referenced.get(f.references, 0) + added
                    changed = True
    counts = dict(conn.execute("SELECT layer, count(*) FROM temp.sel GROUP BY layer").fetchall())
    return counts, referenced


def export_layer_defs(catalog: dict[str, LayerDef], names: Iterable[str], include_personal: bool) -> list[LayerDef]:
    """The definitions an export is written with: personal-data fields left out unless asked."""
    out = []
    for name in names:
        ldef = catalog[name]
        if not include_personal and ldef.personal_fields:
            ldef = replace(ldef, fields=tuple(f for f in ldef.fields if not f.personal))
        out.append(ldef)
    return out


def _copy_layer(conn: sqlite3.Connection, ldef: LayerDef) -> None:
    t = quote(ldef.name)
    cols = [r[1] for r in conn.execute(f"PRAGMA main.table_info({t})")]
    names = ", ".join(quote(c) for c in cols)
    triggers = conn.execute("SELECT name, sql FROM main.sqlite_master WHERE type = 'trigger' AND tbl_name = ?",
                            (ldef.name,)).fetchall()
    for name, _ in triggers:  # R-tree and feature-count triggers: the work is done set-wise below
        conn.execute(f"DROP TRIGGER main.{quote(name)}")
    indexes = conn.execute("SELECT name, sql FROM main.sqlite_master WHERE type = 'index' AND tbl_name = ? "
                           "AND sql IS NOT NULL", (ldef.name,)).fetchall()
    for name, _ in indexes:  # built once after the rows are in, not row by row
        conn.execute(f"DROP INDEX main.{quote(name)}")
    conn.execute(f"INSERT INTO main.{t} ({names}) SELECT {names} FROM src.{t} "
                 "WHERE fid IN (SELECT fid FROM temp.sel WHERE layer = ?) ORDER BY fid", (ldef.name,))
    if ldef.has_geometry:
        rtree = quote(f"rtree_{ldef.name}_geom")
        _copy_rtree(conn, ldef.name)
        ext = conn.execute(f"SELECT min(minx), min(miny), max(maxx), max(maxy) FROM main.{rtree}").fetchone()
        conn.execute("UPDATE main.gpkg_contents SET min_x = ?, min_y = ?, max_x = ?, max_y = ? WHERE table_name = ?",
                     (*ext, ldef.name))
    for _, sql in indexes + triggers:
        conn.execute(sql)
    last = conn.execute("SELECT last_change FROM src.gpkg_contents WHERE table_name = ?", (ldef.name,)).fetchone()
    if last:
        conn.execute("UPDATE main.gpkg_contents SET last_change = ? WHERE table_name = ?", (last[0], ldef.name))
    if conn.execute("SELECT 1 FROM main.sqlite_master WHERE name = 'gpkg_ogr_contents'").fetchone():
        conn.execute(f"UPDATE main.gpkg_ogr_contents SET feature_count = (SELECT count(*) FROM main.{t}) "
                     "WHERE lower(table_name) = lower(?)", (ldef.name,))


def _copy_rtree(conn: sqlite3.Connection, layer: str) -> None:
    """The exported rows' R-tree entries. Inserting them one by one through SQLite's R-tree module costs more
    than the rows themselves (every insert descends and splits; ~4 s for 140,000 points): a layer that goes whole
    takes the registry's tree as it is (the module keeps a tree in three plain tables, ``_node``, ``_rowid``,
    ``_parent``, whose blobs carry their own node size and depth), a subset's tree is built in one pass."""
    rtree = f"rtree_{layer}_geom"
    parts = ("node", "rowid", "parent")
    whole = conn.execute(f"SELECT (SELECT count(*) FROM temp.sel WHERE layer = ?) = "
                         f"(SELECT count(*) FROM src.{quote(rtree + '_rowid')})", (layer,)).fetchone()[0] and \
        conn.execute(f"SELECT (SELECT count(*) FROM temp.sel WHERE layer = ?) = (SELECT count(*) FROM src.{quote(layer)})",
                     (layer,)).fetchone()[0]
    same = whole and all(
        [r[1:3] for r in conn.execute(f"PRAGMA main.table_info({quote(f'{rtree}_{p}')})")] ==
        [r[1:3] for r in conn.execute(f"PRAGMA src.table_info({quote(f'{rtree}_{p}')})")] for p in parts)
    if same:
        for p in parts:
            t = quote(f"{rtree}_{p}")
            conn.execute(f"DELETE FROM main.{t}")
            conn.execute(f"INSERT INTO main.{t} SELECT * FROM src.{t}")
        return
    rows = conn.execute(f"SELECT id, minx, maxx, miny, maxy FROM src.{quote(rtree)} "
                        "WHERE id IN (SELECT fid FROM temp.sel WHERE layer = ?) ORDER BY id", (layer,)).fetchall()
    fill_rtree(conn, rtree, rows)


def _copy_history(conn: sqlite3.Connection, full: dict[str, LayerDef], exported: list[LayerDef],
                  include_personal: bool) -> None:
    """Each exported feature's whole history (a base layer's load records), personal values removed."""
    conn.execute("CREATE TEMP TABLE hkeys (layer TEXT NOT NULL, uuid TEXT NOT NULL, PRIMARY KEY (layer, uuid)) "
                 "WITHOUT ROWID")
    for ldef in exported:
        if ldef.versioned:
            conn.execute(f"INSERT INTO temp.hkeys SELECT ?, uuid FROM main.{quote(ldef.name)}", (ldef.name,))
        else:
            conn.execute(f"INSERT OR IGNORE INTO temp.hkeys SELECT DISTINCT layer, uuid FROM src.{HISTORY_TABLE} "
                         "WHERE layer = ?", (ldef.name,))
    scrub_before, scrub_after, params_b, params_a = "h.before", "h.after", [], []
    personal = {d.name: full[d.name].personal_fields for d in exported if full[d.name].personal_fields}
    if personal and not include_personal:
        cases_b, cases_a = [], []
        for layer, fields in personal.items():
            paths = [f"$.properties.{f}" for f in fields]
            holes = ", ".join("?" * len(paths))
            cases_b.append(f"WHEN ? THEN json_remove(h.before, {holes})")
            cases_a.append(f"WHEN ? THEN json_remove(h.after, {holes})")
            params_b += [layer, *paths]
            params_a += [layer, *paths]
        scrub_before = f"CASE h.layer {' '.join(cases_b)} ELSE h.before END"
        scrub_after = f"CASE h.layer {' '.join(cases_a)} ELSE h.after END"
    indexes = conn.execute("SELECT name, sql FROM main.sqlite_master WHERE type = 'index' AND tbl_name = ? "
                           "AND sql IS NOT NULL", (HISTORY_TABLE,)).fetchall()
    for name, _ in indexes:
        conn.execute(f"DROP INDEX main.{quote(name)}")
    conn.execute(
        f"INSERT INTO main.{HISTORY_TABLE} (layer, uuid, version, op, author, at, before, after, note) "
        f"SELECT h.layer, h.uuid, h.version, h.op, h.author, h.at, {scrub_before}, {scrub_after}, h.note "
        f"FROM src.{HISTORY_TABLE} h JOIN temp.hkeys k ON k.layer = h.layer AND k.uuid = h.uuid ORDER BY h.fid",
        params_b + params_a)
    for _, sql in indexes:
        conn.execute(sql)


def export_registry(registry: str | os.PathLike, out: str | os.PathLike, *, layers: Iterable[str] | None = None,
                    adcode: str | None = None, bbox=None, bbox_crs=None, since=None, include_personal: bool = False,
                    include_retired: bool = True, licence: str = DEFAULT_LICENCE, author: str = "rallypoint",
                    with_history: bool = False, overwrite: bool = False, check: str | None = "file",
                    gdal: bool = True,
                    clock: Callable[[], datetime] | None = None,
                    plugins: RallypointPluginManager | None = None) -> ExportResult:
    """Write a subset of ``registry`` to ``out`` (see the module's description); return what was exported."""
    out = Path(out)
    if out.exists() and not overwrite:
        raise ExportError(f"{out} already exists (use --force to replace it)")
    if not out.parent.is_dir():
        raise ExportError(f"folder {out.parent} does not exist")
    catalog = layer_catalog(plugins or default_plugin_manager())
    since_s = parse_since(since)
    box = _bbox_storage(bbox, bbox_crs) if bbox is not None else None
    now = format_datetime((clock or (lambda: datetime.now(timezone.utc)))())
    snap = out.with_name(f".{out.name}.snapshot")
    work = out.with_name(f".{out.stem}.partial.gpkg")
    for p in (snap, work):
        p.unlink(missing_ok=True)
    try:
        source, info, present = _source(registry, snap, layers)
        available = [n for n in catalog if n in present]
        if layers is None:
            wanted = [n for n in available if catalog[n].versioned]
        else:
            wanted = list(dict.fromkeys(layers))
            unknown = [n for n in wanted if n not in available]
            if unknown:
                raise ExportError(f"no layer {', '.join(unknown)} in {registry} (layers: {', '.join(available)})")
        needed = set(wanted)
        grow = True
        while grow:  # a layer's references need their target layer's table, even when nothing is pulled in
            more = {f.references for n in needed for f in catalog[n].fields if f.references in available} - needed
            needed |= more
            grow = bool(more)
        names = [n for n in available if n in needed]
        defs = export_layer_defs(catalog, names, include_personal)
        create_file(work, defs, RegistryInfo(info.name, info.bureau, info.adcode, info.schema_version, info.created_at,
                                             info.language, info.extent))
        with closing(_open_work(work, source)) as conn:
            conn.execute("BEGIN")  # the registry is read as of the first read below, to the COMMIT
            counts, referenced = _select(conn, catalog, wanted, adcode=adcode, box=box, since=since_s,
                                         include_retired=include_retired)
            for ldef in defs:
                _copy_layer(conn, ldef)
            if with_history:
                _copy_history(conn, catalog, defs, include_personal)
            export_info = {
                "format": EXPORT_FORMAT, "source_bureau": info.bureau, "registry": info.name,
                "registry_created_at": info.created_at, "registry_adcode": info.adcode,
                "schema_version": info.schema_version, "rallypoint_version": __version__, "exported_at": now,
                "exported_by": author, "licence": licence,
                "subset": {"layers": names, "adcode": adcode, "bbox": list(box) if box else None,
                           "since": since_s, "include_personal": include_personal,
                           "include_retired": include_retired, "with_history": with_history},
                "counts": {n: counts.get(n, 0) for n in names}, "referenced": referenced,
                "personal_fields_left_out": {} if include_personal else
                {n: list(catalog[n].personal_fields) for n in names if catalog[n].personal_fields},
                "checksums": manifest.layer_checksums(conn, names),
            }
            manifest.write_export_info(conn, export_info, now)
            conn.execute("COMMIT")
            conn.execute("DETACH DATABASE src")
            conn.execute("PRAGMA journal_mode = DELETE")
            free, pages = (conn.execute(f"PRAGMA {p}").fetchone()[0] for p in ("freelist_count", "page_count"))
            if free > max(64, pages // 100):  # zeroed already (secure_delete): only the size is at stake
                conn.execute("VACUUM")
        if check not in (None, "file", "full"):
            raise ValueError(f"check must be None, 'file' or 'full', not {check!r}")
        problems = check_export(work, defs, gdal=gdal, features=check == "full", history=with_history) if check else []
        if problems:
            raise ValidationError(problems)
        os.replace(work, out)
        side = manifest.write_manifest(out, export_info)
    finally:
        for p in (snap, work, Path(str(work) + "-journal"), Path(str(work) + "-wal"), Path(str(work) + "-shm")):
            p.unlink(missing_ok=True)
    return ExportResult(out, side, export_info["counts"], referenced, export_info)
