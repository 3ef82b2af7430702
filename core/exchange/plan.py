"""What an import will do: one :class:`PlannedFeature` per source feature, and the plan as a report.

Made by :func:`.importer.plan_import`, applied by :func:`.apply.apply_import`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable

from ..errors import RallypointError
from .readers import Source

class ImportRefused(RallypointError, ValueError):
    """The import as a whole cannot go ahead (nothing maps, an option is missing); nothing was written."""

    http_status = 400
    ogc_code = "InvalidParameterValue"


@dataclass
class PlannedFeature:
    """What the import does with one source feature."""

    layer: str
    uuid: str | None
    op: str  # insert | update | retire | restore | unchanged | refused
    label: str
    source_layer: str
    row: int
    properties: dict[str, Any] = field(default_factory=dict)  # insert: all (its uuid too); update: the changed fields
    geometry: Any = None  # in EPSG:4490; for an update only when it changed
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    retire: bool = False
    restore: bool = False
    expected_version: int | None = None
    reason: str | None = None
    fallbacks: tuple[str, ...] = ()


@dataclass
class LayerChoice:
    source_layer: str
    target: str
    mapping: str
    crs: str | None
    features: int


@dataclass
class ImportPlan:
    source: Source
    choices: list[LayerChoice]
    features: list[PlannedFeature]
    skipped: list[tuple[str, str]]
    notes: list[str]
    lineage: str  # "this registry" | "another registry" | "foreign"
    warnings: list[str] = field(default_factory=list)  # read, but not as the file meant it (Z dropped …)

    def counts(self) -> dict[str, int]:
        c = Counter(f.op for f in self.features)
        return {op: c.get(op, 0) for op in ("insert", "update", "retire", "restore", "unchanged", "refused")}

    @property
    def refused(self) -> list[PlannedFeature]:
        return [f for f in self.features if f.op == "refused"]

    @property
    def changes(self) -> list[PlannedFeature]:
        return [f for f in self.features if f.op in ("insert", "update", "retire", "restore")]


def describe_choices(plan: ImportPlan) -> Iterable[str]:
    for c in plan.choices:
        yield f"{c.source_layer} → {c.target} ({c.mapping}; {c.features} feature(s); CRS {c.crs or 'none'})"


def plan_to_dict(plan: ImportPlan) -> dict[str, Any]:
    """The plan as JSON-ready data (the ``--report`` file)."""
    def feat(f: PlannedFeature) -> dict[str, Any]:
        d = {"layer": f.layer, "uuid": f.uuid, "op": f.op, "label": f.label}
        if f.changes and f.op != "insert":
            d["fields"] = {k: [a, b] for k, (a, b) in f.changes.items()}
        if f.reason:
            d["reason"] = f.reason
        return d

    return {
        "source": str(plan.source.path), "format": plan.source.format, "lineage": plan.lineage,
        "layers": [c.__dict__ for c in plan.choices], "skipped": [{"layer": n, "reason": r} for n, r in plan.skipped],
        "notes": plan.notes, "warnings": plan.warnings, "counts": plan.counts(),
        "changes": [feat(f) for f in plan.changes], "refused": [feat(f) for f in plan.refused],
    }
