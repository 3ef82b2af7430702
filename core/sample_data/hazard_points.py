"""Hazard points: geohazards in the hills, major hazard installations, flood points, fire risks and others."""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from scipy.spatial import cKDTree

from .features import Feature, _pick, _uuids
from .names import _person_names, _phones
from .world import _World

_GEO_TYPES = ["landslide", "rockfall", "debris_flow", "unstable_slope", "collapse", "ground_fissure", "subsidence"]
_GEO_SHARE = [0.50, 0.20, 0.14, 0.10, 0.03, 0.015, 0.015]
_GEO_ZH = {"landslide": "滑坡", "rockfall": "崩塌", "debris_flow": "泥石流", "unstable_slope": "不稳定斜坡",
           "collapse": "地面塌陷", "ground_fissure": "地裂缝", "subsidence": "地面沉降"}
# volume (m³) limits of small / medium / large; above is giant
_SCALE_LIMITS = {"landslide": (1e5, 1e6, 1e7), "unstable_slope": (1e5, 1e6, 1e7), "rockfall": (1e4, 1e5, 1e6),
                 "debris_flow": (2e4, 2e5, 5e5), "collapse": (1e3, 1e4, 1e5)}
_VOLUME_MEDIAN = {"landslide": 2e4, "unstable_slope": 1e4, "rockfall": 2e3, "debris_flow": 3e4, "collapse": 500.0}


def _hazard_points(w: _World, rng, bureau: str, shelter_uuids: list[str], shelter_xy: np.ndarray) -> list[Feature]:
    cfg = w.cfg
    n = cfg.hazard_points
    n_geo = round(n * cfg.geohazard_share)
    n_mhi = cfg.installations
    rest = n - n_geo - n_mhi
    n_flood = round(rest * 0.15)
    n_fire = round(rest * 0.57)
    n_other = rest - n_flood - n_fire
    geo_types = np.array(_pick(rng, _GEO_TYPES, n_geo, _GEO_SHARE), dtype=object)
    types = np.concatenate([geo_types, np.full(n_mhi, "major_hazard_installation", dtype=object),
                            np.full(n_flood, "flood_point", dtype=object), np.full(n_fire, "fire_risk", dtype=object),
                            np.full(n_other, "other", dtype=object)])
    pop = w.pop.astype(float)
    h = w.cell_h
    cells = np.empty(n, np.int64)
    plain_geo = np.isin(geo_types, ["collapse", "ground_fissure", "subsidence"])
    hill_geo = np.flatnonzero(~plain_geo)
    cells[hill_geo] = w.sample_cells(rng, len(hill_geo), h**3 * (np.sqrt(pop) + 0.3))
    cells[np.flatnonzero(plain_geo)] = w.sample_cells(rng, int(plain_geo.sum()), pop + 0.1)
    s = n_geo + n_mhi
    cells[n_geo:s] = w.sample_cells(rng, n_mhi, pop + 0.1)  # replaced by park positions below
    cells[s:s + n_flood] = w.sample_cells(rng, n_flood, (pop + 0.1) * (1.0 - h) ** 3)
    cells[s + n_flood:s + n_flood + n_fire] = w.sample_cells(rng, n_fire, pop**1.2 + 0.01)
    cells[s + n_flood + n_fire:] = w.sample_cells(rng, n_other, pop + 0.1)
    x, y = w.jittered(rng, cells, 48.0)
    # Major hazard installations: in the industrial parks beside towns.
    if n_mhi:
        pk = rng.integers(0, len(w.park_xy), n_mhi) if len(w.park_xy) else np.zeros(n_mhi, int)
        base = w.park_xy[pk] if len(w.park_xy) else np.repeat(w.core_xy[None, :], n_mhi, 0)
        off = rng.normal(0, 350.0, (n_mhi, 2))
        x[n_geo:s], y[n_geo:s] = base[:, 0] + off[:, 0], base[:, 1] + off[:, 1]
    lon, lat, town = w.place(x, y)

    is_geo = np.arange(n) < n_geo
    is_mhi = (np.arange(n) >= n_geo) & (np.arange(n) < s)
    people = np.floor(rng.lognormal(np.log(12.0), 1.4, n)).astype(np.int64)
    people[is_geo] = np.floor(rng.lognormal(np.log(20.0), 1.3, n_geo)).astype(np.int64)
    people[is_mhi] = np.floor(rng.lognormal(np.log(150.0), 1.2, n_mhi)).astype(np.int64)
    households = np.round(people / rng.uniform(2.7, 3.4, n)).astype(np.int64)
    households[(people > 0) & (households == 0)] = 1
    prop_wan = np.round(people * rng.lognormal(np.log(5.0), 0.6, n), 1)
    # risk index R for installations (α from the people near by)
    alpha = np.select([people >= 100, people >= 50, people >= 30, people >= 1], [2.0, 1.5, 1.2, 1.0], 0.5)
    r_val = np.round(alpha * rng.lognormal(np.log(3.0), 1.0, n), 2)
    has_r = is_mhi & (rng.random(n) < 0.95)
    status = np.array(_pick(rng, ["rectified", "active", "monitoring"], n, [0.997, 0.001, 0.002]), dtype=object)
    status[is_geo] = _pick(rng, ["rectified", "monitoring", "active"], n_geo, [0.70, 0.25, 0.05])
    vol = np.zeros(n)
    for t, med in _VOLUME_MEDIAN.items():
        m = types == t
        vol[m] = np.round(rng.lognormal(np.log(med), 1.4, m.sum()), 0)
    stability = _pick(rng, ["stable", "less_stable", "unstable"], n, [0.2, 0.6, 0.2])
    assign = np.full(n, -1)
    if len(shelter_xy):
        _, near = cKDTree(shelter_xy).query(np.column_stack([x, y]))
        wants = (is_geo & (rng.random(n) < 0.95)) | (is_mhi & (rng.random(n) < 0.5))
        assign[wants] = near[wants]
    monitored = is_geo | (rng.random(n) < 0.5)
    uuids = _uuids(rng, n)
    mon, phone = _person_names(rng, n), _phones(rng, n)
    addr = w.address(rng, town)
    _, vnear = cKDTree(w.village_xy).query(np.column_stack([x, y])) if len(w.village_xy) else (None, np.zeros(n, int))
    group = rng.integers(1, 13, n).tolist()
    mhi_names = ["化工有限公司液氨储罐区", "燃气储配站", "成品油库", "危化品仓储公司", "化肥厂合成氨装置",
                 "液化石油气储配站", "电镀园区危废库"]
    flood_names = ["下穿隧道", "低洼小区", "老城区排水口", "立交桥下", "农贸市场", "河堤段"]
    fire_names = ["农贸市场", "九小场所", "老旧小区", "出租屋", "电动车集中充电点", "仓库", "宾馆", "餐饮街",
                  "家具市场", "小作坊"]
    other_names = ["自建房", "在建工地", "危桥", "老旧燃气管道", "户外广告牌", "游乐设施", "废弃矿洞", "尾矿库"]
    pick_mhi = _pick(rng, mhi_names, n)
    pick_flood = _pick(rng, flood_names, n)
    pick_fire = _pick(rng, fire_names, n)
    pick_other = _pick(rng, other_names, n)
    seen: dict[str, int] = {}

    def numbered(stem: str, kind: str) -> str:
        seen[stem] = seen.get(stem, 0) + 1
        return f"{stem}{kind}" if seen[stem] == 1 else f"{stem}{seen[stem]}号{kind}"

    out: list[Feature] = []
    tl, pl, hl, prl, rl, vl = (types.tolist(), people.tolist(), households.tolist(), prop_wan.tolist(),
                              r_val.tolist(), vol.tolist())
    for i in range(n):
        t = tl[i]
        tn = w.town_name[town[i]]
        props: dict[str, Any] = {
            "uuid": uuids[i],
            "adcode": w.town_code[town[i]],
            "address": addr[i],
            "source": bureau,
            "hazard_type": t,
            "threatened_people": pl[i],
            "threatened_households": hl[i],
            "threatened_property": prl[i],
            "status": status[i],
        }
        if is_geo[i]:
            vname = w.village_name[vnear[i]] if len(w.village_xy) else tn
            props["name"] = numbered(f"{vname}{group[i]}组", _GEO_ZH[t])
            if t in _SCALE_LIMITS:
                v = vl[i]
                props["volume_m3"] = float(v)
                lim = _SCALE_LIMITS[t]
                props["scale"] = ("small" if v < lim[0] else "medium" if v < lim[1]
                                  else "large" if v < lim[2] else "giant")
            else:
                props["scale"] = "small"
            props["stability"] = stability[i]
        elif t == "major_hazard_installation":
            props["name"] = numbered(f"{tn[:2]}{pick_mhi[i]}", "")
            if has_r[i]:
                props["risk_value_r"] = rl[i]
            else:
                props["danger_grade"] = _grade_people(pl[i])
        elif t == "flood_point":
            props["name"] = numbered(f"{tn}{pick_flood[i]}", "易涝点")
            props["danger_grade"] = _grade_people(pl[i])
        elif t == "fire_risk":
            props["name"] = numbered(f"{tn}{pick_fire[i]}", "火灾隐患")
            props["danger_grade"] = _grade_people(pl[i])
        else:
            props["name"] = numbered(f"{tn}{pick_other[i]}", "安全隐患")
            props["danger_grade"] = _grade_people(pl[i])
        if assign[i] >= 0:
            props["assigned_shelter"] = shelter_uuids[assign[i]]
        if monitored[i]:
            props["monitor_name"], props["monitor_phone"] = mon[i], phone[i]
        out.append((props, shapely.Point(lon[i], lat[i])))
    return out


def _grade_people(p: int) -> str:
    return "I" if p >= 1000 else "II" if p >= 500 else "III" if p >= 100 else "IV"
