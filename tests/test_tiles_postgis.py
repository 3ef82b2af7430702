"""Vector tiles written by PostGIS (ST_AsMVT) hold what the GeoPackage path's tiles (as served) hold."""

import math

import mapbox_vector_tile
import pytest

from rallypoint import Registry
from rallypoint.storage import reader_for
from rallypoint.storage.postgis import tiles as pg_tiles
from rallypoint.sample import SAMPLE_AUTHOR, SAMPLE_TIME

POINT_LAYERS = ("shelters", "hazard_points", "helipads", "teams", "depots")


@pytest.fixture(scope="module")
def both(county_sample, pg_cluster, pg_template):
    """The county sample in a GeoPackage and, with the same fids, in PostGIS."""
    url = pg_cluster.new_database(template=pg_template)
    gp = Registry.open(county_sample, readonly=True)
    with Registry.open(url, clock=lambda: SAMPLE_TIME) as pg:  # the sample's own stamps
        for name in ("admin_areas", "population", "roads"):
            pg.load_reference(name, gp.read_frame(name), author=SAMPLE_AUTHOR)
        for name in ("shelters", "depots", "teams", "hazard_points", "helipads"):  # the layers with points
            ldef = gp.layer(name)
            keep = [f.name for f in ldef.editable_fields] + ["uuid"]
            pg.add_many(name, [({k: f.properties[k] for k in keep if f.properties[k] is not None}, f.geometry)
                               for f in gp.features(name, include_retired=True)], author=SAMPLE_AUTHOR)
    pg = Registry.open(url)
    yield gp, pg
    gp.close()
    pg.close()


def _tile_of(lon, lat, z):
    n = 1 << z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def _decoded(data):
    out = {}
    for name, layer in mapbox_vector_tile.decode(data).items():
        out[name] = {f["id"]: (f["properties"], f["geometry"]) for f in layer["features"]}
    return out


def _both_tiles(gp, pg, names, z, x, y, personal=False):
    layers = [gp.layer(n) for n in names]
    ours = reader_for(gp.store, str(gp.path)).tile(layers, personal, z, x, y)  # as the GeoPackage serves them
    theirs = pg_tiles.tile(pg._conn, [pg.layer(n) for n in names], personal, z, x, y)
    return _decoded(ours), _decoded(theirs)


def test_point_tiles_at_full_detail_are_the_same(both):
    gp, pg = both
    centre = next(gp.features("shelters")).geometry
    for z in (12, 14, 16):
        x, y = _tile_of(centre.x, centre.y, z)
        a, b = _both_tiles(gp, pg, POINT_LAYERS, z, x, y)
        assert a.keys() == b.keys() and a, (z, a.keys(), b.keys())
        for name in a:
            assert a[name].keys() == b[name].keys(), (z, name)
            for fid, (props, geom) in a[name].items():
                assert b[name][fid][0] == props, (z, name, fid)
                (x0, y0), (x1, y1) = geom["coordinates"], b[name][fid][1]["coordinates"]
                assert abs(x0 - x1) <= 1 and abs(y0 - y1) <= 1, (z, name, fid)
        assert all("manager_phone" not in p for p, _ in a.get("shelters", {}).values())
        if z < 13 and "shelters" in b:  # below the detail zoom only the fields the map needs
            assert all(set(p) <= set(pg.layer("shelters").tiles.fields) for p, _ in b["shelters"].values())


def test_low_zoom_points_are_thinned_on_the_same_grid(both):
    gp, pg = both
    centre = next(gp.features("hazard_points")).geometry
    x, y = _tile_of(centre.x, centre.y, 9)
    a, b = _both_tiles(gp, pg, ["hazard_points"], 9, x, y)
    total = pg.count("hazard_points")
    assert 0 < len(b["hazard_points"]) < total
    shared = a["hazard_points"].keys() & b["hazard_points"].keys()
    assert len(shared) >= 0.98 * max(len(a["hazard_points"]), len(b["hazard_points"]))


def test_reference_layers_follow_their_tile_rules(both):
    gp, pg = both
    centre = next(gp.features("shelters")).geometry
    x, y = _tile_of(centre.x, centre.y, 10)
    _, b = _both_tiles(gp, pg, ["population", "roads", "admin_areas"], 10, x, y)
    assert "population" not in b  # min_zoom 11
    hidden = set(pg.layer("roads").tiles.classes_hidden_at(10))
    assert b["roads"] and not {p["road_class"] for p, _ in b["roads"].values()} & hidden
    x, y = _tile_of(centre.x, centre.y, 15)
    a, b = _both_tiles(gp, pg, ["population", "roads", "admin_areas"], 15, x, y)
    for name in ("population", "roads", "admin_areas"):
        assert name in b, name
        # the same features, bar the slivers mvt drops below a pixel
        assert b[name].keys() <= a[name].keys() | b[name].keys() and len(a[name].keys() - b[name].keys()) == 0, name
        for fid in a[name].keys() & b[name].keys():
            assert a[name][fid][0] == b[name][fid][0], (name, fid)
