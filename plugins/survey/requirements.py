"""What a survey asks of each layer: a profile's required fields, placeholders and name suffixes, checked.

A survey profile is data (``kind = "survey_requirements"``): built-in ones ship in ``profiles/``, any plugin
can add more through ``rallypoint_profiles``, and the command line also takes a TOML file. Everything in it
is checked against the registry's own layer definitions before anything is counted, so a misspelt field is
a message naming the profile, the layer and the field, never a column of zeros.
"""

from __future__ import annotations

try:
    import tomllib  # novermin (tomli stands in on older Pythons)
except ModuleNotFoundError:  # Python < 3.11 (QGIS 3.22-3.34 on Windows): the same parser, as tomli
    import tomli as tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from rallypoint.analysis import AnalysisError
from rallypoint_plugins.reporting.notes import Notes
from rallypoint.profiles import Profile, find_profile

if TYPE_CHECKING:  # pragma: no cover
    from rallypoint import Registry
    from rallypoint.schema import LayerDef

KIND = "survey_requirements"
DATE_TYPES = ("datetime", "date")


@dataclass(frozen=True)
class LayerRequirement:
    """The survey's demands on one layer."""

    layer: str
    required: tuple[str, ...]
    placeholders: Mapping[str, tuple[Any, ...]]
    name_suffixes: tuple[str, ...]
    date_field: str


def load_profile_file(path: str | Path) -> Profile:
    """A survey profile from a TOML file (the same layout as the built-in ``profiles/*.toml``)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AnalysisError(f"survey profile {p}: cannot be read ({exc})") from None
    try:
        profile = Profile.from_toml(text, where=str(p))
    except tomllib.TOMLDecodeError as exc:
        raise AnalysisError(f"survey profile {p}: not valid TOML ({exc})") from None
    except Exception as exc:  # Profile.from_toml names what the file lacks
        raise AnalysisError(str(exc)) from None
    if profile.kind != KIND:
        raise AnalysisError(f"survey profile {p}: kind is {profile.kind!r}; a survey profile has kind = {KIND!r}")
    return profile


def resolve_profile(profiles, name_or_path: str) -> Profile:
    """An installed survey profile by name, or else a TOML file by path (for the command line)."""
    if name_or_path.endswith(".toml") or Path(name_or_path).is_file():
        return load_profile_file(name_or_path)
    return find_profile(profiles, KIND, name_or_path)


def parse_field_overrides(text: str | None) -> dict[str, tuple[str, ...]]:
    """``"shelters:name,capacity_day;teams:members"`` → ``{"shelters": ("name", "capacity_day"), ...}``.

    >>> parse_field_overrides("shelters: name, capacity_day ; teams:members")
    {'shelters': ('name', 'capacity_day'), 'teams': ('members',)}
    """
    out: dict[str, tuple[str, ...]] = {}
    for part in (text or "").split(";"):
        if not part.strip():
            continue
        layer, sep, fields = part.partition(":")
        names = tuple(f.strip() for f in fields.split(",") if f.strip())
        if not sep or not layer.strip() or not names:
            raise AnalysisError(f"parameter 'fields': {part.strip()!r} is not LAYER:FIELD,FIELD "
                                "(e.g. shelters:name,capacity_day;teams:members)")
        out[layer.strip()] = names
    return out


def _field_list(where: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise AnalysisError(f"{where}: must be a list of field names")
    return tuple(value)


def _check_fields(ldef: "LayerDef", where: str, names) -> None:
    unknown = [n for n in names if not ldef.has_field(n)]
    if unknown:
        raise AnalysisError(f"{where}: layer {ldef.name!r} has no field {', '.join(map(repr, unknown))} "
                            f"(its fields: {', '.join(ldef.field_names)})")


def requirements(reg: "Registry", profile: Profile, *, layers: str | None = None,
                 fields: str | None = None) -> tuple[list[LayerRequirement], list[str]]:
    """The checked requirements of each layer surveyed, and warnings (profile layers this registry lacks).

    ``layers`` (comma-separated) limits the survey to those layers; ``fields`` replaces the profile's
    required fields of the layers it names (and may add layers the profile does not list).
    """
    where = f"survey profile {profile.name!r}"
    data = profile.data
    spec = data.get("layers")
    if not isinstance(spec, Mapping) or not spec:
        raise AnalysisError(f"{where}: has no [data.layers.<layer>] tables")
    default_date = data.get("date_field", "updated_at")
    overrides = parse_field_overrides(fields)
    wanted = [n.strip() for n in (layers or "").split(",") if n.strip()]
    for name in wanted + list(overrides):
        if name not in reg.layers:
            raise AnalysisError(f"no layer {name!r} in this registry (layers: {', '.join(reg.layers)})")
    left_out = [name for name in overrides if wanted and name not in wanted]
    if left_out:
        raise AnalysisError(f"parameter 'fields' names {', '.join(map(repr, left_out))}, which parameter "
                            f"'layers' ({', '.join(wanted)}) leaves out")
    names = wanted or list(dict.fromkeys([*spec, *overrides]))
    out, warnings = [], Notes()
    for name in names:
        if name not in reg.layers:
            warnings.add(f"{where} lists the layer {name!r}, which this registry does not have; left out",
                         f"调查方案 {profile.title('zh')} 列出的图层“{name}”在本登记库中不存在，未调查")
            continue
        ldef = reg.layer(name)
        if not ldef.has_field("adcode") or not ldef.has_field("uuid"):
            raise AnalysisError(f"layer {name!r} has no division code (adcode) and UUID of its own: the survey "
                                "counts resources by township; survey a resource layer")
        layer_spec = spec.get(name, {})
        if name not in spec and name not in overrides:
            raise AnalysisError(f"{where} asks nothing of the layer {name!r}; give its fields with "
                                f"fields={name}:FIELD,FIELD or choose from {', '.join(spec)}")
        lwhere = f"{where}, layer {name}"
        required = overrides.get(name) or _field_list(f"{lwhere}: required", layer_spec.get("required", []))
        _check_fields(ldef, f"parameter 'fields'" if name in overrides else f"{lwhere}: required", required)
        raw_ph = layer_spec.get("placeholders", {})
        if not isinstance(raw_ph, Mapping):
            raise AnalysisError(f"{lwhere}: placeholders must be a table of field = [values]")
        _check_fields(ldef, f"{lwhere}: placeholders", list(raw_ph))
        placeholders = {f: tuple(v if isinstance(v, list) else [v]) for f, v in raw_ph.items() if f in required}
        suffixes = _field_list(f"{lwhere}: name_suffixes", layer_spec.get("name_suffixes", []))
        date_field = layer_spec.get("date_field", default_date)
        _check_fields(ldef, f"{lwhere}: date_field", [date_field])
        if ldef.field(date_field).type not in DATE_TYPES:
            raise AnalysisError(f"{lwhere}: date_field {date_field!r} is a {ldef.field(date_field).type} field, "
                                "not a date or time")
        out.append(LayerRequirement(name, tuple(required), placeholders, suffixes, date_field))
    if not out:
        raise AnalysisError(f"{where}: none of its layers ({', '.join(spec)}) is in this registry")
    return out, warnings
