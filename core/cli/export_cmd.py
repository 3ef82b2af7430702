"""``rallypoint export`` (a subset as a standalone GeoPackage) and ``rallypoint verify`` (its checksums)."""

from __future__ import annotations

import click
from rich.table import Table

from ..exchange.export import DEFAULT_LICENCE, export_registry
from ..exchange.manifest import verify_export
from .common import RegistryLocation, author_option, console


def _split(text: str | None) -> list[str] | None:
    return [p.strip() for p in text.split(",") if p.strip()] if text else None


@click.command("export")
@click.argument("registry", type=RegistryLocation(exists=True))
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--layers", help="Comma-separated layers (default: every resource layer and the depot stock). "
                               "Base layers (admin_areas, population, roads) only when named.")
@click.option("--adcode", help="Only features whose division code starts with this one (519921 → 519921xxx…).")
@click.option("--bbox", help="Only features inside MINX,MINY,MAXX,MAXY (EPSG:4490 unless --bbox-crs).")
@click.option("--bbox-crs", help="CRS of --bbox, e.g. EPSG:3857.")
@click.option("--since", help="Only features changed (or retired) since this date or ISO date-time (UTC if no zone).")
@click.option("--include-personal", is_flag=True, help="Keep personal-data fields (contact names and phones).")
@click.option("--no-retired", is_flag=True, help="Leave retired features out (they are kept by default: "
                                                  "a retirement is a change the receiver needs).")
@click.option("--licence", default=DEFAULT_LICENCE, show_default=False, help="Licence recorded in the metadata.")
@click.option("--format", "fmt", default="gpkg", show_default=True,
              help="gpkg, or an export format a plugin provides (rallypoint_export_formats).")
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
@click.option("--with-history", is_flag=True, help="Also copy the history of the exported features "
                                                    "(personal values removed unless --include-personal).")
@click.option("--no-check", is_flag=True, help="Skip the checks of the written file (GDAL's validate_gpkg and ours).")
@click.option("--full-check", is_flag=True, help="Also re-check every exported feature against its definition.")
@author_option
def export(registry, out, layers, adcode, bbox, bbox_crs, since, include_personal, no_retired, licence, fmt, force,
           with_history, no_check, full_check, author):
    """Export a subset of REGISTRY to OUT, a standalone GeoPackage for another bureau.

    The live registry is snapshotted with SQLite's backup API; OUT keeps the aliases,
    the default QGIS styles and the history of what it holds, carries metadata (source
    bureau, time, registry and schema version, licence) and per-layer checksums, and
    gets OUT.manifest.json beside it. Personal-data fields are left out unless
    --include-personal. Features that exported ones refer to come along.
    """
    box = None
    if bbox:
        try:
            box = tuple(float(v) for v in bbox.split(","))
            assert len(box) == 4
        except (ValueError, AssertionError):
            raise click.BadParameter(f"{bbox!r} is not MINX,MINY,MAXX,MAXY", param_hint="--bbox") from None
    if fmt != "gpkg":
        _plugin_export(registry, out, fmt, _split(layers), {
            "adcode": adcode, "bbox": box, "bbox_crs": bbox_crs, "since": since, "include_personal": include_personal,
            "include_retired": not no_retired, "licence": licence, "author": author, "overwrite": force})
        return
    with console.status("exporting…"):
        result = export_registry(registry, out, layers=_split(layers), adcode=adcode, bbox=box, bbox_crs=bbox_crs,
                                 since=since, include_personal=include_personal, include_retired=not no_retired,
                                 licence=licence, author=author, overwrite=force, with_history=with_history,
                                 check=None if no_check else "full" if full_check else "file")
    t = Table(title=f"{out}", show_header=True)
    t.add_column("layer")
    t.add_column("features", justify="right")
    t.add_column("of them referenced", justify="right")
    for name, n in result.counts.items():
        t.add_row(name, f"{n:,}", str(result.referenced.get(name, "")))
    console.print(t)
    left = result.info["personal_fields_left_out"]
    if left:
        console.print("Personal data left out: " + "; ".join(f"{k}: {', '.join(v)}" for k, v in left.items()))
    console.print(f"Manifest: {result.manifest}")


def _plugin_export(registry: str, out: str, name: str, layers: list[str] | None, options: dict) -> None:
    """Hand the export to a format a plugin provides: ``write(registry, path, layers, options)``."""
    from ..plugins import default_plugin_manager
    from ..registry import Registry

    formats = {f.name: f for f in default_plugin_manager().collect("rallypoint_export_formats")}
    if name not in formats:
        raise click.BadParameter(f"no export format {name!r} (gpkg{''.join(', ' + n for n in sorted(formats))})",
                                 param_hint="--format")
    with Registry.open(registry, readonly=True) as reg:
        formats[name].write(reg, out, layers or [n for n, d in reg.layers.items() if d.versioned], options)
    console.print(f"Written with the {formats[name].title} format: {out}")


@click.command("verify")
@click.argument("export_file", metavar="EXPORT", type=click.Path(dir_okay=False, exists=True))
def verify(export_file):
    """Check EXPORT against its checksums (inside the file and in EXPORT.manifest.json).

    Exits with status 1 and says what differs if the file changed since the export.
    """
    found = verify_export(export_file)
    if not found:
        console.print(f"[green]OK[/]: {export_file} is exactly as exported.")
        return
    for line in found:
        console.print(f"  • {line}", markup=False)
    raise SystemExit(1)
