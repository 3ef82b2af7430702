"""The vocabulary of CQL2 as :mod:`.cql_sql` translates it: operators, kinds of values, and the small pieces of
SQL it assembles (balanced AND/OR trees, LIKE patterns as GLOB)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...schema import FieldDef

_KIND = {"text": "text", "uuid": "text", "adcode": "text", "phone": "text", "codes": "text",
         "integer": "number", "real": "number", "boolean": "boolean", "date": "date", "datetime": "timestamp"}
_COMPARE = {"=": "=", "<>": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_SPATIAL = ("s_intersects", "s_disjoint", "s_within", "s_contains", "s_equals", "s_touches", "s_crosses",
            "s_overlaps")
# the literal goes first (it is the prepared one): op(feature, literal) == _FLIPPED[op](literal, feature)
_FLIPPED = {"s_within": "s_contains", "s_contains": "s_within"}
_WKT_TYPES = ("POINT", "LINESTRING", "POLYGON", "MULTIPOINT", "MULTILINESTRING", "MULTIPOLYGON",
              "GEOMETRYCOLLECTION", "ENVELOPE", "BBOX")
_TEMPORAL = ("t_before", "t_after", "t_intersects", "t_disjoint", "t_equals")
#: sqlite: a GeoPackage's SQLite (GLOB, 0/1, Python functions and an R-tree pass for geometry);
#: postgis: PostgreSQL (LIKE, booleans, lower/normalize, PostGIS predicates on the GiST index)
DIALECTS = ("sqlite", "postgis")
_PG_SPATIAL = {"s_intersects": "ST_Intersects", "s_disjoint": "ST_Disjoint", "s_within": "ST_Within",
               "s_contains": "ST_Contains", "s_equals": "ST_Equals", "s_touches": "ST_Touches",
               "s_crosses": "ST_Crosses", "s_overlaps": "ST_Overlaps"}
# casei: lower() (Python's casefold() also folds ß to ss); accenti: decompose, then drop the combining marks
# of the blocks Unicode reserves for them (Python drops every character whose combining class is not 0)
_PG_FOLD = {"casei": "lower(({x})::text)",
            "accenti": "regexp_replace(normalize(({x})::text, NFD), "
                       "'[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]', '', 'g')"}


@dataclass
class _Expr:
    sql: str
    params: list[Any]
    kind: str  # text, number, boolean, date, timestamp, geometry, interval, predicate
    field: FieldDef | None = None
    value: Any = None  # literals: the checked Python value


def _balanced(word: str, parts: list[_Expr]) -> _Expr:
    """``(a AND b AND …)`` as a balanced tree: SQLite's parser takes a long flat chain as 1,000 levels deep."""
    if len(parts) <= 8:
        return _Expr("(" + f" {word} ".join(p.sql for p in parts) + ")", [v for p in parts for v in p.params],
                     "predicate")
    mid = len(parts) // 2
    return _balanced(word, [_balanced(word, parts[:mid]), _balanced(word, parts[mid:])])


def _article(kind: str) -> str:
    return {"text": "text", "number": "a number", "boolean": "a true/false value", "date": "a date",
            "timestamp": "a timestamp", "geometry": "a geometry", "interval": "an interval"}.get(kind, kind)


def _nested_fold(node: Any) -> int:
    """How many casei/accenti calls are nested in ``node`` (counted without recursion)."""
    n = 0
    while isinstance(node, dict) and str(node.get("op", "")).lower() in ("casei", "accenti"):
        n += 1
        args = node.get("args")
        node = args[0] if isinstance(args, list) and args else args
    return n


def _describe(e: _Expr) -> str:
    if e.field is not None:
        return f"property {e.field.name!r} ({_article(e.kind)})"
    if e.value is not None:
        return f"{_article(e.kind)} ({e.value!r})"
    return _article(e.kind)


def _glob(pattern: str) -> str:
    """A CQL2 LIKE pattern (``%`` any run, ``_`` one character, ``\\`` escapes) as a case-sensitive GLOB pattern."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            i += 1
            c = pattern[i]
            out.append(f"[{c}]" if c in "*?[" else c)
        elif c == "%":
            out.append("*")
        elif c == "_":
            out.append("?")
        elif c in "*?[":
            out.append(f"[{c}]")
        else:
            out.append(c)
        i += 1
    return "".join(out)
