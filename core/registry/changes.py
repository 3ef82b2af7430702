"""A change set applied in one batch: what a check-out's push sends, with the base version of each feature.

Both pushes use it: a direct push (:mod:`rallypoint.sync.direct`) calls it on the registry, and a
push to a server sends the change set in **one** request (``POST /transactions``,
:mod:`rallypoint.api.features.changes`), which calls it there. The rules are those of a single
write, for each feature of the set:

* a change is made on the version its sender last saw (``base_version``, as ``If-Match``): a feature
  changed meanwhile is a **conflict**, reported and left out, never overwritten;
* a feature the registry's rules refuse is **refused** with the rule's message, and left out;
* with ``semantic="batch"`` the rest is written, in one transaction (all of it or, if the process
  dies, none of it); with ``semantic="atomic"`` nothing is written unless every change goes in.

**Idempotent.** The sender names the push (``push_id``, chosen by the client and kept until it knows
the push landed) and every history row the push writes carries it in its note. A push sent again
after its answer was lost finds its own rows: those features are **already applied** (with the
version and state they were written with), nothing is written twice. A feature whose state in the
registry is already the one sent (an older client, a push retried under another id) is taken as
already applied too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from ..errors import ConflictError, FeatureNotFoundError, Problem, ValidationError
from ..geometry_engine import engine
from ..schema import LayerDef
from .types import Feature

KINDS = ("new", "changed", "retired")
SEMANTICS = ("batch", "atomic")
PUSH_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{7,63}")
_FAILED = ("conflict", "missing", "refused")


def edit_state(layer: LayerDef, feat: Feature) -> dict[str, Any]:
    """What a user edits of a feature: its editable fields (those ``layer`` holds), geometry (hex WKB), retired."""
    return {
        "properties": {f.name: feat.properties.get(f.name) for f in layer.editable_fields},
        "geometry": None if feat.geometry is None else engine().to_wkb(feat.geometry).hex().upper(),
        "retired": feat.retired,
    }


@dataclass(frozen=True)
class ChangeRequest:
    """One change of a change set: a ``new`` feature (every field given), a ``changed`` one (the fields changed,
    and the geometry when it moved) or a ``retired`` one, made on ``base_version``."""

    layer: str
    uuid: str
    kind: str
    base_version: int | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    geometry: Any = None  # the geometry engine's own (shapely's, QGIS's in QGIS)
    state: dict[str, Any] | None = None  # the whole state sent (edit_state), to know it when it is already there


@dataclass
class ChangeOutcome:
    """What became of one change: ``applied`` (``version`` written), ``already`` (applied by an earlier send of
    this push, or the registry already holds this state), ``conflict``, ``refused`` or ``missing``."""

    layer: str
    uuid: str
    kind: str
    outcome: str
    version: int | None = None
    message: str = ""
    problems: list[Problem] = field(default_factory=list)
    feature: Feature | None = None  # for ``already``: the feature as this push (or someone) left it


class _Again(Exception):
    """Some changes were refused: the batch is rolled back and made again without them."""


def push_note(note: str, push_id: str | None) -> str:
    return f"{note} [push {push_id}]" if push_id else note


def apply_change_set(reg, changes: Iterable[ChangeRequest], *, author: str, note: str, push_id: str | None = None,
                     semantic: str = "batch", progress: Callable[[int], None] | None = None) -> list[ChangeOutcome]:
    """Apply ``changes`` to the registry ``reg`` in one batch (see the module's description); one outcome per change,
    in their order. Raises ValidationError only for a problem no change can be blamed for."""
    if semantic not in SEMANTICS:
        raise ValueError(f"semantic must be one of {', '.join(SEMANTICS)}, not {semantic!r}")
    if push_id is not None and not PUSH_ID.fullmatch(push_id):
        raise ValueError(f"a push id is 8 to 64 letters, digits, '.', '_' or '-', not {push_id!r}")
    work = list(changes)
    for c in work:
        if c.kind not in KINDS:
            raise ValueError(f"{c.layer} {c.uuid}: kind must be one of {', '.join(KINDS)}, not {c.kind!r}")
        if c.kind != "new" and c.base_version is None:
            raise ValueError(f"{c.layer} {c.uuid}: a {c.kind} feature needs the version it was changed on")
    note = push_note(note, push_id)
    out: dict[int, ChangeOutcome] = {}
    for _ in range(len(work) + 1):
        written: dict[int, ChangeOutcome] = {}
        try:
            with reg.batch(author=author, note=note) as b:
                labels: dict[str, int] = {}
                for i, c in enumerate(work):
                    if i in out:
                        continue
                    labels[f"feature {c.uuid}"] = i
                    got = _one(reg, b, c, note)
                    (out if got.outcome in ("conflict", "missing", "already") else written)[i] = got
                    if progress is not None:
                        progress(i + 1)
                if b.problems:
                    if any(p.feature not in labels for p in b.problems):
                        raise ValidationError(list(b.problems))  # no change to blame: nothing is written
                    for p in b.problems:
                        i = labels[p.feature]
                        c = work[i]
                        bad = out.setdefault(i, ChangeOutcome(c.layer, c.uuid, c.kind, "refused"))
                        bad.problems.append(p)
                        bad.message = "; ".join(f"{q.field + ': ' if q.field else ''}{q.message}" for q in bad.problems)
                    b.problems.clear()
                    raise _Again
                if semantic == "atomic" and any(o.outcome in _FAILED for o in out.values()):
                    raise _Again
        except _Again:
            if semantic == "atomic":
                break
            continue
        out.update(written)
        break
    if semantic == "atomic" and any(o.outcome in _FAILED for o in out.values()):
        for i, c in enumerate(work):  # nothing was written: the others are not applied either
            out.setdefault(i, ChangeOutcome(c.layer, c.uuid, c.kind, "not-applied",
                                            message="not written: another change of this atomic set was not taken"))
    return [out[i] for i in range(len(work))]


def _already(reg, c: ChangeRequest, note: str) -> ChangeOutcome | None:
    """This change, already in the registry: written by an earlier send of this push, or its state already there."""
    versions = reg.versions_noted(c.layer, c.uuid, note)
    if versions:
        feat = reg.get(c.layer, c.uuid, version=max(versions))
        return ChangeOutcome(c.layer, c.uuid, c.kind, "already", max(versions), "applied by an earlier send of this "
                             "push", feature=feat)
    if c.state is None:
        return None
    try:
        there = reg.get(c.layer, c.uuid)
    except FeatureNotFoundError:
        return None
    now = edit_state(reg.layer(c.layer), there)
    same = now["geometry"] == c.state.get("geometry") and now["retired"] == c.state.get("retired") and all(
        now["properties"].get(k) == v for k, v in c.state.get("properties", {}).items() if k in now["properties"])
    if not same:
        return None
    return ChangeOutcome(c.layer, c.uuid, c.kind, "already", there.version, "the registry already holds this state",
                         feature=there)


def _one(reg, b, c: ChangeRequest, note: str) -> ChangeOutcome:
    """Write one change in the batch ``b``."""
    found = _already(reg, c, note)
    if found is not None:
        return found
    try:
        if c.kind == "new":
            uid = b.add(c.layer, {**c.properties, "uuid": c.uuid}, c.geometry)
            return ChangeOutcome(c.layer, c.uuid, c.kind, "applied", 1 if uid is not None else None)
        if c.kind == "retired":
            got = b.retire(c.layer, c.uuid, expected_version=c.base_version, reason=None)
        else:
            got = b.update(c.layer, c.uuid, c.properties, c.geometry, expected_version=c.base_version)
    except ConflictError as exc:
        return ChangeOutcome(c.layer, c.uuid, c.kind, "conflict", exc.current_version,
                             f"changed since version {c.base_version} (now version {exc.current_version}); the change "
                             "was not written (pull to see the registry's state)")
    except FeatureNotFoundError:
        return ChangeOutcome(c.layer, c.uuid, c.kind, "missing", None, "no such feature in the registry")
    return ChangeOutcome(c.layer, c.uuid, c.kind, "applied", None if got is None else got.version)


__all__ = ["KINDS", "PUSH_ID", "SEMANTICS", "ChangeOutcome", "ChangeRequest", "apply_change_set", "edit_state",
           "push_note"]
