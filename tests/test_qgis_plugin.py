"""The QGIS plugin in real QGIS 3.22 (pytest-qgis, offscreen): layers, forms, and edits saved through the registry."""

from __future__ import annotations

import shutil

import pytest

from conftest import require

require("qgis", "Debian's python3-qgis, QGIS 3.22")

from qgis.core import QgsApplication, QgsFeature, QgsGeometry, QgsProject  # noqa: E402

from rallypoint import ConflictError, Registry, ValidationError, builtin_layers  # noqa: E402
from rallypoint_qgis.loader import load_registry  # noqa: E402

pytestmark = pytest.mark.qgis


@pytest.fixture
def county_copy(county_sample, tmp_path):
    path = tmp_path / "county.gpkg"
    shutil.copyfile(county_sample, path)
    return path


@pytest.fixture
def loaded(qgis_app, county_copy):
    messages = []
    project = QgsProject.instance()
    reg = load_registry(str(county_copy), project=project, author=lambda: "li.gis",
                        notify=lambda level, text: messages.append((level, text)))
    reg.messages = messages
    yield reg
    for lyr in reg.layers.values():
        if lyr.isEditable():
            lyr.rollBack()
    reg.unload(project)


def _history_count(path) -> int:
    with Registry.open(path) as reg:
        return len(reg.history())


def _first(layer):
    return next(layer.getFeatures())


def test_the_registry_loads_as_one_group_with_every_layer(loaded, county_counts):
    names = [child.layer().name() for child in loaded.group.findLayers()]
    defs = builtin_layers()
    assert names[:6] == [defs[n].title_zh for n in
                         ("helipads", "teams", "depots", "shelters", "hazard_points", "depot_stock")]
    for name, layer in loaded.layers.items():
        assert layer.isValid(), name
        assert layer.featureCount() == county_counts[name], name
    assert loaded.absent == {}  # the registry holds every field: nothing to say is missing
    assert loaded.layers["shelters"].crs().authid() == "EPSG:4490"
    assert loaded.layers["shelters"].renderer().type() == "categorizedSymbol"


def test_forms_come_from_the_definitions(loaded):
    shelters = loaded.layers["shelters"]
    fields = shelters.fields()
    widget = shelters.editorWidgetSetup(fields.indexOf("status"))
    assert widget.type() == "ValueMap"
    codes = [next(iter(item.values())) for item in widget.config()["map"]]
    assert codes == list(builtin_layers()["shelters"].field("status").codes)
    assert shelters.editorWidgetSetup(fields.indexOf("generator")).type() == "CheckBox"
    assert fields.field("capacity_day").constraints().constraintExpression()  # the range
    assert fields.field("name").alias() == builtin_layers()["shelters"].field("name").alias_zh


def test_personal_fields_are_hidden_unless_asked_for(loaded, county_copy, qgis_app):
    shelters = loaded.layers["shelters"]
    idx = shelters.fields().indexOf("manager_phone")
    assert shelters.editorWidgetSetup(idx).type() == "Hidden"
    hidden = {c.name for c in shelters.attributeTableConfig().columns() if c.hidden}
    assert {"manager_name", "manager_phone"} <= hidden
    project = QgsProject()
    shown = load_registry(str(county_copy), project=project, show_personal=True, lang="en")
    try:
        lyr = shown.layers["shelters"]
        assert lyr.editorWidgetSetup(idx).type() != "Hidden"
        assert lyr.name() == builtin_layers()["shelters"].title_en
        assert lyr.fields().field("name").alias() == builtin_layers()["shelters"].field("name").alias_en
    finally:
        shown.unload(project)


def test_stock_is_a_related_table_of_depots(loaded):
    rels = QgsProject.instance().relationManager().referencedRelations(loaded.layers["depots"])
    assert len(rels) == 1
    rel = rels[0]
    assert rel.isValid()
    assert rel.referencingLayer() is loaded.layers["depot_stock"]
    assert rel.fieldPairs() == {"depot_uuid": "uuid"}
    depot = _first(loaded.layers["depots"])
    assert len(list(rel.getRelatedFeatures(depot))) > 0
    stock = loaded.layers["depot_stock"]
    assert stock.editorWidgetSetup(stock.fields().indexOf("depot_uuid")).type() == "RelationReference"


def test_a_bad_edit_is_refused_on_commit_and_kept_for_fixing(loaded, county_copy):
    shelters = loaded.layers["shelters"]
    before = _history_count(county_copy)
    feat = _first(shelters)
    assert shelters.startEditing()
    shelters.changeAttributeValue(feat.id(), shelters.fields().indexOf("status"), "on_fire")
    shelters.commitChanges()
    QgsApplication.processEvents()
    guard = loaded.guards["shelters"]
    assert isinstance(guard.last_error, ValidationError)
    problem = guard.last_error.problems[0]
    assert (problem.layer, problem.field) == ("shelters", "status")
    assert "on_fire" in str(guard.last_error)
    assert loaded.messages[-1][0] == "critical" and "status" in loaded.messages[-1][1]
    # nothing reached the file, and the edit waits in the buffer to be fixed
    assert _history_count(county_copy) == before
    with Registry.open(county_copy) as reg:
        assert reg.get("shelters", feat["uuid"]).properties["status"] == feat["status"]
    assert shelters.isEditable()
    assert shelters.editBuffer().changedAttributeValues()[feat.id()] == {
        shelters.fields().indexOf("status"): "on_fire"}


def test_good_edits_reach_the_history_with_uuids_and_stamps(loaded, county_copy):
    shelters = loaded.layers["shelters"]
    feats = list(shelters.getFeatures())
    changed, retired = feats[0], feats[1]
    count = shelters.featureCount()
    assert shelters.startEditing()
    new = QgsFeature(shelters.fields())
    values = {"name": "新建避难场所", "adcode": "519901001", "source": "示例县应急管理局",
              "shelter_type": "fixed_short", "level": "township", "effective_area_m2": 5000,
              "capacity_day": 2500, "hazards": "earthquake", "status": "standby"}
    for k, v in values.items():
        new[k] = v
    new.setGeometry(QgsGeometry.fromWkt("POINT (104.07 30.67)"))
    assert shelters.addFeature(new)
    shelters.changeAttributeValue(changed.id(), shelters.fields().indexOf("capacity_day"), 777)
    here = changed.geometry().asPoint()  # moved 0.0002° (~20 m) east: still in the township its code names
    moved = (round(here.x() + 0.0002, 7), round(here.y(), 7))
    shelters.changeGeometry(changed.id(), QgsGeometry.fromWkt(f"POINT ({moved[0]} {moved[1]})"))
    shelters.deleteFeature(retired.id())
    assert shelters.commitChanges(), shelters.commitErrors()
    QgsApplication.processEvents()
    guard = loaded.guards["shelters"]
    assert guard.last_error is None
    [uid] = guard.last_result.added["shelters"]
    with Registry.open(county_copy) as reg:
        latest = reg.history("shelters", newest_first=True, limit=3)
        assert sorted(c.op for c in latest) == ["insert", "retire", "update"]
        assert {c.author for c in latest} == {"li.gis"}
        added = reg.get("shelters", uid)
        assert added.version == 1 and added.properties["created_by"] == "li.gis"
        upd = reg.get("shelters", changed["uuid"])
        assert upd.version == changed["version"] + 1 and upd.properties["capacity_day"] == 777
        assert upd.geometry.equals_exact(__import__("shapely").Point(*moved), 1e-9)
        assert reg.get("shelters", retired["uuid"]).retired
    # the layer shows the file as the registry wrote it: the new UUID, the retired one gone
    assert not shelters.isEditable()
    assert shelters.featureCount() == count
    uuids = {f["uuid"] for f in shelters.getFeatures()}
    assert uid in uuids and retired["uuid"] not in uuids


def test_an_edit_of_a_feature_changed_meanwhile_is_a_conflict(loaded, county_copy):
    shelters = loaded.layers["shelters"]
    feat = _first(shelters)
    assert shelters.startEditing()
    shelters.changeAttributeValue(feat.id(), shelters.fields().indexOf("capacity_day"), 1234)
    with Registry.open(county_copy) as reg:  # someone else saves first
        reg.update("shelters", feat["uuid"], {"capacity_day": 999}, author="wang.office")
    shelters.commitChanges()
    QgsApplication.processEvents()
    assert isinstance(loaded.guards["shelters"].last_error, ConflictError)
    with Registry.open(county_copy) as reg:
        assert reg.get("shelters", feat["uuid"]).properties["capacity_day"] == 999
    assert shelters.isEditable()


def test_the_plugin_starts_opens_a_registry_and_unloads(qgis_app, qgis_iface, county_copy):
    import rallypoint_qgis

    plugin = rallypoint_qgis.classFactory(qgis_iface)
    plugin.initGui()
    try:
        assert set(plugin.actions) == {"open", "checkout", "push", "pull", "conflicts", "personal", "english"}
        assert plugin.show_conflicts() is None  # no registry open: a warning in the message bar, no dialog
        assert QgsApplication.processingRegistry().providerById("rallypoint") is not None
        reg = plugin.open_registry(path=str(county_copy))
        assert reg is not None and reg.layers["shelters"].featureCount() > 0
        idx = reg.layers["shelters"].fields().indexOf("manager_name")
        assert reg.layers["shelters"].editorWidgetSetup(idx).type() == "Hidden"
        plugin.actions["personal"].setChecked(True)
        assert reg.layers["shelters"].editorWidgetSetup(idx).type() != "Hidden"
        plugin.actions["personal"].setChecked(False)
        assert plugin.open_registry(path=str(county_copy.with_name("missing.gpkg"))) is None
        reg.unload()
    finally:
        plugin.unload()
    assert QgsApplication.processingRegistry().providerById("rallypoint") is None


def _http(url, method="GET", body=None, key=None, etag=None):
    import json
    import urllib.request

    headers = {"Content-Type": "application/geo+json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    if etag:
        headers["If-Match"] = etag
    req = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers=headers)
    with urllib.request.urlopen(req) as r:
        return r.status, r.headers.get("ETag"), json.loads(r.read() or b"null")


def _finish(task, timeout=120):
    """Let QGIS's task manager run ``task`` and its completion (which opens the check-out) to the end."""
    import time

    from qgis.core import QgsTask

    deadline = time.time() + timeout
    while time.time() < deadline:
        QgsApplication.processEvents()
        try:
            if task.status() in (QgsTask.Complete, QgsTask.Terminated):
                break
        except RuntimeError:  # QGIS deleted the finished task
            break
        time.sleep(0.02)
    for _ in range(20):
        QgsApplication.processEvents()


def test_field_cycle_check_out_edit_in_qgis_push_pull_and_see_conflicts(qgis_app, qgis_iface, county_sample,
                                                                          tmp_path):
    """Everything on the server side goes through HTTP, as the office works (see the report on direct writes)."""
    import rallypoint_qgis
    from web_support import Server, copy_registry, make_key

    served = copy_registry(county_sample, tmp_path / "served.gpkg")
    key = make_key(served, "zhao.field", "editor")
    office = make_key(served, "wang.office", "editor")
    srv = Server(served, workers=1, threads=2)
    plugin = rallypoint_qgis.classFactory(qgis_iface)
    plugin.initGui()

    def on_server(uid):
        return _http(f"{srv.url}/collections/teams/items/{uid}", key=office)

    def office_sets_members(uid, members):
        _, etag, _ = on_server(uid)
        status, _, _ = _http(f"{srv.url}/collections/teams/items/{uid}", "PATCH", {"properties": {"members": members}},
                             office, etag)
        assert status == 200

    try:
        local = tmp_path / "field.gpkg"
        plugin.set_setting("author", "zhao.field")
        _finish(plugin.start_checkout(srv.url, str(tmp_path / "bad.gpkg"), key="not-a-key"))
        assert "refused the key" in plugin.last_error and not (tmp_path / "bad.gpkg").exists()
        _finish(plugin.start_checkout(srv.url, str(local), key=key))  # in QGIS's process, a task of its manager
        assert plugin.last_error is None
        reg = next(r for r in plugin.loaded if r.path == str(local.resolve()))  # opened when the task finished
        teams = reg.layers["teams"]
        qgis_iface.setActiveLayer(teams)
        feats = list(teams.getFeatures())
        mine, theirs = feats[0], feats[5]

        def save(feature, members):
            assert teams.startEditing()
            teams.changeAttributeValue(feature.id(), teams.fields().indexOf("members"), members)
            assert teams.commitChanges()
            assert reg.guards["teams"].last_error is None

        save(mine, 88)
        report = plugin.push(key=key)
        assert report.ok and report.updated == 1
        props = on_server(mine["uuid"])[2]["properties"]
        assert props["members"] == 88 and props["updated_by"] == "zhao.field"
        office_sets_members(theirs["uuid"], 12)
        assert plugin.pull(key=key).updated == 1
        members = {f["uuid"]: f["members"] for f in teams.getFeatures()}  # the plugin reloaded the layer
        assert members[theirs["uuid"]] == 12 and members[mine["uuid"]] == 88
        # both sides change the same team: a conflict, shown, and neither change lost
        office_sets_members(mine["uuid"], 70)
        save(next(f for f in teams.getFeatures() if f["uuid"] == mine["uuid"]), 90)
        report = plugin.push(key=key)
        assert [c.uuid for c in report.conflicts] == [mine["uuid"]], report
        assert plugin.report_box.isVisible() and mine["uuid"] in plugin.report_box.text()
        assert on_server(mine["uuid"])[2]["properties"]["members"] == 70
        assert {f["uuid"]: f["members"] for f in teams.getFeatures()}[mine["uuid"]] == 90
        reg.unload()
    finally:
        plugin.set_setting("author", "")
        plugin.unload()
        srv.stop()
