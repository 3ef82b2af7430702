"""The capacity report's parameters said in words, in the report's language: the subtitle's sentence and the
parameter table (no parameter codes such as ``share`` or ``township``, no raw tuples)."""

from __future__ import annotations

from typing import Any

from rallypoint_plugins.reporting import numbers, times

from .texts import PARAM_NAMES

METHODS = {"share": ("按人口比例", "a share of the population"),
           "hazard": ("按灾害分级转移率", "the displacement rates of a hazard class")}
CLASSES = {"high": ("高", "high"), "medium": ("中", "medium"), "low": ("低", "low")}
PERIODS = {"night": ("夜间（常住）人口", "night (resident) population"), "day": ("日间人口", "day population")}
LEVELS = {"township": ("乡镇（街道）", "township"), "county": ("县（市、区）", "county")}
SITUATION_CHOICE = {"auto": ("按时间和月份自动判断", "decided from the time and month"),
                    "overnight": ("过夜/寒冷季节", "overnight or cold season"),
                    "daytime": ("日间短时疏散", "short daytime evacuation"),
                    "post_impact": ("灾后安置", "after the impact")}


def _w(table: dict, key: Any, lang: str) -> str:
    zh, en = table.get(key, (str(key), str(key)))
    return zh if lang == "zh" else en


def _list(values, lang: str) -> str:
    return ("、" if lang == "zh" else ", ").join(f"{float(v):g}" for v in values)


def value_words(key: str, v: Any, info: dict, lang: str) -> str:
    """One parameter's value in words."""
    zh = lang == "zh"
    profiles = {"standard": info["standard"], "needs": info["needs"], "displacement": info["displacement"]}
    if key in profiles:
        return profiles[key].title(lang) if profiles[key] is not None else "—"
    if v is None:
        return "未指定" if zh else "not given"
    if key == "method":
        return _w(METHODS, v, lang)
    if key == "hazard_class":
        return _w(CLASSES, v, lang)
    if key == "period":
        return _w(PERIODS, v, lang)
    if key == "level":
        return _w(LEVELS, v, lang)
    if key == "situation":
        return _w(SITUATION_CHOICE, v, lang)
    if key in ("share", "near_full"):
        return numbers.percent(v, 0)
    if key == "depot_reach_km":
        return f"{float(v):g} 千米" if zh else f"{float(v):g} km"
    if key == "at":
        return times.stamp(v, lang)
    if key == "cold_months":
        return f"{_list(v, lang)} 月" if zh else f"months {_list(v, lang)}"
    if key == "day_hours":
        a, b = (float(x) for x in v)
        return f"{a:g} 时至 {b:g} 时" if zh else f"{a:g}:00 to {b:g}:00"
    return str(v)


def parameter_rows(info: dict, lang: str) -> list[tuple[str, str]]:
    """(name, value in words) for every parameter the run used (hazard ones only with the hazard method)."""
    p = dict(info["params"])
    if p.get("method") != "hazard":
        p.pop("hazard_class", None)
        p.pop("displacement", None)
    return [(PARAM_NAMES[k][0 if lang == "zh" else 1], value_words(k, v, info, lang)) for k, v in p.items()
            if k in PARAM_NAMES]


def subtitle(info: dict, lang: str) -> str:
    """The run in one sentence: areas, who is to be sheltered, under which standard, which capacity."""
    p = info["params"]
    zh = lang == "zh"
    level = _w(LEVELS, p["level"], lang)
    period = _w(PERIODS, p["period"], lang)
    standard = info["standard"].title(lang)
    sit = info["situation"].title(lang)
    if p["method"] == "hazard":
        cls = _w(CLASSES, p["hazard_class"], lang)
        demand = (f"需安置人数按{period}和{cls}灾害分级的转移率计算" if zh else
                  f"people to shelter from the {period} at the displacement rates of the {cls} hazard class")
    else:
        share = numbers.percent(p["share"], 0)
        demand = (f"需安置人数为{period}的 {share}" if zh else f"people to shelter: {share} of the {period}")
    reach = f"{float(p['depot_reach_km']):g}"
    if zh:
        return (f"按{level}汇总；{demand}；避难位置按{standard}核定；适用容量：{sit}；"
                f"储备库服务半径 {reach} 千米。")
    return (f"By {level}; {demand}; places under {standard}; capacity counted: {sit.lower()}; depots within "
            f"{reach} km of an area count for it.")
