"""The shape index of line and polygon layers (rallypoint.storage.gpkg.tile_shapes: their geometries kept per
process and layer state, already projected, with an STRtree): tiles made from it hold what tiles read row by row
from the R-tree hold, and what the reference encoder writes; a write to the layer shows in the next tile.

GeoPackage only: PostGIS writes its tiles itself (tests/test_tiles_postgis.py compares the two).
"""

from __future__ import annotations

import geopandas as gpd
import mapbox_vector_tile
import pytest
import shapely
from test_tiles_encoding import assert_same, reference, sample_tiles, served, tile_of
from web_support import copy_registry

from rallypoint import Registry
from rallypoint.storage.gpkg import tile_index, tile_shapes


def _shaped(reg: Registry) -> list:
    return [lay for lay in reg.layers.values() if lay.has_geometry and "Point" not in lay.geometry]


def test_tiles_from_the_shape_index_are_those_read_row_by_row(county_sample, tmp_path, monkeypatch):
    kept = copy_registry(county_sample, tmp_path / "kept.gpkg")
    read = copy_registry(county_sample, tmp_path / "read.gpkg")
    with Registry.open(kept, readonly=True) as reg:
        layers = _shaped(reg)
        assert {lay.name for lay in layers} >= {"roads", "admin_areas"}
        tiles = sample_tiles(reg, (8, 10, 12, 13, 15, 17), 4)
        made = {(t, p): served(reg, layers, p, *t) for t in tiles for p in (False, True)}
        for lay in layers:  # the tiles above came from the index
            assert tile_shapes.shapes(reg._conn, str(kept), lay, 12).tree is not None, lay.name
    monkeypatch.setattr(tile_shapes, "MAX_SHAPES", -1)  # no layer is kept: every tile reads its rows
    compared = 0
    with Registry.open(read, readonly=True) as reg:
        for lay in layers:
            assert tile_shapes.shapes(reg._conn, str(read), lay, 12).tree is None, lay.name
        for (t, personal), tile in made.items():
            compared += assert_same(served(reg, layers, personal, *t), tile, (t, personal))
            compared += assert_same(reference(reg, layers, personal, *t), tile, (t, personal))
    assert compared > 2000


def _roads_in(tile: bytes) -> dict:
    layer = mapbox_vector_tile.decode(tile).get("roads") if tile else None
    return {f["properties"].get("name"): f for f in (layer or {"features": []})["features"]}


def test_a_changed_road_shows_in_the_next_tile(county_sample, tmp_path):
    path = copy_registry(county_sample, tmp_path / "county.gpkg")
    with Registry.open(path) as reg:
        roads = reg.layer("roads")
        frame = gpd.read_file(path, layer="roads")
        crs = frame.crs
        drawn = frame.index[frame["road_class"].isin(["primary", "secondary"]) & frame["name"].notna()]
        assert len(drawn), "the county has main roads"
        i = drawn[0]
        centre = frame.geometry[i].interpolate(0.5, normalized=True)
        z, x, y = tile_of(centre.x, centre.y, 12)
        before = served(reg, [roads], False, z, x, y)
        assert_same(reference(reg, [roads], False, z, x, y), before, "before")
        old_name = frame.at[i, "name"]
        assert old_name in _roads_in(before)
        index = tile_shapes.shapes(reg._conn, str(path), roads, z)
        assert index.tree is not None
        # the road renamed and moved some 50 m north; a new road of 2 km beside it
        frame.at[i, "name"] = "测试新路"
        frame.loc[i, "geometry"] = shapely.affinity.translate(frame.geometry[i], yoff=0.0005)
        frame.loc[len(frame)] = {**frame.iloc[i].to_dict(), "name": "测试支路", "road_class": "tertiary",
                                 "geometry": shapely.LineString([(centre.x - 0.01, centre.y - 0.005),
                                                                         (centre.x + 0.01, centre.y + 0.005)])}
        reg.load_reference("roads", gpd.GeoDataFrame(frame, geometry="geometry", crs=crs), author="zhang.wei")
        after = served(reg, [roads], False, z, x, y)
        assert tile_shapes.shapes(reg._conn, str(path), roads, z) is not index  # rebuilt for the new state
        assert_same(reference(reg, [roads], False, z, x, y), after, "after")
        got = _roads_in(after)
        assert {"测试新路", "测试支路"} <= got.keys()
        if (frame["name"] == old_name).sum() == 1:
            assert old_name not in got
        assert got["测试新路"]["geometry"] != _roads_in(before)[old_name]["geometry"]


def test_a_write_to_another_layer_keeps_the_index(county_sample, tmp_path):
    path = copy_registry(county_sample, tmp_path / "county.gpkg")
    with Registry.open(path) as reg:
        roads = reg.layer("roads")
        index = tile_shapes.shapes(reg._conn, str(path), roads, 12)
        f = next(iter(reg.features("hazard_points")))
        reg.update("hazard_points", f.uuid, {"status": "closed"}, author="zhang.wei", expected_version=f.version)
        assert tile_shapes.shapes(reg._conn, str(path), roads, 12) is index


@pytest.mark.parametrize("layer", ["depots", "helipads", "admin_areas"])
def test_small_layers_keep_every_field(county_sample, tmp_path, layer):
    """A small layer without a list of tile fields keeps them all in its index (its tiles read no row), personal
    ones too; a tile serves only those it may (anonymous: none personal), as the reference does."""
    path = copy_registry(county_sample, tmp_path / "county.gpkg")
    with Registry.open(path, readonly=True) as reg:
        lay = reg.layer(layer)
        index = (tile_index.points if "Point" in lay.geometry else tile_shapes.shapes)(reg._conn, str(path), lay, 14)
        assert set(index.columns) == {f.name for f in lay.fields}
        personal = {f.name for f in lay.fields if f.personal}
        for z, x, y in sample_tiles(reg, (12, 16), 5):
            for who in (False, True):
                tile = served(reg, [lay], who, z, x, y)
                assert_same(reference(reg, [lay], who, z, x, y), tile, (z, x, y, who))
                if tile and not who:
                    for f in mapbox_vector_tile.decode(tile)[layer]["features"]:
                        assert not personal & f["properties"].keys()
