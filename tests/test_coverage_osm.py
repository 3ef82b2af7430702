"""Roads from an OpenStreetMap extract: `rallypoint roads import` on a .osm.pbf written with osmium, checked
against an independent read of the same file with osmium (ways, node references, tags)."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import require

from rallypoint import Registry
from rallypoint.cli.main import cli

X0, Y0, STEP = 104.06, 30.65, 0.002  # a small grid in Chengdu, ~200 m apart

# (id, highway, node ids, extra tags). Node (i, j) has id 100 + 10 * i + j; ways cross several junctions.
WAYS = [
    (1, "primary", [100, 110, 120, 130], {"name": "人民南路", "maxspeed": "50"}),
    (2, "residential", [101, 111, 121, 131], {"oneway": "-1"}),
    (3, "tertiary", [100, 101, 102], {}),
    (4, "footway", [110, 111, 112], {}),
    (5, "motorway", [120, 121, 122], {}),
    (6, "service", [130, 131, 132], {"access": "private"}),
    (7, "construction", [102, 112], {}),
    (8, "path", [102, 112, 122, 132], {"foot": "no"}),
    (9, "residential", [112, 113, 103, 102, 112], {"junction": "roundabout"}),
]


def write_pbf(path):
    osmium = pytest.importorskip("osmium")
    from osmium.osm import mutable

    ids = sorted({n for _, _, nodes, _ in WAYS for n in nodes})
    with osmium.SimpleWriter(str(path)) as w:
        for n in ids:
            i, j = divmod(n - 100, 10)
            w.add_node(mutable.Node(id=n, location=(X0 + i * STEP, Y0 + j * STEP), version=1, tags={}))
        for wid, hw, nodes, tags in WAYS:
            w.add_way(mutable.Way(id=wid, nodes=nodes, version=1, tags={"highway": hw, **tags}))


def independent_pieces(path):
    """Read the file with osmium; split each kept way at nodes that other kept ways (or itself) use again."""
    import osmium

    from rallypoint_plugins.coverage.osm import HIGHWAY

    ways = []
    for obj in osmium.FileProcessor(str(path)).with_locations():
        if obj.is_way() and obj.tags.get("highway") in HIGHWAY:
            tags = dict(obj.tags)
            _, walk, drive, _ = HIGHWAY[tags["highway"]]
            if tags.get("access") == "private":
                walk = drive = False
            if tags.get("foot") == "no":
                walk = False
            if walk or drive:
                ways.append(([n.ref for n in obj.nodes], tags))
    use = {}
    for refs, _ in ways:
        for r in refs:
            use[r] = use.get(r, 0) + 1
    pieces = []
    for refs, tags in ways:
        cur = [refs[0]]
        for r in refs[1:-1]:
            cur.append(r)
            if use[r] > 1:
                pieces.append((cur, tags))
                cur = [r]
        cur.append(refs[-1])
        pieces.append((cur, tags))
    return pieces


def test_import_osm_pbf_splits_ways_at_junctions(registry_path, tmp_path):
    require("osmium", "the independent read of the OSM extract")
    pbf = tmp_path / "grid.osm.pbf"
    write_pbf(pbf)
    res = CliRunner().invoke(cli, ["roads", "import", str(registry_path), str(pbf), "--author", "test"])
    assert res.exit_code == 0, res.output
    want = independent_pieces(pbf)
    with Registry.open(registry_path) as reg:
        roads = reg.read_frame("roads", columns=["road_class", "name", "walk", "drive", "speed_kmh", "oneway"])
    assert len(roads) == len(want) == 14  # 3 + 3 + 2 + 2 + 2 + 2: ways 1, 2, 3, 4, 5, 9 (6-8 dropped)
    assert f"{len(want)} roads loaded" in res.output
    # every piece's end points are the independent read's node locations, in order
    def loc(n):
        i, j = divmod(n - 100, 10)
        return (round(X0 + i * STEP, 7), round(Y0 + j * STEP, 7))

    got = sorted((tuple(np.round(g.coords[0], 7)), tuple(np.round(g.coords[-1], 7)), len(g.coords))
                 for g in roads.geometry)
    exp = []
    for refs, tags in want:
        refs = refs[::-1] if tags.get("oneway") == "-1" else refs  # drawn the way traffic goes
        exp.append((loc(refs[0]), loc(refs[-1]), len(refs)))
    assert got == sorted(exp)
    primary = roads[roads["name"] == "人民南路"]
    assert len(primary) == 3 and (primary["speed_kmh"] == 50).all() and primary["walk"].all()
    motorway = roads[roads["road_class"] == "motorway"]
    assert len(motorway) == 2 and not motorway["walk"].any() and (motorway["speed_kmh"] == 100).all()
    assert roads.loc[roads["road_class"] == "path", "walk"].sum() == 2  # the footway; the path says foot=no
    assert roads["oneway"].sum() == 3 + 2  # way 2 (oneway=-1) and the roundabout


def test_import_a_file_that_is_not_osm_is_a_clear_error(registry_path, tmp_path):
    bad = tmp_path / "roads.osm.pbf"
    bad.write_bytes(b"not a protobuf")
    res = CliRunner().invoke(cli, ["roads", "import", str(registry_path), str(bad), "--author", "test"])
    assert res.exit_code != 0 and "not a readable OpenStreetMap extract" in res.output
    with Registry.open(registry_path) as reg:
        assert reg.count("roads") == 0


def test_import_a_line_layer_with_the_roads_fields(registry_path, tmp_path):
    import geopandas as gpd
    import pyogrio
    import shapely

    lines = [shapely.LineString([(X0, Y0), (X0 + STEP, Y0)]), shapely.LineString([(X0 + STEP, Y0), (X0 + STEP, Y0 + STEP)])]
    good = tmp_path / "roads.gpkg"
    pyogrio.write_dataframe(gpd.GeoDataFrame({"road_class": ["primary", "path"], "walk": [True, True],
                                              "drive": [True, False], "speed_kmh": [60.0, None]},
                                             geometry=lines, crs=4326), good)
    bad = tmp_path / "lines.gpkg"
    pyogrio.write_dataframe(gpd.GeoDataFrame({"kind": ["a", "b"]}, geometry=lines, crs=4326), bad)
    res = CliRunner().invoke(cli, ["roads", "import", str(registry_path), str(bad), "--author", "test"])
    assert res.exit_code != 0 and "missing: drive, road_class, walk" in res.output
    junk = tmp_path / "roads.shp"
    junk.write_bytes(b"not a shapefile")
    res = CliRunner().invoke(cli, ["roads", "import", str(registry_path), str(junk), "--author", "test"])
    assert res.exit_code != 0 and "cannot be read as a line layer" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(cli, ["roads", "import", str(registry_path), str(good), "--author", "test"])
    assert res.exit_code == 0, res.output
    with Registry.open(registry_path) as reg:
        roads = reg.read_frame("roads", columns=["road_class", "drive"])
    assert sorted(roads["road_class"]) == ["path", "primary"] and roads["drive"].sum() == 1
