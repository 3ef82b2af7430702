"""``rallypoint accounts``: staff accounts that sign in to the web portal in a browser (add, list, password,
disable).

Only an argon2 hash of each password is kept, in the registry's ``rp_accounts`` table (in the GeoPackage file,
or in the PostGIS database). The password is asked for twice without echo, or read from standard input with
``--password-stdin`` (its first line), never taken from the command line where other users could see it.
"""

from __future__ import annotations

import sys

import click
from rich.table import Table

from ..api.accounts import add_account, disable_account, list_accounts, set_password
from ..api.auth import ROLES
from .common import console, err_console, open_registry, registry_argument

password_stdin = click.option("--password-stdin", is_flag=True,
                              help="Read the password from standard input (its first line) instead of asking.")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@click.group()
def accounts():
    """Staff accounts of the web portal: each signs in with a name and password and has a role, as keys do.

    \b
    Roles: reader (sees personal data, runs analyses), editor (also writes), admin.
    Anonymous visitors read everything but personal data.
      rallypoint accounts add county.gpkg zhang.wei --role editor     # asks for the password twice
      rallypoint accounts list county.gpkg
      rallypoint accounts password county.gpkg zhang.wei
      rallypoint accounts disable county.gpkg zhang.wei                # also ends their sessions
    """


@accounts.command("add")
@registry_argument
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), default="reader", show_default=True)
@password_stdin
def add(registry, name, role, password_stdin):
    """Make an account for NAME (who is also the author of their edits)."""
    password = _password(password_stdin)
    with open_registry(registry) as reg:
        info = add_account(reg, name, role, password)
    err_console.print(f"Account [bold]{info.name}[/] ({info.role}) made; it signs in at the server's /signin.")


@accounts.command("list")
@registry_argument
def list_(registry):
    """List the accounts (never their passwords)."""
    with open_registry(registry) as reg:
        found = list_accounts(reg)
    t = Table("name", "role", "created", "disabled")
    for a in found:
        t.add_row(a.name, a.role, a.created_at, a.disabled_at or "")
    console.print(t if found else "No accounts yet (rallypoint accounts add REGISTRY NAME --role editor).")


@accounts.command("password")
@registry_argument
@click.argument("name")
@password_stdin
def password(registry, name, password_stdin):
    """Give NAME's account a new password (their sessions go on until they sign out or expire)."""
    new = _password(password_stdin)
    with open_registry(registry) as reg:
        set_password(reg, name, new)
    console.print(f"New password set for {name}.")


@accounts.command("disable")
@registry_argument
@click.argument("name")
def disable(registry, name):
    """Disable NAME's account and end their sessions at once (it is kept: the history names its edits)."""
    with open_registry(registry) as reg:
        found = disable_account(reg, name)
    if found is None:
        raise click.ClickException(f"no account in use named {name!r}")
    console.print(f"Disabled the account of {found.name} ({found.role}); their sessions have ended.")
