"""Matching mapped source features with the registry's, on UUID: insert, update, retire, restore or unchanged.

The registry's current state is read in bulk through a read-only store of its own
(:mod:`rallypoint.storage`: a second sqlite3 connection to a GeoPackage, or the PostGIS connection). A feature the file gives exactly as stored is ``unchanged``
without further work; otherwise the merged feature is checked with the registry's own
:func:`~rallypoint.validation.check_feature` and compared value by value, in the stored
form. When the file is an export of this very registry, the registry's history at the
file's version is the common base (see :mod:`.importer`).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import shapely

from ..schema import LayerDef
from ..storage.base import HISTORY_TABLE, Store, quote
from ..validation import check_feature
from . import mapping as mp
from .plan import PlannedFeature

GEOMETRY_TOLERANCE = 1e-9  # degrees (~0.1 mm): below this a geometry is unchanged


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    return a == b


def _same_geometry(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.geom_type == b.geom_type and bool(shapely.equals_exact(a, b, tolerance=GEOMETRY_TOLERANCE))


def _short(g: Any) -> str | None:
    if g is None:
        return None
    text = g.wkt
    return text if len(text) <= 120 else text[:117] + "…"


def current_states(conn: Store, ldef: LayerDef, uuids: list[str]) -> dict[str, dict[str, Any]]:
    """The registry's stored state of these features, by UUID (geometries decoded in bulk)."""
    cols = ["fid", "version", "retired_at"] + (["geom"] if ldef.has_geometry else []) + \
        [f.name for f in ldef.editable_fields]
    out: dict[str, dict[str, Any]] = {}
    sel = ", ".join(conn.geom_select if c == "geom" else quote(c) for c in ["uuid"] + cols)
    for i in range(0, len(uuids), 5000):
        chunk = uuids[i:i + 5000]
        rows = conn.execute(f"SELECT {sel} FROM {quote(ldef.name)} WHERE uuid IN ({conn.json_list})",
                            (json.dumps(chunk),)).fetchall()
        geoms = conn.decode_many([r[4] for r in rows]) if ldef.has_geometry else [None] * len(rows)
        for row, g in zip(rows, geoms):
            rec = dict(zip(cols, row[1:]))
            if ldef.has_geometry:
                rec["geom"] = g
            out[row[0]] = rec
    return out


def _base(conn: Store, layer: str, uuid: str, version: int) -> dict[str, Any] | None:
    row = conn.execute(f"SELECT after FROM {HISTORY_TABLE} WHERE layer = ? AND uuid = ? AND version = ?",
                       (layer, uuid, version)).fetchone()
    if not row or not row[0]:
        return None
    state = row[0] if isinstance(row[0], dict) else json.loads(row[0])
    props = dict(state["properties"])
    props["geom"] = shapely.from_wkb(state["geometry"]) if state.get("geometry") else None
    return props


def geometry_unchanged(ldef: LayerDef, mapped: list, geoms: list[Any], current: dict[str, dict]) -> np.ndarray:
    """For each mapped feature: does the file give the registry's geometry (or none)? One vectorised pass."""
    n = len(mapped)
    if not ldef.has_geometry:
        return np.ones(n, dtype=bool)
    src = np.array([geoms[pf.row] for pf, _, _ in mapped] + [None], dtype=object)[:n]
    cur = np.array([(current.get(pf.uuid) or {}).get("geom") for pf, _, _ in mapped] + [None], dtype=object)[:n]
    missing = shapely.is_missing(src)
    types_ok = shapely.get_type_id(src) == shapely.get_type_id(cur)
    return missing | (types_ok & shapely.equals_exact(src, cur, tolerance=GEOMETRY_TOLERANCE))


def decide(conn: Store, ldef: LayerDef, m: mp.ImportMapping, pf: PlannedFeature, given: dict[str, Any],
            initial: dict[str, Any], geom: Any, cur: dict[str, Any] | None, lineage: str, geom_same: bool) -> None:
    if cur is None:
        props = dict(given)
        for k, v in initial.items():
            if mp._blank(props.get(k)):
                props[k] = v
        used = []
        for k, v in m.fallback.items():
            if mp._blank(props.get(k)):
                props[k] = v
                used.append(k)
        props["uuid"] = pf.uuid  # a new feature's every field, its UUID too: what the batch adds, as it is
        pf.op, pf.properties, pf.geometry, pf.fallbacks = "insert", props, geom, tuple(used)
        return
    if not m.native:  # a profile's empty value means "not given", never "clear it"
        given = {k: v for k, v in given.items() if not mp._blank(v)}
    cur_retired = bool(cur.get("retired_at"))
    if geom_same and (not m.native or pf.retire == cur_retired) and \
            all(_same(v, cur.get(k)) for k, v in given.items()):
        pf.op, pf.expected_version = "unchanged", cur["version"]  # the file says what the registry holds
        return
    editable = {f.name: cur.get(f.name) for f in ldef.editable_fields}
    for f in ldef.editable_fields:
        if f.type == "boolean" and editable[f.name] is not None:
            editable[f.name] = bool(editable[f.name])
    merged = dict(editable)
    merged.update(given)
    for f in ldef.fields:
        if f.derived and f.name not in given:
            merged.pop(f.name, None)
    new_geom = geom if (geom is not None and ldef.has_geometry) else cur.get("geom")
    checked = check_feature(ldef, merged, new_geom)
    if checked.problems:
        pf.op = "refused"
        pf.reason = "; ".join(f"{fld + ': ' if fld else ''}{msg}" for fld, msg in checked.problems)
        return
    norm, new_geom = checked.properties, checked.geometry
    wanted = {k: norm.get(k) for k in ldef.field_names if k in norm and k in editable}
    src_geom = new_geom if geom is not None else None
    base = None
    if lineage == "this registry" and pf.expected_version is not None and pf.expected_version < cur["version"]:
        base = _base(conn, ldef.name, pf.uuid, pf.expected_version)
    changes: dict[str, tuple[Any, Any]] = {}
    conflicts = []
    for k, v in wanted.items():
        c = cur.get(k)
        if base is not None and k in given:
            b = base.get(k)
            if _same(v, b):
                continue  # not changed in the file: the registry's value stands
            if not _same(c, b) and not _same(c, v):
                conflicts.append(k)
                continue
        if not _same(v, c):
            changes[k] = (c, v)
    geom_changed = False
    if src_geom is not None and not _same_geometry(src_geom, cur.get("geom")):
        if base is not None and _same_geometry(src_geom, base.get("geom")):
            pass
        elif base is not None and not _same_geometry(cur.get("geom"), base.get("geom")):
            conflicts.append("geometry")
        else:
            geom_changed = True
            changes["geometry"] = (_short(cur.get("geom")), _short(src_geom))
    want_retired = pf.retire if m.native else cur_retired
    if base is not None and m.native and want_retired == bool(base.get("retired_at")):
        want_retired = cur_retired  # the file did not retire or restore it: the registry's state stands
    if conflicts:
        pf.op = "refused"
        pf.reason = (f"conflict: {', '.join(conflicts)} changed both in the file (since version "
                     f"{pf.expected_version}) and in the registry (now version {cur['version']}); "
                     "use rallypoint merge or edit by hand")
        return
    pf.expected_version = cur["version"]
    pf.retire = want_retired and not cur_retired
    pf.restore = cur_retired and not want_retired
    pf.properties = {k: v for k, (_, v) in changes.items() if k != "geometry"}
    pf.geometry = src_geom if geom_changed else None
    pf.changes = changes
    if cur_retired and want_retired and changes:
        pf.op, pf.reason = "refused", "is retired in the registry and in the file; a retired feature is not changed"
    elif pf.restore:
        pf.op = "restore"
    elif pf.retire:
        pf.op = "retire"
    else:
        pf.op = "update" if changes else "unchanged"


def absent_rule(conn: Store, ldef: LayerDef, m: mp.ImportMapping,
            mapped: list[tuple[PlannedFeature, dict, dict]]) -> list[PlannedFeature]:
    """The profile's rule for features it imported before that this file no longer lists (a shelter closed)."""
    where = dict(m.absent.get("where", {}))
    sets = dict(m.absent.get("set", {}))
    stamp = m.absent.get("stamp")
    present = {pf.uuid for pf, _, _ in mapped if pf.uuid}
    if stamp:
        stamps = {given.get(stamp) for pf, given, _ in mapped if pf.op != "refused" and given.get(stamp)}
        if len(stamps) == 1:
            sets[stamp] = stamps.pop()
    clauses = " AND ".join(f"{quote(k)} = ?" for k in where) or "1"
    rows = conn.execute(f"SELECT uuid, name, version FROM {quote(ldef.name)} WHERE retired_at IS NULL AND {clauses}",
                        list(where.values())).fetchall()
    out = []
    for uid, name, version in rows:
        if uid in present:
            continue
        cur = current_states(conn, ldef, [uid])[uid]
        checked = check_feature(ldef, {**{f.name: cur.get(f.name) for f in ldef.editable_fields
                                          if not f.derived}, **sets}, cur.get("geom"))
        changes = {k: (cur.get(k), checked.properties.get(k)) for k in sets
                   if not _same(cur.get(k), checked.properties.get(k))}
        pf = PlannedFeature(ldef.name, uid, "update" if changes else "unchanged", f"{ldef.name} {uid} ({name})",
                            "(not in the file)", -1, {k: v for k, (_, v) in changes.items()}, None, changes,
                            expected_version=version)
        if checked.problems:
            pf.op, pf.reason = "refused", "; ".join(msg for _, msg in checked.problems)
        out.append(pf)
    return out
