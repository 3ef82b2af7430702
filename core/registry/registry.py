"""The registry: create, read, update, retire, restore and history of resources.

Every write goes through a :class:`~.batch.Batch`, one database transaction: the features are
checked against their layer definitions, stamped (version, time, author) and written
together with one history row each. A batch with any bad feature writes nothing and its
:class:`~rallypoint.errors.ValidationError` lists every problem by layer, feature and
field. A killed process leaves the batch wholly there or not at all.

The registry is a GeoPackage file or a PostGIS database (``postgresql://`` URL); the rules
here are the same for both, the SQL of each is in its store (:mod:`rallypoint.storage`). On
PostGIS the database's triggers write the stamps and history rows, with the same values.

>>> reg = Registry.create(path, name="示例县应急资源", bureau="示例县应急管理局")  # doctest: +SKIP
>>> f = reg.add("helipads", {...}, Point(104.06, 30.66), author="zhang")            # doctest: +SKIP
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from ..errors import Problem, RegistryFileError, UnknownLayerError, ValidationError
from ..plugins import RallypointPluginManager, default_plugin_manager, layer_catalog
from ..positions import extent_named, rules_for
from ..schema import LayerDef, builtin_layers
from ..storage import backend_for, create_registry, open_store
from ..storage.base import SCHEMA_VERSION, RegistryInfo, Store
from ..validation import _Bad, format_datetime, normalise_value
from .batch import Batch
from .conflicts import Conflicts
from .reads import Reads
from .types import Feature

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Registry(Reads, Conflicts):
    """A Rallypoint registry: one GeoPackage file, or a PostgreSQL/PostGIS database given by URL.

    ``Registry.open("county.gpkg")`` or ``Registry.open("postgresql://editor@db.example/registry")``:
    the same API, rules, versions and history on both (the store comes from :mod:`rallypoint.storage`).
    Open one per thread or task; a connection is never shared across threads. The reading methods
    (:meth:`get`, :meth:`features`, :meth:`read_frame`, :meth:`history` …) are :class:`~.reads.Reads`'.
    """

    def __init__(self, path: str | os.PathLike, *, clock: Clock | None = None, readonly: bool = False,
                 plugins: "RallypointPluginManager | None" = None):
        self.plugins = plugins or default_plugin_manager()
        backend = backend_for(path)
        #: the database's URL (None for a file) and the file's path (None for a database)
        self.url: str | None = None if backend.is_file else str(path)
        self.path: Path | None = Path(path) if backend.is_file else None
        self._store: Store = backend.open_store(readonly=readonly)
        where = self._store.label
        self._conn = self._store.conn
        self._clock = clock or _utc_now
        self.info: RegistryInfo = self._store.info
        if self.info.schema_version > SCHEMA_VERSION:
            self._store.close()
            raise RegistryFileError(f"{where}: registry schema {self.info.schema_version} is newer than this "
                                    f"Rallypoint understands ({SCHEMA_VERSION}); upgrade Rallypoint")
        tables = self._store.tables()
        #: every layer's whole definition; :attr:`layers` is what this registry's tables hold of them
        self.definitions: dict[str, LayerDef] = {n: d for n, d in layer_catalog(self.plugins).items()
                                                 if n in tables}
        self.layers: dict[str, LayerDef] = {}
        self._absent: dict[str, tuple[str, ...]] = {}
        self._hold(self.definitions, self._store.columns())
        self._validators = self.plugins.hook.rallypoint_validate_feature
        self._change_validators = self.plugins.hook.rallypoint_validate_change
        self._per_feature: tuple | None = None  # the per-feature hooks of plugins without their bulk form

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
            try:
                adcode = normalise_value(builtin_layers()["shelters"].field("adcode"), adcode)
            except _Bad as exc:
                raise ValidationError([Problem("registry", str(path), "adcode", str(exc))]) from None
        now = format_datetime((clock or _utc_now)())
        info = RegistryInfo(name=name, bureau=bureau, adcode=adcode, schema_version=SCHEMA_VERSION,
                            created_at=now, language=language, extent=extent)
        pm = plugins or default_plugin_manager()
        create_registry(path, list(layer_catalog(pm).values()), info, overwrite=overwrite)
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
        return self._store.location

    @property
    def store(self) -> Store:
        """The registry's store (:mod:`rallypoint.storage`): the API reads through it (``store.reader``)."""
        return self._store

    def reader(self) -> Store:
        """A read-only store of the same registry on a connection of its own (close it after use)."""
        return open_store(self.url if self.url is not None else self.path, readonly=True)

    def snapshot(self, target: str | os.PathLike, *, reference: Iterable[str] | None = None) -> None:
        """Write the registry as of one moment into a new registry file ``target`` (a GeoPackage: SQLite's
        backup; PostGIS: one REPEATABLE READ transaction); ``reference``: the reference layers whose rows are
        wanted (None: all), for exports and diffs that read no others."""
        self._store.snapshot(target, list(self.layers.values()), reference=reference)

    def __enter__(self) -> "Registry":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def now(self) -> datetime:
        """The registry's clock (UTC): the time its next batch is stamped with, give or take the call."""
        return self._clock()

    # -- layers ------------------------------------------------------------------
    def _plugin_checks(self, layer: LayerDef, properties: dict[str, Any], geometry: Any, *,
                       old: dict[str, Any] | None, at: str, hooks: tuple[Any, Any] | None = None
                       ) -> list[tuple[str | None, str]]:
        """The plugins' checks of one feature (``rallypoint_validate_feature``), then, if they pass, of the
        change from its stored version ``old`` (``rallypoint_validate_change``; ``old`` is None when new).
        ``hooks``: the two hooks of some plugins only (see :meth:`_plugin_checks_many`)."""
        validators, change_validators = hooks or (self._validators, self._change_validators)
        found: list[tuple[str | None, str]] = []
        if validators.get_hookimpls():
            for result in validators(layer=layer, properties=dict(properties), geometry=geometry):
                found.extend(result or [])
        if not found and change_validators.get_hookimpls():
            for result in change_validators(layer=layer, old=None if old is None else dict(old),
                                            new=dict(properties), at=at):
                found.extend(result or [])
        return found

    def _plugin_checks_many(self, layer: LayerDef, properties: Sequence[dict[str, Any]],
                            geometries: Sequence[Any], *, old: Sequence[dict[str, Any] | None] | None,
                            at: str) -> dict[int, list[tuple[str | None, str]]]:
        """:meth:`_plugin_checks` of many features (a bulk write): ``{index: problems}``. A plugin implementing
        ``rallypoint_validate_many`` is asked that once, instead of its two per-feature hooks for each feature."""
        many = self.plugins.hook.rallypoint_validate_many
        bulk = tuple(impl.plugin for impl in many.get_hookimpls())
        if self._per_feature is None or self._per_feature[0] != bulk:
            self._per_feature = (bulk, self.plugins.subset_hook_caller("rallypoint_validate_feature", bulk),
                                 self.plugins.subset_hook_caller("rallypoint_validate_change", bulk))
        _, feature_hook, change_hook = self._per_feature
        found: dict[int, list[tuple[str | None, str]]] = {}
        if feature_hook.get_hookimpls() or change_hook.get_hookimpls():
            for i, props in enumerate(properties):
                got = self._plugin_checks(layer, props, geometries[i], old=None if old is None else old[i], at=at,
                                          hooks=(feature_hook, change_hook))
                if got:
                    found[i] = got
        if bulk:
            rest = [i for i in range(len(properties)) if i not in found]
            if rest:
                subset = properties if len(rest) == len(properties) else [properties[i] for i in rest]
                results = many(layer=layer, features=subset, geometries=[geometries[i] for i in rest],
                               old=[None if old is None else old[i] for i in rest], at=at)
                for result in results:
                    for k, problems in (result or {}).items():
                        if problems:
                            found.setdefault(rest[k], []).extend(problems)
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
            self.definitions.update({d.name: d for d in new})
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
            rules = rules_for(self._store, extent=self.info.extent, has_areas="admin_areas" in self.layers)
            b = Batch(self, self._store, self._plugin_checks, str(author).strip(), note, self._clock(), rules,
                      self._plugin_checks_many)
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
        with self.batch(author=author, note=note) as b:
            return b.add_many(layer, features, crs=crs, progress=progress)

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
        from ..frame_checks import prepare_reference  # pandas and geopandas: only for whole reference layers

        now = format_datetime(self._clock())
        prepared = prepare_reference(self.layer(layer), data, replace=replace)
        return self._store.load_reference(self.layer(layer), prepared, author=str(author).strip(), now=now,
                                          replace=replace, note=note)
