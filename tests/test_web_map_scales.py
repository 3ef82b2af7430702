"""The map reads at every scale: the city sample (2,938 shelters, about 140,000 hazard points, 12 counties and
some 200 townships) served by a real server and drawn by real headless Chromium at zooms 9, 12 and 15.

* zoom 9 (the whole city): no shelter, team or depot drawn one by one; each county labelled with its name
  and its counts beside the layers' icons, the townships shaded by hazard points per km², the helipads' H;
* zoom 12 (a district): every shelter, team and depot with its QGIS symbol in the colour of its class,
  township names, the hazard density still;
* zoom 15 (a few streets): the hazard points as the circles of their danger grade, the shelters' names.

The screenshots (with the legend) are kept in artifacts/map-city-z9.png, -z12.png and -z15.png; the tests
read the drawn features from MapLibre and the pixels from the screenshots. The search finds a township by
name and a county by division code, and a shelter by name, and flies the map there. The city sample takes
minutes to write: it is written once per version of the sample's code into pytest's cache folder.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from test_web_map import ARTIFACTS, MapPage, browser  # noqa: F401 (the fixture)
from web_support import Server

from rallypoint import Registry
from rallypoint.api.tiles import mapstyle
from rallypoint.schema import builtin_layers

ROOT = Path(__file__).resolve().parents[1]
ICONS = ("shelters", "teams", "depots")  # counted per division at low zooms, symbols from DETAIL_ZOOM


def _sample_version() -> str:
    """A digest of what the city sample's file depends on: its generator, the writer, the layer definitions."""
    digest = hashlib.sha256()
    for folder, pattern in (("core/sample", "*.py"), ("core/sample_data", "*.py"), ("core/storage/gpkg", "*.py"),
                            ("layers/definitions", "*.toml")):
        for path in sorted((ROOT / folder).glob(pattern)):
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="module")
def city(request, tmp_path_factory):
    from rallypoint.sample import write_sample

    cache = getattr(request.config, "cache", None)  # None under -p no:cacheprovider: written afresh
    folder = cache.mkdir("rallypoint-city-sample") if cache is not None else tmp_path_factory.mktemp("city_sample")
    cached = folder / f"city-{_sample_version()}.gpkg"
    if not cached.exists():
        for old in cached.parent.glob("city-*.gpkg*"):
            old.unlink()
        partial = cached.with_suffix(".partial.gpkg")
        partial.unlink(missing_ok=True)
        write_sample(partial, "city")
        partial.rename(cached)
    path = tmp_path_factory.mktemp("city") / "city.gpkg"
    shutil.copyfile(cached, path)
    with Registry.open(path) as reg:
        shelters = [(f.properties["name"], f.uuid) for f in reg.features("shelters")]
        admin = [(f.properties["adcode"], f.properties["name"], f.properties["level"]) for f in reg.features("admin_areas")]
    server = Server(path, workers=2, log_dir=tmp_path_factory.mktemp("city_log"))
    try:
        yield {"url": server.url, "shelters": shelters, "admin": admin}
    finally:
        server.stop()


@pytest.fixture(scope="module")
def page(city, browser):  # noqa: F811 (the fixture imported above)
    m = MapPage(browser, city["url"] + "/map")
    try:
        yield m
    finally:
        m.close()


def drawn(m: MapPage, style_layer: str) -> list[dict]:
    return m.page.evaluate("(id) => window.rallypointMap.queryRenderedFeatures({layers: [id]}).map(f => f.properties)",
                           style_layer)


def shot(m: MapPage, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    m.page.screenshot(path=str(path))
    return path


def errors(m: MapPage) -> list[str]:
    """The page's failed requests and script errors, but the tiles MapLibre cancels as the map moves on."""
    return [f for f in m.failures if not f.endswith("net::ERR_ABORTED")]


def rgb(css: str) -> tuple[int, ...]:
    return tuple(int(v) for v in css.removeprefix("rgb(").removesuffix(")").split(","))


def close(got, want, tolerance: int = 14) -> bool:
    return max(abs(a - b) for a, b in zip(got, want)) <= tolerance


def isolated(m: MapPage, layer: str, radius: int = 14) -> list[dict]:
    """Features of ``layer`` drawn where nothing else of a resource layer, label or density is within ``radius``
    pixels, away from the legend and the controls: their screen point and properties."""
    return m.page.evaluate("""([layer, radius]) => {
        const map = window.rallypointMap, canvas = map.getCanvas().getBoundingClientRect();
        const others = map.getStyle().layers.filter(l => l.metadata && l.layout && l.layout.visibility !== 'none' &&
            (l.metadata['rallypoint:role'] === 'features' || l.metadata['rallypoint:role'] === 'labels' ||
             l.metadata['rallypoint:role'] === 'divisions') &&
            !['admin_areas', 'roads'].includes(l.id)).map(l => l.id);
        const out = [];
        for (const f of map.queryRenderedFeatures({layers: [layer]})) {
            const p = map.project(f.geometry.coordinates);
            const x = canvas.left + p.x, y = canvas.top + p.y;
            if (x < 300 || x > canvas.right - 80 || y < canvas.top + 80 || y > canvas.bottom - 40) continue;
            const box = [[p.x - radius, p.y - radius], [p.x + radius, p.y + radius]];
            if (map.queryRenderedFeatures(box, {layers: others}).length === 1 &&
                document.elementFromPoint(x, y) === map.getCanvas()) out.push({x, y, properties: f.properties});
        }
        return out;
    }""", [layer, radius])


def class_colour(layer: str, value: str | None) -> tuple[int, ...]:
    s = mapstyle.layer_symbology(builtin_layers()[layer])
    return rgb(next(c.symbol.fill for c in s.classes if s.kind == "single" or c.value == value))


def legend_is_shown(m: MapPage) -> None:
    legend = m.page.inner_text("#legend")
    for name in ("shelters", "teams", "depots", "hazard_points", "helipads"):
        assert builtin_layers()[name].title_zh in legend, name
    assert "开放" in legend and "隐患点密度" in legend and "分区统计" in legend
    assert m.page.is_visible("#legend")
    icons = m.page.evaluate("[...document.querySelectorAll('#legend .icon')].map(e => e.style.backgroundImage)")
    assert icons and all("/static/map/sprite@2x.png" in i for i in icons)  # the legend's icons are the sprite's


def test_zoom_9_the_city_in_counts_per_county_and_hazard_density(city, page):
    m = page
    centre = m.page.evaluate("window.rallypointMap.getCenter().toArray()")
    m.jump(zoom=9, center=centre)
    for name in ICONS + ("hazard_points",):
        assert drawn(m, name) == [], f"{name} drawn one by one at zoom 9"
    counties = drawn(m, "divisions:county")
    assert len(counties) >= 8
    codes = {code: (name, level) for code, name, level in city["admin"]}
    for c in counties:  # a county of the registry, with its counts of each layer
        assert codes[c["adcode"]] == (c["name"], "county")
        assert c["n_shelters"] > 0 and c["n_hazard_points"] > 100
    total = sum(c["n_shelters"] for c in counties)
    assert total <= len(city["shelters"])
    shaded = drawn(m, "hazard_points:density")
    assert len({f["adcode"] for f in shaded}) > 100  # the townships shaded by hazard points per km²
    assert drawn(m, "helipads"), "no helipad drawn"
    legend_is_shown(m)
    path = shot(m, "map-city-z9.png")
    from PIL import Image

    image = Image.open(path).convert("RGB")
    # the density's colours are on the screen: the mildest (IV, yellow) and the gravest (I, dark red) classes
    colours = mapstyle.density_colours(builtin_layers()["hazard_points"])
    seen = image.resize((160, 100)).getcolors(16000)
    for want in (colours[0], colours[-1]):
        target = rgb(want)
        blended = tuple(round(0.6 * t + 0.4 * b) for t, b in zip(target, (244, 241, 234)))  # over the background
        assert any(close(c, blended, 40) for _, c in seen), (want, blended)
    assert errors(m) == []


def test_zoom_12_every_site_with_its_qgis_symbol(city, page):
    m = page
    centre = m.page.evaluate("window.rallypointMap.getCenter().toArray()")
    m.jump(zoom=12, center=centre)
    for name in ICONS:
        assert len(drawn(m, name)) >= (50 if name == "shelters" else 5), name
    assert drawn(m, "divisions:county") == [] and drawn(m, "divisions:township") == []
    assert len({f["name"] for f in drawn(m, "divisions:name")}) >= 8  # township labels
    legend_is_shown(m)
    path = shot(m, "map-city-z12.png")
    from PIL import Image

    image = Image.open(path).convert("RGB")
    # each layer distinguishable: a house in its status's colour, a triangle, a diamond, each in its QML colour
    for layer, dy in (("shelters", 2), ("teams", 1), ("depots", 0)):  # below the centre: a house's body
        spots = isolated(m, layer)
        assert spots, f"no {layer} drawn apart from the others"
        field = mapstyle.layer_symbology(builtin_layers()[layer]).attr
        hits = 0
        for spot in spots[:10]:
            want = class_colour(layer, spot["properties"].get(field) if field else None)
            got = image.getpixel((round(spot["x"]), round(spot["y"]) + dy))
            hits += close(got, want, 30)  # the density's shading shows through the symbol's edges a little
        assert hits >= min(len(spots), 10) * 0.7, (layer, hits, len(spots))
    assert errors(m) == []


def test_zoom_15_hazard_points_and_shelter_names(city, page):
    m = page
    centre = m.page.evaluate("window.rallypointMap.getCenter().toArray()")
    m.jump(zoom=15, center=centre)
    hazards = drawn(m, "hazard_points")
    assert len(hazards) >= 20
    assert drawn(m, "hazard_points:density") == []  # the density is gone once each point is drawn
    assert drawn(m, "shelters") and drawn(m, "shelters:label")
    legend_is_shown(m)
    path = shot(m, "map-city-z15.png")
    from PIL import Image

    image = Image.open(path).convert("RGB")
    spots = isolated(m, "hazard_points", radius=8)
    assert spots
    field = mapstyle.layer_symbology(builtin_layers()["hazard_points"]).attr
    good = sum(close(image.getpixel((round(s["x"]), round(s["y"]))), class_colour("hazard_points", s["properties"][field]))
               for s in spots[:20])
    assert good >= min(len(spots), 20) * 0.7
    assert errors(m) == []


def _search(m: MapPage, text: str) -> list[dict]:
    m.page.fill("#search-q", text)
    m.page.press("#search-q", "Enter")
    m.page.wait_for_selector("#search-results li", timeout=30_000)
    return m.page.evaluate("""[...document.querySelectorAll('#search-results li')].map(li => (
        {kind: li.dataset.kind, layer: li.dataset.layer, id: li.dataset.id, text: li.innerText}))""")


def test_search_by_name_or_code_flies_to_the_feature(city, page):
    m = page
    m.jump(zoom=9, center=m.page.evaluate("window.rallypointMap.getCenter().toArray()"))
    county = next((code, name) for code, name, level in city["admin"] if level == "county")
    found = _search(m, county[0])  # a division code: the county, alone, and the map flies to it
    assert found[0]["kind"] == "division" and found[0]["id"] == county[0] and county[1] in found[0]["text"]
    if len(found) > 1:
        m.page.click("#search-results li >> nth=0")
    m.idle()
    flown = m.page.evaluate("window.rallypointFlown")
    assert flown["kind"] == "division" and flown["id"] == county[0]
    assert m.page.evaluate("window.rallypointMap.getZoom()") > 9.5  # fitted to the county
    names = [n for n, _ in city["shelters"]]
    name, uuid = next((n, u) for n, u in city["shelters"] if names.count(n) == 1)
    found = _search(m, name)
    item = next(i for i in found if i["kind"] == "resource" and i["layer"] == "shelters")
    if len(found) > 1:
        m.page.click(f'#search-results li[data-id="{item["id"]}"]')
    m.idle()
    flown = m.page.evaluate("window.rallypointFlown")
    assert flown["layer"] == "shelters"
    assert m.page.evaluate("window.rallypointMap.getZoom()") >= 16
    here = drawn(m, "shelters")
    assert uuid in {f.get("uuid") for f in here}, "the shelter found is not on the screen"
    assert m.page.is_visible(".maplibregl-marker")
    shot(m, "map-city-search.png")
    township = next(name for code, name, level in city["admin"] if level == "township")
    found = _search(m, township)
    assert any(i["kind"] == "division" and township in i["text"] for i in found)
    assert errors(m) == []
