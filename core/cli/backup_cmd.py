"""``rallypoint backup`` and ``rallypoint restore-backup``: an online copy of a live registry, and putting one back.

``restore`` already names the command that brings back one feature's earlier version, so
putting a whole backup back is ``restore-backup``.
"""

from __future__ import annotations

import click

from ..backup import backup_registry, restore_registry
from .common import console, err_console


def _say(message: str) -> None:
    err_console.print(message, markup=False)


@click.command()
@click.argument("registry", type=click.Path(dir_okay=False))
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
@click.option("--no-gdal", is_flag=True, help="Skip GDAL's validate_gpkg in the check of the copy.")
def backup(registry, out, force, no_gdal):
    """Copy REGISTRY to OUT while it is in use (SQLite's online backup API), checked, all or nothing.

    The copy is the registry as it was at one moment, however busy the server is; it is
    checked (SQLite's integrity check, GeoPackage structure, GDAL's validate_gpkg) before
    it takes OUT's name, so OUT is either a sound backup or not written at all.

    \b
      rallypoint backup county.gpkg backups/county-2026-05-01.gpkg
      rallypoint restore-backup backups/county-2026-05-01.gpkg county.gpkg   # server stopped
    """
    info = backup_registry(registry, out, force=force, gdal=not no_gdal, progress=_say)
    console.print(f"[green]Backed up[/] {registry} to {info.path}: {info.bytes:,} bytes, "
                  f"{info.history_rows:,} changes in its history.")


@click.command("restore-backup")
@click.argument("backup_file", metavar="BACKUP", type=click.Path(dir_okay=False))
@click.argument("registry", type=click.Path(dir_okay=False))
@click.option("--no-gdal", is_flag=True, help="Skip GDAL's validate_gpkg in the check of the backup.")
def restore_backup(backup_file, registry, no_gdal):
    """Replace REGISTRY by BACKUP, after checking BACKUP; refused while REGISTRY is open elsewhere.

    BACKUP is checked first like `rallypoint validate` does; a bad one is refused and
    nothing changes. Stop the server (and close QGIS) first: a registry that another
    process has open is refused. The restore is one SQLite transaction, so a restore that
    is interrupted leaves the registry as it was.
    """
    info = restore_registry(backup_file, registry, gdal=not no_gdal, progress=_say)
    console.print(f"[green]Restored[/] {registry} from {backup_file}: {info.history_rows:,} changes in its history.")
