"""rallypoint.edits: a GIS edit buffer applied as one registry batch (no QGIS needed)."""

from __future__ import annotations

import pytest
from conftest import HERE, shelter

from rallypoint import ConflictError, ValidationError
from rallypoint.edits import ChangedFeature, LayerEdits, apply_edits

pytestmark = pytest.mark.both_backends


@pytest.fixture
def two(registry):
    a = registry.add("shelters", shelter(name="甲"), HERE, author="setup")
    b = registry.add("shelters", shelter(name="乙"), HERE, author="setup")
    return a, b


def test_added_changed_and_deleted_features_are_one_batch_with_history(registry, two):
    a, b = two
    blank_stamps = {"fid": -7, "uuid": None, "version": None, "created_at": None, "updated_by": None}
    edits = LayerEdits("shelters", added=[({**shelter(name="丙"), **blank_stamps}, "POINT (104.1 30.7)")],
                       changed=[ChangedFeature(a.uuid, 1, {"capacity_day": 5000}, "POINT (104.2 30.8)")],
                       deleted=[(b.uuid, 1)])
    done = apply_edits(registry, [edits], author="li.gis")
    [new] = done.added["shelters"]
    assert (done.updated, done.retired) == (1, 1)
    assert registry.get("shelters", new).properties["created_by"] == "li.gis"
    changed = registry.get("shelters", a.uuid)
    assert changed.version == 2 and changed.properties["capacity_day"] == 5000 and changed.geometry.x == 104.2
    assert registry.get("shelters", b.uuid).retired
    last = registry.history(newest_first=True, limit=3)
    assert sorted(c.op for c in last) == ["insert", "retire", "update"] and {c.author for c in last} == {"li.gis"}


def test_one_bad_feature_writes_nothing_and_names_field_and_feature(registry, two):
    a, b = two
    before = len(registry.history())
    edits = LayerEdits("shelters", added=[(shelter(name="丁"), "POINT (104.1 30.7)")],
                       changed=[ChangedFeature(a.uuid, 1, {"status": "on_fire"})], deleted=[(b.uuid, 1)])
    with pytest.raises(ValidationError) as err:
        apply_edits(registry, [edits], author="li.gis")
    [p] = err.value.problems
    assert (p.layer, p.field) == ("shelters", "status") and a.uuid in p.feature
    assert len(registry.history()) == before and not registry.get("shelters", b.uuid).retired


def test_a_stale_version_is_a_conflict_and_writes_nothing(registry, two):
    a, _ = two
    registry.update("shelters", a.uuid, {"capacity_day": 10}, author="other")
    with pytest.raises(ConflictError):
        apply_edits(registry, [LayerEdits("shelters", changed=[ChangedFeature(a.uuid, 1, {"capacity_day": 99})])],
                    author="li.gis")
    assert registry.get("shelters", a.uuid).properties["capacity_day"] == 10


def test_changing_a_stamp_is_refused(registry, two):
    a, _ = two
    with pytest.raises(ValidationError, match="set by the registry"):
        apply_edits(registry, [LayerEdits("shelters", changed=[ChangedFeature(a.uuid, 1, {"version": 9})])],
                    author="li.gis")
