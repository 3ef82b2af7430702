"""The survey analysis: its parameters and outputs, and the run shared by the analysis, the CLI and the web.

Light at import (only :mod:`rallypoint.analysis`); pandas, scipy and pyproj load when it runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from rallypoint.analysis import Analysis, AnalysisContext, AnalysisResult, Output, Parameter

from .requirements import KIND

if TYPE_CHECKING:  # pragma: no cover
    from rallypoint import Registry
    from rallypoint.profiles import Profile

    from .survey import SurveyOutcome

PARAMETERS = (
    Parameter("profile", "profile", "bureau", "调查填报项方案", "Survey profile (the fields each layer must fill)",
              profile_kind=KIND),
    Parameter("layers", "str", None, "调查的图层（逗号分隔；默认为方案中的全部图层）",
              "Layers to survey (comma-separated; default: every layer of the profile)"),
    Parameter("fields", "str", None, "改用的必填字段，如 shelters:name,capacity_day;teams:members",
              "Required fields instead of the profile's, e.g. shelters:name,capacity_day;teams:members"),
    Parameter("within", "str", "365d", "核查更新期限（如 365d、26w、6m、1y）",
              "Period within which a record must have been inspected or updated (e.g. 365d, 26w, 6m, 1y)"),
    Parameter("as_of", "str", None, "统计基准时间（ISO 8601；默认为当前时间）",
              "Reference time of the survey (ISO 8601; default: now)"),
    Parameter("tolerance_m", "float", 50.0, "重复判定距离（米）：同名且相距不超过此距离视为重复",
              "Duplicate distance (m): records with the same name this close are duplicates", min=0.0,
              max=10_000.0),
)

OUTPUTS = (
    Output("survey_fixes", "layer", "待整改记录清单", "Records to fix"),
    Output("survey_areas", "layer", "各乡镇填报率（全部调查图层）", "Fill rate by township (all layers surveyed)"),
    Output("survey_layers", "table", "各图层填报情况", "Survey by layer"),
    Output("survey_townships", "table", "各乡镇各图层填报情况", "Survey by township and layer"),
    Output("survey_fields", "table", "各字段填报情况", "Fill rate by field"),
)


def survey_outcome(reg: "Registry", profile: "Profile", params: dict[str, Any],
                   progress: Callable[[str, int, int], None] = lambda s, d, t: None) -> "SurveyOutcome":
    """Check the survey's own parameters against the registry and run it (``params`` parsed by the Analysis)."""
    from .period import parse_as_of, parse_period
    from .requirements import requirements
    from .survey import run_survey

    reqs, warnings = requirements(reg, profile, layers=params.get("layers"), fields=params.get("fields"))
    within = str(params.get("within") or "365d").strip()
    period = parse_period(within)
    as_of = parse_as_of(params.get("as_of"))
    outcome = run_survey(reg, reqs, period=period, period_text=within, as_of=as_of,
                         tolerance_m=float(params.get("tolerance_m", 50.0)), profile_name=profile.name,
                         warnings=warnings, progress=progress)
    outcome.info.update(profile_zh=profile.title("zh"), profile_en=profile.title("en"))
    return outcome


def to_result(outcome: "SurveyOutcome") -> AnalysisResult:
    from rallypoint_plugins.reporting.notes import Notes

    from .report import percent, render
    from .survey import rate

    layers = outcome.layers
    total = int(layers["records"].sum())
    complete = int(layers["complete"].sum())
    overall = float(rate(complete, total))
    summary = [
        ("调查记录数", "Records surveyed", total),
        ("填报完整记录数", "Fully filled records", complete),
        ("填报率", "Fill rate", percent(overall) if total else "0 / 0"),
        (f"超过 {outcome.info['within_zh']}未核查更新", f"Not inspected or updated within {outcome.info['within_en']}",
         int(layers["stale"].sum())),
        ("疑似重复记录", "Duplicate records", int(layers["duplicates"].sum())),
        ("待整改记录", "Records to fix", int(layers["to_fix"].sum())),
    ]
    warnings = Notes(outcome.warnings)
    for row in layers.itertuples():
        if row.records == 0:
            warnings.add(f"layer {row.layer}: no records (0 of 0 filled; no fill rate)",
                         f"{row.title_zh}：没有记录（0 / 0，无填报率）")
    return AnalysisResult(
        layers={"survey_fixes": outcome.fixes, "survey_areas": outcome.areas},
        tables={"survey_layers": outcome.layers, "survey_townships": outcome.townships,
                "survey_fields": outcome.fields},
        summary=summary, report=lambda lang: render(outcome, summary, lang), warnings=warnings)


def run(reg: "Registry", params: dict[str, Any], ctx: AnalysisContext) -> AnalysisResult:
    """Run the survey on a registry (parameters already parsed and checked)."""
    return to_result(survey_outcome(reg, ctx.profile(KIND, params["profile"]), params, ctx.progress))


SURVEY = Analysis(
    name="survey",
    title_zh="应急资源调查填报率",
    title_en="Resource survey completeness",
    description_zh=("按乡镇和图层统计应急资源调查的填报情况：调查方案要求的字段全部填写的记录数与填报率、"
                    "超过期限未核查更新的记录、同名同址的疑似重复记录，并列出每条待整改记录的问题（缺填字段、"
                    "占位值、最近更新时间、重复对象）；输出 GeoPackage 结果图层和 HTML 报告。"),
    description_en=("Per township and layer, how complete the resource survey is: records with every field the "
                    "survey profile asks for, the fill rate, records not inspected or updated within the period, "
                    "duplicates (same name at the same place), and a list of the records to fix saying what is "
                    "wrong (missing fields, placeholders, last update, duplicate of which record). Writes result "
                    "layers to a GeoPackage and an HTML report."),
    parameters=PARAMETERS,
    outputs=OUTPUTS,
    run=run,
    requires=(),
    version="1",
    packages=("numpy", "pandas", "geopandas", "shapely>=2", "matplotlib", "scipy", "pyproj"),  # what QGIS's Processing checks before it offers to run it
)
