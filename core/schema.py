"""Layer definitions: what each layer holds, read from the data files in ``layers/``.

A definition is data (TOML), not code: geometry type, fields with types, units, allowed
values, ranges, required flags, Chinese and English aliases and descriptions, and which
fields are personal data. This module turns those files into frozen dataclasses and
checks that they are well formed, so a typo in a definition fails at load time with the
file and field named, not later in the middle of a write.
"""

from __future__ import annotations

try:
    import tomllib  # novermin (tomli stands in on older Pythons)
except ModuleNotFoundError:  # Python < 3.11 (QGIS 3.22-3.34 on Windows): the same parser, as tomli
    import tomli as tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Iterable, Mapping

from .errors import DefinitionError

#: Field types a definition may use, with the fiona schema type each is stored as.
FIELD_TYPES: dict[str, str] = {
    "text": "str",
    "uuid": "str:36",
    "adcode": "str:12",
    "phone": "str:20",
    "codes": "str",
    "integer": "int64",
    "real": "float",
    "boolean": "bool",
    "date": "date",
    "datetime": "datetime",
}

GEOMETRY_TYPES = ("Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon", "None")
LAYER_KINDS = ("resource", "related", "reference")
LANGUAGES = ("zh", "en")

_FIELD_KEYS = {
    "name", "type", "required", "system", "personal", "alias_zh", "alias_en", "description_zh",
    "description_en", "unit", "min", "max", "max_length", "values", "derived", "references", "kinds",
}
_LAYER_KEYS = {
    "name", "kind", "geometry", "title_zh", "title_en", "description_zh", "description_en", "style",
    "parent", "parent_field", "tiles",
}
_TILE_KEYS = {"min_zoom", "detail_zoom", "fields", "class_field", "class_min_zoom"}


@dataclass(frozen=True)
class TileRules:
    """How a layer is thinned in vector tiles (``[layer.tiles]`` of its definition).

    Below ``min_zoom`` the layer is left out; below ``detail_zoom`` a feature carries only
    ``fields`` (and its id), from it on every field it may show; a feature whose
    ``class_field`` value is listed in ``class_min_zoom`` appears from that zoom on (classes
    not listed appear from ``min_zoom``). Without the table: every feature and field at every zoom.
    """

    min_zoom: int = 0
    detail_zoom: int = 0
    fields: tuple[str, ...] = ()
    class_field: str | None = None
    class_min_zoom: tuple[tuple[str, int], ...] = ()  # (class, zoom) pairs: hashable, like the definition

    def classes_hidden_at(self, z: int) -> tuple[str, ...]:
        """The classes left out at zoom ``z``."""
        return tuple(c for c, v in self.class_min_zoom if v > z)

    def fields_at(self, z: int) -> tuple[str, ...] | None:
        """The fields carried at zoom ``z``, or None for all of them."""
        return None if z >= self.detail_zoom else self.fields


def _tiles_from_dict(where: str, d: Any, fields: list["FieldDef"]) -> TileRules:
    if d is None:
        return TileRules()
    where = f"{where} [layer.tiles]"
    if not isinstance(d, dict):
        raise DefinitionError(f"{where}: must be a table")
    _check_keys(where, d, _TILE_KEYS)
    by_name = {f.name: f for f in fields}
    zooms = {k: d[k] for k in ("min_zoom", "detail_zoom") if k in d}
    zooms.update({f"class_min_zoom.{k}": v for k, v in d.get("class_min_zoom", {}).items()})
    for k, v in zooms.items():
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= 24:
            raise DefinitionError(f"{where}: {k} must be a zoom level from 0 to 24, not {v!r}")
    names = d.get("fields", [])
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise DefinitionError(f"{where}: fields {', '.join(map(repr, unknown))} are not fields of the layer")
    cf = d.get("class_field")
    if cf is not None:
        if cf not in by_name or not by_name[cf].values:
            raise DefinitionError(f"{where}: class_field {cf!r} must be a field of the layer with allowed values")
        codes = {v.code for v in by_name[cf].values}
        bad = sorted(set(d.get("class_min_zoom", {})) - codes)
        if bad:
            raise DefinitionError(f"{where}: {', '.join(bad)} are not allowed values of {cf}")
    elif d.get("class_min_zoom"):
        raise DefinitionError(f"{where}: class_min_zoom needs class_field")
    return TileRules(min_zoom=d.get("min_zoom", 0), detail_zoom=d.get("detail_zoom", 0), fields=tuple(names),
                     class_field=cf, class_min_zoom=tuple(d.get("class_min_zoom", {}).items()))



@dataclass(frozen=True)
class AllowedValue:
    """One allowed value of a field: the code stored, its labels, an optional group."""

    code: str
    zh: str
    en: str
    group: str | None = None

    def label(self, lang: str = "zh") -> str:
        return self.zh if lang == "zh" else self.en


@dataclass(frozen=True)
class FieldDef:
    """One field of a layer, as its definition file describes it."""

    name: str
    type: str
    alias_zh: str
    alias_en: str
    description_zh: str = ""
    description_en: str = ""
    required: bool = False
    system: bool = False
    personal: bool = False
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    max_length: int | None = None
    values: tuple[AllowedValue, ...] = ()
    derived: str | None = None
    references: str | None = None
    kinds: tuple[str, ...] = LAYER_KINDS

    def alias(self, lang: str = "zh") -> str:
        return self.alias_zh if lang == "zh" else self.alias_en

    def description(self, lang: str = "zh") -> str:
        return self.description_zh if lang == "zh" else self.description_en

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(v.code for v in self.values)

    def value(self, code: str) -> AllowedValue | None:
        for v in self.values:
            if v.code == code:
                return v
        return None

    @property
    def fiona_type(self) -> str:
        base = FIELD_TYPES[self.type]
        if self.type == "text" and self.max_length:
            return f"str:{self.max_length}"
        return base


@dataclass(frozen=True)
class LayerDef:
    """One layer: its kind, geometry type, titles and fields (common fields first)."""

    name: str
    kind: str
    geometry: str
    title_zh: str
    title_en: str
    fields: tuple[FieldDef, ...]
    description_zh: str = ""
    description_en: str = ""
    style: str | None = None
    parent: str | None = None
    parent_field: str | None = None
    tiles: TileRules = field(default_factory=TileRules)
    _index: Mapping[str, FieldDef] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {f.name: f for f in self.fields})

    def title(self, lang: str = "zh") -> str:
        return self.title_zh if lang == "zh" else self.title_en

    def description(self, lang: str = "zh") -> str:
        return self.description_zh if lang == "zh" else self.description_en

    @property
    def has_geometry(self) -> bool:
        return self.geometry != "None"

    @property
    def versioned(self) -> bool:
        """Resource and related layers keep history; reference layers are bulk data."""
        return self.kind in ("resource", "related")

    def field(self, name: str) -> FieldDef:
        return self._index[name]

    def has_field(self, name: str) -> bool:
        return name in self._index

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def editable_fields(self) -> tuple[FieldDef, ...]:
        """Fields a user may set (not the ones the registry stamps)."""
        return tuple(f for f in self.fields if not f.system)

    @property
    def personal_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.personal)

    def fiona_schema(self) -> dict[str, Any]:
        return {
            "geometry": self.geometry,
            "properties": {f.name: f.fiona_type for f in self.fields},
        }


def _check_keys(where: str, got: Iterable[str], allowed: set[str]) -> None:
    unknown = sorted(set(got) - allowed)
    if unknown:
        raise DefinitionError(f"{where}: unknown key(s) {', '.join(unknown)}")


def _field_from_dict(where: str, d: dict[str, Any]) -> FieldDef:
    _check_keys(where, d, _FIELD_KEYS)
    for key in ("name", "type", "alias_zh", "alias_en"):
        if not d.get(key):
            raise DefinitionError(f"{where}: missing {key!r}")
    name = d["name"]
    where = f"{where} field {name!r}"
    if not name.isidentifier() or name != name.lower():
        raise DefinitionError(f"{where}: a field name must be a lower-case identifier")
    if d["type"] not in FIELD_TYPES:
        raise DefinitionError(f"{where}: type {d['type']!r} is not one of {', '.join(FIELD_TYPES)}")
    values = []
    for v in d.get("values", []):
        if not isinstance(v, dict) or not {"code", "zh", "en"} <= set(v):
            raise DefinitionError(f"{where}: each allowed value needs code, zh and en")
        values.append(AllowedValue(str(v["code"]), v["zh"], v["en"], v.get("group")))
    codes = [v.code for v in values]
    if len(codes) != len(set(codes)):
        raise DefinitionError(f"{where}: allowed values repeat a code")
    if d["type"] == "codes" and not values:
        raise DefinitionError(f"{where}: a 'codes' field needs allowed values")
    if any("," in c for c in codes):
        raise DefinitionError(f"{where}: an allowed code may not contain a comma")
    lo, hi = d.get("min"), d.get("max")
    if lo is not None and hi is not None and lo > hi:
        raise DefinitionError(f"{where}: min {lo} is above max {hi}")
    kinds = tuple(d.get("kinds", LAYER_KINDS))
    if not set(kinds) <= set(LAYER_KINDS):
        raise DefinitionError(f"{where}: kinds must be among {', '.join(LAYER_KINDS)}")
    return FieldDef(
        name=name,
        type=d["type"],
        alias_zh=d["alias_zh"],
        alias_en=d["alias_en"],
        description_zh=d.get("description_zh", ""),
        description_en=d.get("description_en", ""),
        required=bool(d.get("required", False)),
        system=bool(d.get("system", False)),
        personal=bool(d.get("personal", False)),
        unit=d.get("unit"),
        min=lo,
        max=hi,
        max_length=d.get("max_length"),
        values=tuple(values),
        derived=d.get("derived"),
        references=d.get("references"),
        kinds=kinds,
    )


def layer_from_dict(where: str, data: dict[str, Any], common: Iterable[FieldDef] = ()) -> LayerDef:
    """Build a :class:`LayerDef` from parsed TOML (``[layer]`` and ``[[field]]``).

    ``common`` fields are put first for resource and related layers, filtered by
    each common field's ``kinds``. ``where`` names the source in error messages.
    """
    _check_keys(where, data, {"layer", "field"})
    meta = data.get("layer")
    if not isinstance(meta, dict):
        raise DefinitionError(f"{where}: missing [layer] table")
    _check_keys(f"{where} [layer]", meta, _LAYER_KEYS)
    for key in ("name", "kind", "geometry", "title_zh", "title_en"):
        if not meta.get(key):
            raise DefinitionError(f"{where} [layer]: missing {key!r}")
    if meta["kind"] not in LAYER_KINDS:
        raise DefinitionError(f"{where} [layer]: kind must be one of {', '.join(LAYER_KINDS)}")
    if meta["geometry"] not in GEOMETRY_TYPES:
        raise DefinitionError(f"{where} [layer]: geometry must be one of {', '.join(GEOMETRY_TYPES)}")
    name = meta["name"]
    if not name.isidentifier() or name != name.lower() or name.startswith(("gpkg", "rtree", "rp_")):
        raise DefinitionError(f"{where}: layer name {name!r} must be a lower-case identifier not starting gpkg/rtree/rp_")
    fields: list[FieldDef] = []
    if meta["kind"] != "reference":
        fields.extend(f for f in common if meta["kind"] in f.kinds)
    fields.extend(_field_from_dict(f"{where}", f) for f in data.get("field", []))
    names = [f.name for f in fields]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DefinitionError(f"{where}: field(s) defined twice: {', '.join(dupes)}")
    if meta["kind"] == "related":
        pf = meta.get("parent_field")
        if not meta.get("parent") or pf not in names:
            raise DefinitionError(f"{where}: a related layer needs parent and a parent_field among its fields")
    return LayerDef(
        name=name,
        kind=meta["kind"],
        geometry=meta["geometry"],
        title_zh=meta["title_zh"],
        title_en=meta["title_en"],
        description_zh=meta.get("description_zh", ""),
        description_en=meta.get("description_en", ""),
        style=meta.get("style"),
        parent=meta.get("parent"),
        parent_field=meta.get("parent_field"),
        fields=tuple(fields),
        tiles=_tiles_from_dict(where, meta.get("tiles"), fields),
    )


def _definitions_dir():
    return resources.files("rallypoint_layers").joinpath("definitions")


def style_text(filename: str) -> str:
    """The QML text of one of the built-in styles in ``layers/styles``."""
    return resources.files("rallypoint_layers").joinpath("styles", filename).read_text(encoding="utf-8")


@cache
def common_fields() -> tuple[FieldDef, ...]:
    """The fields every resource (and, filtered by ``kinds``, related) layer carries."""
    common_data = tomllib.loads(_definitions_dir().joinpath("_common.toml").read_text(encoding="utf-8"))
    _check_keys("_common.toml", common_data, {"field"})
    return tuple(_field_from_dict("_common.toml", f) for f in common_data.get("field", []))


@cache
def builtin_layers() -> dict[str, LayerDef]:
    """The layers defined in ``layers/definitions``, in a stable order, by name."""
    folder = _definitions_dir()
    common = common_fields()
    order = ["shelters", "depots", "depot_stock", "teams", "hazard_points", "helipads",
             "admin_areas", "population", "roads"]
    found: dict[str, LayerDef] = {}
    for entry in sorted(folder.iterdir(), key=lambda p: p.name):
        if not entry.name.endswith(".toml") or entry.name.startswith("_"):
            continue
        try:
            data = tomllib.loads(entry.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise DefinitionError(f"{entry.name}: not valid TOML: {exc}") from exc
        layer = layer_from_dict(entry.name, data, common)
        if layer.name in found:
            raise DefinitionError(f"{entry.name}: layer {layer.name!r} defined twice")
        found[layer.name] = layer
    ordered = {n: found.pop(n) for n in order if n in found}
    ordered.update(sorted(found.items()))
    for layer in ordered.values():
        for f in layer.fields:
            if f.references and f.references not in ordered:
                raise DefinitionError(f"{layer.name}.{f.name}: references unknown layer {f.references!r}")
    return ordered


RESOURCE_LAYERS = ("shelters", "depots", "teams", "hazard_points", "helipads")
