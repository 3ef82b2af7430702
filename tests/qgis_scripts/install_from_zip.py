"""Run by the QGIS desktop (``qgis --code``): install a plugin zip with the Plugin Manager's own code.

    RP_ZIP=plugin.zip RP_REPORT=out.json xvfb-run -a qgis --profiles-path DIR --code install_from_zip.py

``pyplugin_installer``'s ``installFromZipFile`` is what Plugins ▸ Manage and Install Plugins ▸
Install from ZIP runs: it unzips into the profile's ``python/plugins``, loads and starts the
plugin and, when it started, enables it in the profile's ``QGIS/QGIS3.ini``. The report says
what it did; QGIS then quits.
"""

import json
import os
import sys

import pyplugin_installer
import qgis.utils
from qgis.core import Qgis, QgsApplication, QgsSettings
from qgis.PyQt.QtCore import QTimer

NAME = "rallypoint_qgis"
report = {"python": sys.version.split()[0], "qgis": Qgis.QGIS_VERSION,
          "home_plugin_path": qgis.utils.home_plugin_path, "settings_file": QgsSettings().fileName()}
pyplugin_installer.instance().installFromZipFile(os.environ["RP_ZIP"])
settings = QgsSettings()
settings.sync()
plugin = qgis.utils.plugins.get(NAME)
bar = qgis.utils.iface.messageBar()
report.update({
    "installed_files": sorted(os.path.relpath(os.path.join(d, f), qgis.utils.home_plugin_path)
                              for d, _, files in os.walk(os.path.join(qgis.utils.home_plugin_path, NAME))
                              for f in files if "__pycache__" not in d),
    "enabled": settings.value(f"PythonPlugins/{NAME}", None),
    "active": NAME in qgis.utils.active_plugins,
    "class": type(plugin).__name__ if plugin is not None else None,
    "messages": [f"{item.title()}: {item.text()}" for item in bar.items()],
})
with open(os.environ["RP_REPORT"], "w", encoding="utf-8") as f:
    json.dump(report, f, ensure_ascii=False)
QTimer.singleShot(0, QgsApplication.instance().quit)
