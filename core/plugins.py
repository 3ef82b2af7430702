"""The plugin manager: Rallypoint's own plugins and outside ones, through one entry-point group.

Built in a function, never at import time. Each plugin is loaded, registered and checked
(``check_pending``) on its own, so one broken plugin is reported and skipped while the
others load (as click-plugins' ``BrokenCommand`` does). ``trace=True`` (or the
``RALLYPOINT_TRACE_HOOKS`` variable, or ``rallypoint --trace-hooks``) writes every hook
call and its result to standard error.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Callable, Iterable

import pluggy

from . import hookspecs
from .hookspecs import PROJECT


@dataclass(frozen=True)
class BrokenPlugin:
    """A plugin that could not be loaded, and why."""

    name: str
    target: str
    error: str


@dataclass(frozen=True)
class PluginInfo:
    name: str
    target: str
    distribution: str | None
    version: str | None
    hooks: tuple[str, ...]


class RallypointPluginManager(pluggy.PluginManager):
    """A pluggy PluginManager that remembers broken plugins and where each plugin came from."""

    def __init__(self) -> None:
        super().__init__(PROJECT)
        self.broken: list[BrokenPlugin] = []
        self.origins: dict[str, tuple[str, str | None, str | None]] = {}

    def add_plugin(self, plugin: Any, name: str, *, target: str = "", distribution: str | None = None,
                   version: str | None = None) -> bool:
        """Register ``plugin``; on any error report it as broken, undo it and return False."""
        try:
            self.register(plugin, name=name)
        except Exception as exc:  # pluggy raises ValueError or PluginValidationError
            self.broken.append(BrokenPlugin(name, target, f"{type(exc).__name__}: {exc}"))
            return False
        try:
            self.check_pending()
        except pluggy.PluginValidationError as exc:
            self.unregister(name=name)
            self.broken.append(BrokenPlugin(name, target, f"unknown hook: {exc}"))
            return False
        self.origins[name] = (target, distribution, version)
        return True

    def plugin_infos(self) -> list[PluginInfo]:
        out = []
        for name, plugin in self.list_name_plugin():
            if plugin is None:
                continue
            target, dist, version = self.origins.get(name, (getattr(plugin, "__name__", repr(plugin)), None, None))
            hooks = tuple(sorted(h.name for h in self.get_hookcallers(plugin) or ()))
            out.append(PluginInfo(name, target, dist, version, hooks))
        return out

    def collect(self, hook: str, **kwargs: Any) -> list[Any]:
        """Call ``hook`` and flatten the lists the plugins return (skipping ``None``)."""
        results = getattr(self.hook, hook)(**kwargs)
        out: list[Any] = []
        for r in results:
            if r is None:
                continue
            if isinstance(r, (list, tuple)):
                out.extend(r)
            else:
                out.append(r)
        return out


def _entry_points() -> Iterable[EntryPoint]:
    if sys.version_info >= (3, 10):
        return entry_points(group=PROJECT)
    # Python 3.9 (QGIS 3.22-3.34 on Windows): entry_points() is a dict of groups, and a distribution found
    # twice on the path (an installed copy and the QGIS plugin's) lists its entry points twice
    return list({(ep.name, ep.value): ep for ep in entry_points().get(PROJECT, ())}.values())


def _dist(ep: EntryPoint) -> tuple[str | None, str | None]:
    """(name, version) of the distribution an entry point comes from (Python 3.9's entry points do not say)."""
    d = getattr(ep, "dist", None)
    return (d.name, d.version) if d is not None else (None, None)


def get_plugin_manager(*, trace: bool | None = None, entrypoints: bool = True,
                       extra: Iterable[tuple[str, Any]] = (),
                       writer: Callable[[str], Any] | None = None) -> RallypointPluginManager:
    """Build a plugin manager with every installed plugin (and ``extra`` ``(name, plugin)`` pairs)."""
    pm = RallypointPluginManager()
    pm.add_hookspecs(hookspecs)
    if entrypoints:
        for ep in sorted(_entry_points(), key=lambda e: (_dist(e)[0] or "", e.name)):
            dist, version = _dist(ep)
            try:
                plugin = ep.load()
            except Exception as exc:  # any import-time failure of someone else's code
                pm.broken.append(BrokenPlugin(ep.name, ep.value, f"{type(exc).__name__}: {exc}"))
                continue
            pm.add_plugin(plugin, ep.name, target=ep.value, distribution=dist, version=version)
    for name, plugin in extra:
        pm.add_plugin(plugin, name, target=getattr(plugin, "__name__", repr(plugin)))
    if trace is None:
        trace = os.environ.get("RALLYPOINT_TRACE_HOOKS", "") not in ("", "0")
    if trace:
        pm.trace.root.setwriter(writer or (lambda text: sys.stderr.write(text)))
        pm.enable_tracing()
    return pm


_default: RallypointPluginManager | None = None


def default_plugin_manager() -> RallypointPluginManager:
    """The plugin manager of this process, built on first use (not at import time)."""
    global _default
    if _default is None:
        _default = get_plugin_manager()
    return _default


def layer_catalog(pm: RallypointPluginManager) -> dict[str, Any]:
    """The built-in layer definitions plus those that plugins register, by name."""
    from .errors import DefinitionError
    from .schema import LayerDef, builtin_layers, common_fields, layer_from_dict

    layers = dict(builtin_layers())
    for item in pm.collect("rallypoint_layer_types"):
        layer = item if isinstance(item, LayerDef) else layer_from_dict("plugin layer type", item, common_fields())
        if layer.name in layers:
            raise DefinitionError(f"a plugin defines layer {layer.name!r}, which is already defined")
        layers[layer.name] = layer
    return layers
