"""The plugin object QGIS creates: menu, toolbar, settings, translation and the Processing provider.

Everything it does is a call into :mod:`.loader`, :mod:`.commit`, :mod:`.processing_provider`
and the core's :mod:`rallypoint.sync`; this module only wires them to QGIS's interface.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from qgis.core import Qgis, QgsApplication, QgsProject, QgsSettings
from qgis.PyQt.QtCore import QCoreApplication, QLocale, QTranslator
from qgis.PyQt.QtWidgets import QAction, QFileDialog, QInputDialog, QLineEdit, QMessageBox

HERE = Path(__file__).resolve().parent
SETTINGS = "rallypoint"
CONTEXT = "Rallypoint"


def tr(text: str) -> str:
    return QCoreApplication.translate(CONTEXT, text)


def user_locale() -> str:
    """QGIS's interface language (``locale/userLocale``, else the system's)."""
    settings = QgsSettings()
    if settings.value("locale/overrideFlag", False, type=bool):
        return settings.value("locale/userLocale", "") or QLocale().name()
    return settings.value("locale/userLocale", "") or QLocale().name()


def install_translator(locale: str | None = None) -> QTranslator | None:
    """Load ``i18n/rallypoint_<locale>.qm`` (zh_CN, then zh) if the build made one."""
    locale = locale or user_locale()
    for name in (locale, locale.split("_")[0]):
        qm = HERE / "i18n" / f"rallypoint_{name}.qm"
        if qm.is_file():
            translator = QTranslator()
            if translator.load(str(qm)):
                QCoreApplication.installTranslator(translator)
                return translator
    return None


def python_executable() -> str:
    """The Python that runs QGIS's plugins (inside QGIS ``sys.executable`` is QGIS itself)."""
    if Path(sys.executable).name.startswith("python"):
        return sys.executable
    return shutil.which("python3") or "python3"


def checkout_in_subprocess(url: str, out: str, *, key: str | None, author: str, timeout: float = 600) -> str:
    """``rallypoint checkout`` in a child process; returns its summary, raises RuntimeError with its message.

    Creating a registry file goes through fiona (GDAL's table DDL), and fiona's wheel bundles
    a second GDAL and SQLite that must never be loaded in QGIS's process. The key travels in
    the environment, not on the command line, so other users cannot read it in ``ps``.
    """
    env = dict(os.environ, RALLYPOINT_AUTHOR=author)
    env.pop("RALLYPOINT_KEY", None)
    if key:
        env["RALLYPOINT_KEY"] = key
    cmd = [python_executable(), "-c", "from rallypoint.cli.main import cli; cli()", "checkout", url, out, "--force"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError((proc.stderr or proc.stdout).strip() or f"checkout failed ({proc.returncode})")
    return proc.stdout


class RallypointPlugin:
    """Rallypoint in QGIS: open a registry or a server check-out, edit it safely, sync it."""

    def __init__(self, iface):
        self.iface = iface
        self.translator = install_translator()
        self.actions: dict[str, QAction] = {}
        self.toolbar = None
        self.provider = None
        self.loaded: list = []
        self.report_box = None
        self.menu = tr("&Rallypoint")

    # -- settings --------------------------------------------------------------------
    @staticmethod
    def setting(name: str, default=None, type_=str):
        return QgsSettings().value(f"{SETTINGS}/{name}", default, type=type_)

    @staticmethod
    def set_setting(name: str, value) -> None:
        QgsSettings().setValue(f"{SETTINGS}/{name}", value)

    def author(self) -> str:
        return self.setting("author", "") or QgsApplication.userLoginName() or "qgis"

    def language(self) -> str | None:
        return "en" if self.setting("english_labels", False, bool) else None

    def notify(self, level: str, text: str) -> None:
        levels = {"critical": Qgis.Critical, "warning": Qgis.Warning, "success": Qgis.Success, "info": Qgis.Info}
        self.iface.messageBar().pushMessage("Rallypoint", text, levels.get(level, Qgis.Info), 0 if level == "critical"
                                            else 5)

    # -- QGIS life cycle -------------------------------------------------------------
    def initProcessing(self):
        from .processing_provider import RallypointProvider

        self.provider = RallypointProvider()
        QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self):
        self.initProcessing()
        self.toolbar = self.iface.addToolBar(tr("Rallypoint"))
        self.toolbar.setObjectName("RallypointToolbar")
        specs = [
            ("open", tr("Open registry…"), self.open_registry, False),
            ("checkout", tr("Check out from server…"), self.checkout, False),
            ("push", tr("Push local changes"), self.push, False),
            ("pull", tr("Pull changes from server"), self.pull, False),
            ("personal", tr("Show personal data"), self.toggle_personal, True),
            ("english", tr("English labels"), self.toggle_english, True),
        ]
        for key, text, slot, checkable in specs:
            action = QAction(text, self.iface.mainWindow())
            action.setObjectName(f"rallypoint_{key}")
            if checkable:
                action.setCheckable(True)
                action.setChecked(self.setting("show_personal" if key == "personal" else "english_labels",
                                               False, bool))
                action.toggled.connect(slot)
            else:
                action.triggered.connect(slot)
            self.iface.addPluginToMenu(self.menu, action)
            if key in ("open", "checkout", "push", "pull"):
                self.toolbar.addAction(action)
            self.actions[key] = action

    def unload(self):
        for action in self.actions.values():
            self.iface.removePluginMenu(self.menu, action)
            if self.toolbar is not None:
                self.toolbar.removeAction(action)
        self.actions.clear()
        if self.toolbar is not None:
            self.toolbar.deleteLater()
            self.toolbar = None
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
        for reg in self.loaded:
            for g in reg.guards.values():
                g.disconnect()
        if self.translator is not None:
            QCoreApplication.removeTranslator(self.translator)

    # -- actions ---------------------------------------------------------------------
    def open_registry(self, checked=False, path: str | None = None):
        if not path:
            path, _ = QFileDialog.getOpenFileName(self.iface.mainWindow(), tr("Open registry…"), "",
                                                  "GeoPackage (*.gpkg)")
        if not path:
            return None
        from .loader import load_registry

        try:
            reg = load_registry(path, project=QgsProject.instance(), lang=self.language(),
                                show_personal=self.setting("show_personal", False, bool), author=self.author,
                                notify=self.notify)
        except Exception as exc:  # a broken or foreign file: say so, do not crash QGIS
            self.notify("critical", tr("Cannot open the registry: {0}").format(exc))
            return None
        self.loaded.append(reg)
        return reg

    def _key(self) -> str | None:
        key, ok = QInputDialog.getText(self.iface.mainWindow(), "Rallypoint", tr("API key (empty: anonymous)"),
                                       QLineEdit.Password)
        return key.strip() or None if ok else None

    def checkout(self, checked=False):
        url, ok = QInputDialog.getText(self.iface.mainWindow(), "Rallypoint", tr("Server address"))
        if not ok or not url:
            return
        out, _ = QFileDialog.getSaveFileName(self.iface.mainWindow(), tr("Check out from server…"), "",
                                             "GeoPackage (*.gpkg)")
        if not out:
            return
        try:
            checkout_in_subprocess(url, out, key=self._key(), author=self.author())
        except Exception as exc:
            self.notify("critical", str(exc))
            return
        self.notify("success", tr("Checked out {0}").format(url))
        self.open_registry(path=out)

    def _sync(self, which: str, key: str | None | bool = False):
        """Push or pull the check-out the active layer belongs to (``key=False``: ask for it)."""
        from rallypoint import sync

        layer = self.iface.activeLayer()
        path = layer.source().split("|")[0] if layer is not None else None
        if not path or sync.sync_url(path) is None:
            self.notify("warning", tr("Select a layer of a registry checked out from a server"))
            return None
        if key is False:
            key = self._key()
        try:
            report = sync.push(path, key=key) if which == "push" else sync.pull(path, key=key, author=self.author())
        except Exception as exc:
            self.notify("critical", str(exc))
            return None
        for reg in self.loaded:
            if reg.path == str(Path(path).resolve()):
                for lyr in reg.layers.values():
                    lyr.dataProvider().reloadData()
                    lyr.triggerRepaint()
        self.show_report(report)
        return report

    def show_report(self, report) -> None:
        text = tr("{0} created, {1} updated, {2} retired").format(report.created, report.updated, report.retired)
        if report.conflicts or report.errors:
            lines = [tr("Conflicts (kept locally):")] + [f"• {c}" for c in report.conflicts] + \
                    [f"• {e}" for e in report.errors]
            self.notify("warning", text + "; " + tr("{0} conflicts").format(len(report.conflicts)))
            # Not modal: the user can look at the map and the layers while reading the list.
            self.report_box = QMessageBox(QMessageBox.Warning, "Rallypoint", text + "\n\n" + "\n".join(lines),
                                          QMessageBox.Ok, self.iface.mainWindow())
            self.report_box.setModal(False)
            self.report_box.show()
        else:
            self.notify("success", text)

    def push(self, checked=False, key: str | None | bool = False):
        return self._sync("push", key)

    def pull(self, checked=False, key: str | None | bool = False):
        return self._sync("pull", key)

    def toggle_personal(self, on: bool):
        from .loader import hide_personal

        self.set_setting("show_personal", bool(on))
        for reg in self.loaded:
            for name, lyr in reg.layers.items():
                from rallypoint.plugins import default_plugin_manager, layer_catalog

                ldef = layer_catalog(default_plugin_manager()).get(name)
                if ldef is not None:
                    hide_personal(lyr, ldef, not on)

    def toggle_english(self, on: bool):
        self.set_setting("english_labels", bool(on))
        self.notify("info", tr("Labels change for registries opened from now on"))
