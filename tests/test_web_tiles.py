"""OGC API – Tiles (vector tiles on WebMercatorQuad) and TileJSON, through Flask's test client on a copy of the county sample.

Every test runs on a GeoPackage (tiles by :mod:`rallypoint.storage.gpkg.tiles`) and on a PostGIS copy of the
sample (``ST_AsMVT``: :mod:`rallypoint.storage.postgis.tiles`), by the same rules."""

from __future__ import annotations

import gzip
import json
import math

import mapbox_vector_tile
import numpy as np
import pytest
from conftest import county_copy, shelter
from web_support import auth, make_key

from rallypoint import Registry, builtin_layers
from rallypoint.storage.gpkg import tiles as mvt
from rallypoint.web import create_app

T1 = "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/"
MVT = "application/vnd.mapbox-vector-tile"
POINT_LAYERS = ("shelters", "hazard_points", "population", "teams")


@pytest.fixture(scope="module")
def site(request, web_backend):
    path = county_copy(request, web_backend, "web_tiles")
    editor = make_key(path, "zhang.wei", "editor")
    reader = make_key(path, "li.na", "reader")
    app = create_app(path, {"TESTING": True})
    return {"client": app.test_client(), "path": path, "editor": editor, "reader": reader}


@pytest.fixture(scope="module")
def client(site):
    return site["client"]


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 1 << z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, x, y


def tile_url(layer: str | None, z: int, x: int, y: int) -> str:
    base = f"/collections/{layer}/tiles" if layer else "/tiles"
    return f"{base}/WebMercatorQuad/{z}/{y}/{x}"  # row before column


def decode(body: bytes) -> dict:
    return mapbox_vector_tile.decode(body) if body else {}


def first_point(path, layer: str) -> tuple[float, float]:
    with Registry.open(path) as reg:
        geom = next(reg.features(layer)).geometry
    geom = geom.representative_point() if geom.geom_type != "Point" else geom
    return geom.x, geom.y


# -- the documents ---------------------------------------------------------------------------------

def test_conformance_declares_the_tiles_classes(client):
    classes = set(client.get("/conformance").get_json()["conformsTo"])
    for c in ("core", "tileset", "tilesets-list", "geodata-tilesets", "dataset-tilesets", "mvt", "oas30"):
        assert T1 + c in classes


def test_tile_matrix_set_is_the_standard_web_mercator_quad(client):
    listed = client.get("/tileMatrixSets").get_json()["tileMatrixSets"]
    assert [t["id"] for t in listed] == ["WebMercatorQuad"]
    tms = client.get("/tileMatrixSets/WebMercatorQuad").get_json()
    assert tms["uri"] == "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
    assert tms["crs"] == "http://www.opengis.net/def/crs/EPSG/0/3857"
    m0, m24 = tms["tileMatrices"][0], tms["tileMatrices"][-1]
    assert (m0["id"], m0["matrixWidth"], m0["tileWidth"], m0["cornerOfOrigin"]) == ("0", 1, 256, "topLeft")
    assert m0["scaleDenominator"] == pytest.approx(559082264.0287178)
    assert m24["id"] == "24" and m24["matrixHeight"] == 1 << 24
    assert client.get("/tileMatrixSets/WorldCRS84Quad").status_code == 404


def test_tileset_list_and_metadata_with_a_row_before_column_template(client):
    doc = client.get("/collections/shelters/tiles").get_json()
    (ts,) = doc["tilesets"]
    assert ts["dataType"] == "vector" and ts["tileMatrixSetURI"].endswith("/WebMercatorQuad")
    meta = client.get("/collections/shelters/tiles/WebMercatorQuad").get_json()
    item = next(link for link in meta["links"] if link["rel"] == "item")
    assert item["type"] == MVT and item["templated"] is True
    assert item["href"].endswith("/collections/shelters/tiles/WebMercatorQuad/{tileMatrix}/{tileRow}/{tileCol}")
    assert any(link["rel"] == "http://www.opengis.net/def/rel/ogc/1.0/tiling-scheme" for link in meta["links"])
    (lay,) = meta["layers"]
    assert lay["id"] == "shelters" and lay["geometryDimension"] == 0
    assert "manager_phone" not in lay["propertiesSchema"]["properties"]
    dataset = client.get("/tiles/WebMercatorQuad").get_json()
    assert {"shelters", "roads", "admin_areas"} <= {x["id"] for x in dataset["layers"]}
    assert "depot_stock" not in {x["id"] for x in dataset["layers"]}
    links = client.get("/collections/shelters").get_json()["links"]
    assert any(link["href"].endswith("/collections/shelters/tiles") for link in links)


def test_tilejson_names_z_x_y_and_the_layers(client, site):
    doc = client.get("/collections/shelters/tiles/WebMercatorQuad/tilejson.json").get_json()
    assert doc["tilejson"] == "3.0.0"
    (url,) = doc["tiles"]
    assert url.endswith("/collections/shelters/tiles/WebMercatorQuad/{z}/{y}/{x}")
    assert [v["id"] for v in doc["vector_layers"]] == ["shelters"]
    assert "manager_name" not in doc["vector_layers"][0]["fields"]
    assert "manager_name" in client.get("/collections/shelters/tiles/WebMercatorQuad/tilejson.json",
                                        headers=auth(site["reader"])).get_json()["vector_layers"][0]["fields"]
    minx, miny, maxx, maxy = doc["bounds"]
    assert 103 < minx < maxx < 104 and 30 < miny < maxy < 31
    every = client.get("/tiles/WebMercatorQuad/tilejson.json").get_json()
    assert every["tiles"][0].endswith("/tiles/WebMercatorQuad/{z}/{y}/{x}")
    assert {"roads", "population", "admin_areas"} <= {v["id"] for v in every["vector_layers"]}


def test_openapi_lists_the_tile_paths(client):
    paths = client.get("/api").get_json()["paths"]
    tile = paths["/collections/{collectionId}/tiles/{tileMatrixSetId}/{tileMatrix}/{tileRow}/{tileCol}"]
    assert MVT in tile["get"]["responses"]["200"]["content"]
    for p in ("/tileMatrixSets", "/tileMatrixSets/{tileMatrixSetId}", "/tiles/{tileMatrixSetId}/tilejson.json",
              "/collections/{collectionId}/tiles", "/collections/{collectionId}/tiles/{tileMatrixSetId}"):
        assert p in paths


# -- tiles -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("layer", POINT_LAYERS)
def test_a_high_zoom_tile_holds_exactly_the_features_in_its_box(client, site, layer):
    lon, lat = first_point(site["path"], layer)
    for z in (13, 15):
        z, x, y = tile_of(lon, lat, z)
        r = client.get(tile_url(layer, z, x, y))
        assert r.status_code == 200 and r.mimetype == MVT
        (name,) = decode(r.data)
        assert name == layer
        feats = decode(r.data)[layer]["features"]
        with Registry.open(site["path"]) as reg:
            expected = reg.count(layer, bbox=mvt.lonlat_bounds(mvt.tile_bounds(z, x, y)))
        assert 0 < len(feats) == expected <= mvt.MAX_POINTS
        assert all(0 <= f["geometry"]["coordinates"][0] <= 4096 for f in feats)


def test_lines_and_polygons_are_clipped_to_the_buffered_tile(client, site):
    lon, lat = first_point(site["path"], "population")
    z, x, y = tile_of(lon, lat, 14)
    for layer in ("roads", "admin_areas"):
        r = client.get(tile_url(layer, z, x, y))
        assert r.status_code == 200
        feats = decode(r.data)[layer]["features"]
        assert feats
        lo, hi = -mvt.BUFFER - 1, 4096 + mvt.BUFFER + 1
        coords = np.array([c for f in feats for c in _flatten(f["geometry"]["coordinates"])])
        assert coords.min() >= lo and coords.max() <= hi


def _flatten(c):
    if isinstance(c[0], (int, float)):
        yield c
    else:
        for part in c:
            yield from _flatten(part)


def test_anonymous_tiles_have_no_personal_fields(client, site):
    lon, lat = first_point(site["path"], "shelters")
    z, x, y = tile_of(lon, lat, 14)
    anon = decode(client.get(tile_url("shelters", z, x, y)).data)["shelters"]["features"]
    assert anon and all("manager_phone" not in f["properties"] and "manager_name" not in f["properties"]
                        for f in anon)
    assert all("name" in f["properties"] and "uuid" in f["properties"] for f in anon)
    keyed = decode(client.get(tile_url("shelters", z, x, y), headers=auth(site["reader"])).data)
    assert any("manager_phone" in f["properties"] for f in keyed["shelters"]["features"])
    every = decode(client.get(tile_url(None, z, x, y)).data)
    for name, layer in every.items():
        for f in layer["features"]:
            assert not any(k.endswith(("_phone", "_name")) for k in f["properties"]), name


def test_low_zoom_point_tiles_are_thinned_under_the_limit(client, site):
    lon, lat = first_point(site["path"], "population")
    with Registry.open(site["path"]) as reg:
        total = reg.count("population")
    assert total > mvt.MAX_POINTS
    for z in (11, 12):
        tz, x, y = tile_of(lon, lat, z)
        body = client.get(tile_url("population", tz, x, y)).data
        feats = decode(body)["population"]["features"]
        assert 0 < len(feats) <= mvt.MAX_POINTS
        assert client.get(tile_url("population", tz, x, y)).data == body  # deterministic (and cached)
    every = decode(client.get(tile_url(None, *tile_of(lon, lat, 9))).data)
    assert all(len(layer["features"]) <= mvt.MAX_POINTS for layer in every.values())


def test_layer_tile_rules_leave_out_layers_classes_and_fields_at_low_zoom(client, site):
    rules = {name: layer.tiles for name, layer in builtin_layers().items()}
    lon, lat = first_point(site["path"], "population")
    assert rules["population"].min_zoom == 11
    for z in (8, 10):
        assert client.get(tile_url("population", *tile_of(lon, lat, z))).status_code == 204
        assert "population" not in decode(client.get(tile_url(None, *tile_of(lon, lat, z))).data)
    # roads: minor classes only as the map zooms in
    lon, lat = first_point(site["path"], "roads")
    seen = {}
    for z in (9, 11, 14):
        seen[z] = {f["properties"]["road_class"]
                   for f in decode(client.get(tile_url("roads", *tile_of(lon, lat, z))).data)
                   .get("roads", {}).get("features", [])}
        hidden = set(rules["roads"].classes_hidden_at(z))
        assert not seen[z] & hidden, (z, seen[z] & hidden)
    assert seen[14] & set(rules["roads"].classes_hidden_at(11))  # minor roads there, left out at z11
    # hazard points: the styling fields below the detail zoom, everything from it on
    lon, lat = first_point(site["path"], "hazard_points")
    low = decode(client.get(tile_url("hazard_points", *tile_of(lon, lat, 12))).data)["hazard_points"]["features"]
    high = decode(client.get(tile_url("hazard_points", *tile_of(lon, lat, 14))).data)["hazard_points"]["features"]
    assert set().union(*(f["properties"] for f in low)) <= set(rules["hazard_points"].fields)
    assert {"danger_grade", "uuid"} <= set(low[0]["properties"])
    assert {"name", "threatened_people", "danger_grade"} <= set().union(*(f["properties"] for f in high))


@pytest.mark.parametrize("tiles, words", [
    ({"min_zoom": 30}, "min_zoom"),
    ({"detail_zoom": "high"}, "detail_zoom"),
    ({"fields": ["nope"]}, "nope"),
    ({"class_field": "name"}, "allowed values"),
    ({"class_field": "road_class", "class_min_zoom": {"alley": 12}}, "alley"),
    ({"class_min_zoom": {"path": 12}}, "class_field"),
    ({"max_zoom": 3}, "max_zoom"),
])
def test_bad_tile_rules_in_a_definition_are_refused(tiles, words):
    import tomllib
    from importlib.resources import files

    from rallypoint.errors import DefinitionError
    from rallypoint.schema import layer_from_dict

    data = tomllib.loads(files("rallypoint_layers").joinpath("definitions", "roads.toml").read_text(encoding="utf-8"))
    data["layer"]["tiles"] = tiles
    with pytest.raises(DefinitionError, match=words):
        layer_from_dict("roads.toml", data)


def test_thinning_keeps_an_even_deterministic_sample():
    from rallypoint.storage.tiles import tile_bounds

    rng = np.random.default_rng(7)
    minx, miny, maxx, maxy = tile_bounds(10, 812, 420)
    xy = rng.uniform((minx, miny), (maxx, maxy), size=(20_000, 2))
    kept = mvt.thin_points(xy, 10)
    assert len(kept) <= mvt.MAX_POINTS and np.all(np.diff(kept) > 0)
    assert np.array_equal(kept, mvt.thin_points(xy, 10))
    quarters = np.histogram2d(xy[kept, 0], xy[kept, 1], bins=2, range=[[minx, maxx], [miny, maxy]])[0]
    assert quarters.min() > 0.2 * len(kept)  # spread over the tile, not bunched
    assert len(mvt.thin_points(xy[:100], 10)) == 100


def test_the_dataset_tile_has_one_layer_per_geometry_layer(client, site):
    lon, lat = first_point(site["path"], "shelters")
    z, x, y = tile_of(lon, lat, 13)
    layers = decode(client.get(tile_url(None, z, x, y)).data)
    assert {"shelters", "roads", "admin_areas", "population"} <= set(layers)
    assert "depot_stock" not in layers
    alone = decode(client.get(tile_url("shelters", z, x, y)).data)["shelters"]["features"]
    assert len(layers["shelters"]["features"]) == len(alone)


def test_etag_304_and_cache_control(client, site):
    lon, lat = first_point(site["path"], "hazard_points")
    url = tile_url("hazard_points", *tile_of(lon, lat, 14))
    r = client.get(url)
    assert r.headers["ETag"].startswith('"') and "max-age" in r.headers["Cache-Control"]
    again = client.get(url, headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    keyed = client.get(url, headers=auth(site["reader"]))
    assert keyed.headers["ETag"] != r.headers["ETag"] and keyed.headers["Cache-Control"].startswith("private")


def test_gzip_is_a_variant_with_its_own_etag(client, site):
    lon, lat = first_point(site["path"], "hazard_points")
    url = tile_url(None, *tile_of(lon, lat, 12))
    plain = client.get(url)
    zipped = client.get(url, headers={"Accept-Encoding": "gzip, deflate"})
    assert plain.status_code == zipped.status_code == 200
    assert "Content-Encoding" not in plain.headers and zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == plain.data and len(zipped.data) < len(plain.data)
    assert zipped.headers["ETag"] != plain.headers["ETag"] and "Accept-Encoding" in zipped.headers["Vary"]
    assert client.get(url, headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"]}).status_code == 304
    # the identity ETag does not validate the gzip variant, nor the other way round
    assert client.get(url, headers={"Accept-Encoding": "gzip", "If-None-Match": plain.headers["ETag"]}).status_code == 200
    assert client.get(url, headers={"If-None-Match": zipped.headers["ETag"]}).status_code == 200
    refused = client.get(url, headers={"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in refused.headers and refused.data == plain.data


def test_the_tile_cache_keeps_under_its_byte_cap(client, site, monkeypatch):
    from rallypoint.api.tiles import tilesets as tiles

    tiles.clear_cache()
    monkeypatch.setattr(tiles, "CACHE_BYTES", 40_000)
    lon, lat = first_point(site["path"], "hazard_points")
    z, x0, y0 = tile_of(lon, lat, 13)
    sizes = []
    for dx in range(-2, 3):
        for dy in range(-2, 3):
            r = client.get(tile_url(None, z, x0 + dx, y0 + dy))
            sizes.append(len(r.data))
            held, used = tiles.cache_usage()
            assert used <= 40_000 or held == 1
    assert sum(sizes) > 40_000  # the cap was reached, so tiles were dropped
    held, used = tiles.cache_usage()
    assert 0 < held < 25
    tiles.clear_cache()
    assert tiles.cache_usage() == (0, 0)


def test_a_write_shows_in_the_next_tile(client, site):
    lon, lat = 103.7301, 30.6102
    z, x, y = tile_of(lon, lat, 15)
    before = client.get(tile_url("shelters", z, x, y))
    every_before = client.get(tile_url(None, z, x, y))
    n = len(decode(before.data).get("shelters", {}).get("features", []))
    body = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": shelter(name="瓦片测试避难场所")}
    r = client.post("/collections/shelters/items", data=json.dumps(body),
                    headers={**auth(site["editor"]), "Content-Type": "application/geo+json"})
    assert r.status_code == 201, r.get_json()
    after = client.get(tile_url("shelters", z, x, y))
    feats = decode(after.data)["shelters"]["features"]
    assert len(feats) == n + 1 and "瓦片测试避难场所" in {f["properties"]["name"] for f in feats}
    assert after.headers["ETag"] != before.headers.get("ETag")
    every = decode(client.get(tile_url(None, z, x, y)).data)
    assert "瓦片测试避难场所" in {f["properties"]["name"] for f in every["shelters"]["features"]}
    assert client.get(tile_url(None, z, x, y)).headers["ETag"] != every_before.headers.get("ETag")


def test_empty_tiles_are_204(client):
    r = client.get(tile_url("shelters", 10, 0, 0))
    assert r.status_code == 204 and r.data == b"" and "ETag" in r.headers


@pytest.mark.parametrize("path,status", [
    ("/collections/shelters/tiles/WebMercatorQuad/25/0/0", 400),
    ("/collections/shelters/tiles/WebMercatorQuad/-1/0/0", 400),
    ("/collections/shelters/tiles/WebMercatorQuad/2/4/0", 400),
    ("/collections/shelters/tiles/WebMercatorQuad/2/0/4", 400),
    ("/collections/shelters/tiles/WebMercatorQuad/a/0/0", 400),
    ("/tiles/WebMercatorQuad/3/0/8", 400),
    ("/collections/shelters/tiles/WorldCRS84Quad/1/0/0", 400),
    ("/collections/shelters/tiles/WorldCRS84Quad", 400),
    ("/collections/nowhere/tiles/WebMercatorQuad/1/0/0", 404),
    ("/collections/nowhere/tiles", 404),
    ("/collections/depot_stock/tiles/WebMercatorQuad/1/0/0", 404),
    ("/collections/shelters/tiles/WebMercatorQuad/1/0/0?foo=1", 400),
])
def test_bad_tiles(client, path, status):
    r = client.get(path)
    assert r.status_code == status and r.get_json()["code"]


def test_the_shortcut_answers_tiles_as_flask_does(site):
    """Anonymous tiles come from the WSGI shortcut (rallypoint.web.shortcut): the same status, headers and body as
    through Flask's whole request, for tiles with features, empty tiles, revalidations, cross-origin requests and
    refusals (those it hands to Flask); keyed and signed-in requests, and any query string, go to Flask."""
    from werkzeug.test import Client

    from rallypoint.api.tiles import tilesets

    app = site["client"].application
    shortcut = app.wsgi_app
    assert type(shortcut).__name__ == "TileShortcut"
    through_flask = Client(shortcut.app)  # Flask's own WSGI app, without the shortcut in front
    direct = Client(shortcut)
    lon, lat = first_point(site["path"], "hazard_points")
    urls = [tile_url(layer, *tile_of(lon, lat, z)) for layer in ("hazard_points", "roads", None) for z in (9, 12, 15)]
    urls += [tile_url("shelters", 10, 0, 0), "/collections/nowhere/tiles/WebMercatorQuad/1/0/0",
             "/tiles/WebMercatorQuad/3/0/8", "/collections/shelters/tiles/WorldCRS84Quad/1/0/0",
             tile_url("hazard_points", 12, 0, 0) + "?f=mvt"]
    compared = 0
    for url in urls:
        for headers in ({}, {"Accept-Encoding": "gzip"}, {"Origin": "https://map.example.org"}):
            for fresh in (True, False):  # encoded on request, then from the tile cache
                if fresh:
                    tilesets.clear_cache()
                a = through_flask.get(url, headers=headers)
                if fresh:
                    tilesets.clear_cache()
                b = direct.get(url, headers=headers)
                assert (a.status_code, a.get_data()) == (b.status_code, b.get_data()), (url, headers)
                assert sorted(a.headers.items()) == sorted(b.headers.items()), (url, headers)
                etag = a.headers.get("ETag")
                if etag:
                    c = through_flask.get(url, headers={**headers, "If-None-Match": etag})
                    d = direct.get(url, headers={**headers, "If-None-Match": etag})
                    assert c.status_code == d.status_code == 304
                    assert sorted(c.headers.items()) == sorted(d.headers.items()), (url, headers)
                compared += 1
    assert compared == len(urls) * 6
    alone = Client(type(shortcut)(lambda environ, start: pytest.fail(f"handed to Flask: {environ['PATH_INFO']}"),
                                  shortcut.state, ["ETag"]))
    for url in urls[:10]:  # answered by the shortcut itself
        assert alone.get(url, headers={"Accept-Encoding": "gzip"}).status_code in (200, 204)
    keyed = direct.get(urls[1], headers=auth(site["reader"]))
    assert keyed.status_code == 200 and keyed.headers["Cache-Control"].startswith("private")  # Flask's, with the key
