"""The WHERE clauses of an items query that every backend writes alike (in use, datetime, attribute filters)."""

from __future__ import annotations

from typing import Any

from .base import TIME_FIELD, ItemsQuery


def attribute_clauses(q: ItemsQuery) -> tuple[list[str], list[Any]]:
    """The clauses on the alias ``t`` other than the boxes (in use, datetime, filters) and their values, with
    ``?`` placeholders (each backend writes its own box clause; filters come written in the reader's dialect)."""
    clauses: list[str] = []
    params: list[Any] = []
    if q.layer.versioned:
        clauses.append("t.retired_at IS NULL")
    if q.time is not None:
        lo, hi = q.time
        if lo is not None:
            clauses.append(f"t.{TIME_FIELD} >= ?")
            params.append(lo)
        if hi is not None:
            clauses.append(f"t.{TIME_FIELD} <= ?")
            params.append(hi)
    for sql, values in q.filters:  # written by query._filter, on the alias t
        clauses.append(sql)
        params.extend(values)
    return clauses, params
