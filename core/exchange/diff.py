"""``rallypoint diff A B``: what changed from A to B, feature by feature and field by field, keyed on UUID.

A and B are registries or exports (a QGIS-edited export too). A feature is the same
feature in both when it has the same **UUID**; fids mean nothing across files (an import
into another registry renumbers them). Compared are the fields both files have (an
export without personal data is compared on the rest, and the fields left out are named
in the notes), the geometry (equal within 1e-9°), and whether the feature is retired;
the registry's own stamps (version, created/updated at/by) are bookkeeping of each copy
and are compared only with ``stamps=True``. A feature missing from B is *absent*, not
retired: an export may hold a subset; a retirement is a ``retired_at`` that was set.

The comparison runs in SQLite with B attached to A (a join on the UUID index finds the
rows whose values differ), and only those rows are read into Python.

**geodiff** (``engine="geodiff"``): Mergin Maps' library makes changesets keyed on the
primary key, i.e. the fid. That fits two files of one lineage, the same rows with the
same fids, such as an export and the copy someone edited in QGIS: geodiff finds the
changed rows, and this module reads their UUIDs and compares them as above. It does not
fit in general, and the uuid engine is the default, because geodiff ignores every
``gpkg_*`` table (styles, aliases, metadata), fails when the two schemas differ (an export
without personal fields against its registry), and misreads a layer whose fids were
renumbered (an import into another registry) as deletes plus unrelated updates. When its
answer shows that (a fid whose UUID differs between A and B, a UUID deleted and inserted)
or geodiff refuses the pair, the diff falls back to the uuid engine and says so.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable


from ..storage.base import quote
from ..storage.gpkg import blobs
from ..plugins import default_plugin_manager, layer_catalog
from ..schema import LayerDef
from .gpkg_strict import open_geopackage
from .matching import _same, _same_geometry, _short

STAMPS = ("version", "created_at", "created_by", "updated_at", "updated_by")


@dataclass
class FeatureChange:
    layer: str
    uuid: str
    op: str  # insert | update | retire | restore | absent
    name: str | None
    fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)


@dataclass
class Diff:
    a: Path
    b: Path
    changes: list[FeatureChange]
    layers: list[str]
    notes: list[str] = field(default_factory=list)
    engine: str = "uuid"

    def counts(self) -> dict[str, int]:
        out = {op: 0 for op in ("insert", "update", "retire", "restore", "absent")}
        for c in self.changes:
            out[c.op] += 1
        return out

    @property
    def empty(self) -> bool:
        return not self.changes

    def to_dict(self) -> dict[str, Any]:
        return {"a": str(self.a), "b": str(self.b), "engine": self.engine, "layers": self.layers,
                "counts": self.counts(), "notes": self.notes,
                "changes": [{"layer": c.layer, "uuid": c.uuid, "op": c.op, "name": c.name,
                             "fields": {k: [o, n] for k, (o, n) in c.fields.items()}} for c in self.changes]}


def _geom(blob: Any):
    return blobs.decode(blob) if blob is not None else None


def _columns(conn: sqlite3.Connection, schema: str, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA {schema}.table_info({quote(table)})")]


def _layers(conn: sqlite3.Connection, catalog: dict[str, LayerDef], wanted: Iterable[str] | None,
            notes: list[str]) -> list[LayerDef]:
    a = {r[0] for r in conn.execute("SELECT table_name FROM main.gpkg_contents")}
    b = {r[0] for r in conn.execute("SELECT table_name FROM b.gpkg_contents")}
    names = [n for n, d in catalog.items() if d.versioned and (wanted is None or n in wanted)]
    out = []
    for n in names:
        if n in a and n in b:
            out.append(catalog[n])
        elif n in a or n in b:
            side, other = ("A", "main") if n in a else ("B", "b")
            count = conn.execute(f"SELECT count(*) FROM {other}.{quote(n)}").fetchone()[0]
            notes.append(f"layer {n} is only in {side} ({count} feature(s)); not compared")
    return out


def _rows(conn: sqlite3.Connection, schema: str, table: str, cols: list[str], uuids: list[str]) -> dict[str, tuple]:
    out = {}
    sel = ", ".join(quote(c) for c in ["uuid"] + cols)
    for i in range(0, len(uuids), 500):
        chunk = uuids[i:i + 500]
        for row in conn.execute(f"SELECT {sel} FROM {schema}.{quote(table)} WHERE uuid IN "
                                f"({', '.join('?' * len(chunk))})", chunk):
            out[row[0]] = row[1:]
    return out


def _candidates(conn: sqlite3.Connection, t: str, cond: str) -> tuple[list[str], list[str], list[str]]:
    """The UUIDs in both files whose rows differ (``cond``), those only in B and those only in A, each in fid
    order. Two files of one lineage (an export and its edited copy, a registry and its copy) often hold every
    feature at the same fid in both: then the rows are paired on the fid (the tables' own B-trees, read in
    order, as geodiff pairs them), twice as fast as through the UUID index; otherwise on the UUID."""
    pairs = conn.execute(f"SELECT count(*) FROM main.{t} a JOIN b.{t} b ON b.fid = a.fid WHERE b.uuid = a.uuid"
                         ).fetchone()[0]
    if pairs == conn.execute(f"SELECT count(*) FROM main.{t}").fetchone()[0] == \
            conn.execute(f"SELECT count(*) FROM b.{t}").fetchone()[0]:
        cand = [r[0] for r in conn.execute(
            f"SELECT a.uuid FROM main.{t} a JOIN b.{t} b ON b.fid = a.fid WHERE {cond} ORDER BY a.fid")]
        return cand, [], []
    cand = [r[0] for r in conn.execute(
        f"SELECT a.uuid FROM main.{t} a JOIN b.{t} b ON b.uuid = a.uuid WHERE {cond}")]
    inserted = [r[0] for r in conn.execute(
        f"SELECT uuid FROM b.{t} WHERE uuid NOT IN (SELECT uuid FROM main.{t}) ORDER BY fid")]
    absent = [r[0] for r in conn.execute(
        f"SELECT uuid FROM main.{t} WHERE uuid NOT IN (SELECT uuid FROM b.{t}) ORDER BY fid")]
    return cand, inserted, absent


def _diff_layer(conn: sqlite3.Connection, ldef: LayerDef, stamps: bool, notes: list[str],
                only: set[str] | None) -> list[FeatureChange]:
    t = quote(ldef.name)
    ca, cb = set(_columns(conn, "main", ldef.name)), set(_columns(conn, "b", ldef.name))
    wanted = [f.name for f in ldef.fields if not f.system or (stamps and f.name in STAMPS)]
    fields = [n for n in wanted if n in ca and n in cb]
    for side, have, other in (("A", ca, cb), ("B", cb, ca)):
        missing = [n for n in wanted if n not in have and n in other]
        if missing:
            notes.append(f"{ldef.name}: field(s) {', '.join(missing)} not in {side}; compared without them")
    geom = ["geom"] if ldef.has_geometry else []
    cols = fields + geom + ["retired_at"]
    name_col = "name" if "name" in fields else None
    cond = " OR ".join([f"a.{quote(c)} IS NOT b.{quote(c)}" for c in fields + geom] +
                       ["(a.retired_at IS NULL) <> (b.retired_at IS NULL)"])
    if only is None:
        cand, inserted, absent = _candidates(conn, t, cond)
    else:  # geodiff named the candidates
        ra = _rows(conn, "main", ldef.name, ["fid"], sorted(only))
        rb = _rows(conn, "b", ldef.name, ["fid"], sorted(only))
        cand = sorted(u for u in only if u in ra and u in rb)
        inserted = sorted(u for u in only if u in rb and u not in ra)
        absent = sorted(u for u in only if u in ra and u not in rb)
    out: list[FeatureChange] = []
    ra, rb = _rows(conn, "main", ldef.name, cols, cand), _rows(conn, "b", ldef.name, cols, cand)
    for uid in cand:
        va, vb = dict(zip(cols, ra[uid])), dict(zip(cols, rb[uid]))
        changed = {f: (va[f], vb[f]) for f in fields if not _same(va[f], vb[f])}
        if geom:
            ga, gb = _geom(va["geom"]), _geom(vb["geom"])
            if not _same_geometry(ga, gb):
                changed["geometry"] = (_short(ga), _short(gb))
        was, now = bool(va["retired_at"]), bool(vb["retired_at"])
        op = "retire" if now and not was else "restore" if was and not now else "update"
        if op != "update" or changed:
            out.append(FeatureChange(ldef.name, uid, op, vb.get(name_col) if name_col else None, changed))
    new = _rows(conn, "b", ldef.name, cols, inserted)
    for uid in inserted:
        vb = dict(zip(cols, new[uid]))
        flds = {f: (None, vb[f]) for f in fields if vb[f] is not None}
        if geom:
            flds["geometry"] = (None, _short(_geom(vb["geom"])))
        if vb["retired_at"]:
            flds["retired_at"] = (None, vb["retired_at"])
        out.append(FeatureChange(ldef.name, uid, "insert", vb.get(name_col) if name_col else None, flds))
    gone = _rows(conn, "main", ldef.name, [name_col] if name_col else ["uuid"], absent)
    for uid in absent:
        out.append(FeatureChange(ldef.name, uid, "absent", gone[uid][0] if name_col else None))
    return out


def _geodiff_candidates(a: Path, b: Path, layers: list[str]) -> dict[str, set[str]] | str:
    """UUIDs geodiff says changed, by layer; or why geodiff does not fit this pair (then: the uuid engine).

    Runs before this module opens either file: geodiff carries its own SQLite, which must
    not have a file open at the same time as Python's in one process.
    """
    import pygeodiff

    gd = pygeodiff.GeoDiff()
    gd.set_tables_to_include(layers)
    with tempfile.TemporaryDirectory() as d:
        cs, js = Path(d) / "changes.diff", Path(d) / "changes.json"
        try:
            gd.create_changeset(str(a), str(b), str(cs))
            gd.list_changes(str(cs), str(js))
        except pygeodiff.GeoDiffLibError as exc:
            return f"geodiff cannot compare these files ({exc}); compared on UUID instead"
        entries = json.loads(js.read_text(encoding="utf-8")).get("geodiff", [])
    uuid_col: dict[str, int] = {}
    with closing(sqlite3.connect(f"file:{a.resolve().as_posix()}?mode=ro", uri=True)) as conn:
        for t in layers:
            uuid_col[t] = _columns(conn, "main", t).index("uuid")
    found: dict[str, set[str]] = {t: set() for t in layers}
    inserted, deleted, fids = {t: set() for t in layers}, {t: set() for t in layers}, {t: set() for t in layers}
    for e in entries:
        t = e["table"]
        ch = {c["column"]: c for c in e["changes"]}
        u = ch.get(uuid_col[t], {})
        if e["type"] == "update":
            if "new" in u and u.get("new") != u.get("old"):
                return (f"geodiff matched {t} fid {ch[0].get('old')} across the files, but it holds a different "
                        "feature in each (fids renumbered); compared on UUID instead")
            fids[t].add(ch[0]["old"])
        elif e["type"] == "insert":
            inserted[t].add(u.get("new"))
        elif e["type"] == "delete":
            deleted[t].add(u.get("old"))
    for t in layers:
        if inserted[t] & deleted[t]:
            return (f"geodiff sees features of {t} deleted and inserted again (fids renumbered); "
                    "compared on UUID instead")
        found[t] |= inserted[t] | deleted[t]
    if any(fids.values()):
        with closing(sqlite3.connect(f"file:{a.resolve().as_posix()}?mode=ro", uri=True)) as conn:
            for t, fs in fids.items():
                fl = sorted(fs)
                for i in range(0, len(fl), 500):
                    chunk = fl[i:i + 500]
                    found[t] |= {r[0] for r in conn.execute(
                        f"SELECT uuid FROM {quote(t)} WHERE fid IN ({', '.join('?' * len(chunk))})", chunk)}
    return found


def diff_registries(a: str | Path, b: str | Path, *, layers: Iterable[str] | None = None, stamps: bool = False,
                    engine: str = "uuid", plugins=None) -> Diff:
    """Every change from registry/export ``a`` to ``b`` (see the module's description)."""
    a, b = Path(a), Path(b)
    if engine not in ("uuid", "geodiff"):
        raise ValueError(f"engine must be 'uuid' or 'geodiff', not {engine!r}")
    catalog = layer_catalog(plugins or default_plugin_manager())
    notes: list[str] = []
    with closing(open_geopackage(b)):
        pass  # B is checked to be a GeoPackage before it is attached
    with closing(open_geopackage(a)) as conn:
        conn.execute("ATTACH DATABASE ? AS b", (f"file:{b.resolve().as_posix()}?mode=ro",))
        compared = _layers(conn, catalog, layers, notes)
    candidates: dict[str, set[str]] | None = None
    used = engine
    if engine == "geodiff" and compared:
        got = _geodiff_candidates(a, b, [d.name for d in compared])
        if isinstance(got, str):
            notes.append(got)
            used = "uuid (geodiff did not fit)"
        else:
            candidates = got
    changes: list[FeatureChange] = []
    with closing(open_geopackage(a)) as conn:
        conn.execute("ATTACH DATABASE ? AS b", (f"file:{b.resolve().as_posix()}?mode=ro",))
        for ldef in compared:
            changes.extend(_diff_layer(conn, ldef, stamps, notes,
                                       None if candidates is None else candidates.get(ldef.name, set())))
    return Diff(a, b, changes, [d.name for d in compared], notes, used)
