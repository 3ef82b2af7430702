"""CQL2 (as checked CQL2 JSON) translated into a parameterised WHERE fragment on the alias ``t``, for SQLite
(a GeoPackage registry) or PostgreSQL/PostGIS (``dialect="postgis"``).

We write this walk ourselves because SQL for *this* registry is ours to decide: property names are
checked against the layer's queryables (identifiers come from the layer definition only), every
literal is bound, never written into the SQL, values are checked against the field's type and
allowed codes. On a GeoPackage a spatial predicate is left as a :class:`~rallypoint.storage.base.Spatial`
value that the backend resolves with its R-tree and one vectorised GEOS test per request
(:mod:`rallypoint.storage.gpkg.filters`); on PostGIS it is PostGIS's predicate on the GiST index.
pygeofilter (not a dependency) has an SQL backend, but it writes literals into the SQL text and
knows nothing of queryables, codes or personal fields, so it would replace none of this.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime
from typing import Any

import shapely

from ...schema import FieldDef, LayerDef
from ...storage.base import Spatial, quote
from ...storage.filters import fold
from ...validation import INT64_MAX, INT64_MIN, _Bad, format_datetime, normalise_value
from .. import crs as crsmod
from ..errors import BadRequest
from .cql_terms import (
    _COMPARE,
    _FLIPPED,
    _KIND,
    _PG_FOLD,
    _PG_SPATIAL,
    _SPATIAL,
    _TEMPORAL,
    _WKT_TYPES,
    _article,
    _balanced,
    _describe,
    _Expr,
    _glob,
    _nested_fold,
)
from .queryables import GEOMETRY, queryable_fields

LEGACY = "cql-text"
MAX_DEPTH = 30  # levels of and/or/not: SQLite's parser takes about 100 nested parentheses

class Translator:
    def __init__(self, layer: LayerDef, personal: bool, crs: crsmod.Crs, lang: str, text: str,
                 dialect: str = "sqlite"):
        self.pg = dialect == "postgis"
        self.true, self.false = ("TRUE", "FALSE") if self.pg else ("1", "0")
        self.layer = layer
        self.fields = {f.name: f for f in queryable_fields(layer, personal)}
        self.hidden = {f.name for f in layer.fields if f.personal and not personal}
        self.crs = crs
        self.lang = lang
        self.text = text

    # where a mistake is: a path into the JSON, or a column of the text when the token is found there
    def bad(self, msg: str, path: str, token: str | None = None) -> BadRequest:
        if self.lang == "cql2-json":
            return BadRequest(f"filter at {path}: {msg}")
        if token:
            i = self.text.lower().find(token.lower())
            if i >= 0:
                return BadRequest(f"filter at character {i + 1}: {msg}")
        return BadRequest(f"filter: {msg}")

    # -- boolean expressions
    def boolean(self, node: Any, path: str, depth: int = 0) -> _Expr:
        if depth > MAX_DEPTH:
            raise self.bad(f"nests deeper than {MAX_DEPTH} levels", path)
        if isinstance(node, bool):
            return _Expr(self.true if node else self.false, [], "predicate")
        if isinstance(node, dict) and "property" in node:
            e = self.scalar(node, path)
            if e.kind != "boolean":
                raise self.bad(f"property {node['property']!r} is not true/false, so it is not a condition by itself",
                               path, str(node["property"]))
            return _Expr(f"({e.sql} = {self.true})", e.params, "predicate")
        if not isinstance(node, dict) or "op" not in node:
            raise self.bad(f"expected a condition, got {self.show(node)}", path)
        op = str(node["op"])
        args = node.get("args", [])
        if not isinstance(args, list):
            args = [args]
        low = op.lower()
        if low in ("and", "or"):
            if len(args) < 2:
                raise self.bad(f"{low} needs at least two conditions", path, low)
            parts = [self.boolean(a, f"{path}.args[{i}]", depth + 1) for i, a in enumerate(args)]
            return _balanced(low.upper(), parts)
        if low == "not":
            self.arity(op, args, 1, path)
            inner = self.boolean(args[0], f"{path}.args[0]", depth + 1)
            return _Expr(f"(NOT {inner.sql})", inner.params, "predicate")
        if op in _COMPARE:
            self.arity(op, args, 2, path)
            return self.compare(op, args, path)
        if low == "like":
            self.arity(op, args, 2, path)
            return self.like(args, path)
        if low == "between":
            self.arity(op, args, 3, path)
            return self.between(args, path)
        if low == "in":
            self.arity(op, args, 2, path)
            return self.in_(args, path)
        if low == "isnull":
            self.arity(op, args, 1, path)
            e = self.scalar(args[0], f"{path}.args[0]", allow_geometry=True)
            return _Expr(f"({e.sql} IS NULL)", e.params, "predicate")
        if low in _SPATIAL:
            self.arity(op, args, 2, path)
            return self.spatial(low, args, path)
        if low in _TEMPORAL:
            self.arity(op, args, 2, path)
            return self.temporal(low, args, path)
        raise self.bad(f"the operator or function {op!r} is not supported here (supported: and, or, not, "
                       "=, <>, <, <=, >, >=, like, between, in, isNull, casei, accenti, "
                       f"{', '.join(_SPATIAL)}, {', '.join(_TEMPORAL)})", path, op)

    def never(self) -> _Expr:
        return _Expr(f"({self.false})", [], "predicate")

    def arity(self, op: str, args: list, n: int, path: str) -> None:
        if len(args) != n:
            raise self.bad(f"{op} takes {n} argument(s), got {len(args)}", path, op)

    @staticmethod
    def show(node: Any) -> str:
        try:
            text = json.dumps(node, ensure_ascii=False)
        except (RecursionError, ValueError, TypeError):
            return "(an expression too deep to show)"
        return text if len(text) <= 80 else text[:77] + "..."

    # -- scalar expressions: properties, literals, casei/accenti
    def scalar(self, node: Any, path: str, *, allow_geometry: bool = False) -> _Expr:
        if isinstance(node, dict) and "property" in node:
            return self.prop(node["property"], path, allow_geometry)
        if isinstance(node, bool):
            return _Expr("?", [node if self.pg else int(node)], "boolean", value=node)
        if isinstance(node, (int, float)):
            # bounded before SQL: SQLite's and PostgreSQL's whole numbers are 64-bit (a larger Python int is an
            # OverflowError in the driver); a float within them is compared as one; ints are kept exact
            if isinstance(node, float) and not math.isfinite(node):
                raise self.bad(f"{node} is not a finite number", path)
            if not INT64_MIN <= node <= INT64_MAX:
                digits = len(str(node))
                shown = str(node) if isinstance(node, float) or digits <= 30 else f"a {digits}-digit number"
                raise self.bad(f"{shown} is outside the numbers a filter compares ({INT64_MIN} to {INT64_MAX})",
                               path, str(node) if isinstance(node, int) else None)
            v = node if isinstance(node, int) else int(node) if node.is_integer() and abs(node) < 2**53 else node
            return _Expr("?", [v], "number", value=v)
        if isinstance(node, str):
            return _Expr("?", [node], "text", value=node)
        if isinstance(node, dict):
            if "date" in node:
                try:
                    d = date.fromisoformat(str(node["date"]))
                except ValueError:
                    raise self.bad(f"{node['date']!r} is not a date such as 2026-05-01", path,
                                   str(node["date"])) from None
                return _Expr("?", [d.isoformat()], "date", value=d.isoformat())
            if "timestamp" in node:
                v = self.timestamp(str(node["timestamp"]), path)
                return _Expr("?", [v], "timestamp", value=v)
            if "op" in node and str(node["op"]).lower() in ("casei", "accenti"):
                fn = str(node["op"]).lower()
                args = node.get("args", [])
                if not isinstance(args, list):
                    args = [args]
                self.arity(fn, args, 1, path)
                if _nested_fold(args[0]) > 1:
                    raise self.bad(f"{fn}: casei and accenti nest at most two deep", path, fn)
                inner = self.scalar(args[0], f"{path}.args[0]")
                if inner.kind != "text":
                    raise self.bad(f"{fn} takes text, got a {inner.kind}", path, fn)
                sql = (_PG_FOLD[fn] if self.pg else "rp_cql_{fn}({x})").format(fn=fn, x=inner.sql)
                return _Expr(sql, inner.params, "text", inner.field,
                             fold(fn, inner.value) if inner.value is not None else None)
            if "op" in node and str(node["op"]).upper() in _WKT_TYPES:
                raise self.bad(f"{node['op']}{tuple(node.get('args') or ())} is not a valid WKT geometry", path,
                               str(node["op"]))
            if "op" in node and str(node["op"]) in ("+", "-", "*", "/", "%", "^", "div"):
                raise self.bad(f"arithmetic ({node['op']}) is not supported", path, str(node["op"]))
            if "op" in node:
                raise self.bad(f"the function {node['op']!r} is not supported here (only casei and accenti)",
                               path, str(node["op"]))
            if "interval" in node or "bbox" in node or "coordinates" in node or "geometries" in node:
                raise self.bad(f"{self.show(node)} cannot be used here", path)
        if isinstance(node, list):
            raise self.bad("a list is only allowed as the second argument of in", path)
        if node is None:
            raise self.bad("null is not a value to compare with; use isNull (IS NULL)", path, "null")
        raise self.bad(f"unexpected {self.show(node)}", path)

    def prop(self, name: Any, path: str, allow_geometry: bool = False) -> _Expr:
        if not isinstance(name, str):
            raise self.bad(f"a property name must be text, got {self.show(name)}", path)
        if name in (GEOMETRY, "geom") and self.layer.has_geometry:
            if not allow_geometry:
                raise self.bad(f"{name} is the geometry: use a spatial function such as s_intersects", path, name)
            return _Expr("t.geom", [], "geometry")
        f = self.fields.get(name)
        if f is None:
            if name in self.hidden:
                why = "holds personal data and is queryable only with an API key (reader, editor or admin)"
            else:
                why = "is not a queryable of this collection (see its /queryables)"
            raise self.bad(f"property {name!r} {why}", path, name)
        return _Expr("t." + quote(f.name), [], _KIND[f.type], f)

    def timestamp(self, raw: str, path: str) -> str:
        s = raw.strip().replace(" ", "T", 1)
        if s[-1:] in ("Z", "z"):
            s = s[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(s)
        except ValueError:
            raise self.bad(f"{raw!r} is not an RFC 3339 timestamp such as 2026-05-01T08:00:00Z", path, raw) from None
        if dt.tzinfo is None:
            raise self.bad(f"{raw!r} has no time zone; add Z", path, raw)
        return format_datetime(dt)

    # -- predicates
    def legacy_time(self, f: FieldDef | None, lit: _Expr, path: str) -> _Expr:
        """GDAL 3.6 (cql-text) writes a date or date-time as a quoted string: read it as one."""
        if self.lang != LEGACY or f is None or lit.kind != "text" or lit.sql != "?" or \
                _KIND[f.type] not in ("date", "timestamp"):
            return lit
        if _KIND[f.type] == "date":
            return self.scalar({"date": lit.value[:10]}, path)
        return self.scalar({"timestamp": lit.value}, path)

    def coded(self, f: FieldDef | None, lit: _Expr, path: str) -> _Expr:
        """A text literal compared with a coded field: a label becomes its code; an unknown code is an error."""
        if f is None or not f.values or f.type == "codes" or lit.kind != "text" or lit.value is None or \
                lit.sql != "?":
            return lit
        try:
            code = normalise_value(f, lit.value)
        except _Bad as exc:
            raise self.bad(f"{f.name}: {exc}", path, str(lit.value)) from None
        return _Expr("?", [code], "text", value=code)

    def pair(self, op: str, args: list, path: str) -> tuple[_Expr, _Expr]:
        a = self.scalar(args[0], f"{path}.args[0]")
        b = self.scalar(args[1], f"{path}.args[1]")
        a, b = self.legacy_time(b.field, a, f"{path}.args[0]"), self.legacy_time(a.field, b, f"{path}.args[1]")
        self.same_kind(op, a, b, path)
        return self.coded(b.field, a, f"{path}.args[0]"), self.coded(a.field, b, f"{path}.args[1]")

    def same_kind(self, op: str, a: _Expr, b: _Expr, path: str) -> None:
        if a.kind != b.kind:
            named = a.field or b.field
            raise self.bad(f"{op}: {_describe(a)} cannot be compared with {_describe(b)}", path,
                           named.name if named else op)

    def compare(self, op: str, args: list, path: str) -> _Expr:
        a, b = self.pair(op, args, path)
        if a.kind == "boolean" and op not in ("=", "<>"):
            raise self.bad(f"{op} does not order true/false values; use = or <>", path, op)
        return _Expr(f"({a.sql} {_COMPARE[op]} {b.sql})", a.params + b.params, "predicate")

    def like(self, args: list, path: str) -> _Expr:
        a = self.scalar(args[0], f"{path}.args[0]")
        b = self.scalar(args[1], f"{path}.args[1]")
        if a.kind != "text" or b.kind != "text":
            raise self.bad("like compares text with a text pattern", path, "like")
        if b.field is None and b.value is not None:
            # a literal, or casei('Pattern%') folded already: matched case-sensitively (SQLite's LIKE is not);
            # PostgreSQL's LIKE is, with CQL2's own wildcards and backslash escape
            if self.pg:
                return _Expr(f"({a.sql} LIKE ?)", a.params + [b.value], "predicate")
            return _Expr(f"({a.sql} GLOB ?)", a.params + [_glob(b.value)], "predicate")
        raise self.bad("the pattern of like must be a text literal", path, "like")

    def between(self, args: list, path: str) -> _Expr:
        a = self.scalar(args[0], f"{path}.args[0]")
        lo = self.scalar(args[1], f"{path}.args[1]")
        hi = self.scalar(args[2], f"{path}.args[2]")
        for other in (lo, hi):
            self.same_kind("between", a, other, path)
        if a.kind not in ("number", "date", "timestamp", "text"):
            raise self.bad(f"between does not order {a.kind} values", path, "between")
        return _Expr(f"({a.sql} BETWEEN {lo.sql} AND {hi.sql})", a.params + lo.params + hi.params, "predicate")

    def in_(self, args: list, path: str) -> _Expr:
        a = self.scalar(args[0], f"{path}.args[0]")
        items = args[1]
        if not isinstance(items, list) or not items:
            raise self.bad("in needs a non-empty list of values", path, "in")
        sqls, params = [], list(a.params)
        for i, item in enumerate(items):
            e = self.scalar(item, f"{path}.args[1][{i}]")
            self.same_kind("in", a, e, path)
            e = self.coded(a.field, e, f"{path}.args[1][{i}]")
            sqls.append(e.sql)
            params += e.params
        return _Expr(f"({a.sql} IN ({', '.join(sqls)}))", params, "predicate")

    # -- spatial: the R-tree narrows the rows, GEOS decides
    def geometry_literal(self, node: Any, path: str):
        if not isinstance(node, dict):
            return None
        if "bbox" in node:
            b = node["bbox"]
            if not isinstance(b, list) or len(b) not in (4, 6) or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in b):
                raise self.bad("a bbox is 4 (or 6) finite numbers", path)
            if len(b) == 6:
                b = [b[0], b[1], b[3], b[4]]
            if b[0] > b[2] or b[1] > b[3]:
                raise self.bad(f"bbox {b}: the lower corner must come first", path, "bbox")
            geom = shapely.box(*b)
        elif "type" in node and ("coordinates" in node or "geometries" in node):
            try:
                geom = shapely.from_geojson(json.dumps(node))
            except (shapely.errors.GEOSException, ValueError, TypeError) as exc:
                raise self.bad(f"the geometry is not valid GeoJSON: {exc}", path, str(node.get("type"))) from None
        else:
            return None
        if geom is None or geom.is_empty:
            raise self.bad("the geometry is empty", path, str(node.get("type", "bbox")))
        if not shapely.is_valid(geom):
            raise self.bad(f"the geometry is not valid: {shapely.is_valid_reason(geom)}", path,
                           str(node.get("type", "bbox")))
        try:
            geom = self.crs.geometry_in(geom)
        except Exception as exc:  # noqa: BLE001 (a projection failure is the caller's coordinates' fault)
            raise self.bad(f"the geometry cannot be put in CGCS2000 from {self.crs.uri}: {exc}", path) from None
        minx, miny, maxx, maxy = geom.bounds
        if not all(math.isfinite(v) for v in geom.bounds) or minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
            raise self.bad(f"the geometry lies outside longitude -180..180, latitude -90..90 (in {self.crs.uri}; "
                           "is filter-crs right?)", path, str(node.get("type", "bbox")))
        return geom

    def spatial(self, op: str, args: list, path: str) -> _Expr:
        if not self.layer.has_geometry:
            raise self.bad(f"collection {self.layer.name} has no geometry; {op} cannot be used", path, op)
        lit = None
        prop_side = None
        for i, a in enumerate(args):
            g = self.geometry_literal(a, f"{path}.args[{i}]")
            if g is not None:
                lit = g
            else:
                e = self.scalar(a, f"{path}.args[{i}]", allow_geometry=True)
                if e.kind != "geometry":
                    raise self.bad(f"{op} compares the geometry with a geometry literal; argument {i + 1} is "
                                   f"{_article(e.kind)}", path, op)
                prop_side = i
        if lit is None:
            raise self.bad(f"{op} needs a geometry literal (WKT in text, GeoJSON in JSON, or BBOX)", path, op)
        if prop_side is None:
            raise self.bad(f"{op} needs the property {GEOMETRY!r} as one argument", path, op)
        # feature-first form: op(geometry, literal); a literal-first call is the mirrored one
        if prop_side == 1:
            op = _FLIPPED.get(op, op)
        if self.pg:  # the GiST index and PostGIS's GEOS decide; a missing or empty geometry matches nothing
            return _Expr(f"(t.geom IS NOT NULL AND NOT ST_IsEmpty(t.geom) AND "
                         f"{_PG_SPATIAL[op]}(t.geom, ST_GeomFromWKB(?::bytea, 4490)))",
                         [shapely.to_wkb(lit, output_dimension=2)], "predicate")
        # the matching fids are computed once per request (and kept while the layer is unchanged) by
        # resolve(): R-tree candidates, then one vectorised GEOS test; SQL gets them as one bound value
        return _Expr("(t.fid IN (SELECT value FROM json_each(?)))", [Spatial(self.layer.name, op, shapely.to_wkb(lit))],
                     "predicate")

    # -- temporal: instants and intervals against a date or date-time property
    def temporal(self, op: str, args: list, path: str) -> _Expr:
        sides = []
        for i, a in enumerate(args):
            p = f"{path}.args[{i}]"
            if isinstance(a, dict) and "interval" in a:
                sides.append(("interval", a["interval"], p))
            elif isinstance(a, dict) and "property" in a:
                sides.append(("property", self.prop(a["property"], p), p))
            else:
                sides.append(("instant", self.scalar(a, p), p))
        if [s[0] for s in sides].count("property") != 1:
            raise self.bad(f"{op} compares one date or date-time property with an instant or an interval", path, op)
        if sides[1][0] == "property":  # mirrored: t_before(literal, property) is t_after(property, literal)
            sides.reverse()
            op = {"t_before": "t_after", "t_after": "t_before"}.get(op, op)
        prop: _Expr = sides[0][1]
        if prop.kind not in ("date", "timestamp"):
            raise self.bad(f"{op}: property {prop.field.name!r} is {_article(prop.kind)}, not a date or date-time",
                           path, prop.field.name)
        kind, lit, lpath = sides[1]
        if kind == "instant":
            if lit.kind != prop.kind:
                raise self.bad(f"{op}: property {prop.field.name!r} is {_article(prop.kind)} and cannot be "
                               f"compared with {_article(lit.kind)}", lpath, prop.field.name)
            lo = hi = lit.value
        else:
            lo, hi = self.interval(lit, prop.kind, lpath)
        col = prop.sql
        if op == "t_before":
            return _Expr(f"({col} < ?)", [lo], "predicate") if lo is not None else self.never()
        if op == "t_after":
            return _Expr(f"({col} > ?)", [hi], "predicate") if hi is not None else self.never()
        if op == "t_equals":
            if kind == "interval" and lo != hi:
                return _Expr(f"({col} IS NULL AND {self.false})", [], "predicate")  # never equals a longer interval
            return _Expr(f"({col} = ?)", [lo], "predicate")
        parts, params = [], []
        if lo is not None:
            parts.append(f"{col} >= ?")
            params.append(lo)
        if hi is not None:
            parts.append(f"{col} <= ?")
            params.append(hi)
        if not parts and op == "t_disjoint":  # nothing is disjoint from all of time
            return self.never()
        inside = " AND ".join(parts) if parts else f"{col} IS NOT NULL"
        if op == "t_intersects":
            return _Expr(f"({inside})", params, "predicate")
        return _Expr(f"(NOT ({inside}))", params, "predicate")  # t_disjoint (a null stays unknown)

    def interval(self, ends: Any, kind: str, path: str) -> tuple[str | None, str | None]:
        if not isinstance(ends, list) or len(ends) != 2:
            raise self.bad("an interval has two ends (use '..' for an open one)", path, "interval")
        out: list[str | None] = []
        for i, raw in enumerate(ends):
            if isinstance(raw, dict):
                raw = raw.get("date", raw.get("timestamp"))
            if not isinstance(raw, str):
                raise self.bad(f"interval end {self.show(raw)} is not a date, a timestamp or '..'", path)
            s = raw.strip()
            if s in ("..", ""):
                out.append(None)
            elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
                try:
                    d = date.fromisoformat(s)
                except ValueError:
                    raise self.bad(f"{s!r} is not a valid date", path, s) from None
                if kind == "date":
                    out.append(d.isoformat())
                else:  # a date as an end of a date-time interval covers its whole day (UTC)
                    out.append(f"{d.isoformat()}T00:00:00.000Z" if i == 0 else f"{d.isoformat()}T23:59:59.999Z")
            else:
                if kind == "date":
                    raise self.bad(f"{s!r}: the property holds dates; give the interval's ends as dates", path, s)
                out.append(self.timestamp(s, path))
        if out[0] is not None and out[1] is not None and out[0] > out[1]:
            raise self.bad(f"the interval {ends} ends before it starts", path, str(ends[0]))
        return out[0], out[1]
