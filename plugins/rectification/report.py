"""Reading the ledger: every record with its township, and the open, overdue and closed counts and
the rectification rate per township.

A record's township is the first nine digits of its hazard point's division code (GB/T 2260 plus
the statistics bureau's township digits); a hazard coded only to the county keeps its six-digit
code. Names come from ``admin_areas`` where the registry has the township. Retired records are
not in the ledger; a retired hazard point's records still are (its problems were found).

- open: not closed (found, rectifying, rectified or verified);
- overdue: deadline before the reporting date and not yet rectified (found or rectifying);
- closed: closed (销号);
- rectified: rectified, verified or closed; the rate is rectified / total, in per cent rounded half
  up to two decimals (3,441 of 3,714 is 92.65 %).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from .ledger import LAYER, RECTIFIED_OR_LATER

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from rallypoint import Registry

#: The record fields a list shows.
LIST_FIELDS = ("uuid", "hazard_uuid", "problem", "responsible_unit", "found_at", "found_by", "deadline", "progress",
               "state", "measures", "rectified_at", "verified_at", "verified_by", "closed_at", "closed_by", "remarks",
               "version")
LISTS = ("all", "open", "overdue", "closed")
COUNT_COLUMNS = ("total", "open", "overdue", "closed", "rectified")


def rate_percent(rectified: int, total: int) -> float | None:
    """``rectified / total`` in per cent, rounded half up to two decimals (None when there is nothing).

    >>> rate_percent(3441, 3714), rate_percent(1, 8), rate_percent(0, 0)
    (92.65, 12.5, None)
    """
    if total == 0:
        return None
    # Decimal, not round(): 1/8 = 12.5 exactly must not become 12.49 or 12.5 by float luck.
    return float((Decimal(rectified) * 100 / Decimal(total)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def rows_of(frame: "pd.DataFrame") -> list[dict]:
    """The rows of a frame as plain dicts, missing values as None (for JSON and printing)."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def township_of(adcode: str | None) -> str:
    code = str(adcode or "")
    return code[:9] if len(code) >= 9 else code


def ledger_frame(reg: "Registry", as_of: str, *, township: str = "") -> "pd.DataFrame":
    """Every record in use, with its hazard point's name and township and the ``open``/``overdue``
    flags as of the date ``as_of`` (``YYYY-MM-DD``); only townships starting with ``township`` if given.
    Personal fields a later definition may add are never read (the lists are open to anyone)."""
    import pandas as pd

    records = reg.read_frame(LAYER, columns=list(LIST_FIELDS))
    hazards = reg.read_frame("hazard_points", columns=["uuid", "name", "adcode"], include_retired=True)
    hazards = pd.DataFrame(hazards.drop(columns="geometry")).rename(
        columns={"uuid": "hazard_uuid", "name": "hazard_name"})
    frame = records.reset_index(drop=True).merge(hazards, on="hazard_uuid", how="left")
    frame["township"] = frame["adcode"].map(township_of)
    frame["open"] = frame["state"] != "closed"
    rectified = frame["state"].isin(sorted(RECTIFIED_OR_LATER))
    # ledger.is_overdue, for the whole frame at once
    frame["overdue"] = ~rectified & frame["deadline"].notna() & (frame["deadline"].fillna("") < as_of)
    frame["rectified"] = rectified
    if township:
        frame = frame[frame["township"].str.startswith(township)]
    return frame.sort_values(["township", "deadline", "uuid"]).reset_index(drop=True)


def select(frame: "pd.DataFrame", which: str) -> "pd.DataFrame":
    """One of the lists: all, open, overdue or closed."""
    if which == "all":
        return frame
    if which == "closed":
        return frame[frame["state"] == "closed"]
    if which in ("open", "overdue"):
        return frame[frame[which]]
    raise ValueError(f"no list {which!r} (lists: {', '.join(LISTS)})")


def township_names(reg: "Registry") -> dict[str, str]:
    if "admin_areas" not in reg.layers:
        return {}
    areas = reg.read_frame("admin_areas", columns=["adcode", "name"])
    return dict(zip(areas["adcode"], areas["name"]))


def township_table(frame: "pd.DataFrame", names: dict[str, str]) -> "pd.DataFrame":
    """Counts and rate per township, then one row for all of them together (township ``*``)."""
    import pandas as pd

    rows = []
    groups = [(code, part) for code, part in frame.groupby("township", sort=True)] + [("*", frame)]
    for code, part in groups:
        total = len(part)
        counts = {"total": total, "open": int(part["open"].sum()), "overdue": int(part["overdue"].sum()),
                  "closed": int((part["state"] == "closed").sum()), "rectified": int(part["rectified"].sum())}
        rows.append({"township": code, "township_name": names.get(code, "") if code != "*" else "",
                     **counts, "rate_pct": rate_percent(counts["rectified"], total)})
    return pd.DataFrame(rows, columns=["township", "township_name", *COUNT_COLUMNS, "rate_pct"])
