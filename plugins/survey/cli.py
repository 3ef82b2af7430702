"""``rallypoint survey``: the resource survey's fill rates and fix list, and the survey profiles."""

from __future__ import annotations

from pathlib import Path

import click

PROFILE_HELP = "Survey profile: an installed one's name (see `rallypoint survey profiles`) or a TOML file."


@click.group("survey", help="Resource survey completeness (应急资源调查填报率): fill rates, overdue records, "
                            "duplicates and the records to fix.")
def survey() -> None:
    pass


@survey.command("report")
@click.argument("registry", type=click.Path(dir_okay=False, exists=True))
@click.option("--profile", default="bureau", show_default=True, help=PROFILE_HELP)
@click.option("--layers", default=None, help="Layers to survey, comma-separated (default: the profile's).")
@click.option("--fields", default=None, metavar="LAYER:F,F;…",
              help="Required fields instead of the profile's, e.g. 'shelters:name,capacity_day;teams:members'.")
@click.option("--within", default="365d", show_default=True,
              help="Period within which a record must have been inspected or updated: 365d, 26w, 6m, 1y.")
@click.option("--as-of", "as_of", default=None, help="Reference time (ISO 8601; default: now).")
@click.option("--tolerance-m", "tolerance_m", default=None, metavar="METRES",
              help="Records with the same name this close are duplicates (default 50).")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="GeoPackage of the result layers and tables (default: REGISTRY_survey.gpkg).")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the fix list as CSV (UTF-8 with BOM, so spreadsheet programs read the Chinese).")
@click.option("--report", type=click.Path(dir_okay=False), default=None,
              help="HTML report (default: beside --out, named with its language: REGISTRY_survey_zh.html).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default=None, help="Language (default: the registry's).")
def report(registry, profile, layers, fields, within, as_of, tolerance_m, out, csv_path, report, lang) -> None:
    """Survey REGISTRY: per township and layer the fill rate, overdue records and duplicates; a fix list."""
    from rich.table import Table
    from rich.text import Text

    from rallypoint import Registry
    from rallypoint.analysis import write_result
    from rallypoint.cli.common import console

    from rallypoint_plugins.reporting.notes import text_of

    from .analysis import SURVEY, survey_outcome, to_result
    from .report import percent
    from .requirements import resolve_profile

    raw = {"layers": layers, "fields": fields, "within": within, "as_of": as_of, "tolerance_m": tolerance_m}
    with Registry.open(registry, readonly=True) as reg:
        profiles = reg.plugins.collect("rallypoint_profiles")
        params = SURVEY.parse_parameters({k: v for k, v in raw.items() if v is not None}, profiles)
        chosen = resolve_profile(profiles, profile)
        lang = lang or reg.info.language
        outcome = survey_outcome(reg, chosen, params)
    result = to_result(outcome)
    out_path = Path(out) if out else Path(registry).with_name(f"{Path(registry).stem}_survey.gpkg")
    report_path = Path(report) if report else out_path.with_name(f"{out_path.stem}_{lang}.html")  # names its language
    write_result(result, out_path, report_path, lang)
    if csv_path:
        outcome.fixes.drop(columns=outcome.fixes.geometry.name).assign(
            lon=outcome.fixes.geometry.x, lat=outcome.fixes.geometry.y).to_csv(csv_path, index=False,
                                                                              encoding="utf-8-sig")
    zh = lang == "zh"
    t = Table(title=SURVEY.title(lang))
    for h in (("图层", "Layer"), ("记录数", "Records"), ("填报完整", "Filled"), ("填报率", "Fill rate"),
              ("超期", "Overdue"), ("重复", "Duplicates"), ("待整改", "To fix")):
        t.add_column(h[0] if zh else h[1], justify="left" if h[1] == "Layer" else "right")
    for r in outcome.layers.to_dict("records"):
        t.add_row(r["title_zh"] if zh else r["title_en"], f"{r['records']:,}", f"{r['complete']:,}",
                  percent(r["fill_rate"]) if r["records"] else "0 / 0", f"{r['stale']:,}", f"{r['duplicates']:,}",
                  f"{r['to_fix']:,}")
    console.print(t)
    for zh_label, en_label, value in result.summary:
        console.print(f"{zh_label if zh else en_label}: {value:,}" if isinstance(value, int) else
                      f"{zh_label if zh else en_label}: {value}")
    for w in result.warnings:
        console.print(Text("! ", style="yellow") + Text(text_of(result.warnings, w, lang)))
    console.print(f"Result layers: {out_path}")
    console.print(f"Report: {report_path}")
    if csv_path:
        console.print(f"Fix list: {csv_path}")


@survey.command("profiles")
@click.argument("name", required=False)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
def profiles(name: str | None, lang: str) -> None:
    """List the installed survey profiles, or show the fields profile NAME (or a TOML file) asks for."""
    from rallypoint.cli.common import console
    from rallypoint.plugins import default_plugin_manager, layer_catalog

    from .requirements import KIND, resolve_profile

    pm = default_plugin_manager()
    installed = pm.collect("rallypoint_profiles")
    if name is None:
        for p in sorted((p for p in installed if p.kind == KIND), key=lambda p: p.name):
            console.print(f"{p.name}\t{p.title(lang)}")
        return
    p = resolve_profile(installed, name)
    defs = layer_catalog(pm)
    console.print(f"{p.name}: {p.title(lang)}  (date field: {p.data.get('date_field', 'updated_at')})")
    for layer, spec in p.data.get("layers", {}).items():
        ldef = defs.get(layer)
        label = (lambda f: ldef.field(f).alias(lang) if ldef is not None and ldef.has_field(f) else f)
        fields = ", ".join(f"{f} ({label(f)})" for f in spec.get("required", []))
        console.print(f"  {layer}: {fields}")
        if spec.get("placeholders"):
            console.print("    placeholders: " + ", ".join(f"{k}={v}" for k, v in spec["placeholders"].items()))
