"""The storage seam's shared types: what a backend must offer, and what the layers above hand it.

The registry's rules (validation, stamps, versions, history records, errors) live in
:mod:`rallypoint.registry` and are the same for every storage; a :class:`Store` only runs SQL on
its database, and a :class:`Reader` answers the OGC API's reads. Two backends exist:
:mod:`rallypoint.storage.gpkg` (a GeoPackage file, through Python's sqlite3) and
:mod:`rallypoint.storage.postgis` (PostgreSQL with PostGIS, through psycopg 3); a location
becomes one of them in one place, :mod:`rallypoint.storage` (``open_store``, ``reader_for`` …).

SQL shared by both is written with ``?`` placeholders and double-quoted identifiers (:func:`quote`);
a store adapts the placeholders to its driver (:meth:`Store.execute`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from ..crs import DEFAULT as DEFAULT_CRS
from ..crs import Crs
from ..schema import LayerDef

#: the registry's schema version (kept in its metadata); a registry of a newer one is refused
SCHEMA_VERSION = 1
#: where a GeoPackage registry keeps its record (``gpkg_metadata.md_standard_uri``)
METADATA_URI = "urn:rallypoint:registry"
#: every accepted change: who, when, before and after (append-only)
HISTORY_TABLE = "rp_history"


#: merge conflicts: the other side's version of features both sides changed (see :mod:`rallypoint.exchange.merge`)
CONFLICTS_TABLE = "rp_conflicts"


#: the web server's API keys (hashes only, see :mod:`rallypoint.api.auth`): the server's bookkeeping, not a layer
KEYS_TABLE = "rp_api_keys"
#: the web server's staff accounts (argon2 hashes, see :mod:`rallypoint.api.accounts`) and browser sessions
ACCOUNTS_TABLE = "rp_accounts"
SESSIONS_TABLE = "rp_sessions"


def quote(identifier: str) -> str:
    """Quote an SQL identifier (callers only pass names checked against the definitions)."""
    return '"' + identifier.replace('"', '""') + '"'


@dataclass(frozen=True)
class RegistryInfo:
    """What the registry says about itself (a GeoPackage's ``gpkg_metadata``, PostGIS's ``rp_metadata``)."""

    name: str
    bureau: str
    adcode: str | None
    schema_version: int
    created_at: str
    language: str = "zh"
    extent: str = "china"  # where its features may lie (rallypoint.positions): "china", or "world" for drills

    def to_json(self) -> str:
        return json.dumps(self.__dict__, ensure_ascii=False, sort_keys=True)


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
class AccountRow:
    """One staff account as stored: its password only as an argon2 hash (which holds its salt and costs)."""

    name: str
    role: str
    password_hash: str
    created_at: str
    disabled_at: str | None


@dataclass(frozen=True)
class SessionRow:
    """One browser session as stored: the SHA-256 of the cookie's token (never the token), whose it is (``kind``
    ``account`` and the account's name, or ``key`` and the API key's id) and until when (UTC, ISO 8601)."""

    id: str
    kind: str
    subject: str
    created_at: str
    expires_at: str


class AccountStore(Protocol):
    """Where a registry keeps its staff accounts and their sessions: tables of its own database, so every
    server worker (and a worker started anew) sees a sign-in, a sign-out or a disabled account at once.
    Hashing, roles and expiry are :mod:`rallypoint.api.accounts`'s; an account store only reads and writes rows."""

    def add(self, row: AccountRow) -> bool:
        """Store a new account (making the tables where the registry lacks them); False if the name is taken."""

    def get(self, name: str) -> AccountRow | None:
        """The account with this name (disabled ones too), or None."""

    def all(self) -> list[AccountRow]:
        """Every account, oldest first."""

    def set_password(self, name: str, password_hash: str) -> bool:
        """Replace an account's password hash; False if there is no such account."""

    def disable(self, name: str, now: str) -> AccountRow | None:
        """Disable an account in use and end its sessions, in one transaction; the account, or None."""

    def start_session(self, row: SessionRow) -> None:
        """Store a new session, dropping the sessions whose time is over (as of ``row.created_at``)."""

    def session(self, session_id: str) -> SessionRow | None:
        """The session with this id, or None (ended, or never there)."""

    def end_session(self, session_id: str) -> bool:
        """End (delete) a session; whether it was there."""


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


@dataclass
class PreparedLoad:
    """A reference layer's data, checked by :func:`rallypoint.frame_checks.prepare_reference` and ready for a
    storage to write whole (:meth:`Store.load_reference`)."""

    rows: int
    columns: dict[str, Any]  # pandas Series: the stored columns, by field name, in the layer's order
    geoms: Any  # a numpy array of shapely geometries in EPSG:4490
    load_id: str  # the pseudo-feature the loads of this layer are versions of
    summary: str  # this load, as JSON (rows, replace, bounds)


class Store(Protocol):
    """What :class:`~rallypoint.registry.Registry` needs from its storage."""

    conn: Any
    #: where the registry is, for messages: a file's path, or the database's URL without its password
    label: str
    #: where the registry is whatever the working folder: a file's absolute path, or :attr:`label`
    location: str
    #: the registry's own record (name, bureau, division code, schema version, language)
    info: RegistryInfo
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

    def columns(self) -> dict[str, set[str]]:
        """Table name → the names of the columns it holds (a file exported without some fields lacks them)."""

    def begin(self) -> None:
        """Start a write transaction (taking the write lock at once where the database has one)."""

    def stamp(self, author: str, now: str) -> None:
        """Tell the database who writes in this transaction, and when (for stamps it writes itself)."""

    def commit(self, touched: dict[str, list[float]], now: str) -> None:
        """Record the touched layers' extents and change time where the format keeps them, and commit."""

    def rollback(self) -> None: ...

    def read_snapshot(self) -> Any:
        """A context manager: the reads inside it see the registry as of one moment (writers go on)."""

    def insert(self, layer: LayerDef, row: dict[str, Any], geom: Any,
               history: HistoryEntry | None, on_duplicate: Callable[[], None] | None = None) -> int | None:
        """Insert a row, and its history entry for a versioned layer; returns the fid (None when it is not
        known yet). A row whose UUID is already used is not written and ``on_duplicate`` is called, at
        once or by :meth:`flush`."""

    def insert_many(self, layer: LayerDef, names: list[str], columns: list[list[Any]], geoms: Any, *, author: str,
                    at: str, note: str | None) -> None:
        """Insert many new rows of a versioned layer (``columns[k]``: every row's value of field ``names[k]``,
        checked and stamped; ``geoms``: a numpy array of shapely geometries, None for a table) with an
        ``insert`` history entry each (version 1, ``author``, ``at``, ``note``): what :meth:`insert` of each
        row with its entry writes, in bulk. The caller has made sure no UUID is already used."""

    def flush(self) -> None:
        """Finish the batch's pending writes (calling their ``on_duplicate``), before its problems are read."""

    def update(self, layer: LayerDef, fid: int, row: dict[str, Any], geom: Any,
               history: HistoryEntry) -> None:
        """Write a new version of a row and its history entry."""

    def lock_clause(self) -> str:
        """What a read of the row about to be changed appends, so no other writer changes it meanwhile."""

    def bbox_clause(self, layer: LayerDef, box: tuple[float, float, float, float]) -> tuple[str, list[Any]]:
        """A WHERE clause (and its parameters) keeping the rows whose geometry's box meets ``box``."""

    def decode(self, value: Any) -> Any: ...

    def decode_many(self, values: Any) -> Any: ...

    def point_coords(self, values: Any) -> Any:
        """The (n, 2) coordinates of point geometries as selected; NaN for NULL; ValueError for other types."""

    def load_reference(self, layer: LayerDef, data: PreparedLoad, *, author: str, now: str, replace: bool,
                       note: str | None) -> int:
        """Write a checked reference layer whole, with its load recorded in the history, in one transaction."""

    def add_layers(self, layers: list[LayerDef], language: str, now: str) -> None:
        """Create the tables (without geometry) of layer types that plugins define, in one transaction."""

    # -- merge conflicts (``rp_conflicts``), written inside a batch's transaction ----------
    def ensure_conflicts_table(self, now: str) -> None:
        """Create the table of merge conflicts where an older registry lacks it."""

    def conflict_recorded(self, layer: str, uuid: str, theirs: str) -> bool:
        """Whether this very version of theirs (JSON text) is recorded for the feature, open or resolved (a
        conflict settled once is not raised again by the same merge repeated)."""

    def record_conflict(self, row: dict[str, Any]) -> None:
        """Add one conflict: layer, uuid, kind, fields, ours_version, base, ours, theirs (the last four JSON
        text), theirs_from, detected_at, detected_by."""

    def conflicts(self, *, resolved: bool | None = False, conflict_id: int | None = None,
                  lock: bool = False) -> list[dict[str, Any]]:
        """The conflicts recorded (``resolved``: False the open ones, True the resolved ones, None all; or the one
        ``conflict_id``), oldest first, every column, JSON columns as JSON text (an empty list where the registry
        has no table of them); ``lock``: inside a batch, no other writer changes the rows read until it ends."""

    def unresolved_conflicts(self) -> list[dict[str, Any]]:
        """The conflicts nobody has resolved, oldest first, every column; JSON columns as JSON text."""

    def mark_resolved(self, conflict_id: int, resolved_at: str, resolution: str) -> bool:
        """Mark an open conflict resolved (``resolution``: JSON text), in the batch's transaction; False when it
        was not open."""

    def keys(self) -> KeyStore:
        """The registry's API keys."""

    def accounts(self) -> AccountStore:
        """The registry's staff accounts and their browser sessions."""

    # -- a connection kept between requests (the web adapter keeps one per thread) ----------
    def alive(self) -> bool:
        """Whether this connection may serve another request: its database is still there (a file not
        replaced meanwhile, a server that has not ended the session). Costs no round trip."""

    def in_transaction(self) -> bool:
        """Whether a transaction is open (or the connection is unusable): such a connection is not kept."""

    def reader(self, where: str) -> Reader:
        """The OGC API's reader of this registry, on this store's connection (see :class:`Reader`)."""

    def snapshot(self, target: Any, layers: list[LayerDef], *, reference: Any = None) -> None:
        """Write the registry as of one moment into a new GeoPackage registry file ``target``, rows with their
        fids and the history; ``reference``: the reference layers whose rows are wanted (None: all)."""

    def close(self) -> None: ...


# -- the read path of the OGC API ------------------------------------------------------------------------

@dataclass
class ItemsQuery:
    """A checked request for items (see :mod:`rallypoint.api.features.query`), as a reader answers it."""

    layer: LayerDef
    limit: int
    offset: int = 0
    bboxes: list[tuple[float, float, float, float]] | None = None  # storage lon/lat; two across the antimeridian
    time: tuple[str | None, str | None] | None = None  # inclusive, as stored strings
    filters: list[tuple[str, list[Any]]] = field(default_factory=list)  # SQL fragment on the alias t, values
    crs: Crs = DEFAULT_CRS
    personal: bool = False
    cql: bool = False  # a CQL2 filter is among the filters: its SQL functions must be on the connection

    def key(self) -> tuple:
        """What identifies the result (for ETags)."""
        return (self.layer.name, self.limit, self.offset, self.bboxes, self.time,
                tuple((s, tuple(v)) for s, v in self.filters), self.crs.uri, self.personal)


#: the field the ``datetime`` parameter filters on
TIME_FIELD = "updated_at"


@dataclass(frozen=True)
class Spatial:
    """A CQL2 spatial predicate's value, waiting for the backend to resolve it (a GeoPackage turns it into the
    matching fids); its repr keys ETags."""

    layer: str
    op: str
    wkb: bytes

    def __repr__(self) -> str:
        return f"Spatial({self.layer}, {self.op}, {hashlib.blake2b(self.wkb, digest_size=12).hexdigest()})"


class Reader(Protocol):
    """How the OGC API reads one registry, on the request's own connection (``ctx.reader``).

    The API's endpoints keep the rules (parameters, links, ETags, personal data, errors); a reader only
    answers them, with the same values on every backend.
    """

    #: the SQL dialect the items' filters are written in (see :mod:`rallypoint.storage.filters`)
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
