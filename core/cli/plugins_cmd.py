"""``rallypoint plugins``: what is loaded, with versions and hooks, and what is broken."""

from __future__ import annotations

import click
from rich.table import Table

from ..plugins import default_plugin_manager
from .common import console


@click.command()
def plugins():
    """List the loaded plugins with their versions and hooks, and any broken ones."""
    pm = default_plugin_manager()
    t = Table("plugin", "from", "version", "hooks", title="Rallypoint plugins")
    for info in pm.plugin_infos():
        t.add_row(info.name, info.distribution or info.target, info.version or "", ", ".join(info.hooks))
    console.print(t)
    if pm.broken:
        b = Table("plugin", "entry point", "error", title="Broken plugins (skipped)", title_style="bold red")
        for item in pm.broken:
            b.add_row(item.name, item.target, item.error)
        console.print(b)
