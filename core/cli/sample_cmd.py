"""``rallypoint sample``: write the deterministic sample region."""

from __future__ import annotations

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .common import RegistryLocation, console, err_console


@click.command()
@click.argument("out", type=RegistryLocation())
@click.option("--size", type=click.Choice(["county", "city"]), default="county", show_default=True,
              help="county: a small region for tests and demos; city: 2,938 shelters, ~140,000 hazard points, "
                   "~1 million population cells, several hundred thousand road edges.")
@click.option("--seed", type=int, default=2938, show_default=True, help="Same seed, same region.")
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
def sample(out, size, seed, force):
    """Write a realistic, deterministic sample region to a new registry OUT (a file, or a PostGIS
    database's postgresql:// URL, written in one transaction)."""
    from ..sample import write_sample

    with Progress(TextColumn("{task.description:<14}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console) as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        counts = write_sample(out, size, seed, overwrite=force, progress=progress)
    from ..storage import location_label

    t = Table("layer", "features", title=f"{location_label(out)} ({size} sample, seed {seed})")
    for layer, n in counts.items():
        t.add_row(layer, f"{n:,}")
    console.print(t)
