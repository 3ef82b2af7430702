"""The coverage plugin's hook implementations: the analysis and its built-in setback profile.

Registered under the entry-point group ``rallypoint`` as ``coverage``, like any outside plugin.
Importing this module loads no pandas, geopandas, scipy or matplotlib.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files

from rallypoint.hookspecs import hookimpl
from rallypoint.profiles import Profile


@lru_cache(maxsize=1)
def builtin_profiles() -> tuple[Profile, ...]:
    """Every ``profiles/*.toml`` of this plugin, parsed (setbacks of shelters from hazard sources)."""
    folder = files("rallypoint_plugins.coverage.profiles")
    found = sorted((p for p in folder.iterdir() if p.name.endswith(".toml")), key=lambda p: p.name)
    return tuple(Profile.from_toml(p.read_text(encoding="utf-8"), where=f"coverage plugin profile {p.name}")
                 for p in found)


@hookimpl
def rallypoint_analyses():
    from .analysis import COVERAGE

    return [COVERAGE]


@hookimpl
def rallypoint_profiles():
    return list(builtin_profiles())
