"""The plugin's contributions to Rallypoint's own command line, through its hooks.

Registered under the entry-point group ``rallypoint`` (``pyproject.toml``) like the analyses in
``plugins/``, so ``rallypoint qgis-plugin`` exists without the core importing this package.
Importing this module imports neither QGIS nor click.
"""

from __future__ import annotations

from rallypoint.hookspecs import hookimpl


@hookimpl
def rallypoint_cli_commands():
    from .cli import qgis_plugin

    return [qgis_plugin]
