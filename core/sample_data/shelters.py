"""Emergency shelters: where they are, their areas and capacities (GB 51143-2015), and who manages them."""

from __future__ import annotations

import numpy as np
import shapely

from .config import AS_OF
from .features import Feature, _clean, _pick, _uuids
from .names import _person_names, _phones
from .world import _World

# Per-capita effective area (m²) of GB 51143-2015 by shelter type (central taken as long term),
# and the planned area per person the sample bureau used (≥ the standard, chosen so that the
# city's totals come near DOMAIN.md: 2,938 shelters, 1.969 million m², 308,200 people).
SHELTER_STANDARD_M2 = {"emergency": 0.5, "fixed_short": 2.0, "fixed_medium": 3.0, "fixed_long": 4.5, "central": 4.5}
_SHELTER_PLAN_M2 = {"emergency": 4.0, "fixed_short": 8.0, "fixed_medium": 9.0, "fixed_long": 10.0, "central": 10.0}
_SHELTER_MEAN_AREA = {"emergency": 287.0, "fixed_short": 1_000.0, "fixed_medium": 1_860.0,
                      "fixed_long": 3_070.0, "central": 26_000.0}
_CITY_SHELTER_AREA = 1_969_000.0
_CITY_SHELTER_PEOPLE = 308_200
_OVER_CAPACITY_SHARE = 0.03


def _shelters(w: _World, rng: np.random.Generator, bureau: str) -> tuple[list[Feature], np.ndarray]:
    cfg = w.cfg
    types = [t for t in ("central", "fixed_long", "fixed_medium", "fixed_short", "emergency")
             for _ in range(cfg.shelters[t])]
    types = np.array(types, dtype=object)
    n = len(types)
    # Where people are: cells drawn by population; central shelters beside the core and the seats.
    cells = w.sample_cells(rng, n, w.pop.astype(float) + 1e-9, replace=False)
    x, y = w.jittered(rng, cells, 40.0)
    central = np.flatnonzero(types == "central")
    if len(central):
        hubs = np.vstack([w.core_xy[None, :], w.town_xy[w.county_seat[cfg.core_districts:]]])
        hubs = hubs[np.argsort(np.hypot(*(hubs - w.core_xy).T), kind="stable")]
        for j, i in enumerate(central):
            a = rng.uniform(0, 2 * np.pi)
            hx, hy = hubs[j % len(hubs)] + rng.uniform(800, 2_000) * np.array([np.cos(a), np.sin(a)])
            x[i], y[i] = hx, hy
    lon, lat, town = w.place(x, y)

    area = np.array([_SHELTER_MEAN_AREA[t] for t in types]) * rng.lognormal(-0.18, 0.6, n)
    area = np.maximum(area, 60.0)
    if cfg.size == "city":
        area *= _CITY_SHELTER_AREA / area.sum()
    area = np.round(area, 1)
    std = np.array([SHELTER_STANDARD_M2[t] for t in types])
    plan = np.array([_SHELTER_PLAN_M2[t] for t in types]) * rng.lognormal(0.0, 0.2, n)
    cap = area / np.maximum(plan, std * 1.05)
    over = np.zeros(n, bool)
    over[rng.choice(n, size=max(1, round(n * _OVER_CAPACITY_SHARE)), replace=False)] = True
    cap_over = area / std * rng.uniform(1.05, 1.4, n)
    if cfg.size == "city":
        need = _CITY_SHELTER_PEOPLE - cap_over[over].sum()
        cap[~over] *= need / cap[~over].sum()
    cap = np.where(over, np.ceil(cap_over), np.maximum(1, np.round(cap)))
    cap = cap.astype(np.int64)
    indoor = rng.random(n) < np.where(types == "central", 0.0, np.where(types == "emergency", 0.4, 0.3))
    night_ratio = np.where(indoor, rng.uniform(0.6, 1.0, n), rng.uniform(0.35, 0.9, n))
    night = np.floor(cap * night_ratio).astype(np.int64)
    dorm = indoor & (rng.random(n) < 0.01)
    night[dorm] = np.ceil(cap[dorm] * 1.1).astype(np.int64)
    post = np.floor(cap * rng.uniform(0.4, 0.6, n)).astype(np.int64)
    status = np.array(_pick(rng, ["standby", "open", "closed", "full"], n, [0.85, 0.10, 0.03, 0.02]), dtype=object)
    occ = np.zeros(n, np.int64)
    op = status == "open"
    occ[op] = np.floor(cap[op] * rng.uniform(0.0, 0.8, op.sum())).astype(np.int64)
    occ[status == "full"] = cap[status == "full"]
    flood_plain = rng.random(n) < 0.07
    hz = {
        "earthquake": rng.random(n) < 0.9,
        "flood": (rng.random(n) < 0.55) & ~flood_plain,
        "typhoon": rng.random(n) < np.where(indoor, 0.35, 0.03),
        "geohazard": rng.random(n) < 0.15 + 0.5 * w.cell_h[cells],
        "fire": rng.random(n) < 0.25,
        "hazmat": rng.random(n) < 0.05,
    }
    level = []
    for t in types.tolist():
        if t == "central":
            level.append("city")
        elif t == "fixed_long":
            level.append(_pick(rng, ["city", "county"], 1, [0.5, 0.5])[0] if cfg.core_districts else "county")
        elif t == "fixed_medium":
            level.append("county")
        elif t == "fixed_short":
            level.append(_pick(rng, ["county", "township"], 1, [0.4, 0.6])[0])
        else:
            level.append(_pick(rng, ["township", "village"], 1, [0.3, 0.7])[0])
    if len(central):
        level[central[0]] = "province"
    eqc = {"central": "I", "fixed_long": "I", "fixed_medium": "II", "fixed_short": "III", "emergency": "III"}
    sites_in = ["中心小学", "中学", "体育馆", "文化活动中心", "便民服务中心", "职业技术学校", "会展中心"]
    sites_out = ["广场", "公园", "绿地", "体育场", "滨河公园", "湿地公园", "学校操场", "文化广场"]
    site = [(_pick(rng, sites_in, 1)[0] if ind else _pick(rng, sites_out, 1)[0]) for ind in indoor.tolist()]
    uuids = _uuids(rng, n)
    addr = w.address(rng, town)
    mgr, phone = _person_names(rng, n), _phones(rng, n)
    pets = _pick(rng, ["none", "cohabit", "on_site"], n, [0.6, 0.15, 0.25])
    wheel = (rng.random(n) < 0.6).tolist()
    gen = (rng.random(n) < np.where(np.isin(types, ["emergency"]), 0.3, 0.8)).tolist()
    site_area = np.round(area * rng.uniform(1.3, 3.5, n), 1)
    minutes = rng.integers(0, 60, n).tolist()
    seen: dict[str, int] = {}
    out: list[Feature] = []
    cap_l, night_l, post_l, occ_l = cap.tolist(), night.tolist(), post.tolist(), occ.tolist()
    for i in range(n):
        t = types[i]
        tn = w.town_name[town[i]]
        base = f"{tn}{site[i]}应急避难场所"
        seen[base] = seen.get(base, 0) + 1
        name = base if seen[base] == 1 else f"{tn}{site[i]}（{seen[base]}）应急避难场所"
        hazards = ",".join(k for k, v in hz.items() if v[i]) or "earthquake"
        props = {
            "uuid": uuids[i],
            "name": name,
            "adcode": w.town_code[town[i]],
            "address": addr[i],
            "source": bureau,
            "shelter_type": t,
            "eq_class": eqc[t] if "earthquake" in hazards else None,
            "level": level[i],
            "indoor": bool(indoor[i]),
            "site_area_m2": float(site_area[i]),
            "effective_area_m2": float(area[i]),
            "capacity_day": cap_l[i],
            "capacity_night": night_l[i],
            "capacity_post_impact": post_l[i],
            "occupancy": occ_l[i],
            "occupancy_at": f"{AS_OF}T08:{minutes[i]:02d}:00+08:00",
            "hazards": hazards,
            "wheelchair_access": wheel[i],
            "pets": pets[i],
            "generator": gen[i],
            "in_flood_plain": bool(flood_plain[i]),
            "status": status[i],
            "manager_name": mgr[i],
            "manager_phone": phone[i],
        }
        out.append((_clean(props), shapely.Point(lon[i], lat[i])))
    return out, np.column_stack([x, y])
