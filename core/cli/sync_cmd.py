"""``rallypoint checkout / push / pull``: an offline copy of a served registry (or a PostGIS one), synced back."""

from __future__ import annotations

import click
from rich.table import Table

from ..sync import SyncReport, checkout as do_checkout, pull as do_pull, push as do_push
from .common import author_option, console, err_console

key_option = click.option("--key", envvar="RALLYPOINT_KEY", default=None, show_envvar=True,
                          help="API key of the server. With a key of any role (reader, editor or admin) the copy "
                               "holds the personal data; without a key it holds none. Pushing needs an editor's key.")


def _show(report: SyncReport, what: str) -> None:
    t = Table(title=what, show_header=False)
    t.add_column(style="bold")
    t.add_column(justify="right")
    for label, n in (("created", report.created), ("updated", report.updated), ("retired", report.retired),
                     ("conflicts", len(report.conflicts)), ("errors", len(report.errors))):
        t.add_row(label, f"{n:,}")
    console.print(t)
    for c in report.conflicts:
        err_console.print(f"[yellow]conflict[/] {c}", markup=True, highlight=False)
    for e in report.errors:
        err_console.print(f"[red]error[/] {e}", highlight=False)


@click.command()
@click.argument("url")
@click.argument("out", type=click.Path(dir_okay=False))
@key_option
@author_option
@click.option("--with-reference", is_flag=True,
              help="Also copy the reference layers (areas, population, roads) so analyses run offline.")
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
def checkout(url, out, key, author, with_reference, force):
    """Copy the registry at URL into a new local file OUT, to edit offline.

    URL is a Rallypoint server (http://…), a PostGIS registry (postgresql://user@host/db: push
    and pull then write the database directly, a push in one transaction) or a registry file.
    A database's password is not kept in OUT: push and pull take it from PGPASSWORD or ~/.pgpass.
    """
    report = do_checkout(url, out, key=key, author=author, overwrite=force, with_reference=with_reference)
    _show(report, f"checked out {url} to {out}")


@click.command()
@click.argument("registry", type=click.Path(dir_okay=False, exists=True))
@key_option
@click.option("--author", default=None, help="Who pushes, for a check-out of a PostGIS registry or file "
              "(default: who checked out); a server names the key's holder.")
def push(registry, key, author):
    """Send the local changes of a check-out to its server or registry (conflicts are kept locally)."""
    report = do_push(registry, key=key, author=author)
    _show(report, f"pushed {registry}")
    if not report.ok:
        raise SystemExit(1)


@click.command()
@click.argument("registry", type=click.Path(dir_okay=False, exists=True))
@key_option
@author_option
def pull(registry, key, author):
    """Bring the server's changes into a check-out (features changed on both sides are conflicts)."""
    report = do_pull(registry, key=key, author=author)
    _show(report, f"pulled into {registry}")
    if not report.ok:
        raise SystemExit(1)
