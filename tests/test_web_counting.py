"""The read path's counts stay exact: the grid of counts, the per-process caches, and writes in between.

On both backends (``both_backends``): the grid of counts over the GeoPackage's R-tree, and over
PostGIS's GiST index (``storage.postgis.reader.PgGrid``), exact for any box."""

from __future__ import annotations

import random

import pytest
from conftest import county_copy, helipad, place_outside

from rallypoint import Registry
from rallypoint.storage import grid as counting  # the grid of counts both backends share
from rallypoint.web import create_app


pytestmark = pytest.mark.both_backends


@pytest.fixture
def site(request, backend, monkeypatch):
    monkeypatch.setattr(counting, "MIN_ENTRIES", 100)  # the grid for every layer of the county, not only population
    path = county_copy(request, backend, "web_counting")
    return path, create_app(path, {"TESTING": True}).test_client()


def boxes(n, seed=7):
    rnd = random.Random(seed)
    for _ in range(n):
        w = rnd.choice([0.002, 0.02, 0.1, 0.4]) * rnd.random()
        x, y = rnd.uniform(103.55, 103.9), rnd.uniform(30.45, 30.75)
        yield (x, y, x + w, y + w * rnd.uniform(0.3, 3))


def matched(client, layer, box):
    doc = client.get(f"/collections/{layer}/items?limit=1&bbox=" + ",".join(map(str, box))).get_json()
    return doc.get("numberMatched")


def test_box_counts_equal_the_registrys_for_points_lines_and_polygons(site):
    path, client = site
    with Registry.open(path) as reg:
        for layer in ("population", "hazard_points", "roads", "admin_areas"):
            for box in boxes(60):
                assert matched(client, layer, box) == reg.count(layer, bbox=box), (layer, box)


def test_counts_follow_writes_retirements_and_moves(site):
    path, client = site
    box = (103.60, 30.50, 103.73, 30.70)  # the county's west: its east is where a point moves out
    with Registry.open(path) as reg:
        before = matched(client, "hazard_points", box)
        assert before == reg.count("hazard_points", bbox=box)
        inside = next(reg.features("hazard_points", bbox=box))
        reg.add("helipads", helipad(), (103.7, 30.6), author="test")  # another layer: caches stay valid
        assert matched(client, "hazard_points", box) == before
        reg.retire("hazard_points", inside.uuid, author="test")
        assert matched(client, "hazard_points", box) == before - 1
        other = next(reg.features("hazard_points", bbox=box))
        code, there = place_outside(reg, box)
        near = (there.x - 0.001, there.y - 0.001, there.x + 0.001, there.y + 0.001)
        was_near = matched(client, "hazard_points", near)
        reg.update("hazard_points", other.uuid, {"adcode": code}, geometry=there, author="test")  # out of the box
        assert matched(client, "hazard_points", box) == before - 2 == reg.count("hazard_points", bbox=box)
        assert matched(client, "hazard_points", near) == was_near + 1 == reg.count("hazard_points", bbox=near)


def test_an_unfiltered_count_is_cached_and_refreshed(site):
    path, client = site
    total = client.get("/collections/teams/items?limit=1").get_json()["numberMatched"]
    with Registry.open(path) as reg:
        reg.retire("teams", next(reg.features("teams")).uuid, author="test")
        assert client.get("/collections/teams/items?limit=1").get_json()["numberMatched"] == total - 1 == reg.count("teams")


@pytest.fixture
def pg_site(request, monkeypatch):
    monkeypatch.setattr(counting, "MIN_ENTRIES", 100)
    path = county_copy(request, "postgis", "web_counting_pg")
    return path, create_app(path, {"TESTING": True}).test_client()


def test_after_a_write_a_large_postgis_layer_counts_without_rebuilding_its_grid_until_quiet(pg_site, monkeypatch):
    """Rebuilding a grid is a pass over the whole layer (24 s over 10M points, in every worker): after a write,
    box counts are capped counts, still exact, and the grid is built again only once the layer is quiet."""
    from rallypoint.storage.postgis import reader as pg_read

    path, client = pg_site
    box = (103.60, 30.50, 103.73, 30.70)  # the county's west: its east is where a point moves out

    def state():
        return next(s for (where, layer), s in pg_read._states.items() if layer == "hazard_points" and path in where)

    with Registry.open(path) as reg:
        assert matched(client, "hazard_points", box) == reg.count("hazard_points", bbox=box)
        assert state().grid is not None
        reg.retire("hazard_points", next(reg.features("hazard_points", bbox=box)).uuid, author="test")
        assert matched(client, "hazard_points", box) == reg.count("hazard_points", bbox=box)
        assert state().grid is None and state().grid_after > 0  # counted without the grid
        monkeypatch.setattr(pg_read, "GRID_QUIET_S", 0.0)
        reg.retire("hazard_points", next(reg.features("hazard_points", bbox=box)).uuid, author="test")
        assert matched(client, "hazard_points", box) == reg.count("hazard_points", bbox=box)
        assert matched(client, "hazard_points", box) == reg.count("hazard_points", bbox=box)
        assert state().grid is not None  # quiet (at once, here): built again
