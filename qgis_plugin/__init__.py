"""Rallypoint's QGIS plugin: a thin adapter over the core (``rallypoint``).

Importing this package imports neither QGIS nor the core: QGIS calls :func:`classFactory`,
and ``rallypoint qgis-plugin install`` calls :func:`missing_core` in QGIS's Python to check
that the plugin can start before it installs it.
"""


def missing_core():
    """None when the core the plugin needs can be imported in this Python, else why not."""
    try:
        import rallypoint  # noqa: F401
    except ImportError as exc:
        return f"the rallypoint core is not importable here ({exc})"
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
