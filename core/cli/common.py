"""What the commands share: opening a registry, reading options, printing, errors."""

from __future__ import annotations

import getpass
import json
import os
import re
import sys
from typing import Any, Iterable

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..errors import RallypointError, ValidationError
from ..registry import Feature, Registry
from ..storage import is_postgres_url

console = Console(highlight=False)
# errors are never broken into lines: a path or a value in them stays whole, to copy (and to match)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


class RallypointGroup(click.Group):
    """A click group that turns Rallypoint's errors into a clear message and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ValidationError as exc:
            err_console.print(f"[bold red]Refused:[/] {len(exc.problems)} problem(s); nothing was written.")
            for p in exc.problems[:50]:
                err_console.print(f"  • {p}", markup=False)
            if len(exc.problems) > 50:
                err_console.print(f"  … and {len(exc.problems) - 50} more")
            ctx.exit(1)
        except RallypointError as exc:
            err_console.print(Text("Error: ", style="bold red") + Text(str(exc)))
            ctx.exit(1)


def default_author() -> str:
    return os.environ.get("RALLYPOINT_AUTHOR") or getpass.getuser()


author_option = click.option(
    "--author", default=default_author, show_default="$RALLYPOINT_AUTHOR or your user name",
    help="Who makes the change (recorded in the history).")

class RegistryLocation(click.ParamType):
    """A registry file (which must exist if ``exists``), or a PostGIS registry's ``postgresql://`` URL as given."""

    name = "registry"

    def __init__(self, exists: bool = False):
        self._path = click.Path(dir_okay=False, exists=exists)

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        if is_postgres_url(value):
            return value
        return self._path.convert(value, param, ctx)


registry_argument = click.argument("registry", type=RegistryLocation())
lang_option = click.option("--lang", type=click.Choice(["zh", "en"]), default=None,
                           help="Language of labels (default: the registry's).")


def open_registry(path: str) -> Registry:
    return Registry.open(path)


def parse_assignments(pairs: Iterable[str]) -> dict[str, Any]:
    """``--set name=value`` pairs into a dict; an empty value clears the field."""
    out: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise click.BadParameter(f"{pair!r} is not name=value", param_hint="--set")
        key, value = pair.split("=", 1)
        out[key.strip()] = value
    return out


_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")  # decimal: no nan, inf, 1_000 or 0x10


def geometry_from_options(at: str | None, geometry: str | None) -> Any:
    if at and geometry:
        raise click.UsageError("give either --at or --geometry, not both")
    if at:
        parts = [v.strip() for v in at.split(",")]
        bad = [v for v in parts if not _NUMBER.fullmatch(v)]
        if len(parts) != 2 or bad:
            why = f"{bad[0]!r} is not a number" if bad else f"{len(parts)} value(s)"
            raise click.BadParameter(f"{at!r} is not X,Y: two numbers such as 104.06,30.66 ({why})",
                                     param_hint="--at")
        x, y = (float(v) for v in parts)
        return {"type": "Point", "coordinates": [x, y]}
    if geometry == "-":
        return sys.stdin.read()
    return geometry


def label(reg: Registry, layer: str, field: str, lang: str) -> str:
    f = reg.layer(layer).field(field)
    return f.alias(lang)


def display_value(reg: Registry, layer: str, field: str, value: Any, lang: str) -> str:
    if value is None:
        return ""
    f = reg.layer(layer).field(field)
    if f.values:
        codes = str(value).split(",") if f.type == "codes" else [str(value)]
        return "、".join((f.value(c).label(lang) if f.value(c) else c) for c in codes) if lang == "zh" else \
            ", ".join((f.value(c).label(lang) if f.value(c) else c) for c in codes)
    if f.type == "boolean":
        return ("是" if value else "否") if lang == "zh" else ("yes" if value else "no")
    text = str(value)
    if f.unit and f.type in ("integer", "real"):
        text = f"{value:g} {f.unit}" if isinstance(value, float) else f"{value} {f.unit}"
    return text


#: how a field the registry has no column for is shown (an export without personal data): never as empty
NOT_HELD = {"zh": "（本登记库未包含此字段）", "en": "(not held in this registry)"}


def feature_table(reg: Registry, feat: Feature, lang: str) -> Table:
    ldef = reg.definition(feat.layer)
    absent = set(reg.absent_fields(feat.layer))
    t = Table(title=f"{ldef.title(lang)} · {feat.properties.get('name') or feat.uuid}", show_header=False)
    t.add_column(style="bold")
    t.add_column()
    for f in ldef.fields:
        if f.name in absent:
            t.add_row(f"{f.alias(lang)} ({f.name})", Text(NOT_HELD[lang], style="dim italic"))
            continue
        t.add_row(f"{f.alias(lang)} ({f.name})", display_value(reg, feat.layer, f.name, feat.properties.get(f.name), lang))
    if feat.geometry is not None:
        t.add_row("geometry", feat.geometry.wkt if len(feat.geometry.wkt) < 200 else feat.geometry.wkt[:200] + "…")
    return t


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))
