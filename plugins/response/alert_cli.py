"""``rallypoint alert``: a warning to an area (CAP 1.2 or GeoJSON) → the response sheet, the notification list
(CSV for SMS tools and a page) and the first report, at once."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("alert")
@click.argument("registry", type=click.Path(dir_okay=False, exists=True))
@click.argument("alert_file", type=click.Path(dir_okay=False, exists=True, allow_dash=True))
@click.option("--incident", default=None, help="flood, landslide, hazmat, earthquake or fire (default: from the "
              "alert's event; needed for a GeoJSON area).")
@click.option("--crs", "area_crs", default=None, help="CRS of a GeoJSON area (default EPSG:4490; a CAP alert is "
              "always WGS 84).")
@click.option("--days", type=int, default=None, help="Days of supply (default 3).")
@click.option("--set", "extra", multiple=True, metavar="NAME=VALUE",
              help="Any other parameter of the response sheet (rallypoint analyse response --help lists them).")
@click.option("--as-of", "as_of", default=None, help="The time the report is made (default now; local time when "
              "no zone is given): expiry and the 30-minute deadline are judged at it.")
@click.option("--allow-expired", is_flag=True, help="Make the sheet for an expired alert too (e.g. to review it).")
@click.option("--no-personal", is_flag=True, help="Leave out personal data (names and phones of the persons).")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Folder for the outputs (default: REGISTRY_alert beside the registry).")
@click.option("--lang", type=click.Choice(["zh", "en", "both"]), default="zh", help="Language of the page, the "
              "CSV headers, the first report and the card (default zh).")
@click.option("--pdf/--no-pdf", default=False, help="Also print the page and the card to PDF (headless Chromium).")
def alert(registry, alert_file, incident, area_crs, days, extra, as_of, allow_expired, no_personal, out, lang, pdf):
    """A warning to an area (“两个直达”): reads a CAP 1.2 alert (<area> with <polygon>, <circle> or a division
    code as <geocode>) or a GeoJSON area, and writes at once the response sheet of the area (sheet_LANG.html,
    sheet.gpkg), the notification list — the responsible persons in the area (contacts_LANG.csv, UTF-8 for
    Excel and SMS tools) and the people and households by township and village (people_LANG.csv) — the page
    with all of it (alert_LANG.html) and the first report (first_report_LANG.txt), due within 30 minutes.
    A Cancel, a Test or an expired alert is refused with the reason."""
    from rallypoint import Registry
    from rallypoint.analysis import AnalysisError, write_result
    from rallypoint.errors import RallypointError

    from .alert_page import csv_list, render
    from .alert_run import run_alert
    from .first_report import text
    from rallypoint_plugins.reporting.pdf import html_to_pdf

    data = click.get_binary_stream("stdin").read() if alert_file == "-" else Path(alert_file).read_bytes()
    raw = {"incident": incident, "area_crs": area_crs, "days": days, "as_of": as_of,
           "allow_expired": "true" if allow_expired else None}
    for item in extra:
        name, eq, value = item.partition("=")
        if not eq:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--set")
        raw[name.strip()] = value
    folder = Path(out) if out else Path(registry).with_name(f"{Path(registry).stem}_alert")
    langs = ("zh", "en") if lang == "both" else (lang,)
    try:
        with Registry.open(registry) as reg:
            outcome = run_alert(reg, data, raw, personal=not no_personal)
        folder.mkdir(parents=True, exist_ok=True)
        write_result(outcome.result, folder / "sheet.gpkg")
        for code in langs:
            card = outcome.result.report(code)
            files = {f"alert_{code}.html": render(outcome, code, card).encode("utf-8"),
                     f"sheet_{code}.html": card.encode("utf-8"),
                     f"first_report_{code}.txt": text(outcome, code).encode("utf-8"),
                     f"contacts_{code}.csv": csv_list(outcome, "contacts", code),
                     f"people_{code}.csv": csv_list(outcome, "people", code)}
            for name, body in files.items():
                (folder / name).write_bytes(body)
            if pdf:
                for name in (f"alert_{code}", f"sheet_{code}"):
                    html_to_pdf((folder / f"{name}.html").read_text(encoding="utf-8"), folder / f"{name}.pdf")
    except (AnalysisError, RallypointError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(text(outcome, langs[0]))
    for en, zh in outcome.notes:
        click.echo(f"! {zh if langs[0] == 'zh' else en}")
    text = getattr(outcome.result.warnings, "text", lambda en, lang: en)
    for w in outcome.result.warnings:
        click.echo(f"! {text(w, langs[0])}")
    click.echo(f"Responsible persons: {len(outcome.notice.contacts)}; townships and villages: "
               f"{len(outcome.notice.areas)}" + ("" if outcome.notice.personal else " (personal data left out)"))
    click.echo(f"Written: {folder}")
