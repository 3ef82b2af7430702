"""``rallypoint sheet``: the response card for an incident area, as HTML (zh and en), PDF and GeoPackage."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("sheet")
@click.argument("registry", type=click.Path(dir_okay=False, exists=True))
@click.option("--area", "area", default=None,
              help="The incident area: a GeoJSON file or text (Polygon, MultiPolygon, Feature or FeatureCollection).")
@click.option("--point", default=None, help="Or the incident point 'x,y' (with --radius).")
@click.option("--radius", "radius_m", type=float, default=None, help="Evacuation radius (m) around --point or "
              "--hazard; for a hazard point, the radius of its type when left out.")
@click.option("--hazard", "hazard_uuid", default=None, help="Or the UUID of a hazard point at the centre.")
@click.option("--crs", "area_crs", default=None, help="CRS of --area and --point (default EPSG:4490).")
@click.option("--incident", default=None, help="flood, landslide, hazmat, earthquake or fire (default: from the "
              "hazard point's type).")
@click.option("--days", type=int, default=None, help="Days of supply (default 3).")
@click.option("--set", "extra", multiple=True, metavar="NAME=VALUE",
              help="Any other parameter of the analysis (rallypoint analyse response --help lists them).")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Folder for the card (default: REGISTRY_sheet beside the registry).")
@click.option("--lang", type=click.Choice(["zh", "en", "both"]), default="both", help="Language(s) of the card.")
@click.option("--pdf/--no-pdf", default=True, help="Also print the card to PDF with headless Chromium.")
def sheet(registry, area, point, radius_m, hazard_uuid, area_crs, incident, days, extra, out, lang, pdf):
    """The incident response sheet (预案卡片化) for an area: people and households inside, hazard points, shelters
    to open and who goes where, teams and their arrival, supplies for the days, helipads. Writes sheet.gpkg,
    sheet_zh.html / sheet_en.html and their PDFs into --out; run it again as the area changes."""
    from rallypoint import Registry
    from rallypoint.analysis import AnalysisError, run_analysis, write_result
    from rallypoint.errors import RallypointError
    from rallypoint.plugins import default_plugin_manager

    from rallypoint_plugins.reporting.pdf import html_to_pdf

    raw = {"area": _area_text(area) if area else None, "point": point, "radius_m": radius_m,
           "hazard_uuid": hazard_uuid, "area_crs": area_crs, "incident": incident, "days": days}
    for item in extra:
        name, eq, value = item.partition("=")
        if not eq:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--set")
        raw[name.strip()] = value
    raw = {k: v for k, v in raw.items() if v is not None}
    folder = Path(out) if out else Path(registry).with_name(f"{Path(registry).stem}_sheet")
    try:
        with Registry.open(registry) as reg:
            result = run_analysis(reg, default_plugin_manager(), "response", raw, lang="zh")
        folder.mkdir(parents=True, exist_ok=True)
        write_result(result, folder / "sheet.gpkg")
        for code in (("zh", "en") if lang == "both" else (lang,)):
            page = result.report(code)
            (folder / f"sheet_{code}.html").write_text(page, encoding="utf-8")
            if pdf:
                html_to_pdf(page, folder / f"sheet_{code}.pdf")
    except (AnalysisError, RallypointError) as exc:
        raise click.ClickException(str(exc)) from None
    for zh, en, value in result.summary:
        click.echo(f"{en}: {value:,}" if isinstance(value, int) else f"{en}: {value}")
    for w in result.warnings:
        click.echo(f"! {w}")
    click.echo(f"Sheet: {folder}")


def _area_text(value: str) -> str:
    """GeoJSON text as given, or the text of the file it names."""
    if value.lstrip().startswith("{"):
        return value
    path = Path(value)
    if not path.is_file():
        raise click.BadParameter(f"{value!r} is neither GeoJSON text nor a file", param_hint="--area")
    return path.read_text(encoding="utf-8")
