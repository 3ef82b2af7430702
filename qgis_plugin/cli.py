"""``rallypoint qgis-plugin build|install``: the QGIS plugin as an installable zip, or into a profile.

Added to the ``rallypoint`` command by :mod:`.hooks` (the ``rallypoint_cli_commands`` hook), so the
core's command line never imports the plugin. Nothing here imports QGIS.
"""

from __future__ import annotations

import click

from .packaging import DEFAULT_QGIS_PYTHON, PLUGIN_DIR, build_zip, install as do_install


@click.group("qgis-plugin")
def qgis_plugin():
    """Build or install Rallypoint's QGIS plugin."""


@qgis_plugin.command()
@click.argument("out", type=click.Path(dir_okay=False), default="rallypoint_qgis.zip")
def build(out):
    """Write the plugin zip OUT (QGIS: Plugins ▸ Manage and Install ▸ Install from ZIP)."""
    from rallypoint.cli.common import console

    names = build_zip(out)
    console.print(f"{out}: {len(names)} files in {PLUGIN_DIR}/")


@qgis_plugin.command()
@click.option("--profile", default="default", show_default=True, help="QGIS user profile.")
@click.option("--plugins-dir", type=click.Path(file_okay=False), default=None,
              help="Install into this plugins folder instead of the profile's.")
@click.option("--qgis-python", default=DEFAULT_QGIS_PYTHON, show_default=True,
              help="The Python QGIS runs; the plugin is installed only if it can start there.")
def install(profile, plugins_dir, qgis_python):
    """Install the plugin into a QGIS profile and enable it there, as Plugins ▸ Install from ZIP does.

    The plugin is checked with QGIS's Python before it replaces anything: if it could not
    start there, nothing is installed and the command exits with status 1. Start (or restart)
    QGIS afterwards: a running QGIS rewrites its settings when it quits.
    """
    from rallypoint.cli.common import console

    target, ini = do_install(profile, plugins_dir, python=qgis_python)
    console.print(f"Installed the plugin in {target}")
    if ini is not None:
        console.print(f"Enabled it in {ini}; start QGIS (restart it if it is running) to load it")
    else:
        console.print("Not a QGIS profile's plugins folder: enable the plugin in QGIS (Plugins ▸ Manage and "
                      "Install Plugins)")
