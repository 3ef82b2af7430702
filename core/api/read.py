"""The read path's backend seam: what the API reads through, for a GeoPackage or a PostGIS registry.

Every read of the OGC API (collections, items, single features, tiles) goes through the
:class:`Reader` of its request (``ctx.reader``), chosen by the registry's backend:
:class:`SqliteReader` (a GeoPackage: the SQLite code of :mod:`.store`, :mod:`.geojson_sql`,
:mod:`.counting`, :mod:`.cql` and :mod:`.mvt_gpkg`) or :class:`~.pg_read.PgReader` (PostgreSQL
with PostGIS). The endpoints keep the rules (parameters, links, ETags, personal data, errors);
a reader only answers them, with the same values on both backends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from ..schema import LayerDef
from . import geojson, store

if TYPE_CHECKING:  # pragma: no cover
    from ..registry import Registry
    from .crs import Crs
    from .query import ItemsQuery


class Reader(Protocol):
    #: the SQL dialect the items' filters are written in (see :data:`.cql.DIALECTS`)
    dialect: str

    def stamp(self, table: str | None = None) -> tuple:
        """Changes whenever the layer (or, without ``table``, any layer) may have been written: caches, ETags."""

    def unchanged(self, layer_name: str, old: tuple, new: tuple) -> bool:
        """Whether the layer is surely as it was at stamp ``old``, now that the stamp is ``new``."""

    def contents(self) -> dict[str, tuple]:
        """Layer name → (min_x, min_y, max_x, max_y, last_change); the extent in CRS84 (None where unknown)."""

    def prepare(self, q: ItemsQuery, current: tuple) -> None:
        """Ready ``q``'s filters to run (once the request is known not to be answered 304)."""

    def layer_state(self, layer: LayerDef, current: tuple) -> Any:
        """What the reader keeps about a layer between requests, valid at ``current``."""

    def page(self, q: ItemsQuery) -> list[tuple]:
        """One page of rows (fid, geometry, fields) for :meth:`to_features`."""

    def page_json(self, q: ItemsQuery, state: Any) -> list[bytes]:
        """One page as finished GeoJSON Feature texts (CRS84), in the order of :meth:`page`."""

    def count(self, q: ItemsQuery, state: Any) -> int | None:
        """How many features in use match, exactly; None when too many to count per request."""

    def one(self, layer: LayerDef, feature_id: str, personal: bool) -> tuple | None:
        """The row of one feature in use, or None."""

    def to_features(self, layer: LayerDef, rows: list[tuple], crs: Crs, personal: bool, *,
                    geometry_as_text: bool = False) -> list[dict[str, Any]]:
        """GeoJSON Features from rows of :meth:`page` or :meth:`one`."""

    def tile(self, layers: list[LayerDef], personal: bool, z: int, x: int, y: int) -> bytes:
        """Mapbox Vector Tile ``z/x/y`` of ``layers`` (b"" when it holds nothing)."""


class SqliteReader:
    """A GeoPackage registry, read through the request's own SQLite connection (see :mod:`.store`)."""

    dialect = "sqlite"

    def __init__(self, registry: Registry, where: str):
        self.conn = registry._conn
        self.where = where

    def stamp(self, table: str | None = None) -> tuple:
        return store.stamp(self.conn, table)

    def unchanged(self, layer_name: str, old: tuple, new: tuple) -> bool:
        return store.unchanged(self.conn, layer_name, old, new)

    def contents(self) -> dict[str, tuple]:
        return store.contents(self.conn)

    def prepare(self, q: ItemsQuery, current: tuple) -> None:
        if q.cql:  # the SQL functions a filter calls, and the fids of its spatial predicates
            from .cql import register, resolve

            register(self.conn)
            q.filters = resolve(self.conn, q.filters, self.where, current)

    def layer_state(self, layer: LayerDef, current: tuple) -> store.LayerState:
        return store.layer_state(self.conn, self.where, layer, current)

    def page(self, q: ItemsQuery) -> list[tuple]:
        return store.page(self.conn, q)

    def page_json(self, q: ItemsQuery, state: store.LayerState) -> list[bytes]:
        return store.page_json(self.conn, q, state)

    def count(self, q: ItemsQuery, state: store.LayerState) -> int:
        return store.count(self.conn, q, state)

    def one(self, layer: LayerDef, feature_id: str, personal: bool) -> tuple | None:
        return store.one(self.conn, layer, feature_id, personal)

    def to_features(self, layer: LayerDef, rows: list[tuple], crs: Crs, personal: bool, *,
                    geometry_as_text: bool = False) -> list[dict[str, Any]]:
        return geojson.to_features(layer, rows, crs, personal, geometry_as_text=geometry_as_text)

    def tile(self, layers: list[LayerDef], personal: bool, z: int, x: int, y: int) -> bytes:
        from . import mvt_gpkg

        return mvt_gpkg.tile(self.conn, self.where, layers, personal, z, x, y)


def reader_for(registry: Registry, where: str) -> Reader:
    """The reader of ``registry`` (``where``: its file or URL, which keys the per-process caches)."""
    if registry.url is not None:
        from .pg_read import PgReader

        return PgReader(registry, where)
    return SqliteReader(registry, where)
