"""Features' states as the history's JSON text, many at once: the very text ``json.dumps`` gives, column by column.

A GeoPackage registry keeps each change's state in ``rp_history`` as the text of
``json.dumps({"properties": {...}, "geometry": "<hex WKB>"}, ensure_ascii=False)`` (the store's
``_json``). A bulk write of a hundred thousand features would spend more time in ``json.dumps``, a call
and a new encoder per feature, than in all its SQL; here every column is encoded once with the same
encoder functions ``json`` uses (``encode_basestring``, ``int.__repr__``, ``float.__repr__``) and each
row is assembled with one ``%`` of a template, so the text is byte for byte what ``json.dumps`` writes
(``tests/test_registry_bulk.py`` holds the two side by side).
"""

from __future__ import annotations

import json
import sqlite3
from json.encoder import encode_basestring as _string  # ensure_ascii=False: json's own C encoder
from typing import Any, Sequence

from ..base import HISTORY_TABLE, quote

_NULL = "null"
_SLOT = "\x00"  # where a row's value goes in the template: json never writes a raw NUL (it writes \u0000)


def _float(v: float) -> str:
    if v != v:
        return "NaN"
    if v == float("inf"):
        return "Infinity"
    if v == float("-inf"):
        return "-Infinity"
    return float.__repr__(v)


def _other(v: Any) -> str:
    if v is None:
        return _NULL
    if v is True:
        return "true"
    if v is False:
        return "false"
    t = type(v)
    if t is str:
        return _string(v)
    if t is int:
        return int.__repr__(v)
    if t is float:
        return _float(v)
    return json.dumps(v, ensure_ascii=False)  # anything else, as json.dumps writes it inside the state


def _one_value(values: Sequence[Any]) -> tuple[bool, Any]:
    """``(True, v)`` when every value is ``v`` (and of one type: 1, 1.0 and True are equal, not the same)."""
    if not values:
        return False, None
    first = values[0]
    kind = type(first)
    if kind is float or values[-1] != first or values[len(values) // 2] != first:  # most columns differ early
        return False, None
    if values.count(first) != len(values):  # NaN is not equal to itself; -0.0 equals 0.0
        return False, None
    return all(type(v) is kind for v in values), first


def encode_column(values: Sequence[Any]) -> list[str]:
    """Each value as ``json.dumps(value, ensure_ascii=False)`` writes it."""
    kinds = set(map(type, values))
    kinds.discard(type(None))
    if not kinds:
        return [_NULL] * len(values)
    if len(kinds) == 1:
        kind = kinds.pop()
        if kind is str:
            distinct = set(values)
            if len(distinct) * 4 < len(values):  # codes, division codes, sources: each text encoded once
                memo = {v: _NULL if v is None else _string(v) for v in distinct}
                return [memo[v] for v in values]
            return [_NULL if v is None else _string(v) for v in values]
        if kind is int:
            return [_NULL if v is None else int.__repr__(v) for v in values]
        if kind is float:
            return [_NULL if v is None else _float(v) for v in values]
    return [_other(v) for v in values]


def states_json(names: Sequence[str], columns: Sequence[Sequence[Any]], geometry_hex: Sequence[str | None] | None
                ) -> list[str]:
    """``json.dumps({"properties": {name: value, …}, "geometry": hex}, ensure_ascii=False)`` of every row
    (``columns`` in the order of ``names``; ``geometry_hex``: each row's hex WKB, None for no geometry).
    A column holding one value in every row (the stamps of a batch) is written into the template itself."""
    n = len(columns[0]) if columns else len(geometry_hex or ())
    parts, encoded = [], []
    for name, col in zip(names, columns):
        same, value = _one_value(col)
        if same:
            parts.append(_string(name) + ": " + _other(value))
        else:
            parts.append(_string(name) + ": " + _SLOT)
            encoded.append(encode_column(col))
    template = '{"properties": {' + ", ".join(parts) + '}, "geometry": ' + _SLOT + '}'
    template = template.replace("%", "%%").replace(_SLOT, "%s")
    geometry = [_NULL] * n if geometry_hex is None else [_NULL if h is None else '"' + h + '"' for h in geometry_hex]
    return [template % row for row in zip(*encoded, geometry)]


# -- the same text written by SQLite from the rows just inserted -------------------------------------------------
#
# SQLite's json_quote() writes text exactly as json.dumps(…, ensure_ascii=False) does (the same escapes, the same
# lower-case \u00XX) and whole numbers as Python writes them; a REAL it writes with 15 significant digits, which
# is Python's repr only for a number that has no more than 15 and lies in [1e-4, 1e15) (or is 0). So SQLite can
# write the history of a bulk insert from the rows themselves (one INSERT … SELECT, no text through Python) when
# every column is stored with the affinity its values were given in and every real is such a number; otherwise
# the text is made in Python (states_json).

_TEXT_TYPES = ("text", "uuid", "adcode", "phone", "codes")


def _affinity(declared: str) -> str:
    """SQLite's column affinity of a declared type (https://sqlite.org/datatype3.html, 3.1)."""
    t = (declared or "").upper()
    if "INT" in t:
        return "INTEGER"
    if any(k in t for k in ("CHAR", "CLOB", "TEXT")):
        return "TEXT"
    if "BLOB" in t or not t:
        return "BLOB"
    if any(k in t for k in ("REAL", "FLOA", "DOUB")):
        return "REAL"
    return "NUMERIC"


def _stored_as_given(kind: str, affinity: str) -> bool:
    if kind in _TEXT_TYPES:
        return affinity in ("TEXT", "BLOB")
    if kind == "real":
        return affinity == "REAL"
    if kind in ("integer", "boolean"):
        return affinity in ("INTEGER", "NUMERIC")  # a whole number in a REAL column comes back a float
    return kind in ("date", "datetime")  # ISO text, never read as a number


def _plain_reals(values: Sequence[Any]) -> bool:
    """No -0.0 (stored as 0), NaN or infinity (stored as NULL) among these reals: SQLite gives them back as given."""
    for v in values:
        if v is not None and (v != v or v in (float("inf"), float("-inf")) or (v == 0 and str(v)[0] == "-")):
            return False
    return True


def history_from_rows(conn: sqlite3.Connection, table: str, kinds: Sequence[str], names: Sequence[str], columns: Sequence[Sequence[Any]],
                      start: int, wkb_offset: int | None, *, layer: str, author: str, at: str,
                      note: str | None) -> bool:
    """Write the ``insert`` history of the rows of ``table`` from fid ``start`` on (just inserted, ``columns``
    their values in the order of ``names``, ``kinds`` their field types) with SQLite making each state's text;
    False (nothing written) when it would not be json.dumps' text. ``wkb_offset``: where the WKB starts in the
    rows' geometry blobs (None: no geometry)."""
    declared = {r[1]: r[2] for r in conn.execute(f"PRAGMA table_info({quote(table)})")}
    args, parts, reals = [], [], []
    for name, kind, col in zip(names, kinds, columns):
        if name not in declared or not _stored_as_given(kind, _affinity(declared[name])):
            return False
        same, value = _one_value(col)
        if same:  # written into the format as Python writes it (the batch's stamps)
            parts.append(_string(name).replace("%", "%%") + ": " + _other(value).replace("%", "%%"))
            continue
        if kind == "real":
            if not _plain_reals(col):
                return False
            reals.append(quote(name))
        parts.append(_string(name).replace("%", "%%") + ": %s")
        args.append(f"json_quote({quote(name)})")
    if len(args) + 2 > 100:  # SQLite's default limit on a function's arguments
        return False
    if reals:
        unsafe = " OR ".join(f"({c} IS NOT NULL AND NOT ({c} = CAST(printf('%.15g', {c}) AS REAL) AND ({c} = 0 OR "
                             f"(abs({c}) >= 1e-4 AND abs({c}) < 1e15))))" for c in reals)
        if conn.execute(f"SELECT 1 FROM {quote(table)} WHERE fid >= ? AND ({unsafe}) LIMIT 1", (start,)).fetchone():
            return False
    geometry = "'null'" if wkb_offset is None else \
        f"CASE WHEN geom IS NULL THEN 'null' ELSE '\"' || hex(substr(geom, {wkb_offset + 1})) || '\"' END"
    fmt = '{"properties": {' + ", ".join(parts) + '}, "geometry": %s}'
    conn.execute(f"INSERT INTO {HISTORY_TABLE} (layer, uuid, version, op, author, at, before, after, note) "
                 f"SELECT ?, uuid, 1, 'insert', ?, ?, NULL, printf(?, {', '.join(args + [geometry])}), ? "
                 f"FROM {quote(table)} WHERE fid >= ? ORDER BY fid", (layer, author, at, fmt, note, start))
    return True
