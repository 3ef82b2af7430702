"""The coverage plugin's hook implementations: the analysis and its built-in setback profile.

Registered under the entry-point group ``rallypoint`` as ``coverage``, like any outside plugin.
Importing this module loads no pandas, geopandas, scipy or matplotlib.
"""

from __future__ import annotations

from functools import lru_cache

from rallypoint.hookspecs import hookimpl
from rallypoint.profiles import Profile, package_profiles


@lru_cache(maxsize=1)
def builtin_profiles() -> tuple[Profile, ...]:
    """Every ``profiles/*.toml`` of this plugin, parsed."""
    return package_profiles("rallypoint_plugins.coverage.profiles")


@hookimpl
def rallypoint_analyses():
    from .analysis import COVERAGE

    return [COVERAGE]


@hookimpl
def rallypoint_profiles():
    return list(builtin_profiles())


@hookimpl
def rallypoint_cli_commands():
    from .cli import roads

    return [roads]


@hookimpl
def rallypoint_web_endpoints():
    from rallypoint_plugins.reporting.web import report_endpoint

    return [report_endpoint("coverage", "The evacuation coverage report (HTML, or f=pdf; lang=zh|en; the analysis' "
                                        "parameters)")]


@hookimpl
def rallypoint_portal_panels():
    from rallypoint.portal import Panel
    from rallypoint_plugins.reporting.web import report_links

    # links only: a run takes seconds, so the portal shows no figures of its own and the report runs when opened
    title = ("应急避难疏散覆盖分析", "Evacuation coverage")
    return [Panel("coverage", *title, None, role="reader", order=40, links=report_links("coverage", *title))]
