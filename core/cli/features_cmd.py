"""Commands on features: ``add``, ``list``, ``show``, ``edit``, ``retire``, ``restore``."""

from __future__ import annotations

import csv
import json
import sys

import click
from rich.table import Table

from .common import (
    author_option,
    console,
    display_value,
    feature_table,
    geometry_from_options,
    lang_option,
    open_registry,
    parse_assignments,
    print_json,
    registry_argument,
)

_set = click.option("--set", "assignments", multiple=True, metavar="FIELD=VALUE",
                    help="A field value; repeat for several (labels such as 开放 are accepted for codes).")
_at = click.option("--at", metavar="X,Y", help="Point location, longitude,latitude unless --crs says otherwise.")
_geometry = click.option("--geometry", metavar="WKT|GEOJSON", help="Geometry as WKT or GeoJSON ('-' reads stdin).")
_crs = click.option("--crs", default=None, help="CRS of --at/--geometry/--geojson (default EPSG:4490), e.g. EPSG:4326.")


@click.command()
@registry_argument
@click.argument("layer")
@_set
@_at
@_geometry
@_crs
@click.option("--geojson", type=click.File("r", encoding="utf-8"), default=None,
              help="Add every feature of a GeoJSON file in one all-or-nothing batch.")
@author_option
@click.option("--note", default=None, help="A note kept with the change in the history.")
def add(registry, layer, assignments, at, geometry, crs, geojson, author, note):
    """Add a feature to LAYER of REGISTRY.

    \b
    Example:
      rallypoint add county.gpkg helipads --at 104.06,30.66 \\
        --set name=一号起降点 --set adcode=519901001 --set source=示例县应急管理局 \\
        --set surface=混凝土 --set pad_length_m=40 --set pad_width_m=40 --set status=可用
    """
    with open_registry(registry) as reg:
        if geojson is not None:
            if assignments or at or geometry:
                raise click.UsageError("--geojson cannot be combined with --set/--at/--geometry")
            data = json.load(geojson)
            feats = data["features"] if data.get("type") == "FeatureCollection" else [data]
            items = [(f.get("properties") or {}, f.get("geometry")) for f in feats]
            uids = reg.add_many(layer, items, author=author, crs=crs, note=note)
            console.print(f"Added {len(uids)} feature(s) to {layer}.")
            return
        feat = reg.add(layer, parse_assignments(assignments), geometry_from_options(at, geometry),
                       author=author, crs=crs, note=note)
        console.print(f"Added {layer} [bold]{feat.uuid}[/] (version {feat.version}).")


@click.command("list")
@registry_argument
@click.argument("layer")
@click.option("--bbox", metavar="MINX,MINY,MAXX,MAXY", help="Only features in this box (EPSG:4490 unless --crs).")
@_crs
@click.option("--adcode", help="Only features in this division (e.g. 519901 or 519901001).")
@click.option("--retired", is_flag=True, help="Include retired features.")
@click.option("--limit", type=click.IntRange(min=0), default=50, show_default=True, help="At most this many (0: all).")
@click.option("--format", "fmt", type=click.Choice(["table", "geojson", "csv", "ids"]), default="table",
              show_default=True, help="ids: only the UUIDs, one a line, in the order entered, for scripts: "
                                      "UUID=$(rallypoint list county.gpkg shelters --format ids --limit 1)")
@click.option("--no-personal", is_flag=True, help="Leave out personal-data fields (contact names and phones).")
@lang_option
def list_features(registry, layer, bbox, crs, adcode, retired, limit, fmt, no_personal, lang):
    """List the features of LAYER."""
    box = None
    if bbox:
        try:
            box = [float(v) for v in bbox.split(",")]
            assert len(box) == 4 and box[0] <= box[2] and box[1] <= box[3]
        except (ValueError, AssertionError):
            raise click.BadParameter(f"{bbox!r} is not MINX,MINY,MAXX,MAXY", param_hint="--bbox") from None
    with open_registry(registry) as reg:
        ldef = reg.layer(layer)
        lang = lang or reg.info.language
        drop = set(ldef.personal_fields) if no_personal else set()
        kw = dict(bbox=box, bbox_crs=crs, adcode=adcode, include_retired=retired)
        total = reg.count(layer, **kw)
        feats = reg.features(layer, limit=limit or None, **kw)
        if fmt == "ids":
            if not ldef.versioned:
                raise click.UsageError(f"{layer} is reference data: its features have no UUIDs (--format ids)")
            for f in feats:
                click.echo(f.uuid)
            return
        if fmt == "geojson":
            print_json({"type": "FeatureCollection", "numberMatched": total,
                        "features": [f.to_geojson(drop=drop) for f in feats]})
            return
        fields = [f.name for f in ldef.fields if f.name not in drop]
        if fmt == "csv":
            w = csv.writer(sys.stdout)
            w.writerow(fields + (["wkt"] if ldef.has_geometry else []))
            for f in feats:
                w.writerow([f.properties.get(n) for n in fields] + ([f.geometry.wkt] if ldef.has_geometry else []))
            return
        shown = [n for n in ("uuid", "name", "item", "adcode", "status") if n in fields]
        if console.width >= 120:  # room for two of the layer's own required fields
            shown += [f.name for f in ldef.editable_fields
                      if f.required and f.name not in shown and f.name not in drop and f.name != "source"][:2]
        t = Table(title=f"{ldef.title(lang)} ({layer})")
        for n in shown:  # the UUID is what a user copies into the next command: never cut it
            t.add_column(ldef.field(n).alias(lang), no_wrap=n in ("uuid", "adcode"),
                         min_width={"uuid": 36, "name": 14, "item": 14}.get(n))
        n = 0
        for f in feats:
            n += 1
            t.add_row(*[display_value(reg, layer, c, f.properties.get(c), lang) for c in shown])
        console.print(t)
        console.print(f"{n} of {total} shown" + ("" if n == total else " (use --limit 0 for all)"))


@click.command()
@registry_argument
@click.argument("layer")
@click.argument("uuid")
@click.option("--version", type=int, default=None, help="Show this earlier version (from the history).")
@click.option("--json", "as_json", is_flag=True, help="Print GeoJSON instead of a table.")
@lang_option
def show(registry, layer, uuid, version, as_json, lang):
    """Show one feature of LAYER, every field with its alias."""
    with open_registry(registry) as reg:
        feat = reg.get(layer, uuid, version=version)
        if as_json:
            print_json(feat.to_geojson())
        else:
            console.print(feature_table(reg, feat, lang or reg.info.language))


@click.command()
@registry_argument
@click.argument("layer")
@click.argument("uuid")
@_set
@_at
@_geometry
@_crs
@click.option("--if-version", type=int, default=None,
              help="Refuse if the feature is no longer at this version (someone else changed it).")
@author_option
@click.option("--note", default=None, help="A note kept with the change in the history.")
def edit(registry, layer, uuid, assignments, at, geometry, crs, if_version, author, note):
    """Change fields or the location of a feature."""
    changes = parse_assignments(assignments)
    geom = geometry_from_options(at, geometry)
    if not changes and geom is None:
        raise click.UsageError("nothing to change: give --set, --at or --geometry")
    with open_registry(registry) as reg:
        feat = reg.update(layer, uuid, changes, geom, author=author, crs=crs, expected_version=if_version, note=note)
        console.print(f"Changed {layer} [bold]{uuid}[/]: now version {feat.version}.")


@click.command()
@registry_argument
@click.argument("layer")
@click.argument("uuid")
@click.option("--reason", default=None, help="Why it is retired (kept in the history).")
@click.option("--if-version", type=int, default=None, help="Refuse if the feature is no longer at this version.")
@author_option
def retire(registry, layer, uuid, reason, if_version, author):
    """Retire a feature: it leaves the lists, and stays in the history to be restored."""
    with open_registry(registry) as reg:
        feat = reg.retire(layer, uuid, author=author, reason=reason, expected_version=if_version)
        console.print(f"Retired {layer} [bold]{uuid}[/] (version {feat.version}).")


@click.command()
@registry_argument
@click.argument("layer")
@click.argument("uuid")
@click.option("--version", type=int, default=None,
              help="Go back to this earlier version (default: undo the retirement).")
@click.option("--if-version", type=int, default=None, help="Refuse if the feature is no longer at this version.")
@author_option
def restore(registry, layer, uuid, version, if_version, author):
    """Restore a retired feature, or bring a feature back to an earlier version."""
    with open_registry(registry) as reg:
        feat = reg.restore(layer, uuid, version, author=author, expected_version=if_version)
        console.print(f"Restored {layer} [bold]{uuid}[/]: now version {feat.version}.")
