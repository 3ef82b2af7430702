"""The map page (/map): its style and configuration through Flask's test client, then the page itself in real
headless Chromium (Debian's, driven by Playwright) against a real server on the county sample.

The browser tests prove features are drawn, not only that the page loaded: they wait until MapLibre has
rendered every tile, ask it which features of each layer are on screen, read pixel colours of the
screenshot, toggle layers, click features and read the pop-ups, and check that no request left the
server (the page is offline: no CDN, fonts, glyphs or sprites). Screenshots are kept in artifacts/.
In CI (CI=true) a missing chromium or playwright fails these tests instead of skipping them.
"""

from __future__ import annotations

import gzip
import json
import re
import tempfile
from pathlib import Path

import pytest
from conftest import IN_CI, county_copy, require, require_program
from web_support import Server, auth, make_key

from rallypoint import Registry
from rallypoint.api.tiles import mapstyle
from rallypoint.schema import builtin_layers, style_text
from rallypoint.web import create_app

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
RESOURCES = ("shelters", "depots", "teams", "hazard_points", "helipads")
CHROMIUM = "/usr/bin/chromium"
# Flags that work on a closed network: no sandbox (root), no GPU (WebGL on SwiftShader), nothing phoning home.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
VIEWPORT = {"width": 1280, "height": 800}


# -- the style, the page and its configuration (Flask test client) ---------------------------------

@pytest.fixture(scope="module")
def site(request, web_backend):
    """The sample on a GeoPackage and on PostGIS (``web_backend``): the tests using it run on both."""
    path = county_copy(request, web_backend, "web_map")
    editor = make_key(path, "zhang.wei", "editor")
    return {"client": create_app(path, {"TESTING": True}).test_client(), "path": path, "editor": editor}


def mapping_of(geometry) -> dict:
    from rallypoint.geometry import mapping

    return mapping(geometry)


def page_config(html: str) -> dict:
    start = html.index('<script type="application/json" id="map-config">') + len(
        '<script type="application/json" id="map-config">')
    return json.loads(html[start:html.index("</script>", start)])


def test_symbology_is_read_from_the_layers_qgis_styles():
    layers = builtin_layers()
    shelters = mapstyle.layer_symbology(layers["shelters"])
    assert (shelters.kind, shelters.attr) == ("categorized", "status")
    qml = style_text("shelters.qml")
    for c in shelters.classes:  # each category's colour is the one written in its QML symbol
        r, g, b = (int(v) for v in c.symbol.fill.removeprefix("rgb(").removesuffix(")").split(","))
        assert f'value="{r},{g},{b},255"' in qml
    assert [c.value for c in shelters.classes] == ["open", "standby", "full", "closed"]
    population = mapstyle.layer_symbology(layers["population"])
    assert population.kind == "graduated" and population.classes[0].upper == 10
    assert mapstyle.layer_symbology(layers["depots"]).kind == "single"
    with pytest.raises(ValueError, match="renderer-v2"):
        mapstyle.qml_symbology("<qgis></qgis>")


def test_a_layer_whose_style_cannot_be_drawn_is_grey_not_an_error(caplog):
    import dataclasses

    odd = dataclasses.replace(builtin_layers()["depots"], style="no_such_style.qml")
    s = mapstyle.layer_symbology(odd)
    assert s.kind == "single" and s.classes[0].symbol.fill == "#555555"
    assert "no_such_style.qml" in caplog.text


def test_an_empty_registry_has_a_map_without_extent(registry_path):
    client = create_app(registry_path, {"TESTING": True}).test_client()
    r = client.get("/map?lang=en")
    assert r.status_code == 200
    cfg = page_config(r.get_data(as_text=True))
    assert cfg["bounds"] is None and cfg["lang"] == "en"
    assert {lay["id"] for lay in cfg["layers"]} >= set(RESOURCES)
    divisions = client.get("/map/divisions.json")  # no division yet: nothing to label or count
    assert divisions.status_code == 200 and divisions.get_json()["features"] == []


def test_style_draws_resource_layers_on_top_with_qgis_symbols_and_only_this_servers_assets():
    layers = [lay for lay in builtin_layers().values() if lay.has_geometry]
    style = mapstyle.map_style(layers, "/tiles/WebMercatorQuad/tilejson.json")
    # the sprite and glyphs are this server's own (built at install), never another host's
    assert style["sprite"] == "/static/map/sprite"
    assert style["glyphs"] == "/static/map/glyphs/{fontstack}/{range}.pbf"
    ids = [sl["id"] for sl in style["layers"]]
    features = [i for i in ids if not i.startswith("divisions:") and not i.endswith(":label")]
    assert features[-1] == "shelters" and ids.index("admin_areas") < ids.index("roads") < ids.index("hazard_points")
    assert ids[-3:] == ["divisions:county", "divisions:township", "divisions:name"]  # names over every symbol
    shelters = next(sl for sl in style["layers"] if sl["id"] == "shelters")
    # a house per shelter in the colour of its status: the sprite's icon of its QML category
    icon = shelters["layout"]["icon-image"]
    assert icon[:2] == ["match", ["get", "status"]]
    assert dict(zip((label for [label] in icon[2:-1:2]), icon[3:-1:2]))["open"] == "shelters.open"
    assert shelters["type"] == "symbol" and shelters["minzoom"] == mapstyle.DETAIL_ZOOM
    assert next(sl for sl in style["layers"] if sl["id"] == "helipads")["layout"]["icon-image"] == "helipads"
    hazards = next(sl for sl in style["layers"] if sl["id"] == "hazard_points")
    assert hazards["type"] == "circle" and hazards["minzoom"] == mapstyle.HAZARD_ZOOM
    density = next(sl for sl in style["layers"] if sl["id"] == "hazard_points:density")
    assert density["maxzoom"] == mapstyle.HAZARD_ZOOM + 1 and density["filter"] == ["==", ["get", "level"], "township"]
    visibility = {sl["id"]: sl["layout"]["visibility"] for sl in style["layers"] if "visibility" in sl.get("layout", {})}
    assert visibility["population"] == "none" and visibility["roads"] == visibility["shelters"] == "visible"
    assert style["sources"]["rallypoint"] == {"type": "vector", "url": "/tiles/WebMercatorQuad/tilejson.json"}
    assert style["sources"]["divisions"] == {"type": "geojson", "data": "/map/divisions.json"}


def test_the_sprite_holds_every_icon_the_style_names():
    from rallypoint.api.tiles import symbols

    index = Path(__file__).resolve().parents[1] / "core" / "web" / "static" / "map" / "sprite.json"
    if not index.exists() and not IN_CI:
        pytest.skip("the map's sprite is not built: run make setup")
    icons = json.loads(index.read_text())
    for layer in builtin_layers().values():
        for name, symbol in symbols.layer_icons(layer):
            w, h = symbols.extent(symbol)
            assert (icons[name]["width"], icons[name]["height"]) == (w, h), name
    for name in ("shelters.open", "shelters", "teams.ready", "depots", "helipads", "hazard_points"):
        assert name in icons
    # a house is a square under a triangle, a helipad's H is drawn from the font's outline
    shelter = builtin_layers()["shelters"]
    assert [m.shape for m in mapstyle.layer_symbology(shelter).classes[0].symbol.markers] == ["square", "triangle"]
    assert "<path" in symbols.svg(mapstyle.layer_symbology(builtin_layers()["helipads"]).classes[0].symbol,
                                  lambda char: "M0 0L1 1Z" if char == "H" else None)


def test_map_page_in_chinese_and_english_with_legend_labels_and_field_aliases(site):
    client = site["client"]
    zh = client.get("/map")
    assert zh.status_code == 200 and zh.content_type.startswith("text/html")
    html = zh.get_data(as_text=True)
    assert '<html lang="zh">' in html and "/static/vendor/maplibre-gl.js" in html and "/static/map.js" in html
    assert "http" not in html.replace("http://localhost/", "")  # nothing from another host
    cfg = page_config(html)
    layers = {lay["id"]: lay for lay in cfg["layers"]}
    assert set(RESOURCES) <= set(layers) and "depot_stock" not in layers  # no geometry, no map layer
    assert layers["shelters"]["title"] == "应急避难场所"
    assert [e["label"] for e in layers["shelters"]["legend"]] == ["开放", "待命", "已满", "关闭"]
    fields = {f["name"]: f for f in layers["shelters"]["fields"]}
    assert list(fields)[:2] == ["name", "adcode"]  # the definition's order
    assert fields["shelter_type"]["alias"] == "场所类型"
    assert fields["shelter_type"]["values"]["fixed_short"] == "短期固定避难场所"
    assert layers["shelters"]["styleLayers"] == ["shelters", "shelters:label"] and layers["admin_areas"]["styleLayers"] == [
        "admin_areas", "admin_areas:outline"]
    assert not layers["population"]["visible"] and layers["roads"]["visible"]
    west, south, east, north = cfg["bounds"]
    assert 100 < west < east < 110 and 25 < south < north < 35
    assert 'id="lang-switch" href="/map?lang=en"' in html
    en_html = client.get("/map?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in en_html and 'id="lang-switch" href="/map?lang=zh"' in en_html
    en = page_config(en_html)
    shelters_en = {lay["id"]: lay for lay in en["layers"]}["shelters"]
    assert shelters_en["title"] == "Emergency shelters" and shelters_en["legend"][0]["label"] == "Open"
    fields_en = {f["name"]: f for f in shelters_en["fields"]}
    assert fields_en["shelter_type"]["values"]["fixed_short"] == "Fixed shelter, short term"


def test_anonymous_pages_carry_no_personal_field_and_an_editors_do(site):
    client = site["client"]
    anonymous = {lay["id"]: lay for lay in page_config(client.get("/map").get_data(as_text=True))["layers"]}
    editor = {lay["id"]: lay for lay in page_config(
        client.get("/map", headers=auth(site["editor"])).get_data(as_text=True))["layers"]}
    for name in RESOURCES:
        personal = set(builtin_layers()[name].personal_fields)
        shown = {f["name"] for f in anonymous[name]["fields"]}
        assert personal and not personal & shown, name
        assert personal <= {f["name"] for f in editor[name]["fields"]}, name
        assert "uuid" not in shown  # registry bookkeeping is not shown


def test_style_document_for_other_clients_names_the_tilejson_absolutely(site):
    r = site["client"].get("/map/style.json")
    assert r.status_code == 200 and r.content_type == "application/json"
    style = r.get_json()
    assert style["version"] == 8
    assert style["sources"]["rallypoint"]["url"] == "http://localhost/tiles/WebMercatorQuad/tilejson.json"
    assert site["client"].get(style["sources"]["rallypoint"]["url"]).status_code == 200
    assert site["client"].get("/map/style.json?lang=en").status_code == 400  # the style has no language


def test_divisions_document_counts_each_layer_per_county_and_township(site):
    """/map/divisions.json: a label point inside each division, its box and area, and the features of each layer
    whose division code starts with its own, as the registry holds them; hazard density in quantile classes."""
    from shapely.geometry import Point, shape

    r = site["client"].get("/map/divisions.json")
    assert r.status_code == 200 and r.content_type == "application/geo+json"
    doc = r.get_json()
    assert set(RESOURCES) <= set(doc["layers"])
    with Registry.open(site["path"]) as reg:
        codes = {name: [str(f.properties["adcode"]) for f in reg.features(name)] for name in RESOURCES}
        areas = {f.properties["adcode"]: f for f in reg.features("admin_areas")}
    features = doc["features"]
    assert {f["properties"]["adcode"] for f in features} == set(areas)
    for f in features:
        p = f["properties"]
        area = shape(mapping_of(areas[p["adcode"]].geometry))
        assert area.contains(Point(f["geometry"]["coordinates"])), p["name"]  # the label inside its division
        assert p["name"] == areas[p["adcode"]].properties["name"] and p["area_km2"] > 0
        for name in RESOURCES:
            assert p[f"n_{name}"] == sum(c.startswith(p["adcode"]) for c in codes[name]), (p["name"], name)
    townships = [f["properties"] for f in features if f["properties"]["level"] == "township"]
    county = next(f["properties"] for f in features if f["properties"]["level"] == "county")
    assert sum(t["n_shelters"] for t in townships) == county["n_shelters"] == len(codes["shelters"])
    bounds = doc["density"]["hazard_points"]["per_km2"]
    assert doc["density"]["hazard_points"]["level"] == "township" and bounds == sorted(bounds) and len(bounds) >= 3
    for t in townships:  # each township's class holds its hazard points per km²
        c = t["c_hazard_points"]
        density = t["n_hazard_points"] / t["area_km2"]
        assert density <= bounds[c] + 0.01 and (c == 0 or density > bounds[c - 1] - 0.01), t["name"]
    again = site["client"].get("/map/divisions.json", headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304
    bad = site["client"].get("/map/divisions.json?level=county")
    assert bad.status_code == 400 and "level" in bad.get_json()["description"]


def test_bad_map_parameters_are_400_naming_them(site):
    client = site["client"]
    r = client.get("/map?lang=fr")
    assert r.status_code == 400 and "lang='fr'" in r.get_json()["description"]
    r = client.get("/map?zoom=3")
    assert r.status_code == 400 and "zoom" in r.get_json()["description"]


def test_landing_page_and_api_document_link_the_map(site):
    client = site["client"]
    links = [lnk for lnk in client.get("/").get_json()["links"] if lnk["href"].endswith("/map")]
    assert links and links[0]["type"] == "text/html"
    assert "/map" in client.get("/?f=html").get_data(as_text=True)
    assert "/map" in client.get("/api").get_json()["paths"]


def test_the_script_and_maplibre_are_served_by_the_app(site):
    client = site["client"]
    for path in ("/static/map.js", "/static/vendor/maplibre-gl.js", "/static/vendor/maplibre-gl.css"):
        r = client.get(path)
        if r.status_code == 404 and "vendor" in path and not IN_CI:
            pytest.skip("MapLibre GL JS is not installed: run make setup")
        assert r.status_code == 200, path
    assert b"maplibregl" in client.get("/static/vendor/maplibre-gl.js").data
    zipped = client.get("/static/vendor/maplibre-gl.js", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip" and b"maplibregl" in gzip.decompress(zipped.data)
    again = client.get("/static/vendor/maplibre-gl.js",
                       headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"]})
    assert again.status_code == 304  # the browser's copy is still good


# -- the page in headless Chromium ------------------------------------------------------------------

@pytest.fixture(scope="module")
def served(request, web_backend, tmp_path_factory):
    path = county_copy(request, web_backend, "web_map_browser")
    with Registry.open(path) as reg:
        uuids = {name: {f.uuid for f in reg.features(name)} for name in RESOURCES}
    server = Server(path, workers=2, log_dir=tmp_path_factory.mktemp("web_map_log"))
    try:
        yield {"url": server.url, "path": path, "uuids": uuids}
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser():
    require("playwright", "PyPI's playwright drives the browser")
    require_program(CHROMIUM, "Debian's chromium")
    from playwright.sync_api import sync_playwright

    profile = tempfile.TemporaryDirectory(prefix="chromium-profile-")
    with sync_playwright() as p:
        # Debian's chromium, never a browser that playwright downloads; a new empty profile
        context = p.chromium.launch_persistent_context(profile.name, executable_path=CHROMIUM, headless=True,
                                                       args=FLAGS, viewport=VIEWPORT)
        try:
            yield context
        finally:
            context.close()
            profile.cleanup()


class MapPage:
    """One /map page opened in the browser, with every request and error it caused."""

    def __init__(self, context, url: str):
        self.page = context.new_page()
        self.requests: list[str] = []
        self.failures: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("requestfailed", lambda r: self.failures.append(f"{r.url}: {r.failure}"))
        self.page.on("response", lambda r: r.status >= 400 and self.failures.append(f"{r.url}: {r.status}"))
        self.page.on("pageerror", lambda e: self.failures.append(f"script error: {e}"))
        self.page.goto(url)
        self.idle()

    def idle(self) -> None:
        """Wait until MapLibre has loaded the style and every tile and drawn them."""
        self.page.wait_for_function("() => window.rallypointMap !== undefined", timeout=30_000)
        self.page.evaluate("""() => new Promise(done => {
            const map = window.rallypointMap;
            if (map.loaded() && map.areTilesLoaded() && !map.isMoving()) { map.once('render', done); map.triggerRepaint(); }
            else map.once('idle', done);
        })""")

    def rendered(self) -> dict[str, list[dict]]:
        """The features of each registry layer drawn on screen now (properties only)."""
        return self.page.evaluate("""() => {
            const map = window.rallypointMap, out = {};
            for (const l of map.getStyle().layers) {
                const name = l.metadata && l.metadata['rallypoint:layer'];
                if (!name || l.metadata['rallypoint:role'] !== 'features') continue;  // not outlines, labels, densities
                out[name] = map.queryRenderedFeatures({layers: [l.id]}).map(f => f.properties);
            }
            return out;
        }""")

    def jump(self, **view) -> None:
        """Move the map (zoom, center) and wait until it is drawn there."""
        self.page.evaluate("(v) => window.rallypointMap.jumpTo(v)", view)
        self.idle()

    def close(self) -> None:
        self.page.close()


def shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path))
    return path


def isolated_feature(page, layer: str) -> dict | None:
    """A feature of ``layer`` drawn on top where it is, away from the legend: its point, properties, colour."""
    return page.evaluate("""(layer) => {
        const map = window.rallypointMap, canvas = map.getCanvas().getBoundingClientRect();
        const ids = map.getStyle().layers.filter(l => l.metadata && l.metadata['rallypoint:role'] === 'features' &&
                                                     l.layout.visibility !== 'none').map(l => l.id);
        for (const f of map.queryRenderedFeatures({layers: [layer]})) {
            const p = map.project(f.geometry.coordinates);
            const x = canvas.left + p.x, y = canvas.top + p.y;
            if (x < 260 || x > canvas.right - 60 || y < canvas.top + 60 || y > canvas.bottom - 40) continue;
            const box = [[p.x - 10, p.y - 10], [p.x + 10, p.y + 10]];
            const near = map.queryRenderedFeatures(box, {layers: ids}).filter(g => !g.layer.id.startsWith('admin_areas') &&
                                                                                   g.layer.id !== 'roads');
            if (near.length === 1 && document.elementFromPoint(x, y) === map.getCanvas())
                return {x, y, properties: f.properties, zoom: map.getZoom()};
        }
        return null;
    }""", layer)


def test_chromium_draws_every_resource_layer_from_this_server_only(served, browser):
    m = MapPage(browser, served["url"] + "/map")
    try:
        # the whole county opens at the zoom where each shelter, team and depot is drawn with its symbol;
        # hazard points are a density by township until HAZARD_ZOOM, then circles
        assert mapstyle.DETAIL_ZOOM <= m.page.evaluate("window.rallypointMap.getZoom()") < mapstyle.HAZARD_ZOOM
        rendered = m.rendered()
        for name in ("shelters", "depots", "teams", "helipads", "admin_areas", "roads"):
            assert rendered[name], f"no feature of {name} drawn"
        assert rendered["population"] == [] and rendered["hazard_points"] == []  # off by default; a density
        shaded = m.page.evaluate("window.rallypointMap.queryRenderedFeatures({layers: ['hazard_points:density']})"
                                 ".map(f => f.properties.adcode)")
        assert shaded and all(len(code) == 9 for code in shaded)  # townships shaded by their hazard points per km²
        names = m.page.evaluate("window.rallypointMap.queryRenderedFeatures({layers: ['divisions:name']})"
                                ".map(f => f.properties.name)")
        assert len(set(names)) >= 5  # township labels
        path = shot(m.page, "map-zh.png")
        centre = m.page.evaluate("window.rallypointMap.getCenter().toArray()")
        m.jump(zoom=mapstyle.HAZARD_ZOOM + 0.5, center=centre)
        rendered.update({"hazard_points": m.rendered()["hazard_points"]})
        assert rendered["hazard_points"], "no hazard point drawn"
        m.jump(zoom=mapstyle.DETAIL_ZOOM + 0.6, center=centre)  # the symbols faded in, no hazard point over them
        for name in RESOURCES:  # real features of the registry, with no personal field
            drawn = {p["uuid"] for p in rendered[name]}
            assert drawn <= served["uuids"][name], name
            personal = set(builtin_layers()[name].personal_fields)
            assert not any(personal & set(p) for p in rendered[name]), name
        legend = m.page.inner_text("#legend")
        for name in RESOURCES:
            assert builtin_layers()[name].title_zh in legend
        assert "开放" in legend and "高速公路" in legend
        # the drawn pixels: an isolated shelter's house is the colour of its status in the QGIS style
        from PIL import Image

        spot = isolated_feature(m.page, "shelters")
        assert spot is not None
        status = spot["properties"]["status"]
        expected = next(c.symbol.fill for c in mapstyle.layer_symbology(builtin_layers()["shelters"]).classes
                        if c.value == status)
        want = tuple(int(v) for v in expected.removeprefix("rgb(").removesuffix(")").split(","))
        path = shot(m.page, "map-zh-shelter.png")
        got = Image.open(path).convert("RGB").getpixel((round(spot["x"]), round(spot["y"]) + 1))  # the house's body
        assert max(abs(a - b) for a, b in zip(got, want)) <= 12, (status, got, want)
        origin = served["url"] + "/"
        outside = [u for u in m.requests if not u.startswith((origin, "blob:", "data:"))]
        assert outside == [], outside
        assert any(re.search(r"/tiles/WebMercatorQuad/\d+/\d+/\d+$", u) for u in m.requests)  # from its worker
        assert m.failures == [], m.failures
    finally:
        m.close()


def test_a_layer_switched_off_is_no_longer_drawn_and_comes_back(served, browser):
    m = MapPage(browser, served["url"] + "/map")
    try:
        before = {k: len(v) for k, v in m.rendered().items()}
        m.page.uncheck('#legend input[data-layer="shelters"]')
        m.idle()
        during = {k: len(v) for k, v in m.rendered().items()}
        assert before["shelters"] > 0 and during["shelters"] == 0
        assert during["teams"] == before["teams"] > 0 and during["roads"] == before["roads"] > 0
        shot(m.page, "map-toggled.png")
        m.page.check('#legend input[data-layer="shelters"]')
        m.idle()
        assert len(m.rendered()["shelters"]) == before["shelters"]
    finally:
        m.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_clicking_a_feature_opens_a_popup_with_labels_in_the_pages_language(served, browser, lang):
    m = MapPage(browser, served["url"] + f"/map?lang={lang}")
    try:
        layer = builtin_layers()["shelters"]
        spot = isolated_feature(m.page, "shelters")
        assert spot is not None, "no shelter drawn apart from the others"
        m.page.mouse.click(spot["x"], spot["y"])
        popup = m.page.wait_for_selector(".maplibregl-popup-content", timeout=10_000)
        text = popup.inner_text()
        props = spot["properties"]
        assert layer.title(lang) in text and props["name"] in text
        def cell(name: str) -> str:
            return popup.query_selector(f'tr[data-field="{name}"] td').inner_text()

        def row_title(name: str) -> str:
            return popup.query_selector(f'tr[data-field="{name}"] th').inner_text()

        for name in ("shelter_type", "level", "status"):  # allowed values shown as labels, not codes
            field = layer.field(name)
            assert row_title(name) == field.alias(lang)
            assert cell(name) == field.value(props[name]).label(lang)
        if props.get("hazards"):
            sep = "、" if lang == "zh" else ", "
            assert cell("hazards") == sep.join(layer.field("hazards").value(c).label(lang)
                                               for c in props["hazards"].split(","))
        # below the detail zoom the tile carries a few fields; the pop-up then fetches the whole feature
        assert m.page.evaluate("window.rallypointMap.getZoom()") < layer.tiles.detail_zoom
        assert "effective_area_m2" not in props
        m.page.wait_for_selector('.maplibregl-popup-content tr[data-field="effective_area_m2"]', timeout=10_000)
        text = popup.inner_text()
        assert cell("effective_area_m2").endswith("m²")
        assert cell("capacity_day").endswith("人" if lang == "zh" else "people")
        for f in layer.fields:
            if f.personal:
                assert f.alias(lang) not in text
        assert m.page.get_attribute("html", "lang") == lang
        shot(m.page, f"map-popup-{lang}.png")
        assert m.failures == [], m.failures
    finally:
        m.close()
