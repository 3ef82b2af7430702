"""The rectification ledger in real QGIS 3.22 (pytest-qgis, offscreen): the hazard point form lists its
records, the record form has the right widgets, and a save that skips verification is refused."""

from __future__ import annotations

import pytest

from conftest import HERE, StepClock, hazard, require

require("qgis", "Debian's python3-qgis, QGIS 3.22")

from qgis.core import QgsApplication, QgsProject  # noqa: E402
from qgis.PyQt.QtCore import QDate  # noqa: E402

from rallypoint import Registry, ValidationError  # noqa: E402
from rallypoint_plugins.rectification.ledger import LAYER, STATES  # noqa: E402
from rallypoint_qgis.loader import load_registry  # noqa: E402

from test_rectification import record  # noqa: E402

pytestmark = pytest.mark.qgis


@pytest.fixture
def ledger(qgis_app, registry_path):
    with Registry.open(registry_path, clock=StepClock()) as reg:
        hz = reg.add("hazard_points", hazard(), HERE, author="t").uuid
        other = reg.add("hazard_points", hazard(name="村小学后坡"), HERE, author="t").uuid
        uids = reg.add_many(LAYER, [(record(hz, "rectified"), None), (record(hz, "found"), None),
                                    (record(other, "closed"), None)], author="t")
    messages = []
    project = QgsProject.instance()
    loaded = load_registry(str(registry_path), project=project, author=lambda: "li.gis",
                           notify=lambda level, text: messages.append((level, text)))
    loaded.messages = messages
    loaded.hazard, loaded.uids = hz, uids
    yield loaded
    for lyr in loaded.layers.values():
        if lyr.isEditable():
            lyr.rollBack()
    loaded.unload(project)


def _feature(layer, uuid):
    return next(f for f in layer.getFeatures() if f["uuid"] == uuid)


def test_records_are_a_related_table_of_hazard_points_shown_in_the_hazard_form(ledger):
    from qgis.gui import QgsAttributeEditorContext, QgsAttributeForm, QgsRelationWidgetWrapper

    hazards, records = ledger.layers["hazard_points"], ledger.layers[LAYER]
    rels = QgsProject.instance().relationManager().referencedRelations(hazards)
    [rel] = [r for r in rels if r.referencingLayer() is records]
    assert rel.isValid() and rel.fieldPairs() == {"hazard_uuid": "uuid"}
    related = sorted(f["uuid"] for f in rel.getRelatedFeatures(_feature(hazards, ledger.hazard)))
    assert related == sorted(ledger.uids[:2])
    # the hazard point's form (QGIS's generated layout) has a relation editor for its records
    form = QgsAttributeForm(hazards, _feature(hazards, ledger.hazard), QgsAttributeEditorContext())
    try:
        wrappers = [w for w in form.findChildren(QgsRelationWidgetWrapper) if w.relation().id() == rel.id()]
        assert len(wrappers) == 1
        assert type(wrappers[0].widget()).__name__ == "QgsRelationEditorWidget"
    finally:
        form.deleteLater()


def test_the_record_form_has_value_map_date_and_range_widgets(ledger):
    records = ledger.layers[LAYER]
    fields = records.fields()

    def widget(name):
        return records.editorWidgetSetup(fields.indexOf(name))

    state = widget("state")
    assert state.type() == "ValueMap"
    assert [next(iter(item.values())) for item in state.config()["map"]] == list(STATES)
    assert next(iter(state.config()["map"][0])) == "待整改"  # the label shown, in Chinese
    for name in ("found_at", "deadline", "rectified_at", "verified_at", "closed_at"):
        assert widget(name).type() == "DateTime", name
        assert widget(name).config()["field_format"] == "yyyy-MM-dd"
    progress = widget("progress")
    assert progress.type() == "Range" and (progress.config()["Min"], progress.config()["Max"]) == (0, 100)
    assert widget("hazard_uuid").type() == "RelationReference"
    assert fields.field("progress").alias() == "整改进度 (%)"
    assert widget("verified_by").type() == "TextEdit"


def test_a_save_that_skips_verification_is_refused_and_kept_for_fixing(ledger, registry_path):
    records = ledger.layers[LAYER]
    fields = records.fields()
    feat = _feature(records, ledger.uids[0])  # rectified
    assert records.startEditing()
    records.changeAttributeValue(feat.id(), fields.indexOf("state"), "closed")
    records.changeAttributeValue(feat.id(), fields.indexOf("closed_at"), QDate(2026, 4, 30))
    records.changeAttributeValue(feat.id(), fields.indexOf("closed_by"), "王五")
    records.commitChanges()
    QgsApplication.processEvents()
    error = ledger.guards[LAYER].last_error
    assert isinstance(error, ValidationError)
    assert {p.field for p in error.problems} == {"verified_at", "verified_by"}
    assert all(p.feature == f"feature {ledger.uids[0]}" for p in error.problems)
    assert ledger.messages[-1][0] == "critical" and "cannot be closed before it is verified" in ledger.messages[-1][1]
    with Registry.open(registry_path) as reg:
        stored = reg.get(LAYER, ledger.uids[0])
        assert (stored.version, stored.properties["state"]) == (1, "rectified")
    assert records.isEditable() and records.editBuffer().changedAttributeValues()[feat.id()]
    # recording the verification too makes the same save acceptable, with the QGIS user as author
    records.changeAttributeValue(feat.id(), fields.indexOf("verified_at"), QDate(2026, 4, 29))
    records.changeAttributeValue(feat.id(), fields.indexOf("verified_by"), "李四")
    assert records.commitChanges(), records.commitErrors()
    QgsApplication.processEvents()
    assert ledger.guards[LAYER].last_error is None
    with Registry.open(registry_path) as reg:
        stored = reg.get(LAYER, ledger.uids[0])
        assert (stored.version, stored.properties["state"], stored.properties["verified_at"]) == (
            2, "closed", "2026-04-29")
        assert reg.history(LAYER, ledger.uids[0])[-1].author == "li.gis"


def test_one_refused_change_keeps_the_whole_save_out_even_a_good_new_record(ledger, registry_path):
    from qgis.core import QgsFeature

    records = ledger.layers[LAYER]
    feat = _feature(records, ledger.uids[2])  # closed
    assert records.startEditing()
    records.changeAttributeValue(feat.id(), records.fields().indexOf("state"), "rectifying")
    new = QgsFeature(records.fields())
    for k, v in record(ledger.hazard).items():
        new[k] = QDate.fromString(v, "yyyy-MM-dd") if k in ("found_at", "deadline") else v
    assert records.addFeature(new)
    records.commitChanges()
    QgsApplication.processEvents()
    error = ledger.guards[LAYER].last_error
    assert isinstance(error, ValidationError)
    [p] = error.problems  # the good new record is not written either: one batch, all or nothing
    assert p.field == "state" and "closed" in p.message
    with Registry.open(registry_path) as reg:
        assert reg.count(LAYER) == 3

