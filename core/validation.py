"""Checking one feature against its layer definition.

:func:`check_feature` normalises what a user gave (strings from the command line, numbers,
labels instead of codes) into the stored form and lists every problem it finds, each with
the field it concerns. It does not touch the database: cross-feature checks (references,
unique UUIDs) are the registry's, which passes a ``reference_exists`` callable, and so are the
positions against China's extent and the division boundaries it holds (:mod:`.positions`), for which
it passes the extent and a cached lookup of boundaries.
"""

from __future__ import annotations

import math
import re
import uuid as uuidlib
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Callable

from . import derive
from .geometry_engine import engine
from .positions import Divisions, Extent, position_problems
from .schema import FieldDef, LayerDef

# GB/T 2260 province-level prefixes (the first two digits of every division code).
PROVINCE_PREFIXES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 71 81 82".split()
)
_ADCODE = re.compile(r"^\d{6}(\d{3}(\d{3})?)?$")
_PHONE = re.compile(r"^(?:\+?86)?(?:1[3-9]\d{9}|0\d{9,11}|[48]00\d{7})$")
_TRUE = {"true", "1", "yes", "y", "t", "是", "有"}
_FALSE = {"false", "0", "no", "n", "f", "否", "无"}


class _Bad(Exception):
    """A single value is wrong; the message says how."""


#: the whole numbers a registry stores: SQLite's INTEGER and PostgreSQL's bigint are both 64-bit, and a larger
#: Python int reaching either is an internal error (an OverflowError), not a clear refusal
INT64_MIN, INT64_MAX = -2 ** 63, 2 ** 63 - 1


@dataclass
class Checked:
    """The normalised properties and geometry of a feature, and what is wrong with it."""

    properties: dict[str, Any]
    geometry: Any  # the geometry engine's (rallypoint.geometry_engine)
    problems: list[tuple[str | None, str]]  # (field or None for the geometry/feature, message)


def format_datetime(dt: datetime) -> str:
    """UTC ISO 8601 with milliseconds and ``Z``, as GeoPackage stores DATETIME."""
    dt = dt.astimezone(timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


#: the ISO 8601 date-times accepted: date, [T or space, hours[:minutes[:seconds[.fraction]]]], [Z or ±hh[[:]mm]]
_DATETIME = re.compile(r"(\d{4}-\d{2}-\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?)?"
                       r"(Z|[+-]\d{2}(?::?\d{2})?)?", re.IGNORECASE)


def _iso_datetime(text: str) -> datetime:
    """Parse an ISO 8601 date-time the same way on every Python the core runs on.

    Python 3.11's ``datetime.fromisoformat`` reads almost any ISO 8601 text, 3.9's (QGIS on Windows)
    only ``YYYY-MM-DDTHH:MM[:SS[.fff[fff]]][+HH:MM]``: the text is matched here and handed to
    ``fromisoformat`` in that one form, so QGIS on Windows accepts and refuses what the server does.
    """
    m = _DATETIME.fullmatch(text.strip().replace(" ", "T", 1))
    if m is None:
        raise ValueError(text)
    day, hh, mm, ss, frac, tz = m.groups()
    out = day + (f"T{hh}:{mm or '00'}:{ss or '00'}" if hh else "T00:00:00")
    if frac:
        out += "." + (frac + "000000")[:6]
    if tz:
        tz = "+0000" if tz.upper() == "Z" else tz.replace(":", "")
        out += f"{tz[:3]}:{tz[3:] or '00'}"
    return datetime.fromisoformat(out)


def _to_datetime(v: Any) -> str:
    if isinstance(v, datetime):
        dt = v
    elif isinstance(v, str):
        try:
            dt = _iso_datetime(v)
        except ValueError:
            raise _Bad(f"{v!r} is not an ISO 8601 date-time such as 2024-01-09T18:00:00+09:00") from None
    else:
        raise _Bad(f"expected a date-time, got {type(v).__name__}")
    if dt.tzinfo is None:
        raise _Bad(f"{v!r} has no time zone: add one such as +08:00 or Z")
    return format_datetime(dt)


def _to_date(v: Any) -> str:
    if isinstance(v, datetime):
        raise _Bad("expected a date without a time")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, str):
        try:
            return date.fromisoformat(v.strip()).isoformat()
        except ValueError:
            raise _Bad(f"{v!r} is not a date such as 2026-05-01") from None
    raise _Bad(f"expected a date, got {type(v).__name__}")


def _to_number(v: Any, integer: bool) -> int | float:
    if isinstance(v, bool):
        raise _Bad("expected a number, got a true/false value")
    if isinstance(v, str):
        s = v.strip().replace(",", "")
        try:
            v = int(s) if integer and re.fullmatch(r"[+-]?\d+", s) else float(s)
        except ValueError:
            raise _Bad(f"{v!r} is not a number") from None
    if not isinstance(v, (int, float)):
        raise _Bad(f"expected a number, got {type(v).__name__}")
    if isinstance(v, float) and not math.isfinite(v):
        raise _Bad(f"{v} is not a finite number")
    if integer:
        if isinstance(v, float):
            if not v.is_integer():
                raise _Bad(f"{v} is not a whole number")
            v = int(v)
        return int(v)
    return float(v)


def _to_bool(v: Any) -> int:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int) and v in (0, 1):
        return v
    if isinstance(v, str):
        s = v.strip().lower()
        if s in _TRUE:
            return 1
        if s in _FALSE:
            return 0
    raise _Bad(f"{v!r} is not true or false")


def _code(f: FieldDef, v: str) -> str:
    if v in f.codes:
        return v
    low = v.lower()
    for a in f.values:
        if v == a.zh or low == a.en.lower() or low == a.code.lower():
            return a.code
    allowed = ", ".join(f.codes)
    raise _Bad(f"{v!r} is not an allowed value ({allowed})")


def normalise_value(f: FieldDef, v: Any) -> Any:
    """Return the stored form of ``v`` for field ``f``; raise ``_Bad`` with the reason."""
    t = f.type
    if t in ("integer", "real"):
        n = _to_number(v, t == "integer")
        if f.min is not None and n < f.min:
            raise _Bad(f"{n} is below the minimum {f.min:g}{' ' + f.unit if f.unit else ''}")
        if f.max is not None and n > f.max:
            raise _Bad(f"{n} is above the maximum {f.max:g}{' ' + f.unit if f.unit else ''}")
        if t == "integer" and not INT64_MIN <= n <= INT64_MAX:
            raise _Bad(f"{n} is outside the whole numbers a registry stores ({INT64_MIN} to {INT64_MAX})")
        return n
    if t == "boolean":
        return _to_bool(v)
    if t == "date":
        return _to_date(v)
    if t == "datetime":
        return _to_datetime(v)
    if t == "codes":
        items = v if isinstance(v, (list, tuple)) else str(v).replace("，", ",").split(",")
        out: list[str] = []
        for item in items:
            item = str(item).strip()
            if item:
                c = _code(f, item)
                if c not in out:
                    out.append(c)
        if not out:
            raise _Bad("no value given")
        return ",".join(out)
    if not isinstance(v, str):
        if t == "text" and isinstance(v, (int, float)) and not isinstance(v, bool):
            v = str(v)
        elif t in ("adcode", "phone") and isinstance(v, int) and not isinstance(v, bool):
            v = str(v)
        else:
            raise _Bad(f"expected text, got {type(v).__name__}")
    s = v.strip()
    if t == "uuid":
        try:
            return str(uuidlib.UUID(s))
        except ValueError:
            raise _Bad(f"{v!r} is not a UUID") from None
    if t == "adcode":
        if not _ADCODE.match(s):
            raise _Bad(f"{v!r} is not a division code of 6, 9 or 12 digits")
        if s[:2] not in PROVINCE_PREFIXES:
            raise _Bad(f"{v!r} does not start with a GB/T 2260 province code")
        return s
    if t == "phone":
        compact = re.sub(r"[\s\-()]", "", s)
        if not _PHONE.match(compact):
            raise _Bad(f"{v!r} is not a Chinese mobile or landline number")
        return compact
    if f.values:
        return _code(f, s)
    if "\x00" in s:
        raise _Bad("text contains a NUL character")
    if f.max_length and len(s) > f.max_length:
        raise _Bad(f"text of {len(s)} characters is longer than {f.max_length}")
    return s


def _is_blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip()) or (isinstance(v, (list, tuple)) and not v)


def check_geometry(layer: LayerDef, geom: Any) -> tuple[Any, str | None]:
    """Check a geometry (the engine's) already in the storage CRS; promote single to multi where the layer is
    multi."""
    if not layer.has_geometry:
        if geom is not None:
            return None, f"layer {layer.name} has no geometry, but one was given"
        return None, None
    if geom is None:
        return None, "a geometry is required"
    eng = engine()
    if eng.is_empty(geom):
        return None, "the geometry is empty"
    gtype = eng.geom_type(geom)
    want = layer.geometry
    if gtype != want:
        if want == "Multi" + gtype:
            geom = eng.to_multi(geom)
        else:
            return None, f"a {gtype} was given where the layer holds {want}"
    if not eng.within_lonlat(geom):
        return None, "coordinates fall outside longitude −180…180 / latitude −90…90 after reprojection to EPSG:4490"
    why = eng.invalid_reason(geom)
    if why is not None:
        return None, f"invalid geometry: {why}"
    return geom, None


def check_feature(
    layer: LayerDef,
    properties: dict[str, Any],
    geometry: Any,
    *,
    allow_uuid: bool = False,
    reference_exists: Callable[[str, str], bool] | None = None,
    extent: Extent | None = None,
    divisions: Divisions | None = None,
) -> Checked:
    """Check and normalise one feature's user-supplied properties and geometry.

    Unknown fields and fields the registry stamps are refused. Derived fields are
    computed; a given value that disagrees is refused. (An update merges the changes
    into the stored values first, so the whole feature is checked every time.) With ``extent``
    and ``divisions``, a sound geometry must also lie in the extent and in the division its code
    names (:func:`~rallypoint.positions.position_problems`).
    """
    problems: list[tuple[str | None, str]] = []
    out: dict[str, Any] = {}
    for name, value in properties.items():
        if not layer.has_field(name):
            problems.append((name, f"no such field in layer {layer.name}"))
            continue
        f = layer.field(name)
        if f.system and not (name == "uuid" and allow_uuid):
            problems.append((name, "is set by the registry and cannot be given"))
            continue
        if _is_blank(value):
            out[name] = None
            continue
        try:
            out[name] = normalise_value(f, value)
        except _Bad as exc:
            problems.append((name, str(exc)))
    for f in layer.fields:
        if f.required and not f.system and _is_blank(out.get(f.name)) and not any(p[0] == f.name for p in problems):
            problems.append((f.name, "is required"))
    for f in layer.fields:
        if f.derived and f.derived in derive.RULES and not any(p[0] in (f.name,) for p in problems):
            src = layer.field("hazard_type") if layer.has_field("hazard_type") else None
            group_of = (lambda c: (src.value(c).group if src and src.value(c) else None))
            result = derive.RULES[f.derived](out, group_of)
            if result is not None:
                value, why = result
                given = out.get(f.name)
                if given is not None and value is not None and given != value:
                    problems.append((f.name, f"{given!r} disagrees with the rule: {why} gives {value!r}"))
                else:
                    out[f.name] = value
        if f.references and reference_exists is not None and out.get(f.name) and not any(p[0] == f.name for p in problems):
            if not reference_exists(f.references, out[f.name]):
                problems.append((f.name, f"no {f.references} feature in use with UUID {out[f.name]}"))
    geom, why = check_geometry(layer, geometry)
    if why:
        problems.append((None, why))
    elif extent is not None or divisions is not None:
        coded = out if not any(p[0] == "adcode" for p in problems) else {}
        problems.extend(position_problems(layer, coded, geom, extent=extent, divisions=divisions))
    return Checked(out, geom, problems)
