"""rallypoint export from a PostGIS registry to a GeoPackage, and rallypoint import into one, through the CLI."""

import shutil
import sqlite3
from contextlib import closing

import pytest
from click.testing import CliRunner

from rallypoint import Registry
from rallypoint.check import gdal_validator
from rallypoint.cli.main import cli
from rallypoint.exchange.export import export_registry
from rallypoint.storage.gpkg.blobs import register_functions

RESOURCE = ("shelters", "depots", "depot_stock", "teams", "hazard_points", "helipads")


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], env={"COLUMNS": "250", "RALLYPOINT_AUTHOR": "importer"})


@pytest.fixture(scope="module")
def county_export(county_sample, tmp_path_factory):
    out = tmp_path_factory.mktemp("pgexport") / "county-export.gpkg"
    export_registry(county_sample, out, author="tester", include_personal=True)
    return out


@pytest.fixture
def filled(pg_registry_url, county_export):
    """A PostGIS registry holding the county sample's resources, imported by the CLI."""
    res = run("import", pg_registry_url, county_export)
    assert res.exit_code == 0, res.output
    return pg_registry_url


def test_import_into_postgis_writes_every_feature_as_in_the_file(filled, county_export, county_sample, county_counts):
    with Registry.open(filled) as pg, Registry.open(county_sample, readonly=True) as gp:
        for layer in RESOURCE:
            assert pg.count(layer, include_retired=True) == county_counts[layer], layer
        for f in gp.features("shelters", limit=20):
            mine = pg.get("shelters", f.uuid)
            editable = [d.name for d in gp.layer("shelters").editable_fields]
            assert {k: mine.properties[k] for k in editable} == {k: f.properties[k] for k in editable}
            assert mine.geometry.equals_exact(f.geometry, 1e-12)
            assert mine.properties["created_by"] == "importer"
        assert {c.op for c in pg.history()} == {"insert"} and {c.author for c in pg.history()} == {"importer"}
    again = run("import", filled, county_export)
    assert again.exit_code == 0 and f"{sum(county_counts[n] for n in RESOURCE)} unchanged." in again.output, \
        again.output
    with Registry.open(filled) as pg:
        assert {c.op for c in pg.history()} == {"insert"}  # the same file again changes nothing


def test_a_bad_file_is_refused_and_nothing_is_written_to_postgis(pg_registry_url, county_export, tmp_path):
    bad = tmp_path / "bad.gpkg"
    shutil.copyfile(county_export, bad)
    with closing(sqlite3.connect(bad)) as c:
        register_functions(c)  # GDAL's R-tree triggers call ST_IsEmpty & co.
        uuid = c.execute("SELECT uuid FROM shelters ORDER BY fid LIMIT 1 OFFSET 3").fetchone()[0]
        c.execute("UPDATE shelters SET capacity_day = -5 WHERE uuid = ?", (uuid,))
        c.commit()
    res = run("import", pg_registry_url, bad)
    assert res.exit_code == 1 and uuid in res.output and "capacity_day" in res.output, res.output
    with Registry.open(pg_registry_url) as pg:
        assert pg.count("shelters", include_retired=True) == 0 and pg.history() == []


def test_export_from_postgis_is_a_valid_geopackage_of_the_registry(filled, tmp_path):
    with Registry.open(filled, clock=lambda: __import__("datetime").datetime(2026, 6, 1, 8)) as pg:
        some = next(pg.features("shelters"))
        pg.update("shelters", some.uuid, {"status": "open"}, author="zhang")
        gone = next(pg.features("teams"))
        pg.retire("teams", gone.uuid, author="zhang")
        expected = {layer: {f.uuid: f for f in pg.features(layer, include_retired=True)} for layer in RESOURCE}
    out = tmp_path / "from-postgis.gpkg"
    res = run("export", filled, out, "--include-personal", "--with-history")
    assert res.exit_code == 0, res.output  # the export's own checks (GDAL's validate_gpkg and ours) passed
    assert gdal_validator(out) == []
    with Registry.open(out, readonly=True) as exported:
        assert exported.info.name == "示例县应急资源"
        for layer in RESOURCE:
            got = {f.uuid: f for f in exported.features(layer, include_retired=True)}
            assert got.keys() == expected[layer].keys(), layer
            for uid, f in got.items():
                assert f.properties == expected[layer][uid].properties, (layer, uid)
                g = expected[layer][uid].geometry
                assert (f.geometry is None and g is None) or f.geometry.equals_exact(g, 0), (layer, uid)
        assert exported.count("shelters", bbox=(103, 29, 106, 32)) == len(expected["shelters"])
        changes = exported.history("shelters", some.uuid)
        assert [(c.op, c.author) for c in changes] == [("insert", "importer"), ("update", "zhang")]
        assert exported.get("teams", gone.uuid).retired
    with Registry.open(filled) as pg:
        pg.update("shelters", some.uuid, {"capacity_day": 4321}, author="li")
    res = run("diff", out, filled)
    assert res.exit_code == 0 and f"~ update   shelters {some.uuid}" in res.output and "4321" in res.output, res.output
    assert "1 update" in res.output, res.output
    plain = tmp_path / "no-personal.gpkg"
    assert run("export", filled, plain).exit_code == 0
    with closing(sqlite3.connect(plain)) as c:
        cols = {r[1] for r in c.execute("PRAGMA table_info(shelters)")}
    assert "manager_phone" not in cols and "name" in cols
