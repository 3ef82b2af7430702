"""Data profiles that analyses use (standards, needs, displacement rates), from plugins.

A profile is data: a kind, a name, titles, its source, and a ``data`` mapping. Built-in
ones ship as TOML with the plugin that uses them; any plugin can add more through the
``rallypoint_profiles`` hook.
"""

from __future__ import annotations

try:
    import tomllib  # novermin (tomli stands in on older Pythons)
except ModuleNotFoundError:  # Python < 3.11 (QGIS 3.22-3.34 on Windows): the same parser, as tomli
    import tomli as tomllib
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from .errors import RallypointError


class UnknownProfileError(RallypointError, KeyError):
    """No profile of that kind and name is installed."""

    http_status = 400
    ogc_code = "InvalidParameterValue"

    def __str__(self) -> str:
        return self.args[0] if self.args else "unknown profile"


@dataclass(frozen=True)
class Profile:
    kind: str
    name: str
    title_zh: str
    title_en: str
    source: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)

    def title(self, lang: str = "zh") -> str:
        return self.title_zh if lang == "zh" else self.title_en

    @classmethod
    def from_toml(cls, text: str, where: str = "profile") -> "Profile":
        d = tomllib.loads(text)
        missing = [k for k in ("kind", "name", "title_zh", "title_en", "data") if k not in d]
        if missing:
            raise RallypointError(f"{where}: profile lacks {', '.join(missing)}")
        return cls(d["kind"], d["name"], d["title_zh"], d["title_en"], d.get("source", ""), d["data"])


def package_profiles(package: str) -> tuple[Profile, ...]:
    """Every ``*.toml`` profile in a plugin's data package (e.g. ``rallypoint_plugins.capacity.profiles``)."""
    from importlib.resources import files

    folder = files(package)
    found = sorted((p for p in folder.iterdir() if p.name.endswith(".toml")), key=lambda p: p.name)
    return tuple(Profile.from_toml(p.read_text(encoding="utf-8"), where=f"{package} {p.name}") for p in found)


def find_profile(profiles: Iterable[Profile], kind: str, name: str) -> Profile:
    found = [p for p in profiles if p.kind == kind]
    for p in found:
        if p.name == name:
            return p
    names = ", ".join(sorted(p.name for p in found)) or "none installed"
    raise UnknownProfileError(f"no {kind} profile {name!r} (available: {names})")
