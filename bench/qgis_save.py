"""Benchmark: saving QGIS edits through the registry, against QGIS's own OGR commit.

The same edits (attribute changes on N hazard points, plus N new features) are saved twice
in QGIS 3.22, each on a fresh copy of the county sample: once by QGIS's own commit straight
into the GeoPackage (no checks, no stamps, no history: the anchor), once through the plugin's
EditGuard (the edit buffer read, one validated registry batch with expected versions and
history, the layer reloaded). Both run in this process, one after the other; the ratio is
what the registry's guarantees cost at the moment a user presses Save.

    QT_QPA_PLATFORM=offscreen python bench/qgis_save.py --edits 500
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import tempfile
import time
from contextlib import closing
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import Qgis, QgsApplication, QgsFeature, QgsGeometry, QgsProject, QgsVectorLayer  # noqa: E402


def copy(src: Path, dst: Path) -> Path:
    with closing(sqlite3.connect(src)) as a, closing(sqlite3.connect(dst)) as b:
        a.backup(b)
    return dst


def edit(layer: QgsVectorLayer, n: int) -> None:
    idx = layer.fields().indexOf("threatened_people")
    assert layer.startEditing()
    for i, f in enumerate(layer.getFeatures()):
        if i >= n:
            break
        layer.changeAttributeValue(f.id(), idx, 1000 + i)
    template = next(layer.getFeatures())
    for i in range(n):
        new = QgsFeature(layer.fields())
        for name in ("name", "adcode", "source", "hazard_type", "threatened_people", "status"):
            new[name] = template[name]
        new.setGeometry(QgsGeometry.fromWkt(f"POINT ({104.0 + i * 1e-4} 30.6)"))
        layer.addFeature(new)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--edits", type=int, default=500, help="features changed and features added (each)")
    args = ap.parse_args()
    app = QgsApplication([], False)
    app.initQgis()
    from rallypoint.sample import write_sample
    from rallypoint_qgis.loader import load_registry

    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        sample = d / "sample.gpkg"
        write_sample(sample, "county")

        plain = copy(sample, d / "plain.gpkg")
        layer = QgsVectorLayer(f"{plain}|layername=hazard_points", "plain", "ogr")
        edit(layer, args.edits)
        t = time.perf_counter()
        assert layer.commitChanges(), layer.commitErrors()
        t_qgis = time.perf_counter() - t
        del layer

        guarded = copy(sample, d / "guarded.gpkg")
        project = QgsProject()
        reg = load_registry(str(guarded), project=project, author=lambda: "bench")
        layer = reg.layers["hazard_points"]
        edit(layer, args.edits)
        t = time.perf_counter()
        assert layer.commitChanges()
        t_rp = time.perf_counter() - t
        guard = reg.guards["hazard_points"]
        assert guard.last_error is None, guard.last_error
        assert len(guard.last_result.added["hazard_points"]) == args.edits and guard.last_result.updated == args.edits
        reg.unload(project)

    print(f"{args.edits} changed + {args.edits} added hazard points, county sample, QGIS {Qgis.QGIS_VERSION}")
    print(f"  QGIS OGR commit (anchor)        {t_qgis * 1000:8.0f} ms")
    print(f"  through the registry (plugin)   {t_rp * 1000:8.0f} ms   ratio {t_rp / t_qgis:5.1f}x")
    app.exitQgis()


if __name__ == "__main__":
    main()
