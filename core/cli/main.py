"""The ``rallypoint`` command: a click group with one module per command; plugins add more."""

from __future__ import annotations

import os

import click

from .. import __version__
from .accounts_cmd import accounts
from .analyse_cmd import analyse
from .backup_cmd import backup, restore_backup
from .common import RallypointGroup, err_console
from .conflicts_cmd import conflicts
from .diff_cmd import diff
from .export_cmd import export, verify
from .features_cmd import add, edit, list_features, retire, restore, show
from .history_cmd import history
from .import_cmd import import_
from .init_cmd import init
from .keys_cmd import keys
from .layers_cmd import layers
from .merge_cmd import merge
from .plugins_cmd import plugins
from .sample_cmd import sample
from .serve_cmd import serve
from .sync_cmd import checkout, pull, push
from .validate_cmd import validate


class MainGroup(RallypointGroup):
    """The built-in commands, then those plugins add through ``rallypoint_cli_commands``."""

    def _plugin_commands(self) -> dict[str, click.Command]:
        from ..plugins import default_plugin_manager

        found: dict[str, click.Command] = {}
        for cmd in default_plugin_manager().collect("rallypoint_cli_commands"):
            if cmd.name in self.commands or cmd.name in found:
                err_console.print(f"[yellow]A plugin's command {cmd.name!r} clashes with another and is skipped.[/]")
                continue
            found[cmd.name] = cmd
        return found

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(self._plugin_commands()))

    def get_command(self, ctx, name):
        return super().get_command(ctx, name) or self._plugin_commands().get(name)


@click.group(cls=MainGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rallypoint")
@click.option("--trace-hooks", is_flag=True, help="Write every plugin hook call and its result to standard error.")
def cli(trace_hooks: bool) -> None:
    """Rallypoint: one registry of a region's emergency resources.

    A registry is one GeoPackage file holding shelters, supply depots (with their
    stock), rescue teams, hazard points and helipads, plus administrative areas, a
    population grid and roads for the analyses. Every change is checked against the
    layer definitions and kept in the registry's history.

    \b
    Start here:
      rallypoint sample county.gpkg            # a small sample region to explore
      rallypoint list county.gpkg shelters     # what is in a layer
      rallypoint show county.gpkg shelters UUID
      rallypoint layers                        # every layer and field, with aliases
      rallypoint analyse capacity county.gpkg  # shelter capacity against the population
      rallypoint plugins                       # the analyses and other plugins loaded
    """
    if trace_hooks:
        os.environ["RALLYPOINT_TRACE_HOOKS"] = "1"
        from .. import plugins as _plugins

        _plugins._default = None  # rebuilt with tracing on first use


for command in (init, sample, layers, add, list_features, show, edit, retire, restore, history, validate, plugins,
                analyse, serve, keys, accounts, export, verify, import_, diff, merge, conflicts, checkout, push, pull,
                backup, restore_backup):
    cli.add_command(command)
