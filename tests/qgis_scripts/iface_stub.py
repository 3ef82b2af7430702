"""The part of QgisInterface a plugin's initGui/unload and actions use, backed by real Qt widgets.

There is no QGIS desktop program here (only Debian's python3-qgis), and pytest-qgis's stub
cannot be built outside its pytest plugin in QGIS 3.22, so the scripts run the plugin with this.
Menus are real menus of the window's menu bar, one per name, and are remembered by name.
"""

from qgis.gui import QgsMapCanvas, QgsMessageBar
from qgis.PyQt.QtWidgets import QMainWindow


class Iface:
    def __init__(self, window=None, canvas=None, bar=None):
        self.window = window or QMainWindow()
        self.canvas = canvas or QgsMapCanvas(self.window)
        self.bar = bar or QgsMessageBar(self.window)
        self.active = None
        self.menus = {}  # name -> [actions]
        self._menus = {}  # name -> QMenu

    def mainWindow(self):  # noqa: N802
        return self.window

    def mapCanvas(self):  # noqa: N802
        return self.canvas

    def messageBar(self):  # noqa: N802
        return self.bar

    def addToolBar(self, name):  # noqa: N802
        return self.window.addToolBar(name)

    def addPluginToMenu(self, menu, action):  # noqa: N802
        if menu not in self._menus:
            self._menus[menu] = self.window.menuBar().addMenu(menu)
        self._menus[menu].addAction(action)
        self.menus.setdefault(menu, []).append(action)

    def removePluginMenu(self, menu, action):  # noqa: N802
        if menu in self._menus:
            self._menus[menu].removeAction(action)
        self.menus.get(menu, []).remove(action)

    def activeLayer(self):  # noqa: N802
        return self.active
