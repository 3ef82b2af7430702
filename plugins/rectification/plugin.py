"""The rectification plugin's hook implementations.

Registered under the entry-point group ``rallypoint`` as ``rectification``, like any outside plugin.
Importing this module loads no pandas or geopandas.
"""

from __future__ import annotations

try:
    import tomllib  # novermin (tomli stands in on older Pythons)
except ModuleNotFoundError:  # Python < 3.11 (QGIS 3.22-3.34 on Windows): the same parser, as tomli
    import tomli as tomllib
from functools import lru_cache
from importlib import resources
from typing import Any

from rallypoint.hookspecs import hookimpl

from .ledger import LAYER, check_change, local_date


@lru_cache(maxsize=1)
def definition() -> dict[str, Any]:
    """The parsed TOML of the ledger's layer definition (package data of this plugin)."""
    text = resources.files("rallypoint_plugins.rectification.definitions").joinpath(f"{LAYER}.toml")
    return tomllib.loads(text.read_text(encoding="utf-8"))


@hookimpl
def rallypoint_layer_types():
    return [definition()]


@hookimpl
def rallypoint_validate_change(layer, old, new, at):
    if layer.name != LAYER:
        return []
    return check_change(old, new, today=local_date(at))


@hookimpl
def rallypoint_validate_many(layer, features, geometries, old, at):
    """The bulk form of :func:`rallypoint_validate_change` (a bulk write asks this once, not per feature)."""
    if layer.name != LAYER:
        return {}
    today = local_date(at)
    found = {}
    for i, new in enumerate(features):
        problems = check_change(old[i], new, today=today)
        if problems:
            found[i] = problems
    return found


@hookimpl
def rallypoint_analyses():
    from .analysis import RECTIFICATION

    return [RECTIFICATION]


@hookimpl
def rallypoint_cli_commands():
    from .cli import rectification

    return [rectification]


@hookimpl
def rallypoint_web_endpoints():
    from .web import ENDPOINTS

    return ENDPOINTS


@hookimpl
def rallypoint_portal_panels():
    from .portal import PANEL

    return [PANEL]
