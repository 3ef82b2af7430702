"""The registry at a glance: features in use per resource layer and per township, and the latest changes.

Read through the public :class:`~rallypoint.registry.Registry` API (one grouped count per layer: ~0.2 s for a
city's 140,000 hazard points and the rest). They are kept per process for the registry's current stamp
(:meth:`~rallypoint.storage.base.Reader.stamp`, which any accepted change moves), as the survey endpoint keeps
its outcomes: a portal opened again costs nothing until the next edit.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from ...schema import LayerDef
from ..context import Context
from .texts import OPS, local_time

TOWNSHIP_DIGITS = 9  # GB/T 2260 county (6) + the statistics bureau's township (3)
CHANGES = 8
_CACHE_ENTRIES = 4
_cache: OrderedDict[tuple, Any] = OrderedDict()
_lock = threading.Lock()


@dataclass(frozen=True)
class Glance:
    layers: list[dict[str, Any]]  # name, title_zh, title_en, count
    townships: list[dict[str, Any]]  # code, name, counts {layer: n}, total
    totals: dict[str, int]
    changes: list[dict[str, Any]]  # as stored; the page words them in its language


def resource_layers(ctx: Context) -> list[LayerDef]:
    """The layers of resources people look for (shelters, depots, teams, hazard points, helipads, and the
    resource layers plugins add), in the registry's order."""
    return [lay for lay in ctx.registry.layers.values() if lay.kind == "resource"]


def _township_names(ctx: Context) -> dict[str, str]:
    reg = ctx.registry
    if "admin_areas" not in reg.layers:
        return {}
    frame = reg.read_frame("admin_areas", columns=["adcode", "name"])
    return {str(r.adcode): str(r.name) for r in frame.itertuples()}


def _compute(ctx: Context) -> Glance:
    reg = ctx.registry
    layers: list[dict[str, Any]] = []
    per: dict[str, dict[str, int]] = {}
    for lay in resource_layers(ctx):
        by_division = reg.count_by_division(lay.name, TOWNSHIP_DIGITS) if lay.has_field("adcode") else {}
        count = sum(by_division.values()) if lay.has_field("adcode") else reg.count(lay.name)
        layers.append({"name": lay.name, "title_zh": lay.title_zh, "title_en": lay.title_en, "count": count})
        for code, n in by_division.items():
            per.setdefault(code, {})[lay.name] = n
    names = _township_names(ctx)
    townships = [{"code": code, "name": names.get(code), "counts": counts, "total": sum(counts.values())}
                 for code, counts in sorted(per.items())]
    totals = {lay["name"]: lay["count"] for lay in layers}
    changes = []
    for c in reg.history(limit=CHANGES, newest_first=True):
        state = c.after or c.before or {}
        props = state.get("properties", state) if isinstance(state, dict) else {}
        layer = reg.layers.get(c.layer)
        changes.append({"layer": c.layer, "title_zh": layer.title_zh if layer else c.layer,
                        "title_en": layer.title_en if layer else c.layer, "uuid": c.uuid, "op": c.op,
                        "name": props.get("name") if isinstance(props, dict) else None, "at": c.at,
                        "author": c.author, "versioned": bool(layer and layer.versioned and c.op != "load"),
                        "in_use": c.op != "retire"})
    return Glance(layers, townships, totals, changes)


def glance(ctx: Context) -> Glance:
    """The figures of the registry as it is now (kept per process until the registry changes)."""
    key = (str(ctx.config.registry_path), ctx.reader.stamp())
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    found = _compute(ctx)
    with _lock:
        _cache[key] = found
        while len(_cache) > _CACHE_ENTRIES:
            _cache.popitem(last=False)
    return found


def worded_changes(g: Glance, lang: str, personal: bool) -> list[dict[str, Any]]:
    """The latest changes as the page shows them: local time, the operation in words, the layer's title; the
    author (a member of staff) only to those who may see personal data."""
    out = []
    for c in g.changes:
        out.append({**c, "title": c["title_en"] if lang == "en" else c["title_zh"],
                    "op_text": OPS[lang].get(c["op"], c["op"]), "when": local_time(c["at"]),
                    "author": c["author"] if personal else None})
    return out
