"""Fixed constants of the sample region and the configuration of its two sizes (``county``, ``city``)."""

from __future__ import annotations

from dataclasses import dataclass

WORK_EPSG = 4544  # CGCS2000 / 3-degree Gauss-Kruger CM 105E: metres, for building the geography
STORAGE_EPSG = 4490
CELL_M = 100.0
PROVINCE_ADCODE = "510000"
CITY_ADCODE = "519900"
#: Fixed reference time of the data set (no clock is read): counts and expiries are relative to it.
AS_OF = "2026-11-01"


@dataclass(frozen=True)
class _Config:
    size: str
    name: str
    adcode: str
    parent_adcode: str
    centre: tuple[float, float]  # lon, lat of the region's centre
    area_km2: float
    aspect: float  # east-west extent over north-south extent
    core: tuple[float, float]  # lon, lat of the urban core (city centre or county seat)
    core_sigma_m: float
    core_tail_m: float
    core_radius_m: float  # townships inside are streets (街道) of the core
    front: tuple[float, float]  # a point on the foot of the hills; west of it is hilly
    population: float
    mix: tuple[float, float, float, float]  # core, towns, villages, rural background
    core_districts: int
    outer_counties: int
    town_r: tuple[float, float, float]  # hard-core radius of township seats: core, plain, hills (m)
    village_r: tuple[float, float]  # plain, hills (m)
    node_scale: float  # road-node density factor
    shelters: dict[str, int]
    hazard_points: int
    geohazard_share: float
    installations: int
    helipads: int
    villages_per_squad: int
    social_teams: int
    core_fire_stations: int
    exits: int


SIZES: dict[str, _Config] = {
    "city": _Config(
        size="city", name="示例市", adcode=CITY_ADCODE, parent_adcode=PROVINCE_ADCODE,
        centre=(104.10, 30.70), area_km2=10_000.0, aspect=1.25,
        core=(104.13, 30.66), core_sigma_m=5_500.0, core_tail_m=9_000.0, core_radius_m=11_500.0,
        front=(103.76, 30.70), population=9_600_000.0, mix=(0.50, 0.25, 0.15, 0.10),
        core_districts=5, outer_counties=7,
        town_r=(1_350.0, 4_300.0, 6_000.0), village_r=(1_250.0, 1_800.0), node_scale=1.25,
        shelters={"emergency": 2_062, "fixed_short": 590, "fixed_medium": 190, "fixed_long": 90, "central": 6},
        hazard_points=140_000, geohazard_share=0.025, installations=300, helipads=25,
        villages_per_squad=1, social_teams=75, core_fire_stations=15, exits=8,
    ),
    "county": _Config(
        size="county", name="示例县", adcode="519921", parent_adcode=CITY_ADCODE,
        centre=(103.73, 30.62), area_km2=300.0, aspect=1.2,
        core=(103.765, 30.612), core_sigma_m=1_300.0, core_tail_m=2_500.0, core_radius_m=2_600.0,
        front=(103.70, 30.62), population=350_000.0, mix=(0.40, 0.25, 0.22, 0.13),
        core_districts=0, outer_counties=1,
        town_r=(1_300.0, 2_700.0, 3_500.0), village_r=(1_250.0, 1_700.0), node_scale=1.0,
        shelters={"emergency": 42, "fixed_short": 12, "fixed_medium": 4, "fixed_long": 2, "central": 0},
        hazard_points=1_500, geohazard_share=0.08, installations=8, helipads=3,
        villages_per_squad=3, social_teams=3, core_fire_stations=0, exits=4,
    ),
}
