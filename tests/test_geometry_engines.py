"""The two geometry engines give the same registry: shapely/pyproj/fiona (the command line, the server) and QGIS's own
classes (the QGIS plugin), in real QGIS 3.22 (pytest-qgis) beside the project's shapely.

Same inputs, same bytes: WKB, GeoPackage blobs, bounds, type names, GeoJSON coordinates, accept/refuse decisions;
the same edits made through each give files whose rows, blobs and history states are equal byte for byte; a file
made by one engine created the same tables as one made by the other; and a check-out made on one side shows no
local change when looked at from the other (so a check-out made by the command line pushes nothing from QGIS
until a feature is edited there).
"""

from __future__ import annotations

import json
import random
import sqlite3
import struct
from contextlib import closing

import pytest

from conftest import StepClock, require, shelter

require("qgis", "Debian's python3-qgis, QGIS 3.22")

from rallypoint import Registry, ValidationError  # noqa: E402
from rallypoint import geometry_engine as ge  # noqa: E402
from rallypoint.storage.gpkg import blobs  # noqa: E402
from rallypoint_qgis.qgis_engine import QgisEngine  # noqa: E402

pytestmark = pytest.mark.qgis

RNG = random.Random(4490)


def _lonlat() -> tuple[float, float]:
    # full-precision doubles (no rounding a decimal text would hide) inside Sichuan
    return RNG.uniform(97.3, 108.5), RNG.uniform(26.0, 34.3)


def _ring(n: int, cx: float, cy: float, r: float, rng: random.Random = RNG) -> list[tuple[float, float]]:
    import math

    pts = [(cx + r * math.cos(2 * math.pi * i / n) * rng.uniform(0.6, 1.0),
            cy + r * math.sin(2 * math.pi * i / n) * rng.uniform(0.6, 1.0)) for i in range(n)]
    return pts + [pts[0]]


def _wkt_coords(pts) -> str:
    return ", ".join(f"{x!r} {y!r}" for x, y in pts)


def _inputs() -> list:
    """Geometries as users and clients give them: WKT (2D, Z), GeoJSON (mapping and text), (x, y), WKB."""
    out = []
    for _ in range(40):
        x, y = _lonlat()
        out += [f"POINT ({x!r} {y!r})", (x, y), {"type": "Point", "coordinates": [x, y]},
                json.dumps({"type": "Point", "coordinates": [x, y, 512.5]}), f"POINT Z ({x!r} {y!r} 3.5)",
                struct.pack("<BI2d", 1, 1, x, y)]
    for _ in range(15):
        cx, cy = _lonlat()
        outer = _ring(RNG.randint(5, 40), cx, cy, 0.05)
        hole = _ring(6, cx, cy, 0.01)[::-1]
        line = [_lonlat() for _ in range(RNG.randint(2, 12))]
        out += [f"POLYGON (({_wkt_coords(outer)}), ({_wkt_coords(hole)}))",
                {"type": "Polygon", "coordinates": [[list(p) for p in outer]]},
                f"MULTIPOLYGON ((({_wkt_coords(outer)})), (({_wkt_coords(_ring(7, cx + 0.3, cy, 0.02))})))",
                f"LINESTRING ({_wkt_coords(line)})",
                {"type": "MultiLineString", "coordinates": [[list(p) for p in line], [list(p) for p in line[:2]]]},
                f"MULTIPOINT ({_wkt_coords(line)})"]
    out += ["POLYGON ((104 30, 104.1 30.1, 104.1 30, 104 30.1, 104 30))",  # a bow tie: invalid
            "POINT (200 30)", "LINESTRING (104 30, 104.1 95)"]  # outside longitude/latitude
    return out


@pytest.fixture(scope="module")
def engines(qgis_app):
    return ge.ShapelyEngine(), QgisEngine()


def _facts(eng, value) -> dict:
    g = eng.from_user(value)
    facts = {"wkb": eng.to_wkb(g), "type": eng.geom_type(g), "bounds": eng.bounds(g), "empty": eng.is_empty(g),
             "lonlat": eng.within_lonlat(g), "valid": eng.invalid_reason(g) is None,
             "geojson": json.dumps(eng.mapping(g))}
    if not facts["type"].startswith("Multi"):
        facts["multi"] = eng.to_wkb(eng.to_multi(g))
    with ge.using(eng):
        facts["blob"] = blobs.encode(g)
        facts["decoded"] = eng.to_wkb(blobs.decode(facts["blob"]))
    return facts


def test_the_same_input_gives_the_same_bytes_and_answers(engines):
    shapely_engine, qgis_engine = engines
    inputs = _inputs()
    for value in inputs:
        a, b = _facts(shapely_engine, value), _facts(qgis_engine, value)
        assert a == b, f"{value!r:.200}"
    assert len(inputs) > 300


def test_what_neither_reads_is_refused_by_both(engines):
    for eng in engines:
        for bad in ("POINT (1", "{\"type\": \"Pont\", \"coordinates\": [1, 2]}", b"\x01\x02\x03", object()):
            with pytest.raises((ValueError, TypeError)):
                eng.from_user(bad)
        with pytest.raises(ge.UnknownCrsError):
            eng.to_storage(eng.from_user("POINT (1 2)"), "EPSG:999999")


@pytest.mark.parametrize("crs, x, y", [
    ("EPSG:4326", 104.06, 30.66), ("OGC:CRS84", 104.06, 30.66), ("4490", 104.06, 30.66),
    ("http://www.opengis.net/def/crs/EPSG/0/3857", 11584184.51, 3588993.37), ("EPSG:32648", 412000.0, 3393000.0),
])
def test_reprojection_into_storage_agrees(engines, crs, x, y):
    """PROJ does the work on both sides (pyproj's and QGIS's): the same place to well under a centimetre."""
    shapely_engine, qgis_engine = engines
    got = [eng.bounds(eng.to_storage(eng.from_user((x, y)), crs))[:2] for eng in engines]
    assert got[0] == pytest.approx(got[1], abs=1e-8)
    assert 97 < got[0][0] < 109 and 26 < got[0][1] < 35
    boxes = [eng.bounds(eng.to_storage(eng.box(x, y, x + 1000, y + 800), crs)) if crs.endswith(("3857", "32648"))
             else eng.bounds(eng.box(x, y, x + 0.1, y + 0.1)) for eng in engines]
    assert boxes[0] == pytest.approx(boxes[1], abs=1e-8)


def _edits(reg: Registry) -> list[str]:
    """The same story on either engine: adds in every form a client uses, refusals, moves, a retirement, a restore."""
    problems = []
    ids = [f"00000000-0000-4000-8000-{i:012d}" for i in range(8)]
    x, y = 104.0612345678901, 30.6598765432109
    reg.add("shelters", shelter(uuid=ids[0], name="一号"), f"POINT ({x!r} {y!r})", author="li")
    reg.add("shelters", shelter(uuid=ids[1], name="二号"), {"type": "Point", "coordinates": [x + 0.01, y]},
            author="li")
    reg.add("shelters", shelter(uuid=ids[2], name="三号"), struct.pack("<BI2d", 1, 1, x, y + 0.01), author="li")
    reg.add("shelters", shelter(uuid=ids[3], name="四号"), (x - 0.01, y), author="li", crs="EPSG:4326")
    outer = _ring(25, x, y, 0.05, random.Random(7))
    with reg.batch(author="li") as b:  # a Polygon where the layer holds MultiPolygons: promoted
        b.add("admin_areas", {"adcode": "519901001", "name": "一镇", "level": "township", "population": 1200},
              f"POLYGON (({_wkt_coords(outer)}))")
    area = {"adcode": "519901002", "name": "二镇", "level": "township"}
    for layer, props, bad in (("admin_areas", area, "POLYGON ((104 30, 104.1 30.1, 104.1 30, 104 30.1, 104 30))"),
                              ("shelters", shelter(name="坏"), "POINT (200 30)"),
                              ("shelters", shelter(name="坏"), "LINESTRING (104 30, 104.1 30)")):
        try:
            with reg.batch(author="li") as b:
                b.add(layer, props, bad)
        except ValidationError as exc:
            problems += [f"{p.field}: {p.message.split(':')[0]}" for p in exc.problems]
    # the position rules (rallypoint.positions): outside China, far outside the division, just past its boundary
    # (metres in the Gauss-Krüger zone), on the engine's geometry
    for moved in ("POINT (13.4 52.5)", f"POINT ({x + 0.2!r} {y!r})", f"POINT ({max(p[0] for p in outer) + 0.0012!r} {y!r})"):
        try:
            reg.update("shelters", ids[3], None, moved, author="li")
        except ValidationError as exc:
            problems += [f"{p.field}: {p.message}" for p in exc.problems]
    reg.update("shelters", ids[0], {"capacity_day": 6100}, f"POINT ({x + 0.001!r} {y!r})", author="wang",
               expected_version=1)
    reg.update("shelters", ids[1], None, {"type": "Point", "coordinates": [x + 0.02, y + 0.02, 7.0]}, author="wang")
    reg.retire("shelters", ids[2], author="wang", reason="拆除")
    reg.restore("shelters", ids[0], 1, author="zhao")
    return problems


def _dump(path) -> dict:
    with closing(sqlite3.connect(path)) as c:
        out = {t: c.execute(f'SELECT * FROM "{t}" ORDER BY 1').fetchall() for t in ("shelters", "admin_areas")}
        out["history"] = c.execute("SELECT layer, uuid, version, op, author, at, before, after, note "
                                   "FROM rp_history ORDER BY fid").fetchall()
        out["ddl"] = c.execute("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' "
                               "ORDER BY type, name").fetchall()
        out["contents"] = c.execute("SELECT table_name, data_type, identifier, min_x, min_y, max_x, max_y, srs_id "
                                    "FROM gpkg_contents ORDER BY 1").fetchall()
    return out


def test_the_same_edits_write_the_same_files_and_history(engines, tmp_path):
    files = {}
    refused = {}
    for eng in engines:
        path = tmp_path / f"{eng.name}.gpkg"
        with ge.using(eng):
            Registry.create(path, name="示例县应急资源", bureau="示例县应急管理局", adcode="519901",
                            clock=StepClock()).close()
            with Registry.open(path, clock=StepClock()) as reg:
                refused[eng.name] = _edits(reg)
                assert type(reg.get("shelters", "00000000-0000-4000-8000-000000000000").geometry).__name__ == (
                    "QgsGeometry" if eng.name == "qgis" else "Point")
        files[eng.name] = _dump(path)
    assert refused["shapely"] == refused["qgis"]
    assert refused["qgis"][:3] == [
        "None: invalid geometry", "None: coordinates fall outside longitude −180…180 / latitude −90…90 after "
        "reprojection to EPSG", "None: a LineString was given where the layer holds Point"]
    assert "lies outside China's extent" in refused["qgis"][3]
    assert [m.split(" lies ")[1].split(" outside division")[0] for m in refused["qgis"][4:]] == ["15.1 km", "635 m"]  # geodesic, and in the GK zone
    a, b = files["shapely"], files["qgis"]
    assert a["ddl"] == b["ddl"]  # GDAL made the same tables, through fiona and through QGIS's osgeo.ogr
    assert a["contents"] == b["contents"]
    assert a["shelters"] == b["shelters"] and len(a["shelters"]) == 4
    assert a["admin_areas"] == b["admin_areas"]
    assert a["admin_areas"][0][1][40:45] == b"\x01\x06\x00\x00\x00"  # a MultiPolygon's WKB, after the envelope
    assert a["history"] == b["history"] and len(a["history"]) == 8  # 4 inserts, 2 updates, a retire, a restore


def test_a_check_out_made_on_one_side_has_no_local_change_on_the_other(engines, tmp_path):
    from rallypoint import sync

    shapely_engine, qgis_engine = engines
    source = tmp_path / "source.gpkg"
    with ge.using(shapely_engine):
        Registry.create(source, name="示例县应急资源", bureau="示例县应急管理局", adcode="519901").close()
        with Registry.open(source) as reg:
            _edits(reg)
        sync.checkout(str(source), tmp_path / "field.gpkg", author="li")
    with ge.using(qgis_engine):
        from rallypoint.sync import _open_checkout

        reg, base, _ = _open_checkout(tmp_path / "field.gpkg")
        try:
            assert {layer: changes for layer, changes in sync.pending(reg, base).items() if changes} == {}
            reg.update("shelters", "00000000-0000-4000-8000-000000000001", None, "POINT (104.066 30.66)",
                       author="li")
            pending = sync.pending(reg, base)
            assert [(uid, kind) for uid, (kind, _) in pending["shelters"].items()] == [
                ("00000000-0000-4000-8000-000000000001", "changed")]
        finally:
            reg.close()
        report = sync.push(tmp_path / "field.gpkg", author="li")
    assert report.ok and report.updated == 1
    with ge.using(shapely_engine), Registry.open(source) as reg:
        assert reg.get("shelters", "00000000-0000-4000-8000-000000000001").geometry.wkt == "POINT (104.066 30.66)"
