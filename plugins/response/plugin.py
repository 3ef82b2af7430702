"""The response sheet plugin's hook implementations: the analysis, its profiles, ``rallypoint sheet`` and
``rallypoint alert``, ``/plugins/response/sheet`` and ``/plugins/response/alert``.

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
    from .alert_cli import alert
    from .cli import sheet

    return [sheet, alert]


@hookimpl
def rallypoint_web_endpoints():
    from .alert_web import ENDPOINTS as ALERT
    from .web import ENDPOINTS

    return list(ENDPOINTS) + list(ALERT)
