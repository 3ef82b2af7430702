"""The exchange round trip, whole, as bureaus do it, on a GeoPackage and on PostGIS receiving registry:

the county exports a township's shelters and helipads **without personal fields**; the township opens the file
with the CLI and the Python API (show, edit, add, retire: no traceback, the contacts shown as not held, never
invented, a value for them refused by name), and in real QGIS 3.22 (headless, in this process) through the
Rallypoint plugin (a shelter's form shown, one field edited in it, a shelter added, one retired: the form offers no
contact field and shows no column name as a value, the message bar names what the file does not hold); meanwhile
the county changes two of the same shelters; the file is merged back: the county keeps every phone number it
holds, gets every edit (the CLI's and QGIS's), and lists and resolves the two deliberate conflicts, one from the
CLI and one over HTTP.
"""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner
from conftest import county_copy, require
from web_support import auth, make_key

from rallypoint import Registry, builtin_layers
from rallypoint.cli.main import cli
from rallypoint.errors import ValidationError
from rallypoint.web import create_app

TOWNSHIP = "519921102"  # 太河镇: eight shelters, for the CLI and for QGIS
ENV = {"COLUMNS": "200"}


def run(*args: str, code: int = 0) -> str:
    r = CliRunner().invoke(cli, [str(a) for a in args], env=ENV)
    assert r.exit_code == code, (args, r.output, r.exception)
    assert "Traceback" not in r.output
    return r.output


def contacts(location) -> dict:
    """Every personal value the registry holds, by layer, feature and field."""
    out = {}
    with Registry.open(location) as reg:
        for name, layer in reg.layers.items():
            for f in reg.features(name, include_retired=True) if layer.personal_fields else ():
                out[name, f.uuid] = {p: f.properties[p] for p in layer.personal_fields}
    return out


def form_shows(dialog) -> tuple[set[str], set[str]]:
    """(labels, values) a QGIS attribute dialog shows: its labels' texts, and what its editors hold."""
    from qgis.PyQt.QtWidgets import QAbstractSpinBox, QComboBox, QLabel, QLineEdit

    labels = {w.text() for w in dialog.findChildren(QLabel)}
    values = {w.text() for w in dialog.findChildren(QLineEdit)} | {w.text() for w in dialog.findChildren(
        QAbstractSpinBox)} | {w.currentText() for w in dialog.findChildren(QComboBox)}
    return labels, values


def qgis_edits(request, copy, skip: set[str]) -> dict:
    """The township's GIS staff open ``copy`` in QGIS with the Rallypoint plugin (real QGIS 3.22, headless):
    a shelter's form is shown, one field changed in it, a shelter added and one retired, saved through the
    plugin (so through the registry, with history). Shelters in ``skip`` are the CLI's; they are left alone."""
    from qgis.core import Qgis, QgsApplication, QgsFeature, QgsGeometry
    from qgis.gui import QgsAttributeDialog, QgsAttributeEditorContext

    import rallypoint_qgis

    request.getfixturevalue("qgis_app")
    iface = request.getfixturevalue("qgis_iface")
    bar = iface.messageBar()
    bar.clear_messages()
    shelters_def = builtin_layers()["shelters"]
    absent = {"manager_name", "manager_phone"}
    plugin = rallypoint_qgis.classFactory(iface)
    plugin.initGui()
    shown_before = plugin.setting("show_personal", False, bool)
    try:
        plugin.set_setting("author", "zhou.gis")
        loaded = plugin.open_registry(path=str(copy))
        assert loaded is not None, bar.get_messages(Qgis.Critical)
        layer = loaded.layers["shelters"]
        assert not absent & set(layer.fields().names())
        assert loaded.absent == {"shelters": ("manager_name", "manager_phone"),
                                 "helipads": ("contact_name", "contact_phone")}
        [said] = bar.get_messages(Qgis.Info)  # the message bar names what the file does not hold
        assert all(f"({n})" in said for n in ("manager_name", "manager_phone", "contact_name", "contact_phone"))
        mine = sorted((f for f in layer.getFeatures() if f["uuid"] not in skip), key=lambda f: f.id())
        edited, retired = mine[0], mine[1]

        # shown: the form offers no contact field and no column name stands in for a value, even when the user
        # asks to see personal data
        lang = plugin.language() or "zh"
        for personal in (False, True):
            plugin.actions["personal"].setChecked(personal)
            dialog = QgsAttributeDialog(layer, edited, False, iface.mainWindow(), True, QgsAttributeEditorContext())
            dialog.show()
            QgsApplication.processEvents()
            labels, values = form_shows(dialog)
            assert shelters_def.field("name").alias(lang) in labels and edited["name"] in values
            assert not {shelters_def.field(n).alias(lang) for n in absent} & labels
            assert not absent & values
            dialog.reject()
        plugin.actions["personal"].setChecked(False)

        # one field edited in the form, a shelter added beside it, another retired, all saved at once
        assert layer.startEditing()
        dialog = QgsAttributeDialog(layer, edited, False, iface.mainWindow(), True, QgsAttributeEditorContext())
        dialog.setMode(QgsAttributeEditorContext.SingleEditMode)
        dialog.show()
        night = edited["capacity_night"] + 60
        dialog.attributeForm().changeAttribute("capacity_night", night)
        dialog.accept()
        QgsApplication.processEvents()
        new = QgsFeature(layer.fields())
        for k, v in {"name": "太河镇中心小学应急避难场所", "adcode": TOWNSHIP, "source": "太河镇人民政府",
                     "shelter_type": "fixed_short", "level": "township", "effective_area_m2": 900,
                     "capacity_day": 450, "hazards": "earthquake", "status": "standby"}.items():
            new[k] = v
        here = edited.geometry().asPoint()  # ~20 m east of the edited one: in the same township
        new.setGeometry(QgsGeometry.fromWkt(f"POINT ({here.x() + 0.0002:.7f} {here.y():.7f})"))
        assert layer.addFeature(new)
        assert layer.deleteFeature(retired.id())
        assert layer.commitChanges(), layer.commitErrors()
        QgsApplication.processEvents()
        guard = loaded.guards["shelters"]
        assert guard.last_error is None, guard.last_error
        [added] = guard.last_result.added["shelters"]
        assert (guard.last_result.updated, guard.last_result.retired) == (1, 1)
        assert not bar.get_messages(Qgis.Critical)
        uuids = {f["uuid"]: f for f in layer.getFeatures()}  # the layer shows what the registry wrote
        assert added in uuids and retired["uuid"] not in uuids and uuids[edited["uuid"]]["capacity_night"] == night
        loaded.unload()
    finally:
        plugin.set_setting("author", "")
        plugin.set_setting("show_personal", shown_before)
        plugin.unload()
    with Registry.open(copy) as reg:
        assert [c.author for c in reg.history("shelters", added)] == ["zhou.gis"]
        assert reg.get("shelters", retired["uuid"]).retired
        assert "manager_phone" not in reg.get("shelters", added).properties
    return {"edited": edited["uuid"], "night": night, "added": added, "retired": retired["uuid"]}


@pytest.mark.qgis
@pytest.mark.parametrize("backend", ["gpkg", "postgis"])
def test_export_without_personal_fields_edit_merge_back_and_settle_the_conflicts(request, backend, tmp_path):
    require("qgis", "Debian's python3-qgis, QGIS 3.22: the copy is edited in QGIS too")
    county = county_copy(request, backend, "roundtrip")
    phones = contacts(county)
    assert sum(1 for v in phones.values() if v.get("manager_phone")) > 10
    sent, copy = tmp_path / "taihe-sent.gpkg", tmp_path / "taihe.gpkg"
    run("export", county, sent, "--adcode", TOWNSHIP, "--layers", "shelters,helipads")
    shutil.copyfile(sent, copy)

    # -- the township's side: the file lacks the contacts ----------------------------------------------------
    s1, s2, s3 = run("list", copy, "shelters", "--format", "ids", "--limit", "3").split()
    shown = run("show", copy, "shelters", s1, "--lang", "en")
    assert "manager_phone" in shown and shown.count("(not held in this registry)") == 2
    assert "manager_phone │ manager_phone" not in shown.replace(")", "").replace("  ", " ")
    as_json = json.loads(run("show", copy, "shelters", s1, "--json"))
    assert "manager_phone" not in as_json["properties"] and as_json["properties"]["name"]
    with Registry.open(copy) as reg:
        assert reg.absent_fields("shelters") == ("manager_name", "manager_phone")
        assert reg.absent_fields("helipads") == ("contact_name", "contact_phone")
        assert "manager_phone" not in reg.get("shelters", s1).properties
        with pytest.raises(ValidationError, match="not held in this registry"):
            reg.update("shelters", s1, {"manager_phone": "13800001111"}, author="wang.taihe")
        frame = reg.read_frame("shelters")
        assert "manager_phone" not in frame.columns and len(frame) >= 3
    refused = run("edit", copy, "shelters", s1, "--set", "manager_phone=13800001111", code=1)
    assert "not held" in refused and "not a Chinese mobile" not in refused
    run("edit", copy, "shelters", s1, "--set", "occupancy=40", "--set", "status=open", "--author", "wang.taihe")
    run("edit", copy, "shelters", s2, "--set", "occupancy=25", "--author", "wang.taihe")
    run("retire", copy, "shelters", s3, "--reason", "校舍改建", "--author", "wang.taihe")
    added = run("add", copy, "helipads", "--at", "103.78,30.66", "--set", "name=太河镇应急起降点",
                "--set", f"adcode={TOWNSHIP}", "--set", "source=太河镇人民政府", "--set", "surface=草地",
                "--set", "pad_length_m=30", "--set", "pad_width_m=30", "--set", "status=可用", "--author", "wang.taihe")
    pad = added.split("helipads ")[1].split()[0]
    assert "(not held in this registry)" in run("show", copy, "helipads", pad, "--lang", "en")

    # -- the township's GIS staff: the same file in QGIS, through the Rallypoint plugin ----------------------
    q = qgis_edits(request, copy, skip={s1, s2, s3})

    # -- the county's side: two of the same fields changed meanwhile, then the merge ------------------------
    run("edit", county, "shelters", s1, "--set", "occupancy=55", "--author", "li.county")
    run("edit", county, "shelters", s2, "--set", "occupancy=30", "--author", "li.county")
    merged = run("merge", county, copy, "--base", sent, "--author", "li.county")
    assert "2 conflicts" in merged
    with Registry.open(county) as reg:
        assert reg.get("shelters", s1).properties["status"] == "open"     # their edit of another field: in
        assert reg.get("shelters", s1).properties["occupancy"] == 55      # the field both changed: ours, for now
        assert reg.get("shelters", s3).retired
        assert reg.get("helipads", pad).properties["name"] == "太河镇应急起降点"
        assert reg.get("helipads", pad).properties["contact_phone"] is None  # not invented
        assert reg.get("shelters", q["edited"]).properties["capacity_night"] == q["night"]  # QGIS's edits: in
        assert reg.get("shelters", q["retired"]).retired
        assert reg.get("shelters", q["added"]).properties["name"] == "太河镇中心小学应急避难场所"
        assert reg.get("shelters", q["added"]).properties["manager_phone"] is None
    new = {("helipads", pad), ("shelters", q["added"])}
    after = contacts(county)
    assert {k: v for k, v in after.items() if k not in new} == phones  # every phone number kept

    # -- the conflicts: listed, one resolved from the CLI, one over HTTP --------------------------------------
    listed = run("conflicts", "list", county, "--lang", "en")
    assert "occupancy" in listed and "edit/edit" in listed and "55" in listed and "40" in listed
    ids = {c["uuid"]: c["id"] for c in json.loads(run("conflicts", "list", county, "--json"))}
    assert set(ids) == {s1, s2}
    run("conflicts", "resolve", county, ids[s1], "--keep", "theirs", "--author", "li.county")
    key = make_key(county, "zhang.wei", "editor")
    client = create_app(county, {"TESTING": True}).test_client()
    page = client.get("/conflicts", headers=auth(key)).get_json()
    assert [c["uuid"] for c in page["conflicts"]] == [s2]
    etag = client.get(f"/conflicts/{ids[s2]}", headers=auth(key)).headers["ETag"]
    r = client.post(f"/conflicts/{ids[s2]}/resolution", data=json.dumps({"set": {"occupancy": 28}}),
                    headers={**auth(key), "Content-Type": "application/json", "If-Match": etag})
    assert r.status_code == 200, r.get_json()
    with Registry.open(county) as reg:
        assert reg.conflicts() == [] and len(reg.conflicts(resolved=True)) == 2
        assert reg.get("shelters", s1).properties["occupancy"] == 40
        assert reg.get("shelters", s2).properties["occupancy"] == 28
        last = {u: reg.history("shelters", u)[-1] for u in (s1, s2)}
        assert (last[s1].op, last[s1].author) == ("resolve", "li.county")
        assert (last[s2].op, last[s2].author) == ("resolve", "zhang.wei")
    assert {k: v for k, v in contacts(county).items() if k not in new} == phones
