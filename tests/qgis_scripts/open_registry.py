"""Open a registry in real QGIS (headless) and report what a user would see, as JSON.

Run with an interpreter that has Debian's QGIS bindings:
    QT_QPA_PLATFORM=offscreen python open_registry.py REGISTRY.gpkg [SCREENSHOT.png]
"""

import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (  # noqa: E402
    Qgis,
    QgsApplication,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsProject,
    QgsRectangle,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QSize  # noqa: E402
from qgis.PyQt.QtGui import QColor  # noqa: E402

path = sys.argv[1]
app = QgsApplication([], False)
app.setPrefixPath("/usr", True)
app.initQgis()
messages = []
QgsApplication.messageLog().messageReceived.connect(lambda msg, tag, level: messages.append(f"{tag}: {msg}"))

report = {"qgis_version": Qgis.QGIS_VERSION, "layers": {}}
probe = QgsVectorLayer(path, "probe", "ogr")
names = [l.split("!!::!!")[1] for l in probe.dataProvider().subLayers()]
report["sublayers"] = names
layers = {}
for name in names:
    lyr = QgsVectorLayer(f"{path}|layername={name}", name, "ogr")
    layers[name] = lyr
    fields = lyr.fields()
    report["layers"][name] = {
        "valid": lyr.isValid(),
        "count": lyr.featureCount(),
        "crs": lyr.crs().authid(),
        "renderer": lyr.renderer().type() if lyr.renderer() else None,
        "aliases": {f.name(): f.alias() for f in fields},
        "widgets": {f.name(): lyr.editorWidgetSetup(i).type() for i, f in enumerate(fields)},
        "notnull": [f.name() for f in fields if f.constraints().constraints() & f.constraints().ConstraintNotNull],
        "readonly": [f.name() for i, f in enumerate(fields) if lyr.editFormConfig().readOnly(i)],
    }

if len(sys.argv) > 2:
    order = ["helipads", "teams", "depots", "shelters", "hazard_points", "roads", "population", "admin_areas"]
    shown = [layers[n] for n in order if n in layers and layers[n].isValid()]
    for lyr in shown:
        QgsProject.instance().addMapLayer(lyr)
    settings = QgsMapSettings()
    settings.setLayers(shown)
    settings.setDestinationCrs(layers["admin_areas"].crs())
    extent = QgsRectangle(layers["admin_areas"].extent())
    extent.scale(1.05)
    settings.setExtent(extent)
    settings.setOutputSize(QSize(1200, 1000))
    settings.setBackgroundColor(QColor("white"))
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    job.renderedImage().save(sys.argv[2], "png")
    report["screenshot"] = sys.argv[2]

report["messages"] = messages
print(json.dumps(report, ensure_ascii=False), flush=True)
QgsProject.instance().clear()
layers.clear()
del probe
app.exitQgis()
