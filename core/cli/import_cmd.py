"""``rallypoint import``: GeoPackage, GeoJSON, Shapefile or CSV into a registry, checked, all or nothing."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..exchange.apply import apply_import
from ..exchange.importer import describe_choices, plan_import, plan_to_dict
from ..exchange.manifest import verify_export
from .common import RegistryLocation, author_option, console, err_console, open_registry, parse_assignments

SHOWN = 200


def _pairs(values: tuple[str, ...], hint: str) -> dict:
    out = {}
    for v in values:
        if "=" in v:
            src, target = v.split("=", 1)
            out[src] = target
        else:
            out[None] = v
    return out


@click.command("import")
@click.argument("registry", type=RegistryLocation(exists=True))
@click.argument("source", type=click.Path(dir_okay=False, exists=True))
@click.option("--profile", help="Mapping profile to use (default: the layer's own fields, or the profile that fits).")
@click.option("--adcode", help="Division code for records that have none (foreign data): the receiving bureau's. "
              "Records with a code of their own keep it (--set adcode=… replaces every code).")
@click.option("--option", "opts", multiple=True, metavar="KEY=VALUE", help="A value a profile asks for.")
@click.option("--set", "sets", multiple=True, metavar="FIELD=VALUE", help="Set a field on every imported feature.")
@click.option("--layer", "layers", multiple=True, metavar="[SOURCE=]TARGET",
              help="Import source layer SOURCE (or the only one) into TARGET, a layer or a profile name.")
@click.option("--crs", help="CRS of coordinates where the file declares none (CSV, a Shapefile without .prj) or one "
              "that places nothing on the earth (an undefined or local engineering CRS).")
@click.option("--id-field", help="Source field whose value makes each feature's stable UUID (when it has none).")
@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
@click.option("--quarantine", type=click.Path(dir_okay=False),
              help="Import what passes and write refused features to this GeoPackage (with rp_reason).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), help="Write the full report as JSON.")
@click.option("--verbose", "-v", is_flag=True, help="List every change, not only the first 200.")
@author_option
def import_(registry, source, profile, adcode, opts, sets, layers, crs, id_field, dry_run, quarantine, report_path,
            verbose, author):
    """Import SOURCE (GeoPackage, GeoJSON, Shapefile, CSV) into REGISTRY.

    Features are matched on their stable UUID (made from the source's own id by the
    mapping profile when the file has none), so importing the same file again changes
    nothing. Every feature is checked as any edit is; one refused feature and nothing
    is written (or, with --quarantine, the rest is written and the refused ones are
    set aside). --dry-run reports the same without writing.
    """
    options = parse_assignments(opts)
    if adcode:
        options["adcode"] = adcode
    with open_registry(registry) as reg:
        plan = plan_import(reg, source, profile=profile, options=options, sets=parse_assignments(sets),
                           layer_map=_pairs(layers, "--layer"), crs=crs, id_field=id_field)
        if plan.source.export_info is not None:
            for line in verify_export(source):
                plan.notes.append(f"manifest: {line}")
        result = apply_import(reg, plan, author=author, dry_run=dry_run, quarantine=quarantine)
    for line in describe_choices(plan):
        console.print(f"  {line}", markup=False)
    for name, why in plan.skipped:
        console.print(f"  skipped {name}: {why}", markup=False)
    for note in plan.notes:
        console.print(f"  note: {note}", markup=False)
    for warning in plan.warnings:
        err_console.print(f"  warning: {warning}", markup=False)
    changes = plan.changes
    for f in changes[: None if verbose else SHOWN]:
        if f.op == "insert":
            console.print(f"  + {f.layer} {f.uuid} {f.label}", markup=False)
        else:
            console.print(f"  {'~' if f.op == 'update' else f.op} {f.layer} {f.uuid} {f.label}", markup=False)
            for k, (old, new) in f.changes.items():
                console.print(f"      {k}: {old!r} → {new!r}", markup=False)
    if len(changes) > SHOWN and not verbose:
        console.print(f"  … and {len(changes) - SHOWN} more changes (--verbose or --report)")
    for f in result.refused[: None if verbose else SHOWN]:
        err_console.print(f"  refused {f.label}: {f.reason}", markup=False)
    if len(result.refused) > SHOWN and not verbose:
        err_console.print(f"  … and {len(result.refused) - SHOWN} more refused (--verbose or --report)")
    counts = result.counts
    summary = ", ".join(f"{n} {op}" for op, n in counts.items() if n)
    if report_path:
        data = plan_to_dict(plan)
        data.update(applied=result.applied, dry_run=dry_run,
                    quarantine=str(result.quarantine) if result.quarantine else None)
        Path(report_path).write_text(json.dumps(data, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    if dry_run:
        verdict = " (would be refused: nothing would be written)" if result.refused and not quarantine else ""
        console.print(f"Dry run{verdict}: {summary or 'no changes'}.")
        if result.refused and not quarantine:
            raise SystemExit(1)
    elif result.applied:
        console.print(f"[green]Imported[/]: {summary or 'no changes'}."
                      + (f" Refused features are in {result.quarantine}." if result.quarantine else ""))
    else:
        err_console.print(f"[bold red]Refused[/]: {len(result.refused)} feature(s) refused, nothing was written "
                          "(--quarantine imports the rest).")
        raise SystemExit(1)
