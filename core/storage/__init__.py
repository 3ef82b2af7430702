"""The storage seam: the one place where a registry's location becomes a backend.

A location is a GeoPackage file's path or a PostgreSQL database's URL (``postgresql://…``).
Everything above storage (the registry and its rules, the API, exchange, checks, sync, the
CLI and the web adapter) asks this module for a :class:`~.base.Store` or a
:class:`~.base.Reader` and never imports a backend or a database driver:

* :mod:`.gpkg` — a GeoPackage file through Python's sqlite3 (store, file, blobs, bulk, reader,
  counting, tiles, filters);
* :mod:`.postgis` — PostgreSQL with PostGIS through psycopg 3 (store, schema, bulk, reader,
  tiles, snapshot).

A third backend is a third subpackage offering the same :class:`Backend` operations, listed in
:func:`backend_for` (the shapes learned from pygeoapi's ``provider/`` behind one base class and
datasette's one ``Database`` class).

>>> backend_for("county.gpkg").name, backend_for("postgresql://zhang@db.example/registry").name
('gpkg', 'postgis')
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..schema import LayerDef
from .base import Reader, RegistryInfo, Store

__all__ = ["Backend", "backend_for", "create_registry", "is_postgres_url", "location_key", "location_label",
           "new_registry", "open_store", "reader_for"]


def is_postgres_url(location: Any) -> bool:
    """Whether ``location`` names a PostgreSQL database (``postgresql://…`` or ``postgres://…``) rather than a file."""
    return isinstance(location, str) and location.split("://", 1)[0] in ("postgresql", "postgres")


@dataclass(frozen=True)
class Backend:
    """A location and the backend that keeps the registry there."""

    name: str  # "gpkg" or "postgis"
    location: str | os.PathLike

    @property
    def is_file(self) -> bool:
        """Whether the registry is a file (a path to resolve, copy, back up), not a database."""
        return self.name == "gpkg"

    @property
    def label(self) -> str:
        """For messages and records: a file's path, or the URL without its password."""
        if self.name == "postgis":
            from .postgis.connect import label

            return label(str(self.location))
        return str(self.location)

    @property
    def key(self) -> str:
        """What names the registry whatever the working folder: a file's absolute path, or the URL without
        its password (keys caches, job folders, per-process state)."""
        return str(Path(self.location).resolve()) if self.is_file else self.label

    @property
    def absolute(self) -> str:
        """The location to hand another process (a server's workers): a file's absolute path, a URL as given."""
        return str(Path(self.location).resolve()) if self.is_file else str(self.location)

    def public_url(self) -> str:
        """The location as kept in files and records: a URL without its password (libpq then takes it from
        ``PGPASSWORD`` or ``~/.pgpass``), a file's path as given."""
        if self.name == "postgis":
            from .postgis.connect import url_without_password

            return url_without_password(str(self.location))
        return str(self.location)

    def open_store(self, *, readonly: bool = False) -> Store:
        if self.name == "postgis":
            from .postgis.store import PgStore

            return PgStore(str(self.location), readonly=readonly)
        from .gpkg.store import GpkgStore

        return GpkgStore(self.location, readonly=readonly)

    def create(self, layers: list[LayerDef], info: RegistryInfo, *, overwrite: bool = False) -> None:
        """Create a new registry here: a file (atomically), or the tables in an existing database (one transaction)."""
        if self.name == "postgis":
            from .postgis.schema import create_database_registry

            create_database_registry(str(self.location), layers, info, overwrite=overwrite)
        else:
            from .gpkg.file import create_file

            create_file(self.location, layers, info, overwrite=overwrite)


def backend_for(location: str | os.PathLike) -> Backend:
    """The backend keeping the registry at ``location``."""
    return Backend("postgis" if is_postgres_url(location) else "gpkg", location)


def open_store(location: str | os.PathLike, *, readonly: bool = False) -> Store:
    """A store on a connection of its own to the registry at ``location`` (close it after use)."""
    return backend_for(location).open_store(readonly=readonly)


def create_registry(location: str | os.PathLike, layers: list[LayerDef], info: RegistryInfo, *,
                    overwrite: bool = False) -> None:
    """Create a new registry at ``location`` with ``layers`` (see :meth:`Backend.create`)."""
    backend_for(location).create(layers, info, overwrite=overwrite)


def reader_for(store: Store, where: str) -> Reader:
    """The OGC API's reader of an open store (``where``: the registry's :attr:`Backend.key`, which keys the
    per-process caches)."""
    return store.reader(where)


def location_label(location: Any) -> str:
    """A registry's location for messages and records: a file's path, or a URL without its password."""
    return backend_for(location).label


def location_key(location: Any) -> str:
    """A registry's location whatever the working folder (see :attr:`Backend.key`)."""
    return backend_for(location).key


def new_registry(location: str, layers: list[LayerDef], info: RegistryInfo, *, author: str, now: str,
                 note: str | None, overwrite: bool = False):
    """A context manager writing a whole new registry in one transaction (PostGIS): it yields a loader with
    ``load_reference(layer, prepared)`` and ``add_checked(layer, rows, geoms)``. A file is written through the
    registry's own batches instead (:mod:`rallypoint.sample`), and moved into place when complete."""
    backend = backend_for(location)
    if backend.is_file:
        raise ValueError(f"{location}: a registry file is built through batches, not in one bulk transaction")
    from .postgis.bulk import new_registry as pg_new_registry

    return pg_new_registry(str(location), layers, info, author=author, now=now, note=note, overwrite=overwrite)
