"""Edit a PostGIS registry's layer directly in real QGIS (headless) with QGIS's postgres provider, and commit.

    QT_QPA_PLATFORM=offscreen python edit_postgis.py HOST PORT DBNAME USER LAYER CHANGE_UUID DELETE_UUID

Loads LAYER (the default style comes from layer_styles), and in one edit buffer sets the
CHANGE_UUID feature's status to 'open' and moves it 0.01° east, deletes DELETE_UUID and adds
a copy of CHANGE_UUID named '新增场所' (without uuid and stamps, as a user would), commits
and prints a JSON report.
"""

import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (  # noqa: E402
    Qgis,
    QgsApplication,
    QgsDataSourceUri,
    QgsFeature,
    QgsFeatureRequest,
    QgsVectorLayer,
)

host, port, dbname, user, layer_name, change_uuid, delete_uuid = sys.argv[1:8]
app = QgsApplication([], False)
app.setPrefixPath("/usr", True)
app.initQgis()
uri = QgsDataSourceUri()
uri.setConnection(host, port, dbname, user, "")
uri.setDataSource("public", layer_name, "geom", "", "fid")
layer = QgsVectorLayer(uri.uri(False), layer_name, "postgres")
report = {"qgis_version": Qgis.QGIS_VERSION, "valid": layer.isValid(), "crs": layer.crs().authid(),
          "renderer": layer.renderer().type() if layer.renderer() else None,
          "alias": layer.attributeAlias(layer.fields().indexOf("capacity_day"))}


def by_uuid(uuid):
    return next(layer.getFeatures(QgsFeatureRequest().setFilterExpression(f"\"uuid\" = '{uuid}'")), None)


changed, deleted = by_uuid(change_uuid), by_uuid(delete_uuid)
report["found"] = changed is not None and deleted is not None
if report["found"]:
    layer.startEditing()
    report["attribute"] = layer.changeAttributeValue(changed.id(), layer.fields().indexOf("status"), "open")
    geom = changed.geometry()
    geom.translate(0.01, 0)
    report["geometry"] = layer.changeGeometry(changed.id(), geom)
    report["deleted"] = layer.deleteFeature(deleted.id())
    new = QgsFeature(layer.fields())
    keep = {"uuid", "version", "created_at", "created_by", "updated_at", "updated_by", "retired_at", "fid"}
    for f in layer.fields():
        if f.name() not in keep:
            new[f.name()] = changed[f.name()]
    new["name"] = "新增场所"
    new.setGeometry(changed.geometry())
    report["added"] = layer.addFeature(new)
    report["committed"] = layer.commitChanges()
    report["errors"] = layer.commitErrors()
print(json.dumps(report, ensure_ascii=False), flush=True)
del layer
app.exitQgis()
