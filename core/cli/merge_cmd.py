"""``rallypoint merge``: apply another bureau's changes since a common base; conflicts are kept, never dropped."""

from __future__ import annotations

import json

import click

from ..exchange.merge import merge_registries
from .common import RegistryLocation, author_option, console, err_console


def _show(value) -> str:
    return value.wkt[:60] if hasattr(value, "wkt") else repr(value)


@click.command("merge")
@click.argument("ours", type=RegistryLocation(exists=True))
@click.argument("theirs", type=RegistryLocation(exists=True))
@click.option("--base", required=True, type=RegistryLocation(exists=True),
              help="The common base: the export both sides started from.")
@click.option("--layers", help="Comma-separated layers to merge (default: all resource layers and the stock).")
@click.option("--dry-run", is_flag=True, help="Report what would be applied and every conflict; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Write the result as JSON.")
@author_option
def merge(ours, theirs, base, layers, dry_run, as_json, author):
    """Merge into OURS the changes THEIRS made since BASE, feature by feature on UUID.

    What only they changed is applied; fields only they changed are applied even where
    we changed others. Where both changed the same field differently, or one retired
    what the other edited, ours stays and theirs is kept whole in the rp_conflicts table
    (`rallypoint conflicts list OURS`, then `rallypoint conflicts resolve`). Any of the three may be a PostGIS registry's postgresql:// URL.
    """
    wanted = [p.strip() for p in layers.split(",")] if layers else None
    result = merge_registries(ours, theirs, base, author=author, dry_run=dry_run, layers=wanted)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2, default=str))
        return
    for note in result.notes:
        console.print(f"  note: {note}", markup=False)
    for c in result.applied:
        console.print(f"  {c.op:8} {c.layer} {c.uuid} {c.name or ''}", markup=False)
    for c in result.conflicts:
        err_console.print(f"  CONFLICT {c.kind} {c.layer} {c.uuid} {c.name or ''}"
                          + ("" if c.recorded else " (already recorded)"), markup=False)
        for k, (b, o, t) in c.fields.items():
            err_console.print(f"      {k}: base {_show(b)}, ours {_show(o)}, theirs {_show(t)}", markup=False)
    counts = ", ".join(f"{n} {op}" for op, n in result.counts().items() if n)
    prefix = "Dry run" if dry_run else "Merged"
    console.print(f"{prefix}: {counts or 'nothing to do'}."
                  + (" Conflicts: ours kept in the layers, theirs in rp_conflicts: `rallypoint conflicts list` shows "
                     "them, `rallypoint conflicts resolve` settles each." if result.conflicts else ""))
