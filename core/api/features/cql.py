"""OGC API – Features Part 3: a ``filter`` parameter parsed and checked, then translated (:mod:`.cql_sql`).

Both encodings are parsed by the ``cql2`` library (the CQL2 reference implementation in
Rust, with Python bindings): CQL2 text is parsed and converted to CQL2 JSON, CQL2 JSON is
parsed by it for its shape. Limits come first (length, nesting, values), so no input can
exhaust the parser's stack or the database's statement limits; the translation into a
parameterised WHERE fragment for SQLite or PostgreSQL, against the layer's queryables
(:mod:`.queryables`), is :class:`.cql_sql.Translator`'s.

>>> layer = __import__("rallypoint").builtin_layers()["shelters"]
>>> parse_filter(layer, "status = 'open' AND capacity_day > 100", personal=False).sql
'((t."status" = ?) AND (t."capacity_day" > ?))'
"""

from __future__ import annotations

import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ...schema import LayerDef
from .. import crs as crsmod
from ..errors import BadRequest
from .cql_sql import LEGACY, Translator
from .cql_terms import DIALECTS

FILTER_PARAMS = ("filter", "filter-lang", "filter-crs")
LANGS = ("cql2-text", "cql2-json", "cql-text")
# "cql-text" (LEGACY) is the draft's name for the text encoding, which GDAL 3.6's OAPIF driver sends (and only when
# the OpenAPI document offers it) for `ogr2ogr/ogrinfo -where`. Read as CQL2 text, with the two habits of GDAL's
# writer: ILIKE, and date-times as quoted strings ('2026-05-01T08:00:00Z') rather than TIMESTAMP(...).
_ILIKE = re.compile(r"""("[^"]+"|[A-Za-z_][A-Za-z0-9_]*)\s+ILIKE\s+('(?:[^']|'')*')""", re.IGNORECASE)
MAX_FILTER_CHARS = 100_000
MAX_VALUES = 20_000  # bound values (SQLite allows 32,766 in one statement, and the query adds its own)


# -- parsing --------------------------------------------------------------------------------------------

@dataclass
class Filter:
    """A checked filter: a WHERE fragment on the alias ``t`` and the values it binds, in order."""

    sql: str
    params: list[Any] = field(default_factory=list)


def _cql2():
    import cql2  # the CQL2 reference parser (Rust); imported on first use

    return cql2


def _parse_error(lang: str, exc: Exception) -> BadRequest:
    text = str(exc).strip()
    m = re.search(r"-->\s*(\d+):(\d+)", text)
    where = f" at line {m.group(1)}, column {m.group(2)}" if m else ""
    expected = re.search(r"=\s*(expected .*)$", text, re.DOTALL)
    detail = expected.group(1).strip() if expected else text.splitlines()[-1] if text else "cannot be parsed"
    return BadRequest(f"filter ({lang}) does not parse{where}: {detail}")


MAX_NESTING = 100  # the parser recurses per level: thousands of levels overflow its stack and kill the process


def _too_deep(text: str) -> str | None:
    """Why a CQL2 text nests too deeply for the parser to be given it, or None (a lexical check, quotes blanked)."""
    s = re.sub(r"'(?:[^']|'')*'|\"[^\"]*\"", "''", text)
    depth = deepest = 0
    for ch in s:
        if ch == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif ch == ")":
            depth -= 1
    if deepest > MAX_NESTING:
        return f"parentheses nest {deepest} deep; at most {MAX_NESTING}"
    if len(re.findall(r"\bNOT\b", s, re.IGNORECASE)) > MAX_NESTING:
        return f"more than {MAX_NESTING} NOTs"
    minus = max((m.count("-") for m in re.findall(r"-[-\s(]*", s)), default=0)
    if minus > 20:
        return f"{minus} minus signs in a row"
    return None


BIG_STACK = 256 * 1024 * 1024
SMALL_TEXT = 2000  # below this, no text nests deep enough to trouble the default 8 MB stack


def _parse_text(text: str) -> Any:
    """CQL2 text → CQL2 JSON. The parser recurses once per level of an expression (``a + 1 + 1 …`` too),
    so a long text is parsed on a thread with a large stack (reserved, not used) rather than risk the process."""
    cql2 = _cql2()
    if len(text) < SMALL_TEXT:
        return cql2.parse_text(text).to_json()
    return _big_stack_thread().submit(lambda: cql2.parse_text(text).to_json()).result()


def _big_stack_thread() -> ThreadPoolExecutor:
    """One thread per process, started once with a big stack: the process-wide stack size is
    changed only for that moment, not around every long filter (other threads start meanwhile)."""
    global _parser
    with _stack_lock:
        if _parser is None:
            old = threading.stack_size(BIG_STACK)
            try:
                pool = ThreadPoolExecutor(1, thread_name_prefix="cql2-parse")
                pool.submit(lambda: None).result()  # its thread starts now, with the big stack
            finally:
                threading.stack_size(old)
            _parser = pool
        return _parser


_parser: ThreadPoolExecutor | None = None
_stack_lock = threading.Lock()


def parse_filter(layer: LayerDef, text: str, *, personal: bool, lang: str | None = None,
                 filter_crs: str | None = None, dialect: str = "sqlite") -> Filter:
    """A filter in ``cql2-text`` (default) or ``cql2-json``, checked and translated; BadRequest otherwise.

    ``dialect``: ``sqlite`` (a GeoPackage registry) or ``postgis`` (see :data:`DIALECTS`): the same checks
    and refusals, the SQL of the database that runs it."""
    if dialect not in DIALECTS:
        raise ValueError(f"unknown SQL dialect {dialect!r}")
    lang = (lang or "cql2-text").strip().lower()
    if lang not in LANGS:
        raise BadRequest(f"filter-lang={lang!r} is not offered; use one of {', '.join(LANGS)}")
    if not text.strip():
        raise BadRequest("filter is empty")
    if len(text) > MAX_FILTER_CHARS:
        raise BadRequest(f"filter is {len(text):,} characters long; at most {MAX_FILTER_CHARS:,}")
    cql2 = _cql2()
    if lang in ("cql2-text", LEGACY):
        if lang == LEGACY:
            text = _ILIKE.sub(r"CASEI(\1) LIKE CASEI(\2)", text)
        deep = _too_deep(text)
        if deep:
            raise BadRequest(f"filter ({lang}) nests too deeply: {deep}")
        try:
            tree = _parse_text(text)
        except (cql2.ParseError, ValueError) as exc:
            raise _parse_error(lang, exc) from None
    else:
        try:
            raw = json.loads(text)
        except RecursionError:
            raise BadRequest("filter (cql2-json) nests too deeply") from None
        except ValueError as exc:
            raise BadRequest(f"filter (cql2-json) is not valid JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise BadRequest("filter (cql2-json) must be a JSON object such as "
                             '{"op": "=", "args": [{"property": "status"}, "open"]}')
        # The library's JSON-schema validate() is not used: on an invalid document its time grows
        # exponentially with nesting (4 nested "not"s took 95 s). Its parser checks the shape; the
        # translator checks the rest (arity, types, properties) and says where.
        try:
            cql2.parse_json(text)
        except (cql2.ParseError, ValueError) as exc:
            raise BadRequest(f"filter (cql2-json) is not CQL2 JSON: {str(exc)[:500]}") from None
        tree = raw  # our own walk reports paths into what the client sent
    crs = crsmod.find(filter_crs, "filter-crs")
    t = Translator(layer, personal, crs, lang, text, dialect)
    e = t.boolean(tree, "filter")
    if len(e.params) > MAX_VALUES:
        raise BadRequest(f"filter has {len(e.params):,} values; at most {MAX_VALUES:,}")
    return Filter(e.sql, e.params)


