"""QGIS under X (Xvfb): the installed plugin opens a registry; the window is saved as a PNG.

    xvfb-run -a python plugin_screenshot.py PLUGINS_DIR REGISTRY.gpkg OUT.png

There is no QGIS desktop binary here (only Debian's python3-qgis), so the window is put
together from QGIS's own widgets as the desktop does: a layer tree beside a map canvas,
kept in step by QgsLayerTreeMapCanvasBridge, and the plugin's toolbar.
"""

import json
import sys

from qgis.core import QgsApplication, QgsProject, QgsSettings
from qgis.gui import QgsLayerTreeMapCanvasBridge, QgsLayerTreeView, QgsMapCanvas, QgsMessageBar
from qgis.core import QgsLayerTreeModel
from qgis.PyQt.QtCore import QEventLoop, QSize, Qt, QTimer
from qgis.PyQt.QtGui import QColor
from qgis.PyQt.QtWidgets import QMainWindow, QSplitter, QVBoxLayout, QWidget

plugins_dir, registry, out = sys.argv[1:4]
app = QgsApplication([], True)
app.setPrefixPath("/usr", True)
app.initQgis()
QgsSettings().setValue("locale/userLocale", "zh_CN")

import qgis.utils  # noqa: E402
from iface_stub import Iface  # noqa: E402  (beside this script)


window = QMainWindow()
window.setWindowTitle("QGIS 3.22 · Rallypoint")
central = QWidget()
layout = QVBoxLayout(central)
layout.setContentsMargins(0, 0, 0, 0)
bar = QgsMessageBar()
layout.addWidget(bar)
split = QSplitter(Qt.Horizontal)
project = QgsProject.instance()
model = QgsLayerTreeModel(project.layerTreeRoot())
tree = QgsLayerTreeView()
tree.setModel(model)
canvas = QgsMapCanvas()
canvas.setCanvasColor(QColor("white"))
bridge = QgsLayerTreeMapCanvasBridge(project.layerTreeRoot(), canvas)
split.addWidget(tree)
split.addWidget(canvas)
split.setSizes([330, 1070])
layout.addWidget(split, 1)  # the map takes the height; the message bar only its own
window.setCentralWidget(central)
window.resize(QSize(1400, 950))

qgis.utils.iface = Iface(window, canvas, bar)
sys.path.insert(0, plugins_dir)
assert qgis.utils.loadPlugin("rallypoint_qgis") and qgis.utils.startPlugin("rallypoint_qgis")
plugin = qgis.utils.plugins["rallypoint_qgis"]
reg = plugin.open_registry(path=registry)
assert reg is not None, "the plugin did not open the registry"
# one save through the registry, so the module check below covers the commit path too
shelters = reg.layers["shelters"]
first = next(shelters.getFeatures())
shelters.startEditing()
shelters.changeAttributeValue(first.id(), shelters.fields().indexOf("capacity_night"), 321)
assert shelters.commitChanges() and reg.guards["shelters"].last_error is None, reg.guards["shelters"].last_error
window.show()
canvas.setDestinationCrs(reg.layers["admin_areas"].crs())
extent = reg.layers["admin_areas"].extent()
extent.scale(1.05)
canvas.setExtent(extent)
canvas.refreshAllLayers()
loop = QEventLoop()
canvas.mapCanvasRefreshed.connect(loop.quit)
QTimer.singleShot(60000, loop.quit)
loop.exec_()
for _ in range(20):
    app.processEvents()
shot = window.grab()
ok = shot.save(out, "png")
bundled = sorted({m.split(".")[0] for m in sys.modules} & {"fiona", "pyogrio"})
print(json.dumps({"saved": ok, "bundled_gdal_modules": bundled, "platform": app.platformName(), "size": [shot.width(), shot.height()],
                  "layers": sorted(reg.layers), "canvas_layers": len(canvas.layers())}), flush=True)
reg.unload()
plugin.unload()
app.exitQgis()
