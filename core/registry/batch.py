"""A batch: one transaction of checked, stamped changes with their history (see :mod:`rallypoint.registry`)."""

from __future__ import annotations

import uuid as uuidlib
from datetime import datetime
from typing import Any, Callable, Iterable, Mapping

from .. import geometry as geo
from ..errors import ConflictError, FeatureNotFoundError, Problem, RallypointError
from ..geometry_engine import engine
from ..schema import LayerDef
from ..storage.base import HistoryEntry, Store, quote
from ..validation import Checked, _is_blank, check_feature, format_datetime
from .reads import Reads
from .types import Feature, geometry_of_state, state_of


#: the plugins' checks of one feature and of its change: (layer, properties, geometry, old=…, at=…) -> problems
Checks = Callable[..., "list[tuple[str | None, str]]"]  # quoted: Python 3.9 (QGIS on Windows) has no X | None
#: the same for many features: (layer, properties, geometries, old=…, at=…) -> {index: problems}
ChecksMany = Callable[..., "dict[int, list[tuple[str | None, str]]]"]


class Batch:
    """One transaction of changes by one author. Use :meth:`Registry.batch`.

    A batch is handed what it needs — the registry's reads (:class:`~.reads.Reads`), its store, the
    plugins' checks, the time it is stamped with and the position rules (:mod:`rallypoint.positions`) —
    and never calls back into the registry.
    """

    def __init__(self, reads: Reads, store: Store, checks: Checks, author: str, note: str | None, now: datetime,
                 rules: Mapping[str, Any] | None = None, checks_many: ChecksMany | None = None):
        self._reads = reads
        self._rules = dict(rules or {})  # positions: the extent, and the division boundaries read once per batch
        self._store = store
        self._checks = checks
        self._checks_many = checks_many
        self.author = author
        self.note = note
        self.now = format_datetime(now)
        self.problems: list[Problem] = []
        self.touched: dict[str, list[float]] = {}
        self._new = 0

    def layer(self, name: str) -> LayerDef:
        """The layer as the registry holds it."""
        return self._reads.layer(name)

    # -- helpers -----------------------------------------------------------------
    def _label_new(self, props: Mapping[str, Any]) -> str:
        self._new += 1
        name = props.get("name") or props.get("item")
        return f"new feature #{self._new}" + (f" ({name!r})" if name else "")

    def _problems(self, layer: LayerDef, label: str, found: list[tuple[str | None, str]]) -> bool:
        for fld, msg in found:
            self.problems.append(Problem(layer.name, label, fld, msg))
        return bool(found)

    def _unheld(self, layer: LayerDef, label: str, props: dict[str, Any]) -> bool:
        """Whether the write is refused for what the registry does not hold (see :meth:`Reads.absent_fields`):
        a layer whose table lacks a required column, or a value for a field without a column. A blank value
        for such a field is dropped (a form or a GeoJSON sent back may carry it empty)."""
        missing = self._reads.not_writable(layer.name)
        if missing:
            return self._problems(layer, label, [(None, f"this registry's {layer.name} table has no column for "
                                                        f"{', '.join(missing)}: its features can be read here, "
                                                        "not written")])
        found = []
        for name in [k for k in props if k in self._reads.absent_fields(layer.name)]:
            if not _is_blank(props.pop(name)):
                found.append((name, "is not held in this registry: its table has no such column (a file exported "
                                    "without it); leave the field out"))
        return self._problems(layer, label, found)

    def _reference_exists(self, layer_name: str, uuid: str) -> bool:
        row = self._store.execute(
            f"SELECT 1 FROM {quote(layer_name)} WHERE uuid = ? AND retired_at IS NULL", (uuid,)).fetchone()
        return row is not None

    def _geometry_in(self, layer: LayerDef, geometry: Any, crs: Any) -> tuple[Any, str | None]:
        if geometry is None:
            return None, None
        try:
            g = geo.from_user(geometry)
        except Exception as exc:  # the engine/json raise many kinds; the message is what matters
            return None, f"cannot read the geometry: {exc}"
        if not layer.has_geometry:
            return g, None
        try:
            return geo.to_storage(g, crs), None
        except RallypointError as exc:
            return None, str(exc)
        except Exception as exc:
            return None, f"cannot reproject the geometry from {crs}: {exc}"

    def _track(self, layer: LayerDef, geom: Any) -> None:
        ext = self.touched.setdefault(layer.name, [])
        if geom is not None:
            b = geo.bounds(geom)
            if not ext:
                ext.extend(b)
            else:
                ext[:] = [min(ext[0], b[0]), min(ext[1], b[1]), max(ext[2], b[2]), max(ext[3], b[3])]

    def _history(self, uuid: str, version: int, op: str, before: dict | None, after: dict | None,
                 note: str | None) -> HistoryEntry:
        return HistoryEntry(uuid, version, op, self.author, self.now, before, after, note or self.note)

    # -- operations --------------------------------------------------------------
    def add(self, layer_name: str, properties: Mapping[str, Any], geometry: Any = None, *,
            crs: Any = None) -> str | None:
        """Add a feature; returns its UUID (``None`` if it was refused: see :attr:`problems`)."""
        layer = self._reads.layer(layer_name)
        props = dict(properties)
        label = f"feature {props['uuid']}" if props.get("uuid") else self._label_new(props)
        if self._unheld(layer, label, props):
            return None
        geom, why = self._geometry_in(layer, geometry, crs)
        checked, found = self._check_new(layer, props, geom, why)
        if not found:
            found = self._checks(layer, checked.properties, checked.geometry, old=None, at=self.now)
        if self._problems(layer, label, found):
            return None
        out = checked.properties
        uid = out.get("uuid") or str(uuidlib.uuid4())
        out["uuid"] = uid
        if not layer.versioned:
            out.pop("uuid")
            fid = self._store.insert(layer, out, checked.geometry, None)
            self._track(layer, checked.geometry)
            return str(fid)
        out.update(version=1, created_at=self.now, created_by=self.author, updated_at=self.now,
                   updated_by=self.author, retired_at=None)
        row = {f.name: out.get(f.name) for f in layer.fields}
        used = []
        self._store.insert(layer, row, checked.geometry,
                           self._history(uid, 1, "insert", None, state_of(row, checked.geometry), None),
                           on_duplicate=lambda: used.append(
                               self._problems(layer, label, [("uuid", f"UUID {uid} is already used in {layer.name}")])))
        if used:
            return None
        self._track(layer, checked.geometry)
        return uid

    def _check_new(self, layer: LayerDef, props: dict[str, Any], geom: Any,
                   why: str | None) -> tuple[Checked, list[tuple[str | None, str]]]:
        """A new feature against its definition, references and positions (``why``: its geometry could not be
        read or reprojected); the plugins' checks are the caller's."""
        checked = check_feature(layer, props, geom if why is None else None, allow_uuid=True,
                                reference_exists=self._reference_exists, **self._rules)
        found = checked.problems
        if why:
            found = [p for p in found if p[0] is not None] + [(None, why)]
        return checked, found

    def add_many(self, layer_name: str, features: Iterable[tuple[Mapping[str, Any], Any]], *, crs: Any = None,
                 progress: Callable[[int], None] | None = None) -> list[str | None]:
        """Add many features: what :meth:`add` does to each, checked a column at a time and written in bulk
        (:mod:`.bulk`); the UUIDs in order (``None`` for those refused: see :attr:`problems`).

        A base layer (no history to write in bulk), a layer referring to itself (each feature must be written
        before the next is checked), another geometry engine than shapely (QGIS's, which has no vectorised
        form, nor numpy beside it) and a table lacking some of the layer's columns (an export without personal
        fields: see :meth:`_unheld`) take one :meth:`add` per feature."""
        layer = self._reads.layer(layer_name)
        if not layer.versioned or any(f.references == layer.name for f in layer.fields) or \
                engine().name != "shapely" or self._reads.absent_fields(layer.name) or \
                self._reads.not_writable(layer.name):
            uids = []
            for i, (props, geom) in enumerate(features, start=1):
                uids.append(self.add(layer.name, props, geom, crs=crs))
                if progress is not None:
                    progress(i)
            return uids
        from .bulk import add_many

        return add_many(self, layer, features, crs=crs, progress=progress)

    def _current(self, layer: LayerDef, uuid: str, expected_version: int | None) -> Feature:
        feat = self._reads.read_one(layer, uuid, lock=True)
        if feat is None:
            raise FeatureNotFoundError(f"{layer.name}: no feature with UUID {uuid}")
        if expected_version is not None and feat.version != expected_version:
            raise ConflictError(
                f"{layer.name} {uuid}: changed since version {expected_version} (now version {feat.version})",
                current_version=feat.version)
        return feat

    def _write_version(self, layer: LayerDef, current: Feature, props: dict[str, Any],
                       geom: Any, op: str, note: str | None) -> Feature:
        row = dict(current.properties)
        row.update(props)
        row.update(version=current.version + 1, updated_at=self.now, updated_by=self.author)
        self._store.update(layer, current.fid, row, geom,
                           self._history(current.uuid, row["version"], op,
                                         state_of(current.properties, current.geometry), state_of(row, geom), note))
        self._track(layer, geom)
        return Feature(layer.name, row, geom, current.fid)

    def _recheck(self, layer: LayerDef, label: str, editable: dict[str, Any], geom: Any,
                 given: set[str], current: Feature) -> tuple[dict[str, Any], Any] | None:
        # Derived fields the caller did not give are recomputed from the new values.
        for f in layer.fields:
            if f.derived and f.name not in given:
                editable.pop(f.name, None)
        checked = check_feature(layer, editable, geom, reference_exists=self._reference_exists, **self._rules)
        old = {f.name: current.properties.get(f.name) for f in layer.editable_fields}
        found = checked.problems or self._checks(layer, checked.properties, checked.geometry,
                                                             old=old, at=self.now)
        if self._problems(layer, label, found):
            return None
        return checked.properties, checked.geometry

    def update(self, layer_name: str, uuid: str, changes: Mapping[str, Any] | None = None,
               geometry: Any = None, *, crs: Any = None, expected_version: int | None = None,
               note: str | None = None) -> Feature | None:
        """Change fields and/or the geometry of a feature in use; ``expected_version`` guards against stale writes."""
        layer = self._reads.layer(layer_name)
        changes = dict(changes or {})
        current = self._current(layer, uuid, expected_version)
        label = f"feature {uuid}"
        if current.retired:
            self._problems(layer, label, [(None, "is retired; restore it before changing it")])
            return None
        if "uuid" in changes:
            self._problems(layer, label, [("uuid", "a feature's UUID never changes")])
            return None
        if self._unheld(layer, label, changes):
            return None
        bad = [k for k in changes if layer.has_field(k) and layer.field(k).system]
        if bad:
            self._problems(layer, label, [(k, "is set by the registry and cannot be given") for k in bad])
            return None
        result = self._changed(layer, label, current, changes, geometry, crs)
        if result is None:
            return None
        props, geom = result
        return self._write_version(layer, current, props, geom, "update", note)

    def _changed(self, layer: LayerDef, label: str, current: Feature, changes: dict[str, Any], geometry: Any,
                 crs: Any) -> tuple[dict[str, Any], Any] | None:
        """The state ``changes`` and ``geometry`` make of ``current``, checked whole (None: refused)."""
        geom = current.geometry
        if geometry is not None:
            geom, why = self._geometry_in(layer, geometry, crs)
            if why:
                self._problems(layer, label, [(None, why)])
                return None
        editable = {f.name: current.properties.get(f.name) for f in layer.editable_fields}
        editable.update(changes)
        return self._recheck(layer, label, editable, geom, set(changes), current)

    def settle(self, layer_name: str, uuid: str, changes: Mapping[str, Any] | None = None, geometry: Any = None, *,
               retired: bool | None = None, expected_version: int | None = None,
               note: str | None = None) -> Feature | None:
        """Write the state a merge conflict was settled on as **one** new version (op ``resolve``): the fields
        ``changes`` and the geometry (checked as any change), retired or in use as ``retired`` says (None: as it
        is). Written even when nothing differs, so the history says who settled the conflict, and when."""
        layer = self._reads.layer(layer_name)
        changes = dict(changes or {})
        current = self._current(layer, uuid, expected_version)
        label = f"feature {uuid}"
        if self._unheld(layer, label, changes):
            return None
        bad = [k for k in changes if not layer.has_field(k) or layer.field(k).system]
        if bad:
            self._problems(layer, label, [(k, "is not a field that can be given") for k in bad])
            return None
        result = self._changed(layer, label, current, changes, geometry, None)
        if result is None:
            return None
        props, geom = result
        was = current.properties.get("retired_at")
        props["retired_at"] = (was or self.now) if (current.retired if retired is None else retired) else None
        return self._write_version(layer, current, props, geom, "resolve", note)

    def retire(self, layer_name: str, uuid: str, *, expected_version: int | None = None,
               reason: str | None = None) -> Feature | None:
        """Retire (soft-delete) a feature: it leaves the lists but stays in the file and its history."""
        layer = self._reads.layer(layer_name)
        current = self._current(layer, uuid, expected_version)
        if self._unheld(layer, f"feature {uuid}", {}):
            return None
        if current.retired:
            self._problems(layer, f"feature {uuid}", [(None, f"was already retired at {current.properties['retired_at']}")])
            return None
        return self._write_version(layer, current, {"retired_at": self.now}, current.geometry, "retire", reason)

    def restore(self, layer_name: str, uuid: str, version: int | None = None, *,
                expected_version: int | None = None, note: str | None = None) -> Feature | None:
        """Bring a feature back: to its state before retirement, or to an earlier ``version``.

        The restored state is written as a new version (history is never rewritten) and is
        checked against today's definitions like any other write.
        """
        layer = self._reads.layer(layer_name)
        current = self._current(layer, uuid, expected_version)
        label = f"feature {uuid}"
        if self._unheld(layer, label, {}):
            return None
        if version is None:
            if not current.retired:
                self._problems(layer, label, [(None, "is in use; give a version to go back to")])
                return None
            state = state_of(current.properties, current.geometry)
        else:
            if version >= current.version or version < 1:
                self._problems(layer, label, [(None, f"version {version} is not an earlier version "
                                                     f"(current is {current.version})")])
                return None
            state = self._reads.state_at(layer.name, uuid, version)
            if state is None:
                raise FeatureNotFoundError(f"{layer.name} {uuid}: no version {version} in the history")
        old_props = state["properties"]
        editable = {f.name: old_props.get(f.name) for f in layer.editable_fields}
        result = self._recheck(layer, label, editable, geometry_of_state(state), set(editable), current)
        if result is None:
            return None
        props, geom = result
        props["retired_at"] = None
        what = f"restored version {version}" if version else "restored from retirement"
        return self._write_version(layer, current, props, geom, "restore", note or what)
