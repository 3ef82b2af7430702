"""``rallypoint history``: who changed what, when."""

from __future__ import annotations

import click
from rich.table import Table

from .common import console, print_json, registry_argument


def _short(v) -> str:
    s = "" if v is None else str(v)
    return s if len(s) <= 40 else s[:37] + "…"


@click.command()
@registry_argument
@click.argument("layer", required=False)
@click.argument("uuid", required=False)
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Newest N changes.")
@click.option("--json", "as_json", is_flag=True, help="Print the changes with full before/after states as JSON.")
def history(registry, layer, uuid, limit, as_json):
    """The change history of the registry, of LAYER, or of one feature (newest first)."""
    from ..registry import Registry

    with Registry.open(registry) as reg:
        changes = reg.history(layer, uuid, limit=limit, newest_first=True)
        if as_json:
            print_json([c.__dict__ for c in changes])
            return
        t = Table("time (UTC)", "author", "op", "layer", "feature", "v", "what changed")
        for c in changes:
            if c.op == "load":
                what = f"{(c.after or {}).get('rows')} rows loaded"
            elif c.op == "insert":
                what = "created"
            else:
                diff = {k: v for k, v in c.changed_fields().items()
                        if k not in ("version", "updated_at", "updated_by")}
                what = "; ".join(f"{k}: {_short(a)} → {_short(b)}" for k, (a, b) in list(diff.items())[:4])
                if c.note:
                    what = f"{what} ({c.note})" if what else c.note
            t.add_row(c.at, c.author, c.op, c.layer, c.uuid, str(c.version), what)
        console.print(t)
