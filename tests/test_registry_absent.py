"""A registry whose tables lack some of their layers' fields (an export without personal data, a database whose
owner dropped a column): read and written on what it holds, on GeoPackage and PostGIS alike.

Before, SQLite took the unknown quoted column name for a string (``manager_phone: manager_phone``), an edit was
refused with a phone-format error about that string, and an add ended in a traceback.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest
from conftest import HERE, StepClock, helipad, shelter

from rallypoint import Registry
from rallypoint.errors import ValidationError

pytestmark = pytest.mark.both_backends


def drop_columns(location, table: str, columns: list[str]) -> None:
    if "://" in str(location):
        import psycopg

        with psycopg.connect(str(location), autocommit=True) as conn:
            for c in columns:
                conn.execute(f'ALTER TABLE "{table}" DROP COLUMN "{c}"')
        return
    with closing(sqlite3.connect(location)) as conn:
        for c in columns:
            conn.execute(f'ALTER TABLE "{table}" DROP COLUMN "{c}"')
        conn.commit()


@pytest.fixture
def sparse(registry, registry_location):
    """The test's registry with one shelter and one helipad, then without the shelters' contact columns."""
    s = registry.add("shelters", shelter(name="有联系人"), HERE, author="wang")
    registry.close()
    drop_columns(registry_location, "shelters", ["manager_name", "manager_phone"])
    reg = Registry.open(registry_location, clock=StepClock())
    yield reg, s.uuid
    reg.close()


def test_fields_a_table_lacks_are_not_held_not_read_and_never_invented(sparse):
    reg, uid = sparse
    assert reg.absent_fields("shelters") == ("manager_name", "manager_phone")
    assert reg.absent_fields("helipads") == ()
    assert not reg.layer("shelters").has_field("manager_phone")
    assert reg.definition("shelters").has_field("manager_phone")  # the whole definition is still there
    feat = reg.get("shelters", uid)
    assert "manager_phone" not in feat.properties and feat.properties["name"] == "有联系人"
    assert "manager_phone" not in feat.to_geojson()["properties"]
    assert "manager_phone" not in reg.read_frame("shelters").columns
    with pytest.raises(ValueError, match="not held in this registry"):
        reg.read_frame("shelters", columns=["name", "manager_phone"])


def test_a_registry_lacking_optional_fields_is_edited_added_to_retired_and_restored(sparse):
    reg, uid = sparse
    feat = reg.update("shelters", uid, {"occupancy": 12}, author="wang", expected_version=1)
    assert feat.version == 2 and feat.properties["occupancy"] == 12
    new = reg.add("shelters", {k: v for k, v in shelter(name="新场所").items() if not k.startswith("manager_")},
                  HERE, author="wang")
    assert new.version == 1 and "manager_phone" not in new.properties
    blank = reg.add("shelters", shelter(name="空联系人", manager_name="", manager_phone=None), HERE, author="wang")
    assert "manager_name" not in blank.properties  # a blank value for a field not held is dropped, not refused
    assert reg.retire("shelters", new.uuid, author="wang").retired
    assert not reg.restore("shelters", new.uuid, author="wang").retired
    assert reg.restore("shelters", uid, version=1, author="wang").properties["occupancy"] != 12
    assert [c.op for c in reg.history("shelters", new.uuid)] == ["insert", "retire", "restore"]
    assert "manager_phone" not in reg.history("shelters", new.uuid)[0].after["properties"]


def test_a_value_for_a_field_not_held_is_refused_by_name_and_nothing_is_written(sparse):
    reg, uid = sparse
    with pytest.raises(ValidationError) as exc:
        reg.update("shelters", uid, {"manager_phone": "13800001234", "occupancy": 5}, author="wang")
    problem = exc.value.problems[0]
    assert problem.field == "manager_phone" and "not held in this registry" in problem.message
    with pytest.raises(ValidationError, match="not held in this registry"):
        reg.add("shelters", shelter(name="带电话"), HERE, author="wang")
    assert reg.get("shelters", uid).version == 1 and reg.count("shelters") == 1


def test_a_table_lacking_a_required_field_is_read_but_not_written(registry, registry_location):
    pad = registry.add("helipads", helipad(), HERE, author="wang")
    registry.close()
    drop_columns(registry_location, "helipads", ["surface"])
    with Registry.open(registry_location) as reg:
        assert reg.not_writable("helipads") == ("surface",)
        assert reg.get("helipads", pad.uuid).properties["name"] == "一号起降点"
        with pytest.raises(ValidationError, match="has no column for surface"):
            reg.update("helipads", pad.uuid, {"pad_length_m": 41}, author="wang")
        with pytest.raises(ValidationError, match="has no column for surface"):
            reg.retire("helipads", pad.uuid, author="wang")
        assert reg.get("helipads", pad.uuid).version == 1
