"""Edits made in a desktop GIS, applied to the registry as one validated batch.

A GIS (the QGIS plugin) keeps a user's unsaved edits in a buffer: features added,
attribute values and geometries changed, features deleted. :func:`apply_edits` turns
such a buffer, given as plain Python values, into registry calls inside one
:meth:`Registry.batch`: every feature is checked by the core's validators, new ones get
UUIDs and stamps, changed ones are written with ``expected_version`` (a feature changed
by someone else since it was read is a :class:`~rallypoint.errors.ConflictError`),
deletions retire, and each change is one row of the history with the GIS user as author.
Any problem writes nothing. Nothing here knows Qt or QGIS.

>>> edits = LayerEdits("shelters", added=[({"name": "…", ...}, "POINT (104.06 30.66)")])  # doctest: +SKIP
>>> apply_edits(reg, [edits], author="zhang.wei")                                        # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from .errors import Problem, ValidationError

if TYPE_CHECKING:  # pragma: no cover
    from .registry import Registry


@dataclass
class ChangedFeature:
    """One stored feature whose attributes and/or geometry were edited."""

    uuid: str
    expected_version: int | None
    changes: dict[str, Any] = field(default_factory=dict)
    geometry: Any = None  # anything Registry accepts (WKB, WKT, GeoJSON, the engine's own); None = unchanged


@dataclass
class LayerEdits:
    """The pending edits of one layer."""

    layer: str
    added: list[tuple[dict[str, Any], Any]] = field(default_factory=list)  # (properties, geometry)
    changed: list[ChangedFeature] = field(default_factory=list)
    deleted: list[tuple[str, int | None]] = field(default_factory=list)  # (uuid, expected_version)

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.deleted)


@dataclass
class AppliedEdits:
    """What a batch of edits did: UUIDs of new features, counts of updates and retirements."""

    added: dict[str, list[str]] = field(default_factory=dict)  # layer -> new UUIDs, in the order given
    updated: int = 0
    retired: int = 0


def _new_properties(layer, props: Mapping[str, Any]) -> dict[str, Any]:
    """A new feature's values without the fid and the registry's empty stamps (a form shows them, blank)."""
    out = {}
    for name, value in props.items():
        if name == "fid":
            continue
        if layer.has_field(name) and layer.field(name).system and value is None:
            continue
        out[name] = value
    return out


def apply_edits(registry: "Registry", edits: Iterable[LayerEdits], *, author: str,
                note: str | None = None) -> AppliedEdits:
    """Apply the edits of one or more layers in one transaction (all or nothing).

    Raises :class:`ValidationError` listing every refused feature and field, or
    :class:`ConflictError` when a changed or deleted feature has a newer version in the
    registry than the one the edit started from.
    """
    done = AppliedEdits()
    with registry.batch(author=author, note=note) as b:
        for e in edits:
            layer = registry.layer(e.layer)
            new = done.added.setdefault(e.layer, [])
            for props, geom in e.added:
                uid = b.add(e.layer, _new_properties(layer, props), geom)
                if uid is not None:
                    new.append(uid)
            for c in e.changed:
                changes = {k: v for k, v in c.changes.items() if k != "fid"}
                if b.update(e.layer, c.uuid, changes, c.geometry, expected_version=c.expected_version) is not None:
                    done.updated += 1
            for uid, version in e.deleted:
                if not layer.versioned:
                    b.problems.append(Problem(e.layer, f"feature {uid}", None,
                                              "reference data cannot be deleted one feature at a time"))
                    continue
                if b.retire(e.layer, uid, expected_version=version) is not None:
                    done.retired += 1
    return done


__all__ = ["AppliedEdits", "ChangedFeature", "LayerEdits", "ValidationError", "apply_edits"]
