"""``rallypoint validate``: check a registry file and report every problem."""

from __future__ import annotations

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from ..check import check_registry
from .common import RegistryLocation, console, err_console


@click.command()
@click.argument("registry", type=RegistryLocation())
@click.option("--no-gdal", is_flag=True, help="Skip GDAL's own GeoPackage validator.")
def validate(registry, no_gdal):
    """Check REGISTRY: GeoPackage conformance (or a PostGIS registry's tables and triggers), layers,
    every feature, the history.

    Exits with status 1 and lists every problem (layer, feature, field, what is
    wrong) if there is any; changes nothing.
    """
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=err_console, transient=True) as bar:
        tasks: dict[str, int] = {}

        def progress(layer: str, done: int, total: int) -> None:
            if layer not in tasks:
                tasks[layer] = bar.add_task(f"checking {layer}", total=total)
            bar.update(tasks[layer], completed=done)

        problems = check_registry(registry, progress=progress, gdal=not no_gdal)
    if not problems:
        console.print(f"[green]OK[/]: {registry} is a sound registry.")
        return
    console.print(f"[bold red]{len(problems)} problem(s)[/] in {registry}:")
    for p in problems:
        console.print(f"  • {p}", markup=False)
    raise SystemExit(1)
