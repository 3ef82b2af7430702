"""Open every collection of an OGC API – Features server in real QGIS (headless), as JSON.

Run with an interpreter that has Debian's QGIS bindings:
    QT_QPA_PLATFORM=offscreen python read_oapif.py http://127.0.0.1:8000/ shelters helipads …
For each collection: whether the layer is valid, QGIS's featureCount (from numberMatched),
the features QGIS actually iterates (it follows the ``next`` links), its CRS and fields.
Collections named with a trailing ``:count`` are not iterated (too large to read whole).
"""

import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import Qgis, QgsApplication, QgsVectorLayer

url = sys.argv[1]
app = QgsApplication([], False)
app.setPrefixPath("/usr", True)
app.initQgis()
messages = []
QgsApplication.messageLog().messageReceived.connect(lambda msg, tag, level: messages.append(f"{tag}: {msg}"))

report = {"qgis_version": Qgis.QGIS_VERSION, "layers": {}}
for arg in sys.argv[2:]:
    name, _, mode = arg.partition(":")
    lyr = QgsVectorLayer(f"url='{url}' typename='{name}'", name, "OAPIF")
    info = {"valid": lyr.isValid(), "count": lyr.featureCount() if lyr.isValid() else None,
            "crs": lyr.crs().authid() if lyr.isValid() else None,
            "fields": [f.name() for f in lyr.fields()] if lyr.isValid() else []}
    if lyr.isValid() and mode != "count":
        info["iterated"] = sum(1 for _ in lyr.getFeatures())
    report["layers"][name] = info
    del lyr

report["messages"] = messages
print(json.dumps(report, ensure_ascii=False), flush=True)
app.exitQgis()
