"""Where a registry keeps its rows: the small interface between :mod:`rallypoint.registry` and its storage.

The registry's rules (validation, stamps, versions, history records, errors) live in
:mod:`rallypoint.registry` and are the same for every storage; a store only runs SQL on
its database. Two stores exist: :class:`~rallypoint.store_gpkg.GpkgStore` (a GeoPackage
file, through Python's sqlite3) and :class:`~rallypoint.store_pg.PgStore` (PostgreSQL with
PostGIS, through psycopg 3), chosen by :func:`is_postgres_url`.

SQL shared by both is written with ``?`` placeholders and double-quoted identifiers; a
store adapts the placeholders to its driver (:meth:`Store.execute`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol

from shapely.geometry.base import BaseGeometry

from .schema import LayerDef


#: merge conflicts: the other side's version of features both sides changed (see :mod:`rallypoint.exchange.merge`)
CONFLICTS_TABLE = "rp_conflicts"


def is_postgres_url(location: Any) -> bool:
    """Whether ``location`` names a PostgreSQL database (``postgresql://…`` or ``postgres://…``) rather than a file."""
    return isinstance(location, str) and location.split("://", 1)[0] in ("postgresql", "postgres")


def location_label(location: Any) -> str:
    """A registry's location for messages and records: a file's path, or a URL without its password."""
    if is_postgres_url(location):
        from .store_pg import _label

        return _label(str(location))
    return str(location)


#: the web server's API keys (hashes only, see :mod:`rallypoint.api.auth`): the server's bookkeeping, not a layer
KEYS_TABLE = "rp_api_keys"


@dataclass(frozen=True)
class KeyRow:
    """One API key as stored: never the key, only its salted hash."""

    id: str
    name: str
    role: str
    salt: bytes
    hash: bytes
    created_at: str
    revoked_at: str | None


class KeyStore(Protocol):
    """Where a registry keeps its API keys: a table of its own database, so every server worker and
    every process sees a key added or revoked at once. Hashing and roles are
    :mod:`rallypoint.api.auth`'s; a key store only reads and writes rows."""

    def add(self, row: KeyRow) -> None:
        """Store a new key (making the table on the first key where the registry lacks it)."""

    def get(self, key_id: str) -> KeyRow | None:
        """The key with this id (revoked ones too), or None."""

    def all(self) -> list[KeyRow]:
        """Every key, oldest first."""

    def revoke(self, which: str, now: str) -> list[KeyRow]:
        """Revoke, in one transaction, the keys in use whose id or owner name is ``which``; those revoked."""


@dataclass(frozen=True)
class HistoryEntry:
    """One change as the registry records it; a store writes it (or has its database write it)."""

    uuid: str
    version: int
    op: str
    author: str
    at: str
    before: dict | None
    after: dict | None
    note: str | None


class Store(Protocol):
    """What :class:`~rallypoint.registry.Registry` needs from its storage."""

    conn: Any
    #: the SQL expression that selects the geometry column as :meth:`decode` reads it
    geom_select: str
    #: the LIMIT value meaning "no limit"
    no_limit: Any
    #: a subquery giving the strings of the JSON array bound to its one ``?``
    json_list: str

    def execute(self, sql: str, params: Any = ()) -> Any:
        """Run ``sql`` (``?`` placeholders) and return a cursor (iterable, ``fetchone``, ``fetchall``)."""

    def tables(self) -> set[str]:
        """The names of the layer tables the database holds."""

    def begin(self) -> None:
        """Start a write transaction (taking the write lock at once where the database has one)."""

    def stamp(self, author: str, now: str) -> None:
        """Tell the database who writes in this transaction, and when (for stamps it writes itself)."""

    def commit(self, touched: dict[str, list[float]], now: str) -> None:
        """Record the touched layers' extents and change time where the format keeps them, and commit."""

    def rollback(self) -> None: ...

    def read_snapshot(self) -> Any:
        """A context manager: the reads inside it see the registry as of one moment (writers go on)."""

    def insert(self, layer: LayerDef, row: dict[str, Any], geom: BaseGeometry | None,
               history: HistoryEntry | None, on_duplicate: Callable[[], None] | None = None) -> int | None:
        """Insert a row, and its history entry for a versioned layer; returns the fid (None when it is not
        known yet). A row whose UUID is already used is not written and ``on_duplicate`` is called, at
        once or by :meth:`flush`."""

    def flush(self) -> None:
        """Finish the batch's pending writes (calling their ``on_duplicate``), before its problems are read."""

    def update(self, layer: LayerDef, fid: int, row: dict[str, Any], geom: BaseGeometry | None,
               history: HistoryEntry) -> None:
        """Write a new version of a row and its history entry."""

    def lock_clause(self) -> str:
        """What a read of the row about to be changed appends, so no other writer changes it meanwhile."""

    def bbox_clause(self, layer: LayerDef, box: tuple[float, float, float, float]) -> tuple[str, list[Any]]:
        """A WHERE clause (and its parameters) keeping the rows whose geometry's box meets ``box``."""

    def decode(self, value: Any) -> BaseGeometry | None: ...

    def decode_many(self, values: Any) -> Any: ...

    def point_coords(self, values: Any) -> Any:
        """The (n, 2) coordinates of point geometries as selected; NaN for NULL; ValueError for other types."""

    def load_reference(self, layer: LayerDef, data: Any, *, author: str, now: str, replace: bool,
                       note: str | None) -> int: ...

    def add_layers(self, layers: list[LayerDef], language: str, now: str) -> None:
        """Create the tables (without geometry) of layer types that plugins define, in one transaction."""

    # -- merge conflicts (``rp_conflicts``), written inside a batch's transaction ----------
    def ensure_conflicts_table(self, now: str) -> None:
        """Create the table of merge conflicts where an older registry lacks it."""

    def conflict_recorded(self, layer: str, uuid: str, theirs: str) -> bool:
        """Whether this very version of theirs (JSON text) is recorded for the feature and not resolved."""

    def record_conflict(self, row: dict[str, Any]) -> None:
        """Add one conflict: layer, uuid, kind, fields, ours_version, base, ours, theirs (the last four JSON
        text), theirs_from, detected_at, detected_by."""

    def unresolved_conflicts(self) -> list[dict[str, Any]]:
        """The conflicts nobody has resolved, oldest first, every column; JSON columns as JSON text."""

    def keys(self) -> KeyStore:
        """The registry's API keys."""

    def close(self) -> None: ...
