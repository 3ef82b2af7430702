"""OGC API – Features Part 3: the queryables of a collection, the fields a filter may name."""

from __future__ import annotations

from typing import Any

from ...schema import FieldDef, LayerDef

GEOMETRY = "geometry"  # the queryable naming the layer's geometry (the column is geom)
NOT_QUERYABLE = ("retired_at",)


def queryable_fields(layer: LayerDef, personal: bool) -> list[FieldDef]:
    """The fields a filter may name: personal-data fields only for callers allowed to see them."""
    return [f for f in layer.fields if f.name not in NOT_QUERYABLE and (personal or not f.personal)]


def field_json_schema(f: FieldDef) -> dict[str, Any]:
    """The JSON Schema of one value of field ``f`` (queryables, and the API document's filters and bodies)."""
    out: dict[str, Any] = {"title": f"{f.alias_zh} / {f.alias_en}"}
    desc = " / ".join(d for d in (f.description_zh, f.description_en) if d)
    if desc:
        out["description"] = desc
    if f.type in ("integer", "real"):
        out["type"] = "integer" if f.type == "integer" else "number"
        if f.min is not None:
            out["minimum"] = f.min
        if f.max is not None:
            out["maximum"] = f.max
        if f.unit:
            out["x-ogc-unit"] = f.unit
    elif f.type == "boolean":
        out["type"] = "boolean"
    elif f.type == "date":
        out.update(type="string", format="date")
    elif f.type == "datetime":
        out.update(type="string", format="date-time")
    else:
        out["type"] = "string"
        if f.type == "uuid":
            out["format"] = "uuid"
        if f.max_length:
            out["maxLength"] = f.max_length
        if f.values and f.type != "codes":
            out["enum"] = list(f.codes)
            out["x-enum-titles"] = {v.code: f"{v.zh} / {v.en}" for v in f.values}
        if f.type == "codes":  # a comma-separated list of codes, matched with LIKE
            out["description"] = (out.get("description", "") + " (comma-separated codes: "
                                  + ", ".join(f.codes) + ")").strip()
    return out


def queryables_schema(layer: LayerDef, personal: bool, schema_id: str) -> dict[str, Any]:
    """``/collections/{id}/queryables``: a JSON Schema of what a filter may name."""
    props: dict[str, Any] = {}
    if layer.has_geometry:
        props[GEOMETRY] = {"title": "几何 / Geometry", "x-ogc-role": "primary-geometry",
                           "format": "geometry-" + layer.geometry.lower()}
    for f in queryable_fields(layer, personal):
        props[f.name] = field_json_schema(f)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": schema_id, "type": "object",
            "title": f"{layer.title_zh} / {layer.title_en}", "properties": props, "additionalProperties": False}
