"""Online backup of a registry, and its restore.

**Backup** copies the registry with SQLite's online backup API in a single step
(``sqlite3.Connection.backup(pages=-1)``): the copy is one read transaction of the
source, so it is the registry exactly as it was at one commit, while the server and
other writers go on writing (in WAL mode a reader never blocks a writer). The backup API
is used rather than ``VACUUM INTO`` because it copies the pages as they are (the file
keeps its page size, WAL mode and GeoPackage header fields untouched, the same bytes a
reader sees) and because it is the same call the exchange's snapshots already use; an
incremental backup (a few pages per step) was not used either, since every write by
another connection restarts it, and a busy registry would never finish. The copy goes
to a temporary file beside the target, is checked there (SQLite's integrity check, the
registry's structure and GDAL's ``validate_gpkg``), synced to disk and only then renamed
over the target, so a backup file is either complete and sound or not there at all.

**Restore** checks the backup first (everything :func:`~rallypoint.check.check_registry`
checks, every feature included) and refuses a bad one, changing nothing. It then
refuses while any other process has the registry open (a server, QGIS): their caches and
open connections would outlive the content under them, so they must be stopped first.
The test is SQLite's own: an exclusive lock on the file, which a connection of another
process prevents for as long as it is open, even idle. That lock is kept while the backup's
pages are written into the registry through the backup API, in one transaction: nobody
can open the registry half-way, and a restore killed in the middle leaves the registry
as it was. A registry file that SQLite cannot read at all (the reason for many restores)
is replaced by a checked copy of the backup through a temporary file and a rename.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .check import check_registry
from .errors import Problem, RallypointError

Progress = Callable[[str], None]


class BackupError(RallypointError, OSError):
    """A backup or restore was refused or failed; the file it would have written is unchanged."""

    http_status = 409
    ogc_code = "InvalidParameterValue"


class RegistryInUseError(BackupError):
    """Another process has the registry open, so it cannot be replaced now."""


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    bytes: int
    history_rows: int  # rows of rp_history in the copy: every change it holds


def _history_rows(conn: sqlite3.Connection) -> int:
    from .storage.base import HISTORY_TABLE

    return conn.execute(f"SELECT count(*) FROM {HISTORY_TABLE}").fetchone()[0]


def _fsync(path: Path) -> None:
    """Flush a file (or a folder, after a rename) to disk.

    Only ever called on files no SQLite connection of this process has open (the
    temporary copy after its connection closed, a folder): closing a descriptor drops
    this process's POSIX locks on that file, which matters only for a file SQLite holds.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _journals(path: Path) -> tuple[Path, ...]:
    return Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")


def _remove_quietly(path: Path) -> None:
    for p in (path, *_journals(path)):
        p.unlink(missing_ok=True)


def _temporary_beside(dst: Path) -> Path:
    """A new empty file beside ``dst`` for the copy (ending in .gpkg, as GDAL's validator requires)."""
    fd, name = tempfile.mkstemp(prefix=f".{dst.stem}.", suffix=".partial.gpkg", dir=dst.parent)
    os.close(fd)
    return Path(name)


def _install(tmp: Path, dst: Path) -> None:
    """Give the checked file ``tmp`` the name ``dst``: synced, renamed, the rename synced.

    Refused while another process has ``dst`` open. A ``-wal`` or ``-shm`` left beside
    ``dst`` belongs to the file being replaced and would be replayed into the new one, so
    it goes first.
    """
    if dst.exists():
        _refuse_if_in_use(dst)
    _fsync(tmp)
    for stale in _journals(dst):
        stale.unlink(missing_ok=True)
    os.replace(tmp, dst)
    _fsync(dst.parent)


def _describe(problems: list[Problem], limit: int = 10) -> str:
    lines = [f"  • {p}" for p in problems[:limit]]
    if len(problems) > limit:
        lines.append(f"  … and {len(problems) - limit} more")
    return "\n".join(lines)


def _copy_pages(src: Path, dst: Path) -> int:
    """SQLite's backup API, in one step, from the file ``src`` into a new file ``dst``; its history rows."""
    from .storage.gpkg.file import connect

    with closing(connect(src, readonly=True)) as source, closing(sqlite3.connect(dst, isolation_level=None)) as copy:
        source.backup(copy, pages=-1)
        rows = _history_rows(copy)
        # the copy is a single file: its WAL is checkpointed into it before it is checked and renamed
        copy.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    os.chmod(dst, src.stat().st_mode & 0o777)  # the temporary file was made private; the copy reads as the original
    return rows


def backup_registry(registry: str | os.PathLike, out: str | os.PathLike, *, force: bool = False,
                    gdal: bool = True, progress: Progress | None = None) -> BackupInfo:
    """Copy the (possibly live) registry at ``registry`` to ``out``: consistent, checked, atomic.

    ``force`` replaces an existing ``out``; without it an existing file is refused. The
    copy is checked before it takes ``out``'s name (``gdal=False`` skips GDAL's validator).
    """
    src, dst = Path(registry), Path(out)
    say = progress or (lambda _msg: None)
    if not src.is_file():
        raise BackupError(f"{src}: no such registry file")
    if dst.resolve() == src.resolve():
        raise BackupError(f"{dst}: the backup cannot be written over the registry itself")
    if dst.exists() and not force:
        raise BackupError(f"{dst} already exists; give --force to replace it")
    if dst.exists() and not dst.is_file():
        raise BackupError(f"{dst} is not a file")
    if not dst.parent.is_dir():
        raise BackupError(f"{dst.parent}: no such folder for the backup")
    # a registry it cannot open is refused with the registry's own message, before anything is written
    from .registry import Registry

    Registry(src, readonly=True).close()
    tmp = _temporary_beside(dst)
    try:
        say(f"copying {src} (SQLite online backup)")
        rows = _copy_pages(src, tmp)
        say(f"checking the copy ({rows:,} history rows)")
        problems = check_registry(tmp, gdal=gdal, features=False)
        if problems:
            raise BackupError(f"the copy of {src} did not pass its check, so {dst} was not written:\n"
                              + _describe(problems))
        _install(tmp, dst)
    except BaseException:
        _remove_quietly(tmp)
        raise
    return BackupInfo(dst, dst.stat().st_size, rows)


def check_backup(path: str | os.PathLike, *, gdal: bool = True) -> list[Problem]:
    """Every problem in a backup file (empty when it can be restored)."""
    return check_registry(path, gdal=gdal)


def _lock_exclusively(path: Path) -> sqlite3.Connection:
    """A connection holding SQLite's exclusive lock on ``path``, or :class:`RegistryInUseError`.

    In WAL mode every connection of another process keeps a shared lock for as long as it
    is open, so the exclusive lock is refused while a server or QGIS has the file open
    (no waiting: busy timeout 0). ``locking_mode = EXCLUSIVE`` keeps the lock after the
    first transaction, until the connection closes.
    """
    from .storage.gpkg.blobs import register_functions

    conn = sqlite3.connect(str(path), timeout=0, isolation_level=None)
    try:
        register_functions(conn)
        conn.execute("PRAGMA locking_mode = EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("COMMIT")
    except sqlite3.OperationalError as exc:
        conn.close()
        if "locked" in str(exc) or "busy" in str(exc):
            raise RegistryInUseError(
                f"{path} is open in another process (a server, QGIS, a command): stop it first; "
                "nothing was changed") from None
        raise
    return conn


def _refuse_if_in_use(path: Path) -> None:
    """:class:`RegistryInUseError` if another process has ``path`` open (a file that is no database: nobody has)."""
    try:
        _lock_exclusively(path).close()
    except RegistryInUseError:
        raise
    except sqlite3.DatabaseError:
        pass  # not a database at all: nobody has it open as one


def _readable(path: Path) -> bool:
    """Whether SQLite can read ``path`` as a database at all (asked of SQLite, never with open())."""
    try:
        with closing(sqlite3.connect(f"file:{path.resolve().as_posix()}?mode=ro", uri=True, timeout=0)) as conn:
            conn.execute("PRAGMA schema_version").fetchone()
            return conn.execute("PRAGMA quick_check").fetchone() == ("ok",)
    except sqlite3.DatabaseError as exc:
        return "locked" in str(exc)  # in use: readable, and refused as in use later


def restore_registry(backup: str | os.PathLike, registry: str | os.PathLike, *, gdal: bool = True,
                     progress: Progress | None = None) -> BackupInfo:
    """Replace the registry at ``registry`` by the backup at ``backup``, after checking the backup.

    Refuses (:class:`BackupError`, nothing changed) a backup with any problem, and
    (:class:`RegistryInUseError`) a registry that another process has open.
    """
    src, dst = Path(backup), Path(registry)
    say = progress or (lambda _msg: None)
    if not src.is_file():
        raise BackupError(f"{src}: no such backup file")
    if dst.exists() and dst.resolve() == src.resolve():
        raise BackupError(f"{src} is the registry itself")
    if dst.exists():
        _refuse_if_in_use(dst)  # at once, before a check of the backup that takes minutes on a city
    say(f"checking the backup {src}")
    problems = check_backup(src, gdal=gdal)
    if problems:
        raise BackupError(f"{src} is not a sound registry, so it was not restored and {dst} is unchanged:\n"
                          + _describe(problems))
    if dst.exists() and _readable(dst):
        from .storage.gpkg.file import connect

        target = _lock_exclusively(dst)
        try:
            say(f"writing {src} into {dst} (SQLite backup API, under an exclusive lock)")
            with closing(connect(src, readonly=True)) as source:
                try:
                    source.backup(target, pages=-1)
                except sqlite3.DatabaseError as exc:  # e.g. another page size: the registry is unchanged
                    raise BackupError(f"{src} could not be written into {dst} ({exc}); {dst} is unchanged") \
                        from None
            rows = _history_rows(target)
            integrity = target.execute("PRAGMA integrity_check").fetchone()[0]
            if integrity != "ok":  # cannot happen short of a disk fault; said, never hidden
                raise BackupError(f"{dst} failed SQLite's integrity check after the restore: {integrity}")
        finally:
            target.close()
        return BackupInfo(dst, dst.stat().st_size, rows)
    # no registry yet, or one SQLite cannot read: a checked copy of the backup takes its name
    if not dst.parent.is_dir():
        raise BackupError(f"{dst.parent}: no such folder for the registry")
    tmp = _temporary_beside(dst)
    try:
        say(f"copying {src} to {dst}")
        rows = _copy_pages(src, tmp)
        _install(tmp, dst)
    except BaseException:
        _remove_quietly(tmp)
        raise
    return BackupInfo(dst, dst.stat().st_size, rows)
