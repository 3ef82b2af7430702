"""Saving QGIS edits through the registry: validated, stamped, with history.

QGIS would write a layer's edit buffer straight into the GeoPackage through OGR, past the
registry's checks and history. :class:`EditGuard` takes the save over: when QGIS is about
to commit (``beforeCommitChanges``), the guard reads the buffer, turns it into plain
values and hands it to :func:`rallypoint.edits.apply_edits` (one registry batch). The
buffer is then emptied, so QGIS's own commit writes nothing. On success the layer is
reloaded from the file (new UUIDs, versions and stamps appear); when the registry refuses
the edits (a :class:`ValidationError` or a :class:`ConflictError`) nothing is written, a
message names the feature and field, and the edits are put back into the buffer for the
user to fix. QGIS 3.22's Python API cannot veto a commit (``setAllowCommit`` is not
exposed), hence the put-back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from qgis.core import QgsFeatureRequest, QgsGeometry, QgsVectorLayer
from qgis.PyQt.QtCore import QCoreApplication, QDate, QDateTime, Qt, QTime, QTimer, QVariant

from rallypoint import ConflictError, Registry, ValidationError
from rallypoint.edits import ChangedFeature, LayerEdits, apply_edits


def _tr(text: str) -> str:
    return QCoreApplication.translate("Rallypoint", text)  # the plugin's one context (plugin.CONTEXT)


def python_value(value: Any) -> Any:
    """A Qt/QGIS attribute value as a plain Python value (NULL → None, dates as ISO text)."""
    if value is None:
        return None
    if isinstance(value, QVariant):
        return None if value.isNull() else python_value(value.value())
    if isinstance(value, QDateTime):
        return None if value.isNull() else value.toString(Qt.ISODate)
    if isinstance(value, QDate):
        return None if value.isNull() else value.toString(Qt.ISODate)
    if isinstance(value, QTime):
        return None if value.isNull() else value.toString(Qt.ISODate)
    return value


def _wkb(geometry: QgsGeometry) -> bytes | None:
    """The geometry as WKB: exact, and read by either geometry engine of the core."""
    return None if geometry is None or geometry.isNull() else bytes(geometry.asWkb())


@dataclass
class _Stash:
    """A copy of a refused edit buffer, to put back after QGIS's (empty) commit."""

    added: list = field(default_factory=list)
    attributes: dict = field(default_factory=dict)
    geometries: dict = field(default_factory=dict)
    deleted: list = field(default_factory=list)


class EditGuard:
    """Routes the saving of one registry layer through the registry.

    ``author`` gives the name written into the history; ``notify(level, text)`` shows a
    message (the message bar in QGIS). :attr:`last_error` holds the last refusal.
    """

    def __init__(self, layer: QgsVectorLayer, registry_path: str, layer_name: str, *,
                 author: Callable[[], str], notify: Callable[[str, str], None] | None = None):
        self.layer = layer
        self.path = str(registry_path)
        self.name = layer_name
        self.author = author
        self.notify = notify or (lambda level, text: None)
        self.last_error: Exception | None = None
        self.last_result = None
        self._stash: _Stash | None = None
        self._saved = False
        self._seen: dict[int, tuple[str, int | None]] = {}
        layer.editingStarted.connect(self._remember_versions)
        layer.beforeCommitChanges.connect(self._before_commit)
        layer.afterCommitChanges.connect(self._after_commit)
        if layer.isEditable():
            self._remember_versions()

    def disconnect(self) -> None:
        try:
            pairs = ((self.layer.editingStarted, self._remember_versions),
                     (self.layer.beforeCommitChanges, self._before_commit),
                     (self.layer.afterCommitChanges, self._after_commit))
        except RuntimeError:  # the layer is gone, and its connections with it
            return
        for signal, slot in pairs:
            try:
                signal.disconnect(slot)
            except (TypeError, RuntimeError):  # already disconnected
                pass

    # -- the buffer as plain values ----------------------------------------------
    def pending_edits(self) -> LayerEdits:
        """The layer's edit buffer as :class:`LayerEdits` (stored values read from the provider)."""
        buf = self.layer.editBuffer()
        fields = self.layer.fields()
        edits = LayerEdits(self.name)
        for feat in buf.addedFeatures().values():
            props = {fields.at(i).name(): python_value(v) for i, v in enumerate(feat.attributes())}
            edits.added.append((props, _wkb(feat.geometry()) if feat.hasGeometry() else None))
        deleted = set(buf.deletedFeatureIds())
        changed_attrs = buf.changedAttributeValues()
        changed_geoms = buf.changedGeometries()
        stored_ids = [fid for fid in set(changed_attrs) | set(changed_geoms) | deleted if fid >= 0]
        stored = self._stored(stored_ids)
        for fid in sorted(set(changed_attrs) | set(changed_geoms)):
            if fid < 0 or fid in deleted:
                continue  # a new feature's later edits are already in addedFeatures()
            uuid, version = stored[fid]
            changes = {fields.at(i).name(): python_value(v) for i, v in changed_attrs.get(fid, {}).items()}
            geom = _wkb(changed_geoms[fid]) if fid in changed_geoms else None
            edits.changed.append(ChangedFeature(uuid, version, changes, geom))
        for fid in sorted(deleted):
            if fid >= 0:
                edits.deleted.append(stored[fid])
        return edits

    def _remember_versions(self) -> None:
        """The version of every feature as the user sees it when editing starts: a save
        is checked against these (``expected_version``), so a feature someone else changed
        in the meantime is a conflict, not silently overwritten."""
        self._seen = self._stored(None)

    def _stored(self, fids: list[int] | None) -> dict[int, tuple[str, int | None]]:
        if fids is not None:
            known = {fid: self._seen[fid] for fid in fids if fid in self._seen}
            missing = [fid for fid in fids if fid not in known]
            return {**known, **self._read_stored(missing)} if missing else known
        return self._read_stored(None)

    def _read_stored(self, fids: list[int] | None) -> dict[int, tuple[str, int | None]]:
        if fids is not None and not fids:
            return {}
        request = QgsFeatureRequest().setFlags(QgsFeatureRequest.NoGeometry)
        if fids is not None:
            request.setFilterFids(fids)
        request.setSubsetOfAttributes(["uuid", "version"], self.layer.fields())
        out = {}
        for f in self.layer.dataProvider().getFeatures(request):
            out[f.id()] = (python_value(f["uuid"]), python_value(f["version"]))
        return out

    def _stash_buffer(self) -> _Stash:
        buf = self.layer.editBuffer()
        return _Stash(
            added=[feat for feat in buf.addedFeatures().values()],
            attributes={fid: dict(v) for fid, v in buf.changedAttributeValues().items() if fid >= 0},
            geometries={fid: QgsGeometry(g) for fid, g in buf.changedGeometries().items() if fid >= 0},
            deleted=[fid for fid in buf.deletedFeatureIds() if fid >= 0],
        )

    # -- the commit ----------------------------------------------------------------
    def _before_commit(self, *args) -> None:
        buf = self.layer.editBuffer()
        if buf is None or not buf.isModified():
            return
        self.last_error = None
        self._stash = self._stash_buffer()
        try:
            edits = self.pending_edits()
            with Registry.open(self.path) as reg:
                self.last_result = apply_edits(reg, [edits], author=self.author())
        except (ValidationError, ConflictError) as exc:
            self.last_error = exc
            self.notify("critical", f"{self.layer.name()}: {exc}")
        except Exception as exc:  # a broken file, a locked database: still nothing may reach the file
            self.last_error = exc
            self.notify("critical", _tr("{layer}: could not save: {error}").format(layer=self.layer.name(), error=exc))
        else:
            self._stash = None
            self._saved = True
            res = self.last_result
            self.notify("success", _tr("{layer}: saved {new} new, {changed} changed, {retired} retired").format(
                layer=self.layer.name(), new=len(res.added.get(self.name, [])), changed=res.updated,
                retired=res.retired))
        # QGIS's own commit must write nothing: the registry did the writing, or refused it.
        buf.rollBack()

    def _after_commit(self) -> None:
        if self._saved:
            self._saved = False
            self.layer.dataProvider().reloadData()
            self.layer.triggerRepaint()
            if self.layer.isEditable():  # saved without leaving edit mode: new versions are the base now
                self._remember_versions()
        if self._stash is not None:
            # QGIS finishes its commit (and may stop editing) after this signal: put the edits back then.
            QTimer.singleShot(0, self._restore)

    def _restore(self) -> None:
        stash, self._stash = self._stash, None
        if stash is None:
            return
        lyr = self.layer
        if not lyr.isEditable():
            seen = self._seen  # the versions the refused edits started from, not today's
            lyr.startEditing()
            self._seen = seen
        lyr.beginEditCommand("Rallypoint: edits refused by the registry")
        for fid in stash.deleted:
            lyr.deleteFeature(fid)
        for fid, values in stash.attributes.items():
            lyr.changeAttributeValues(fid, values)
        for fid, geom in stash.geometries.items():
            lyr.changeGeometry(fid, geom)
        lyr.addFeatures(stash.added)
        lyr.endEditCommand()
