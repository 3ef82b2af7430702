"""The response sheet plugin's hook implementations: the analysis, its profile, ``rallypoint sheet`` and
``/plugins/response/sheet``.

Registered under the entry-point group ``rallypoint`` as ``response``, like any outside plugin.
Importing this module loads no pandas, geopandas or matplotlib.
"""

from __future__ import annotations

from functools import lru_cache

from rallypoint.hookspecs import hookimpl
from rallypoint.profiles import Profile, package_profiles


@lru_cache(maxsize=1)
def builtin_profiles() -> tuple[Profile, ...]:
    """Every ``profiles/*.toml`` of this plugin, parsed."""
    return package_profiles("rallypoint_plugins.response.profiles")


@hookimpl
def rallypoint_analyses():
    from .analysis import RESPONSE

    return [RESPONSE]


@hookimpl
def rallypoint_profiles():
    return list(builtin_profiles())


@hookimpl
def rallypoint_cli_commands():
    from .cli import sheet

    return [sheet]


@hookimpl
def rallypoint_web_endpoints():
    from .web import ENDPOINTS

    return list(ENDPOINTS)
