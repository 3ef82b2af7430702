"""Merge conflicts: listed and resolved (see :mod:`rallypoint.exchange.merge`, which records them).

A merge that meets a feature both sides changed differently keeps ours in the layer and
theirs, whole, in the registry's ``rp_conflicts`` table (the SQL is the stores'). Resolving
one writes, in **one batch**, the state chosen — ours as it stands, theirs for the fields in
conflict (and theirs retired or in use), or values chosen by hand — as one new version of
the feature (op ``resolve``, so the history names who settled it, when, and how), and marks
the conflict resolved with that resolution (who, how, the version written).

>>> reg.conflicts()                                                       # doctest: +SKIP
[MergeConflict(id=1, layer='shelters', uuid='…', kind='edit/edit', fields=('address',), …)]
>>> reg.resolve_conflict(1, keep="theirs", author="zhang.wei")            # doctest: +SKIP
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from ..errors import ConflictError, FeatureNotFoundError, Problem, ValidationError
from ..geometry_engine import engine
from ..storage.base import Store
from .batch import Batch
from .types import Feature, json_value

KEEPS = ("ours", "theirs")


class ConflictNotFoundError(FeatureNotFoundError):
    """No merge conflict with that id in the registry."""


class ConflictResolvedError(ConflictError):
    """The merge conflict was already resolved (by someone else, or by an earlier try)."""

    http_status = 409
    ogc_code = "Conflict"


@dataclass(frozen=True)
class MergeConflict:
    """One merge conflict as recorded: the states (``{"properties": …, "geometry": hex WKB}``) of the base, of
    ours when the merge met it, and of theirs; the fields in conflict; and, once resolved, how."""

    id: int
    layer: str
    uuid: str
    kind: str
    fields: tuple[str, ...]
    ours_version: int | None
    base: dict[str, Any] | None
    ours: dict[str, Any] | None
    theirs: dict[str, Any]
    theirs_from: str | None
    detected_at: str
    detected_by: str
    resolved_at: str | None = None
    resolution: dict[str, Any] | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> "MergeConflict":
        resolution = row.get("resolution")
        if resolution is not None:
            try:
                resolution = json.loads(resolution)
            except ValueError:  # a note written by hand
                resolution = {"note": resolution}
        return cls(int(row["id"]), row["layer"], row["uuid"], row["kind"], tuple(json_value(row["fields"]) or ()),
                   row.get("ours_version"), json_value(row.get("base")), json_value(row.get("ours")),
                   json_value(row["theirs"]), row.get("theirs_from"), row["detected_at"], row["detected_by"],
                   row.get("resolved_at"), resolution)

    @property
    def resolved(self) -> bool:
        return self.resolved_at is not None

    @property
    def name(self) -> str | None:
        for state in (self.theirs, self.ours, self.base):
            if state and state.get("properties", {}).get("name"):
                return state["properties"]["name"]
        return None

    def values(self) -> dict[str, tuple[Any, Any, Any]]:
        """Field → (base, ours when met, theirs) for every field in conflict (``geometry`` as hex WKB)."""
        def of(state: dict[str, Any] | None, f: str) -> Any:
            if not state:
                return None
            return state.get("geometry") if f == "geometry" else state.get("properties", {}).get(f)

        return {f: (of(self.base, f), of(self.ours, f), of(self.theirs, f)) for f in self.fields}

    def to_json(self) -> dict[str, Any]:
        """As the API and ``conflicts list --json`` give it."""
        return {"id": self.id, "layer": self.layer, "uuid": self.uuid, "name": self.name, "kind": self.kind,
                "fields": {f: {"base": b, "ours": o, "theirs": t} for f, (b, o, t) in self.values().items()},
                "ours_version": self.ours_version, "theirs_from": self.theirs_from, "detected_at": self.detected_at,
                "detected_by": self.detected_by, "resolved_at": self.resolved_at, "resolution": self.resolution}


class Conflicts:
    """The merge-conflict half of :class:`~rallypoint.registry.Registry` (its ``batch`` and store)."""

    _store: Store
    batch: Callable[..., AbstractContextManager[Batch]]

    def conflicts(self, *, resolved: bool | None = False) -> list[MergeConflict]:
        """The merge conflicts recorded, oldest first: the open ones (default), the resolved ones
        (``resolved=True``) or all (``resolved=None``)."""
        return [MergeConflict.from_row(r) for r in self._store.conflicts(resolved=resolved)]

    def conflict(self, conflict_id: int) -> MergeConflict:
        """One merge conflict, open or resolved."""
        rows = self._store.conflicts(resolved=None, conflict_id=int(conflict_id))
        if not rows:
            raise ConflictNotFoundError(f"no merge conflict {conflict_id} in this registry")
        return MergeConflict.from_row(rows[0])

    def resolve_conflict(self, conflict_id: int, *, keep: str = "ours", values: Mapping[str, Any] | None = None,
                         author: str, expected_version: int | None = None) -> tuple[MergeConflict, Feature]:
        """Resolve an open merge conflict, in one batch: keep ``ours`` (the feature as it stands) or ``theirs``
        (their values of the fields in conflict, and their feature retired or in use), then the chosen
        ``values`` (fields in conflict only; ``geometry`` as WKT or GeoJSON); written as one new version of the
        feature (op ``resolve``, ``author`` and the time in the history) and the conflict marked resolved.

        ``expected_version``: the feature's version the choice was made on (a change meanwhile: ConflictError).
        Returns the conflict as resolved and the feature as written. A value the layer's rules refuse raises
        ValidationError and nothing is written.
        """
        if keep not in KEEPS:
            raise ValueError(f"keep must be 'ours' or 'theirs', not {keep!r}")
        values = dict(values or {})
        with self.batch(author=author, note=None) as b:
            rows = self._store.conflicts(resolved=None, conflict_id=int(conflict_id), lock=True)
            if not rows:
                raise ConflictNotFoundError(f"no merge conflict {conflict_id} in this registry")
            c = MergeConflict.from_row(rows[0])
            if c.resolved:
                how = (c.resolution or {})
                raise ConflictResolvedError(f"merge conflict {c.id} was already resolved at {c.resolved_at} by "
                                            f"{how.get('by', '?')} (kept {how.get('keep', '?')})")
            other = sorted(k for k in values if k not in c.fields)
            if other:
                raise ValidationError([Problem(c.layer, f"feature {c.uuid}", k, (
                    f"is not in conflict {c.id} (its fields: {', '.join(c.fields)}); change it with an edit")) for k in other])
            changes, geometry, retired = _chosen(b, c, keep)
            geometry = values.pop("geometry", geometry)
            changes.update(values)
            chosen = "theirs" if keep == "theirs" else "ours"
            note = (f"merge conflict {c.id} ({c.kind}: {', '.join(c.fields) or 'retirement'}) resolved: kept {chosen}"
                    + (f", set {', '.join(sorted(values))}" if values else "")
                    + (f"; theirs from {c.theirs_from}" if c.theirs_from else ""))
            try:
                feat = b.settle(c.layer, c.uuid, changes, geometry, retired=retired,
                                expected_version=expected_version, note=note)
            except FeatureNotFoundError:
                raise FeatureNotFoundError(f"merge conflict {c.id}: {c.layer} has no feature {c.uuid} any more") from None
            if feat is None:
                return c, None  # type: ignore[return-value]  # the batch refuses on leaving (ValidationError)
            resolution = {"keep": chosen, "set": {k: _plain(v) for k, v in values.items()}, "by": b.author,
                          "version": feat.version}
            if not self._store.mark_resolved(c.id, b.now, json.dumps(resolution, ensure_ascii=False)):
                raise ConflictResolvedError(f"merge conflict {c.id} was resolved meanwhile")
        return MergeConflict(**{**c.__dict__, "resolved_at": b.now, "resolution": resolution}), feat


def _chosen(b: Batch, c: MergeConflict, keep: str) -> tuple[dict[str, Any], Any, bool | None]:
    """The changes, geometry and retirement ``keep`` stands for."""
    if keep == "ours":
        return {}, None, None
    props = c.theirs.get("properties", {})
    layer = b.layer(c.layer)
    changes = {f: props.get(f) for f in c.fields
               if f != "geometry" and layer.has_field(f) and not layer.field(f).system and not layer.field(f).derived}
    geometry = None
    if "geometry" in c.fields and c.theirs.get("geometry"):
        raw = c.theirs["geometry"]
        geometry = engine().from_wkb(bytes.fromhex(raw) if isinstance(raw, str) else raw)
    return changes, geometry, bool(props.get("retired_at"))


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    wkt = getattr(value, "wkt", None)  # a geometry: shapely's WKT (QGIS's geometries print theirs)
    return wkt if isinstance(wkt, str) else str(value)


__all__ = ["KEEPS", "Conflicts", "ConflictNotFoundError", "ConflictResolvedError", "MergeConflict"]
