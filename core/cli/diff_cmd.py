"""``rallypoint diff A B``: inserts, field-by-field updates and retirements between two registries or exports."""

from __future__ import annotations

import json

import click

from ..exchange.diff import diff_registries
from ..exchange.snapshots import as_files
from .common import RegistryLocation, console


@click.command("diff")
@click.argument("a", type=RegistryLocation(exists=True))
@click.argument("b", type=RegistryLocation(exists=True))
@click.option("--layers", help="Comma-separated layers to compare (default: every resource layer and the stock).")
@click.option("--stamps", is_flag=True, help="Also compare version and created/updated stamps.")
@click.option("--engine", type=click.Choice(["uuid", "geodiff"]), default="uuid", show_default=True,
              help="Find changed rows by UUID (any two files), or with geodiff (same fids; falls back when not).")
@click.option("--json", "as_json", is_flag=True, help="Write the changes as JSON.")
@click.option("--exit-code", is_flag=True, help="Exit with status 1 when there are differences.")
def diff(a, b, layers, stamps, engine, as_json, exit_code):
    """List what changed from A to B, matched on UUID: inserts, updates (field by field), retirements.

    A feature missing from B is listed as absent (an export may hold a subset), not as retired.
    A or B may be a PostGIS registry's URL.
    """
    wanted = [p.strip() for p in layers.split(",")] if layers else None
    with as_files(a, b) as (file_a, file_b):  # a PostGIS registry is compared through a snapshot
        result = diff_registries(file_a, file_b, layers=wanted, stamps=stamps, engine=engine)
    if as_json:
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2, default=str))
    else:
        for note in result.notes:
            console.print(f"  note: {note}", markup=False)
        marks = {"insert": "+", "update": "~", "retire": "-", "restore": "↺", "absent": "?"}
        for c in result.changes:
            console.print(f"{marks[c.op]} {c.op:8} {c.layer} {c.uuid} {c.name or ''}", markup=False)
            if c.op != "insert":
                for k, (old, new) in c.fields.items():
                    console.print(f"      {k}: {old!r} → {new!r}", markup=False)
        counts = ", ".join(f"{n} {op}" for op, n in result.counts().items() if n)
        console.print(f"{counts or 'No differences'} ({result.engine}).")
    if exit_code and not result.empty:
        raise SystemExit(1)
