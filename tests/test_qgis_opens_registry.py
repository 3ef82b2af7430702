"""The sample registry opens in real QGIS 3.22: every layer valid, aliases shown, default style applied."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rallypoint import builtin_layers

from conftest import require

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
SCRIPT = Path(__file__).parent / "qgis_scripts" / "open_registry.py"
EXPECTED_RENDERER = {
    "shelters": "categorizedSymbol", "depots": "singleSymbol", "teams": "categorizedSymbol",
    "hazard_points": "categorizedSymbol", "helipads": "singleSymbol", "admin_areas": "singleSymbol",
    "population": "graduatedSymbol", "roads": "categorizedSymbol",
}


@pytest.fixture(scope="module")
def qgis_report(county_sample, tmp_path_factory):
    require("qgis", "Debian's python3-qgis, QGIS 3.22")
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "qgis_county_sample.png"
    runtime = tmp_path_factory.mktemp("xdg-runtime")
    runtime.chmod(0o700)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_RUNTIME_DIR=str(runtime))
    proc = subprocess.run([sys.executable, str(SCRIPT), str(county_sample), str(shot)], capture_output=True,
                          text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_it_is_qgis_3_22(qgis_report):
    assert qgis_report["qgis_version"].startswith("3.22")


def test_every_layer_is_valid_with_its_features_in_cgcs2000(qgis_report, county_counts):
    layers = qgis_report["layers"]
    for name in builtin_layers():
        assert layers[name]["valid"], name
        assert layers[name]["count"] == county_counts[name], name
        if builtin_layers()[name].has_geometry:
            assert layers[name]["crs"] == "EPSG:4490"


def test_aliases_from_the_definitions_are_shown(qgis_report):
    for name, layer in builtin_layers().items():
        aliases = qgis_report["layers"][name]["aliases"]
        for f in layer.fields:
            expected = f.alias_zh + (f" ({f.unit})" if f.unit else "")
            assert aliases[f.name] == expected, (name, f.name)


def test_the_default_style_is_applied_with_forms_from_the_definitions(qgis_report):
    for name, renderer in EXPECTED_RENDERER.items():
        assert qgis_report["layers"][name]["renderer"] == renderer, name
    shelters = qgis_report["layers"]["shelters"]
    assert shelters["widgets"]["status"] == "ValueMap"
    assert shelters["widgets"]["generator"] == "CheckBox"
    assert "name" in shelters["notnull"] and "shelter_type" in shelters["notnull"]
    assert "capacity_day" not in shelters["notnull"]  # an unknown capacity is left empty, never 0
    assert "uuid" in shelters["readonly"] and "version" in shelters["readonly"]
    assert "name" not in shelters["readonly"]


def test_qgis_complains_about_nothing(qgis_report):
    bad = [m for m in qgis_report["messages"] if "partially supported" in m or "error" in m.lower()]
    assert bad == []


def test_a_screenshot_of_the_styled_registry_is_kept(qgis_report):
    shot = Path(qgis_report["screenshot"])
    assert shot.stat().st_size > 20_000  # a blank 1200×1000 PNG is a few kB
