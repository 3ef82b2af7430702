"""The "Merge conflicts" dialog: a registry's open merge conflicts, listed and resolved in QGIS.

A thin window over the core's :meth:`Registry.conflicts` and :meth:`Registry.resolve_conflict`
(see ``rallypoint.registry.conflicts``), as ``rallypoint conflicts list|resolve`` and ``/conflicts``
are: the list shows each open conflict (layer, feature, fields in conflict, when and by whom it was
found), the table below it the chosen conflict's fields (the common base, ours when the merge met it,
theirs, the feature now) with a value to choose for each; the buttons keep ours, keep theirs, or
write the values chosen. The registry does the writing, in one batch, with the plugin's author name
in the history (op ``resolve``), and refuses a stale choice or a bad value with its own message,
shown in the dialog; nothing is decided here.
"""

from __future__ import annotations

from typing import Any, Callable

from qgis.core import QgsGeometry
from qgis.PyQt.QtCore import QCoreApplication, Qt
from qgis.PyQt.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from rallypoint import RallypointError, Registry
from rallypoint.errors import FeatureNotFoundError
from rallypoint.localtime import local_time

#: China's clock. China has kept UTC+8 without summer time since 1991, so a fixed offset is exact; zoneinfo would
#: need the tzdata package on Windows, which QGIS's Python does not carry.
_OURS = object()  # the chooser's "ours": the field is left as the feature holds it now


def _tr(text: str) -> str:
    return QCoreApplication.translate("Rallypoint", text)  # the plugin's one context (plugin.CONTEXT)




def shown(ldef, field: str, value: Any, lang: str) -> str:
    """A stored value as the user reads it: coded values by their labels, geometry as a word."""
    if value is None or value == "":
        return ""
    if field == "geometry":
        return _tr("(geometry)")
    f = ldef.field(field) if ldef is not None and ldef.has_field(field) else None
    if f is not None and f.values:
        codes = str(value).split(",") if f.type == "codes" else [str(value)]
        return ("、" if lang == "zh" else ", ").join(f.value(c).label(lang) if f.value(c) else c for c in codes)
    if f is not None and f.type == "boolean":
        return _tr("yes") if value else _tr("no")
    return str(value)


def kind_text(kind: str) -> str:
    """A conflict's kind (as the merge names it) in words."""
    return {"edit/edit": _tr("both edited"),
            "retired-by-them/edited-by-us": _tr("retired by them, edited by us"),
            "restored-by-them/edited-by-us": _tr("restored by them, edited by us"),
            "edited-by-them/retired-by-us": _tr("edited by them, retired by us"),
            "edited-by-them/restored-by-us": _tr("edited by them, restored by us"),
            "insert/insert": _tr("added on both sides")}.get(kind, kind)


def _wkt(raw: Any) -> str | None:
    """A stored geometry (hex WKB) as WKT, which the registry takes as a chosen geometry (QGIS reads it)."""
    if not raw:
        return None
    geom = QgsGeometry()
    geom.fromWkb(bytes.fromhex(raw) if isinstance(raw, str) else bytes(raw))
    return geom.asWkt()


class ConflictsDialog(QDialog):
    """The open merge conflicts of the registry at ``location``; ``author()`` names who resolves (the plugin's
    author setting), ``on_resolved(location)`` is called after each resolution (the plugin reloads the layers)."""

    LIST_COLUMNS = ("#", "Layer", "Feature", "Fields in conflict", "Found (UTC+8)", "Found by")
    FIELD_COLUMNS = ("Field", "Base", "Ours (when merged)", "Theirs", "Now", "Chosen value")

    def __init__(self, location: str, *, author: Callable[[], str], lang: str | None = None,
                 on_resolved: Callable[[str], None] | None = None, parent=None):
        super().__init__(parent)
        self.location = location
        self.author = author
        self.lang = lang
        self.on_resolved = on_resolved or (lambda location: None)
        self.conflicts: list = []
        self.now: dict[int, Any] = {}
        self.defs: dict[str, Any] = {}
        self.choosers: dict[str, tuple[QComboBox, list]] = {}
        self.last_error: Exception | None = None
        self.setObjectName("RallypointConflicts")
        self.setWindowTitle(_tr("Merge conflicts"))
        self.resize(1000, 620)

        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.list = QTableWidget(0, len(self.LIST_COLUMNS))
        self.list.setHorizontalHeaderLabels([_tr(h) for h in self.LIST_COLUMNS])
        self.list.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.list.setSelectionMode(QAbstractItemView.SingleSelection)
        self.list.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.list.verticalHeader().setVisible(False)
        self.list.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.list.horizontalHeader().setStretchLastSection(True)
        self.list.itemSelectionChanged.connect(self._show_selected)
        self.detail = QLabel()
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.fields = QTableWidget(0, len(self.FIELD_COLUMNS))
        self.fields.setHorizontalHeaderLabels([_tr(h) for h in self.FIELD_COLUMNS])
        self.fields.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.fields.verticalHeader().setVisible(False)
        self.fields.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextSelectableByMouse)

        self.keep_ours = QPushButton(_tr("Keep ours"))
        self.keep_theirs = QPushButton(_tr("Keep theirs"))
        self.use_chosen = QPushButton(_tr("Use the chosen values"))
        close = QPushButton(_tr("Close"))
        self.keep_ours.setToolTip(_tr("The feature stays as it stands in this registry"))
        self.keep_theirs.setToolTip(_tr("Their values of the fields in conflict (and their feature retired or in use)"))
        self.use_chosen.setToolTip(_tr("Ours for the fields left at ours, the chosen value for the others"))
        self.keep_ours.clicked.connect(lambda: self.resolve("ours"))
        self.keep_theirs.clicked.connect(lambda: self.resolve("theirs"))
        self.use_chosen.clicked.connect(lambda: self.resolve("ours", chosen=True))
        close.clicked.connect(self.reject)

        lower = QVBoxLayout()
        lower.setContentsMargins(0, 0, 0, 0)
        lower.addWidget(self.detail)
        lower.addWidget(self.fields, 1)
        below = QWidget()  # the lower half in the splitter
        below.setLayout(lower)
        split = QSplitter(Qt.Vertical)
        split.addWidget(self.list)
        split.addWidget(below)
        split.setSizes([240, 300])
        buttons = QHBoxLayout()
        for b in (self.keep_ours, self.keep_theirs, self.use_chosen):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(split, 1)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        self.refresh()

    # -- reading ---------------------------------------------------------------------
    def refresh(self, select: int | None = None) -> None:
        """Read the open conflicts again (and each feature as it stands now); select ``select`` or the first."""
        try:
            with Registry.open(self.location, readonly=True) as reg:
                self.lang = self.lang or reg.info.language
                self.conflicts = reg.conflicts(resolved=False)
                self.defs.update({name: reg.definition(name) for name in {c.layer for c in self.conflicts}})
                self.now = {}
                for c in self.conflicts:
                    try:
                        self.now[c.id] = reg.get(c.layer, c.uuid)
                    except FeatureNotFoundError:
                        self.now[c.id] = None
                title = reg.info.name
        except (RallypointError, OSError) as exc:
            self.conflicts, self.now, title, failed = [], {}, "", exc
        else:
            failed = None
        self.summary.setText(_tr("{0}: {1} open merge conflicts").format(title, len(self.conflicts)))
        self.list.setRowCount(len(self.conflicts))
        for row, c in enumerate(self.conflicts):
            ldef = self.defs.get(c.layer)
            cells = (str(c.id), ldef.title(self.lang) if ldef else c.layer, c.name or c.uuid,
                     "、".join(self._alias(c.layer, f) for f in c.fields) or _tr("retired or in use"),
                     local_time(c.detected_at), c.detected_by)
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.UserRole, c.id)
                if col == 2:
                    item.setToolTip(c.uuid)
                self.list.setItem(row, col, item)
        ids = [c.id for c in self.conflicts]
        if ids:
            self.list.selectRow(ids.index(select) if select in ids else 0)
        self._show_selected()
        if failed is not None:
            self._say(_tr("Cannot read the merge conflicts: {0}").format(failed), error=failed)

    def _alias(self, layer: str, field: str) -> str:
        if field == "geometry":
            return _tr("Geometry")
        ldef = self.defs.get(layer)
        return ldef.field(field).alias(self.lang) if ldef is not None and ldef.has_field(field) else field

    def selected(self):
        """The conflict selected in the list (None when the list is empty)."""
        rows = self.list.selectionModel().selectedRows()
        return self.conflicts[rows[0].row()] if rows and rows[0].row() < len(self.conflicts) else None

    def select(self, conflict_id: int) -> None:
        ids = [c.id for c in self.conflicts]
        self.list.selectRow(ids.index(conflict_id))

    def _show_selected(self) -> None:
        c = self.selected()
        self._say("")
        self.choosers = {}
        self.fields.setRowCount(0)
        for b in (self.keep_ours, self.keep_theirs, self.use_chosen):
            b.setEnabled(c is not None)
        if c is None:
            self.detail.setText(_tr("No open merge conflicts.") if not self.conflicts else "")
            return
        now = self.now.get(c.id)
        self.detail.setText(_tr("#{id} {kind} · feature {uuid} · now version {version} · theirs from {source}").format(
            id=c.id, kind=kind_text(c.kind), uuid=c.uuid, version=now.version if now is not None else "?",
            source=c.theirs_from or "?"))
        ldef = self.defs.get(c.layer)
        rows = list(c.values().items())
        if not c.fields:  # edit/retire: the only question is retired or in use
            retired = [(s or {}).get("properties", {}).get("retired_at") for s in (c.base, c.ours, c.theirs)]
            rows = [("retired_at", tuple(retired))]
        self.fields.setRowCount(len(rows))
        for row, (f, (base, ours, theirs)) in enumerate(rows):
            current = None if now is None else (now.properties.get(f) if f != "geometry" else "now")
            label = _tr("Retired") if f == "retired_at" else self._alias(c.layer, f)
            for col, value in enumerate((base, ours, theirs, current), start=1):
                text = local_time(value) if f == "retired_at" else shown(ldef, f, value, self.lang)
                self.fields.setItem(row, col, QTableWidgetItem(text))
            head = QTableWidgetItem(label)
            head.setToolTip(f)
            self.fields.setItem(row, 0, head)
            if f != "retired_at":
                self.fields.setCellWidget(row, 5, self._chooser(c, ldef, f, theirs, current))
        self.use_chosen.setEnabled(bool(c.fields))

    def _chooser(self, c, ldef, field: str, theirs: Any, current: Any) -> QComboBox:
        """The value to write for ``field``: ours as it stands, theirs, one of the field's allowed values, or
        (for a field that is not a geometry) one typed in, which the registry checks against the field's rules."""
        box = QComboBox()
        box.setObjectName(f"choose_{field}")
        choices: list = [(_tr("Ours: {0}").format(shown(ldef, field, current, self.lang)), _OURS),
                         (_tr("Theirs: {0}").format(shown(ldef, field, theirs, self.lang)),
                          _wkt(theirs) if field == "geometry" else theirs)]
        f = ldef.field(field) if ldef is not None and ldef.has_field(field) else None
        if f is not None and f.values and f.type != "codes":
            choices += [(v.label(self.lang), v.code) for v in f.values]
        for text, _ in choices:
            box.addItem(text)
        box.setEditable(field != "geometry")
        box.setCurrentIndex(0)
        box.currentTextChanged.connect(lambda text: self._say(""))  # a message about an earlier choice is stale
        self.choosers[field] = (box, choices)
        return box

    def chosen_values(self) -> dict[str, Any]:
        """The values chosen for the fields not left at ours (a typed value as typed: the registry reads it)."""
        out: dict[str, Any] = {}
        for field, (box, choices) in self.choosers.items():
            i, text = box.currentIndex(), box.currentText()
            if 0 <= i < len(choices) and box.itemText(i) == text:
                value = choices[i][1]
            else:
                value = text
            if value is not _OURS:
                out[field] = value
        return out

    # -- writing ---------------------------------------------------------------------
    def resolve(self, keep: str, *, chosen: bool = False):
        """Resolve the selected conflict (``keep`` ours or theirs, with the chosen values when ``chosen``) through
        the registry; returns (conflict as resolved, feature as written), or None when the registry refused."""
        c = self.selected()
        if c is None:
            return None
        values = self.chosen_values() if chosen else {}
        now = self.now.get(c.id)
        try:
            with Registry.open(self.location) as reg:
                done, feat = reg.resolve_conflict(c.id, keep=keep, values=values, author=self.author(),
                                                  expected_version=now.version if now is not None else None)
        except (RallypointError, ValueError, OSError) as exc:  # stale, already resolved, a value refused
            self._say(_tr("Conflict #{0} not resolved: {1}").format(c.id, exc), error=exc)
            return None
        how = done.resolution or {}
        self.on_resolved(self.location)
        self.refresh()
        kept = _tr("ours") if how.get("keep") == "ours" else _tr("theirs")
        self._say(_tr("Conflict #{0} resolved by {1}: kept {2}{3}; {4} is now version {5}").format(
            c.id, how.get("by", ""), kept,
            (_tr(", set {0}").format("、".join(self._alias(c.layer, f) for f in how.get("set") or {}))
             if how.get("set") else ""), c.name or c.uuid, feat.version if feat is not None else "?"))
        return done, feat

    def _say(self, text: str, *, error: Exception | None = None) -> None:
        self.last_error = error
        self.message.setStyleSheet("color: #b00020;" if error is not None else "color: #1b5e20;")
        self.message.setText(text)
