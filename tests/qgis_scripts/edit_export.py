"""Edit one feature of an exported GeoPackage in real QGIS (headless), as a user would, and commit.

    QT_QPA_PLATFORM=offscreen python edit_export.py EXPORT.gpkg LAYER UUID FIELD VALUE DX DY

Opens LAYER with the ogr provider (the default style loads from layer_styles), sets FIELD
to VALUE (an integer when it looks like one), moves the feature's point by DX, DY degrees,
commits and prints a JSON report.
"""

import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import Qgis, QgsApplication, QgsFeatureRequest, QgsVectorLayer  # noqa: E402

path, layer_name, uuid, field, value, dx, dy = sys.argv[1:8]
app = QgsApplication([], False)
app.setPrefixPath("/usr", True)
app.initQgis()
layer = QgsVectorLayer(f"{path}|layername={layer_name}", layer_name, "ogr")
report = {"qgis_version": Qgis.QGIS_VERSION, "valid": layer.isValid()}
feature = next(layer.getFeatures(QgsFeatureRequest().setFilterExpression(f"\"uuid\" = '{uuid}'")), None)
report["found"] = feature is not None
if feature is not None:
    layer.startEditing()
    idx = layer.fields().indexOf(field)
    new_value = int(value) if value.lstrip("-").isdigit() else value
    report["attribute"] = layer.changeAttributeValue(feature.id(), idx, new_value)
    geom = feature.geometry()
    geom.translate(float(dx), float(dy))
    report["geometry"] = layer.changeGeometry(feature.id(), geom)
    report["committed"] = layer.commitChanges()
    report["errors"] = layer.commitErrors()
    report["moved_to"] = geom.asWkt(9)
print(json.dumps(report, ensure_ascii=False), flush=True)
del layer
app.exitQgis()
