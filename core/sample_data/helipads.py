"""Helicopter landing sites: beside the biggest shelters, on hospitals, at county seats and in the hills."""

from __future__ import annotations

import numpy as np
import shapely

from .features import Feature, _pick, _uuids
from .names import _person_names, _phones
from .world import _World


def _helipads(w: _World, rng, bureau: str, shelter_xy: np.ndarray, shelters: list[Feature]) -> list[Feature]:
    cfg = w.cfg
    n = cfg.helipads
    sites: list[tuple[np.ndarray, str, str]] = []  # xy, kind, label
    big = [i for i, (p, _) in enumerate(shelters) if p["shelter_type"] in ("central", "fixed_long")]
    big.sort(key=lambda i: -shelters[i][0]["effective_area_m2"])
    for i in big[: max(1, n // 5)]:
        sites.append((shelter_xy[i], "shelter", shelters[i][0]["name"].replace("应急避难场所", "")))
    if cfg.core_districts:
        for k in range(2):
            t = int(np.flatnonzero(w.town_core)[k])
            sites.append((w.town_xy[t] + rng.normal(0, 500.0, 2), "rooftop", f"{w.town_name[t]}人民医院"))
    for c in range(cfg.core_districts, len(w.county_seat)):
        t = w.county_seat[c]
        sites.append((w.town_xy[t] + rng.normal(0, 1_000.0, 2), "seat", f"{w.town_name[t]}体育中心"))
    hill = np.flatnonzero(w.cell_h > 0.7)
    cand = hill if len(hill) else np.arange(len(w.cell_xy))
    pool = rng.permutation(cand)
    j = 0
    while len(sites) < n:
        cxy = w.cell_xy[pool[j % len(pool)]]
        t = int(w.cell_town[pool[j % len(pool)]])
        sites.append((cxy, "hill", f"{w.town_name[t]}森林防火"))
        j += 1
    sites = sites[:n]
    xy = np.array([s[0] for s in sites], float)
    lon, lat, town = w.place(xy[:, 0], xy[:, 1])
    uuids = _uuids(rng, n)
    contact, phone = _person_names(rng, n), _phones(rng, n)
    addr = w.address(rng, town)
    out: list[Feature] = []
    labels: dict[str, int] = {}
    for i, (_, kind, label) in enumerate(sites):
        labels[label] = labels.get(label, 0) + 1
        if labels[label] > 1:
            label = f"{label}{labels[label]}号"
        if kind == "rooftop":
            surface, size, d, mtow = "rooftop", 22.0, float(rng.uniform(15, 17)), float(rng.choice([4.0, 6.0]))
        elif kind == "hill":
            surface = _pick(rng, ["concrete", "earth", "grass"], 1, [0.6, 0.25, 0.15])[0]
            size, d, mtow = (40.0 if surface == "concrete" else float(rng.choice([30.0, 40.0, 50.0])),
                             float(rng.uniform(15, 20)), float(rng.choice([5.0, 10.0, 13.0])))
        else:
            surface = _pick(rng, ["concrete", "asphalt"], 1, [0.85, 0.15])[0]
            size, d, mtow = 40.0, float(rng.uniform(16, 20)), float(rng.choice([10.0, 13.0]))
        b = int(rng.integers(0, 36)) * 10
        props = {
            "uuid": uuids[i],
            "name": f"{label}直升机起降点",
            "adcode": w.town_code[town[i]],
            "address": addr[i],
            "source": bureau,
            "surface": surface,
            "pad_length_m": size,
            "pad_width_m": size,
            "design_d_m": round(d, 1),
            "max_takeoff_t": mtow,
            "site_slope_deg": round(float(rng.uniform(0.5, 4.5) if kind != "hill" else rng.uniform(1, 7)), 1),
            "pad_slope_pct": round(float(rng.uniform(0.5, 2.0)), 1),
            "obstacle_clearance_m": float(rng.choice([30.0, 50.0, 80.0, 100.0])),
            "approach_bearings": f"{b},{(b + 180) % 360}",
            "night_lighting": bool(kind in ("rooftop", "seat") or rng.random() < 0.2),
            "windsock": bool(rng.random() < 0.9),
            "fuel": bool(kind == "seat" and rng.random() < 0.4),
            "status": _pick(rng, ["usable", "restricted", "unusable"], 1, [0.88, 0.08, 0.04])[0],
            "contact_name": contact[i],
            "contact_phone": phone[i],
        }
        out.append((props, shapely.Point(lon[i], lat[i])))
    return out
