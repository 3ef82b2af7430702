"""What check-outs share whatever their source: the sync tables, reports, conflicts, a feature's local state."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..errors import RallypointError
from ..geometry_engine import engine
from ..registry import Feature, Registry

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
    ldef = reg.layer(feat.layer)
    return {
        "properties": {f.name: feat.properties.get(f.name) for f in ldef.editable_fields},
        "geometry": None if feat.geometry is None else engine().to_wkb(feat.geometry).hex().upper(),
        "retired": feat.retired,
    }


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
