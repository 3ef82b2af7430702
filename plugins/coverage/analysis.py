"""The coverage analysis: its parameters and outputs, and the run that ties the steps together.

Light at import (only :mod:`rallypoint.analysis`); numpy, scipy, geopandas and matplotlib load when it runs.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from rallypoint.analysis import Analysis, AnalysisContext, AnalysisResult, Output, Parameter
from rallypoint_plugins.capacity.situation import PARAMETERS as SITUATION_PARAMETERS

if TYPE_CHECKING:  # pragma: no cover
    from rallypoint import Registry

HAZARDS = ("earthquake", "flood", "typhoon", "geohazard", "fire", "hazmat", "tsunami", "storm_surge")

PARAMETERS = (
    Parameter("hazard", "choice", "earthquake", "灾种（只计适用于该灾种的避难场所）",
              "Hazard (only shelters that serve it count)", choices=HAZARDS),
    Parameter("minutes", "floats", (10.0, 30.0, 60.0), "步行时间阈值（分钟，逗号分隔）",
              "Walking-time thresholds (minutes, comma-separated)", min=0.0, max=600.0),
    Parameter("walk_kmh", "float", 4.5, "步行速度（千米/小时）", "Walking speed (km/h)", min=0.5, max=20.0),
    Parameter("max_snap_m", "float", 500.0, "到路网的最大距离（米），更远的格网或场所视为不在路网上",
              "Farthest a cell or site may lie from the road network (m); farther ones are off the network",
              min=0.0, max=100_000.0),
    Parameter("period", "choice", "night", "人口时段：night 夜间（常住），day 日间",
              "Population of: night (residents) or day", choices=("night", "day")),
    Parameter("share", "float", 1.0, "需安置人口比例（分配时，0–1）", "Share of the population to place (0-1)",
              min=0.0, max=1.0),
    Parameter("candidates", "int", 8, "每个路网节点可选的最近避难场所数（0 为全部）",
              "Nearest shelters each network node may be assigned to (0 = all in reach)", min=0, max=1000),
    Parameter("setbacks", "profile", "gb50413", "避难场所与危险源的安全距离方案",
              "Setbacks of shelters from hazard sources", profile_kind="shelter_setbacks"),
    Parameter("level", "choice", "township", "汇总到的行政层级", "Administrative level of the areas reported",
              choices=("township", "county")),
    Parameter("new_sites", "int", 5, "拟新增避难场所数（最大覆盖）", "New shelter sites to propose (maximal covering)",
              min=0, max=1000),
    Parameter("site_spacing_m", "float", 1000.0, "候选场址网格间距（米）", "Spacing of the candidate site grid (m)",
              min=50.0, max=100_000.0),
    Parameter("team_minutes", "float", 60.0, "救援队伍到达时限（分钟，含出动准备）",
              "Time limit for teams to reach hazard points (minutes, readiness included)", min=0.0, max=1440.0),
    Parameter("heli_kmh", "float", 200.0, "直升机巡航速度（千米/小时）", "Helicopter cruise speed (km/h)",
              min=1.0, max=1000.0),
    Parameter("heli_radius_km", "float", 150.0, "直升机作业半径（千米）", "Helicopter radius of action (km)",
              min=0.0, max=2000.0),
    *SITUATION_PARAMETERS,  # which capacity the assignment fills: indoor places overnight, day capacity by day …
)

OUTPUTS = (
    Output("coverage_areas", "layer", "各区域覆盖人口", "Population covered by area"),
    Output("coverage_shelters", "layer", "避难场所：是否可用、服务人口与分配人数", "Shelters: eligibility, people in reach, assigned"),
    Output("coverage_service_areas", "layer", "避难场所服务范围", "Shelter service areas"),
    Output("coverage_uncovered", "layer", "未覆盖人口格网", "Uncovered population cells"),
    Output("coverage_assignment", "layer", "人口分配线", "Assignment of people to shelters"),
    Output("coverage_sites", "layer", "建议新增避难场所", "Proposed shelter sites"),
    Output("coverage_hazard_points", "layer", "隐患点救援到达时间", "Time for help to reach hazard points"),
    Output("coverage_region", "table", "全区合计", "Region totals"),
)


#: A Dask scheduler's address (``tcp://host:8786``): when set, every coverage run in this process sends its
#: shortest-path searches to that cluster (CLI, server and QGIS alike; the figures are the same).
SCHEDULER_ENV = "RALLYPOINT_DASK_SCHEDULER"


def run(reg: "Registry", params: dict[str, Any], ctx: AnalysisContext) -> AnalysisResult:
    """Run the coverage analysis on a registry (parameters already parsed and checked)."""
    from . import network
    from .steps import run_steps

    address = os.environ.get(SCHEDULER_ENV, "").strip()
    if not address or network.SEARCH.get() is not None:  # no cluster, or the caller already chose one
        return run_steps(reg, params, ctx)
    from .distributed import on_cluster

    with on_cluster(address):
        return run_steps(reg, params, ctx)


COVERAGE = Analysis(
    name="coverage",
    title_zh="应急避难疏散覆盖分析",
    title_en="Evacuation coverage",
    description_zh=("按路网步行时间计算：各时间阈值内能到达适用于该灾种的安全避难场所的人口（按乡镇和全区）、"
                    "未覆盖人口的位置、按容量约束的人口分配（溢出与无法安置人数）、新增避难场所的建议位置（最大覆盖与集合覆盖），"
                    "以及救援队伍按路网、直升机按航程到达隐患点的时间；输出 GeoPackage 结果图层和 HTML 报告。"),
    description_en=("By walking time along the road network: the people who reach a shelter safe for the hazard "
                    "within each time (by township and for the region), where the uncovered live, a "
                    "capacity-constrained assignment of people to shelters (overflow and unassigned people), where "
                    "new shelters would cover the most (maximal and set covering), and how fast teams by road and "
                    "helicopters by air reach hazard points. Writes result layers to a GeoPackage and an HTML report."),
    parameters=PARAMETERS,
    outputs=OUTPUTS,
    run=run,
    requires=("admin_areas", "population"),  # no shelter at all is a result: nobody is covered
    version="1",
    packages=("numpy", "pandas", "geopandas", "shapely>=2", "matplotlib", "scipy", "pyproj", "ortools"),  # what QGIS's Processing checks before it offers to run it
)
