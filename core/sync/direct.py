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

Unlike the server's one request per feature, a direct push is **one transaction**: a push
killed half-way leaves the registry without any of its changes, and the check-out's record
of what the registry has is written after the commit. A push killed between the two is
recognised by the next push: a feature whose registry state already equals the local one
is taken as sent, not as a conflict.

The password is not kept in the check-out: libpq takes it from ``PGPASSWORD``, ``~/.pgpass``
or a service file at push and pull, as for any PostgreSQL client.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

from ..errors import ConflictError, FeatureNotFoundError, RegistryFileError, ValidationError
from ..registry import Feature, Registry
from ..storage import backend_for
from .base import Conflict, SyncError, SyncReport, editable, state


class _Retry(Exception):
    """The registry refused some features: the batch is rolled back and tried again without them."""


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
             author: str, source: str, progress: Callable[[int], None] | None = None):
        """Send the local changes ``todo`` (see :func:`rallypoint.sync.pending`) in one transaction."""
        report = SyncReport()
        work = []
        for layer in layers:
            known = base.all(layer)
            for uid, (kind, feat) in todo[layer].items():
                work.append((layer, uid, kind, feat, known.get(uid, (None, None))))
        left_out: set[tuple[str, str]] = set()
        for _ in range(len(work) + 1):
            sent: list[tuple[str, str, str, dict[str, Any], int | None]] = []
            labels: dict[str, tuple[str, str, str]] = {}
            try:
                with self.reg.batch(author=author, note=f"pushed from {source}") as b:
                    for i, (layer, uid, kind, feat, (version, old)) in enumerate(work, start=1):
                        if (layer, uid) in left_out:
                            continue
                        st = state(local, feat)
                        labels[f"feature {uid}"] = (layer, uid, kind)
                        already = self._already_there(layer, uid, st)
                        if already is not None:  # sent by a push killed before its record was kept
                            sent.append((layer, uid, kind, st, already))
                            continue
                        try:
                            new_version = self._send(b, layer, uid, kind, feat, st, version, old, editable)
                        except ConflictError:
                            left_out.add((layer, uid))
                            report.conflicts.append(Conflict(
                                layer, uid, f"changed in the registry since version {version}; the local change "
                                            "was not sent (pull to see the registry's state)", st, None))
                            continue
                        except FeatureNotFoundError:
                            left_out.add((layer, uid))
                            report.errors.append(f"{layer} {uid}: not in the registry any more; the {kind} feature "
                                                 "was not sent")
                            continue
                        if new_version is not False:
                            sent.append((layer, uid, kind, st, new_version))
                        if progress is not None:
                            progress(i)
                    if b.problems:
                        if any(p.feature not in labels for p in b.problems):
                            raise ValidationError(list(b.problems))  # not one feature's: nothing is sent
                        for p in b.problems:
                            layer, uid, kind = labels[p.feature]
                            if (layer, uid) not in left_out:
                                left_out.add((layer, uid))
                                report.errors.append(f"{layer} {uid}: the registry refused the {kind} feature "
                                                     f"({p.field + ': ' if p.field else ''}{p.message})")
                        b.problems.clear()
                        raise _Retry
            except _Retry:
                continue
            break
        # the registry has committed: now the check-out's record of it, in one transaction of the file
        local.store.begin()
        try:
            for layer, uid, kind, st, version in sent:
                if kind == "retired":
                    base.drop(layer, uid)
                    report.retired += 1
                else:
                    base.set(layer, uid, version, st)
                    if kind == "new":
                        report.created += 1
                    else:
                        report.updated += 1
        except BaseException:
            local.store.rollback()
            raise
        local.store.commit({}, "")
        return report

    def _already_there(self, layer: str, uid: str, st: dict[str, Any]) -> int | None:
        """The registry's version of a feature whose state there is already the local one, else None."""
        try:
            there = self.reg.get(layer, uid)
        except FeatureNotFoundError:
            return None
        return there.version if state(self.reg, there) == st else None

    def _send(self, b, layer, uid, kind, feat, st, version, old, editable) -> int | None | bool:
        """Write one change in the batch; its new version (None once retired), or False when refused."""
        if kind == "new":
            props = editable(self.reg, layer, feat.properties)
            return 1 if b.add(layer, {**props, "uuid": uid}, feat.geometry) is not None else False
        if kind == "retired":
            return None if b.retire(layer, uid, expected_version=version, reason="retired in a check-out") \
                is not None else False
        changed = {k: v for k, v in st["properties"].items() if old["properties"].get(k) != v}
        geom = feat.geometry if st["geometry"] != old["geometry"] else None
        got = b.update(layer, uid, editable(self.reg, layer, changed), geom, expected_version=version)
        return False if got is None else got.version
