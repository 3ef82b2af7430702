"""The GeoPackage's vector tiles as served (rallypoint.storage.gpkg.tile_layers, written by
rallypoint.storage.mvt_encode) hold what the reference encoder (rallypoint.storage.gpkg.tiles: layer_features +
encode, mapbox-vector-tile) puts in them: decoded feature by
feature, the same layers, features, properties and geometries, on the county sample at every kind of zoom (points
thinned, at full detail, lines and polygons clipped), anonymous and keyed; also where the fast reads give way to the
usual ones (point blobs written with an envelope, as some GIS write them; a blob in a text field) and after edits.

GeoPackage only: PostGIS writes its tiles itself (tests/test_tiles_postgis.py compares the two).
"""

from __future__ import annotations

import math
import random
from contextlib import closing

import mapbox_vector_tile
import numpy as np
import pytest
import shapely
from web_support import copy_registry

from rallypoint import Registry
from rallypoint.storage import mvt_encode, reader_for
from rallypoint.storage import tiles as grid
from rallypoint.storage.gpkg import tile_index
from rallypoint.storage.gpkg import tiles as mvt
from rallypoint.storage.gpkg.file import connect


@pytest.fixture(scope="module")
def county(county_sample, tmp_path_factory):
    return copy_registry(county_sample, tmp_path_factory.mktemp("tiles_encoding") / "county.gpkg")


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 1 << z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, x, y


def reference(reg: Registry, layers, personal: bool, z: int, x: int, y: int) -> bytes:
    return mvt.encode([(lay.name, mvt.layer_features(reg._conn, lay, personal, z, x, y)) for lay in layers], z, x, y)


def served(reg: Registry, layers, personal: bool, z: int, x: int, y: int) -> bytes:
    return reader_for(reg.store, str(reg.path)).tile(layers, personal, z, x, y)


def assert_same(old: bytes, new: bytes, where) -> int:
    """Both tiles decode to the same layers, features (by id), properties and geometries; the features compared."""
    a = mapbox_vector_tile.decode(old) if old else {}
    b = mapbox_vector_tile.decode(new) if new else {}
    assert a.keys() == b.keys(), where
    n = 0
    for name in a:
        fa = {f["id"]: f for f in a[name]["features"]}
        fb = {f["id"]: f for f in b[name]["features"]}
        assert fa.keys() == fb.keys(), (where, name, sorted(fa.keys() ^ fb.keys())[:5])
        assert a[name]["extent"] == b[name]["extent"] == 4096
        for fid, f in fa.items():
            assert fb[fid]["properties"] == f["properties"], (where, name, fid)
            assert fb[fid]["geometry"] == f["geometry"], (where, name, fid)  # on the same integer grid
            assert fb[fid]["type"] == f["type"], (where, name, fid)
            n += 1
    return n


def sample_tiles(reg: Registry, zooms, per_zoom: int, seed: int = 7) -> list[tuple[int, int, int]]:
    """Tiles holding features of each geometry layer (random features, the same each run), at each zoom."""
    rnd = random.Random(seed)
    out = []
    for z in zooms:
        for layer in [lay for lay in reg.layers.values() if lay.has_geometry]:
            rows = reg._conn.execute(f'SELECT minx, miny, maxx, maxy FROM "rtree_{layer.name}_geom"').fetchall()
            for minx, miny, maxx, maxy in rnd.sample(rows, min(per_zoom, len(rows))):
                out.append(tile_of((minx + maxx) / 2, (miny + maxy) / 2, z))
    return list(dict.fromkeys(out))


def test_served_tiles_hold_what_the_reference_encoder_writes(county):
    with Registry.open(county, readonly=True) as reg:
        every = [lay for lay in reg.layers.values() if lay.has_geometry]
        compared = 0
        for z, x, y in sample_tiles(reg, (5, 8, 10, 11, 12, 13, 14, 16, 18), 4):
            for personal in (False, True):
                compared += assert_same(reference(reg, every, personal, z, x, y),
                                        served(reg, every, personal, z, x, y), (z, x, y, personal))
            for layer in every:  # a collection's tiles, one layer
                assert_same(reference(reg, [layer], False, z, x, y), served(reg, [layer], False, z, x, y),
                            (layer.name, z, x, y))
        assert compared > 5000


def test_property_values_keep_their_fields_types(county):
    """Integers stay integers, reals reals, booleans booleans (the reference encoder listed each value once
    for all fields, so that 0.0 of a real field after 0 of an integer one came out as the integer)."""
    kinds = {"integer": int, "real": float, "boolean": bool}
    with Registry.open(county, readonly=True) as reg:
        seen = set()
        for z, x, y in sample_tiles(reg, (16,), 6, seed=3):
            for name, layer in mapbox_vector_tile.decode(served(reg, list(reg.layers.values()), True, z, x, y)).items():
                ldef = reg.layer(name)
                for f in layer["features"]:
                    for key, value in f["properties"].items():
                        kind = ldef.field(key).type
                        assert type(value) is kinds.get(kind, str), (name, key, value)
                        seen.add(kinds.get(kind, str))
        assert seen == {int, float, str} or seen == {int, float, bool, str}


def test_the_usual_reads_take_over_for_unlike_blobs_and_blob_values(county_sample, tmp_path):
    """Point blobs with an envelope (as GDAL writes when asked to) and a blob in a text field: the packed read
    gives way, the tile is the same as the reference's, and the blob has no tag (as before)."""
    path = copy_registry(county_sample, tmp_path / "county.gpkg")
    with closing(connect(path)) as conn:  # the GeoPackage's functions, for its R-tree triggers
        rows = conn.execute("SELECT fid, geom FROM hazard_points ORDER BY fid LIMIT 400").fetchall()
        for fid, blob in rows[::3]:
            x, y = shapely.get_coordinates(shapely.from_wkb(blob[8:]))[0]
            header = bytes([blob[0], blob[1], blob[2], blob[3] | 0b0010]) + blob[4:8]  # envelope: x, x, y, y
            envelope = np.array([x, x, y, y], "<f8").tobytes()
            conn.execute("UPDATE hazard_points SET geom = ? WHERE fid = ?", (header + envelope + blob[8:], fid))
        odd = rows[0][0]  # its blob has an envelope now, and a blob goes in its status
        conn.execute("UPDATE hazard_points SET status = x'00ff' WHERE fid = ?", (odd,))
        lon, lat = conn.execute("SELECT minx, miny FROM rtree_hazard_points_geom WHERE id = ?", (odd,)).fetchone()
    with Registry.open(path, readonly=True) as reg:
        layer = reg.layer("hazard_points")
        for z in (9, 12, 14, 17):
            z, x, y = tile_of(lon, lat, z)
            new = served(reg, [layer], False, z, x, y)
            assert_same(reference(reg, [layer], False, z, x, y), new, z)
            feats = {f["id"]: f for f in mapbox_vector_tile.decode(new)["hazard_points"]["features"]}
            if odd in feats:
                assert "status" not in feats[odd]["properties"]
        assert odd in feats  # at zoom 17 the feature is there, without the blob


def test_edits_show_in_the_served_tiles_as_in_the_reference(county_sample, tmp_path):
    path = copy_registry(county_sample, tmp_path / "county.gpkg")
    with Registry.open(path) as reg:
        feats = list(reg.features("hazard_points"))[:30]
        for f in feats[:10]:
            reg.retire("hazard_points", f.uuid, author="zhang.wei", reason="瓦片测试", expected_version=f.version)
        moved = feats[10]
        reg.update("hazard_points", moved.uuid, {"status": "closed"}, author="zhang.wei",
                   expected_version=moved.version)
    with Registry.open(path, readonly=True) as reg:
        layer = reg.layer("hazard_points")
        retired = {int(r[0]) for r in reg._conn.execute("SELECT fid FROM hazard_points WHERE retired_at IS NOT NULL")}
        assert len(retired) >= 10
        for f in feats[:12]:
            for z in (9, 12, 15):
                z, x, y = tile_of(f.geometry.x, f.geometry.y, z)
                new = served(reg, [layer], False, z, x, y)
                assert_same(reference(reg, [layer], False, z, x, y), new, (f.uuid, z))
                ids = {g["id"] for g in (mapbox_vector_tile.decode(new).get("hazard_points") or {"features": []})
                       ["features"]}
                assert not ids & retired


def _index_of(fids: np.ndarray, xy: np.ndarray) -> tile_index.PointIndex:
    """A point index of these points (as tile_index.build_points makes it from a layer's rows, in fid order)."""
    order = np.argsort(fids)
    fids, xy = fids[order], xy[order]
    keys = grid.morton(*grid.pyramid_cells(xy))
    order = np.argsort(keys, kind="stable")
    return tile_index.PointIndex(keys[order], fids[order], grid.thinning_levels(keys[order], fids[order]), xy[order])


def test_the_point_index_keeps_what_thin_points_keeps():
    """Thinning by precomputed levels keeps, in every tile, exactly what thinning the tile's points keeps: the
    tile's own points (half-open) and the first of each cell of the finest grid under the limit."""
    rng = np.random.default_rng(11)
    for trial in range(40):
        z = int(rng.integers(3, 16))
        x, y = int(rng.integers(0, 1 << z)), int(rng.integers(0, 1 << z))
        minx, miny, maxx, maxy = grid.tile_bounds(z, x, y)
        size = maxx - minx
        n = int(rng.integers(1, 30_000))
        if trial % 4 == 0:  # clustered, some in the neighbouring tiles
            xy = rng.normal((minx + size / 2, miny + size / 2), rng.uniform(0.002, 0.3) * size, (n, 2))
        elif trial % 4 == 1:
            xy = rng.uniform((minx - size / 100, miny - size / 100), (maxx + size / 100, maxy + size / 100), (n, 2))
        elif trial % 4 == 2:  # on the grids' lines and the tile's edges
            xy = np.column_stack([minx + rng.integers(0, 257, n) * (size / 256),
                                  miny + rng.integers(0, 257, n) * (size / 256)])
        else:  # many at the same places
            xy = np.repeat(rng.uniform((minx, miny), (maxx, maxy), (max(1, n // 50), 2)), 50, axis=0)[:n]
            n = len(xy)
        fids = rng.choice(10**7, n, replace=False)
        by_fid = np.argsort(fids)
        col, row = grid.pyramid_cells(xy[by_fid])
        shift = np.uint64(grid.TOP_LEVEL - z)
        inside = np.flatnonzero(((col >> shift) == x) & ((row >> shift) == y))
        kept = inside[mvt.thin_points(xy[by_fid][inside], z, always=z < grid.FULL_DETAIL_ZOOM)]
        index = _index_of(fids, xy)
        pick = index.tile(z, x, y)
        got_fids, got_xy = index.fids[pick], index.xy[pick]
        assert np.array_equal(fids[by_fid][kept], got_fids), trial
        assert np.array_equal(xy[by_fid][kept], got_xy), trial
        assert len(got_fids) <= grid.MAX_POINTS or (z >= grid.FULL_DETAIL_ZOOM and len(inside) == len(got_fids))


def test_thinning_levels_are_the_coarsest_level_a_point_is_first_at():
    rng = np.random.default_rng(5)
    xy = rng.normal(0, 3000, (5000, 2))
    fids = rng.choice(10**6, len(xy), replace=False)
    index = _index_of(fids, xy)
    for i in rng.choice(len(xy), 200, replace=False):
        for level in (0, 10, 20, 25, 32):
            shift = np.uint64(2 * (grid.TOP_LEVEL - level))
            same = (index.keys >> shift) == (index.keys[i] >> shift)
            first = index.fids[same].min() == index.fids[i]
            assert first == (index.levels[i] <= level), (i, level)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def test_varints_are_protobufs():
    rng = np.random.default_rng(2)
    edges = [0, 1, 127, 128, 255, 16383, 16384, 2**21 - 1, 2**21, 2**28, 2**35, 2**49, 2**56 - 1, 2**63, 2**64 - 1]
    for top in (100, 300, 70_000, 2**40, 2**64 - 1):
        v = np.concatenate([rng.integers(0, top, 3000, dtype=np.uint64, endpoint=True),
                            np.array([e for e in edges if e <= top], np.uint64)])
        assert mvt_encode.varints(v).tobytes() == b"".join(_varint(int(x)) for x in v), top
        assert mvt_encode.varint_sizes(v).tolist() == [len(_varint(int(x))) for x in v]
    assert mvt_encode.varints(np.zeros(0, np.uint64)).tobytes() == b""


def test_a_layer_of_every_value_kind_decodes():
    ids = np.array([1, 2, 3, 2**40], np.uint64)
    commands, counts = mvt_encode.point_commands(np.array([0, 4096, 17, 2048]), np.array([0, 4096, 4000, 1]))
    long_text = "长" * 300  # longer than a one-byte length
    columns = [("name", ["一", None, long_text, "一"], False), ("n", [0, -5, 2**62, None], False),
               ("r", [0.0, 1.5, None, -2.25e-300], False), ("ok", [1, 0, None, 1], True),
               ("mixed", [1, "a", 2.5, True], False), ("blob", [b"\x00", None, None, None], False)]
    data = mvt_encode.layer("层", ids, mvt_encode.POINT, commands, counts, columns)
    (name, layer), = mapbox_vector_tile.decode(data).items()
    assert name == "层" and layer["extent"] == 4096
    feats = {f["id"]: f for f in layer["features"]}
    assert feats[1]["properties"] == {"name": "一", "n": 0, "r": 0.0, "ok": True, "mixed": 1}
    assert type(feats[1]["properties"]["r"]) is float and type(feats[1]["properties"]["n"]) is int
    assert feats[2]["properties"] == {"n": -5, "r": 1.5, "ok": False, "mixed": "a"}
    assert feats[3]["properties"] == {"name": long_text, "n": 2**62, "mixed": 2.5}
    assert feats[2**40]["properties"] == {"name": "一", "r": -2.25e-300, "ok": True, "mixed": True}
    assert [feats[i]["geometry"]["coordinates"] for i in (1, 2, 3, 2**40)] == [[0, 0], [4096, 4096], [17, 4000],
                                                                              [2048, 1]]
    assert mvt_encode.layer("empty", ids[:0], 1, np.zeros(0, np.uint64), np.zeros(0, np.int64), []) == b""
