"""What check-outs share whatever their source: the sync tables, reports, conflicts, a feature's local state."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from ..errors import RallypointError
from ..geometry_engine import engine
from ..registry import Feature, Registry
from ..registry.changes import ChangeOutcome, ChangeRequest, edit_state

BASE_TABLE = "rp_sync_base"
META_TABLE = "rp_sync"

_DDL = f"""
CREATE TABLE IF NOT EXISTS {META_TABLE} (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS {BASE_TABLE} (
    layer TEXT NOT NULL, uuid TEXT NOT NULL, server_version INTEGER NOT NULL, state TEXT NOT NULL,
    PRIMARY KEY (layer, uuid));
"""


class SyncError(RallypointError, RuntimeError):
    """The server cannot be reached, refuses the key, or the file is not a check-out."""


@dataclass(frozen=True)
class Conflict:
    """A feature changed both here and on the server since the last sync."""

    layer: str
    uuid: str
    reason: str
    local: dict[str, Any] | None = None
    server_version: int | None = None

    def __str__(self) -> str:
        return f"{self.layer} {self.uuid}: {self.reason}"


@dataclass
class SyncReport:
    """What a check-out, push or pull did."""

    created: int = 0
    updated: int = 0
    retired: int = 0
    conflicts: list[Conflict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.conflicts and not self.errors


def state(reg: Registry, feat: Feature) -> dict[str, Any]:
    """What a user edits of a feature: its editable fields and geometry (hex WKB)."""
    return edit_state(reg.layer(feat.layer), feat)


def sync_layers(reg: Registry, server_layers: set[str] | None = None) -> list[str]:
    """Versioned layers, each after the layers its fields refer to (depots before their stock)."""
    names = [n for n, d in reg.layers.items() if d.versioned and (server_layers is None or n in server_layers)]
    deps = {n: {f.references for f in reg.layers[n].fields if f.references in names and f.references != n}
            for n in names}
    order: list[str] = []
    while len(order) < len(names):
        ready = sorted(n for n in names if n not in order and deps[n] <= set(order))
        order.extend(ready or sorted(n for n in names if n not in order))  # a cycle: keep the rest as they are
    return order


def editable(reg: Registry, layer: str, props: dict[str, Any]) -> dict[str, Any]:
    ldef = reg.layer(layer)
    return {f.name: props.get(f.name) for f in ldef.editable_fields if f.name in props and not f.derived}


class CheckoutBase:
    def __init__(self, reg: Registry, create: bool = False):
        # the check-out's own connection (a check-out is always a GeoPackage, whatever it was checked out
        # from): one SQLite, one transaction discipline
        self.conn = reg._conn
        if create:
            self.conn.executescript(_DDL)

    def meta(self, key: str) -> str | None:
        row = self.conn.execute(f"SELECT value FROM {META_TABLE} WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute(f"INSERT OR REPLACE INTO {META_TABLE} VALUES (?, ?)", (key, value))

    def all(self, layer: str) -> dict[str, tuple[int, dict[str, Any]]]:
        rows = self.conn.execute(f"SELECT uuid, server_version, state FROM {BASE_TABLE} WHERE layer = ?", (layer,))
        return {u: (v, json.loads(s)) for u, v, s in rows}

    def set(self, layer: str, uuid: str, version: int, state: dict[str, Any]) -> None:
        self.conn.execute(f"INSERT OR REPLACE INTO {BASE_TABLE} VALUES (?, ?, ?, ?)",
                          (layer, uuid, version, json.dumps(state, ensure_ascii=False)))

    def drop(self, layer: str, uuid: str) -> None:
        self.conn.execute(f"DELETE FROM {BASE_TABLE} WHERE layer = ? AND uuid = ?", (layer, uuid))


# -- a push: the change set, the push's id kept until its answer is recorded, the answer recorded --------------
PUSH_KEY = "push_id"


def change_set(reg: Registry, base: CheckoutBase, todo: dict[str, dict[str, tuple[str, Feature]]],
               layers: list[str]) -> list[ChangeRequest]:
    """The local changes ``todo`` (see :func:`rallypoint.sync.pending`) as a change set: each made on the version
    the check-out last saw, with only the fields changed (and the geometry when it moved)."""
    out = []
    for layer in layers:
        known = base.all(layer)
        for uid, (kind, feat) in todo[layer].items():
            st = state(reg, feat)
            version, old = known.get(uid, (None, None))
            if kind == "new":
                props, geom = editable(reg, layer, feat.properties), feat.geometry
            elif kind == "retired":
                props, geom = {}, None
            else:
                changed = {k: v for k, v in st["properties"].items() if old["properties"].get(k) != v}
                props = editable(reg, layer, changed)
                geom = feat.geometry if st["geometry"] != old["geometry"] else None
            out.append(ChangeRequest(layer, uid, kind, version, props, geom, st))
    return out


def push_id(base: CheckoutBase) -> str:
    """The id of this check-out's push: the one of a push whose answer never came (sent again, it lands once), or a
    new one, kept in the check-out (committed) before anything is sent."""
    import uuid

    pid = base.meta(PUSH_KEY)
    if not pid:
        pid = uuid.uuid4().hex
        base.set_meta(PUSH_KEY, pid)
    return pid


def record_push(local: Registry, base: CheckoutBase, changes: list[ChangeRequest],
                outcomes: list[ChangeOutcome]) -> SyncReport:
    """Keep, in one transaction of the check-out, what the registry now has of each change, and forget the push's
    id: the push is done. Conflicts and refusals are reported; their local changes stay to be sent."""
    report = SyncReport()
    local.store.begin()
    try:
        for c, o in zip(changes, outcomes):
            if o.outcome == "conflict":
                report.conflicts.append(Conflict(c.layer, c.uuid, o.message, c.state, o.version))
                continue
            if o.outcome not in ("applied", "already"):
                report.errors.append(f"{c.layer} {c.uuid}: the registry refused the {c.kind} feature ({o.message})"
                                     if o.outcome == "refused" else f"{c.layer} {c.uuid}: the {c.kind} feature was "
                                                                    f"not sent ({o.message})")
                continue
            if c.kind == "retired":
                base.drop(c.layer, c.uuid)
                report.retired += 1
                continue
            written = c.state
            if o.outcome == "already" and o.feature is not None:  # what an earlier send (or someone) wrote there
                ldef = local.layer(c.layer)
                there = edit_state(ldef, o.feature)
                # derived fields are not taken from the source (editable()): the check-out's own are compared
                there["properties"].update({f.name: c.state["properties"].get(f.name) for f in ldef.fields
                                            if f.derived and f.name in there["properties"]})
                written = c.state if same_state(c.state, there) else there
            base.set(c.layer, c.uuid, o.version, written)
            if c.kind == "new":
                report.created += 1
            else:
                report.updated += 1
        base.conn.execute(f"DELETE FROM {META_TABLE} WHERE key = ?", (PUSH_KEY,))
    except BaseException:
        local.store.rollback()
        raise
    local.store.commit({}, "")
    return report


def _same_value(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-12)
    return a == b


def same_state(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two states of a feature say the same, read through different paths: numbers equal to 12 digits (a
    server's GeoJSON writes reals to 15), booleans as numbers, geometries equal within 1e-9 degrees; a field one
    of them does not hold is not compared."""
    if bool(a.get("retired")) != bool(b.get("retired")):
        return False
    pa, pb = a.get("properties", {}), b.get("properties", {})
    if not all(_same_value(v, pb[k]) for k, v in pa.items() if k in pb):
        return False
    ga, gb = a.get("geometry"), b.get("geometry")
    if ga is None or gb is None:
        return ga is None and gb is None
    if ga == gb:
        return True
    eng = engine()
    one, other = eng.from_wkb(bytes.fromhex(ga)), eng.from_wkb(bytes.fromhex(gb))
    if eng.geom_type(one) != eng.geom_type(other):
        return False
    va, vb = eng.vertices(one), eng.vertices(other)
    return len(va) == len(vb) and all(abs(xa - xb) <= 1e-9 and abs(ya - yb) <= 1e-9
                                      for (xa, ya), (xb, yb) in zip(va, vb))
