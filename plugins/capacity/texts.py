"""The words of the summary and the report, in Chinese and English, in one place."""

from __future__ import annotations

TEXTS: dict[str, tuple[str, str]] = {
    "title": ("应急避难场所容量分析", "Shelter capacity analysis"),
    "areas": ("分析区域数", "Areas analysed"),
    "population": ("人口", "Population"),
    "pop_night": ("夜间人口", "Night population"),
    "pop_day": ("日间人口", "Day population"),
    "demand": ("需安置人数", "People to shelter"),
    "fatalities": ("预计死亡人数", "Expected fatalities"),
    "places": ("有效避难位置", "Shelter places"),
    "recorded_capacity": ("登记容量", "Recorded capacity"),
    "over_area": ("容量超出面积允许的场所", "Shelters whose capacity exceeds their area"),
    "shortfall": ("缺口（各区域之和）", "Shortfall (sum of areas)"),
    "surplus": ("富余（各区域之和）", "Surplus (sum of areas)"),
    "coverage": ("覆盖率（%）", "Coverage (%)"),
    "fixed_ratio": ("固定避难位置占人口（%）", "Fixed-shelter places per population (%)"),
    "fixed_ok_areas": ("达到 {share} 要求的区域", "Areas meeting the {share} rule"),
    "shelters": ("计入的避难场所", "Shelters counted"),
    "occupancy": ("当前安置人数", "People in shelters now"),
    "full_near": ("已满 / 接近满员的场所", "Shelters full / near full"),
    "available": ("当前剩余空位（容量已知的场所）", "Places available now (shelters of known capacity)"),
    "situation": ("适用容量的情景", "Capacity counted for"),
    "n_over": ("超员场所（人数多于容量）", "Shelters over capacity"),
    "n_unknown": ("容量不明的场所", "Shelters of unknown capacity"),
    "occupancy_unknown": ("容量不明场所中的人数", "People in shelters of unknown capacity"),
    "unknown_list": ("容量不明的场所（不计入避难位置，也不算已满或空置）",
                     "Shelters of unknown capacity (not counted as places, nor as full or empty)"),
    "over_capacity_list": ("超员的场所", "Shelters over capacity"),
    "reason": ("原因", "Reason"),
    "capacity": ("适用容量", "Capacity counted"),
    "days": ("{need}可供天数", "Days of {need}"),
    "cover": ("{need}满足率（%）", "{need} covered (%)"),
    "teams": ("救援队伍", "Rescue teams"),
    "members_per_10k": ("每万人救援队员", "Team members per 10,000 people"),
    "hazards_per_team": ("每支队伍对应隐患点", "Hazard points per team"),
    "hazard_points": ("在册隐患点", "Open hazard points"),
    # report
    "report_for": ("登记库", "Registry"),
    "parameters": ("分析参数", "Parameters"),
    "headline": ("主要结论", "Headline figures"),
    "map": ("各区域避难位置缺口", "Shortfall of shelter places by area"),
    "map_legend": ("缺口（人）", "Shortfall (people)"),
    "no_shortfall": ("无缺口", "No shortfall"),
    "bars": ("各区域需安置人数与避难位置", "People to shelter and places by area"),
    "days_chart": ("物资可供天数", "Days of supply"),
    "days_caption": ("各区域的天数按其服务半径内的全部储备库计算，同一储备库会同时计入多个区域；"
                     "“全区”一行每个储备库只计一次，反映总体保障能力。颜色由红（0 天）渐变到绿（14 天及以上）。",
                     "An area's days count every depot within reach, and one depot serves several areas; the Region "
                     "row counts each depot once and shows what the region as a whole holds. "
                     "Colours run from red (0 days) to green (14 days or more)."),
    "cover_chart": ("一次性物资满足率", "One-off needs covered"),
    "table": ("分区域明细", "Figures by area"),
    "over_list": ("容量超出有效面积允许值的场所", "Shelters whose recorded capacity exceeds what their area allows"),
    "busy_list": ("已满和接近满员的场所", "Shelters full or near full"),
    "notes": ("方法与数据说明", "Method and data"),
    "warnings": ("提示", "Warnings"),
    "region": ("全区", "Region"),
    "name": ("名称", "Name"),
    "adcode": ("代码", "Code"),
    "state": ("状态", "State"),
    "top_n": ("（按缺口取前 {n} 个，共 {total} 个区域）", "(the {n} largest shortfalls of {total} areas)"),
    "ok": ("达标", "meets"),
    "not_ok": ("不达标", "fails"),
    "people": ("人", "people"),
    "day_unit": ("天", "days"),
    "none": ("无", "none"),
    "shelter_points": ("避难场所（大小按位置数）", "Shelters (size by places)"),
    "no_charts": ("未安装 matplotlib，报告不含地图和图表。",
                  "matplotlib is not installed: the report has no maps or charts."),
}

PARAM_NAMES = {
    "standard": ("避难场所标准", "Shelter standard"), "method": ("需求计算方法", "Demand method"),
    "share": ("安置比例", "Share to shelter"), "hazard_class": ("灾害分级", "Hazard class"),
    "displacement": ("转移率方案", "Displacement profile"), "period": ("时段", "Period"),
    "needs": ("最低需求方案", "Minimum needs profile"),
    "depot_reach_km": ("储备库服务半径（千米）", "Depot reach (km)"),
    "near_full": ("接近满员阈值", "Near-full threshold"), "level": ("汇总层级", "Level of areas"),
    "situation": ("适用容量的情景", "Situation"), "at": ("判断情景的时间", "Moment of the situation"),
    "cold_months": ("寒冷季节月份", "Cold-season months"), "day_hours": ("日间时段（时）", "Day hours"),
}


def t(key: str, lang: str, **fmt) -> str:
    zh, en = TEXTS[key]
    text = zh if lang == "zh" else en
    return text.format(**fmt) if fmt else text


def pair(key: str, **fmt) -> tuple[str, str]:
    zh, en = TEXTS[key]
    return (zh.format(**fmt), en.format(**fmt)) if fmt else (zh, en)
