"""The survey plugin's hook implementations: the analysis, its profiles, a command and web endpoints.

Registered under the entry-point group ``rallypoint`` as ``survey``, like any outside plugin. Importing
this module loads no pandas, scipy or pyproj.
"""

from __future__ import annotations

from functools import lru_cache

from rallypoint.hookspecs import hookimpl
from rallypoint.profiles import Profile, package_profiles


@lru_cache(maxsize=1)
def builtin_profiles() -> tuple[Profile, ...]:
    """Every ``profiles/*.toml`` of this plugin, parsed."""
    return package_profiles("rallypoint_plugins.survey.profiles")


@hookimpl
def rallypoint_analyses():
    from .analysis import SURVEY

    return [SURVEY]


@hookimpl
def rallypoint_profiles():
    return list(builtin_profiles())


@hookimpl
def rallypoint_cli_commands():
    from .cli import survey

    return [survey]


@hookimpl
def rallypoint_web_endpoints():
    from .web import ENDPOINTS

    return list(ENDPOINTS)


@hookimpl
def rallypoint_portal_panels():
    from .portal import PANEL

    return [PANEL]
