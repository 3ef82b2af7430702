"""Administrative areas: township and county polygons, their names and codes, and the point locator."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from .config import STORAGE_EPSG
from .names import _place_names
from .projection import _geom_to_geo, _to_geo
from .world import _World


def _multi(g: BaseGeometry) -> MultiPolygon:
    if isinstance(g, MultiPolygon):
        return g
    if isinstance(g, Polygon):
        return MultiPolygon([g])
    polys = [p for p in shapely.get_parts(g) if isinstance(p, Polygon)]
    return MultiPolygon(polys)


def _admin(w: _World, rng: np.random.Generator) -> gpd.GeoDataFrame:
    cfg = w.cfg
    nt = len(w.town_xy)
    nc = int(w.town_county.max()) + 1
    env = shapely.box(*w.region.buffer(5_000.0).bounds)
    vor = np.asarray(shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(w.town_xy), extend_to=env)))
    # each Voronoi cell holds its own seed strictly inside: match them (GEOS's order is not the seeds')
    seed_i, cell_i = shapely.STRtree(vor).query(shapely.points(w.town_xy), predicate="within")
    cells = np.empty(nt, dtype=object)
    cells[seed_i] = vor[cell_i]
    towns = shapely.set_precision(shapely.intersection(cells, w.region), 0.001)
    counties = np.array([shapely.union_all(towns[w.town_county == c], grid_size=0.001) for c in range(nc)])
    region = shapely.union_all(counties, grid_size=0.001)
    towns_g = _geom_to_geo(towns)
    counties_g = _geom_to_geo(counties)
    region_g = _geom_to_geo(region)

    # Locator in EPSG:4490: county bounding box first, then the township's own polygon.
    shapely.prepare(towns_g)
    tb = shapely.bounds(towns_g)
    cb = shapely.bounds(counties_g)
    members = [np.flatnonzero(w.town_county == c) for c in range(nc)]

    def locate(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        lon, lat = np.asarray(lon, float), np.asarray(lat, float)
        out = np.full(len(lon), -1, np.int64)
        for c in range(nc):
            b = cb[c]
            ci = np.flatnonzero((lon >= b[0]) & (lon <= b[2]) & (lat >= b[1]) & (lat <= b[3]))
            if not len(ci):
                continue
            clon, clat = lon[ci], lat[ci]
            for t in members[c]:
                b2 = tb[t]
                sel = np.flatnonzero((clon >= b2[0]) & (clon <= b2[2]) & (clat >= b2[1]) & (clat <= b2[3]))
                if len(sel):
                    hit = shapely.contains_xy(towns_g[t], clon[sel], clat[sel])
                    out[ci[sel[hit]]] = t
        return out

    w.locate = locate
    lon, lat = _to_geo(w.cell_xy[:, 0], w.cell_xy[:, 1])
    town = locate(lon, lat)
    ok = town >= 0
    w.cell_xy, w.cell_h, w.pop, w.pop_day = w.cell_xy[ok], w.cell_h[ok], w.pop[ok], w.pop_day[ok]
    w.cell_ll = np.column_stack([lon[ok], lat[ok]])
    w.cell_town = town[ok]
    w.town_pop = np.bincount(w.cell_town, weights=w.pop, minlength=nt).astype(np.int64)
    county_pop = np.bincount(w.town_county, weights=w.town_pop, minlength=nc).astype(np.int64)

    # Names and codes. Counties: districts 区 (02…), counties 县 (22…), county-level cities 市 (81…)
    # as GB/T 2260 numbers them; the county size is the single county 示例县.
    names = _place_names(rng, nt + nc)
    if cfg.core_districts == 0:
        w.county_kind, w.county_name, w.county_code = ["县"], [cfg.name], [cfg.adcode]
    else:
        kinds, codes = [], []
        outer = list(range(cfg.core_districts, nc))
        by_pop = sorted(outer, key=lambda c: -county_pop[c])
        cities = set(by_pop[:3])
        n_d = n_x = n_s = 0
        for c in range(nc):
            if c < cfg.core_districts:
                n_d += 1
                kinds.append("区"), codes.append(f"5199{n_d + 1:02d}")
            elif c in cities:
                n_s += 1
                kinds.append("市"), codes.append(f"5199{80 + n_s:02d}")
            else:
                n_x += 1
                kinds.append("县"), codes.append(f"5199{21 + n_x:02d}")
        w.county_kind, w.county_code = kinds, codes
        w.county_name = [names[nt + c] + kinds[c] for c in range(nc)]

    # Township kinds: streets in the core and around county seats, 乡 in the thinly peopled hills.
    area_km2 = shapely.area(towns) / 1e6
    dens_t = w.town_pop / np.maximum(area_km2, 1e-9)
    kind = np.where(w.town_h > 0.6, "乡", "镇").astype(object)
    kind[(dens_t > 3_000) | w.town_core] = "街道"
    kind[(w.town_h > 0.6) & (dens_t > 600)] = "镇"
    seats_outer = w.county_seat[cfg.core_districts:]
    kind[seats_outer] = "街道" if cfg.core_districts else "镇"
    if cfg.core_districts == 0:  # the county seat's town is split into streets
        kind[w.town_core] = "街道"
    w.town_kind = kind.tolist()
    w.town_name = [names[t] + w.town_kind[t] for t in range(nt)]
    codes = [""] * nt
    start = {"街道": 1, "镇": 100, "乡": 200}
    for c in range(nc):
        m = members[c]
        d = np.hypot(*(w.town_xy[m] - w.town_xy[w.county_seat[c]]).T)
        counters = dict(start)
        for t in m[np.argsort(d, kind="stable")]:
            k = w.town_kind[t]
            codes[t] = f"{w.county_code[c]}{counters[k]:03d}"
            counters[k] += 1
    w.town_code = codes
    w.village_name = [n + "村" for n in _place_names(rng, len(w.village_xy))]

    rows = []
    top_level = "city" if cfg.core_districts else "county"
    total = int(county_pop.sum())
    rows.append((cfg.adcode, cfg.name, top_level, cfg.parent_adcode, total, _multi(region_g)))
    if cfg.core_districts:
        for c in range(nc):
            rows.append((w.county_code[c], w.county_name[c], "county", cfg.adcode, int(county_pop[c]),
                         _multi(counties_g[c])))
    for c in range(nc):
        for t in members[c]:
            rows.append((codes[t], w.town_name[t], "township", w.county_code[c], int(w.town_pop[t]),
                         _multi(towns_g[t])))
    df = pd.DataFrame(rows, columns=["adcode", "name", "level", "parent_adcode", "population", "geometry"])
    df["population"] = df["population"].astype(np.int64)
    return gpd.GeoDataFrame(df, geometry="geometry", crs=STORAGE_EPSG)
