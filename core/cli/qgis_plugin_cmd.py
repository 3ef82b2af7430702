"""``rallypoint qgis-plugin build|install``: the QGIS plugin as an installable zip, or into a profile."""

from __future__ import annotations

import click

from ..qgis_package import PLUGIN_DIR, build_zip, core_importable, install as do_install
from .common import console, err_console


@click.group("qgis-plugin")
def qgis_plugin():
    """Build or install Rallypoint's QGIS plugin."""


@qgis_plugin.command()
@click.argument("out", type=click.Path(dir_okay=False), default="rallypoint_qgis.zip")
def build(out):
    """Write the plugin zip OUT (QGIS: Plugins ▸ Manage and Install ▸ Install from ZIP)."""
    names = build_zip(out)
    console.print(f"{out}: {len(names)} files in {PLUGIN_DIR}/")


@qgis_plugin.command()
@click.option("--profile", default="default", show_default=True, help="QGIS user profile.")
@click.option("--plugins-dir", type=click.Path(file_okay=False), default=None,
              help="Install into this plugins folder instead of the profile's.")
@click.option("--qgis-python", default="python3", show_default=True,
              help="The Python QGIS runs, checked for the rallypoint package.")
def install(profile, plugins_dir, qgis_python):
    """Copy the plugin into a QGIS profile; then enable "Rallypoint" in QGIS's plugin manager."""
    target = do_install(profile, plugins_dir)
    console.print(f"Installed the plugin in {target}")
    why = core_importable(qgis_python)
    if why:
        err_console.print(f"[yellow]QGIS's Python ({qgis_python}) cannot import rallypoint ({why}).[/] "
                          f"Install it there: {qgis_python} -m pip install --user rallypoint")
