"""``rallypoint roads``: load a road network for the coverage analysis (the plugin's command-line part)."""

from __future__ import annotations

import click


@click.group("roads", help="The road network that coverage analyses walk and drive on.")
def roads() -> None:
    pass


@roads.command("import")
@click.argument("registry", type=click.Path(dir_okay=False, exists=True))
@click.argument("source", type=click.Path(dir_okay=False, exists=True))
@click.option("--author", default=None, help="Who makes the change (recorded in the history; default: $RALLYPOINT_AUTHOR "
              "or your user name).")
def import_roads(registry: str, source: str, author: str | None) -> None:
    """Replace the registry's roads with those of SOURCE: an OpenStreetMap extract (.osm.pbf, .osm) or any line
    layer GDAL reads with the roads layer's fields (road_class, walk, drive, speed_kmh, oneway)."""
    from rallypoint import Registry
    from rallypoint.cli.common import default_author

    from .osm import OsmError, read_osm_roads

    name = source.lower()
    try:
        if name.endswith((".osm.pbf", ".pbf", ".osm", ".osm.bz2")):
            frame = read_osm_roads(source)
        else:
            frame = _line_layer(source)
    except OsmError as e:
        raise click.ClickException(str(e)) from e
    with Registry.open(registry) as reg:
        n = reg.load_reference("roads", frame, author=author or default_author(),
                               note=f"roads imported from {source}")
    walk, drive = int(frame["walk"].sum()), int(frame["drive"].sum())
    click.echo(f"{n} roads loaded into {registry} ({walk} open to walking, {drive} to driving)")


def _line_layer(source: str):
    import pyogrio

    from .osm import OsmError

    try:
        layers = pyogrio.list_layers(source)
        if len(layers) > 1:
            raise OsmError(f"{source}: holds {len(layers)} layers ({', '.join(str(n) for n in layers[:, 0])}); "
                           "give a file with the one layer of roads")
        frame = pyogrio.read_dataframe(source)
    except OsmError:
        raise
    except Exception as exc:  # GDAL's errors come in many classes: one clear message for all
        raise OsmError(f"{source}: cannot be read as a line layer ({exc})") from None
    need = {"road_class", "walk", "drive"}
    missing = sorted(need - set(frame.columns))
    if missing:
        raise OsmError(f"{source}: a line layer of roads needs the fields {', '.join(sorted(need))} "
                       f"(and may have speed_kmh, oneway, name); missing: {', '.join(missing)}")
    if frame.crs is None:
        raise OsmError(f"{source}: the layer declares no coordinate reference system")
    return frame
