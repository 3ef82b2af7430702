"""Run by the QGIS desktop (``qgis --code``) with the plugin the profile has installed: a bureau's day with it.

    RP_REGISTRY=county.gpkg RP_SERVER=http://127.0.0.1:PORT RP_KEY=… RP_OFFICE_KEY=… RP_CHECKOUT=field.gpkg \
    RP_SHOTS=folder RP_REPORT=out.json xvfb-run -a qgis --profiles-path DIR --code field_cycle.py

1. "Open registry…" on a registry file; a shelter's attribute form (QgsAttributeDialog, the form QGIS opens on
   a feature) gets a division code the rules refuse: saved, refused with the rule's message in the message bar,
   nothing written; then a good capacity: saved through the registry, with a new version in its history.
   The form is saved as a PNG at each step.
2. "Check out from server…" (a task of QGIS's task manager), an edit in the check-out, "Push local changes",
   a change made at the office (over HTTP, with If-Match), "Pull changes from server".
3. "Merge conflicts…" on a registry a merge left two conflicts in (``RP_CONFLICTS``): the dialog lists both;
   the first is resolved keeping theirs, the second with a value typed for its occupancy.
4. What QGIS's Processing says of each analysis (canExecute), a PostGIS registry (QGIS has no psycopg 3), and
   every module the process loaded.

Everything goes into the JSON report; QGIS then quits. An exception is reported, never left to QGIS's dialog.
"""

import json
import os
import sys
import time
import traceback
import urllib.request

import qgis.utils
from qgis.core import QgsApplication, QgsSettings
from qgis.gui import QgsAttributeDialog, QgsAttributeEditorContext
from qgis.PyQt.QtCore import QTimer

NAME = "rallypoint_qgis"
SHOTS = os.environ["RP_SHOTS"]
report = {"steps": [], "messages": []}
iface = qgis.utils.iface
bar = iface.messageBar()


def pump(seconds=0.3):
    end = time.time() + seconds
    while time.time() < end:
        QgsApplication.processEvents()
        time.sleep(0.02)


def messages():
    return [f"{item.title()}: {item.text()}" for item in bar.items()]


def shot(widget, name):
    pump(0.5)
    path = os.path.join(SHOTS, name)
    report.setdefault("shots", {})[name] = widget.grab().save(path, "png")


def form_for(layer, feature):
    dlg = QgsAttributeDialog(layer, feature, False, iface.mainWindow(), True, QgsAttributeEditorContext())
    dlg.setMode(QgsAttributeEditorContext.SingleEditMode)
    dlg.resize(760, 900)
    dlg.show()
    pump()
    return dlg


def history(path, layer, uuid):
    from rallypoint import Registry

    with Registry.open(path, readonly=True) as reg:
        return [(c.version, c.op, c.author, c.changed_fields().get("capacity_day")) for c in reg.history(layer, uuid)]


def http(method, url, key, body=None, etag=None):
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/geo+json"}
    if etag:
        headers["If-Match"] = etag
    req = urllib.request.Request(url, method=method, headers=headers,
                                 data=None if body is None else json.dumps(body).encode())
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, r.headers.get("ETag"), json.loads(r.read() or b"null")


def the_form():
    plugin = qgis.utils.plugins[NAME]
    QgsSettings().setValue("rallypoint/author", "li.gis")
    path = os.environ["RP_REGISTRY"]
    reg = plugin.open_registry(path=path)
    shelters = reg.layers["shelters"]
    feature = next(shelters.getFeatures())
    uuid, capacity = feature["uuid"], feature["capacity_day"]
    report["shelter"] = {"uuid": uuid, "name": feature["name"], "adcode": feature["adcode"], "capacity_day": capacity}
    report["history_before"] = history(path, "shelters", uuid)
    assert shelters.startEditing()
    # a division code no province has: the rule refuses it when the edits are saved
    dlg = form_for(shelters, feature)
    form = dlg.attributeForm()
    form.changeAttribute("adcode", "990101001")
    pump()
    shot(dlg, "form_bad_value.png")
    dlg.accept()  # the form's OK: the value goes into the layer's edit buffer
    pump()
    report["committed_bad"] = shelters.commitChanges()  # Save Layer Edits: the registry refuses, writes nothing
    pump(1.0)
    guard = reg.guards["shelters"]
    report["refusal"] = None if guard.last_error is None else str(guard.last_error)
    report["messages_after_bad"] = messages()
    report["editable_after_bad"] = shelters.isEditable()  # the refused edits are back in the buffer to be fixed
    report["buffer_after_bad"] = {shelters.fields().at(i).name(): v for fid, vals in
                                  shelters.editBuffer().changedAttributeValues().items() for i, v in vals.items()}
    report["history_after_bad"] = history(path, "shelters", uuid)
    dlg = form_for(shelters, shelters.getFeature(feature.id()))
    shot(dlg, "form_refused_in_buffer.png")
    shot(iface.mainWindow(), "window_refused.png")
    form = dlg.attributeForm()
    form.changeAttribute("adcode", feature["adcode"])
    form.changeAttribute("capacity_day", capacity + 150)
    pump()
    shot(dlg, "form_good_value.png")
    dlg.accept()
    pump()
    bar.clearWidgets()
    report["committed_good"] = shelters.commitChanges()
    pump(1.0)
    report["saved_error"] = None if guard.last_error is None else str(guard.last_error)
    report["messages_after_good"] = messages()
    report["history_after_good"] = history(path, "shelters", uuid)
    report["layer_after_good"] = {k: next(shelters.getFeatures(f'"uuid" = \'{uuid}\''))[k]
                                  for k in ("adcode", "capacity_day", "version", "updated_by")}
    dlg = form_for(shelters, next(shelters.getFeatures(f'"uuid" = \'{uuid}\'')))
    shot(dlg, "form_saved.png")
    dlg.reject()
    reg.unload()
    report["steps"].append("form")


def field_work():
    plugin = qgis.utils.plugins[NAME]
    server, key, office = os.environ["RP_SERVER"], os.environ["RP_KEY"], os.environ["RP_OFFICE_KEY"]
    out = os.environ["RP_CHECKOUT"]
    QgsSettings().setValue("rallypoint/author", "zhao.field")
    bar.clearWidgets()
    task = plugin.start_checkout(server, out, key=key)
    report["checkout_task"] = type(task).__name__
    deadline = time.time() + 180
    while time.time() < deadline and not any(r.path == os.path.realpath(out) for r in plugin.loaded) \
            and plugin.last_error is None:
        pump(0.2)
    report["checkout_error"] = plugin.last_error
    report["messages_after_checkout"] = messages()
    reg = next(r for r in plugin.loaded if r.path == os.path.realpath(out))
    teams = reg.layers["teams"]
    iface.setActiveLayer(teams)
    feats = list(teams.getFeatures())
    mine, theirs = feats[0], feats[3]
    report["teams"] = {"mine": mine["uuid"], "theirs": theirs["uuid"], "count": len(feats)}
    assert teams.startEditing()
    teams.changeAttributeValue(mine.id(), teams.fields().indexOf("members"), 77)
    report["saved_in_checkout"] = teams.commitChanges() and reg.guards["teams"].last_error is None
    pushed = plugin.push(key=key)
    report["push"] = {"created": pushed.created, "updated": pushed.updated, "retired": pushed.retired,
                      "conflicts": [str(c) for c in pushed.conflicts], "errors": pushed.errors}
    item = f"{server}/collections/teams/items/{theirs['uuid']}"
    _, etag, _ = http("GET", item, office)
    report["office_patch"] = http("PATCH", item, office, {"properties": {"members": 19}}, etag)[0]
    pulled = plugin.pull(key=key)
    report["pull"] = {"created": pulled.created, "updated": pulled.updated, "retired": pulled.retired,
                      "conflicts": [str(c) for c in pulled.conflicts], "errors": pulled.errors}
    pump(0.5)
    report["members_after_pull"] = {f["uuid"]: f["members"] for f in teams.getFeatures()
                                    if f["uuid"] in (mine["uuid"], theirs["uuid"])}
    shot(iface.mainWindow(), "window_after_pull.png")
    report["steps"].append("sync")


def the_conflicts():
    plugin = qgis.utils.plugins[NAME]
    QgsSettings().setValue("rallypoint/author", "qian.gis")
    bar.clearWidgets()
    reg = plugin.open_registry(path=os.environ["RP_CONFLICTS"])
    iface.setActiveLayer(reg.layers["shelters"])
    plugin.actions["conflicts"].trigger()
    dlg = plugin.conflicts_dialog
    dlg.resize(1100, 640)
    pump()
    report["conflicts_listed"] = [[dlg.list.item(r, c).text() for c in range(dlg.list.columnCount())]
                                  for r in range(dlg.list.rowCount())]
    report["conflicts_uuids"] = [c.uuid for c in dlg.conflicts]
    shot(dlg, "conflicts_listed.png")
    done = []
    done.append(dlg.selected().uuid)
    dlg.keep_theirs.click()
    pump()
    report["conflicts_messages"] = [dlg.message.text()]
    done.append(dlg.selected().uuid)
    dlg.choosers["occupancy"][0].setEditText("28")
    dlg.use_chosen.click()
    pump()
    report["conflicts_messages"].append(dlg.message.text())
    report["conflicts_error"] = None if dlg.last_error is None else str(dlg.last_error)
    report["conflicts_resolved_in_order"] = done
    report["conflicts_left"] = dlg.list.rowCount()
    shot(dlg, "conflicts_resolved.png")
    report["conflicts_layer"] = {f["uuid"]: f["occupancy"] for f in reg.layers["shelters"].getFeatures()
                                 if f["uuid"] in done}
    dlg.close()
    reg.unload()
    report["steps"].append("conflicts")


def the_rest():
    from qgis.core import QgsApplication as App

    provider = App.processingRegistry().providerById("rallypoint")
    report["algorithms"] = {a.id(): list(a.canExecute()) for a in provider.algorithms()}
    plugin = qgis.utils.plugins[NAME]
    bar.clearWidgets()
    report["postgis"] = plugin.open_registry(path="postgresql://editor@127.0.0.1:1/registry") is None
    report["messages_after_postgis"] = messages()
    from rallypoint import geometry_engine

    report["engine"] = geometry_engine.engine().name
    report["steps"].append("rest")


try:
    iface.mainWindow().resize(1500, 950)  # room for the message bar's text in the screenshots
    report["class"] = type(qgis.utils.plugins.get(NAME)).__name__
    report["messages"] = messages()
    the_form()
    field_work()
    the_conflicts()
    the_rest()
except Exception:  # the test shows it
    report["error"] = traceback.format_exc()
report["modules"] = {name: getattr(mod, "__file__", None) for name, mod in sorted(sys.modules.items())
                     if name.split(".")[0] in ("rallypoint", "rallypoint_qgis", "rallypoint_layers",
                                               "rallypoint_plugins", "pluggy", "tomli")}
report["foreign"] = sorted({m.split(".")[0] for m in sys.modules} & {
    "shapely", "pyproj", "pandas", "geopandas", "fiona", "pyogrio", "psycopg", "click", "flask", "rich"})
with open(os.environ["RP_REPORT"], "w", encoding="utf-8") as f:
    json.dump(report, f, ensure_ascii=False, default=str)
QTimer.singleShot(0, QgsApplication.instance().quit)
