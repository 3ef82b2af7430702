"""``rallypoint layers``: the layer definitions, for people."""

from __future__ import annotations

import click
from rich.table import Table

from ..schema import builtin_layers
from .common import console


@click.command()
@click.argument("layer", required=False)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
def layers(layer: str | None, lang: str) -> None:
    """List the layers, or the fields of LAYER with types, units, allowed values and aliases."""
    defs = builtin_layers()
    if layer is None:
        t = Table("layer", "kind", "geometry", "title", "fields")
        for d in defs.values():
            t.add_row(d.name, d.kind, d.geometry, d.title(lang), str(len(d.fields)))
        console.print(t)
        return
    if layer not in defs:
        raise click.BadParameter(f"no layer {layer!r} (layers: {', '.join(defs)})", param_hint="LAYER")
    d = defs[layer]
    t = Table(title=f"{d.name}: {d.title(lang)}")
    for i, head in enumerate(("field", "type", "alias", "required", "unit / range", "allowed values", "personal")):
        t.add_column(head, no_wrap=i in (0, 2))  # names and aliases are what people look up: never cut them
    for f in d.fields:
        rng = " ".join(x for x in [f.unit or "", "" if f.min is None and f.max is None else f"[{f.min}, {f.max}]"] if x)
        t.add_row(f.name, f.type + (" (set by registry)" if f.system else ""), f.alias(lang),
                  "yes" if f.required else "", rng, ", ".join(f.codes), "yes" if f.personal else "")
    console.print(t)
