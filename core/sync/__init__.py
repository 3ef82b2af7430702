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

The source is a server (:mod:`.http`), or a registry reached directly, a PostGIS database
(``postgresql://``) or a registry file (:mod:`.direct`), which is read and written through the
registry's own API, with versions in place of ETags and a push in one transaction. The
check-out is a GeoPackage file in every case. The dispatch is here (:func:`remote_for`); what
every source shares is :mod:`.base`.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any, Callable

from ..registry import Feature, Registry
from ..storage import backend_for
from ..storage.gpkg.file import connect
from .base import (
    BASE_TABLE,
    META_TABLE,
    CheckoutBase,
    Conflict,
    SyncError,
    SyncReport,
    editable,
    state,
    sync_layers,
)
from .direct import DirectRemote, is_direct
from .http import Client, HttpRemote

__all__ = ["BASE_TABLE", "META_TABLE", "CheckoutBase", "Client", "Conflict", "SyncError", "SyncReport", "checkout",
           "conflicts_text", "pending", "pull", "push", "remote_for", "sync_url"]


def _open_checkout(path: str | Path) -> tuple[Registry, CheckoutBase, str]:
    """Open a check-out, reading only: an ordinary registry is refused unchanged."""
    if not backend_for(path).is_file:
        raise SyncError(f"{_public(path)}: a check-out is a GeoPackage file; a database is what one checks out from")
    reg = Registry.open(path)
    base = CheckoutBase(reg)
    try:
        url = base.meta("url")
    except sqlite3.OperationalError:  # no sync tables
        url = None
    if not url:
        reg.close()
        raise SyncError(f"{path}: not a check-out of a Rallypoint server (rallypoint checkout URL FILE makes one)")
    return reg, base, url


def _layers(reg: Registry, base: CheckoutBase) -> list[str]:
    """The layers the check-out took from its server (older check-outs: every versioned layer)."""
    saved = base.meta("layers")
    return sync_layers(reg, set(json.loads(saved)) if saved else None)


def _public(location: Any) -> str:
    return backend_for(location).public_url()


def remote_for(url: str, key: str | None) -> HttpRemote | DirectRemote:
    """The source of a check-out: a server (http/https), else a registry reached directly (database or file)."""
    return DirectRemote(url) if is_direct(str(url)) else HttpRemote(str(url), key)


# -- check-out, pull, push -------------------------------------------------------------
def checkout(url: str, out: str | Path, *, key: str | None = None, author: str = "sync",
             overwrite: bool = False, with_reference: bool = False) -> SyncReport:
    """Copy the features in use of every registry layer the source has into a new local file.

    ``url`` is a server (``http(s)://``), a PostGIS registry (``postgresql://``) or a registry
    file. ``with_reference`` also copies the reference layers (administrative areas,
    population, roads), which the analyses need; they are read-only data and are not pushed back.
    """
    if not backend_for(out).is_file:
        raise SyncError(f"{_public(out)}: a check-out is a GeoPackage file; give a file name to check out into")
    remote = remote_for(url, key)
    try:
        title, bureau, adcode, collections = remote.describe()
        reg = Registry.create(out, name=title, bureau=bureau, adcode=adcode, overwrite=overwrite)
        done = False
        try:
            base = CheckoutBase(reg, create=True)
            report = SyncReport()
            layers = sync_layers(reg, collections)
            with remote.snapshot():
                fetched = {layer: list(remote.items(layer)) for layer in layers}
            # One transaction: the features, what the source had of each, and where they came from;
            # a check-out stopped half-way is no check-out at all.
            with reg.batch(author=author, note=f"checked out from {remote.url}") as b:
                for layer, feats in fetched.items():
                    for f in feats:
                        props = editable(reg, layer, f["properties"])
                        props["uuid"] = f["id"]
                        b.add(layer, props, f.get("geometry"))
                        report.created += 1
                if not b.problems:
                    for layer, feats in fetched.items():
                        for f in feats:
                            base.set(layer, f["id"], f["properties"]["version"],
                                     state(reg, reg.get(layer, f["id"])))
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


def pending(reg: Registry, base: CheckoutBase) -> dict[str, dict[str, tuple[str, Feature]]]:
    """Local changes since the last sync: layer -> uuid -> (kind, feature); kind is new, changed or retired."""
    out: dict[str, dict[str, tuple[str, Feature]]] = {}
    for layer in _layers(reg, base):
        known = base.all(layer)
        changes = {}
        for feat in reg.features(layer, include_retired=True):
            st = state(reg, feat)
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
        remote = remote_for(url, key)
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
        remote = remote_for(url, key)
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
                                        "the local change is kept", state(reg, mine[uid][1]), version))
                        continue
                    props = editable(reg, layer, f["properties"])
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
                                                         state(reg, mine[uid][1]), None))
                        continue
                    if not reg.get(layer, uid).retired:
                        b.retire(layer, uid, reason=f"retired on {url}")
                    report.retired += 1
                    dropped.append((layer, uid))
            if not b.problems:  # in the same transaction: the copy and its record of the server agree
                for layer, uid, version in touched:
                    base.set(layer, uid, version, state(reg, reg.get(layer, uid)))
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
