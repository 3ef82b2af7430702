"""Rallypoint's QGIS plugin: a thin adapter over the core (``rallypoint``).

The plugin zip carries the core, its layer definitions and its pure-Python dependencies in
``_vendor/`` (see ``vendoring.py``, which builds it): importing this package *appends* that folder
to ``sys.path``, so a core installed in QGIS's Python (a developer's) is still found first, and the
plugin then starts only on a core of its own version (:func:`missing_core`). Importing this package
imports neither QGIS nor the core: QGIS calls :func:`classFactory`, and ``rallypoint qgis-plugin
install`` calls :func:`missing_core` in QGIS's Python to check that the plugin can start before it
installs it.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VENDOR = os.path.join(HERE, "_vendor")
if os.path.isdir(VENDOR) and VENDOR not in sys.path:
    sys.path.append(VENDOR)


def plugin_version():
    """The ``version=`` of the plugin's metadata.txt (the version of the core it was built with)."""
    try:
        with open(os.path.join(HERE, "metadata.txt"), encoding="utf-8") as f:
            for line in f:
                if line.startswith("version="):
                    return line.split("=", 1)[1].strip()
    except OSError:
        pass
    return None


def missing_core():
    """None when the core the plugin needs can be imported in this Python, else why not (in Chinese and English)."""
    try:
        import rallypoint
        from rallypoint import geometry_engine  # noqa: F401  (a core older than the plugin lacks it)
    except ImportError as exc:
        return (f"无法导入 rallypoint 核心 / the rallypoint core is not importable here ({exc}); "
                "reinstall the plugin from its zip")
    want = plugin_version()
    have = getattr(rallypoint, "__version__", None)
    carried = os.path.realpath(getattr(rallypoint, "__file__", "")).startswith(os.path.realpath(VENDOR) + os.sep)
    if want and have != want and not carried:
        return (f"QGIS 的 Python 中已安装 rallypoint {have}，本插件为 {want} 版 / QGIS's Python has rallypoint {have} "
                f"installed, and this plugin carries {want}: uninstall rallypoint {have} from QGIS's Python, or install "
                f"the plugin of version {have}")
    return None


def classFactory(iface):  # noqa: N802 (QGIS's name)
    """QGIS calls this to create the plugin."""
    why = missing_core()
    if why:
        return _Missing(iface, why)
    from .plugin import RallypointPlugin

    return RallypointPlugin(iface)


class _Missing:
    """Stands in when the core is not importable: says so in QGIS instead of a traceback."""

    def __init__(self, iface, why):
        self.iface = iface
        self.why = why

    def initGui(self):  # noqa: N802
        from qgis.core import Qgis

        self.iface.messageBar().pushMessage(
            "Rallypoint", f"The Rallypoint plugin cannot start: {self.why}.", Qgis.Critical, 0)

    def unload(self):
        pass
