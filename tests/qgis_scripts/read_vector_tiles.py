"""Load a server's vector tiles with QGIS's own vector tile provider (headless), and report what it decoded, as JSON.

Run with an interpreter that has Debian's QGIS bindings:
    QT_QPA_PLATFORM=offscreen python read_vector_tiles.py http://127.0.0.1:8000 MINX,MINY,MAXX,MAXY \
        shelters,depots,... picture.png
The layer is ``QgsVectorTileLayer("type=xyz&url=…/tiles/WebMercatorQuad/{z}/{y}/{x}")``. QGIS 3.22's Python
bindings do not expose its tile loader nor its MVT decoder, so the tiles are fetched and decoded by QGIS's
map renderer: a renderer written here receives every decoded tile (QgsVectorTileRendererData) and notes the
features of each MVT layer in each tile. The box (EPSG:3857) is rendered once so, and once with QGIS's basic
renderer into ``picture.png``, whose non-white pixels are counted. Last, the web map's MapLibre style
(``/map/style.json``) is given to QGIS as ``styleUrl`` and what its converter made of it is reported.
"""

import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (Qgis, QgsApplication, QgsCoordinateReferenceSystem, QgsMapRendererCustomPainterJob,
                       QgsMapSettings, QgsRectangle, QgsSymbolLayer, QgsVectorTileLayer,
                       QgsVectorTileRenderer)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor, QImage, QPainter

url, box, names, picture = sys.argv[1], sys.argv[2], sys.argv[3].split(","), sys.argv[4]
app = QgsApplication([], False)
app.setPrefixPath("/usr", True)
app.initQgis()
messages = []
QgsApplication.messageLog().messageReceived.connect(lambda msg, tag, level: messages.append(f"{tag}: {msg}"))

tiles = {}


class CountingRenderer(QgsVectorTileRenderer):
    """Draws nothing; notes the decoded features of each MVT layer of each tile."""

    def type(self):
        return "rallypoint-counting"

    def clone(self):
        return CountingRenderer()

    def startRender(self, context, tile_zoom, tile_range):
        pass

    def stopRender(self, context):
        pass

    def requiredLayers(self, context, tile_zoom):
        return set(names)  # QGIS decodes only the layers a renderer asks for

    def renderTile(self, tile, context):
        t = tile.id()
        tiles[f"{t.zoomLevel()}/{t.row()}/{t.column()}"] = {
            name: len(tile.layerFeatures(name)) for name in tile.layers()}

    def writeXml(self, element, context):
        pass

    def readXml(self, element, context):
        pass


def render(layer, size, path=None):
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:3857"))
    settings.setExtent(QgsRectangle(*[float(v) for v in box.split(",")]))
    settings.setOutputSize(QSize(size, size))
    image = QImage(size, size, QImage.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    job = QgsMapRendererCustomPainterJob(settings, painter)
    job.renderSynchronously()
    painter.end()
    if path:
        image.save(path)
    return image, [e.message for e in job.errors()]


source = f"type=xyz&url={url}/tiles/WebMercatorQuad/{{z}}/{{y}}/{{x}}&zmin=0&zmax=18"
layer = QgsVectorTileLayer(source, "rallypoint")
report = {"qgis_version": Qgis.QGIS_VERSION, "valid": layer.isValid(), "crs": layer.crs().authid(),
          "zmin": layer.sourceMinZoom(), "zmax": layer.sourceMaxZoom()}
if layer.isValid():
    layer.setRenderer(CountingRenderer())
    _, report["errors"] = render(layer, 512)
    report["tiles"] = tiles
    drawn = QgsVectorTileLayer(source, "rallypoint drawn")  # QGIS's default look: its basic renderer
    report["default_renderer"] = drawn.renderer().type()
    image, errors = render(drawn, 512, picture)
    report["errors"] += errors
    white = QColor("white").rgb()
    report["drawn_pixels"] = sum(1 for y in range(0, image.height(), 2) for x in range(0, image.width(), 2)
                                 if image.pixel(x, y) != white)
    # the web map's MapLibre style, read by QGIS's own converter (styleUrl, applied by loadDefaultStyle)
    styled = QgsVectorTileLayer(source + f"&styleUrl={url}/map/style.json", "rallypoint styled")
    report["style_loaded"] = styled.loadDefaultStyle()[1]
    report["styles"] = {}
    for style in getattr(styled.renderer(), "styles", lambda: [])():
        symbol = style.symbol()
        entry = {"layer": style.layerName(), "geometry": int(style.geometryType())}
        if symbol is not None:
            entry["color"] = symbol.color().name()
            entry["symbol_layer"] = symbol.symbolLayer(0).layerType()
            colour = symbol.symbolLayer(0).dataDefinedProperties().property(QgsSymbolLayer.PropertyFillColor)
            if colour.isActive():
                entry["color_expression"] = colour.asExpression()
        report["styles"][style.styleName()] = entry
report["messages"] = messages
print(json.dumps(report, ensure_ascii=False), flush=True)
app.exitQgis()
