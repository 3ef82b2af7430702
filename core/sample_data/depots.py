"""Material depots at city, county and township level, and the stock each one holds."""

from __future__ import annotations

import numpy as np
import shapely

from .features import Feature, _dates, _uuids
from .names import _person_names, _phones
from .world import _World

# item, category, unit, township quantity, shelf life in years (None: does not expire)
_STOCK = [
    ("编织袋", "sandbag", "piece", 20_000, None), ("水泥", "building_material", "t", 200, None),
    ("砂", "building_material", "m3", 1_100, None), ("石料", "building_material", "m3", 1_500, None),
    ("木材", "building_material", "m3", 10, None), ("铁丝及钢管", "building_material", "kg", 1_800, None),
    ("土工布", "building_material", "m2", 4_200, None), ("30千瓦发电机", "generator", "set", 1, None),
    ("应急照明灯", "light", "piece", 38, None), ("抢险运输车", "vehicle", "piece", 18, None),
    ("救生衣", "life_jacket", "piece", 40, None), ("救灾帐篷", "tent", "set", 30, None),
    ("棉被", "quilt", "piece", 200, None), ("折叠床", "folding_bed", "piece", 100, None),
    ("大米", "food", "kg", 2_000, 2), ("方便面", "food", "box", 300, 1), ("瓶装饮用水", "water", "box", 500, 2),
    ("家庭应急包", "family_kit", "set", 100, 3), ("冲锋舟", "boat", "piece", 2, None),
    ("急救药品包", "medical", "box", 20, 2), ("移动厕所", "toilet", "piece", 4, None),
    ("棉大衣", "clothing", "piece", 100, None), ("强光手电", "light", "piece", 60, None),
    ("救生圈", "life_jacket", "piece", 30, None),
]
_LEVEL_FACTOR = {"city": 12.0, "county": 4.0, "township": 1.0}


def _depots(w: _World, rng, bureau: str) -> tuple[list[Feature], list[Feature]]:
    cfg = w.cfg
    entries = []  # (level, x, y, name, owner)
    nc = len(w.county_seat)
    if cfg.core_districts:
        entries.append(("city", *w.core_xy, f"{cfg.name}应急物资储备库", bureau))
    for c in range(nc):
        sx, sy = w.town_xy[w.county_seat[c]]
        cn = w.county_name[c]
        entries.append(("county", sx, sy, f"{cfg.name if c == 0 and not cfg.core_districts else cn}应急物资储备库",
                        f"{cn}应急管理局"))
    for t in range(len(w.town_xy)):
        tn = w.town_name[t]
        owner = f"{tn}办事处" if w.town_kind[t] == "街道" else f"{tn}人民政府"
        entries.append(("township", *w.town_xy[t], f"{tn}应急物资储备点", owner))
    m = len(entries)
    a = rng.uniform(0, 2 * np.pi, m)
    d = rng.uniform(150.0, 700.0, m)
    x = np.array([e[1] for e in entries]) + d * np.cos(a)
    y = np.array([e[2] for e in entries]) + d * np.sin(a)
    lon, lat, town = w.place(x, y)
    uuids = _uuids(rng, m)
    keeper, phone = _person_names(rng, m), _phones(rng, m)
    addr = w.address(rng, town)
    depots: list[Feature] = []
    stock: list[Feature] = []
    for i, (level, _, _, name, owner) in enumerate(entries):
        floor = {"city": rng.uniform(5_000, 10_000), "county": rng.uniform(1_000, 3_000),
                 "township": rng.uniform(100, 600)}[level]
        height = {"city": rng.uniform(6, 9), "county": rng.uniform(4.5, 7), "township": rng.uniform(3, 4.5)}[level]
        props = {
            "uuid": uuids[i],
            "name": name,
            "adcode": w.town_code[town[i]],
            "address": addr[i],
            "source": bureau,
            "level": level,
            "floor_area_m2": round(float(floor), 1),
            "volume_m3": round(float(floor * height), 1),
            "staffed_24h": bool(level != "township" or rng.random() < 0.3),
            "status": "in_service" if rng.random() > 0.02 else "closed",
            "keeper_name": keeper[i],
            "keeper_phone": phone[i],
        }
        depots.append((props, shapely.Point(lon[i], lat[i])))
        k = int(rng.integers(5, 16))
        items = rng.choice(len(_STOCK), size=k, replace=False)
        items.sort()
        su = _uuids(rng, k)
        for j, it in enumerate(items.tolist()):
            item, cat, unit, qty, life = _STOCK[it]
            q = qty * _LEVEL_FACTOR[level] * rng.lognormal(0.0, 0.35)
            q = float(max(1, round(q))) if unit in ("piece", "set", "box") else round(float(q), 1)
            row = {
                "uuid": su[j],
                "source": bureau,
                "depot_uuid": uuids[i],
                "item": item,
                "category": cat,
                "unit": unit,
                "quantity": q,
                "stock_source": "donated" if rng.random() < 0.15 else "procured",
                "owner": owner,
            }
            if life:
                row["expiry"] = _dates(rng, 1, "2025-06-01", f"{2026 + life}-12-31")[0]
            stock.append((row, None))
    return depots, stock
