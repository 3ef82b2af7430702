"""QGIS 3.22's vector tile provider reads the server's tiles: a real server (``rallypoint serve``) and real QGIS,
headless, in a subprocess with Debian's interpreter (tests/qgis_scripts/read_vector_tiles.py).

What QGIS decodes in each tile is compared with the same tile decoded by ``mapbox-vector-tile`` and, for the
point layers (whole at this zoom), with the registry's own features inside the tile. QGIS also reads the web
map's MapLibre style (``/map/style.json``) through ``styleUrl``.
In CI (CI=true) a missing QGIS fails this test instead of skipping it. It runs against a served
GeoPackage and a served PostGIS copy of the sample (``web_backend``: tiles by ST_AsMVT).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import urllib.request
from pathlib import Path

import mapbox_vector_tile
import pytest
from conftest import county_copy, require
from web_support import Server

from rallypoint import Registry
from rallypoint.storage.gpkg import tiles as mvt

SCRIPT = Path(__file__).parent / "qgis_scripts" / "read_vector_tiles.py"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, with python3-qgis
ZOOM = 13  # past mvt.FULL_DETAIL_ZOOM: no point is thinned
POINTS = ("shelters", "depots", "teams", "hazard_points", "helipads", "population")


@pytest.fixture(scope="module")
def served(request, web_backend, tmp_path_factory):
    path = county_copy(request, web_backend, "web_tiles_qgis")
    with Registry.open(path) as reg:
        names = [name for name, lay in reg.layers.items() if lay.has_geometry]
        shelter = next(reg.features("shelters")).geometry
        frames = {name: reg.read_frame(name, columns=[]) for name in POINTS}
    server = Server(path, workers=2, log_dir=tmp_path_factory.mktemp("web_tiles_qgis_log"))
    try:
        yield {"url": server.url, "names": names, "shelter": shelter, "frames": frames}
    finally:
        server.stop()


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def server_tile(url: str, z: int, y: int, x: int) -> dict[str, int]:
    with urllib.request.urlopen(f"{url}/tiles/WebMercatorQuad/{z}/{y}/{x}", timeout=30) as r:
        body = r.read()
    return {name: len(layer["features"]) for name, layer in (mapbox_vector_tile.decode(body) if body else {}).items()}


def in_tile(frame, z: int, x: int, y: int) -> int:
    """The registry's points inside the tile's box in longitude/latitude (a point exactly on an edge: unlikely)."""
    west, south, east, north = mvt.lonlat_bounds(mvt.tile_bounds(z, x, y))
    xs, ys = frame.geometry.x, frame.geometry.y
    return int(((xs >= west) & (xs <= east) & (ys >= south) & (ys <= north)).sum())


def test_qgis_vector_tile_layer_decodes_what_the_server_encoded(served, tmp_path):
    require("qgis", "Debian's python3-qgis, QGIS 3.22")
    x, y = tile_of(served["shelter"].x, served["shelter"].y, ZOOM)
    minx, miny, maxx, maxy = mvt.tile_bounds(ZOOM, x, y)
    box = f"{minx},{miny},{maxx},{maxy}"
    ARTIFACTS.mkdir(exist_ok=True)
    picture = ARTIFACTS / "qgis-vector-tiles.png"
    runtime = tmp_path / "xdg"
    runtime.mkdir(mode=0o700)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_RUNTIME_DIR=str(runtime))
    proc = subprocess.run([SYSTEM_PYTHON, str(SCRIPT), served["url"], box, ",".join(served["names"]), str(picture)],
                          capture_output=True, text=True, env=env, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["qgis_version"].startswith("3.22")
    assert report["valid"] and report["crs"] == "EPSG:3857" and (report["zmin"], report["zmax"]) == (0, 18)
    assert report["errors"] == [], report["messages"]
    tiles = report["tiles"]
    assert f"{ZOOM}/{y}/{x}" in tiles, tiles.keys()  # the tile of the box, at its zoom
    for key, decoded in tiles.items():
        z, row, col = (int(v) for v in key.split("/"))
        assert z == ZOOM
        assert decoded == server_tile(served["url"], z, row, col), key
        for name in POINTS:
            frame = served["frames"][name]
            assert decoded.get(name, 0) == in_tile(frame, z, col, row), (key, name)
    total = {}
    for decoded in tiles.values():
        for name, n in decoded.items():
            total[name] = total.get(name, 0) + n
    assert {"shelters", "roads", "admin_areas", "hazard_points"} <= {k for k, v in total.items() if v > 0}, total
    assert report["default_renderer"] == "basic" and report["drawn_pixels"] > 1000  # QGIS drew them, too
    # QGIS 3.22 converts the web map's style: a style per registry layer, with the QGIS styles' colours
    # (its converter reads a categorized colour of lines, not of circles: those keep the default colour)
    assert report["style_loaded"], report["messages"]
    styles = report["styles"]
    assert {s["layer"] for name, s in styles.items() if name != "background"} == set(served["names"])
    # shelters, depots, teams and helipads are the map's sprite icons (drawn from their QML symbols): QGIS makes
    # each a raster marker of the sprite's image
    for name in ("shelters", "depots", "teams", "helipads"):
        assert styles[name]["symbol_layer"] == "RasterMarker", (name, styles[name])
    assert styles["hazard_points"]["symbol_layer"] == "SimpleMarker"  # circles, as in hazard_points.qml
    roads = styles["roads"]["color_expression"]  # categorized on road_class as in roads.qml
    assert "\"road_class\" IN ('motorway') THEN '#d9480f'" in roads and "IN ('primary') THEN '#f76707'" in roads
