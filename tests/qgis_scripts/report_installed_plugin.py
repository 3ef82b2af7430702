"""Run by the QGIS desktop (``qgis --code``) after a restart: what the profile's installed plugin does.

    RP_REGISTRY=county.gpkg RP_REPORT=out.json xvfb-run -a qgis --profiles-path DIR --code report_installed_plugin.py

QGIS has already restored the plugins its profile enables (``QGIS3.ini``) when this runs. The
report says whether the plugin started as itself, where every Rallypoint module came from and
what QGIS's Python path holds, and, when the plugin started, what opening a registry with its
"Open registry…" action put into the project. QGIS then quits.
"""

import json
import os
import sys
import traceback

import qgis.utils
from qgis.core import QgsApplication
from qgis.PyQt.QtCore import QTimer

NAME = "rallypoint_qgis"
plugin = qgis.utils.plugins.get(NAME)
bar = qgis.utils.iface.messageBar()
report = {
    "active": NAME in qgis.utils.active_plugins,
    "class": type(plugin).__name__ if plugin is not None else None,
    "messages": [f"{item.title()}: {item.text()}" for item in bar.items()],
    "sys_path": list(sys.path),
    "executable": sys.executable,
    "env": {k: os.environ[k] for k in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV") if k in os.environ},
    "registry": None,
}
if plugin is not None and hasattr(plugin, "open_registry"):
    try:
        loaded = plugin.open_registry(path=os.environ["RP_REGISTRY"])
        report["registry"] = None if loaded is None else {
            name: layer.featureCount() for name, layer in loaded.layers.items()}
        report["messages"] = [f"{item.title()}: {item.text()}" for item in bar.items()]
    except Exception:  # the report says what went wrong; the test shows it
        report["registry_error"] = traceback.format_exc()
report["modules"] = {name: getattr(mod, "__file__", None) for name, mod in sorted(sys.modules.items())
                     if name.split(".")[0] in ("rallypoint", "rallypoint_qgis", "rallypoint_layers",
                                               "rallypoint_plugins")}
with open(os.environ["RP_REPORT"], "w", encoding="utf-8") as f:
    json.dump(report, f, ensure_ascii=False)
QTimer.singleShot(0, QgsApplication.instance().quit)
