"""The exchange profiles plugin: mapping profiles for ``rallypoint import``, as data.

Registered under the entry-point group ``rallypoint`` as ``exchange_profiles``, exactly as
an outside plugin would be. The profiles are TOML files in ``profiles/`` (kind
``import_mapping``); the text parsers they name live in :mod:`.parsers` and are provided by name
through the ``rallypoint_value_parsers`` hook. They are a plugin,
not part of the core, because they describe other people's data: the core knows how to
apply a mapping, never what a Japanese field means.
"""

from __future__ import annotations

from functools import lru_cache

from rallypoint.exchange_formats import ValueParser
from rallypoint.hookspecs import hookimpl
from rallypoint.profiles import Profile, package_profiles

from . import parsers


@lru_cache(maxsize=1)
def builtin_profiles() -> tuple[Profile, ...]:
    return package_profiles("rallypoint_plugins.exchange_profiles.profiles")


@hookimpl
def rallypoint_profiles():
    return list(builtin_profiles())


@hookimpl
def rallypoint_value_parsers():
    return [ValueParser("nanao_capacity", parsers.nanao_capacity, "七尾市の想定収容人数 (屋内…人／屋外…人)"),
            ValueParser("wareki_datetime", parsers.wareki_datetime, "和暦の日時 (令和6年1月9日18時)")]
