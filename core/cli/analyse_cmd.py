"""``rallypoint analyse NAME REGISTRY``: every analysis a plugin provides, with options from its metadata."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table
from rich.text import Text

from ..analysis import Analysis, Parameter, analyses, run_analysis, write_result
from ..plugins import default_plugin_manager
from ..registry import Registry
from ..storage import backend_for
from .common import RegistryLocation, console


def _option(p: Parameter) -> click.Option:
    help_text = f"{p.title_en} / {p.title_zh}"
    kw: dict = {"default": None, "help": help_text, "show_default": str(p.default) if p.default is not None else None}
    if p.type == "choice":
        kw["type"] = click.Choice(list(p.choices))
    elif p.type in ("int", "float", "floats"):  # parsed and checked (with limits) by Parameter.parse
        kw["metavar"] = {"int": "INTEGER", "float": "NUMBER", "floats": "N,N,…"}[p.type]
    elif p.type == "bool":
        return click.Option([f"--{p.name.replace('_', '-')}/--no-{p.name.replace('_', '-')}", p.name], **kw)
    elif p.type == "profile":
        kw["metavar"] = "PROFILE"
    return click.Option([f"--{p.name.replace('_', '-')}", p.name], **kw)


def _command(analysis: Analysis) -> click.Command:
    def callback(registry, out, report, lang, **raw):
        given = {k: v for k, v in raw.items() if v is not None}
        if out is None and not backend_for(registry).is_file:
            raise click.UsageError("a PostGIS registry has no folder to write the result beside: give --out")
        with Registry.open(registry) as reg:
            lang = lang or reg.info.language
            result = run_analysis(reg, default_plugin_manager(), analysis.name, given, lang=lang)
        out_path = Path(out) if out else Path(registry).with_name(f"{Path(registry).stem}_{analysis.name}.gpkg")
        # the report names its language, so a run in Chinese and one in English never overwrite each other
        report_path = Path(report) if report else out_path.with_name(f"{out_path.stem}_{lang}.html")
        write_result(result, out_path, report_path, lang)
        t = Table(title=analysis.title(lang), show_header=False)
        t.add_column(style="bold")
        t.add_column(justify="right")
        for zh, en, value in result.summary:
            t.add_row(zh if lang == "zh" else en, f"{value:,}" if isinstance(value, int) else str(value))
        console.print(t)
        said = getattr(result.warnings, "text", None)  # warnings that carry their Chinese say it in Chinese
        for w in result.warnings:
            console.print(Text("! ", style="yellow") + Text(said(w, lang) if said else w))
        console.print(f"Result layers: {out_path}")
        if result.report is not None:
            console.print(f"Report: {report_path}")

    params = [
        click.Argument(["registry"], type=RegistryLocation(exists=True)),
        click.Option(["--out"], type=click.Path(dir_okay=False), default=None,
                     help="GeoPackage for the result layers (default: REGISTRY_<analysis>.gpkg)."),
        click.Option(["--report"], type=click.Path(dir_okay=False), default=None,
                     help="HTML report (default: beside --out, named with its language: REGISTRY_<analysis>_zh.html)."),
        click.Option(["--lang"], type=click.Choice(["zh", "en"]), default=None, help="Language of the report."),
    ] + [_option(p) for p in analysis.parameters]
    return click.Command(analysis.name, callback=callback, params=params,
                         help=f"{analysis.description_en}\n\n{analysis.description_zh}",
                         short_help=analysis.title_en)


class AnalysesGroup(click.Group):
    """Subcommands built from the installed analyses' metadata."""

    def list_commands(self, ctx):
        return sorted(analyses(default_plugin_manager()))

    def get_command(self, ctx, name):
        found = analyses(default_plugin_manager())
        return _command(found[name]) if name in found else None


@click.group(cls=AnalysesGroup)
def analyse():
    """Run an analysis that a plugin provides (rallypoint analyse NAME --help for its options)."""
