"""The capacity plugin's hook implementations: the analysis and its built-in profiles.

Registered under the entry-point group ``rallypoint`` as ``capacity``, exactly as an outside
plugin would be. Importing this module loads no pandas, geopandas or matplotlib.
"""

from __future__ import annotations

from functools import lru_cache

from rallypoint.hookspecs import hookimpl
from rallypoint.profiles import Profile, package_profiles


@lru_cache(maxsize=1)
def builtin_profiles() -> tuple[Profile, ...]:
    """Every ``profiles/*.toml`` of this plugin, parsed."""
    return package_profiles("rallypoint_plugins.capacity.profiles")


@hookimpl
def rallypoint_analyses():
    from .analysis import CAPACITY

    return [CAPACITY]


@hookimpl
def rallypoint_profiles():
    return list(builtin_profiles())


@hookimpl
def rallypoint_web_endpoints():
    from rallypoint_plugins.reporting.web import report_endpoint

    return [report_endpoint("capacity", "The shelter capacity report (HTML, or f=pdf; lang=zh|en; the analysis' "
                                        "parameters)")]


@hookimpl
def rallypoint_portal_panels():
    from rallypoint.portal import Panel
    from rallypoint_plugins.reporting.web import report_links

    # links only: a run takes seconds, so the portal shows no figures of its own and the report runs when opened
    title = ("应急避难场所容量分析", "Shelter capacity")
    return [Panel("capacity", *title, None, role="reader", order=30, links=report_links("capacity", *title))]
