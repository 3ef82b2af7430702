"""Rallypoint's QGIS plugin: a thin adapter over the core (``rallypoint``), which must be installed
in QGIS's Python (``python3 -m pip install --user rallypoint``)."""


def classFactory(iface):  # noqa: N802 (QGIS's name)
    """QGIS calls this to create the plugin."""
    try:
        import rallypoint  # noqa: F401
    except ImportError as exc:
        return _Missing(iface, exc)
    from .plugin import RallypointPlugin

    return RallypointPlugin(iface)


class _Missing:
    """Stands in when the core is not importable: says what to install instead of a traceback."""

    def __init__(self, iface, exc):
        self.iface = iface
        self.exc = exc

    def initGui(self):  # noqa: N802
        from qgis.core import Qgis

        self.iface.messageBar().pushMessage(
            "Rallypoint", f"The rallypoint Python package is not installed in QGIS's Python ({self.exc}). "
            "Install it with: python3 -m pip install --user rallypoint", Qgis.Critical, 0)

    def unload(self):
        pass
