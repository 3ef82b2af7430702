"""The plugin object QGIS creates: menu, toolbar, settings, translation and the Processing provider.

Everything it does is a call into :mod:`.loader`, :mod:`.commit`, :mod:`.processing_provider`
and the core's :mod:`rallypoint.sync`; this module only wires them to QGIS's interface.
"""

from __future__ import annotations

from pathlib import Path

from qgis.core import Qgis, QgsApplication, QgsProject, QgsSettings, QgsTask
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


def postgis_problem(location: str) -> str | None:
    """Why a PostGIS registry cannot be opened in this QGIS (None when it can).

    The registry's PostGIS backend talks to the database through psycopg 3, which no QGIS ships (QGIS's
    Python has psycopg2): without it, a PostGIS registry is refused with this message instead of a traceback.
    """
    from rallypoint.storage import is_postgres_url

    if not is_postgres_url(location):
        return None
    import importlib.util

    if importlib.util.find_spec("psycopg") is None:
        return tr("Opening a PostGIS registry in QGIS needs the psycopg package (version 3) in QGIS's Python, "
                  "which QGIS does not ship; check the registry out into a file with `rallypoint checkout`, or "
                  "open it through the Rallypoint server")
    return None


def checkout_here(url: str, out: str, *, key: str | None, author: str):
    """``rallypoint checkout`` in QGIS's own process: the file is made with QGIS's GDAL (the geometry engine the
    plugin installs), never fiona, and no other Python is started (a zip install has no command line)."""
    from rallypoint import sync

    why = postgis_problem(url)
    if why:
        raise sync.SyncError(why)
    return sync.checkout(url, out, key=key, author=author, overwrite=True)


def _running(task: QgsTask) -> bool:
    try:
        return task.status() not in (QgsTask.Complete, QgsTask.Terminated)
    except RuntimeError:  # QGIS has deleted the finished task
        return False


class RallypointPlugin:
    """Rallypoint in QGIS: open a registry or a server check-out, edit it safely, sync it."""

    def __init__(self, iface):
        from rallypoint import geometry_engine

        from .qgis_engine import QgisEngine

        self.iface = iface
        # the registry's geometries are QgsGeometry from now on, its CRSs QGIS's (see qgis_engine); unload() puts
        # back the engine that was there
        self._engine_before = geometry_engine.use(QgisEngine())
        self.tasks: list[QgsTask] = []
        self.last_error: str | None = None
        self.translator = install_translator()
        self.actions: dict[str, QAction] = {}
        self.toolbar = None
        self.provider = None
        self.loaded: list = []
        self.report_box = None
        self.conflicts_dialog = None
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
            ("conflicts", tr("Merge conflicts…"), self.show_conflicts, False),
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
            if key in ("open", "checkout", "push", "pull", "conflicts"):
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
        # The registries leave with the plugin: without it their layers' saves would go past the registry's rules
        # and history. (And QGIS 3.22 crashes when it quits while a registry layer is the current one in a group
        # of the layer tree: its style dock is gone when the group's rows go; removed here, before that, it is not.)
        if self.conflicts_dialog is not None:
            self.conflicts_dialog.close()
            self.conflicts_dialog.deleteLater()
            self.conflicts_dialog = None
        for reg in self.loaded:
            reg.unload()
        self.loaded.clear()
        if self.translator is not None:
            QCoreApplication.removeTranslator(self.translator)
        from rallypoint import geometry_engine

        geometry_engine.use(self._engine_before)

    # -- actions ---------------------------------------------------------------------
    def open_registry(self, checked=False, path: str | None = None):
        if not path:
            path, _ = QFileDialog.getOpenFileName(self.iface.mainWindow(), tr("Open registry…"), "",
                                                  "GeoPackage (*.gpkg)")
        if not path:
            return None
        from .loader import load_registry

        why = postgis_problem(path)
        if why:
            self.notify("critical", why)
            return None
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
            return None
        out, _ = QFileDialog.getSaveFileName(self.iface.mainWindow(), tr("Check out from server…"), "",
                                             "GeoPackage (*.gpkg)")
        if not out:
            return None
        return self.start_checkout(url, out, key=self._key())

    def start_checkout(self, url: str, out: str, *, key: str | None = None) -> QgsTask:
        """Check ``url`` out into ``out`` in a background task (QGIS's task manager shows its progress); the
        check-out is opened when it is done, a refusal is shown in the message bar."""
        author = self.author()
        self.last_error = None

        def work(task):
            return checkout_here(url, out, key=key, author=author)

        def finished(exception, result=None):
            if exception is not None:
                self.last_error = str(exception)
                self.notify("critical", tr("Check-out failed: {0}").format(exception))
                return
            self.notify("success", tr("Checked out {0}").format(url))
            self.open_registry(path=out)

        task = QgsTask.fromFunction(tr("Check out from server…"), work, on_finished=finished)
        self.tasks = [t for t in self.tasks if _running(t)] + [task]  # QGIS runs it; Python must keep it
        QgsApplication.taskManager().addTask(task)
        return task

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
        self.reload(str(Path(path).resolve()))
        self.show_report(report)
        return report

    def reload(self, location: str) -> None:
        """Show what the registry at ``location`` holds now in its layers (after a write made outside QGIS's
        edit buffer: a pull, a resolved conflict)."""
        for reg in self.loaded:
            if reg.path == location:
                for lyr in reg.layers.values():
                    lyr.dataProvider().reloadData()
                    lyr.triggerRepaint()

    def current_registry(self) -> str | None:
        """The registry the active layer belongs to, else the one opened last."""
        layer = self.iface.activeLayer()
        for reg in reversed(self.loaded):
            if layer is not None and any(lyr is layer for lyr in reg.layers.values()):
                return reg.path
        return self.loaded[-1].path if self.loaded else None

    def show_conflicts(self, checked=False, location: str | None = None):
        """The merge conflicts of the registry the active layer belongs to (or ``location``), in a dialog that
        lists and resolves them (see :mod:`.conflicts`); not modal, so the map can be looked at meanwhile."""
        from .conflicts import ConflictsDialog

        location = location or self.current_registry()
        if not location:
            self.notify("warning", tr("Open a registry first: its merge conflicts are listed here"))
            return None
        why = postgis_problem(location)
        if why:
            self.notify("critical", why)
            return None
        if self.conflicts_dialog is not None:
            self.conflicts_dialog.close()
        self.conflicts_dialog = ConflictsDialog(location, author=self.author, lang=self.language(),
                                                on_resolved=self.reload, parent=self.iface.mainWindow())
        self.conflicts_dialog.show()
        return self.conflicts_dialog

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
