"""Mapping profiles: how a foreign file's fields become a Rallypoint layer's, as data.

A mapping profile is a :class:`~rallypoint.profiles.Profile` of kind ``import_mapping``
(TOML, provided through the ``rallypoint_profiles`` hook like the capacity standards).
Its ``data`` says which layer it fills, how to recognise a source it fits, and for each
target field where the value comes from and how it is turned into the stored form::

    [data]
    layer = "shelters"
    match = ["共通ID", "施設・場所名", "洪水"]          # source fields that must all be there
    options = { adcode = "division code of the receiving bureau" }   # given on the command line
    [data.id]                                          # stable UUIDs: uuid5(namespace, source id)
    namespace = "0b4c…"
    from = ["共通ID"]
    [data.fields]
    name = "施設・場所名"                                # copy a field
    adcode = { option = "adcode" }                     # a value the user gives (--adcode)
    hazards = { flags = { "洪水" = "flood", "地震" = "earthquake" }, true = ["1"] }
    capacity_day = { from = "想定収容人数", parse = "pkg.module:function", pick = "total" }
    effective_area_m2 = { from = "面積", unit = "ha" }  # converted to the field's unit (m²)
    status = { from = "状態", map = { "開設" = "open", "閉鎖" = "closed" } }
    [data.constants]                                    # the same for every feature
    shelter_type = "emergency"
    [data.fallback]                                     # only where the source gives nothing; counted in the report
    status = "standby"                                  # (never a made-up 0 for an unknown capacity or area)

A rule takes its raw value from ``from`` (a field, or a list: the first one given),
``column`` (the first column whose name matches a regular expression), ``column_name``
(that column's *name* is the value, for files that put the date in a header), ``option``,
``template`` (``"{fieldA} {fieldB}"``) or ``flags``; then applies, in order, ``map``
(``map_other = "keep" | "null" | "refuse"``, default ``refuse``), ``parse`` (a value
parser by name: ``number`` is built in, plugins add theirs through the ``rallypoint_value_parsers``
hook; and ``pick`` of its result), ``unit``/``multiply`` and ``tz``
(the time zone of a date-time written without one). ``--set FIELD=VALUE`` on the command
line overrides a profile's constants.

Stable identity: a source without Rallypoint UUIDs gets ``uuid5(namespace, source id)``,
so importing the same file again finds the same features and changes nothing.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
import uuid as uuidlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Mapping

from ..errors import RallypointError
from ..profiles import Profile
from ..schema import LayerDef
from .readers import SourceLayer

KIND = "import_mapping"
IMPORT_NAMESPACE = uuidlib.uuid5(uuidlib.NAMESPACE_URL, "urn:rallypoint:import")

_DATA_KEYS = {"layer", "match", "match_patterns", "exclude_patterns", "crs", "x", "y", "options", "id", "fields",
              "constants", "fallback", "absent"}
_RULE_KEYS = {"from", "column", "column_name", "option", "template", "flags", "true", "map", "map_other", "parse",
              "pick", "unit", "multiply", "tz", "value"}
_TRUE = ("1", "1.0", "true", "yes", "y", "t", "○", "◯", "有", "是")

# Units a rule may convert from, to the unit a field's definition states.
_UNITS = {
    "m²": {"m²": 1.0, "m2": 1.0, "㎡": 1.0, "ha": 1e4, "km²": 1e6, "km2": 1e6, "mu": 10000 / 15, "亩": 10000 / 15},
    "m": {"m": 1.0, "km": 1000.0, "cm": 0.01},
    "m³": {"m³": 1.0, "m3": 1.0, "L": 0.001, "万m³": 1e4},
    "t": {"t": 1.0, "kg": 0.001},
    "km": {"km": 1.0, "m": 0.001},
    "km/h": {"km/h": 1.0, "m/s": 3.6},
}


class MappingError(RallypointError, ValueError):
    """A mapping profile is malformed, or cannot be used as asked (a missing option, no match)."""

    http_status = 400
    ogc_code = "InvalidParameterValue"


class RowError(Exception):
    """One source feature cannot be mapped; the message says which field and why."""


def builtin_parse_number(value: Any) -> float | None:
    """A number written as text: full-width digits and thousands separators allowed (``１，２００`` → 1200)."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    s = unicodedata.normalize("NFKC", str(value)).replace(",", "").strip()
    m = re.search(r"[-+]?\d+(?:\.\d+)?", s)
    if not m:
        raise RowError(f"{value!r} holds no number")
    return float(m.group(0))


#: the parsers every registry has; plugins add theirs through the ``rallypoint_value_parsers`` hook
BUILTIN_PARSERS: dict[str, Callable[[Any], Any]] = {"number": builtin_parse_number}


def value_parsers(pm) -> dict[str, Callable[[Any], Any]]:
    """The parsers profiles may name: the built-in ones and those the plugins provide (a plugin's code is loaded
    through pluggy, like every other hook; never by a name in a data file)."""
    out = dict(BUILTIN_PARSERS)
    for p in pm.collect("rallypoint_value_parsers"):
        if p.name in out:
            raise MappingError(f"two value parsers are called {p.name!r}")
        out[p.name] = p.parse
    return out


@dataclass(frozen=True)
class Rule:
    target: str
    spec: Mapping[str, Any]
    parser: Callable[[Any], Any] | None = None  # the function ``spec["parse"]`` names


@dataclass
class ImportMapping:
    """A compiled mapping from one source layer's fields onto one Rallypoint layer."""

    name: str
    title: str
    layer: str
    rules: tuple[Rule, ...] = ()
    constants: Mapping[str, Any] = field(default_factory=dict)
    fallback: Mapping[str, Any] = field(default_factory=dict)
    options: Mapping[str, str] = field(default_factory=dict)
    match: tuple[str, ...] = ()
    match_patterns: tuple[str, ...] = ()
    exclude_patterns: tuple[str, ...] = ()
    crs: str | None = None
    xy: tuple[str, str] | None = None
    id_namespace: uuidlib.UUID | None = None
    id_from: tuple[str, ...] = ()
    absent: Mapping[str, Any] | None = None
    native: bool = False  # a Rallypoint layer's own fields (an export): UUID, version and retirement are kept
    columns: Mapping[str, str] = field(default_factory=dict)  # native: the source's column for uuid, version …

    def score(self, layer: SourceLayer) -> int:
        """How well this mapping fits ``layer`` (0: not at all)."""
        cols = set(layer.fields)
        if not self.match or not all(m in cols for m in self.match):
            return 0
        for p in self.match_patterns:
            if not any(re.search(p, c) for c in cols):
                return 0
        for p in self.exclude_patterns:
            if any(re.search(p, c) for c in cols):
                return 0
        return len(self.match) + len(self.match_patterns) + len(self.exclude_patterns)


def from_profile(profile: Profile, parsers: Mapping[str, Callable[[Any], Any]] = BUILTIN_PARSERS) -> ImportMapping:
    """Compile and check a profile of kind ``import_mapping`` (``parsers``: the value parsers it may name, see
    :func:`value_parsers`); errors name the profile and key."""
    where = f"import mapping {profile.name!r}"
    d = dict(profile.data)
    unknown = sorted(set(d) - _DATA_KEYS)
    if unknown:
        raise MappingError(f"{where}: unknown key(s) {', '.join(unknown)}")
    if not d.get("layer"):
        raise MappingError(f"{where}: no target layer")
    rules = []
    for target, spec in dict(d.get("fields", {})).items():
        spec = {"from": spec} if isinstance(spec, (str, list)) else dict(spec)
        bad = sorted(set(spec) - _RULE_KEYS)
        if bad:
            raise MappingError(f"{where}: field {target!r}: unknown key(s) {', '.join(bad)}")
        parser = None
        if "parse" in spec:
            parser = parsers.get(spec["parse"])
            if parser is None:
                raise MappingError(f"{where}: field {target!r}: no value parser {spec['parse']!r} (available: "
                                   f"{', '.join(sorted(parsers))}; a plugin adds one with the "
                                   "rallypoint_value_parsers hook)")
        rules.append(Rule(target, spec, parser))
    ident = dict(d.get("id", {}))
    ns = ident.get("namespace")
    try:
        namespace = uuidlib.UUID(ns) if ns else None
    except ValueError:
        namespace = uuidlib.uuid5(uuidlib.NAMESPACE_URL, str(ns))
    id_from = ident.get("from", ())
    x, y = d.get("x"), d.get("y")
    return ImportMapping(
        name=profile.name, title=profile.title("en"), layer=d["layer"], rules=tuple(rules),
        constants=dict(d.get("constants", {})), fallback=dict(d.get("fallback", {})),
        options=dict(d.get("options", {})),
        match=tuple(d.get("match", ())), match_patterns=tuple(d.get("match_patterns", ())),
        exclude_patterns=tuple(d.get("exclude_patterns", ())), crs=d.get("crs"), xy=(x, y) if x and y else None,
        id_namespace=namespace, id_from=(id_from,) if isinstance(id_from, str) else tuple(id_from),
        absent=d.get("absent"))


def import_mappings(pm) -> dict[str, ImportMapping]:
    """Every import mapping the installed plugins provide, by name."""
    parsers = value_parsers(pm)
    return {p.name: from_profile(p, parsers) for p in pm.collect("rallypoint_profiles") if p.kind == KIND}


def native_mapping(ldef: LayerDef, layer: SourceLayer) -> ImportMapping:
    """The identity mapping of a layer that already has Rallypoint's field names (an export, a CSV of ours).

    Names match without regard to case, as GDAL matches field names (``NAME`` is ``name``; an exact match
    wins). Shapefiles cut field names to ten characters; a field matches its cut name when that is
    unambiguous.
    """
    find = source_column(layer.fields)
    rules = []
    for f in ldef.editable_fields:
        if find(f.name):
            rules.append(Rule(f.name, {"from": find(f.name)}))
        elif len(f.name) > 10 and find(f.name[:10]) and sum(g.name[:10] == f.name[:10] for g in ldef.fields) == 1:
            rules.append(Rule(f.name, {"from": find(f.name[:10])}))
    own = {n: find(n) for n in ("uuid", "version", "retired_at") if find(n)}
    return ImportMapping(name=f"native:{ldef.name}", title=f"Rallypoint {ldef.name}", layer=ldef.name,
                         rules=tuple(rules), native=True, columns=own)


def source_column(fields: Iterable[str]) -> Callable[[str], str | None]:
    """``find(name)``: the source's column called ``name``, matched as GDAL does (exactly, else ignoring case)."""
    exact = set(fields)
    folded: dict[str, str] = {}
    for c in fields:
        folded.setdefault(c.casefold(), c)

    def find(name: str) -> str | None:
        return name if name in exact else folded.get(name.casefold())

    return find


# -- applying a mapping to one row ------------------------------------------------------


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip())


def _first_column(row: Mapping[str, Any], pattern: str) -> str | None:
    for c in row:
        if re.search(pattern, c):
            return c
    return None


def _truthy(v: Any, true: Iterable[str]) -> bool:
    if v is None or v is False:
        return False
    if v is True:
        return True
    return str(v).strip().lower() in true


def _raw(spec: Mapping[str, Any], row: Mapping[str, Any], options: Mapping[str, Any]) -> Any:
    if "value" in spec:
        return spec["value"]
    if "option" in spec:
        return options.get(spec["option"])
    if "flags" in spec:
        true = tuple(str(t).lower() for t in spec.get("true", _TRUE))
        out: list[str] = []
        for src, code in spec["flags"].items():
            if _truthy(row.get(src), true) and code and code not in out:
                out.append(code)
        return out or None
    if "template" in spec:
        def sub(m: re.Match) -> str:
            v = row.get(m.group(1))
            return "" if _blank(v) else str(v)
        text = re.sub(r"\{([^{}]+)\}", sub, spec["template"]).strip()
        return text or None
    value = None
    src = spec.get("from")
    for name in ([src] if isinstance(src, str) else list(src or ())):
        if not _blank(row.get(name)):
            value = row[name]
            break
    if value is None and "column" in spec:
        col = _first_column(row, spec["column"])
        value = row.get(col) if col else None
    if value is None and "column_name" in spec:
        value = _first_column(row, spec["column_name"])
    return value


def _convert_unit(value: float, unit: str, target_unit: str | None, target: str) -> float:
    table = _UNITS.get(target_unit or "")
    if table is None or unit not in table:
        raise MappingError(f"cannot convert {unit!r} to {target_unit!r} for field {target!r}")
    return value * table[unit]


def apply_rule(rule: Rule, row: Mapping[str, Any], options: Mapping[str, Any], target_unit: str | None) -> Any:
    spec = rule.spec
    value = _raw(spec, row, options)
    if _blank(value):
        return None
    if isinstance(value, str):
        value = value.strip()
    if "map" in spec:
        table = spec["map"]
        key = str(value)
        if key in table:
            value = table[key]
        elif spec.get("map_other", "refuse") == "null":
            value = None
        elif spec.get("map_other", "refuse") != "keep":
            raise RowError(f"field {rule.target!r}: {key!r} is not in the profile's value map "
                           f"({', '.join(map(str, table))})")
    if rule.parser is not None and value is not None:
        try:
            value = rule.parser(value)
        except RowError:
            raise
        except Exception as exc:  # a parser is someone's code; its failure refuses this feature only
            raise RowError(f"field {rule.target!r}: cannot parse {value!r}: {exc}") from None
        if value is not None and "pick" in spec:
            value = value.get(spec["pick"]) if isinstance(value, Mapping) else getattr(value, spec["pick"], None)
    if value is not None and ("unit" in spec or "multiply" in spec):
        value = builtin_parse_number(value)
        if "unit" in spec:
            value = _convert_unit(value, spec["unit"], target_unit, rule.target)
        value = value * float(spec.get("multiply", 1))
    if value is not None and "tz" in spec:
        value = _with_zone(value, spec["tz"])
    return value


def _with_zone(value: Any, tz: str) -> Any:
    m = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", tz)
    if not m:
        raise MappingError(f"time zone {tz!r} is not like +09:00")
    zone = timezone((1 if m.group(1) == "+" else -1) * timedelta(hours=int(m.group(2)), minutes=int(m.group(3))))
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    if isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.replace(" ", "T", 1))
        except ValueError:
            return value
        return (dt if dt.tzinfo else dt.replace(tzinfo=zone)).isoformat()
    return value


def stable_uuid(namespace: uuidlib.UUID, parts: Iterable[Any]) -> str:
    """``uuid5(namespace, "a/b/…")``: the same source id always gives the same UUID."""
    return str(uuidlib.uuid5(namespace, "/".join(str(p).strip() for p in parts)))


def content_uuid(layer: str, props: Mapping[str, Any], geometry: Any) -> str:
    """A UUID from a feature's content, for sources with no id at all (re-importing the same file matches)."""
    text = json.dumps(props, sort_keys=True, ensure_ascii=False, default=str) + (geometry.wkt if geometry is not None
                                                                                   else "")
    return str(uuidlib.uuid5(IMPORT_NAMESPACE, f"{layer}:{text}"))
