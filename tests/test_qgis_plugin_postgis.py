"""The QGIS plugin loading a PostGIS registry (pytest-qgis, offscreen): the same layers, forms and guarded saves."""

from __future__ import annotations

import pytest
from shapely.geometry import Point

from conftest import HERE, StepClock, require, shelter, team

require("qgis", "Debian's python3-qgis, QGIS 3.22")

from qgis.core import QgsApplication, QgsProject  # noqa: E402

from rallypoint import Registry, ValidationError  # noqa: E402
from rallypoint_qgis.loader import load_registry  # noqa: E402

pytestmark = pytest.mark.qgis


@pytest.fixture
def loaded(qgis_app, pg_registry_url):
    with Registry.open(pg_registry_url, clock=StepClock()) as reg:
        first = reg.add("shelters", shelter(), HERE, author="zhang")
        second = reg.add("shelters", shelter(name="第二场所"), Point(104.1, 30.7), author="zhang")
        gone = reg.add("teams", team(), HERE, author="zhang")
        reg.retire("teams", gone.uuid, author="zhang")
    messages = []
    project = QgsProject.instance()
    loaded = load_registry(pg_registry_url, project=project, author=lambda: "li.gis",
                           notify=lambda level, text: messages.append((level, text)))
    loaded.messages, loaded.features = messages, (first, second)
    yield loaded
    for lyr in loaded.layers.values():
        if lyr.isEditable():
            lyr.rollBack()
    loaded.unload(project)


def test_a_postgis_registry_loads_with_its_styles_forms_and_without_retired_features(loaded):
    shelters = loaded.layers["shelters"]
    assert shelters.providerType() == "postgres" and shelters.isValid()
    assert shelters.featureCount() == 2 and loaded.layers["teams"].featureCount() == 0  # the retired team
    assert shelters.crs().authid() == "EPSG:4490" and shelters.renderer().type() == "categorizedSymbol"
    assert shelters.editorWidgetSetup(shelters.fields().indexOf("status")).type() == "ValueMap"
    assert shelters.editorWidgetSetup(shelters.fields().indexOf("manager_phone")).type() == "Hidden"
    assert loaded.layers["depot_stock"].isValid() and loaded.relations  # the table without geometry, related


def test_edits_are_saved_through_the_registry_checked_and_recorded(loaded):
    shelters = loaded.layers["shelters"]
    first, second = loaded.features
    by_uuid = {f["uuid"]: f for f in shelters.getFeatures()}
    assert shelters.startEditing()
    shelters.changeAttributeValue(by_uuid[first.uuid].id(), shelters.fields().indexOf("status"), "on_fire")
    shelters.commitChanges()
    QgsApplication.processEvents()
    guard = loaded.guards["shelters"]
    assert isinstance(guard.last_error, ValidationError) and "on_fire" in str(guard.last_error)
    shelters.rollBack()
    assert shelters.startEditing()
    shelters.changeAttributeValue(by_uuid[first.uuid].id(), shelters.fields().indexOf("capacity_day"), 777)
    shelters.deleteFeature(by_uuid[second.uuid].id())
    assert shelters.commitChanges(), shelters.commitErrors()
    QgsApplication.processEvents()
    assert guard.last_error is None
    with Registry.open(loaded.path) as reg:
        assert reg.get("shelters", first.uuid).properties["capacity_day"] == 777
        assert reg.get("shelters", second.uuid).retired
        latest = reg.history("shelters", newest_first=True, limit=2)
        assert sorted((c.op, c.author, c.version) for c in latest) == [("retire", "li.gis", 2), ("update", "li.gis", 2)]
    assert shelters.featureCount() == 1
