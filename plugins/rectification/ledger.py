"""The rules of the rectification ledger (隐患排查治理): states, the fields each needs, allowed changes.

A record moves found (待整改) → rectifying (整改中) → rectified (已整改) → verified (已验收)
→ closed (已销号). Each state needs the fields of its own step and of every step before it,
and the fields of later steps must still be empty, so a record cannot be closed before its
verification (date and verifier) is recorded. A change of state may go forward, over several
steps at once when every step passed is recorded in the same save (立行立改: rectified on the spot;
验收销号: verified and closed in one act; and a copy pulling the server's newer state), and back
only from rectified to rectifying (a failed verification). A closed record never changes again.

The rules are checked for every write path by the plugin's ``rallypoint_validate_change`` hook;
nothing here reads or writes a registry.

>>> old = {"state": "rectified", "rectified_at": "2026-05-02", **_BASE}
>>> [f for f, _ in check_change(old, {**old, "state": "closed", "closed_at": "2026-05-03", "closed_by": "王五"},
...                             today="2026-05-03")]
['verified_at', 'verified_by']
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any, Mapping

LAYER = "hazard_rectification"
STATES = ("found", "rectifying", "rectified", "verified", "closed")
RANK = {s: i for i, s in enumerate(STATES)}
#: The fields each state's own step records; a state needs those of its step and every step before it.
STEP_FIELDS: dict[str, tuple[str, ...]] = {
    "found": ("found_at", "found_by", "responsible_unit", "deadline"),
    "rectifying": ("measures",),
    "rectified": ("rectified_at",),
    "verified": ("verified_at", "verified_by"),
    "closed": ("closed_at", "closed_by"),
}
#: Changes back to an earlier state that are allowed: a rectification that failed its verification.
BACKWARD = {("rectified", "rectifying")}
#: The dates of the steps, each on or after the one before.
DATE_ORDER = ("found_at", "rectified_at", "verified_at", "closed_at")
#: Dates in the ledger are dates in China (the bureaus' own calendar day), not UTC days.
LOCAL_TZ = timezone(timedelta(hours=8))
RECTIFIED_OR_LATER = frozenset(STATES[RANK["rectified"]:])

_BASE = {"found_at": "2026-05-01", "found_by": "张三", "responsible_unit": "镇政府", "deadline": "2026-05-31",
         "measures": "清理危岩"}


def local_date(at: str | datetime) -> str:
    """The date in China (UTC+8) at the time ``at`` (a UTC ISO 8601 text or an aware datetime).

    >>> local_date("2026-05-01T17:30:00.000Z")
    '2026-05-02'
    """
    if isinstance(at, str):
        at = datetime.fromisoformat(at.replace("Z", "+00:00"))
    return at.astimezone(LOCAL_TZ).date().isoformat()


def needed_fields(state: str) -> tuple[str, ...]:
    """Every field a record in ``state`` must have filled."""
    out: list[str] = []
    for s in STATES[:RANK[state] + 1]:
        out.extend(STEP_FIELDS[s])
    return tuple(out)


def later_fields(state: str) -> tuple[str, ...]:
    """The fields of the steps after ``state``, which must still be empty."""
    out: list[str] = []
    for s in STATES[RANK[state] + 1:]:
        out.extend(STEP_FIELDS[s])
    return tuple(out)


def next_states(state: str) -> tuple[str, ...]:
    """The states a record in ``state`` may change to (forward, or back after a failed verification)."""
    forward = STATES[RANK[state] + 1:]
    back = tuple(b for a, b in sorted(BACKWARD) if a == state)
    return forward + back


def _empty(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def _transition(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[str | None, str]]:
    before, after = old.get("state"), new.get("state")
    if before == "closed":
        changed = sorted(k for k in new if new.get(k) != old.get(k))
        if changed:
            return [(changed[0] if "state" not in changed else "state",
                     f"the record is closed (销号) and cannot change any more (changed: {', '.join(changed)})")]
        return []
    if before == after or before not in RANK:
        return []
    allowed = next_states(before)
    if after not in allowed:
        return [("state", f"cannot change from {before} to {after}; allowed next states: {', '.join(allowed)}")]
    return []


def check_change(old: Mapping[str, Any] | None, new: Mapping[str, Any], *, today: str) -> list[tuple[str | None, str]]:
    """Every problem with changing a record from ``old`` (None when new) to ``new`` on the date ``today``.

    ``new`` holds normalised values (dates as ``YYYY-MM-DD`` text, ``state`` as its code).
    """
    state = new.get("state")
    if state not in RANK:
        return []  # the definition's own check has named a bad state already
    if old is not None:
        found = _transition(old, new)
        if found:
            return found
    problems: list[tuple[str | None, str]] = []
    before = None if old is None else old.get("state")
    for f in needed_fields(state):
        if _empty(new.get(f)):
            why = f"is needed when the state is {state}"
            if state == "closed" and f in STEP_FIELDS["verified"]:
                why += ": a record cannot be closed before it is verified"
            if before in RANK and before != state:
                why += f" (the record was {before}; its allowed next states: {', '.join(next_states(before))})"
            problems.append((f, why))
    for f in later_fields(state):
        if not _empty(new.get(f)):
            step = next(s for s in STATES if f in STEP_FIELDS[s])
            problems.append((f, f"is filled but the record is only {state}: it belongs to the state {step} "
                                f"(set the state to {step}, or leave {f} empty)"))
    progress = new.get("progress")
    if state in RECTIFIED_OR_LATER and progress is not None and progress != 100:
        problems.append(("progress", f"is {progress} %, but a record that is {state} is 100 % done"))
    deadline, found_at = new.get("deadline"), new.get("found_at")
    if deadline and found_at and deadline < found_at:
        problems.append(("deadline", f"{deadline} is before the finding date {found_at}"))
    dated = [(f, new.get(f)) for f in DATE_ORDER if new.get(f)]
    for (f1, d1), (f2, d2) in zip(dated, dated[1:]):
        if d2 < d1:
            problems.append((f2, f"{d2} is before {f1} {d1}"))
    for f, d in dated:
        if d > today and (old is None or old.get(f) != d):
            problems.append((f, f"{d} is in the future (today is {today} in China)"))
    return problems


def deadline_notice(old: Mapping[str, Any] | None, new: Mapping[str, Any], *, today: str) -> str | None:
    """A warning when a deadline entered now has already passed: the record is overdue at once.

    Accepted, not refused: a problem found late, or a ledger typed in after the fact, still
    belongs in the ledger, and refusing it would hide it. Only a deadline that is new or
    changed is reported, and only for a record not yet rectified.
    """
    deadline = new.get("deadline")
    if not deadline or (old is not None and old.get("deadline") == deadline):
        return None
    if not is_overdue(new.get("state"), deadline, today):
        return None
    days = (date.fromisoformat(today) - date.fromisoformat(deadline)).days
    return (f"deadline {deadline} has already passed (today is {today}): the record is overdue from the start, "
            f"by {days} day{'s' if days != 1 else ''}")


def is_overdue(state: str, deadline: str | None, as_of: str) -> bool:
    """Deadline passed and not yet rectified (found or rectifying)."""
    return state not in RECTIFIED_OR_LATER and bool(deadline) and deadline < as_of
