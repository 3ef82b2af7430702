"""A bulk write (``add_many``: checked a column at a time, written in bulk statements) stores, refuses and records
exactly what the same features added one by one in a batch (``Batch.add``) would."""

import json
import sqlite3

import numpy as np
import pytest
from shapely.geometry import Point

from rallypoint import ValidationError
from rallypoint.registry import bulk
from rallypoint.storage.gpkg.rtree import fill_empty
from rallypoint.storage.gpkg.states import states_json

from conftest import HERE, hazard, helipad, shelter

pytestmark = pytest.mark.both_backends

STAMPS = {"uuid", "version", "created_at", "created_by", "updated_at", "updated_by", "retired_at"}


def _varied(shelter_uuid):
    """Hazard points with what the column checks must settle or hand over: labels, text numbers, derived grades
    (agreeing, by hand, missing), references, phones with spaces, blanks, whitespace, long reals, Chinese text."""
    out = []
    for i in range(40):
        props = hazard(name=f"  隐患点{i} ", threatened_people=i * 37, threatened_property=i * 12.5 + 0.1)
        if i % 5 == 1:
            props.update(hazard_type="major_hazard_installation", risk_value_r=i * 3.3)
        if i % 5 == 2:
            props.update(hazard_type="fire_risk", danger_grade="III")
        if i % 7 == 3:
            props["threatened_people"] = str(i)  # a number as text
        if i % 6 == 4:
            props["assigned_shelter"] = shelter_uuid
        if i % 4 == 0:
            props["monitor_phone"] = "138 0000 12" + f"{i:02d}"
        if i % 9 == 5:
            props["monitor_name"] = ""
        if i % 8 == 6:
            props["threatened_property"] = 1 / 3  # more than 15 significant digits
        if i == 7:
            props["name"] = 'quote " and % and \\ 隐患'
        out.append((props, Point(104.0 + i / 1000, 30.6 + i / 2000)))
    return out


def _one_by_one(registry, layer, items, **kw):
    with registry.batch(author="tester") as b:
        return [b.add(layer, props, geom, **kw) for props, geom in items]


def _content(registry, layer, uid):
    f = registry.get(layer, uid)
    props = {k: v for k, v in f.properties.items() if k not in STAMPS}
    (change,) = registry.history(layer, uid)
    after = dict(change.after)
    after["properties"] = {k: v for k, v in after["properties"].items() if k not in STAMPS}
    return props, f.geometry.wkb_hex if f.geometry is not None else None, (change.op, change.version, after)


def test_bulk_stores_and_records_what_one_by_one_stores(registry):
    s = registry.add("shelters", shelter(), HERE, author="t")
    items = _varied(s.uuid)
    single = _one_by_one(registry, "hazard_points", items)
    many = registry.add_many("hazard_points", items, author="tester")
    assert len(many) == len(single) == len(items) and len(set(many) | set(single)) == 2 * len(items)
    for a, b in zip(single, many):
        assert _content(registry, "hazard_points", a) == _content(registry, "hazard_points", b)
        f = registry.get("hazard_points", b)
        assert (f.version, f.properties["created_by"], f.properties["retired_at"]) == (1, "tester", None)
    assert registry.count("hazard_points") == 2 * len(items)


def test_bulk_reprojects_as_one_by_one(registry):
    items = [(helipad(name=f"起降点{i}"), Point(11581000 + i * 100, 3588000 + i * 50)) for i in range(6)]
    single = _one_by_one(registry, "helipads", items, crs="EPSG:3857")
    many = registry.add_many("helipads", items, author="tester", crs="EPSG:3857")
    for a, b in zip(single, many):
        ga, gb = registry.get("helipads", a).geometry, registry.get("helipads", b).geometry
        assert ga.equals_exact(gb, 1e-9)


def _problems(call):
    with pytest.raises(ValidationError) as exc:
        call()
    return [(p.layer, p.feature, p.field, p.message) for p in exc.value.problems]


def test_bulk_refuses_the_same_features_with_the_same_messages_and_writes_nothing(registry):
    s = registry.add("shelters", shelter(), HERE, author="t")
    used = registry.add("helipads", helipad(name="已有"), HERE, author="t").uuid
    good = _varied(s.uuid)[:10]
    bad = [
        (hazard(threatened_people=-3), HERE),
        (hazard(status="gone", hazard_type="meteor"), HERE),
        (hazard(threatened_people=2000, danger_grade="IV"), HERE),  # disagrees with its rule
        (hazard(assigned_shelter="00000000-0000-4000-8000-000000000000"), HERE),
        (hazard(name=None), HERE),
        (hazard(colour="red"), HERE),
        (hazard(version=3), HERE),
        (hazard(), Point(-70, 40)),  # outside China
        (hazard(), None),
        (hazard(monitor_phone="12345"), HERE),
        (hazard(name="名" * 300), HERE),
    ]
    items = good[:4] + bad + good[4:]
    before = (registry.count("hazard_points"), len(registry.history()))
    one = _problems(lambda: _one_by_one(registry, "hazard_points", items))
    many = _problems(lambda: registry.add_many("hazard_points", items, author="tester"))
    assert many == one and len({p[1] for p in many}) == len(bad)
    assert (registry.count("hazard_points"), len(registry.history())) == before
    # UUIDs given twice, or already used: the first given is the one that would be written
    uid = "6f1c1d0e-2b4a-4c1e-9f0a-3d2b1c0e9f8a"
    dup = [(helipad(name="甲", uuid=uid), HERE), (helipad(name="乙", uuid=uid), HERE),
           (helipad(name="丙", uuid=used), HERE)]
    many = _problems(lambda: registry.add_many("helipads", dup, author="tester"))
    assert [(p[1], p[2]) for p in many] == [(f"feature {uid}", "uuid"), (f"feature {used}", "uuid")]
    assert registry.count("helipads") == 1


def test_bulk_in_chunks_into_a_layer_that_holds_features(registry, monkeypatch):
    monkeypatch.setattr(bulk, "CHUNK", 7)
    registry.add_many("helipads", [(helipad(name=f"先{i}"), Point(104 + i / 100, 30.5)) for i in range(5)],
                      author="t")
    ticks = []
    uids = registry.add_many("helipads", [(helipad(name=f"后{i}"), Point(103 + i / 100, 31)) for i in range(30)],
                             author="t", progress=ticks.append)
    assert ticks == list(range(1, 31)) and len(set(uids)) == 30
    assert registry.count("helipads") == 35 and len(registry.history("helipads")) == 35
    near = list(registry.features("helipads", bbox=(102.99, 30.99, 103.055, 31.01)))
    assert sorted(f.properties["name"] for f in near) == sorted(f"后{i}" for i in range(6))


def test_a_gpkg_bulk_write_keeps_the_file_sound(registry_path):
    from rallypoint import Registry

    with Registry.open(registry_path) as reg:
        reg.add_many("hazard_points", _varied(None), author="t")
        reg.add_many("hazard_points", [(hazard(name=f"又{i}"), Point(104.2, 30.7 + i / 100)) for i in range(5)],
                     author="t")
    con = sqlite3.connect(registry_path)
    assert con.execute("SELECT rtreecheck('rtree_hazard_points_geom')").fetchone()[0] == "ok"
    count = con.execute("SELECT count(*) FROM hazard_points").fetchone()[0]
    assert count == 45
    # GDAL's count: kept by its triggers when the file has them, else unknown (NULL) as after single writes
    assert con.execute("SELECT feature_count FROM gpkg_ogr_contents WHERE table_name = 'hazard_points'"
                       ).fetchone()[0] in (None, count)
    assert con.execute("SELECT count(*) FROM rtree_hazard_points_geom").fetchone()[0] == count
    for (text,) in con.execute("SELECT after FROM rp_history WHERE layer = 'hazard_points'"):
        assert text == json.dumps(json.loads(text), ensure_ascii=False)  # json.dumps' very text
    names = [r[1] for r in con.execute("PRAGMA index_list('hazard_points')")]
    assert names, "the layer's indexes were made again"
    con.close()


@pytest.mark.parametrize("column", [
    ["a", "a", "a"], ["甲\"乙", "%s", "\\\n\x01"], [1, 2, None], [0.1, 1 / 3, 1e20], [float("nan"), float("inf"), -0.0],
    [True, False, None], [1, 1.0, True], [None, None, None], ["x", 2, 2.5],
])
def test_history_text_is_json_dumps_text(column):
    got = states_json(["k", "名"], [column, ["z"] * 3], ["0101", None, "ab"])
    want = [json.dumps({"properties": {"k": v, "名": "z"}, "geometry": g}, ensure_ascii=False)
            for v, g in zip(column, ["0101", None, "ab"])]
    assert got == want


def test_a_packed_rtree_answers_as_one_built_entry_by_entry():
    rng = np.random.default_rng(7)
    n = 3000
    x, y = rng.uniform(100, 110, n), rng.uniform(20, 40, n)
    w = rng.uniform(0, 0.01, n) * (rng.uniform(size=n) < 0.5)
    con = sqlite3.connect(":memory:")
    for name in ("a", "b"):
        con.execute(f"CREATE VIRTUAL TABLE {name} USING rtree(id, minx, maxx, miny, maxy)")
    ids = np.arange(1, n + 1)
    assert fill_empty(con, "a", ids, x, x + w, y, y + w)
    con.executemany("INSERT INTO b VALUES (?, ?, ?, ?, ?)", zip(ids.tolist(), x, x + w, y, y + w))
    assert con.execute("SELECT rtreecheck('a')").fetchone()[0] == "ok"
    for q in [(100, 101, 20, 21), (104.5, 104.6, 30, 30.2), (99, 111, 19, 41), (108.123, 108.123, 25, 26)]:
        sql = "SELECT id FROM {} WHERE maxx >= ? AND minx <= ? AND maxy >= ? AND miny <= ? ORDER BY id"
        args = (q[0], q[1], q[2], q[3])
        assert con.execute(sql.format("a"), args).fetchall() == con.execute(sql.format("b"), args).fetchall()
    con.execute("INSERT INTO a VALUES (?, 1, 2, 3, 4)", (n + 1,))  # the module adds to it and deletes from it
    con.execute("DELETE FROM a WHERE id <= 100")
    assert con.execute("SELECT rtreecheck('a')").fetchone()[0] == "ok"
    assert con.execute("SELECT count(*) FROM a").fetchone()[0] == n - 99
