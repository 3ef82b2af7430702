"""``rallypoint init``: create an empty registry."""

from __future__ import annotations

import click

from ..registry import Registry
from .common import console


@click.command()
@click.argument("registry", type=click.Path(dir_okay=False))
@click.option("--name", required=True, help="Name of the registry, e.g. 示例县应急资源.")
@click.option("--bureau", required=True, help="Bureau that owns it, e.g. 示例县应急管理局.")
@click.option("--adcode", default=None, help="Division code of the bureau's area (6 digits).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
              help="Language of the default QGIS style's aliases and labels.")
@click.option("--extent", type=click.Choice(["china", "world"]), default="china", show_default=True,
              help="Where features may lie: in China (CGCS2000), or anywhere, for a registry of foreign data "
                   "(drills on another country's lists).")
@click.option("--force", is_flag=True, help="Replace the file if it exists.")
def init(registry: str, name: str, bureau: str, adcode: str | None, lang: str, extent: str, force: bool) -> None:
    """Create an empty registry file REGISTRY with every layer.

    The file is a GeoPackage (EPSG:4490) that opens in QGIS with each layer styled and
    its fields labelled in Chinese and English.
    """
    with Registry.create(registry, name=name, bureau=bureau, adcode=adcode, language=lang, overwrite=force,
                         extent=extent) as reg:
        console.print(f"Created [bold]{registry}[/] with layers: {', '.join(reg.layers)}")
