"""The importers fuzzed property by property (hypothesis): GeoJSON, CSV and GeoPackage files with hostile
content - odd and broken geometries, huge, infinite and NaN coordinates, values of the wrong type, mixed
encodings, SQL and path traversal in layer and field names, damaged geometry blobs and file bytes.

The property: an import either goes through and the registry still passes its own check, or it is
refused - with one of the project's named errors that says what and where, or feature by feature with a
reason - and the registry is exactly as it was. Any other exception fails the test. The examples are
bounded for CI; ``bench/hostile.py`` runs many more and prints the figures.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3
import struct
import itertools
from contextlib import closing
from pathlib import Path

import pyogrio
import pytest
from conftest import BUREAU
from hostile_support import FUZZ_EXAMPLES, digest, record
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rallypoint import Registry
from rallypoint.check import check_registry
from rallypoint.errors import RallypointError
from rallypoint.exchange.apply import apply_import
from rallypoint.exchange.importer import plan_import

EXAMPLES = FUZZ_EXAMPLES or 15
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))

# names and texts an attacker or a broken exporter would send
HOSTILE_NAMES = ['x"; DROP TABLE helipads; --', "helipads'; DELETE FROM gpkg_contents; --", "../../etc/passwd",
                 "..\\..\\windows\\win.ini", "/etc/passwd", "gpkg_contents", "sqlite_master", "rtree_helipads_geom",
                 "fid", "geom", "uuid", "version", "名\u202e称", "a" * 300, " ", "%s%s%n", "${jndi:ldap://x}"]
HELIPAD_FIELDS = ["name", "adcode", "source", "surface", "pad_length_m", "pad_width_m", "status", "code", "lon", "lat",
                  "wkt", "经度", "纬度", "retired_at", "contact_phone"]
names = st.one_of(st.sampled_from(HELIPAD_FIELDS), st.sampled_from(HOSTILE_NAMES), st.text(min_size=1, max_size=12))
texts = st.one_of(st.sampled_from(HOSTILE_NAMES + ["NaN", "1e999", "-0", "", "519921001", "usable", BUREAU,
                                                   "POINT (103.7 30.6)", "POLYGON ((0 0, 1 1, 1 0))", "\x00",
                                                   "2026-13-45T99:00:00Z"]),
                  st.text(max_size=40))
numbers = st.one_of(st.integers(min_value=-(2 ** 70), max_value=2 ** 70), st.floats(allow_nan=True),
                    st.sampled_from([1e308, -1e308, 5e-324, 180.0000001, 90.5, 103.7, 30.6]))
values = st.one_of(st.none(), st.booleans(), numbers, texts, st.lists(st.integers(), max_size=3))
coords = st.one_of(st.sampled_from([103.7, 30.6, 103.71, 30.61, 0.0, -180.0, 180.0, 90.0]), numbers)
position = st.lists(coords, min_size=0, max_size=4)
ring = st.lists(position, min_size=0, max_size=6)
geometries = st.one_of(
    st.none(),
    st.fixed_dictionaries({"type": st.just("Point"), "coordinates": position}),
    st.fixed_dictionaries({"type": st.sampled_from(["LineString", "MultiPoint"]), "coordinates": ring}),
    st.fixed_dictionaries({"type": st.sampled_from(["Polygon"]), "coordinates": st.lists(ring, max_size=3)}),
    st.fixed_dictionaries({"type": texts, "coordinates": st.one_of(values, ring)}),
    st.fixed_dictionaries({"type": st.just("GeometryCollection"),
                           "geometries": st.lists(st.fixed_dictionaries({"type": st.just("Point"),
                                                                         "coordinates": position}), max_size=2)}),
)
encodings = st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "utf-16", "latin-1", "shift_jis"])
_counter = itertools.count()


def check_outcomes(outcomes: list[str]) -> None:
    import inspect
    from collections import Counter

    record(inspect.stack()[1].function, {"examples": len(outcomes), "outcomes": Counter(outcomes)})
    assert len(outcomes) == EXAMPLES and any(o.startswith("refused") for o in outcomes)


def attempt(reg: Registry, path: Path) -> str:
    """Import ``path``; return what happened, after checking the property (see the module's description)."""
    before = digest(reg.path)
    try:
        plan = plan_import(reg, path)
        result = apply_import(reg, plan, author="fuzz")
    except RallypointError as exc:
        assert str(exc).strip(), type(exc)
        assert digest(reg.path) == before, f"{type(exc).__name__} was raised but the registry changed"
        return f"refused ({type(exc).__name__})"
    if result.applied:
        problems = check_registry(reg.path, gdal=False)
        assert not problems, problems[:5]
        return "imported"
    assert digest(reg.path) == before, "nothing was applied but the registry changed"
    assert result.refused and all(f.reason for f in result.refused)
    return "refused features"


@pytest.fixture
def reg(registry_path):
    with Registry.open(registry_path) as r:
        yield r


def _write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / f"{next(_counter)}" / name
    path.parent.mkdir()
    path.write_bytes(data)
    return path


def _encode(text: str, encoding: str, cut: int | None) -> bytes:
    data = text.encode(encoding, errors="replace")
    return data[:cut] if cut is not None and cut < len(data) else data


def test_geojson_files_are_imported_or_refused_cleanly(reg, tmp_path):
    outcomes = []

    @SETTINGS
    @given(feats=st.lists(st.tuples(st.dictionaries(names, values, max_size=8), geometries), max_size=5),
           layer=st.one_of(st.none(), names), stem=st.sampled_from(["helipads", "shelters", "x"]),
           encoding=encodings, cut=st.one_of(st.none(), st.integers(min_value=0, max_value=400)),
           extra=st.dictionaries(st.sampled_from(["crs", "bbox", "type"]), values, max_size=2))
    def run(feats, layer, stem, encoding, cut, extra):
        doc = {"type": "FeatureCollection", **extra,
               "features": [{"type": "Feature", "properties": p, "geometry": g} for p, g in feats]}
        if layer is not None:
            doc["name"] = layer
        text = json.dumps(doc, ensure_ascii=False, allow_nan=True, default=str)
        outcomes.append(attempt(reg, _write(tmp_path, f"{stem}.geojson", _encode(text, encoding, cut))))

    run()
    check_outcomes(outcomes)


def test_csv_files_are_imported_or_refused_cleanly(reg, tmp_path):
    outcomes = []

    @SETTINGS
    @given(header=st.lists(names, min_size=1, max_size=8), rows=st.lists(st.lists(values, max_size=9), max_size=6),
           stem=st.sampled_from(["helipads", "teams", "../../etc/passwd"]), encoding=encodings,
           delimiter=st.sampled_from([",", ";", "\t"]), cut=st.one_of(st.none(), st.integers(0, 300)))
    def run(header, rows, stem, encoding, delimiter, cut):
        out = io.StringIO()
        w = csv.writer(out, delimiter=delimiter)
        w.writerow(header)
        w.writerows([["" if v is None else v for v in row] for row in rows])
        name = stem.replace("/", "_") + ".csv"
        outcomes.append(attempt(reg, _write(tmp_path, name, _encode(out.getvalue(), encoding, cut))))

    run()
    check_outcomes(outcomes)


# -- GeoPackages: a sound one, then damaged ---------------------------------------------------------------

@pytest.fixture(scope="module")
def sound_gpkg(tmp_path_factory):
    import geopandas as gpd
    from shapely.geometry import Point

    rows = [{"code": f"HP-{i}", "name": f"{i}号起降点", "adcode": "519921001", "source": BUREAU,
             "surface": "concrete", "pad_length_m": 30.0 + i, "pad_width_m": 30.0, "status": "usable"}
            for i in range(3)]
    gdf = gpd.GeoDataFrame(rows, geometry=[Point(103.7 + i / 100, 30.6) for i in range(3)], crs="EPSG:4490")
    path = tmp_path_factory.mktemp("sound") / "helipads.gpkg"  # not a registry: GDAL may write it
    pyogrio.write_dataframe(gdf, path, layer="helipads", driver="GPKG")
    return path


def gp_blob(flags: int, srs: int, envelope: bytes, wkb: bytes, magic: bytes = b"GP", version: int = 0) -> bytes:
    return magic + bytes([version, flags]) + struct.pack("<i", srs) + envelope + wkb


# WKB bodies: sound, truncated, wrong byte order, unknown type, huge declared counts
WKBS = [struct.pack("<BIdd", 1, 1, 103.7, 30.6), struct.pack("<BId", 1, 1, 103.7),
        struct.pack(">BIdd", 0, 1, 103.7, 30.6),
        struct.pack("<BIdd", 1, 99, 1.0, 2.0), struct.pack("<BII", 1, 2, 0x0FFFFFFF),
        struct.pack("<BIII", 1, 3, 0xFFFFFFFF, 4), struct.pack("<BII", 1, 7, 0x7FFFFFFF), b"", b"\x01",
        struct.pack("<BIdd", 1, 1, float("nan"), float("inf")), struct.pack("<BIdd", 1, 1, 1e308, -1e308)]
blobs = st.one_of(
    st.binary(max_size=80),
    st.builds(gp_blob, flags=st.integers(0, 255), srs=st.sampled_from([4490, 4326, 0, -1, 99999, 2 ** 31 - 1]),
              envelope=st.one_of(st.just(b""), st.binary(min_size=32, max_size=32), st.binary(max_size=70)),
              wkb=st.one_of(st.sampled_from(WKBS), st.binary(max_size=40)),
              magic=st.sampled_from([b"GP", b"PG", b"\x00\x00"]), version=st.sampled_from([0, 1, 255])),
)
sql_values = st.one_of(st.none(), numbers.filter(lambda v: not isinstance(v, int) or abs(v) < 2 ** 63), texts,
                       st.binary(max_size=20))
mutations = st.one_of(
    st.tuples(st.just("blob"), st.integers(1, 3), blobs),
    st.tuples(st.just("value"), st.sampled_from(["name", "pad_length_m", "status", "adcode", "code"]), sql_values),
    st.tuples(st.just("rename_table"), st.sampled_from(HOSTILE_NAMES[:8] + ["shelters", "teams"])),
    st.tuples(st.just("rename_column"), st.sampled_from(["name", "status", "pad_length_m"]), names),
    st.tuples(st.just("pragma"), st.sampled_from(["application_id", "user_version"]),
              st.sampled_from([0, 1, 0x47504B47, 0x47503130, -1, 2 ** 31 - 1])),
    st.tuples(st.just("srs"), st.sampled_from([0, -1, 99999, 4326])),
    st.tuples(st.just("srs_definition"), texts),
    st.tuples(st.just("geometry_type"), st.sampled_from(["POINT", "POLYGON", "GEOMETRY", "CURVE", "x'; --"])),
    st.tuples(st.just("drop"), st.sampled_from(["gpkg_contents", "gpkg_spatial_ref_sys", "gpkg_geometry_columns"])),
)
byte_damage = st.one_of(
    st.tuples(st.just("truncate"), st.integers(0, 8192)),
    st.tuples(st.just("poke"), st.integers(0, 8192), st.integers(0, 255)),
    st.tuples(st.just("page_count"), st.sampled_from([0, 1, 0x7FFFFFFF, 0xFFFFFFFF])),
    st.tuples(st.just("page_size"), st.sampled_from([0, 1, 512, 3000, 65535])),
)


def _mutate(path: Path, m: tuple) -> None:
    kind = m[0]
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        table = conn.execute("SELECT table_name FROM gpkg_contents").fetchone() \
            if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'gpkg_contents'").fetchone() else None
        table = table[0] if table else "helipads"
        q = '"' + table.replace('"', '""') + '"'
        conn.execute("PRAGMA foreign_keys = OFF")
        try:
            # GDAL's R-tree triggers call ST_* functions this plain connection does not have: drop them first
            for (trigger,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
                conn.execute(f'DROP TRIGGER "{trigger}"')
            if kind == "blob":
                conn.execute(f"UPDATE {q} SET geom = ? WHERE fid = ?", (m[2], m[1]))
            elif kind == "value":
                conn.execute(f'UPDATE {q} SET "{m[1]}" = ?', (m[2],))
            elif kind == "rename_table":
                new = '"' + m[1].replace('"', '""') + '"'
                conn.execute(f"ALTER TABLE {q} RENAME TO {new}")
                for meta in ("gpkg_contents", "gpkg_geometry_columns"):
                    conn.execute(f"UPDATE {meta} SET table_name = ? WHERE table_name = ?", (m[1], table))
            elif kind == "rename_column":
                new = '"' + m[2].replace('"', '""') + '"'
                conn.execute(f'ALTER TABLE {q} RENAME COLUMN "{m[1]}" TO {new}')
            elif kind == "pragma":
                conn.execute(f"PRAGMA {m[1]} = {int(m[2])}")
            elif kind == "srs":
                conn.execute("UPDATE gpkg_geometry_columns SET srs_id = ?", (m[1],))
                conn.execute("UPDATE gpkg_contents SET srs_id = ?", (m[1],))
            elif kind == "srs_definition":
                conn.execute("UPDATE gpkg_spatial_ref_sys SET definition = ? WHERE srs_id = 4490", (m[1],))
            elif kind == "geometry_type":
                conn.execute("UPDATE gpkg_geometry_columns SET geometry_type_name = ?", (m[1],))
            elif kind == "drop":
                conn.execute(f"DROP TABLE {m[1]}")
        except sqlite3.Error:
            pass  # a mutation that SQLite itself will not make (a duplicate name …): the file stays as it was


def _damage(path: Path, d: tuple) -> None:
    data = bytearray(path.read_bytes())
    if d[0] == "truncate":
        data = data[:d[1]]
    elif d[0] == "poke" and d[1] < len(data):
        data[d[1]] = d[2]
    elif d[0] == "page_count" and len(data) >= 32:
        data[28:32] = struct.pack(">I", d[1])
    elif d[0] == "page_size" and len(data) >= 18:
        data[16:18] = struct.pack(">H", d[1] & 0xFFFF)
    path.write_bytes(bytes(data))


def test_damaged_geopackages_are_imported_or_refused_cleanly(reg, tmp_path, sound_gpkg):
    outcomes = []

    @SETTINGS
    @given(changes=st.lists(mutations, min_size=1, max_size=4), damage=st.lists(byte_damage, max_size=1),
           name=st.sampled_from(["helipads.gpkg", "x.gpkg", "noext"]))
    def run(changes, damage, name):
        path = tmp_path / f"{next(_counter)}" / name
        path.parent.mkdir()
        shutil.copyfile(sound_gpkg, path)
        for m in changes:
            _mutate(path, m)
        for d in damage:
            _damage(path, d)
        outcomes.append(attempt(reg, path))

    run()
    check_outcomes(outcomes)


def test_a_version_that_is_not_a_number_refuses_that_feature_not_the_import(reg, tmp_path):
    """Found by the fuzzing above: a "version" of "False" or SQL text raised a bare ValueError."""
    feats = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [103.7 + i / 100, 30.6]},
              "properties": {"name": f"{i}号起降点", "adcode": "519921001", "source": BUREAU, "surface": "concrete",
                             "status": "usable", "version": v}}
             for i, v in enumerate(['x"; DROP TABLE helipads; --', "False", 2.5, 0])]
    path = _write(tmp_path, "helipads.geojson", json.dumps({"type": "FeatureCollection", "features": feats}).encode())
    before = digest(reg.path)
    plan = plan_import(reg, path)
    assert [f.op for f in plan.features] == ["refused"] * 4
    assert all("is not a whole number from 1" in f.reason for f in plan.features)
    assert "DROP TABLE" in plan.features[0].reason and plan.features[0].label.startswith("helipads feature #1")
    assert not apply_import(reg, plan, author="fuzz").applied and digest(reg.path) == before
