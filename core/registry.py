"""The registry: create, read, update, retire, restore and history of resources.

Every write goes through a :class:`Batch`, one database transaction: the features are
checked against their layer definitions, stamped (version, time, author) and written
together with one history row each. A batch with any bad feature writes nothing and its
:class:`~rallypoint.errors.ValidationError` lists every problem by layer, feature and
field. A killed process leaves the batch wholly there or not at all.

The registry is a GeoPackage file or a PostGIS database (``postgresql://`` URL); the rules
here are the same for both, the SQL of each is in its store (:mod:`rallypoint.store`). On
PostGIS the database's triggers write the stamps and history rows, with the same values.

>>> reg = Registry.create(path, name="示例县应急资源", bureau="示例县应急管理局")  # doctest: +SKIP
>>> f = reg.add("helipads", {...}, Point(104.06, 30.66), author="zhang")            # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import uuid as uuidlib
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

import shapely
from shapely.geometry.base import BaseGeometry

from . import geometry as geo
from .errors import (
    ConflictError,
    FeatureNotFoundError,
    Problem,
    RallypointError,
    RegistryFileError,
    UnknownLayerError,
    ValidationError,
)
from .gpkgfile import HISTORY_TABLE, SCHEMA_VERSION, RegistryInfo, create_file, quote
from .plugins import RallypointPluginManager, default_plugin_manager, layer_catalog
from .positions import extent_named, rules_for
from .schema import LayerDef, builtin_layers
from .store import HistoryEntry, Store, is_postgres_url
from .validation import check_feature, format_datetime

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Feature:
    """One feature as stored: all its fields (including the registry's stamps) and geometry."""

    layer: str
    properties: dict[str, Any]
    geometry: BaseGeometry | None = None
    fid: int | None = None

    @property
    def uuid(self) -> str | None:
        return self.properties.get("uuid")

    @property
    def version(self) -> int | None:
        return self.properties.get("version")

    @property
    def retired(self) -> bool:
        return bool(self.properties.get("retired_at"))

    def to_geojson(self, *, drop: Iterable[str] = ()) -> dict[str, Any]:
        """A GeoJSON Feature (``id`` is the UUID); ``drop`` leaves fields out (e.g. personal data)."""
        skip = set(drop)
        return {
            "type": "Feature",
            "id": self.uuid if self.uuid is not None else self.fid,
            "geometry": None if self.geometry is None else shapely.geometry.mapping(self.geometry),
            "properties": {k: v for k, v in self.properties.items() if k not in skip},
        }


@dataclass(frozen=True)
class Change:
    """One row of the history: who changed which feature, when, from what to what."""

    id: int
    layer: str
    uuid: str
    version: int
    op: str
    author: str
    at: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    note: str | None = None

    def changed_fields(self) -> dict[str, tuple[Any, Any]]:
        """Field → (before, after) for every field whose value differs (``geometry`` included)."""
        b = (self.before or {}).get("properties", {})
        a = (self.after or {}).get("properties", {})
        out = {k: (b.get(k), a.get(k)) for k in sorted(set(a) | set(b)) if b.get(k) != a.get(k)}
        bg, ag = (self.before or {}).get("geometry"), (self.after or {}).get("geometry")
        if bg != ag:
            out["geometry"] = (bg, ag)
        return out


_STAMPS = ("version", "created_at", "created_by", "updated_at", "updated_by", "retired_at")


def _state(props: Mapping[str, Any], geom: BaseGeometry | None) -> dict[str, Any]:
    """A feature's full state for the history: properties and geometry as exact hex WKB."""
    return {
        "properties": dict(props),
        "geometry": None if geom is None else shapely.to_wkb(geom, hex=True, byte_order=1, output_dimension=2),
    }


def _geom_from_state(state: Mapping[str, Any]) -> BaseGeometry | None:
    g = state.get("geometry")
    return None if g is None else shapely.from_wkb(g)


def adcode_prefix(code: str) -> str:
    """The prefix every division inside ``code`` shares (GB/T 2260: 510000 → 51, 510100 → 5101).

    >>> adcode_prefix("510100"), adcode_prefix("519910"), adcode_prefix("519901001")
    ('5101', '519910', '519901001')
    """
    if len(code) == 6:
        if code.endswith("0000"):
            return code[:2]
        if code.endswith("00"):
            return code[:4]
    return code


def _json(value: Any) -> Any:
    """A JSON column's value: text in a GeoPackage, already decoded (jsonb) from PostgreSQL."""
    if value is None or isinstance(value, (dict, list)):
        return value
    return json.loads(value)


class Batch:
    """One transaction of changes by one author. Use :meth:`Registry.batch`."""

    def __init__(self, registry: "Registry", author: str, note: str | None):
        self._reg = registry
        self._store: Store = registry._store
        self._conn = registry._conn
        self.author = author
        self.note = note
        self.now = format_datetime(registry._clock())
        self.problems: list[Problem] = []
        self.touched: dict[str, list[float]] = {}
        self._new = 0
        self._rules = rules_for(registry)  # China's extent, and the division boundaries read once per batch

    # -- helpers -----------------------------------------------------------------
    def _label_new(self, props: Mapping[str, Any]) -> str:
        self._new += 1
        name = props.get("name") or props.get("item")
        return f"new feature #{self._new}" + (f" ({name!r})" if name else "")

    def _problems(self, layer: LayerDef, label: str, found: list[tuple[str | None, str]]) -> bool:
        for fld, msg in found:
            self.problems.append(Problem(layer.name, label, fld, msg))
        return bool(found)

    def _reference_exists(self, layer_name: str, uuid: str) -> bool:
        row = self._store.execute(
            f"SELECT 1 FROM {quote(layer_name)} WHERE uuid = ? AND retired_at IS NULL", (uuid,)).fetchone()
        return row is not None

    def _geometry_in(self, layer: LayerDef, geometry: Any, crs: Any) -> tuple[BaseGeometry | None, str | None]:
        if geometry is None:
            return None, None
        try:
            g = geo.from_user(geometry)
        except Exception as exc:  # shapely/json raise many kinds; the message is what matters
            return None, f"cannot read the geometry: {exc}"
        if not layer.has_geometry:
            return g, None
        try:
            return geo.to_storage(g, crs), None
        except RallypointError as exc:
            return None, str(exc)
        except Exception as exc:
            return None, f"cannot reproject the geometry from {crs}: {exc}"

    def _track(self, layer: LayerDef, geom: BaseGeometry | None) -> None:
        ext = self.touched.setdefault(layer.name, [])
        if geom is not None:
            b = geom.bounds
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
        layer = self._reg.layer(layer_name)
        props = dict(properties)
        label = f"feature {props['uuid']}" if props.get("uuid") else self._label_new(props)
        geom, why = self._geometry_in(layer, geometry, crs)
        checked = check_feature(layer, props, geom if why is None else None, allow_uuid=True,
                                reference_exists=self._reference_exists, **self._rules)
        found = checked.problems
        if why:
            found = [p for p in found if p[0] is not None] + [(None, why)]
        if not found:
            found = self._reg._plugin_checks(layer, checked.properties, checked.geometry, old=None, at=self.now)
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
                           self._history(uid, 1, "insert", None, _state(row, checked.geometry), None),
                           on_duplicate=lambda: used.append(
                               self._problems(layer, label, [("uuid", f"UUID {uid} is already used in {layer.name}")])))
        if used:
            return None
        self._track(layer, checked.geometry)
        return uid

    def _current(self, layer: LayerDef, uuid: str, expected_version: int | None) -> Feature:
        feat = self._reg._read_one(layer, uuid, lock=True)
        if feat is None:
            raise FeatureNotFoundError(f"{layer.name}: no feature with UUID {uuid}")
        if expected_version is not None and feat.version != expected_version:
            raise ConflictError(
                f"{layer.name} {uuid}: changed since version {expected_version} (now version {feat.version})",
                current_version=feat.version)
        return feat

    def _write_version(self, layer: LayerDef, current: Feature, props: dict[str, Any],
                       geom: BaseGeometry | None, op: str, note: str | None) -> Feature:
        row = dict(current.properties)
        row.update(props)
        row.update(version=current.version + 1, updated_at=self.now, updated_by=self.author)
        self._store.update(layer, current.fid, row, geom,
                           self._history(current.uuid, row["version"], op,
                                         _state(current.properties, current.geometry), _state(row, geom), note))
        self._track(layer, geom)
        return Feature(layer.name, row, geom, current.fid)

    def _recheck(self, layer: LayerDef, label: str, editable: dict[str, Any], geom: BaseGeometry | None,
                 given: set[str], current: Feature) -> tuple[dict[str, Any], BaseGeometry | None] | None:
        # Derived fields the caller did not give are recomputed from the new values.
        for f in layer.fields:
            if f.derived and f.name not in given:
                editable.pop(f.name, None)
        checked = check_feature(layer, editable, geom, reference_exists=self._reference_exists, **self._rules)
        old = {f.name: current.properties.get(f.name) for f in layer.editable_fields}
        found = checked.problems or self._reg._plugin_checks(layer, checked.properties, checked.geometry,
                                                             old=old, at=self.now)
        if self._problems(layer, label, found):
            return None
        return checked.properties, checked.geometry

    def update(self, layer_name: str, uuid: str, changes: Mapping[str, Any] | None = None,
               geometry: Any = None, *, crs: Any = None, expected_version: int | None = None,
               note: str | None = None) -> Feature | None:
        """Change fields and/or the geometry of a feature in use; ``expected_version`` guards against stale writes."""
        layer = self._reg.layer(layer_name)
        changes = dict(changes or {})
        current = self._current(layer, uuid, expected_version)
        label = f"feature {uuid}"
        if current.retired:
            self._problems(layer, label, [(None, "is retired; restore it before changing it")])
            return None
        if "uuid" in changes:
            self._problems(layer, label, [("uuid", "a feature's UUID never changes")])
            return None
        bad = [k for k in changes if layer.has_field(k) and layer.field(k).system]
        if bad:
            self._problems(layer, label, [(k, "is set by the registry and cannot be given") for k in bad])
            return None
        geom = current.geometry
        if geometry is not None:
            geom, why = self._geometry_in(layer, geometry, crs)
            if why:
                self._problems(layer, label, [(None, why)])
                return None
        editable = {f.name: current.properties.get(f.name) for f in layer.editable_fields}
        editable.update(changes)
        result = self._recheck(layer, label, editable, geom, set(changes), current)
        if result is None:
            return None
        props, geom = result
        return self._write_version(layer, current, props, geom, "update", note)

    def retire(self, layer_name: str, uuid: str, *, expected_version: int | None = None,
               reason: str | None = None) -> Feature | None:
        """Retire (soft-delete) a feature: it leaves the lists but stays in the file and its history."""
        layer = self._reg.layer(layer_name)
        current = self._current(layer, uuid, expected_version)
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
        layer = self._reg.layer(layer_name)
        current = self._current(layer, uuid, expected_version)
        label = f"feature {uuid}"
        if version is None:
            if not current.retired:
                self._problems(layer, label, [(None, "is in use; give a version to go back to")])
                return None
            state = _state(current.properties, current.geometry)
        else:
            if version >= current.version or version < 1:
                self._problems(layer, label, [(None, f"version {version} is not an earlier version "
                                                     f"(current is {current.version})")])
                return None
            state = self._reg._state_at(layer.name, uuid, version)
            if state is None:
                raise FeatureNotFoundError(f"{layer.name} {uuid}: no version {version} in the history")
        old_props = state["properties"]
        editable = {f.name: old_props.get(f.name) for f in layer.editable_fields}
        result = self._recheck(layer, label, editable, _geom_from_state(state), set(editable), current)
        if result is None:
            return None
        props, geom = result
        props["retired_at"] = None
        what = f"restored version {version}" if version else "restored from retirement"
        return self._write_version(layer, current, props, geom, "restore", note or what)


class Registry:
    """A Rallypoint registry: one GeoPackage file, or a PostgreSQL/PostGIS database given by URL.

    ``Registry.open("county.gpkg")`` or ``Registry.open("postgresql://editor@db.example/registry")``:
    the same API, rules, versions and history on both (see :mod:`rallypoint.store`).
    Open one per thread or task; a connection is never shared across threads.
    """

    def __init__(self, path: str | os.PathLike, *, clock: Clock | None = None, readonly: bool = False,
                 plugins: "RallypointPluginManager | None" = None):
        self.plugins = plugins or default_plugin_manager()
        self._store: Store
        if is_postgres_url(path):
            from .store_pg import PgStore

            self.url: str | None = str(path)
            self.path = None
            self._store = PgStore(self.url, readonly=readonly)
            where = self._store.label
        else:
            from .store_gpkg import GpkgStore

            self.url = None
            self.path = Path(path)
            self._store = GpkgStore(self.path, readonly=readonly)
            where = str(self.path)
        self._conn = self._store.conn
        self._clock = clock or _utc_now
        self.info: RegistryInfo = self._store.info
        if self.info.schema_version > SCHEMA_VERSION:
            self._store.close()
            raise RegistryFileError(f"{where}: registry schema {self.info.schema_version} is newer than this "
                                    f"Rallypoint understands ({SCHEMA_VERSION}); upgrade Rallypoint")
        tables = self._store.tables()
        self.layers: dict[str, LayerDef] = {n: d for n, d in layer_catalog(self.plugins).items() if n in tables}
        self._validators = self.plugins.hook.rallypoint_validate_feature
        self._change_validators = self.plugins.hook.rallypoint_validate_change

    # -- life cycle --------------------------------------------------------------
    @classmethod
    def create(cls, path: str | os.PathLike, *, name: str, bureau: str, adcode: str | None = None,
               language: str = "zh", overwrite: bool = False, clock: Clock | None = None,
               plugins: "RallypointPluginManager | None" = None, extent: str = "china") -> "Registry":
        """Create a new registry (a file, or the tables in a PostgreSQL database given by URL) with every
        built-in layer and those plugins add, and open it. ``extent="world"`` makes a registry for drills on
        foreign data, whose points need not lie in China (see :mod:`rallypoint.positions`)."""
        if language not in ("zh", "en"):
            raise ValueError(f"language must be 'zh' or 'en', not {language!r}")
        extent_named(extent)
        if not name or not bureau:
            raise ValueError("a registry needs a name and an owner bureau")
        if adcode is not None:
            from .validation import normalise_value, _Bad
            try:
                adcode = normalise_value(builtin_layers()["shelters"].field("adcode"), adcode)
            except _Bad as exc:
                raise ValidationError([Problem("registry", str(path), "adcode", str(exc))]) from None
        now = format_datetime((clock or _utc_now)())
        info = RegistryInfo(name=name, bureau=bureau, adcode=adcode, schema_version=SCHEMA_VERSION,
                            created_at=now, language=language, extent=extent)
        pm = plugins or default_plugin_manager()
        if is_postgres_url(path):
            from .store_pg import create_database_registry

            create_database_registry(str(path), list(layer_catalog(pm).values()), info, overwrite=overwrite)
        else:
            create_file(path, list(layer_catalog(pm).values()), info, overwrite=overwrite)
        return cls(path, clock=clock, plugins=pm)

    @classmethod
    def open(cls, path: str | os.PathLike, **kw: Any) -> "Registry":
        return cls(path, **kw)

    def close(self) -> None:
        self._store.close()

    @property
    def location(self) -> str:
        """Where the registry is, for messages and cache keys: the file's absolute path, or the database's
        URL without its password."""
        return self._store.label if self.url is not None else str(self.path.resolve())

    def reader(self) -> Store:
        """A read-only store of the same registry on a connection of its own (close it after use)."""
        if self.url is not None:
            from .store_pg import PgStore

            return PgStore(self.url, readonly=True)
        from .store_gpkg import GpkgStore

        return GpkgStore(self.path, readonly=True)

    def __enter__(self) -> "Registry":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def now(self) -> datetime:
        """The registry's clock (UTC): the time its next batch is stamped with, give or take the call."""
        return self._clock()

    # -- layers ------------------------------------------------------------------
    def layer(self, name: str) -> LayerDef:
        try:
            return self.layers[name]
        except KeyError:
            raise UnknownLayerError(f"no layer {name!r} in this registry (layers: {', '.join(self.layers)})") from None

    def _plugin_checks(self, layer: LayerDef, properties: dict[str, Any], geometry: BaseGeometry | None, *,
                       old: dict[str, Any] | None, at: str) -> list[tuple[str | None, str]]:
        """The plugins' checks of one feature (``rallypoint_validate_feature``), then, if they pass, of the
        change from its stored version ``old`` (``rallypoint_validate_change``; ``old`` is None when new)."""
        found: list[tuple[str | None, str]] = []
        if self._validators.get_hookimpls():
            for result in self._validators(layer=layer, properties=dict(properties), geometry=geometry):
                found.extend(result or [])
        if not found and self._change_validators.get_hookimpls():
            for result in self._change_validators(layer=layer, old=None if old is None else dict(old),
                                                  new=dict(properties), at=at):
                found.extend(result or [])
        return found

    def add_layers(self, names: Iterable[str]) -> list[str]:
        """Add layer types that plugins define, and this older registry lacks, to the file (tables
        without geometry only); returns those added. One transaction: all of them are added, or none."""
        catalog = layer_catalog(self.plugins)
        names = list(names)
        unknown = [n for n in names if n not in catalog]
        if unknown:
            raise UnknownLayerError(f"no layer type {', '.join(map(repr, unknown))} is defined "
                                    f"(defined: {', '.join(catalog)})")
        new = [catalog[n] for n in dict.fromkeys(names) if n not in self.layers]
        if new:
            self._store.add_layers(new, self.info.language, format_datetime(self._clock()))
            self.layers.update({d.name: d for d in new})
        return [d.name for d in new]

    # -- writing -----------------------------------------------------------------
    @contextmanager
    def batch(self, *, author: str, note: str | None = None) -> Iterator[Batch]:
        """A transaction: every change in it is written, or (on any problem or error) none is."""
        if not author or not str(author).strip():
            raise ValueError("every change needs an author")
        self._store.begin()
        try:
            # stamped after the write lock is taken, so times follow the order of the writes
            b = Batch(self, str(author).strip(), note)
            self._store.stamp(b.author, b.now)
            yield b
            self._store.flush()
            if b.problems:
                raise ValidationError(b.problems)
            self._store.commit(b.touched, b.now)
        except BaseException:
            self._store.rollback()
            raise

    def add(self, layer: str, properties: Mapping[str, Any], geometry: Any = None, *, author: str,
            crs: Any = None, note: str | None = None) -> Feature:
        """Add one feature; returns it as stored. Raises ValidationError and writes nothing if it is bad."""
        with self.batch(author=author, note=note) as b:
            uid = b.add(layer, properties, geometry, crs=crs)
        return self.get(layer, uid)

    def add_many(self, layer: str, features: Iterable[tuple[Mapping[str, Any], Any]], *, author: str,
                 crs: Any = None, note: str | None = None,
                 progress: Callable[[int], None] | None = None) -> list[str]:
        """Add many ``(properties, geometry)`` features in one transaction: all or none."""
        uids: list[str] = []
        with self.batch(author=author, note=note) as b:
            for i, (props, geom) in enumerate(features, start=1):
                uids.append(b.add(layer, props, geom, crs=crs))
                if progress is not None:
                    progress(i)
        return uids

    def update(self, layer: str, uuid: str, changes: Mapping[str, Any] | None = None, geometry: Any = None, *,
               author: str, crs: Any = None, expected_version: int | None = None,
               note: str | None = None) -> Feature:
        with self.batch(author=author) as b:
            feat = b.update(layer, uuid, changes, geometry, crs=crs, expected_version=expected_version, note=note)
        return feat

    def retire(self, layer: str, uuid: str, *, author: str, reason: str | None = None,
               expected_version: int | None = None) -> Feature:
        with self.batch(author=author) as b:
            feat = b.retire(layer, uuid, expected_version=expected_version, reason=reason)
        return feat

    def restore(self, layer: str, uuid: str, version: int | None = None, *, author: str,
                expected_version: int | None = None, note: str | None = None) -> Feature:
        with self.batch(author=author) as b:
            feat = b.restore(layer, uuid, version, expected_version=expected_version, note=note)
        return feat

    def load_reference(self, layer: str, data, *, author: str, replace: bool = True,
                       note: str | None = None) -> int:
        """Load a whole reference layer (areas, population, roads) from a GeoDataFrame; all or nothing."""
        if not author or not str(author).strip():
            raise ValueError("every change needs an author")
        now = format_datetime(self._clock())
        return self._store.load_reference(self.layer(layer), data, author=str(author).strip(), now=now,
                                          replace=replace, note=note)

    # -- reading -----------------------------------------------------------------
    def _select_list(self, layer: LayerDef, names: Iterable[str] | None = None) -> str:
        """fid, the geometry (as the store decodes it) and the fields ``names`` (default: all), for a SELECT."""
        cols = ["fid"] + ([self._store.geom_select] if layer.has_geometry else [])
        return ", ".join(cols + [quote(c) for c in (layer.field_names if names is None else names)])

    def _row_to_feature(self, layer: LayerDef, row: tuple) -> Feature:
        fid = row[0]
        offset = 1
        geom = None
        if layer.has_geometry:
            geom = self._store.decode(row[1])
            offset = 2
        props: dict[str, Any] = {}
        for f, v in zip(layer.fields, row[offset:]):
            if f.type == "boolean" and v is not None:
                v = bool(v)
            props[f.name] = v
        return Feature(layer.name, props, geom, fid)

    def _read_one(self, layer: LayerDef, uuid: str, *, lock: bool = False) -> Feature | None:
        sql = f"SELECT {self._select_list(layer)} FROM {quote(layer.name)} WHERE uuid = ?"
        row = self._store.execute(sql + (self._store.lock_clause() if lock else ""), (uuid,)).fetchone()
        return None if row is None else self._row_to_feature(layer, row)

    def _state_at(self, layer: str, uuid: str, version: int) -> dict[str, Any] | None:
        """The state ``version`` of a feature left it in, from the history (None if there is none)."""
        row = self._store.execute(
            f"SELECT after FROM {HISTORY_TABLE} WHERE layer = ? AND uuid = ? AND version = ?",
            (layer, uuid, version)).fetchone()
        return None if row is None else _json(row[0])

    def get(self, layer: str, uuid: str, *, version: int | None = None) -> Feature:
        """The feature with ``uuid`` (retired ones too), or one of its earlier versions from the history."""
        ldef = self.layer(layer)
        if version is None:
            feat = self._read_one(ldef, uuid)
            if feat is None:
                raise FeatureNotFoundError(f"{layer}: no feature with UUID {uuid}")
            return feat
        state = self._state_at(layer, uuid, version)
        if state is None:
            raise FeatureNotFoundError(f"{layer} {uuid}: no version {version}")
        return Feature(layer, state["properties"], _geom_from_state(state))

    def _where(self, ldef: LayerDef, bbox, bbox_crs, adcode, include_retired) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if ldef.versioned and not include_retired:
            clauses.append("retired_at IS NULL")
        if adcode:
            if not ldef.has_field("adcode"):
                raise ValueError(f"layer {ldef.name} has no division code")
            clauses.append("adcode LIKE ?")
            params.append(adcode_prefix(str(adcode)) + "%")
        if bbox is not None:
            if not ldef.has_geometry:
                raise ValueError(f"layer {ldef.name} has no geometry")
            clause, values = self._store.bbox_clause(ldef, self._bbox_to_storage(bbox, bbox_crs))
            clauses.append(clause)
            params.extend(values)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    @staticmethod
    def _bbox_to_storage(bbox, bbox_crs) -> tuple[float, float, float, float]:
        minx, miny, maxx, maxy = (float(v) for v in bbox)
        if bbox_crs is None:
            return minx, miny, maxx, maxy
        box = geo.to_storage(shapely.box(minx, miny, maxx, maxy).segmentize(max(maxx - minx, maxy - miny) / 16 or 1),
                             bbox_crs)
        return box.bounds

    def features(self, layer: str, *, bbox=None, bbox_crs=None, adcode: str | None = None,
                 include_retired: bool = False, limit: int | None = None, offset: int = 0) -> Iterator[Feature]:
        """Features of ``layer`` in fid order, filtered by bounding box and/or division code prefix."""
        ldef = self.layer(layer)
        where, params = self._where(ldef, bbox, bbox_crs, adcode, include_retired)
        sql = f"SELECT {self._select_list(ldef)} FROM {quote(ldef.name)}{where} ORDER BY fid"
        if limit is not None or offset:
            sql += " LIMIT ? OFFSET ?"
            params += [self._store.no_limit if limit is None else int(limit), int(offset)]
        for row in self._store.execute(sql, params):
            yield self._row_to_feature(ldef, row)

    def count(self, layer: str, *, bbox=None, bbox_crs=None, adcode: str | None = None,
              include_retired: bool = False) -> int:
        ldef = self.layer(layer)
        where, params = self._where(ldef, bbox, bbox_crs, adcode, include_retired)
        return self._store.execute(f"SELECT count(*) FROM {quote(ldef.name)}{where}", params).fetchone()[0]

    def read_frame(self, layer: str, *, columns: list[str] | None = None, include_retired: bool = False,
                   bbox=None) -> Any:
        """The whole layer as a (Geo)DataFrame in EPSG:4490, read in bulk (for analyses).

        Read through the registry's own SQLite connection, never through GDAL: a second
        copy of SQLite in the same process (GDAL bundles one) would checkpoint and delete
        the live registry's WAL files under this connection's feet. Retired features are
        left out unless asked for; booleans come back as pandas booleans; the index is the fid.
        """
        import geopandas as gpd

        ldef = self.layer(layer)
        frame, blobs = self._read_table(ldef, columns, include_retired, bbox)
        if blobs is None:
            return frame
        return gpd.GeoDataFrame(frame, geometry=self._store.decode_many(blobs), crs=geo.STORAGE_CRS)

    def read_points(self, layer: str, *, columns: list[str] | None = None, include_retired: bool = False,
                    bbox=None) -> tuple[Any, Any]:
        """A point layer as ``(frame, xy)``: the attributes as :meth:`read_frame` gives them, without geometry,
        and the points' EPSG:4490 coordinates as an (n, 2) float numpy array in the frame's row order.

        For analyses over many points (a population grid) that need positions, not shapely objects:
        no geometry objects are built. NULL or empty geometries give NaN coordinates; a layer without
        geometry or a stored geometry that is not a point raises ValueError naming the layer.
        """
        ldef = self.layer(layer)
        if not ldef.has_geometry:
            raise ValueError(f"layer {layer} has no geometry: no points to read")
        frame, blobs = self._read_table(ldef, columns, include_retired, bbox)
        try:
            xy = self._store.point_coords(blobs)
        except geo.GeometryBlobError as exc:
            raise ValueError(f"layer {layer}: {exc}") from exc
        return frame, xy

    def _read_table(self, ldef: LayerDef, columns, include_retired: bool, bbox) -> tuple[Any, Any]:
        """The rows of a layer as a DataFrame indexed by fid (typed columns) and its geometry blobs (or None)."""
        import pandas as pd

        layer = ldef.name
        names = list(columns) if columns is not None else list(ldef.field_names)
        unknown = [c for c in names if not ldef.has_field(c)]
        if unknown:
            raise ValueError(f"layer {layer} has no field(s) {', '.join(unknown)}")
        where, params = self._where(ldef, bbox, None, None, include_retired)
        cols = ["fid"] + (["geom"] if ldef.has_geometry else []) + names
        rows = self._store.execute(
            f"SELECT {self._select_list(ldef, names)} FROM {quote(ldef.name)}{where} ORDER BY fid", params).fetchall()
        frame = pd.DataFrame.from_records(rows, columns=cols, coerce_float=False).set_index("fid")
        blobs = frame.pop("geom").to_numpy() if ldef.has_geometry else None
        for n in names:
            f = ldef.field(n)
            if f.type == "boolean":
                frame[n] = frame[n].astype("boolean")
            elif f.type == "integer":
                frame[n] = frame[n].astype("Int64") if frame[n].isna().any() else frame[n].astype("int64")
            elif f.type == "real":
                frame[n] = frame[n].astype("float64")
        return frame, blobs

    def history(self, layer: str | None = None, uuid: str | None = None, *, limit: int | None = None,
                newest_first: bool = False) -> list[Change]:
        """Changes recorded, oldest first (or newest first), for the registry, a layer or one feature."""
        clauses, params = [], []
        if layer is not None:
            self.layer(layer)
            clauses.append("layer = ?")
            params.append(layer)
        if uuid is not None:
            clauses.append("uuid = ?")
            params.append(uuid)
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        order = "DESC" if newest_first else "ASC"
        sql = (f"SELECT fid, layer, uuid, version, op, author, at, before, after, note FROM {HISTORY_TABLE}"
               f"{where} ORDER BY fid {order}")
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        out = []
        for r in self._store.execute(sql, params):
            out.append(Change(r[0], r[1], r[2], r[3], r[4], r[5], r[6], _json(r[7]), _json(r[8]), r[9]))
        return out
