"""Checking many new features of one layer at once, a column at a time (bulk writes: an import, ``add_many``).

:func:`~rallypoint.validation.check_feature` is the rule for one feature, and a bulk write of a hundred
thousand features cannot afford it feature by feature. :func:`check_new` applies the same rules a column
at a time: numbers with numpy, geometries and positions with shapely, text in one pass over the column,
and values that repeat (codes, division codes, dates) through :func:`~rallypoint.validation.normalise_value`
itself, once per distinct value. It gives the stored values of every feature whose every value it could
settle; a feature it is not sure of — a value that is wrong, a required field left empty, a derived value
that disagrees with its rule, a reference the registry does not hold, a geometry that is not sound, a
point outside the extent or its division — is **deferred** to ``check_feature``, one by one, so a refusal
names the feature and the field with the very message a single write gives, and nothing passes here that
``check_feature`` would refuse. A feature that passes is stored exactly as ``check_feature`` stores it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import shapely

from . import derive
from .positions import Divisions, Extent
from .schema import FieldDef, LayerDef
from .validation import _is_blank, normalise_value

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")  # str(uuid.UUID(s)) == s
_PHONE = re.compile(r"(?:\+?86)?(?:1[3-9]\d{9}|0\d{9,11}|[48]00\d{7})")  # validation's, with nothing to strip
_TYPE_IDS = {"Point": 0, "LineString": 1, "Polygon": 3, "MultiPoint": 4, "MultiLineString": 5, "MultiPolygon": 6}
_SINGLE = {"MultiPoint": 0, "MultiLineString": 1, "MultiPolygon": 3}  # what a multi layer takes and wraps
_BAD = object()

#: ``existing(layer, uuids)``: which of ``uuids`` are features in use in ``layer`` (the references' check)
Existing = Callable[[str, list[str]], set[str]]


@dataclass
class ColumnCheck:
    """What :func:`check_new` found: stored values by field (the layer's order) and the deferred features."""

    columns: dict[str, list[Any]]  # for every feature; a deferred feature's values mean nothing
    geometries: np.ndarray  # in EPSG:4490, single geometries made multi where the layer is multi
    deferred: np.ndarray  # bool: left to check_feature
    given: Sequence[Mapping[str, Any]]  # the features as given (their keys)
    added: dict[str, np.ndarray]  # by derived field: the features that did not give it and got it
    checked: dict[int, dict[str, Any]] = field(default_factory=dict)  # check_feature's own answer, where asked

    def properties(self, i: int) -> dict[str, Any]:
        """Feature ``i``'s checked properties, as ``check_feature`` gives them (``Checked.properties``)."""
        if i in self.checked:
            return dict(self.checked[i])
        out = {k: self.columns[k][i] for k in self.given[i]}
        for name, added in self.added.items():
            if added[i]:
                out[name] = self.columns[name][i]
        return out


def _one(f: FieldDef, v: Any) -> Any:
    """``check_feature``'s stored form of one value (None when blank), or ``_BAD`` when it would refuse it."""
    if _is_blank(v):
        return None
    try:
        return normalise_value(f, v)
    except Exception:  # _Bad, or anything else: check_feature says what
        return _BAD


def _by_value(f: FieldDef, vals: Sequence[Any], out: list[Any], bad: list[int], todo: Sequence[int]) -> None:
    """Values of ``todo`` through :func:`_one`, once per distinct text (codes and division codes repeat)."""
    memo: dict[str, Any] = {}
    for i in todo:
        v = vals[i]
        if v is None:
            continue
        if type(v) is str:
            r = memo.get(v, memo)
            if r is memo:
                r = memo[v] = _one(f, v)
        else:  # 1, 1.0 and True are one key to a dict: never memoised
            r = _one(f, v)
        if r is _BAD:
            bad.append(i)
        else:
            out[i] = r


def _numbers(f: FieldDef, vals: Sequence[Any], out: list[Any], bad: list[int]) -> None:
    idx = [i for i, v in enumerate(vals) if v is not None]
    if not idx:
        return
    present = [vals[i] for i in idx]
    integer = f.type == "integer"
    kinds = {type(v) for v in present}
    if not (kinds <= {int} if integer else kinds <= {int, float}):
        _by_value(f, vals, out, bad, idx)  # text, booleans, numpy scalars …: one by one
        return
    try:
        arr = np.array(present, dtype=np.int64 if integer else float)
    except OverflowError:  # a whole number beyond 64 bits
        _by_value(f, vals, out, bad, idx)
        return
    wrong = np.zeros(len(arr), dtype=bool) if integer else ~np.isfinite(arr)
    with np.errstate(invalid="ignore"):
        if f.min is not None:
            wrong |= arr < f.min
        if f.max is not None:
            wrong |= arr > f.max
    bad.extend(idx[k] for k in np.flatnonzero(wrong).tolist())
    for i, v in zip(idx, present if integer else arr.tolist()):  # a real's whole numbers are stored as floats
        out[i] = v


def _text(f: FieldDef, vals: Sequence[Any], out: list[Any], bad: list[int]) -> None:
    limit = f.max_length
    slow = []
    for i, v in enumerate(vals):
        if type(v) is str:
            s = v.strip()
            if not s:
                out[i] = None
            elif (limit and len(s) > limit) or "\x00" in s:
                bad.append(i)
            else:
                out[i] = s
        elif v is not None:
            slow.append(i)
    if slow:
        _by_value(f, vals, out, bad, slow)


def _pattern(f: FieldDef, vals: Sequence[Any], out: list[Any], bad: list[int], pattern: re.Pattern) -> None:
    """A value that already has the stored form (a canonical UUID, a compact phone number) is kept as it is."""
    full = pattern.fullmatch
    slow = []
    for i, v in enumerate(vals):
        if type(v) is str and full(v):
            out[i] = v
        elif v is not None:
            slow.append(i)
    if slow:
        _by_value(f, vals, out, bad, slow)


def _booleans(f: FieldDef, vals: Sequence[Any], out: list[Any], bad: list[int]) -> None:
    slow = []
    for i, v in enumerate(vals):
        t = type(v)
        if t is bool:
            out[i] = int(v)
        elif t is int and (v == 0 or v == 1):
            out[i] = v
        elif v is not None:
            slow.append(i)
    if slow:
        _by_value(f, vals, out, bad, slow)


def _texts(f: FieldDef, vals: Sequence[Any]) -> tuple[list[Any], list[int]] | None:
    """A column of text (and blanks) through :func:`_one`, once per distinct value; None if it holds anything
    else. A column whose every value is already stored as it is given is returned as it is."""
    try:
        distinct = set(vals)
    except TypeError:  # a list of codes …
        return None
    if not all(type(v) is str for v in distinct if v is not None):
        return None
    memo = {v: (None if v is None else _one(f, v)) for v in distinct}
    if all(k is v for k, v in memo.items()):
        return (vals if isinstance(vals, list) else list(vals)), []
    out = [memo[v] for v in vals]
    bad = [i for i, r in enumerate(out) if r is _BAD] if any(r is _BAD for r in memo.values()) else []
    for i in bad:
        out[i] = None
    return out, bad


def stored_column(f: FieldDef, vals: Sequence[Any]) -> tuple[list[Any], list[int]]:
    """Every value's stored form (None when blank) and the positions of those ``check_feature`` would refuse."""
    t = f.type
    if t in ("codes", "adcode", "date", "datetime") or (t == "text" and f.values):
        done = _texts(f, vals)  # few distinct values, each through normalise_value
        if done is not None:
            return done
    out: list[Any] = [None] * len(vals)
    bad: list[int] = []
    if t in ("integer", "real"):
        _numbers(f, vals, out, bad)
    elif t == "boolean":
        _booleans(f, vals, out, bad)
    elif t == "uuid":
        _pattern(f, vals, out, bad, _UUID)
    elif t == "phone":
        _pattern(f, vals, out, bad, _PHONE)
    elif t == "text" and not f.values:
        _text(f, vals, out, bad)
    else:  # codes, division codes, dates and times holding more than text: value by value
        _by_value(f, vals, out, bad, range(len(vals)))
    return out, sorted(bad)


def _derive(layer: LayerDef, cols: dict[str, list[Any]], props: Sequence[Mapping[str, Any]],
            deferred: np.ndarray) -> dict[str, np.ndarray]:
    """Derived fields as check_feature derives them; by field, the features that did not give it and now have
    it (the key check_feature adds to the properties)."""
    src = layer.field("hazard_type") if layer.has_field("hazard_type") else None
    group_of = (lambda c: (src.value(c).group if src and src.value(c) else None))
    n = len(props)
    added: dict[str, np.ndarray] = {}
    for f in layer.fields:
        if not f.derived or f.derived not in derive.RULES:
            continue
        if f.derived in derive.RULES_MANY:
            applies, values = derive.RULES_MANY[f.derived](cols, group_of, n)
        else:  # a rule without a column form: feature by feature, on what check_feature would hand it
            results = [derive.RULES[f.derived]({k: cols[k][i] for k in props[i] if k in cols}, group_of)
                       for i in range(n)]
            applies = np.array([r is not None for r in results], dtype=bool)
            values = [r[0] if r is not None else None for r in results]
        col = cols[f.name]
        todo = applies & ~deferred
        for i in np.flatnonzero(todo).tolist():
            given, value = col[i], values[i]
            if given is not None and value is not None and given != value:
                deferred[i] = True  # check_feature names the disagreement
                todo[i] = False
            else:
                col[i] = value
        added[f.name] = todo & np.fromiter((f.name not in p for p in props), dtype=bool, count=n)
    return added


def _geometries(layer: LayerDef, geoms: np.ndarray, deferred: np.ndarray, extent: Extent | None) -> np.ndarray:
    if not layer.has_geometry:
        deferred |= ~shapely.is_missing(geoms)  # check_feature: "has no geometry, but one was given"
        return geoms
    deferred |= shapely.is_missing(geoms)
    present = ~deferred
    deferred[present] |= shapely.is_empty(geoms[present])
    want = _TYPE_IDS[layer.geometry]
    types = np.full(len(geoms), -1)
    types[~deferred] = shapely.get_type_id(geoms[~deferred])
    if layer.geometry in _SINGLE:
        single = np.flatnonzero(types == _SINGLE[layer.geometry])
        if len(single):
            geoms = geoms.copy()
            make = getattr(shapely.geometry, layer.geometry)
            for i in single.tolist():
                geoms[i] = make([geoms[i]])
            types[single] = want
    deferred |= types != want
    ok = np.flatnonzero(~deferred)
    bounds = shapely.bounds(geoms[ok])
    with np.errstate(invalid="ignore"):
        inside = (bounds[:, 0] >= -180) & (bounds[:, 2] <= 180) & (bounds[:, 1] >= -90) & (bounds[:, 3] <= 90)
        if extent is not None:
            inside &= (bounds[:, 0] >= extent.west) & (bounds[:, 2] <= extent.east) & \
                (bounds[:, 1] >= extent.south) & (bounds[:, 3] <= extent.north)
    deferred[ok[~inside]] = True
    ok = np.flatnonzero(~deferred)
    if layer.geometry != "Point":  # a point with finite coordinates is always valid
        deferred[ok[~shapely.is_valid(geoms[ok])]] = True
    return geoms


def _divisions(layer: LayerDef, codes: list[Any], geoms: np.ndarray, deferred: np.ndarray,
               divisions: Divisions) -> None:
    """A point outside the division its code names is deferred: check_feature measures by how much."""
    by_code: dict[str, list[int]] = {}
    for i in np.flatnonzero(~deferred).tolist():
        if codes[i]:
            by_code.setdefault(codes[i], []).append(i)
    for code, rows in by_code.items():
        division = divisions(code)
        if division is None:
            continue
        idx = np.array(rows)
        xy = shapely.get_coordinates(geoms[idx], return_index=True)
        coords, owner = xy if isinstance(xy, tuple) else (xy, np.arange(len(idx)))
        inside = shapely.intersects_xy(division.geometry, coords[:, 0], coords[:, 1])
        outside = np.zeros(len(idx), dtype=bool)
        outside[owner[~inside]] = True
        deferred[idx[outside]] = True


def check_new(layer: LayerDef, props: Sequence[Mapping[str, Any]], geoms: np.ndarray, *, allow_uuid: bool = True,
              existing: Existing | None = None, extent: Extent | None = None,
              divisions: Divisions | None = None) -> ColumnCheck:
    """Check new features (``props[i]`` with ``geoms[i]``, already in EPSG:4490) column by column; see the
    module's description. ``existing`` answers the references in bulk (``check_feature``'s ``reference_exists``
    for many UUIDs at once); ``extent`` and ``divisions`` are the position rules."""
    n = len(props)
    cols: dict[str, list[Any]] = {f.name: [None] * n for f in layer.fields}
    deferred = np.zeros(n, dtype=bool)
    given: set[str] = set().union(*props) if n else set()
    wrong = {k for k in given if not layer.has_field(k) or (layer.field(k).system and not (k == "uuid" and allow_uuid))}
    if wrong:  # an unknown field, or a stamp given: check_feature names it
        deferred |= np.fromiter((any(k in p for k in wrong) for p in props), dtype=bool, count=n)
    names = [f.name for f in layer.fields if f.name in given and f.name not in wrong]
    # a field not given and one given empty are stored and checked alike (None); only the dict handed to the
    # plugins tells them apart, and it is made from the feature's own keys (ColumnCheck.properties)
    try:  # every feature giving every field (an import's, a file's): the columns in one C-level pass
        given_cols = dict(zip(names, map(list, zip(*map(itemgetter(*names), props))))) if len(names) > 1 and n \
            else None
    except KeyError:  # some feature leaves a field out: a column at a time, a missing field as None
        given_cols = None
    for k in names:
        stored, bad = stored_column(layer.field(k), given_cols[k] if given_cols else [p.get(k) for p in props])
        if bad:
            deferred[bad] = True
        cols[k] = stored
    for f in layer.fields:
        col = cols[f.name]
        if f.required and not f.system and None in col:  # left empty, or not given at all
            deferred |= np.fromiter((v is None for v in col), dtype=bool, count=n)
    added = _derive(layer, cols, props, deferred)
    if existing is not None:
        for f in layer.fields:
            if not f.references:
                continue
            col = cols[f.name]
            asked = sorted({col[i] for i in np.flatnonzero(~deferred).tolist() if col[i]})
            found = existing(f.references, asked) if asked else set()
            missing = set(asked) - found
            if missing:
                deferred |= np.fromiter((v in missing for v in col), dtype=bool, count=n)
    geoms = _geometries(layer, np.asarray(geoms, dtype=object), deferred, extent)
    if divisions is not None and layer.geometry in ("Point", "MultiPoint") and layer.has_field("adcode"):
        _divisions(layer, cols["adcode"], geoms, deferred, divisions)
    return ColumnCheck(cols, geoms, deferred, props, added)
