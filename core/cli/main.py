"""The ``rallypoint`` command: a click group with one module per command."""

from __future__ import annotations

import click

from .. import __version__
from .common import RallypointGroup
from .features_cmd import add, edit, list_features, retire, restore, show
from .history_cmd import history
from .init_cmd import init
from .layers_cmd import layers
from .sample_cmd import sample
from .validate_cmd import validate


@click.group(cls=RallypointGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rallypoint")
def cli() -> None:
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
    """


for command in (init, sample, layers, add, list_features, show, edit, retire, restore, history, validate):
    cli.add_command(command)
