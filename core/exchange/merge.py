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
list it; a conflict recorded once (open, or since resolved) is not recorded again by a repeated merge.
They are listed and resolved with :meth:`Registry.conflicts` and :meth:`Registry.resolve_conflict`
(``rallypoint conflicts``, ``GET /conflicts``).

Everything is written in one ``Registry.batch``: checked, stamped, in the history, all or
nothing. geodiff's own rebase is not used: it merges on fids and ignores tables without
a primary key and the ``gpkg_*`` tables, and records conflicts as JSON beside the file;
here identity is the UUID and conflicts stay in the registry.

Any of the three may be a PostGIS registry (a ``postgresql://`` URL): the diffs are computed
on GeoPackage snapshots taken in one ``REPEATABLE READ`` transaction each
(:mod:`.snapshots`), and the writes into a PostGIS ``ours`` go through its batch like any
other, each update guarded by the version the snapshot saw, so an edit made meanwhile makes
the merge fail whole (run it again) instead of being overwritten. ``rp_conflicts`` is then a
table of the database (the versions as ``jsonb``); its SQL is in the stores.
"""

from __future__ import annotations

import json
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import shapely

from ..errors import ConflictError
from ..registry import Registry
from ..storage import backend_for
from ..storage.base import CONFLICTS_TABLE, quote
from ..storage.gpkg import blobs as gpkg_blobs
from .diff import FeatureChange, diff_registries
from .gpkg_strict import open_geopackage
from .snapshots import as_files

__all__ = ["CONFLICTS_TABLE", "Conflict", "MergeResult", "merge_registries", "unresolved_conflicts"]


@dataclass
class Conflict:
    layer: str
    uuid: str
    name: str | None
    kind: str  # edit/edit | retired-by-them/edited-by-us | edited-by-them/retired-by-us | insert/insert
    fields: dict[str, tuple[Any, Any, Any]]  # field → (base, ours, theirs)
    recorded: bool = True  # False when an identical conflict was already in rp_conflicts (open or resolved)


@dataclass
class MergeResult:
    ours: Path | str  # a file, or a PostGIS registry's URL without its password
    theirs: Path | str
    base: Path | str
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
                    rec["geometry"] = gpkg_blobs.decode(rec.pop("geom"))
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


def _editable(reg: Registry, layer: str) -> list[str]:
    return [f.name for f in reg.layer(layer).editable_fields]


def _where(location: str | Path) -> Path | str:
    backend = backend_for(location)
    return Path(location) if backend.is_file else backend.label


def merge_registries(ours: str | Path, theirs: str | Path, base: str | Path, *, author: str, dry_run: bool = False,
                     layers: Iterable[str] | None = None) -> MergeResult:
    """Merge their changes since ``base`` into ``ours`` (see the module's description); each may be a file
    or a PostGIS registry's URL."""
    with as_files(ours, theirs, base) as (ours_file, theirs_file, base_file):
        return _merge(ours, Path(ours_file), Path(theirs_file), Path(base_file), _where(theirs), _where(base),
                      author=author, dry_run=dry_run, layers=layers)


def _merge(ours: str | Path, ours_file: Path, theirs: Path, base: Path, theirs_name: Path | str,
           base_name: Path | str, *, author: str, dry_run: bool, layers: Iterable[str] | None) -> MergeResult:
    """The merge, with ``ours_file``, ``theirs`` and ``base`` GeoPackages (``ours_file`` is ``ours`` itself or
    a snapshot of it); the writes go to the registry ``ours``."""
    d_ours = diff_registries(base, ours_file, layers=layers)
    d_theirs = diff_registries(base, theirs, layers=layers)
    mine = {(c.layer, c.uuid): c for c in d_ours.changes if c.op != "absent"}
    result = MergeResult(_where(ours), theirs_name, base_name, [], [], dry_run=dry_run)
    absent = sum(1 for c in d_theirs.changes if c.op == "absent")
    if absent:
        result.notes.append(f"{absent} feature(s) of the base are not in theirs (a subset?): not treated as retired")
    result.notes += [f"theirs: {n}" for n in d_theirs.notes if "only in" in n]
    todo = [c for c in d_theirs.changes if c.op != "absent"]
    by_layer: dict[str, list[str]] = {}
    for c in todo:
        by_layer.setdefault(c.layer, []).append(c.uuid)
    with Registry.open(ours) as reg:
        now_state = {name: _states(ours_file, name, u) for name, u in by_layer.items()}
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
        try:
            _write(reg, plan, result, author=author, source=theirs_name, dry_run=dry_run)
        except ConflictError as exc:  # ours changed between its snapshot and the writes: nothing was written
            raise ConflictError(f"{result.ours} changed while it was being merged ({exc}); nothing was merged, "
                                "run the merge again", current_version=exc.current_version) from None
    return result


def _write(reg: Registry, plan, result: MergeResult, *, author: str, source: Path | str, dry_run: bool) -> None:
    class _DryRun(Exception):
        pass

    note = f"merge: changes of {source.name if isinstance(source, Path) else source}"
    store = reg.store  # rp_conflicts is written in the batch's own transaction: all or nothing
    try:
        with reg.batch(author=author, note=note) as b:
            store.ensure_conflicts_table(b.now)
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
                    if store.conflict_recorded(tc.layer, tc.uuid, theirs):
                        conflict.recorded = False
                        continue
                    store.record_conflict({
                        "layer": tc.layer, "uuid": tc.uuid, "kind": conflict.kind,
                        "fields": json.dumps(sorted(conflict.fields), ensure_ascii=False),
                        "ours_version": extra["cur"].get("version"), "base": _json_state(extra["base"]),
                        "ours": _json_state(extra["cur"]), "theirs": theirs, "theirs_from": str(source),
                        "detected_at": b.now, "detected_by": author})
            if dry_run and not b.problems:
                raise _DryRun()
    except _DryRun:
        pass


def unresolved_conflicts(registry: str | Path) -> list[dict[str, Any]]:
    """The conflicts recorded in ``registry`` (a file or a PostGIS URL) that nobody has resolved yet."""
    with Registry.open(registry, readonly=True) as reg:
        return reg.store.unresolved_conflicts()
