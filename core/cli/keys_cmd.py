"""``rallypoint keys``: API keys for the web server (add, list, revoke).

Only a salted scrypt hash of each key is kept, in the registry's ``rp_api_keys`` table (in the
GeoPackage file, or in the PostGIS database); the key itself is printed once, when it is made.
"""

from __future__ import annotations

import click
from rich.table import Table

from ..api.auth import ROLES, add_key, list_keys, revoke_key
from .common import console, err_console, open_registry, registry_argument


def _connect(registry: str):
    return open_registry(registry)  # a clear error if it is not a registry; closed by `with`


@click.group()
def keys():
    """API keys of the web server: each has an owner (the author of their writes) and a role.

    \b
    Roles: reader (sees personal data, runs analyses), editor (also writes), admin.
    Anonymous users read everything but personal data.
    Wrong keys are limited (rallypoint serve --rate-limit-refused-keys, per address, and
    --rate-limit-refused-per-key, per key id, 10 a minute each): over a limit, wrong
    keys get 429; a valid key already in use is never refused.
      rallypoint keys add county.gpkg zhang.wei --role editor
      rallypoint keys list county.gpkg
      rallypoint keys revoke county.gpkg zhang.wei
      rallypoint keys add postgresql://owner@db.example/registry li.na --role admin
    """


@keys.command("add")
@registry_argument
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), default="reader", show_default=True)
def add(registry, name, role):
    """Make a key for NAME and print it, only this once, alone on standard output (KEY=$(rallypoint keys add …))."""
    with _connect(registry) as reg:
        key, info = add_key(reg, name, role)
    # the note on standard error, the key alone on standard output: KEY=$(rallypoint keys add …) keeps it
    err_console.print(f"API key for [bold]{info.name}[/] ({info.role}, id {info.id}). Keep it: it is not shown again.")
    click.echo(key)


@keys.command("list")
@registry_argument
def list_(registry):
    """List the keys (never the keys themselves)."""
    with _connect(registry) as reg:
        found = list_keys(reg)
    t = Table("id", "name", "role", "created", "revoked")
    for k in found:
        t.add_row(k.id, k.name, k.role, k.created_at, k.revoked_at or "")
    console.print(t if found else "No API keys yet (rallypoint keys add REGISTRY NAME --role editor).")


@keys.command("revoke")
@registry_argument
@click.argument("which")
def revoke(registry, which):
    """Revoke the key(s) with this id or owner name."""
    with _connect(registry) as reg:
        found = revoke_key(reg, which)
    if not found:
        raise click.ClickException(f"no key in use with id or name {which!r}")
    for k in found:
        console.print(f"Revoked key {k.id} of {k.name} ({k.role}).")
