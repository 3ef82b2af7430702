"""The county sample as a registry: conformant, sound, with history for every resource."""

import subprocess
import sys

from rallypoint import RESOURCE_LAYERS, Registry
from rallypoint.check import check_registry

from conftest import require


def test_the_sample_passes_gdal_validate_gpkg(county_sample):
    require("osgeo_utils", "GDAL's validate_gpkg")
    proc = subprocess.run([sys.executable, "-m", "osgeo_utils.samples.validate_gpkg", str(county_sample)],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and not proc.stdout.strip() and not proc.stderr.strip(), proc.stdout + proc.stderr


def test_the_sample_passes_rallypoints_own_check(county_sample):
    assert check_registry(county_sample, gdal=False) == []


def test_every_sample_resource_has_its_insert_in_the_history(county_sample, county_counts):
    with Registry.open(county_sample) as reg:
        for layer in (*RESOURCE_LAYERS, "depot_stock"):
            inserts = [c for c in reg.history(layer) if c.op == "insert"]
            assert len(inserts) == county_counts[layer] == reg.count(layer)
            assert {c.author for c in inserts} == {"rallypoint-sample"}
        loads = {c.layer: c.after["rows"] for c in reg.history() if c.op == "load"}
        assert loads == {k: county_counts[k] for k in ("admin_areas", "population", "roads")}


def test_sample_geohazards_carry_the_derived_danger_grade(county_sample):
    with Registry.open(county_sample) as reg:
        geo = [f for f in reg.features("hazard_points") if f.properties["hazard_type"] == "landslide"]
        assert geo and all(f.properties["danger_grade"] in ("I", "II", "III", "IV") for f in geo)
