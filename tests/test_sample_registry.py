"""The county sample as a registry: conformant, sound, with history for every resource; written into a
GeoPackage file or a PostGIS database (``backend``) by the same command."""

import signal
import subprocess
import sys
import time

import pytest

from rallypoint import RESOURCE_LAYERS, Registry
from rallypoint.check import check_registry
from rallypoint.check.postgis import check_postgis_registry

from conftest import require

pytestmark = pytest.mark.both_backends


@pytest.fixture
def sample(backend, request):
    """The county sample on the test's backend: the session's file, or the session's PostGIS database."""
    return request.getfixturevalue("pg_county_sample" if backend == "postgis" else "county_sample")


def test_the_sample_passes_gdal_validate_gpkg(county_sample):
    """The file format: GDAL's GeoPackage validator (GeoPackage only)."""
    require("osgeo_utils", "GDAL's validate_gpkg")
    proc = subprocess.run([sys.executable, "-m", "osgeo_utils.samples.validate_gpkg", str(county_sample)],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and not proc.stdout.strip() and not proc.stderr.strip(), proc.stdout + proc.stderr


def test_the_sample_passes_rallypoints_own_check(sample, backend):
    if backend == "postgis":
        assert check_postgis_registry(sample) == []
    else:
        assert check_registry(sample, gdal=False) == []


def test_every_sample_resource_has_its_insert_in_the_history(sample, county_counts):
    with Registry.open(sample) as reg:
        for layer in (*RESOURCE_LAYERS, "depot_stock"):
            inserts = [c for c in reg.history(layer) if c.op == "insert"]
            assert len(inserts) == county_counts[layer] == reg.count(layer)
            assert {c.author for c in inserts} == {"rallypoint-sample"}
            assert {c.note for c in inserts} == {"sample data"}
        loads = {c.layer: c.after["rows"] for c in reg.history() if c.op == "load"}
        assert loads == {k: county_counts[k] for k in ("admin_areas", "population", "roads")}


def test_sample_geohazards_carry_the_derived_danger_grade(sample):
    with Registry.open(sample) as reg:
        geo = [f for f in reg.features("hazard_points") if f.properties["hazard_type"] == "landslide"]
        assert geo and all(f.properties["danger_grade"] in ("I", "II", "III", "IV") for f in geo)


def test_the_postgis_sample_is_the_file_sample_feature_for_feature(pg_county_sample, county_sample):
    """Same features, stamps, geometries and history records on both backends (the database stamps its own)."""
    with Registry.open(pg_county_sample) as pg, Registry.open(county_sample, readonly=True) as gp:
        for layer in (*RESOURCE_LAYERS, "depot_stock"):
            mine = {f.uuid: f for f in pg.features(layer)}
            theirs = {f.uuid: f for f in gp.features(layer)}
            assert mine.keys() == theirs.keys(), layer
            for uid, f in theirs.items():
                assert mine[uid].properties == f.properties, (layer, uid)
                assert (f.geometry is None and mine[uid].geometry is None) or \
                    mine[uid].geometry.equals_exact(f.geometry, 0), (layer, uid)
        some = next(gp.features("hazard_points")).uuid
        assert pg.history("hazard_points", some)[0].after == gp.history("hazard_points", some)[0].after
        assert pg.info.name == gp.info.name and pg.info.adcode == gp.info.adcode


def test_a_sample_into_a_database_holding_a_registry_is_refused_unless_forced(pg_registry_url):
    from click.testing import CliRunner

    from rallypoint.cli.main import cli

    res = CliRunner().invoke(cli, ["sample", pg_registry_url])
    assert res.exit_code != 0 and "already holds a registry" in res.output, res.output
    with Registry.open(pg_registry_url) as reg:
        assert reg.count("shelters") == 0 and reg.history() == []


def test_a_sample_killed_at_any_moment_leaves_the_database_as_it_was(pg_registry_url, county_counts):
    """One transaction: killed while it writes over an existing registry, the old one is there, whole."""
    with Registry.open(pg_registry_url) as reg:
        assert reg.count("shelters") == 0
    outcomes = set()
    for delay in (0.8, 1.6, 2.4):
        proc = subprocess.Popen([sys.executable, "-c", "from rallypoint.cli.main import cli; cli()", "sample",
                                 pg_registry_url, "--force"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        with Registry.open(pg_registry_url) as reg:
            n = reg.count("hazard_points")
            assert n in (0, county_counts["hazard_points"]), n  # the old (empty) registry, or the whole sample
            if n:
                assert reg.count("population") == county_counts["population"]
                assert len(reg.history("hazard_points")) == n
            else:
                assert reg.count("population") == 0 and reg.history() == []
        outcomes.add(n)
        if n:
            break
    assert 0 in outcomes  # at least one kill landed before the commit
