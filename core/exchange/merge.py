"""``rallypoint merge``: take in another bureau's changes since a common base, never losing an edit.

Three files: **ours** (the registry written to), **theirs** (the other bureau's registry or
export) and the **base** they both started from (the export that was exchanged). The
changes of each side are :func:`.diff.diff_registries` from the base, keyed on UUID; then,
feature by feature:

* changed only by them: their change is applied (insert, field updates, retire, restore);
* changed by both: the fields only they changed are applied, the fields both changed to
  the same value are nothing to do; a field both changed **differently**, or a feature one
  side retired while the other edited it, is a **conflict**: ours stays in the layer and
  theirs is kept, whole, in the ``rp_conflicts`` table (with the base and our version,
  the fields in conflict, when and from where), for someone to decide. Nothing is dropped.

Why a table, not a retired copy of their feature in the layer: a copy would need a new
UUID (the UUID is the feature's identity in every bureau), would show up in exports and
analyses as a feature of its own, and could not be told from a real retirement.
``rp_conflicts`` is an attributes table registered in ``gpkg_contents``, so QGIS and GDAL
list it; an unresolved conflict recorded once is not recorded again by a repeated merge.

Everything is written in one ``Registry.batch``: checked, stamped, in the history, all or
nothing. geodiff's own rebase is not used: it merges on fids and ignores tables without
a primary key and the ``gpkg_*`` tables, and records conflicts as JSON beside the file;
here identity is the UUID and conflicts stay in the registry.
"""

from __future__ import annotations

import json
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import shapely

from .. import geometry as geo
from ..gpkgfile import quote
from ..registry import Registry
from .diff import FeatureChange, diff_registries
from .gpkg_strict import open_geopackage

CONFLICTS_TABLE = "rp_conflicts"
_DDL = f"""CREATE TABLE IF NOT EXISTS {CONFLICTS_TABLE} (
  id INTEGER PRIMARY KEY AUTOINCREMENT, layer TEXT NOT NULL, uuid TEXT NOT NULL, kind TEXT NOT NULL,
  fields TEXT NOT NULL, ours_version INTEGER, base TEXT, ours TEXT, theirs TEXT NOT NULL, theirs_from TEXT,
  detected_at DATETIME NOT NULL, detected_by TEXT NOT NULL, resolved_at DATETIME, resolution TEXT)"""


@dataclass
class Conflict:
    layer: str
    uuid: str
    name: str | None
    kind: str  # edit/edit | retired-by-them/edited-by-us | edited-by-them/retired-by-us | insert/insert
    fields: dict[str, tuple[Any, Any, Any]]  # field → (base, ours, theirs)
    recorded: bool = True  # False when an identical unresolved conflict was already in rp_conflicts


@dataclass
class MergeResult:
    ours: Path
    theirs: Path
    base: Path
    applied: list[FeatureChange]
    conflicts: list[Conflict]
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False

    def counts(self) -> dict[str, int]:
        out = {op: 0 for op in ("insert", "update", "retire", "restore")}
        for c in self.applied:
            out[c.op] += 1
        out["conflicts"] = len(self.conflicts)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"ours": str(self.ours), "theirs": str(self.theirs), "base": str(self.base), "dry_run": self.dry_run,
                "counts": self.counts(), "notes": self.notes,
                "applied": [{"layer": c.layer, "uuid": c.uuid, "op": c.op, "name": c.name,
                             "fields": {k: [o, n] for k, (o, n) in c.fields.items()}} for c in self.applied],
                "conflicts": [{"layer": c.layer, "uuid": c.uuid, "name": c.name, "kind": c.kind,
                               "fields": {k: list(v) for k, v in c.fields.items()}, "recorded": c.recorded}
                              for c in self.conflicts]}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, shapely.Geometry) or isinstance(b, shapely.Geometry):
        if a is None or b is None:
            return a is None and b is None
        return a.geom_type == b.geom_type and bool(shapely.equals_exact(a, b, tolerance=1e-9))
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    return a == b


def _states(path: Path, layer: str, uuids: list[str]) -> dict[str, dict[str, Any]]:
    """Full rows (every column present, geometry decoded) by UUID, read through Python's sqlite3."""
    out: dict[str, dict[str, Any]] = {}
    if not uuids:
        return out
    with closing(open_geopackage(path)) as conn:
        cols = [r[1] for r in conn.execute(f"PRAGMA table_info({quote(layer)})")]
        for i in range(0, len(uuids), 500):
            chunk = uuids[i:i + 500]
            sql = (f"SELECT {', '.join(quote(c) for c in cols)} FROM {quote(layer)} "
                   f"WHERE uuid IN ({', '.join('?' * len(chunk))})")
            for row in conn.execute(sql, chunk):
                rec = dict(zip(cols, row))
                if "geom" in rec:
                    rec["geometry"] = geo.decode(rec.pop("geom"))
                rec.pop("fid", None)
                out[rec["uuid"]] = rec
    return out


def _json_state(rec: dict[str, Any] | None) -> str | None:
    if rec is None:
        return None
    props = {k: v for k, v in rec.items() if k != "geometry"}
    g = rec.get("geometry")
    return json.dumps({"properties": props, "geometry": None if g is None else
                       shapely.to_wkb(g, hex=True, byte_order=1, output_dimension=2)}, ensure_ascii=False)


def ensure_conflicts_table(conn, now: str) -> None:
    """Create ``rp_conflicts`` and register it in ``gpkg_contents`` (an attributes table) if it is missing."""
    conn.execute(_DDL)
    conn.execute("INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description, last_change) "
                 "VALUES (?, 'attributes', ?, ?, ?)",
                 (CONFLICTS_TABLE, "合并冲突", ("Merge conflicts: the other bureau's version of features both sides "
                                              "changed (ours stays in the layer)"), now))


def _editable(reg: Registry, layer: str) -> list[str]:
    return [f.name for f in reg.layer(layer).editable_fields]


def merge_registries(ours: str | Path, theirs: str | Path, base: str | Path, *, author: str, dry_run: bool = False,
                     layers: Iterable[str] | None = None) -> MergeResult:
    """Merge their changes since ``base`` into ``ours`` (see the module's description)."""
    ours, theirs, base = Path(ours), Path(theirs), Path(base)
    d_ours = diff_registries(base, ours, layers=layers)
    d_theirs = diff_registries(base, theirs, layers=layers)
    mine = {(c.layer, c.uuid): c for c in d_ours.changes if c.op != "absent"}
    result = MergeResult(ours, theirs, base, [], [], dry_run=dry_run)
    absent = sum(1 for c in d_theirs.changes if c.op == "absent")
    if absent:
        result.notes.append(f"{absent} feature(s) of the base are not in theirs (a subset?): not treated as retired")
    result.notes += [f"theirs: {n}" for n in d_theirs.notes if "only in" in n]
    todo = [c for c in d_theirs.changes if c.op != "absent"]
    by_layer: dict[str, list[str]] = {}
    for c in todo:
        by_layer.setdefault(c.layer, []).append(c.uuid)
    with Registry.open(ours) as reg:
        now_state = {name: _states(ours, name, u) for name, u in by_layer.items()}
        their_state = {name: _states(theirs, name, u) for name, u in by_layer.items()}
        base_state = {name: _states(base, name, u) for name, u in by_layer.items()}
        plan: list[tuple[str, FeatureChange, dict[str, Any], dict[str, Any]]] = []  # (action, change, values, cur)
        for tc in todo:
            cur = now_state[tc.layer].get(tc.uuid)
            th = their_state[tc.layer][tc.uuid]
            fields = _editable(reg, tc.layer) + (["geometry"] if reg.layer(tc.layer).has_geometry else [])
            fields = [f for f in fields if f in th]
            if tc.op == "insert":
                if cur is None:
                    plan.append(("insert", tc, {f: th[f] for f in fields}, {"retired": bool(th.get("retired_at"))}))
                    continue
                diff_f = {f: (None, cur.get(f), th.get(f)) for f in fields
                          if f in cur and not _same(cur.get(f), th.get(f))}
                if diff_f:
                    conflict = Conflict(tc.layer, tc.uuid, tc.name, "insert/insert", diff_f)
                    result.conflicts.append(conflict)
                    plan.append(("conflict", tc, {}, {"cur": cur, "theirs": th, "base": None, "conflict": conflict}))
                continue
            if cur is None:
                result.notes.append(f"{tc.layer} {tc.uuid}: changed by them but not in ours; skipped")
                continue
            bs = base_state[tc.layer].get(tc.uuid, {})
            oc = mine.get((tc.layer, tc.uuid))
            t_fields = {f for f in fields if not _same(bs.get(f), th.get(f))}
            o_fields = {f for f in fields if f in cur and not _same(bs.get(f), cur.get(f))} if oc else set()
            clash = {f for f in t_fields & o_fields if not _same(cur.get(f), th.get(f))}
            take = {f: th[f] for f in t_fields - o_fields if f in cur}
            t_ret, o_ret = bool(th.get("retired_at")), bool(cur.get("retired_at"))
            b_ret = bool(bs.get("retired_at"))
            kind = None
            if clash:
                kind = "edit/edit"
            if t_ret != b_ret and o_ret == b_ret and o_fields:
                kind = "retired-by-them/edited-by-us" if t_ret else "restored-by-them/edited-by-us"
            elif o_ret != b_ret and t_ret == b_ret and t_fields:
                kind = "edited-by-them/retired-by-us" if o_ret else "edited-by-them/restored-by-us"
            if kind:
                conflict = Conflict(tc.layer, tc.uuid, tc.name, kind, {
                    f: (bs.get(f), cur.get(f), th.get(f)) for f in sorted(clash or t_fields, key=str)})
                result.conflicts.append(conflict)
                plan.append(("conflict", tc, {}, {"cur": cur, "theirs": th, "base": bs or None, "conflict": conflict}))
            retire = t_ret and not o_ret and not kind
            restore = o_ret and not t_ret and b_ret and not kind
            if o_ret and not restore:
                take = {}  # a feature retired on our side is not changed
            if take or retire or restore:
                plan.append(("apply", tc, take, {"retire": retire, "restore": restore, "version": cur["version"]}))
        _write(reg, plan, result, author=author, source=theirs, dry_run=dry_run)
    return result


def _write(reg: Registry, plan, result: MergeResult, *, author: str, source: Path, dry_run: bool) -> None:
    class _DryRun(Exception):
        pass

    note = f"merge: changes of {source.name}"
    try:
        with reg.batch(author=author, note=note) as b:
            conn = b._conn  # rp_conflicts is written in the batch's own transaction: all or nothing
            ensure_conflicts_table(conn, b.now)
            for action, tc, values, extra in plan:
                if action == "insert":
                    props = {k: v for k, v in values.items() if k != "geometry"}
                    props["uuid"] = tc.uuid
                    if b.add(tc.layer, props, values.get("geometry")) and extra["retired"]:
                        b.retire(tc.layer, tc.uuid, reason=note)
                    result.applied.append(FeatureChange(tc.layer, tc.uuid, "insert", tc.name, tc.fields))
                elif action == "apply":
                    v = extra["version"]
                    if extra["restore"]:
                        b.restore(tc.layer, tc.uuid, expected_version=v, note=note)
                        v += 1
                    props = {k: val for k, val in values.items() if k != "geometry"}
                    if props or "geometry" in values:
                        b.update(tc.layer, tc.uuid, props, values.get("geometry"), expected_version=v, note=note)
                        v += 1
                    if extra["retire"]:
                        b.retire(tc.layer, tc.uuid, expected_version=v, reason=note)
                    op = "restore" if extra["restore"] else "retire" if extra["retire"] else "update"
                    shown = {k: tc.fields[k] for k in (list(values) if values else []) if k in tc.fields}
                    result.applied.append(FeatureChange(tc.layer, tc.uuid, op, tc.name, shown))
                else:
                    conflict = extra["conflict"]
                    theirs = _json_state(extra["theirs"])
                    seen = conn.execute(f"SELECT 1 FROM {CONFLICTS_TABLE} WHERE layer = ? AND uuid = ? AND theirs = ? "
                                        "AND resolved_at IS NULL", (tc.layer, tc.uuid, theirs)).fetchone()
                    if seen:
                        conflict.recorded = False
                        continue
                    conn.execute(
                        f"INSERT INTO {CONFLICTS_TABLE} (layer, uuid, kind, fields, ours_version, base, ours, theirs,"
                        " theirs_from, detected_at, detected_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (tc.layer, tc.uuid, conflict.kind, json.dumps(sorted(conflict.fields), ensure_ascii=False),
                         extra["cur"].get("version"), _json_state(extra["base"]), _json_state(extra["cur"]), theirs,
                         str(source), b.now, author))
            if dry_run and not b.problems:
                raise _DryRun()
    except _DryRun:
        pass


def unresolved_conflicts(registry: str | Path) -> list[dict[str, Any]]:
    """The conflicts recorded in ``registry`` that nobody has resolved yet."""
    with closing(open_geopackage(registry)) as conn:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (CONFLICTS_TABLE,)).fetchone():
            return []
        cols = [r[1] for r in conn.execute(f"PRAGMA table_info({CONFLICTS_TABLE})")]
        return [dict(zip(cols, r)) for r in conn.execute(
            f"SELECT * FROM {CONFLICTS_TABLE} WHERE resolved_at IS NULL ORDER BY id")]
