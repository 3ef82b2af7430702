"""``rallypoint conflicts list|resolve``: the merge conflicts a registry holds, and settling them."""

from __future__ import annotations

import click
from rich.table import Table

from ..errors import FeatureNotFoundError
from ..localtime import local_time, zone_name
from ..registry import MergeConflict, Registry
from .common import (
    author_option,
    console,
    display_value,
    geometry_from_options,
    lang_option,
    open_registry,
    parse_assignments,
    print_json,
    registry_argument,
)

def china_time(stamp: str | None) -> str:
    """A stored UTC time as the bureau's local time, saying which."""
    return f"{local_time(stamp)} ({zone_name()})" if stamp else ""


def _value(reg: Registry, c: MergeConflict, field: str, value, lang: str) -> str:
    if field == "geometry":
        return "" if value is None else "(geometry)"
    if not reg.layer(c.layer).has_field(field):
        return "" if value is None else str(value)
    return display_value(reg, c.layer, field, value, lang)


@click.group()
def conflicts():
    """The merge conflicts of a registry (features both sides changed differently): list, resolve.

    \b
    A merge keeps ours in the layer and theirs, whole, in the registry's rp_conflicts
    table. Resolving writes the state chosen as one new version of the feature (its
    history names who resolved it, when, and how) and marks the conflict resolved.
    """


@conflicts.command("list")
@registry_argument
@click.option("--resolved", is_flag=True, help="List the resolved conflicts (with how), not the open ones.")
@click.option("--all", "every", is_flag=True, help="List open and resolved conflicts.")
@click.option("--json", "as_json", is_flag=True, help="Print the conflicts as JSON.")
@click.option("--ids", "only_ids", is_flag=True,
              help="Only the ids, one a line, oldest first, for scripts: ID=$(rallypoint conflicts list R --ids | head -1)")
@lang_option
def list_conflicts(registry, resolved, every, as_json, only_ids, lang):
    """List the merge conflicts of REGISTRY (default: the open ones), oldest first.

    Each shows, for every field in conflict, the value of the common base, ours when the
    merge met it, theirs, and the feature's value now.
    """
    with open_registry(registry) as reg:
        found = reg.conflicts(resolved=None if every else resolved)
        if as_json:
            print_json([c.to_json() for c in found])
            return
        if only_ids:
            for c in found:
                click.echo(c.id)
            return
        lang = lang or reg.info.language
        if not found:
            console.print("No merge conflicts." if every else
                          "No resolved merge conflicts." if resolved else "No open merge conflicts.")
            return
        for c in found:
            try:
                now = reg.get(c.layer, c.uuid)
            except FeatureNotFoundError:
                now = None
            t = Table(title=f"#{c.id} · {c.layer} · {c.name or c.uuid} · {c.kind}", title_justify="left")
            for head in ("field", "base", "ours (when merged)", "theirs", "now"):
                t.add_column(head)
            for f, (b, o, th) in c.values().items():
                cur = None if now is None else (now.geometry.wkt[:40] if f == "geometry" and now.geometry is not None
                                                else now.properties.get(f))
                t.add_row(f, *(_value(reg, c, f, v, lang) for v in (b, o, th)),
                          "(geometry)" if f == "geometry" and cur else _value(reg, c, f, cur, lang))
            if not c.fields:
                t.add_row("retired_at", *(str((s or {}).get("properties", {}).get("retired_at") or "")
                                          for s in (c.base, c.ours, c.theirs)),
                          "" if now is None else str(now.properties.get("retired_at") or ""))
            console.print(t)
            click.echo(f"  feature {c.uuid}, now version {now.version if now else '?'}; theirs from "
                       f"{c.theirs_from or '?'}; found {china_time(c.detected_at)} by {c.detected_by}")
            if c.resolved:
                how = c.resolution or {}
                click.echo(f"  resolved {china_time(c.resolved_at)} by {how.get('by', '?')}: kept "
                           f"{how.get('keep', '?')}" + (f", set {how['set']}" if how.get("set") else "")
                           + (f" (version {how['version']})" if how.get("version") else ""))
        if not resolved and not every:
            click.echo(f"{len(found)} open conflict(s). Resolve one with: rallypoint conflicts resolve "
                       f"{registry} ID --keep ours|theirs [--set FIELD=VALUE]")


@conflicts.command("resolve")
@registry_argument
@click.argument("conflict_id", metavar="ID", type=int)
@click.option("--keep", type=click.Choice(["ours", "theirs"]), default=None,
              help="ours: the feature as it stands; theirs: their values of the fields in conflict (and their "
                   "feature retired or in use). With --set only, ours is kept for the fields not set.")
@click.option("--set", "assignments", multiple=True, metavar="FIELD=VALUE",
              help="A value chosen by hand for a field in conflict; repeat for several.")
@click.option("--geometry", metavar="WKT|GEOJSON", default=None, help="A geometry chosen by hand (EPSG:4490).")
@click.option("--if-version", type=int, default=None,
              help="Refuse if the feature is no longer at this version (someone changed it since you looked).")
@author_option
def resolve(registry, conflict_id, keep, assignments, geometry, if_version, author):
    """Resolve merge conflict ID of REGISTRY: keep ours, theirs, or values chosen with --set.

    \b
    One batch: the chosen state is written as a new version of the feature (in the
    history with --author and the time) and the conflict is marked resolved with how.
      rallypoint conflicts resolve county.gpkg 3 --keep theirs
      rallypoint conflicts resolve county.gpkg 4 --set address=示例县德桥镇梅水大道191号
    """
    values = parse_assignments(assignments)
    geom = geometry_from_options(None, geometry)
    if geom is not None:
        values["geometry"] = geom
    if keep is None and not values:
        raise click.UsageError("say what to keep: --keep ours, --keep theirs, or --set FIELD=VALUE")
    with open_registry(registry) as reg:
        c, feat = reg.resolve_conflict(conflict_id, keep=keep or "ours", values=values, author=author,
                                       expected_version=if_version)
        how = c.resolution or {}
        click.echo(f"Resolved conflict #{c.id} ({c.layer} {c.uuid}): kept {how.get('keep')}"
                   + (f", set {', '.join(how.get('set') or {})}" if how.get("set") else "")
                   + f"; now version {feat.version}.")
