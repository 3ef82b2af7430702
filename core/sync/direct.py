"""Check-outs of a registry reached directly, not through ``rallypoint serve``: a PostGIS database or a file.

``rallypoint checkout postgresql://editor@db.example/province field.gpkg`` makes the same
check-out as from a server (a GeoPackage with ``rp_sync`` and ``rp_sync_base``, see
:mod:`rallypoint.sync`); push and pull then talk to the database with the registry's own
API instead of HTTP. The rules are the server's:

* versions play the part of ETags: each change is written with ``expected_version`` set to
  the version the check-out last saw, so a feature changed meanwhile is a conflict and the
  local change is kept, exactly as a ``412`` from the server;
* the author is the one who pushes (``--author``, else the one who checked out), as the
  server takes the key holder's name, and every change lands in the registry's history;
* a feature the registry refuses (a check fails) is reported and the rest is sent.

A push is **one transaction** (:func:`rallypoint.registry.changes.apply_change_set`, which a
server's ``POST /transactions`` runs too): a push killed half-way leaves the registry without
any of its changes, and the check-out's record of what the registry has is written after the
commit. A push killed between the two is recognised by the next one, which is sent under the
same push id (kept in the check-out until the push is recorded): what the first one wrote is
taken as sent, not written twice and not a conflict.

The password is not kept in the check-out: libpq takes it from ``PGPASSWORD``, ``~/.pgpass``
or a service file at push and pull, as for any PostgreSQL client.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

from ..errors import RegistryFileError
from ..registry import Feature, Registry
from ..registry.changes import apply_change_set
from ..storage import backend_for
from .base import SyncError, SyncReport, change_set, push_id, record_push


def is_direct(url: str) -> bool:
    """Whether a check-out's source is a registry reached directly (not an http(s) server)."""
    return not url.lower().startswith(("http://", "https://"))


class DirectRemote:
    """A registry (PostGIS URL or registry file) as the source of a check-out."""

    def __init__(self, location: str | Path):
        backend = backend_for(location)
        if not backend.is_file:
            self.url = backend.public_url()
        else:
            path = Path(location)
            if not path.is_file():
                raise SyncError(f"{location}: no such registry file, and not an http(s):// server or a "
                                "postgresql:// database")
            self.url = str(path.resolve())
        try:
            self.reg = Registry.open(self.url if backend.is_file else str(location))
        except RegistryFileError as exc:
            raise SyncError(f"cannot open the registry to sync with: {exc}") from None

    def close(self) -> None:
        self.reg.close()

    # -- reading ---------------------------------------------------------------------
    def describe(self) -> tuple[str, str, str | None, set[str]]:
        info = self.reg.info
        return info.name, info.bureau, info.adcode, set(self.reg.layers)

    def snapshot(self):
        """Reads inside see the registry as of one moment (a check-out or pull of several layers)."""
        return self.reg.store.read_snapshot()

    def items(self, layer: str) -> Iterator[dict[str, Any]]:
        """The features in use of a layer, as the server gives them (GeoJSON, every field: direct access is
        the access of a database user or a file's reader, personal data included)."""
        for f in self.reg.features(layer):
            yield f.to_geojson()

    def load_reference(self, reg: Registry, collections: set[str], author: str) -> int:
        n = 0
        for name, ldef in reg.layers.items():
            if ldef.versioned or name not in collections or not self.reg.count(name):
                continue
            frame = self.reg.read_frame(name)
            frame = frame[[f for f in ldef.field_names if f in frame.columns] + ["geometry"]]
            n += reg.load_reference(name, frame.reset_index(drop=True), author=author,
                                    note=f"checked out from {self.url}")
        return n

    # -- pushing ---------------------------------------------------------------------
    def push(self, local: Registry, base, todo: dict[str, dict[str, tuple[str, Feature]]], layers: list[str], *,
             author: str, source: str, progress: Callable[[int], None] | None = None) -> SyncReport:
        """Send the local changes ``todo`` (see :func:`rallypoint.sync.pending`) in one transaction."""
        changes = change_set(local, base, todo, layers)
        if not changes:
            return record_push(local, base, [], [])
        pid = push_id(base)
        outcomes = apply_change_set(self.reg, changes, author=author, note=f"pushed from {source}", push_id=pid,
                                    progress=progress)
        # the registry has committed: now the check-out's record of it, in one transaction of the file
        return record_push(local, base, changes, outcomes)
