"""A corpus of malformed and hostile import files, written on demand (no binary blobs in git).

    python tests/hostile_corpus.py OUT_DIR     # writes every case and lists them

Each :class:`Case` is a file and what the importer must answer: the named error (or ``refused``:
the import goes ahead feature by feature and refuses the damaged ones) and words its message must
hold, so that it says what was wrong and where.
"""

from __future__ import annotations

import gzip
import json
import shutil
import sqlite3
import struct
import sys
import zipfile
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

BUREAU = "示例县应急管理局"
SQL_NAME = 'x"; DROP TABLE gpkg_contents; --'


@dataclass(frozen=True)
class Case:
    name: str
    path: Path
    error: str  # NotAGeoPackage, SourceError, ImportRefused, or "refused" (features refused, nothing written)
    words: tuple[str, ...]  # what the message (or each refused feature's reason) must say


def sound_gpkg(path: Path, n: int = 3) -> Path:
    """A sound foreign GeoPackage of ``n`` helipads (written by GDAL; it is not a registry)."""
    import geopandas as gpd
    import pyogrio
    from shapely.geometry import Point

    rows = [{"code": f"HP-{i}", "name": f"{i}号起降点", "adcode": "519921001", "source": BUREAU,
             "surface": "concrete", "pad_length_m": 30.0 + i, "pad_width_m": 30.0, "status": "usable"}
            for i in range(n)]
    gdf = gpd.GeoDataFrame(rows, geometry=[Point(103.7 + i / 100, 30.6) for i in range(n)], crs="EPSG:4490")
    pyogrio.write_dataframe(gdf, path, layer="helipads", driver="GPKG")
    return path


def _sql(path: Path, *statements: str | tuple) -> None:
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        for (trigger,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
            conn.execute(f'DROP TRIGGER "{trigger}"')  # GDAL's R-tree triggers need ST_* functions
        for s in statements:
            conn.execute(*(s if isinstance(s, tuple) else (s,)))


def _blob(flags: int, wkb: bytes, envelope: bytes = b"", srs: int = 4490, magic: bytes = b"GP") -> bytes:
    return magic + bytes([0, flags]) + struct.pack("<i", srs) + envelope + wkb


POINT = struct.pack("<BIdd", 1, 1, 103.7, 30.6)


def write_corpus(folder: Path) -> list[Case]:
    folder.mkdir(parents=True, exist_ok=True)
    sound = sound_gpkg(folder / "_sound.gpkg")
    size = sound.stat().st_size
    cases: list[Case] = []

    def copy(name: str) -> Path:
        p = folder / name
        shutil.copyfile(sound, p)
        return p

    def add(name: str, path: Path, error: str, *words: str) -> None:
        cases.append(Case(name, path, error, words))

    # -- the file as a whole
    p = folder / "empty.gpkg"
    p.write_bytes(b"")
    add("empty file", p, "NotAGeoPackage", "empty.gpkg", "empty")
    for n, cut in (("header only", 100), ("first page", 1024), ("half", size // 2), ("all but a byte", size - 1)):
        p = folder / f"truncated_{cut}.gpkg"
        p.write_bytes(sound.read_bytes()[:cut])
        add(f"truncated GeoPackage ({n})", p, "NotAGeoPackage", p.name)
    p = folder / "sqlite2.gpkg"
    p.write_bytes(b"** This file contains an SQLite 2.1 database **" + sound.read_bytes()[48:])
    add("wrong magic (SQLite 2)", p, "NotAGeoPackage", p.name, "not an SQLite database")
    p = folder / "png.gpkg"
    p.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 200)
    add("a PNG named .gpkg", p, "NotAGeoPackage", p.name, "not an SQLite database")
    p = copy("app_id.gpkg")
    _sql(p, "PRAGMA application_id = 1397049412")  # 'SQLD'
    add("wrong application_id", p, "NotAGeoPackage", p.name, "application_id")
    p = copy("no_contents.gpkg")
    _sql(p, "DROP TABLE gpkg_contents")
    add("no gpkg_contents", p, "NotAGeoPackage", p.name, "gpkg_contents")
    for n, at, value in (("page count", 28, struct.pack(">I", 0x7FFFFFFF)), ("page size", 16, struct.pack(">H", 3000))):
        p = copy(f"huge_{n.replace(' ', '_')}.gpkg")
        data = bytearray(p.read_bytes())
        data[at:at + len(value)] = value
        p.write_bytes(bytes(data))
        add(f"header declares a huge or bad {n}", p, "NotAGeoPackage", p.name)
    p = folder / "lines.gpkg"  # a text file with the .gpkg suffix
    p.write_text("name,lon,lat\n", encoding="utf-8")
    add("CSV text named .gpkg", p, "NotAGeoPackage", p.name, "not an SQLite database")

    # -- geometry blobs: each damages feature 2; the import refuses it by name and writes nothing
    blobs = {
        "wrong GP magic": (_blob(1, POINT, magic=b"PG"), "fid 2"),
        "bare WKB": (POINT, "bare WKB"),
        "envelope code 6": (_blob(0b1101, POINT), "envelope"),
        "envelope longer than the blob": (_blob(0b0011, POINT[:5]), "fid 2"),
        "srs of the blob differs": (_blob(1, POINT, srs=4326), "srs_id 4326"),
        "WKB truncated": (_blob(1, POINT[:13]), "fid 2"),
        "WKB declares 268 million points": (_blob(1, struct.pack("<BII", 1, 2, 0x0FFFFFFF)), "fid 2"),
        "WKB declares 4 billion rings": (_blob(1, struct.pack("<BII", 1, 3, 0xFFFFFFFF)), "fid 2"),
        "WKB of an unknown type": (_blob(1, struct.pack("<BIdd", 1, 99, 1.0, 2.0)), "fid 2"),
        "NaN coordinates": (_blob(1, struct.pack("<BIdd", 1, 1, float("nan"), 30.6)), "fid 2"),
        "coordinates of 1e308": (_blob(1, struct.pack("<BIdd", 1, 1, 1e308, -1e308)), "fid 2"),
        "text in the geometry column": ("POINT (103.7 30.6)", "str"),
    }
    for n, (blob, word) in blobs.items():
        p = copy("blob_" + "".join(c if c.isalnum() else "_" for c in n) + ".gpkg")
        _sql(p, ("UPDATE helipads SET geom = ? WHERE fid = 2", (blob,)))
        add(f"geometry blob: {n}", p, "refused", word)

    # -- values of the wrong type where the layer's fields want numbers or codes
    p = copy("wrong_types.gpkg")
    _sql(p, ("UPDATE helipads SET pad_length_m = ?, status = ? WHERE fid = 2", (b"\x00\xff", "DROP TABLE x")))
    add("a blob where a number belongs, SQL where a code belongs", p, "refused", "fid 2")

    # -- SQL and path traversal in layer and field names
    p = copy("sql_table.gpkg")
    q = '"' + SQL_NAME.replace('"', '""') + '"'
    _sql(p, f"ALTER TABLE helipads RENAME TO {q}",
         ("UPDATE gpkg_contents SET table_name = ?", (SQL_NAME,)),
         ("UPDATE gpkg_geometry_columns SET table_name = ?", (SQL_NAME,)))
    add("SQL in a layer name", p, "ImportRefused", "nothing to import", SQL_NAME)
    p = copy("traversal_table.gpkg")
    _sql(p, 'ALTER TABLE helipads RENAME TO "../../etc/passwd"',
         ("UPDATE gpkg_contents SET table_name = ?", ("../../etc/passwd",)),
         ("UPDATE gpkg_geometry_columns SET table_name = ?", ("../../etc/passwd",)))
    add("path traversal in a layer name", p, "ImportRefused", "nothing to import", "../../etc/passwd")
    p = copy("sql_field.gpkg")
    _sql(p, 'ALTER TABLE helipads RENAME COLUMN name TO "name""; DROP TABLE helipads; --"')
    add("SQL in a field name (the name field is then missing)", p, "refused", "name")
    p = copy("contents_points_nowhere.gpkg")
    _sql(p, ("UPDATE gpkg_contents SET table_name = ?", ("no_such_table",)))
    add("gpkg_contents names a table that is not there", p, "ImportRefused", "nothing to import")
    p = copy("bad_srs.gpkg")
    _sql(p, "UPDATE gpkg_spatial_ref_sys SET definition = 'DROP TABLE x', organization = 'x', "
            "organization_coordsys_id = 999999 WHERE srs_id = 4490")
    add("a CRS that is neither a known code nor a definition", p, "refused", "CRS")

    # -- other formats
    p = folder / "helipads.geojson"
    p.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "x"}, '
                 '"geometry": {"type": "Point", "coordinates": [1', encoding="utf-8")
    add("truncated GeoJSON", p, "SourceError", p.name, "GeoJSON")
    p = folder / "inf" / "helipads.geojson"
    p.parent.mkdir(exist_ok=True)
    p.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "x"}, "geometry": {"type": "Point", "coordinates": [1e999, 30]}}]}),
        encoding="utf-8")
    add("GeoJSON with an infinite coordinate", p, "refused", "feature #1")
    p = folder / "bomb.zip"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("../../etc/passwd.geojson", b"\x00" * 50_000_000)  # 50 MB of zeros in ~50 KB
    add("a zip bomb with a path-traversal member", p, "SourceError", "bomb.zip", "unknown format")
    p = folder / "bomb.geojson.gz"
    p.write_bytes(gzip.compress(b" " * 50_000_000))
    add("a gzip bomb", p, "SourceError", "unknown format")
    p = folder / "passwd.csv"
    p.write_bytes("name,lon,lat\n".encode("utf-8") + "名".encode("gb18030") + b",\xff\xfe,30\n")
    add("CSV in mixed encodings", p, "SourceError", "passwd.csv", "not UTF-8")
    return cases


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    for case in write_corpus(Path(argv[1])):
        print(f"{case.path.name:48} {case.error:16} {case.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
