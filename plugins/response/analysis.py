"""The response sheet as an analysis: its parameters, outputs and the run.

Light at import (only :mod:`rallypoint.analysis`); numpy, scipy, geopandas and matplotlib load when it runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rallypoint.analysis import Analysis, AnalysisContext, AnalysisResult, Output, Parameter
from rallypoint_plugins.capacity.situation import PARAMETERS as SITUATION_PARAMETERS

if TYPE_CHECKING:  # pragma: no cover
    from rallypoint import Registry

INCIDENTS = ("auto", "flood", "landslide", "hazmat", "earthquake", "fire")

PARAMETERS = (
    Parameter("area", "str", None, "事件区域：GeoJSON 面（几何、要素或要素集合），坐标系见 area_crs",
              "Incident area: a GeoJSON polygon (geometry, Feature or FeatureCollection) in area_crs"),
    Parameter("point", "str", None, "或：事件点“x,y”（坐标系见 area_crs），与 radius_m 一起给出",
              "Or: the incident point 'x,y' (in area_crs), with radius_m"),
    Parameter("radius_m", "float", 0.0, "事件点的疏散半径（米）；选隐患点时不填则按其类型取值",
              "Evacuation radius around the point (m); for a hazard point, 0 takes its type's radius",
              min=0.0, max=100_000.0),
    Parameter("hazard_uuid", "str", None, "或：隐患点 UUID（以其位置为中心、按类型确定疏散半径）",
              "Or: a hazard point's UUID (its position, with the radius of its type)"),
    Parameter("area_crs", "str", "EPSG:4490", "area 和 point 的坐标系", "CRS of area and point"),
    Parameter("incident", "choice", "auto", "事件类型（auto：按所选隐患点的类型）",
              "Incident type (auto: from the type of the hazard point picked)", choices=INCIDENTS),
    Parameter("days", "int", 3, "物资保障天数", "Days of supply to provide", min=1, max=365),
    Parameter("share", "float", 1.0, "区域内需转移安置的人口比例（0–1）", "Share of the people inside to evacuate (0-1)",
              min=0.0, max=1.0),
    Parameter("period", "choice", "night", "人口时段：night 夜间（常住），day 日间",
              "Population of: night (residents) or day", choices=("night", "day")),
    Parameter("household_size", "float", 2.62, "户均人口（估算户数；2020 年第七次全国人口普查家庭户均 2.62 人）",
              "People per household (to estimate households; China's 2020 census: 2.62)", min=0.5, max=20.0),
    Parameter("walk_minutes", "float", 60.0, "步行到避难场所的时限（分钟）", "Walking-time limit to a shelter (minutes)",
              min=1.0, max=600.0),
    Parameter("walk_kmh", "float", 4.5, "步行速度（千米/小时）", "Walking speed (km/h)", min=0.5, max=20.0),
    Parameter("max_snap_m", "float", 500.0, "到路网的最大距离（米）", "Farthest a cell or site may lie from a road (m)",
              min=0.0, max=100_000.0),
    Parameter("candidates", "int", 8, "每个路网节点可选的最近避难场所数（0 为全部）",
              "Nearest shelters each network node may be assigned to (0 = all in reach)", min=0, max=1000),
    Parameter("team_minutes", "float", 60.0, "救援队伍到达时限（分钟，含出动准备）",
              "Time limit for teams to arrive (minutes, readiness included)", min=0.0, max=1440.0),
    Parameter("max_teams", "int", 10, "最多派出队伍数（专长对口的优先，再按到达时间；0 为全部）",
              "Most teams to send (fitting specialties first, then by arrival; 0 = all that arrive in time)",
              min=0, max=10_000),
    Parameter("search_km", "float", 6.0, "在区域周边多远内找队伍、储备库和起降点（千米，直线）",
              "How far around the area to look for teams, depots and helipads (km, straight line)",
              min=0.0, max=500.0),
    Parameter("standard", "profile", "gb51143", "避难场所标准（人均有效面积）",
              "Shelter standard (effective area per person)", profile_kind="shelter_standard"),
    Parameter("needs", "profile", "inasafe", "受灾人员最低需求方案", "Minimum needs of the displaced",
              profile_kind="minimum_needs"),
    Parameter("setbacks", "profile", "gb50413", "避难场所与危险源的安全距离方案",
              "Setbacks of shelters from hazard sources", profile_kind="shelter_setbacks"),
    Parameter("incidents", "profile", "default", "事件类型方案（适用场所、队伍专长、疏散半径）",
              "Incident types (shelters, team specialties, evacuation radii)", profile_kind="incident_types"),
    *SITUATION_PARAMETERS,  # which capacity the free places come from: indoor places overnight, day capacity by day
)

OUTPUTS = (
    Output("response_area", "layer", "事件区域", "Incident area"),
    Output("response_people", "layer", "区域内人口格网", "Population cells inside"),
    Output("response_hazard_points", "layer", "区域内隐患点", "Hazard points inside"),
    Output("response_shelters", "layer", "开放的避难场所与安置人数", "Shelters to open and people sent"),
    Output("response_assignment", "layer", "疏散去向", "Who goes where"),
    Output("response_teams", "layer", "派出队伍与到达时间", "Teams to send and arrival times"),
    Output("response_depots", "layer", "调用储备库", "Depots to draw on"),
    Output("response_helipads", "layer", "可用直升机起降点", "Usable helipads"),
    Output("response_supply", "table", "物资需求与保障", "Supplies needed and provided"),
    Output("response_summary", "table", "主要数字", "Headline figures"),
)


def run(reg: "Registry", params: dict[str, Any], ctx: AnalysisContext) -> AnalysisResult:
    """Build the response sheet for the incident area in ``params`` (already parsed and checked)."""
    from .sheet import build_sheet

    return build_sheet(reg, params, ctx)


RESPONSE = Analysis(
    name="response",
    title_zh="突发事件应急响应卡",
    title_en="Incident response sheet",
    description_zh=("对划定或选取的事件区域（洪涝范围、滑坡及半径、重大危险源泄漏及疏散半径）：区域内人口和户数、隐患点，"
                    "应开放的避难场所（区域外、安全、路网可达、有空位，按容量分配不超员，列出无法安置人数）、"
                    "应派出的队伍及按路网到达时间、储备库按天数可保障的物资及缺口、可用直升机起降点；"
                    "输出一页 HTML/PDF 卡片（含地图）和同样图层的 GeoPackage。"),
    description_en=("For an incident area drawn or picked (a flood zone, a landslide with a radius, a leak at a major "
                    "hazard installation with its evacuation radius): the people and households inside, the hazard "
                    "points inside, the shelters to open (outside the area, safe, reachable by road, with free "
                    "places; people assigned so none overflows, the unplaced reported), the teams to send and their "
                    "arrival by road, what depots supply for the chosen days and the shortfalls, and the usable "
                    "helipads. A one-page HTML/PDF card with a map and a GeoPackage of the same layers."),
    parameters=PARAMETERS,
    outputs=OUTPUTS,
    run=run,
    requires=("population",),  # no shelter at all is a result: nobody can be placed
    version="1",
    packages=("numpy", "pandas", "geopandas", "shapely>=2", "matplotlib", "scipy", "pyproj", "ortools"),  # what QGIS's Processing checks before it offers to run it
)
