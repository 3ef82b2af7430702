"""The capacity analysis: its parameters and outputs, and the run that ties the steps together.

Light at import (only :mod:`rallypoint.analysis`), so ``rallypoint plugins`` stays quick;
pandas, geopandas and matplotlib are loaded when the analysis runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rallypoint.analysis import Analysis, AnalysisContext, AnalysisError, AnalysisResult, Output, Parameter
from rallypoint_plugins.reporting.notes import Notes
from rallypoint_plugins.reporting.notes import add as note

from .situation import PARAMETERS as SITUATION_PARAMETERS

if TYPE_CHECKING:  # pragma: no cover
    from rallypoint import Registry

PARAMETERS = (
    Parameter("standard", "profile", "gb51143", "避难场所标准（各类场所人均有效面积）",
              "Shelter standard (effective area per person by shelter type)", profile_kind="shelter_standard"),
    Parameter("method", "choice", "share", "需求计算方法：share 按人口比例（15% 规则），hazard 按灾害分级转移率",
              "Demand: share = a share of the population (the 15 % rule); "
              "hazard = displacement rates of a hazard class",
              choices=("share", "hazard")),
    Parameter("share", "float", 0.15, "需安置人口比例，也是固定避难位置的达标比例（0–1）",
              "Share of the population to shelter, also the fixed-shelter target (0-1)", min=0.0, max=1.0),
    Parameter("hazard_class", "choice", "high", "灾害分级（method=hazard 时）",
              "Hazard class whose rates apply (method=hazard)", choices=("high", "medium", "low")),
    Parameter("displacement", "profile", "inasafe", "转移率与死亡率方案（method=hazard 时）",
              "Displacement and fatality rates (method=hazard)", profile_kind="displacement"),
    Parameter("period", "choice", "night", "人口时段：night 夜间（常住），day 日间",
              "Population of: night (residents) or day", choices=("night", "day")),
    Parameter("needs", "profile", "inasafe", "受灾人员最低需求方案", "Minimum needs of the displaced",
              profile_kind="minimum_needs"),
    Parameter("depot_reach_km", "float", 30.0, "储备库服务半径（千米，至区域边界）",
              "Depots within this distance (km) of an area count for it", min=0.0, max=1000.0),
    Parameter("near_full", "float", 0.9, "接近满员阈值（人数/容量）", "Near full from this share of capacity",
              min=0.0, max=1.0),
    Parameter("level", "choice", "township", "汇总到的行政层级", "Administrative level of the areas reported",
              choices=("township", "county")),
    *SITUATION_PARAMETERS,
)

OUTPUTS = (
    Output("capacity_areas", "layer", "各区域避难容量", "Shelter capacity by area"),
    Output("capacity_shelters", "layer", "避难场所位置与人数", "Shelter places and occupancy"),
    Output("capacity_stock", "table", "物资可供天数", "Days of supply by area and need"),
    Output("capacity_region", "table", "全区合计", "Region totals"),
)

#: Columns of ``capacity_areas`` whose region total is their sum over the areas.
ADDITIVE = ("cells", "pop_night", "pop_day", "population", "fatalities", "demand", "shelters", "shelters_closed",
            "recorded_capacity", "area_places", "places", "over_area", "fixed_places", "shortfall", "surplus",
            "occupancy", "available", "n_full", "n_near_full", "n_available", "n_over", "n_unknown",
            "occupancy_unknown", "n_area_unknown", "n_province", "n_city", "n_county",
            "n_township", "n_village", "places_province", "places_city", "places_county", "places_township",
            "places_village", "teams", "team_members", "hazard_points")


def run(reg: "Registry", params: dict[str, Any], ctx: AnalysisContext) -> AnalysisResult:
    """Run the capacity analysis on a registry (parameters already parsed and checked)."""
    import geopandas as gpd
    import numpy as np
    import pandas as pd

    from . import areas as areas_mod
    from . import demand as demand_mod
    from . import stock as stock_mod
    from . import summary, supply, teams
    from . import situation as situation_mod
    from .occupancy import occupancy_state
    from .standards import m2_per_person, shelter_places

    warnings = Notes()
    standard = ctx.profile("shelter_standard", params["standard"])
    needs_profile = ctx.profile("minimum_needs", params["needs"])
    m2_per_person(standard)  # a bad profile fails before any data is read
    all_needs = stock_mod.needs(needs_profile)
    assessed = [n for n in all_needs if n.categories]
    displacement = None
    rates = (1.0, 0.0)
    if params["method"] == "hazard":
        displacement = ctx.profile("displacement", params["displacement"])
        rates = demand_mod.displacement_rates(displacement, params["hazard_class"])

    steps = 6
    ctx.progress("areas", 0, steps)
    areas = areas_mod.read_areas(reg, params["level"])
    epsg = areas_mod.work_epsg(areas)
    n = len(areas)

    ctx.progress("population", 1, steps)
    pop = demand_mod.population_by_area(reg, areas, params["period"], warnings)
    if pop["cells"].sum() == 0:
        raise AnalysisError(f"no population cell lies inside the {params['level']} areas: check the population "
                            f"and admin_areas layers cover the same ground")
    dem = demand_mod.demand(pop["population"], method=params["method"], share=params["share"], rates=rates)

    ctx.progress("shelters", 2, steps)
    cols = ["uuid", "name", "adcode", "shelter_type", "level", "status", "effective_area_m2", "capacity_day",
            "capacity_night", "capacity_post_impact", "indoor", "occupancy", "occupancy_at"]
    frame = reg.read_frame("shelters", columns=cols)
    counted_now = frame["status"].isin(("open", "full")) & frame["occupancy"].notna()
    situation = situation_mod.decide(params, frame.loc[counted_now, "occupancy_at"], params["period"])
    capacity, why = situation_mod.applicable_capacity(frame, situation, "both")
    shelters = shelter_places(frame, standard, capacity, why)
    shelters = occupancy_state(shelters, capacity="places", occupancy="occupancy", near_full=params["near_full"],
                               closed=~shelters["counted"])
    shelters["area"] = areas_mod.locate(shelters.geometry, areas)
    outside = shelters["area"] < 0
    if outside.any():
        names = shelters.loc[outside, "name"].astype(str).head(5)
        note(warnings, f"{int(outside.sum())} shelters lie outside every area and are not counted: "
             + ", ".join(names), f"{int(outside.sum())} 处避难场所不在任何分析区域内，未计入：" + "、".join(names))
    shelters["area_adcode"] = np.where(outside, None, areas["adcode"].to_numpy()[shelters["area"].clip(lower=0)])
    sup = supply.supply_by_area(shelters, n)
    _situation_warnings(shelters, situation, situation_mod, warnings)
    if not len(shelters):
        note(warnings, "the registry holds no shelters: no shelter offers places, every person to shelter is short",
             "登记库中没有避难场所：没有可用的避难位置，需安置人员全部为缺口")

    ctx.progress("stock", 3, steps)
    depots, matrix = stock_mod.depot_stock(reg, assessed, warnings)
    pairs = stock_mod.in_reach(depots, areas, epsg, params["depot_reach_km"])
    per_area, depots_in_reach, region_stock, region_depots = stock_mod.stock_by_area(matrix, pairs, n)

    ctx.progress("teams", 4, steps)
    tm = teams.teams_by_area(reg, areas, warnings)

    ctx.progress("results", 5, steps)
    table = pd.concat([areas[["adcode", "name", "level", "parent_adcode"]], pop, dem, sup, tm], axis=1)
    table = table.assign(**supply.balance(table["demand"], table["places"], table["fixed_places"],
                                          table["population"], params["share"]))
    per10k, per_team = teams.team_ratios(table["team_members"], table["teams"], table["hazard_points"],
                                         table["population"])
    table["members_per_10k"], table["hazards_per_team"] = per10k, per_team
    table["depots_in_reach"] = depots_in_reach
    for j, need in enumerate(assessed):
        table[f"stock_{need.key}"] = per_area[:, j]
        value = stock_mod.supply_days(per_area[:, j], table["demand"], need)
        table[("days_" if need.consumable else "cover_") + need.key] = value
    area_layer = gpd.GeoDataFrame(table, geometry=areas.geometry.values, crs=areas.crs)

    region = summary.region_totals(table, ADDITIVE, params["share"])
    empty = table[table["population"] <= 0]
    if len(empty):
        pairs = list(zip(empty["name"].head(5), empty["adcode"].head(5)))
        note(warnings, f"nobody lives in {len(empty)} of {n} areas (no population cell with people): nothing to "
                       f"shelter there: " + ", ".join(f"{a} ({c})" for a, c in pairs),
             f"{n} 个区域中有 {len(empty)} 个无人居住（没有有人口的格网），无需安置：" + "、".join(a for a, _ in pairs))
    region["situation"] = situation.code
    region["depots_in_reach"] = region_depots
    for j, need in enumerate(assessed):
        region[f"stock_{need.key}"] = float(region_stock[j])
        value = stock_mod.supply_days(region_stock[j:j + 1], np.array([region["demand"]]), need)[0]
        region[("days_" if need.consumable else "cover_") + need.key] = float(value)
    region_name = reg.info.name
    stock_table = stock_mod.stock_table(table, per_area, depots_in_reach, region_stock, region_depots,
                                        int(region["demand"]), assessed, region_name)

    shelter_cols = ["uuid", "name", "adcode", "area_adcode", "shelter_type", "level", "status", "effective_area_m2",
                    "capacity_day", "capacity_night", "capacity_post_impact", "capacity", "m2_per_person",
                    "area_places", "places", "over_area", "counted", "capacity_unknown", "unknown_reason",
                    "occupancy", "occupancy_at", "state", "available", "over_capacity"]
    shelter_layer = gpd.GeoDataFrame(shelters[shelter_cols], geometry=shelters.geometry.values, crs=shelters.crs)
    shelter_layer = shelter_layer.reset_index(drop=True)

    rows = summary.summary_rows(region, params, assessed, situation)
    info = {"registry": reg.info.name, "bureau": reg.info.bureau, "epsg": epsg, "params": dict(params),
            "standard": standard, "needs": needs_profile, "displacement": displacement,
            "unassessed": [nd for nd in all_needs if not nd.categories], "assessed": assessed, "rates": rates,
            "situation": situation}
    ctx.progress("results", steps, steps)

    def report(lang: str) -> str:
        from .report import render

        return render(area_layer, shelter_layer, stock_table, region, rows, info, warnings, lang)

    return AnalysisResult(
        layers={"capacity_areas": area_layer, "capacity_shelters": shelter_layer},
        tables={"capacity_stock": stock_table, "capacity_region": pd.DataFrame([region])},
        summary=rows, report=report, warnings=warnings)


def _situation_warnings(shelters, situation, situation_mod, warnings: list[str]) -> None:
    """Say which capacity was counted where it matters: unknown capacities, night figures above day ones."""
    unknown = shelters[shelters["capacity_unknown"]]
    if len(unknown):
        people = int(unknown["occupancy"].fillna(0).sum())
        names = unknown["name"].astype(str).head(5)
        note(warnings, f"{len(unknown)} shelters have no capacity recorded for the situation "
                       f"({situation.title('en').lower()}: {situation_mod.UNKNOWN[situation.code][1]}): reported as "
                       f"capacity unknown, not counted as places, full or empty ({people} people in them): "
             + ", ".join(names),
             f"{len(unknown)} 处避难场所{situation_mod.UNKNOWN[situation.code][0]}（{situation.title('zh')}）："
             f"列为容量不明，不计入避难位置，也不算已满或空置（其中 {people:,} 人）：" + "、".join(names))
    if situation.code == "overnight":
        above = situation_mod.night_above_day(shelters[shelters["counted"]])
        if above:
            note(warnings, f"{above} shelters record more night places than day places: the day capacity is "
                           f"taken overnight (indoor places are part of it)",
                 f"{above} 处避难场所登记的夜间容量大于日间容量：过夜按日间容量计（室内位置是其中一部分）")


CAPACITY = Analysis(
    name="capacity",
    title_zh="应急避难场所容量分析",
    title_en="Shelter capacity",
    description_zh=("按乡镇（或县）和全区计算：需安置人数（15% 规则或灾害转移率，夜间或日间人口）、"
                    "按标准核定的避难位置、"
                    "缺口与富余、固定避难场所是否达到人口的 15%、实时安置人数与剩余空位、服务半径内储备物资可供受灾人员"
                    "的天数、每万人救援队员数和每支队伍对应的隐患点数；容量按情景取值（过夜或寒冷季节按室内容量，"
                    "日间短时疏散按日间容量，灾后按灾后安置容量），未登记的容量报为“容量不明”；输出 GeoPackage 结果图层和中英文 HTML 报告。"),
    description_en=("For every township (or county) and the whole region: the people to shelter (the 15 % rule or "
                    "hazard displacement rates, night or day population), the places shelters offer under a standard, "
                    "shortfalls and surpluses, whether fixed shelters take 15 % of the population, live occupancy and "
                    "free places, how many days the stock of depots within reach lasts the displaced, team members "
                    "per 10,000 people and hazard points per team. The capacity counted follows the situation "
                    "(indoor places overnight or in a cold season, day capacity for a short daytime evacuation, "
                    "post-impact capacity after the hazard); a capacity not recorded is reported as unknown. Writes "
                    "result layers to a GeoPackage and an HTML report in Chinese or English."),
    parameters=PARAMETERS,
    outputs=OUTPUTS,
    run=run,
    requires=("admin_areas", "population"),  # no shelters at all is a result: every person to shelter is short
    version="2",
    packages=("numpy", "pandas", "geopandas", "shapely>=2", "matplotlib"),  # what QGIS's Processing checks before it offers to run it
)
