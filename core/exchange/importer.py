"""Planning an import: which features of a file are new, changed, unchanged or refused, and why.

:func:`plan_import` reads the source (:mod:`.readers`), picks a mapping for each of its
layers (:mod:`.mapping`: the layer's own Rallypoint fields for an export, else a mapping
profile that fits, or the one named), maps and reprojects every feature, and compares it
with the registry, matched on its **stable UUID, never on fid**:

* a UUID the registry does not have is an ``insert`` (a retired feature of an export is
  inserted and retired, so its record travels too);
* a UUID it has is an ``update`` of the fields that differ, or ``unchanged``; a feature
  retired or restored in the file is retired or restored;
* anything that cannot be read or mapped is ``refused``, with the reason.

What a mapping gives is the source's word and replaces the registry's values; a profile's
``constants`` and ``fallback`` values only fill a *new* feature (re-importing a foreign
list does not reset a shelter the bureau has since opened); ``--set`` always applies. An
empty value from a profile means "not given" and never clears a stored value; an empty
field in a file of Rallypoint's own fields (an export) does clear it.

When the file is an export of **this** registry (same name, bureau and creation time in
its metadata), each feature's version in the file is the common base: the registry's
history gives that version, and only what was changed *in the file* since then is
applied; a field changed both in the file and in the registry is a conflict and the
feature is refused (use ``rallypoint merge`` for a bureau's changes). From any other
source the file's values are applied as they are.

The plan is applied by :func:`.apply.apply_import` through ``Registry.batch``, so
validation, stamps, history and all-or-nothing are the registry's own.
"""

from __future__ import annotations

import re
import uuid as uuidlib
from collections import Counter
from contextlib import closing
from functools import lru_cache
from itertools import repeat
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pyproj
import shapely

from .. import geometry as geo
from ..registry import Registry, adcode_prefix
from ..schema import LayerDef
from . import mapping as mp
from .matching import absent_rule, current_states, decide, geometry_unchanged
from .plan import ImportPlan, ImportRefused, LayerChoice, PlannedFeature, describe_choices, plan_to_dict
from .readers import Source, SourceLayer, points_from_columns, read_source

_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

__all__ = ["ImportPlan", "ImportRefused", "PlannedFeature", "describe_choices", "plan_import", "plan_to_dict",
           "reproject"]


# -- helpers -----------------------------------------------------------------------------


@lru_cache(maxsize=32)
def _transformer(wkt: str) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(pyproj.CRS.from_wkt(wkt), geo.STORAGE_CRS, always_xy=True)


def reproject(geoms: list[Any], crs: pyproj.CRS | None) -> list[Any]:
    """Every geometry of a layer to EPSG:4490 in one pass (the CRS from the file's definition)."""
    if crs is None or crs == geo.STORAGE_CRS or not any(g is not None for g in geoms):
        return list(geoms)
    tr = _transformer(crs.to_wkt())

    def apply(xy: np.ndarray) -> np.ndarray:
        if len(xy) == 1:  # pyproj takes one-element arrays for scalars (and warns): give it scalars
            return np.array([tr.transform(float(xy[0, 0]), float(xy[0, 1]))])
        x, y = tr.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return list(shapely.transform(np.array(geoms, dtype=object), apply))


def _order_codes(ldef: LayerDef, name: str, value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        f = ldef.field(name)
        codes = [str(v) for v in value]
        known = [c for c in f.codes if c in codes]
        value = ",".join(known + [c for c in codes if c not in known])
    return value


def _version(value: Any) -> int:
    """A feature's version from a file: a whole number from 1 (a foreign or damaged file may hold anything)."""
    if type(value) is int and 1 <= value < 2 ** 63:  # an export's own INTEGER column: nothing to parse
        return value
    try:
        number = float(str(value).strip()) if not isinstance(value, bool) else float("nan")
    except ValueError:
        number = float("nan")
    if not (number == number and number.is_integer() and 1 <= number < 2 ** 63):
        raise mp.RowError(f"version {value!r} is not a whole number from 1")
    return int(number)


# -- choosing a mapping for each layer ------------------------------------------------------


def _choose(reg: Registry, src: Source, mappings: dict[str, mp.ImportMapping], profile: str | None,
            layer_map: Mapping[str | None, str]) -> tuple[list[tuple[SourceLayer, mp.ImportMapping]], list]:
    chosen, skipped = [], list(src.skipped)
    named = None
    if profile:
        if profile not in mappings:
            installed = ", ".join(sorted(mappings)) or "none"
            raise ImportRefused(f"no import mapping profile {profile!r} (installed: {installed})")
        named = mappings[profile]
    for layer in src.layers:
        target = layer_map.get(layer.name) or (layer_map.get(None) if len(src.layers) == 1 else None)
        if target:
            if target in mappings:
                chosen.append((layer, mappings[target]))
            elif mp.source_column(reg.layers)(target):
                chosen.append((layer, mp.native_mapping(reg.layer(mp.source_column(reg.layers)(target)), layer)))
            else:
                raise ImportRefused(f"--layer {layer.name}={target}: {target!r} is neither a layer of the registry "
                                    f"nor a mapping profile")
            continue
        if named is not None:
            if named.score(layer) or len(src.layers) == 1:
                chosen.append((layer, named))
            else:
                skipped.append((layer.name, f"profile {named.name} does not fit its fields"))
            continue
        own = mp.source_column(reg.layers)(layer.name)  # SHELTERS is shelters, as SQLite and GDAL see it
        if own:
            chosen.append((layer, mp.native_mapping(reg.layer(own), layer)))
            continue
        scored = sorted(((m.score(layer), n) for n, m in mappings.items() if m.score(layer)), reverse=True)
        if scored and (len(scored) == 1 or scored[0][0] > scored[1][0]):
            chosen.append((layer, mappings[scored[0][1]]))
        elif scored:
            raise ImportRefused(f"layer {layer.name!r} fits several mapping profiles "
                                f"({', '.join(n for _, n in scored)}); choose one with --profile")
        else:
            skipped.append((layer.name, ("no layer maps to a Rallypoint layer: its name is not a Rallypoint layer "
                                         "and no mapping profile fits its fields (use --profile or "
                                         "--layer SOURCE=TARGET)")))
    for layer, m in list(chosen):
        ldef = reg.layers.get(m.layer)
        if ldef is None or not ldef.versioned:
            chosen.remove((layer, m))
            why = f"the registry has no layer {m.layer!r}" if ldef is None else \
                f"{m.layer} is a base layer; base layers are loaded whole (Registry.load_reference), not imported"
            skipped.append((layer.name, why))
    return chosen, skipped


# -- --adcode ---------------------------------------------------------------------------------


class AdcodeFill:
    """``--adcode``: the division code of features that come without one, whatever the file's field names.

    A feature that has its own code keeps it (a township's code in a county's list is more precise
    than the county's); those are counted, and one outside the division ``--adcode`` names gets a
    warning, since the receiving bureau said the records are its own. ``--set adcode=…`` overrides
    every feature's code instead.
    """

    def __init__(self, code: str, layer: str):
        self.code, self.layer = str(code).strip(), layer
        self.filled = self.kept = 0
        self.outside: list[str] = []

    def fill(self, given: dict[str, Any], label: str) -> None:
        value = given.get("adcode")
        if mp._blank(value) or (isinstance(value, (list, tuple)) and not value):
            given["adcode"] = self.code
            self.filled += 1
        elif str(value).strip() != self.code:
            self.kept += 1
            if not str(value).strip().startswith(adcode_prefix(self.code)):
                self.outside.append(f"{label}: {str(value).strip()}")

    def report(self, notes: list[str], warnings: list[str]) -> None:
        if self.filled:
            notes.append(f"{self.layer}: --adcode {self.code} given to {self.filled} feature(s) "
                         "without a division code")
        if self.kept:
            notes.append(f"{self.layer}: {self.kept} feature(s) keep the division code the file gives them "
                         f"(--adcode fills missing codes; --set adcode=… replaces every code)")
        if self.outside:
            warnings.append(f"{self.layer}: {len(self.outside)} feature(s) have a division code outside {self.code} "
                            f"(--adcode), kept as the file gives it: {', '.join(self.outside[:5])}"
                            + (" …" if len(self.outside) > 5 else ""))


# -- the plan -------------------------------------------------------------------------------


def _lineage(reg: Registry, src: Source) -> str:
    info = src.registry_info
    if not info:
        return "foreign"
    same = all(info.get(k) == getattr(reg.info, k) for k in ("name", "bureau", "created_at"))
    return "this registry" if same else "another registry"


def _map_layer(ldef: LayerDef, layer: SourceLayer, m: mp.ImportMapping, geoms: list[Any], options: Mapping[str, Any],
               sets: Mapping[str, Any], id_field: str | None, id_namespace: str | None, seen: dict[str, str],
               crs_problem: str | None,
               adcodes: "AdcodeFill | None" = None) -> list[tuple[PlannedFeature, dict[str, Any], dict[str, Any]]]:
    """Map every row; return (planned feature, source-given fields, insert-only fields)."""
    editable = {f.name for f in ldef.editable_fields}
    plain = [set(r.spec) == {"from"} and isinstance(r.spec["from"], str) for r in m.rules]  # a field copied as is
    copies = [(r.target, r.spec["from"]) for r, p in zip(m.rules, plain) if p]
    complex_rules = [r for r, p in zip(m.rules, plain) if not p]
    units = {f.name: f.unit for f in ldef.fields}
    ns_for_field = mp.IMPORT_NAMESPACE if not id_field else uuidlib.uuid5(
        mp.IMPORT_NAMESPACE, f"{id_namespace or ldef.name}:{id_field}")
    targets = {r.target for r in m.rules} | set(sets) | set(m.constants) | set(m.fallback)
    unknown = sorted(targets - editable)
    if unknown:
        raise ImportRefused(f"{m.name}: field(s) {', '.join(unknown)} cannot be set in {ldef.name} (no such field, "
                            "or one the registry sets itself)")
    if id_field:
        id_field = mp.source_column(layer.fields)(id_field) or id_field
    own = {k: m.columns.get(k, k) for k in ("uuid", "version", "retired_at")}  # a native file's own columns
    # The copied fields a column at a time: each row's values by zip, not a lookup per field and row; only the
    # fields that can hold a list (a column that does, a rule's, --set's, --adcode's) are looked at row by row.
    rows = layer.rows
    targets = [t for t, _ in copies]
    columns = [[row.get(src) for row in rows] for _, src in copies]
    listy = [t for t, col in zip(targets, columns) if any(issubclass(k, (list, tuple)) for k in set(map(type, col)))]
    listy += [r.target for r in complex_rules] + list(sets) + (["adcode"] if adcodes is not None else [])
    listy = list(dict.fromkeys(listy))
    initial_all = {k: v for k, v in m.constants.items() if k not in sets}
    values = zip(*columns) if columns else repeat(())
    out = []
    for i, (row, vals) in enumerate(zip(rows, values)):
        label = f"{layer.name} {layer.labels[i]}"
        pf = PlannedFeature(ldef.name, None, "refused", label, layer.name, i)
        try:
            if i in layer.problems:
                raise mp.RowError(layer.problems[i])
            if crs_problem and layer.has_geometry and geoms[i] is not None:
                raise mp.RowError(crs_problem)
            given = dict(zip(targets, vals))
            for rule in complex_rules:
                given[rule.target] = mp.apply_rule(rule, row, options, units.get(rule.target))
            if sets:
                given.update(sets)
            if adcodes is not None:
                adcodes.fill(given, label)
            for k in listy:
                v = given.get(k)
                if isinstance(v, (list, tuple)):
                    given[k] = _order_codes(ldef, k, v)
            if m.native:
                uid = row.get(own["uuid"])
                if uid is None and id_field is None:
                    uid = mp.content_uuid(ldef.name, given, geoms[i])
            elif m.id_namespace is not None and m.id_from:
                parts = [row.get(f) for f in m.id_from]
                if any(mp._blank(p) for p in parts):
                    raise mp.RowError(f"no source id ({', '.join(m.id_from)}) to make a stable UUID from")
                uid = mp.stable_uuid(m.id_namespace, parts)
            else:
                uid = None
            if uid is None and id_field:
                if mp._blank(row.get(id_field)):
                    raise mp.RowError(f"no value in the id field {id_field!r}")
                uid = mp.stable_uuid(ns_for_field, [row[id_field]])
            elif uid is None:
                uid = mp.content_uuid(ldef.name, given, geoms[i])
            try:
                if not (type(uid) is str and _CANONICAL_UUID.fullmatch(uid)):  # else already str(UUID(uid))
                    uid = str(uuidlib.UUID(str(uid)))
            except ValueError:
                raise mp.RowError(f"uuid {uid!r} is not a UUID") from None
            pf.uuid = uid
            if uid in seen:
                raise mp.RowError(f"the file holds this feature twice (UUID {uid}, also {seen[uid]})")
            seen[uid] = label
            initial = dict(initial_all) if initial_all else {}
            if m.native:
                if not mp._blank(row.get(own["version"])):
                    pf.expected_version = _version(row[own["version"]])
                pf.retire = not mp._blank(row.get(own["retired_at"]))
            name = given.get("name") or initial.get("name")
            if name:
                pf.label += f" ({name})"
            pf.op = "pending"
        except mp.RowError as exc:
            pf.reason = str(exc)
            out.append((pf, {}, {}))
            continue
        out.append((pf, given, initial))
    return out


def plan_import(reg: Registry, path: str | Path, *, profile: str | None = None,
                options: Mapping[str, Any] | None = None, sets: Mapping[str, Any] | None = None,
                layer_map: Mapping[str | None, str] | None = None, crs: str | None = None,
                id_field: str | None = None, id_namespace: str | None = None) -> ImportPlan:
    """Read ``path`` and work out what importing it into ``reg`` would do; changes nothing."""
    pm = reg.plugins
    options = {k: v for k, v in (options or {}).items() if v is not None}
    sets = dict(sets or {})
    src = read_source(path, formats=pm.collect("rallypoint_import_formats"), options=options)
    chosen, skipped = _choose(reg, src, mp.import_mappings(pm), profile, layer_map or {})
    notes = list(src.notes)
    warnings = list(src.warnings)
    if not chosen:
        reasons = "; ".join(f"{n}: {why}" for n, why in skipped) or "the file holds no layer"
        raise ImportRefused(f"{Path(path).name}: nothing to import ({reasons})")
    for _, m in chosen:
        missing = [f"--{k} ({why})" for k, why in m.options.items() if k not in options]
        if missing:
            raise ImportRefused(f"profile {m.name} needs {', '.join(missing)}")
    lineage = _lineage(reg, src)
    user_crs = geo.crs_from_user(crs) if crs else None
    seen: dict[str, str] = {}
    features: list[PlannedFeature] = []
    choices: list[LayerChoice] = []
    order = list(reg.layers)
    chosen.sort(key=lambda lm: order.index(lm[1].layer))
    with closing(reg.reader()) as conn:
        for layer, m in chosen:
            ldef = reg.layer(m.layer)
            if m.xy and src.format == "CSV":
                points_from_columns(layer, *m.xy)
            layer_crs, crs_problem = layer.crs, layer.crs_problem
            if layer_crs is None and layer.has_geometry:
                if user_crs is not None:
                    layer_crs, crs_problem = user_crs, None
                elif m.crs:
                    layer_crs, crs_problem = geo.crs_from_user(m.crs), None
                elif src.format == "CSV":
                    layer_crs, crs_problem = pyproj.CRS.from_epsg(4326), None
                    notes.append(f"{layer.name}: a CSV gives no CRS; EPSG:4326 assumed (give --crs)")
            elif user_crs is not None and layer_crs is not None and not layer_crs.equals(user_crs):
                notes.append(f"{layer.name}: the file declares its CRS ({layer_crs.name}); --crs is not used")
            layer.crs = layer_crs
            try:
                geoms = reproject(layer.geometries, layer_crs) if layer.has_geometry else [None] * len(layer)
            except pyproj.exceptions.ProjError as exc:  # a CRS PROJ reads but cannot take to EPSG:4490
                geoms, crs_problem = list(layer.geometries), (
                    f"cannot transform {layer_crs.name!r} to EPSG:4490 ({exc}); give the CRS with --crs")
            fill = AdcodeFill(options["adcode"], layer.name) \
                if options.get("adcode") and ldef.has_field("adcode") and "adcode" not in sets else None
            mapped = _map_layer(ldef, layer, m, geoms, options, sets, id_field, id_namespace, seen, crs_problem, fill)
            if fill is not None:
                fill.report(notes, warnings)
            ids = [pf.uuid for pf, _, _ in mapped if pf.op == "pending"]
            current = current_states(conn, ldef, ids)
            same = geometry_unchanged(ldef, mapped, geoms, current)
            for k, (pf, given, initial) in enumerate(mapped):
                if pf.op == "pending":
                    decide(conn, ldef, m, pf, given, initial, geoms[pf.row], current.get(pf.uuid), lineage, same[k])
                features.append(pf)
            choices.append(LayerChoice(layer.name, ldef.name, m.name, layer_crs.to_string() if layer_crs else None,
                                       len(layer)))
            if m.absent:
                features.extend(absent_rule(conn, ldef, m, mapped))
            if m.native:
                known = {n.casefold() for n in ldef.field_names} | {"fid", "geom"} | \
                    ({id_field.casefold()} if id_field else set())  # the id field made the UUIDs: it is used
                extra = sorted(c for c in layer.fields if c.casefold() not in known)
                if extra:
                    notes.append(f"{layer.name}: column(s) not in {ldef.name} ignored: {', '.join(extra)}")
    fallbacks = Counter((f.layer, n) for f in features if f.op == "insert" for n in f.fallbacks)
    for (layer_name, name), n in sorted(fallbacks.items()):
        notes.append(f"{layer_name}.{name}: not in the source for {n} new feature(s); the profile's fallback was used")
    return ImportPlan(src, choices, features, skipped, notes, lineage, warnings)


