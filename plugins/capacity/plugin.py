"""The capacity plugin's hook implementations: the analysis and its built-in profiles.

Registered under the entry-point group ``rallypoint`` as ``capacity``, exactly as an outside
plugin would be. Importing this module loads no pandas, geopandas or matplotlib.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files

from rallypoint.hookspecs import hookimpl
from rallypoint.profiles import Profile


@lru_cache(maxsize=1)
def builtin_profiles() -> tuple[Profile, ...]:
    """Every ``profiles/*.toml`` of this plugin, parsed (shelter standards, minimum needs, displacement)."""
    folder = files("rallypoint_plugins.capacity.profiles")
    found = sorted((p for p in folder.iterdir() if p.name.endswith(".toml")), key=lambda p: p.name)
    return tuple(Profile.from_toml(p.read_text(encoding="utf-8"), where=f"capacity plugin profile {p.name}")
                 for p in found)


@hookimpl
def rallypoint_analyses():
    from .analysis import CAPACITY

    return [CAPACITY]


@hookimpl
def rallypoint_profiles():
    return list(builtin_profiles())
