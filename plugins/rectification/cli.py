"""``rallypoint rectification``: the hazard rectification ledger on the command line."""

from __future__ import annotations

import click

from rallypoint.cli.common import (
    RallypointGroup,
    author_option,
    console,
    err_console,
    lang_option,
    open_registry,
    parse_assignments,
    print_json,
    registry_argument,
)

from .ledger import LAYER, STATES
from .report import COUNT_COLUMNS, LISTS, rows_of

set_option = click.option("--set", "assignments", multiple=True, metavar="FIELD=VALUE",
                          help="Any other field of the record (repeatable).")
as_of_option = click.option("--as-of", default="", help="Reporting date, YYYY-MM-DD (default: today in China).")
township_option = click.option("--township", default="", help="Only townships whose code starts with this.")


def _echo_written(written, what: str) -> None:
    f = written.feature
    click.echo(f"{what} {f.uuid} (state {f.properties['state']}, version {f.version})")
    for notice in written.notices:
        err_console.print(f"[yellow]Note:[/] {notice}", highlight=False)


@click.group("rectification", cls=RallypointGroup,
             help="The hazard rectification ledger (隐患排查治理台账): records, state changes, lists and rates.")
def rectification() -> None:
    pass


@rectification.command("init")
@registry_argument
def init(registry: str) -> None:
    """Add the ledger's table to a registry made before the plugin was installed."""
    with open_registry(registry) as reg:
        added = reg.add_layers([LAYER])
    click.echo(f"{LAYER}: added to {registry}" if added else f"{LAYER}: {registry} has it already")


@rectification.command("add")
@registry_argument
@click.argument("hazard_uuid")
@click.option("--problem", required=True, help="What was found wrong (隐患问题).")
@click.option("--found-by", required=True, help="Who found it (排查人).")
@click.option("--unit", "responsible_unit", required=True, help="The unit responsible for the rectification.")
@click.option("--deadline", required=True, help="Rectify by this date, YYYY-MM-DD (整改时限).")
@click.option("--found-on", "found_at", default=None, help="Date found, YYYY-MM-DD (default: today in China).")
@click.option("--measures", default=None, help="The rectification measures (整改措施).")
@set_option
@author_option
def add(registry, hazard_uuid, problem, found_by, responsible_unit, deadline, found_at, measures, assignments,
        author) -> None:
    """Add a record for the hazard point HAZARD_UUID (state: found). A deadline already passed is accepted
    and reported: the record is overdue at once."""
    from .records import add_record

    values = {"hazard_uuid": hazard_uuid, "problem": problem, "found_by": found_by,
              "responsible_unit": responsible_unit, "deadline": deadline, "measures": measures,
              **parse_assignments(assignments)}
    if found_at:
        values["found_at"] = found_at
    with open_registry(registry) as reg:
        written = add_record(reg, {k: v for k, v in values.items() if v is not None}, author=author)
    _echo_written(written, "added")


@rectification.command("advance")
@registry_argument
@click.argument("record_uuid")
@click.argument("state", type=click.Choice(STATES))
@click.option("--on", default=None, help="Date of the step(s), YYYY-MM-DD (default: today in China).")
@click.option("--by", default=None, help="Who verified or closed (default: the author).")
@click.option("--if-version", type=int, default=None, help="Refuse if the record is no longer at this version.")
@set_option
@author_option
def advance_cmd(registry, record_uuid, state, on, by, if_version, assignments, author) -> None:
    """Move record RECORD_UUID to STATE: found, rectifying, rectified, verified or closed (or back to
    rectifying after a failed verification). A change that is not allowed is refused and writes nothing."""
    from .records import advance

    with open_registry(registry) as reg:
        written = advance(reg, record_uuid, state, author=author, on=on, by=by,
                          values=parse_assignments(assignments), expected_version=if_version)
    _echo_written(written, "advanced")


def _frame(registry: str, as_of: str, township: str):
    from rallypoint.analysis import AnalysisError

    from .analysis import as_of_date
    from .report import ledger_frame, township_names

    with open_registry(registry) as reg:
        try:
            day = as_of_date(as_of, reg)
        except AnalysisError as exc:
            raise click.BadParameter(str(exc), param_hint="--as-of") from None
        if LAYER not in reg.layers:
            raise click.ClickException(f"{registry} has no rectification ledger ('rallypoint rectification init')")
        return day, ledger_frame(reg, day, township=township), township_names(reg)


def _show(rows: list[dict], cols, heads, title: str, doc: dict | None) -> None:
    """Print ``doc`` as JSON if given, else ``rows`` as a table of ``cols`` headed ``heads``."""
    from rich.table import Table

    if doc is not None:
        print_json(doc)
        return
    table = Table(title=title)
    for c, h in zip(cols, heads):
        table.add_column(h, justify="right" if c in COUNT_COLUMNS or c == "rate_pct" else "left")
    for r in rows:  # the rate with its two promised decimals (100.00, not 100.0)
        table.add_row(*("" if r[c] is None else f"{r[c]:.2f}" if c == "rate_pct" else str(r[c]) for c in cols))
    console.print(table)


@rectification.command("list")
@registry_argument
@click.option("--list", "which", type=click.Choice(LISTS), default="open", show_default=True)
@as_of_option
@township_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_cmd(registry, which, as_of, township, as_json) -> None:
    """The open, overdue, closed (or all) records, by township."""
    from .report import select

    day, frame, _ = _frame(registry, as_of, township)
    cols = ["township", "hazard_name", "uuid", "state", "deadline", "progress", "responsible_unit", "problem"]
    rows = rows_of(select(frame, which)[cols])
    doc = {"list": which, "as_of": day, "count": len(rows), "records": rows} if as_json else None
    _show(rows, cols, cols, f"{which} · {day} · {len(rows)}", doc)


@rectification.command("report")
@registry_argument
@as_of_option
@township_option
@lang_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def report_cmd(registry, as_of, township, lang, as_json) -> None:
    """Records, open, overdue, closed and rectified per township, and the rectification rate."""
    from .page import HEADINGS
    from .report import township_table

    day, frame, names = _frame(registry, as_of, township)
    table = township_table(frame, names)
    rows, lang = rows_of(table), lang or "zh"
    title = f"{'隐患整改统计' if lang == 'zh' else 'Hazard rectification'} · {day}"
    heads = {**HEADINGS[lang], "rate_pct": HEADINGS[lang]["rate_pct"] + ("（%）" if lang == "zh" else " (%)")}
    _show(rows, list(table.columns), [heads[c] for c in table.columns], title,
          {"as_of": day, "townships": rows} if as_json else None)
