"""Synthetic sample data: a fictional Sichuan city or county with its emergency resources.

:func:`generate` builds, from one seed, the reference layers (administrative areas, a 100 m
population grid, a road network) and the resource layers (shelters, depots and their stock,
teams, hazard points, helipads) of a region that does not exist but looks like one: an urban
core and towns on the Chengdu plain, villages and hamlets between them, and a hilly west
where the geohazards are. Nothing is written to disk; every resource feature passes
:func:`rallypoint.validation.check_feature`.

The geography is built in metres in CGCS2000 / 3-degree Gauss-Kruger CM 105E (EPSG:4544), so
population cells are exactly 100 m there, and every output is converted to EPSG:4490.
Only ``numpy.random.default_rng(seed)`` (and generators spawned from it) supplies chance:
the same size and seed give identical output.

The package's modules, each importing only those listed before it:
``config`` (constants, the two sizes), ``names`` (word lists, names, phone numbers),
``projection`` (EPSG:4544 <-> EPSG:4490), ``features`` (the feature pair, random attribute
values), ``world`` (the shared state every layer is drawn from), ``geography`` (outline,
township seats, counties, villages, parks), ``population`` (the 100 m grid), ``admin``
(administrative areas and the point locator), ``roads`` (the network), and one module per
resource layer: ``shelters``, ``hazard_points``, ``depots`` (with their stock), ``teams``,
``helipads``. This module ties them together in :func:`generate`.

>>> data = generate("county", seed=1)          # doctest: +SKIP
>>> len(data.features["helipads"])             # doctest: +SKIP
3
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np

from .admin import _admin
from .config import AS_OF, CELL_M, CITY_ADCODE, PROVINCE_ADCODE, SIZES, STORAGE_EPSG, WORK_EPSG
from .depots import _depots
from .features import Feature
from .geography import _build_world, _settlements
from .hazard_points import _hazard_points
from .helipads import _helipads
from .population import _population, _population_frame
from .roads import _roads
from .shelters import SHELTER_STANDARD_M2, _shelters
from .teams import _teams

__all__ = [
    "AS_OF", "CELL_M", "CITY_ADCODE", "PROVINCE_ADCODE", "SHELTER_STANDARD_M2", "SIZES", "STORAGE_EPSG", "WORK_EPSG",
    "Feature", "SampleData", "generate",
]


@dataclass
class SampleData:
    """Everything :func:`generate` makes for one region.

    ``features`` maps a resource (or related) layer name to ``(properties, geometry)`` pairs;
    geometries are EPSG:4490 points (``None`` for ``depot_stock``).
    """

    region: dict[str, str]
    admin_areas: gpd.GeoDataFrame
    population: gpd.GeoDataFrame
    roads: gpd.GeoDataFrame
    features: dict[str, list[Feature]] = field(default_factory=dict)


def generate(size: str = "county", seed: int = 2938) -> SampleData:
    """Generate a fictional region of the given ``size`` (``"county"`` or ``"city"``).

    Parameters
    ----------
    size
        ``"county"`` (about 30,000 cells, 350,000 people; fast, for tests) or ``"city"``
        (about a million cells, 9.6 million people; DOMAIN.md's headline counts).
    seed
        Seed of ``numpy.random.default_rng``; the same size and seed give identical output.

    Returns
    -------
    SampleData
    """
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}, not {size!r}")
    cfg = SIZES[size]
    root = np.random.default_rng(seed)
    (r_world, r_settle, r_pop, r_admin, r_roads, r_shel, r_haz, r_dep, r_team, r_heli) = root.spawn(10)
    bureau = f"{cfg.name}应急管理局"
    w = _build_world(cfg, r_world)
    _settlements(w, r_settle)
    _population(w, r_pop)
    admin = _admin(w, r_admin)
    population = _population_frame(w)
    roads = _roads(w, r_roads)
    shelters, shelter_xy = _shelters(w, r_shel, bureau)
    hazards = _hazard_points(w, r_haz, bureau, [p["uuid"] for p, _ in shelters], shelter_xy)
    depots, stock = _depots(w, r_dep, bureau)
    teams = _teams(w, r_team, bureau)
    helipads = _helipads(w, r_heli, bureau, shelter_xy, shelters)
    return SampleData(
        region={"name": cfg.name, "adcode": cfg.adcode, "bureau": bureau},
        admin_areas=admin,
        population=population,
        roads=roads,
        features={
            "shelters": shelters,
            "depots": depots,
            "depot_stock": stock,
            "teams": teams,
            "hazard_points": hazards,
            "helipads": helipads,
        },
    )
