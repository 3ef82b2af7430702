"""Every analysis a plugin registers runs in QGIS Processing (processing.run) on the county sample."""

from __future__ import annotations

import pytest

from conftest import require

require("qgis", "Debian's python3-qgis, QGIS 3.22")

from qgis.core import (  # noqa: E402
    QgsApplication,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProject,
    QgsVectorLayer,
)

from rallypoint.analysis import analyses  # noqa: E402
from rallypoint.plugins import default_plugin_manager  # noqa: E402
from rallypoint_qgis.processing_provider import RallypointProvider, output_layer_names  # noqa: E402

pytestmark = pytest.mark.qgis
ANALYSES = sorted(analyses(default_plugin_manager()))


@pytest.fixture(scope="module")
def provider(qgis_app, qgis_processing):
    prov = RallypointProvider()
    assert QgsApplication.processingRegistry().addProvider(prov)
    yield prov
    QgsApplication.processingRegistry().removeProvider(prov)


def test_every_analysis_from_the_hooks_is_an_algorithm(provider):
    assert ANALYSES  # capacity and coverage at least
    assert sorted(a.name() for a in provider.algorithms()) == ANALYSES


def test_parameters_are_mapped_by_type(provider):
    alg = QgsApplication.processingRegistry().algorithmById("rallypoint:capacity")
    defs = {p.name(): p for p in alg.parameterDefinitions()}
    assert defs["share"].type() == "number" and defs["share"].defaultValue() == 0.15
    assert defs["method"].type() == "enum" and "share" in defs["method"].options()
    assert defs["standard"].type() == "enum" and "gb51143" in defs["standard"].options()
    assert "sphere" in defs["standard"].options() and "inasafe" not in defs["standard"].options()
    assert defs["REGISTRY"].type() == "file" and defs["OUTPUT"].type() == "fileDestination"
    cov = {p.name(): p for p in QgsApplication.processingRegistry().algorithmById(
        "rallypoint:coverage").parameterDefinitions()}
    assert cov["minutes"].type() == "string" and cov["minutes"].defaultValue() == "10,30,60"
    assert cov["candidates"].dataType() == cov["candidates"].Integer


def _inputs(name: str, county_sample) -> dict:
    """What an analysis cannot run without: the response sheet needs an incident (here a flood-prone point)."""
    if name != "response":
        return {}
    from rallypoint import Registry

    with Registry.open(county_sample, readonly=True) as reg:
        hp = reg.read_frame("hazard_points", columns=["uuid", "hazard_type"])
    return {"hazard_uuid": hp.loc[hp["hazard_type"] == "flood_point", "uuid"].iloc[0]}


@pytest.mark.parametrize("name", ANALYSES)
def test_each_analysis_runs_through_processing_and_its_layers_load(provider, name, county_sample, tmp_path):
    import processing

    out = tmp_path / f"{name}.gpkg"
    report = tmp_path / f"{name}.html"
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    result = processing.run(f"rallypoint:{name}", {"REGISTRY": str(county_sample), "OUTPUT": str(out),
                                                   "REPORT": str(report), **_inputs(name, county_sample)},
                            context=context, feedback=QgsProcessingFeedback())
    assert result["OUTPUT"] == str(out)
    assert result["SUMMARY"]
    assert report.stat().st_size > 1000
    written = output_layer_names(out)
    expected = {o.name for o in analyses(default_plugin_manager())[name].outputs}
    assert set(written) <= expected and written
    to_load = context.layersToLoadOnCompletion()
    assert sorted(to_load) == sorted(f"{out}|layername={n}" for n in written)
    for uri in to_load:
        lyr = QgsVectorLayer(uri, "r", "ogr")
        assert lyr.isValid() and lyr.featureCount() > 0, uri
        assert not lyr.isSpatial() or lyr.crs().authid() == "EPSG:4490", uri


def test_results_are_written_with_qgis_own_gdal_only(provider, county_sample, tmp_path):
    """pyogrio's wheel bundles a second GDAL and SQLite: QGIS's process must not load it (the registry is open)."""
    import subprocess
    import sys

    code = ("import os, sys, json; os.environ['QT_QPA_PLATFORM'] = 'offscreen'\n"
            "from qgis.core import QgsApplication; app = QgsApplication([], False); app.initQgis()\n"
            "from rallypoint import Registry; from rallypoint.analysis import run_analysis\n"
            "from rallypoint.plugins import default_plugin_manager\n"
            "from rallypoint_qgis.processing_provider import write_result_with_qgis\n"
            "reg = Registry.open(sys.argv[1], readonly=True)\n"
            "res = run_analysis(reg, default_plugin_manager(), 'capacity', {})\n"
            "names = write_result_with_qgis(res, sys.argv[2], None, 'zh')\n"
            "print(json.dumps({'names': names, 'rows': {n: len(f) for n, f in {**res.layers, **res.tables}.items()},"
            " 'bundled': sorted({m.split('.')[0] for m in sys.modules} & {'fiona', 'pyogrio'})}))\n")
    out = tmp_path / "capacity.gpkg"
    proc = subprocess.run([sys.executable, "-c", code, str(county_sample), str(out)], capture_output=True, text=True,
                          timeout=300, env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = __import__("json").loads(proc.stdout.strip().splitlines()[-1])
    assert report["bundled"] == []
    for name in report["names"]:
        assert QgsVectorLayer(f"{out}|layername={name}", name, "ogr").featureCount() == report["rows"][name], name


def test_a_bad_parameter_is_a_processing_error_naming_it(provider, county_sample, tmp_path):
    import processing

    with pytest.raises(QgsProcessingException, match="minutes"):
        processing.run("rallypoint:coverage", {"REGISTRY": str(county_sample), "minutes": "ten",
                                               "OUTPUT": str(tmp_path / "x.gpkg")})
    assert not (tmp_path / "x.gpkg").exists()
