"""The layer definitions in layers/: complete, consistent, and loaded strictly."""

import tomllib

import pytest

from rallypoint import builtin_layers
from rallypoint.errors import DefinitionError
from rallypoint.schema import FIELD_TYPES, layer_from_dict

LAYERS = builtin_layers()


def test_the_five_resource_layers_the_stock_table_and_base_layers_are_defined():
    assert list(LAYERS)[:6] == ["shelters", "depots", "depot_stock", "teams", "hazard_points", "helipads"]
    assert {"admin_areas", "population", "roads"} <= set(LAYERS)
    assert LAYERS["depot_stock"].parent == "depots" and LAYERS["depot_stock"].geometry == "None"


@pytest.mark.parametrize("name", ["shelters", "depots", "teams", "hazard_points", "helipads"])
def test_every_resource_carries_the_registry_stamps(name):
    fields = LAYERS[name].field_names
    for stamp in ("uuid", "adcode", "version", "created_at", "created_by", "updated_at", "updated_by", "source",
                  "retired_at"):
        assert stamp in fields


@pytest.mark.parametrize("layer", list(LAYERS.values()), ids=list(LAYERS))
def test_every_field_has_both_aliases_a_description_and_a_known_type(layer):
    for f in layer.fields:
        assert f.alias_zh and f.alias_en and f.description_zh and f.description_en, f.name
        assert f.type in FIELD_TYPES
    # aliases are unique within a layer (gpkg_data_columns requires unique names per table)
    assert len({f.alias_en for f in layer.fields}) == len(layer.fields)
    assert len({f.alias_zh for f in layer.fields}) == len(layer.fields)


def test_contact_names_and_phones_are_personal_data_and_nothing_else_is():
    personal = {n: l.personal_fields for n, l in LAYERS.items() if l.personal_fields}
    assert personal == {
        "shelters": ("manager_name", "manager_phone"),
        "depots": ("keeper_name", "keeper_phone"),
        "teams": ("leader_name", "leader_phone"),
        "hazard_points": ("monitor_name", "monitor_phone"),
        "helipads": ("contact_name", "contact_phone"),
    }


def test_domain_fields_are_there_with_units_and_allowed_values():
    s = LAYERS["shelters"]
    assert s.field("effective_area_m2").unit == "m²"
    assert set(s.field("status").codes) == {"open", "standby", "full", "closed"}
    assert "earthquake" in s.field("hazards").codes
    assert LAYERS["hazard_points"].field("danger_grade").derived == "danger_grade"
    assert LAYERS["hazard_points"].field("assigned_shelter").references == "shelters"
    assert LAYERS["teams"].field("readiness_min").unit == "min"
    assert LAYERS["helipads"].field("design_d_m").unit == "m"


def _minimal(**field):
    return {"layer": {"name": "x", "kind": "reference", "geometry": "Point", "title_zh": "甲", "title_en": "X"},
            "field": [dict({"name": "a", "type": "text", "alias_zh": "甲", "alias_en": "A"}, **field)]}


@pytest.mark.parametrize("bad, message", [
    ({"type": "money"}, "type 'money'"),
    ({"colour": "red"}, "unknown key"),
    ({"min": 5, "max": 1}, "min 5 is above max 1"),
    ({"type": "codes"}, "needs allowed values"),
    ({"values": [{"code": "a", "zh": "甲"}]}, "code, zh and en"),
])
def test_a_malformed_definition_fails_loudly_naming_the_field(bad, message):
    with pytest.raises(DefinitionError, match=message) as exc:
        layer_from_dict("x.toml", _minimal(**bad))
    assert "x.toml" in str(exc.value)


def test_definition_files_are_valid_toml_with_only_known_keys():
    from importlib import resources
    folder = resources.files("rallypoint_layers").joinpath("definitions")
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".toml"))
    assert "_common.toml" in names and len(names) == 10
    for name in names:
        tomllib.loads(folder.joinpath(name).read_text(encoding="utf-8"))
