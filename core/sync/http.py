"""Offline copies of a registry served by ``rallypoint serve``: check out, push, pull, conflicts.

A check-out is an ordinary registry file (edited with the CLI or in QGIS, validated, with
its own history) plus two tables: ``rp_sync`` (the server's address) and ``rp_sync_base``,
which holds, for every feature, the server's version at the last sync and the feature's
state as it was written locally then. A feature whose local state differs from its base
has local changes; one whose server version moved past its base was changed by others.

* :func:`push` sends local changes with ``If-Match`` on the base version (POST for new
  features, keeping their UUID; PATCH with only the changed fields; DELETE to retire). A
  ``412 Precondition Failed`` is a conflict: the local change is kept, nothing is lost.
* :func:`pull` writes others' changes into the copy (one batch, in the history); a feature
  changed on both sides is a conflict and keeps its local state.

The HTTP client is the standard library's ``urllib``: a dozen plain JSON requests do not
need another dependency, and the module stays importable inside QGIS's Python.

The source may also be a registry reached directly, a PostGIS database (``postgresql://``)
or a registry file: :mod:`rallypoint.sync_direct` reads and writes it through the registry's
own API, with versions in place of ETags and a push in one transaction. The check-out is a
GeoPackage file in every case.
"""

from __future__ import annotations

import http.client
import json
import sqlite3
import urllib.error
import urllib.parse
import urllib.request
from contextlib import closing, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import shapely

from .errors import RallypointError
from .gpkgfile import connect
from .registry import Feature, Registry
from .store import is_postgres_url

BASE_TABLE = "rp_sync_base"
META_TABLE = "rp_sync"
PAGE = 1000
GEOJSON = "application/geo+json"

_DDL = f"""
CREATE TABLE IF NOT EXISTS {META_TABLE} (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS {BASE_TABLE} (
    layer TEXT NOT NULL, uuid TEXT NOT NULL, server_version INTEGER NOT NULL, state TEXT NOT NULL,
    PRIMARY KEY (layer, uuid));
"""


class SyncError(RallypointError, RuntimeError):
    """The server cannot be reached, refuses the key, or the file is not a check-out."""


@dataclass(frozen=True)
class Conflict:
    """A feature changed both here and on the server since the last sync."""

    layer: str
    uuid: str
    reason: str
    local: dict[str, Any] | None = None
    server_version: int | None = None

    def __str__(self) -> str:
        return f"{self.layer} {self.uuid}: {self.reason}"


@dataclass
class SyncReport:
    """What a check-out, push or pull did."""

    created: int = 0
    updated: int = 0
    retired: int = 0
    conflicts: list[Conflict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.conflicts and not self.errors


# -- HTTP ------------------------------------------------------------------------------
@dataclass
class _Response:
    status: int
    headers: dict[str, str]
    body: Any


class Client:
    """A tiny OGC API - Features client for one server and API key."""

    def __init__(self, url: str, key: str | None = None, timeout: float = 60):
        self.url = url.rstrip("/")
        self.key = key
        self.timeout = timeout

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> _Response:
        url = path if path.startswith("http") else self.url + path
        hdrs = {"Accept": f"{GEOJSON}, application/json"}
        if self.key:
            hdrs["Authorization"] = f"Bearer {self.key}"
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode()
            hdrs["Content-Type"] = GEOJSON
        hdrs.update(headers or {})
        req = urllib.request.Request(url, data=data, headers=hdrs, method=method)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                raw, status, rh = r.read(), r.status, dict(r.headers)
        except urllib.error.HTTPError as exc:
            raw, status, rh = exc.read(), exc.code, dict(exc.headers)
        except urllib.error.URLError as exc:
            raise SyncError(f"{url}: cannot reach the server ({exc.reason})") from None
        except (OSError, http.client.HTTPException) as exc:  # timeouts, resets, truncated answers
            raise SyncError(f"{method} {url}: the connection failed ({exc.__class__.__name__}: {exc})") from None
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode("utf-8", "replace")
        if status in (401, 403):
            raise SyncError(f"{method} {url}: the server refused the key ({status}: {_message(parsed)})")
        return _Response(status, {k.lower(): v for k, v in rh.items()}, parsed)

    def get(self, path: str) -> Any:
        r = self.request("GET", path)
        if r.status != 200:
            raise SyncError(f"GET {path}: {r.status} {_message(r.body)}")
        if not isinstance(r.body, dict):
            raise SyncError(f"GET {path}: the answer is not a JSON object (is {self.url} a Rallypoint server?)")
        return r.body

    def items(self, layer: str) -> Iterator[dict[str, Any]]:
        """Every feature in use of a collection, page by page (CRS84 = the stored coordinates)."""
        path: str | None = f"/collections/{layer}/items?limit={PAGE}"
        while path:
            page = self.get(path)
            yield from page.get("features", [])
            path = next((lk["href"] for lk in page.get("links", []) if lk.get("rel") == "next"), None)


def _message(body: Any) -> str:
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("description") or body.get("title") or body)
    return str(body)[:300]


# -- local state -----------------------------------------------------------------------
def _state(reg: Registry, feat: Feature) -> dict[str, Any]:
    """What a user edits of a feature: its editable fields and geometry (hex WKB)."""
    ldef = reg.layer(feat.layer)
    return {
        "properties": {f.name: feat.properties.get(f.name) for f in ldef.editable_fields},
        "geometry": None if feat.geometry is None else shapely.to_wkb(feat.geometry, hex=True, output_dimension=2),
        "retired": feat.retired,
    }


def _sync_layers(reg: Registry, server_layers: set[str] | None = None) -> list[str]:
    """Versioned layers, each after the layers its fields refer to (depots before their stock)."""
    names = [n for n, d in reg.layers.items() if d.versioned and (server_layers is None or n in server_layers)]
    deps = {n: {f.references for f in reg.layers[n].fields if f.references in names and f.references != n}
            for n in names}
    order: list[str] = []
    while len(order) < len(names):
        ready = sorted(n for n in names if n not in order and deps[n] <= set(order))
        order.extend(ready or sorted(n for n in names if n not in order))  # a cycle: keep the rest as they are
    return order


def _editable(reg: Registry, layer: str, props: dict[str, Any]) -> dict[str, Any]:
    ldef = reg.layer(layer)
    return {f.name: props.get(f.name) for f in ldef.editable_fields if f.name in props and not f.derived}


class _Base:
    def __init__(self, reg: Registry, create: bool = False):
        # the check-out's own connection (a check-out is always a GeoPackage, whatever it was checked out
        # from): one SQLite, one transaction discipline
        self.conn = reg._conn
        if create:
            self.conn.executescript(_DDL)

    def meta(self, key: str) -> str | None:
        row = self.conn.execute(f"SELECT value FROM {META_TABLE} WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute(f"INSERT OR REPLACE INTO {META_TABLE} VALUES (?, ?)", (key, value))

    def all(self, layer: str) -> dict[str, tuple[int, dict[str, Any]]]:
        rows = self.conn.execute(f"SELECT uuid, server_version, state FROM {BASE_TABLE} WHERE layer = ?", (layer,))
        return {u: (v, json.loads(s)) for u, v, s in rows}

    def set(self, layer: str, uuid: str, version: int, state: dict[str, Any]) -> None:
        self.conn.execute(f"INSERT OR REPLACE INTO {BASE_TABLE} VALUES (?, ?, ?, ?)",
                          (layer, uuid, version, json.dumps(state, ensure_ascii=False)))

    def drop(self, layer: str, uuid: str) -> None:
        self.conn.execute(f"DELETE FROM {BASE_TABLE} WHERE layer = ? AND uuid = ?", (layer, uuid))


def _open_checkout(path: str | Path) -> tuple[Registry, _Base, str]:
    """Open a check-out, reading only: an ordinary registry is refused unchanged."""
    if is_postgres_url(path):
        raise SyncError(f"{_public(path)}: a check-out is a GeoPackage file; a database is what one checks out from")
    reg = Registry.open(path)
    base = _Base(reg)
    try:
        url = base.meta("url")
    except sqlite3.OperationalError:  # no sync tables
        url = None
    if not url:
        reg.close()
        raise SyncError(f"{path}: not a check-out of a Rallypoint server (rallypoint checkout URL FILE makes one)")
    return reg, base, url


def _layers(reg: Registry, base: _Base) -> list[str]:
    """The layers the check-out took from its server (older check-outs: every versioned layer)."""
    saved = base.meta("layers")
    return _sync_layers(reg, set(json.loads(saved)) if saved else None)


# -- where a check-out comes from ----------------------------------------------------------
def _public(url: Any) -> str:
    if is_postgres_url(url):
        from .store_pg import url_without_password

        return url_without_password(str(url))
    return str(url)


class _Server:
    """A ``rallypoint serve`` server as the source of a check-out (OGC API - Features, ETags, API keys)."""

    def __init__(self, url: str, key: str | None):
        self.client = Client(url, key)
        self.url = self.client.url

    def close(self) -> None:
        pass

    def describe(self) -> tuple[str, str, str | None, set[str]]:
        landing = self.client.get("/")
        collections = {c["id"] for c in self.client.get("/collections").get("collections", [])}
        title = landing.get("title") or self.url
        bureau = (landing.get("description") or "").split(" · ")[0].strip() or self.url
        return title, bureau, None, collections

    def snapshot(self):
        return nullcontext()  # each page is read as the server has it then

    def items(self, layer: str) -> Iterator[dict[str, Any]]:
        return self.client.items(layer)

    def load_reference(self, reg: Registry, collections: set[str], author: str) -> int:
        """Copy the server's reference layers (areas, population, roads) whole, so analyses run offline."""
        import geopandas as gpd

        n = 0
        for name, ldef in reg.layers.items():
            if ldef.versioned or name not in collections:
                continue
            feats = list(self.client.items(name))
            if not feats:
                continue
            frame = gpd.GeoDataFrame.from_features(feats, crs="EPSG:4490")  # CRS84 answers are the stored lon/lat
            frame = frame[[f for f in ldef.field_names if f in frame.columns] + ["geometry"]]
            n += reg.load_reference(name, frame, author=author, note=f"checked out from {self.url}")
        return n

    def push(self, reg: Registry, base: "_Base", todo: dict[str, dict[str, tuple[str, Feature]]],
             layers: list[str], *, author: str, source: str,
             progress: Callable[[int], None] | None = None) -> SyncReport:
        """One request per change, with ``If-Match``; the server names the key's holder as the author."""
        client = self.client
        report = SyncReport()
        done = 0
        for layer in layers:
            known = base.all(layer)
            for uid, (kind, feat) in todo[layer].items():
                st = _state(reg, feat)
                geom = None if feat.geometry is None else shapely.geometry.mapping(feat.geometry)
                item = f"/collections/{layer}/items/{uid}"
                if kind == "new":
                    body = {"type": "Feature", "id": uid, "geometry": geom,
                            "properties": _editable(reg, layer, feat.properties)}
                    r = client.request("POST", f"/collections/{layer}/items", body)
                else:
                    version, old = known[uid]
                    match = {"If-Match": f'"{uid}-v{version}"'}
                    if kind == "retired":
                        r = client.request("DELETE", item, headers=match)
                    else:
                        changed = {k: v for k, v in st["properties"].items() if old["properties"].get(k) != v}
                        body = {"type": "Feature", "properties": _editable(reg, layer, changed)}
                        if st["geometry"] != old["geometry"]:
                            body["geometry"] = geom
                        r = client.request("PATCH", item, body, headers=match)
                done += 1
                if progress is not None:
                    progress(done)
                if r.status == 412:
                    report.conflicts.append(Conflict(layer, uid, f"changed on the server since version {known[uid][0]}; "
                                                     "the local change was not sent (pull to see the server's state)",
                                                     st, None))
                    continue
                if r.status not in (200, 201, 204):
                    report.errors.append(f"{layer} {uid}: the server refused the {kind} feature "
                                         f"({r.status}: {_message(r.body)})")
                    continue
                if kind == "retired":
                    base.drop(layer, uid)
                    report.retired += 1
                    continue
                base.set(layer, uid, r.body["properties"]["version"], st)
                if kind == "new":
                    report.created += 1
                else:
                    report.updated += 1
        return report


def _remote(url: str, key: str | None):
    """The source of a check-out: a server (http/https), else a registry reached directly (database or file)."""
    from .sync_direct import DirectRemote, is_direct

    return DirectRemote(url) if is_direct(str(url)) else _Server(str(url), key)


# -- check-out, pull, push -------------------------------------------------------------
def checkout(url: str, out: str | Path, *, key: str | None = None, author: str = "sync",
             overwrite: bool = False, with_reference: bool = False) -> SyncReport:
    """Copy the features in use of every registry layer the source has into a new local file.

    ``url`` is a server (``http(s)://``), a PostGIS registry (``postgresql://``) or a registry
    file. ``with_reference`` also copies the reference layers (administrative areas,
    population, roads), which the analyses need; they are read-only data and are not pushed back.
    """
    if is_postgres_url(out):
        raise SyncError(f"{_public(out)}: a check-out is a GeoPackage file; give a file name to check out into")
    remote = _remote(url, key)
    try:
        title, bureau, adcode, collections = remote.describe()
        reg = Registry.create(out, name=title, bureau=bureau, adcode=adcode, overwrite=overwrite)
        done = False
        try:
            base = _Base(reg, create=True)
            report = SyncReport()
            layers = _sync_layers(reg, collections)
            with remote.snapshot():
                fetched = {layer: list(remote.items(layer)) for layer in layers}
            # One transaction: the features, what the source had of each, and where they came from;
            # a check-out stopped half-way is no check-out at all.
            with reg.batch(author=author, note=f"checked out from {remote.url}") as b:
                for layer, feats in fetched.items():
                    for f in feats:
                        props = _editable(reg, layer, f["properties"])
                        props["uuid"] = f["id"]
                        b.add(layer, props, f.get("geometry"))
                        report.created += 1
                if not b.problems:
                    for layer, feats in fetched.items():
                        for f in feats:
                            base.set(layer, f["id"], f["properties"]["version"],
                                     _state(reg, reg.get(layer, f["id"])))
                    base.set_meta("layers", json.dumps(layers))
                    base.set_meta("url", remote.url)
                    base.set_meta("author", author)
            if with_reference:
                report.created += remote.load_reference(reg, collections, author)
            done = True
            return report
        finally:
            reg.close()
            if not done:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{out}{suffix}").unlink(missing_ok=True)
    finally:
        remote.close()


def pending(reg: Registry, base: _Base) -> dict[str, dict[str, tuple[str, Feature]]]:
    """Local changes since the last sync: layer -> uuid -> (kind, feature); kind is new, changed or retired."""
    out: dict[str, dict[str, tuple[str, Feature]]] = {}
    for layer in _layers(reg, base):
        known = base.all(layer)
        changes = {}
        for feat in reg.features(layer, include_retired=True):
            st = _state(reg, feat)
            if feat.uuid not in known:
                if not feat.retired:
                    changes[feat.uuid] = ("new", feat)
            elif st != known[feat.uuid][1]:
                changes[feat.uuid] = ("retired" if feat.retired else "changed", feat)
        out[layer] = changes
    return out


def push(path: str | Path, *, key: str | None = None, author: str | None = None,
         progress: Callable[[int], None] | None = None) -> SyncReport:
    """Send local changes to the source; a feature changed there meanwhile is a conflict, kept locally.

    ``author`` names who pushes when the source is a registry reached directly (default: who
    checked out); a server takes the name of the key's holder. ``progress`` is called with the
    number of changes sent so far.
    """
    reg, base, url = _open_checkout(path)
    try:
        remote = _remote(url, key)
        try:
            todo = pending(reg, base)
            return remote.push(reg, base, todo, _layers(reg, base), author=author or base.meta("author") or "sync",
                               source=Path(path).name, progress=progress)
        finally:
            remote.close()
    finally:
        reg.close()


def pull(path: str | Path, *, key: str | None = None, author: str = "sync") -> SyncReport:
    """Write the server's changes since the last sync into the copy; both-sides changes are conflicts."""
    reg, base, url = _open_checkout(path)
    report = SyncReport()
    try:
        local = pending(reg, base)
        remote = _remote(url, key)
        try:
            with remote.snapshot():
                server = {layer: {f["id"]: f for f in remote.items(layer)} for layer in _layers(reg, base)}
        finally:
            remote.close()
        touched: list[tuple[str, str, int]] = []
        dropped: list[tuple[str, str]] = []
        with reg.batch(author=author, note=f"pulled from {url}") as b:
            for layer, feats in server.items():
                known = base.all(layer)
                mine = local[layer]
                for uid, f in feats.items():
                    version = f["properties"]["version"]
                    if uid in known and known[uid][0] == version:
                        continue
                    if uid in mine:
                        report.conflicts.append(Conflict(
                            layer, uid, f"changed here and on the server (now version {version}); "
                                        "the local change is kept", _state(reg, mine[uid][1]), version))
                        continue
                    props = _editable(reg, layer, f["properties"])
                    if uid in known:  # a known feature retired here is a local change, so in `mine`
                        b.update(layer, uid, props, f.get("geometry"))
                        report.updated += 1
                    else:
                        b.add(layer, {**props, "uuid": uid}, f.get("geometry"))
                        report.created += 1
                    touched.append((layer, uid, version))
                for uid in set(known) - set(feats):  # retired (or gone) on the server
                    if uid in mine:
                        report.conflicts.append(Conflict(layer, uid, "retired on the server and changed here; "
                                                                     "the local change is kept",
                                                         _state(reg, mine[uid][1]), None))
                        continue
                    if not reg.get(layer, uid).retired:
                        b.retire(layer, uid, reason=f"retired on {url}")
                    report.retired += 1
                    dropped.append((layer, uid))
            if not b.problems:  # in the same transaction: the copy and its record of the server agree
                for layer, uid, version in touched:
                    base.set(layer, uid, version, _state(reg, reg.get(layer, uid)))
                for layer, uid in dropped:
                    base.drop(layer, uid)
        return report
    finally:
        reg.close()


def conflicts_text(report: SyncReport, fmt: Callable[[Conflict], str] = str) -> str:
    return "\n".join(fmt(c) for c in report.conflicts)


def sync_url(path: str | Path) -> str | None:
    """The server a file was checked out from, or None (an ordinary registry, another kind of file or source)."""
    if not Path(path).is_file():
        return None
    try:
        with closing(connect(path, readonly=True)) as conn:
            row = conn.execute(f"SELECT value FROM {META_TABLE} WHERE key = 'url'").fetchone()
    except sqlite3.Error:  # not SQLite, or no sync table: not a check-out
        return None
    return row[0] if row else None
