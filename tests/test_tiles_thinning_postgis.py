"""A PostGIS point layer's thinning for low zooms, precomputed and kept current by triggers.

Every point's level (the coarsest level of the Web Mercator pyramid at which it is the lowest fid of its
cell) must stay exactly what a rebuild from scratch computes, whatever edits come: points added, moved,
retired, restored, deleted with plain SQL (as QGIS does), a large statement. And a low-zoom tile drawn from
the levels holds the points the per-tile pass keeps."""

import math

import mapbox_vector_tile
import psycopg
import pytest
from shapely.geometry import Point

from rallypoint import Registry
from rallypoint.storage.postgis import thinning
from rallypoint.storage.postgis import tiles as pg_tiles

pytestmark = pytest.mark.slow
SIDE = thinning.side_table("hazard_points")


@pytest.fixture
def county_pg(pg_cluster, pg_county_template):
    """A PostGIS copy of the county sample (tests/pg_copy.py computes its levels as a bulk load does)."""
    return pg_cluster.new_database(template=pg_county_template)


def levels(conn) -> dict[int, int]:
    return dict(conn.execute(f"SELECT fid, lvl FROM {SIDE}").fetchall())


def rebuilt(conn) -> dict[int, int]:
    """The levels a rebuild from scratch computes now (the rebuild rolled back afterwards)."""
    conn.execute("BEGIN")
    try:
        conn.execute("SELECT rp_points_rebuild('hazard_points', true)")
        return levels(conn)
    finally:
        conn.execute("ROLLBACK")


def in_use(conn) -> set[int]:
    return {r[0] for r in conn.execute("SELECT fid FROM hazard_points WHERE retired_at IS NULL AND geom IS NOT NULL")}


def first_in_every_cell(conn) -> int:
    """Cells (of levels 0 to 19) where not exactly the lowest fid has a level at or under the cell's: 0 when sound."""
    bad = 0
    for lvl in range(0, 20):
        s = 2 * (19 - lvl)  # a level-L cell: the keys sharing all but their last 2 (19 - L) bits
        bad += conn.execute(
            f"SELECT count(*) FROM (SELECT min(fid) AS first, count(*) FILTER (WHERE lvl <= {lvl}) AS kept, "
            f"min(fid) FILTER (WHERE lvl <= {lvl}) AS kept_first FROM {SIDE} GROUP BY k >> {s}) c "
            "WHERE kept <> 1 OR kept_first <> first").fetchone()[0]
    return bad


def keys_are_cells(conn) -> int:
    """Rows whose key is not the level-19 cell of their point, worked out here from the coordinates: 0."""
    rows = conn.execute(f"SELECT x, y, k FROM {SIDE}").fetchall()
    size, origin = 40075016.685578488, 20037508.342789244
    bad = 0
    for x, y, k in rows:
        cx = min(max(math.floor((x + origin) / size * 2 ** 19), 0), 2 ** 19 - 1)
        cy = min(max(math.floor((origin - y) / size * 2 ** 19), 0), 2 ** 19 - 1)
        morton = sum(((cx >> b) & 1) << (2 * b) | ((cy >> b) & 1) << (2 * b + 1) for b in range(19))
        bad += morton != k
    return bad


def check(conn):
    now = levels(conn)
    assert keys_are_cells(conn) == 0
    assert set(now) == in_use(conn)  # every point in use with a geometry, and nothing else
    assert first_in_every_cell(conn) == 0
    assert now == rebuilt(conn)


def test_the_levels_follow_every_kind_of_edit(county_pg):
    with psycopg.connect(county_pg, autocommit=True) as conn:
        check(conn)  # as loaded
    with Registry.open(county_pg) as reg:
        some = [f for f in reg.features("hazard_points", limit=40)]
        editable = {f.name for f in reg.layer("hazard_points").editable_fields} - {"uuid"}

        def like(f, name):  # a copy of a point's fields (its own division code), under another name
            return {**{k: v for k, v in f.properties.items() if k in editable and v is not None}, "name": name}

        town = reg.read_frame("admin_areas").iloc[-1]  # a township with few points: a new one there is far from all
        # added: on top of existing points (same position: first nowhere), beside them, far away
        with reg.batch(author="t") as b:
            for i, f in enumerate(some[:10]):
                b.add("hazard_points", like(f, f"新增{i}"), f.geometry)
                b.add("hazard_points", like(f, f"旁边{i}"), Point(f.geometry.x + 1e-5 * (i + 1), f.geometry.y))
            b.add("hazard_points", {**like(some[0], "远处"), "adcode": town["adcode"]},
                  town.geometry.representative_point())
        # moved, retired, restored
        for f in some[10:15]:
            reg.update("hazard_points", f.uuid, geometry=Point(f.geometry.x + 2e-4, f.geometry.y - 2e-4),  # ~25 m
                       author="t", expected_version=f.version)
        for f in some[15:25]:
            reg.retire("hazard_points", f.uuid, author="t", expected_version=f.version)
        for f in some[15:18]:
            reg.restore("hazard_points", f.uuid, author="t")
    with psycopg.connect(county_pg, autocommit=True) as conn:
        check(conn)
        # plain SQL, as QGIS or a DBA would: a DELETE (the triggers retire), a move of many at once
        conn.execute("DELETE FROM hazard_points WHERE fid IN (SELECT fid FROM hazard_points WHERE retired_at IS NULL"
                     " ORDER BY fid LIMIT 3)")
        check(conn)
        conn.execute("UPDATE hazard_points SET geom = ST_Translate(geom, 0.0005, 0)")  # > 1000 rows: rebuilt whole
        check(conn)
        conn.execute("UPDATE hazard_points SET geom = ST_Translate(geom, 0.0005, 0) WHERE fid % 500 = 1")  # a few
        check(conn)


def _tile_of(lon, lat, z):
    n = 1 << z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


@pytest.mark.parametrize("z", [3, 6, 9, 11])
def test_a_low_zoom_tile_from_the_levels_keeps_what_the_per_tile_pass_keeps(county_pg, z):
    with Registry.open(county_pg) as reg:
        layer = reg.layer("hazard_points")
        centre = next(reg.features("hazard_points")).geometry
        x, y = _tile_of(centre.x, centre.y, z)
        precomputed = mapbox_vector_tile.decode(pg_tiles.layer_tile(reg._conn, layer, False, z, x, y))
        reg._conn.execute(f"ALTER TABLE {SIDE} RENAME TO rp_points_hidden")  # the per-tile pass, as before
        try:
            per_tile = mapbox_vector_tile.decode(pg_tiles.layer_tile(reg._conn, layer, False, z, x, y))
        finally:
            reg._conn.execute(f"ALTER TABLE rp_points_hidden RENAME TO {SIDE}")
    a = {f["id"]: f for f in precomputed["hazard_points"]["features"]}
    b = {f["id"]: f for f in per_tile["hazard_points"]["features"]}
    assert 0 < len(a) <= 2000
    assert a.keys() == b.keys()
    for fid in a:
        assert a[fid]["properties"] == b[fid]["properties"]
        (x0, y0), (x1, y1) = a[fid]["geometry"]["coordinates"], b[fid]["geometry"]["coordinates"]
        assert abs(x0 - x1) <= 1 and abs(y0 - y1) <= 1


def test_writers_of_one_layer_keep_it_sound_together(county_pg):
    """Two transactions adding points to the same cells at once: the advisory lock orders them."""
    import threading

    with Registry.open(county_pg) as reg:
        f = next(reg.features("hazard_points"))
        base = {k: v for k, v in f.properties.items()
                if k in {d.name for d in reg.layer("hazard_points").editable_fields} and v is not None}
        base.pop("uuid", None)
        at = f.geometry
    errors = []

    def write(tag):
        try:
            with Registry.open(county_pg) as reg:
                for i in range(15):
                    reg.add("hazard_points", {**base, "name": f"{tag}{i}"}, Point(at.x + 1e-6 * i, at.y), author=tag)
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(t,)) for t in ("甲", "乙")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with psycopg.connect(county_pg, autocommit=True) as conn:
        check(conn)
