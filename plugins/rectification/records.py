"""Writing the ledger: a new record, and a record moved to its next state, through the registry.

Both are ordinary registry writes (one batch, checked, stamped, one history row each), so the
rules of :mod:`.ledger` apply exactly as they do to any other write path; what these add is
the convenience of a step (the date defaults to today in China, the person to the author, a
rectified record is 100 % done, a failed verification clears the rectification date) and the
notice when a deadline entered has already passed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

from rallypoint.errors import Problem, ValidationError

from .ledger import LAYER, STATES, STEP_FIELDS, deadline_notice, later_fields, local_date

if TYPE_CHECKING:  # pragma: no cover
    from rallypoint import Feature, Registry


@dataclass
class Written:
    """A record as written, and what the writer should be told (a deadline already passed)."""

    feature: "Feature"
    notices: list[str] = field(default_factory=list)


def _today(reg: "Registry") -> str:
    return local_date(reg.now())


def _require_ledger(reg: "Registry") -> None:
    if LAYER not in reg.layers:
        raise ValidationError([Problem(LAYER, "(layer)", None,
                                       f"{reg.location} has no rectification ledger; add it with "
                                       "'rallypoint rectification init'")])


def add_record(reg: "Registry", values: Mapping[str, Any], *, author: str, note: str | None = None) -> Written:
    """Add one record (``hazard_uuid``, ``problem``, ``found_at``, ``found_by``, ``responsible_unit``,
    ``deadline`` …); ``state`` defaults to found, ``found_at`` to today, ``source`` to the registry's bureau."""
    _require_ledger(reg)
    props = {"state": "found", "source": reg.info.bureau, "found_at": _today(reg), **dict(values)}
    if props.get("state") == "found" and props.get("progress") is None:
        props["progress"] = 0
    feat = reg.add(LAYER, props, author=author, note=note)
    notice = deadline_notice(None, feat.properties, today=_today(reg))
    return Written(feat, [notice] if notice else [])


def step_values(current: Mapping[str, Any], state: str, *, on: str, by: str,
                given: Mapping[str, Any] = ()) -> dict[str, Any]:
    """The changes that move a record in ``current`` to ``state`` on the date ``on`` by ``by``.

    Forward: the date and person fields of the step to ``state`` are filled (unless ``given`` or
    already filled), and a rectified record is 100 % done. The steps in between are not: a record
    moved from rectified to closed must have its verification given (``verified_at``, ``verified_by``),
    or it is refused, so no convenience here can record a verification that did not happen. Back to
    rectifying: the fields of the later steps are cleared. ``given`` values win.
    """
    if state not in STATES:
        raise ValidationError([Problem(LAYER, f"feature {current.get('uuid')}", "state",
                                       f"{state!r} is not a state (states: {', '.join(STATES)})")])
    changes: dict[str, Any] = {"state": state}
    rank_now, rank_to = STATES.index(current["state"]), STATES.index(state)
    if rank_to < rank_now:
        changes.update({f: None for f in later_fields(state)})
        changes["progress"] = None if current.get("progress") == 100 else current.get("progress")
    if rank_to > rank_now:
        for f in STEP_FIELDS[state]:
            if current.get(f) is None:
                if f.endswith("_at"):
                    changes[f] = on
                elif f.endswith("_by"):
                    changes[f] = by
    if rank_to >= STATES.index("rectified"):
        changes["progress"] = 100
    changes.update(given)
    return changes


def advance(reg: "Registry", uuid: str, state: str, *, author: str, on: str | None = None, by: str | None = None,
            values: Mapping[str, Any] = (), expected_version: int | None = None, note: str | None = None) -> Written:
    """Move record ``uuid`` to ``state`` (see :func:`step_values`); refused, writing nothing, if not allowed."""
    _require_ledger(reg)
    current = reg.get(LAYER, uuid)
    changes = step_values(current.properties, state, on=on or _today(reg), by=by or author, given=dict(values))
    feat = reg.update(LAYER, uuid, changes, author=author, expected_version=expected_version, note=note)
    notice = deadline_notice(current.properties, feat.properties, today=_today(reg))
    return Written(feat, [notice] if notice else [])
