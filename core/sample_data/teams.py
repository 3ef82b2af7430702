"""Rescue teams: fire and rescue stations, professional, social and militia teams, village squads."""

from __future__ import annotations

import numpy as np
import shapely

from .features import Feature, _pick, _uuids
from .names import _person_names, _phones, _place_names
from .world import _World


def _teams(w: _World, rng, bureau: str) -> list[Feature]:
    cfg = w.cfg
    specs = []  # (category, x, y, name, members, vehicles, readiness, radius, nims, specialties, equipment)
    nc = len(w.county_seat)

    def spec_list(*codes):
        return ",".join(dict.fromkeys(c for c in codes if c))

    for c in range(nc):
        seat = w.town_xy[w.county_seat[c]]
        cn = w.county_name[c] if cfg.core_districts else cfg.name
        specs.append(("fire_rescue", seat, f"{cn}消防救援大队特勤站", int(rng.integers(30, 61)),
                      int(rng.integers(8, 16)), 1, float(rng.integers(10, 21)), 1,
                      spec_list("general", "earthquake_search", "water_rescue", "hazmat"),
                      "水罐消防车、抢险救援车、登高平台车、生命探测仪、破拆工具组"))
    core_towns = np.flatnonzero(w.town_core)
    for t in rng.choice(core_towns, size=min(cfg.core_fire_stations, len(core_towns)), replace=False).tolist():
        specs.append(("fire_rescue", w.town_xy[t], f"{w.town_name[t]}消防救援站", int(rng.integers(20, 41)),
                      int(rng.integers(4, 9)), 1, 8.0, 2, spec_list("general", "water_rescue", "hazmat"),
                      "水罐消防车、泡沫消防车、抢险救援车"))
    sectors = [
        ("flood", "防汛抢险队", "flood,water_rescue", "冲锋舟、橡皮艇、抽水泵、编织袋、照明车"),
        ("medical", "紧急医学救援队", "medical", "救护车、移动医疗单元、急救药品"),
        ("geohazard", "地质灾害应急抢险队", "geohazard,earthquake_search", "挖掘机、装载机、无人机、位移监测仪"),
        ("power", "电力抢修队", "general", "发电车、抢修车、登高车"),
        ("hazmat", "危化品应急救援队", "hazmat", "防化服、侦检仪、洗消设备"),
        ("forest", "森林消防专业队", "forest_fire", "风力灭火机、水泵、割灌机"),
        ("mine", "矿山救护队", "mine,earthquake_search", "正压氧气呼吸器、气体检测仪、救援绞车"),
    ]
    for c in range(nc):
        seat = w.town_xy[w.county_seat[c]]
        cn = w.county_name[c] if cfg.core_districts else cfg.name
        hh = float(w.hilliness(seat[0], seat[1]))
        for key, label, sp, eq in sectors:
            if key in ("forest", "mine") and hh < 0.2 and not (cfg.core_districts == 0 and key == "forest"):
                continue
            if key == "hazmat" and c < cfg.core_districts and rng.random() < 0.5:
                continue
            pos = seat + rng.normal(0, 1_500.0, 2)
            specs.append(("professional", pos, f"{cn}{label}", int(rng.integers(20, 81)), int(rng.integers(2, 12)),
                          int(rng.integers(10, 31)), float(rng.integers(30, 61)), int(rng.integers(2, 4)), sp, eq))
    social_names = _place_names(rng, cfg.social_teams)
    social_kinds = ["应急救援队", "志愿救援队", "户外救援队", "水上救援队", "救援协会"]
    members_social = np.maximum(8, np.round(rng.lognormal(np.log(20.0), 0.45, cfg.social_teams))).astype(int)
    if cfg.size == "city":  # DOMAIN.md: 1,815 insured social rescuers
        members_social = np.maximum(8, np.round(members_social * 1_815 / members_social.sum())).astype(int)
    sc = w.sample_cells(rng, cfg.social_teams, w.pop.astype(float) ** 1.3 + 1e-9)
    for k in range(cfg.social_teams):
        sp = _pick(rng, ["water_rescue", "earthquake_search", "medical", "general", "forest_fire"],
                   int(rng.integers(1, 4)))
        specs.append(("social", w.cell_xy[sc[k]], f"{cfg.name[:2]}{social_names[k]}{social_kinds[k % 5]}",
                      int(members_social[k]), int(rng.integers(0, 6)), int(rng.integers(30, 91)),
                      float(rng.integers(50, 301)), int(rng.integers(3, 5)), spec_list(*sp),
                      "救援绳索、橡皮艇、急救包、对讲机"))
    for t in range(len(w.town_xy)):
        hilly = w.town_h[t] > 0.5
        specs.append(("militia_volunteer", w.town_xy[t], f"{w.town_name[t]}应急救援队",
                      int(rng.integers(10, 51)), int(rng.integers(1, 5)), int(rng.integers(15, 31)),
                      float(rng.integers(10, 26)), 4,
                      spec_list("flood", "general", "forest_fire" if hilly else None, "geohazard" if hilly else None),
                      "抽水泵、发电机、风力灭火机、铁锹、编织袋"))
    # Village squads: one per group of villages in a township (≥ 30 members).
    for t in range(len(w.town_xy)):
        vil = np.flatnonzero(w.village_town == t)
        if not len(vil):
            continue
        ang = np.arctan2(*(w.village_xy[vil] - w.town_xy[t]).T[::-1])
        vil = vil[np.argsort(ang, kind="stable")]
        for g in range(0, len(vil), cfg.villages_per_squad):
            grp = vil[g:g + cfg.villages_per_squad]
            hv = float(np.mean(w.hilliness(w.village_xy[grp, 0], w.village_xy[grp, 1])))
            label = "、".join(w.village_name[v] for v in grp)
            specs.append(("village_squad", w.village_xy[grp[0]], f"{label}应急小分队", int(rng.integers(30, 61)),
                          int(rng.integers(0, 3)), int(rng.integers(10, 31)), float(rng.integers(2, 6)), 4,
                          spec_list("flood", "general", "geohazard" if hv > 0.5 else None,
                                    "forest_fire" if hv > 0.5 else None), "铁锹、编织袋、手摇报警器、应急灯"))
    m = len(specs)
    xy = np.array([s[1] for s in specs], float)
    jit = rng.normal(0, 120.0, (m, 2))
    lon, lat, town = w.place(xy[:, 0] + jit[:, 0], xy[:, 1] + jit[:, 1])
    uuids = _uuids(rng, m)
    lead, phone = _person_names(rng, m), _phones(rng, m)
    addr = w.address(rng, town)
    status = _pick(rng, ["ready", "deployed", "unavailable"], m, [0.92, 0.05, 0.03])
    out: list[Feature] = []
    for i, (cat, _, name, members, vehicles, ready, radius, nims, sp, eq) in enumerate(specs):
        props = {
            "uuid": uuids[i],
            "name": name[:100],
            "adcode": w.town_code[town[i]],
            "address": addr[i],
            "source": bureau,
            "category": cat,
            "specialties": sp,
            "members": members,
            "vehicles": vehicles,
            "key_equipment": eq,
            "readiness_min": ready,
            "deploy_radius_km": radius,
            "nims_type": nims,
            "status": status[i],
            "leader_name": lead[i],
            "leader_phone": phone[i],
        }
        out.append((props, shapely.Point(lon[i], lat[i])))
    return out
