"""Load the installed plugin the way QGIS does (qgis.utils.loadPlugin/startPlugin) and report it as JSON.

    QT_QPA_PLATFORM=offscreen python load_installed_plugin.py PLUGINS_DIR LOCALE
"""

import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import QgsApplication, QgsSettings  # noqa: E402

plugins_dir, locale = sys.argv[1], sys.argv[2]
app = QgsApplication([], True)
app.setPrefixPath("/usr", True)
app.initQgis()
QgsSettings().setValue("locale/userLocale", locale)

import qgis.utils  # noqa: E402
from iface_stub import Iface  # noqa: E402  (beside this script)
from qgis.PyQt.QtWidgets import QToolBar  # noqa: E402


qgis.utils.iface = iface = Iface()
sys.path.insert(0, plugins_dir)
qgis.utils.plugin_paths = [plugins_dir]
assert qgis.utils.loadPlugin("rallypoint_qgis"), "loadPlugin failed"
assert qgis.utils.startPlugin("rallypoint_qgis"), "startPlugin failed"
plugin = qgis.utils.plugins["rallypoint_qgis"]
registry = QgsApplication.processingRegistry()
report = {
    "module": sys.modules["rallypoint_qgis"].__file__,
    "class": type(plugin).__name__,
    "menu": plugin.menu,
    "actions": {k: a.text() for k, a in plugin.actions.items()},
    "toolbar": plugin.toolbar.windowTitle(),
    "plugin_menus": {m: [a.text() for a in acts] for m, acts in iface.menus.items()},
    "algorithms": sorted(a.id() for a in registry.providerById("rallypoint").algorithms()),
}
messages = []
QgsApplication.messageLog().messageReceived.connect(lambda msg, tag, level: messages.append(f"{tag}: {msg}"))
# QGIS's own start-up fills this module list through its import hook; this bare harness has none.
qgis.utils._plugin_modules.setdefault("rallypoint_qgis", set())
report["unloaded"] = qgis.utils.unloadPlugin("rallypoint_qgis")
report["unload_messages"] = messages
report["provider_after_unload"] = registry.providerById("rallypoint") is not None
report["menus_after_unload"] = {m: len(acts) for m, acts in iface.menus.items()}
print(json.dumps(report, ensure_ascii=False), flush=True)
app.exitQgis()
