"""Building the map's offline assets at install (``make setup``): the sprite of the layers' QGIS symbols and
the font the glyphs are made from. Nothing here runs while serving.

* ``python -m rallypoint.api.tiles.mapassets sprite OUT`` draws every icon of :mod:`.symbols` (the
  QGIS marker symbols of every point layer the installed plugins know) as SVG, renders it with
  CairoSVG at 1× and 2×, and packs them into ``OUT/sprite.png`` + ``sprite.json`` and
  ``OUT/sprite@2x.png`` + ``sprite@2x.json``, MapLibre's sprite format. A font marker's character
  (the helipad's H) is drawn from its outline in Debian's Noto Sans CJK (fontTools), not as text.
* ``python -m rallypoint.api.tiles.mapassets font TTC FAMILY OUT.otf`` takes one face (``Noto Sans CJK
  SC``) out of Debian's font collection, for fontnik (npm) to make the glyph PBFs of the labels from.

The packing is a plain row-by-row layout of a few dozen icons of about 20 pixels (MapLibre reads any
layout the JSON describes; no packing library is worth adding for that).
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

from .symbols import layer_icons, svg

NOTO_BOLD = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"
FAMILY = "Noto Sans CJK SC"
RATIOS = (1, 2)
ROW_WIDTH = 256  # CSS pixels of a sprite row


def _face(ttc: str, family: str):
    from fontTools.ttLib import TTCollection, TTFont

    if not ttc.lower().endswith((".ttc", ".otc")):
        return TTFont(ttc)
    for font in TTCollection(ttc, lazy=True).fonts:
        if font["name"].getDebugName(1) == family:
            return font
    raise SystemExit(f"{ttc}: no face of the family {family!r}")


def outline_of(ttc: str = NOTO_BOLD, family: str = FAMILY):
    """A function giving a character's outline as SVG path data in em units (y down), centred on its box."""
    from fontTools.pens.boundsPen import BoundsPen
    from fontTools.pens.svgPathPen import SVGPathPen
    from fontTools.pens.transformPen import TransformPen

    font = _face(ttc, family)
    glyphs, cmap, upm = font.getGlyphSet(), font.getBestCmap(), font["head"].unitsPerEm

    def outline(char: str) -> str | None:
        name = cmap.get(ord(char[0]))
        if name is None:
            return None
        bounds = BoundsPen(glyphs)
        glyphs[name].draw(bounds)
        if bounds.bounds is None:
            return None
        x0, y0, x1, y1 = bounds.bounds
        pen = SVGPathPen(glyphs)
        glyphs[name].draw(TransformPen(pen, (1 / upm, 0, 0, -1 / upm, -(x0 + x1) / 2 / upm, (y0 + y1) / 2 / upm)))
        return pen.getCommands()

    return outline


def icons(outline=None) -> dict[str, str]:
    """Every icon of every point layer the installed plugins know: name → SVG."""
    from ...plugins import default_plugin_manager, layer_catalog

    out: dict[str, str] = {}
    for layer in layer_catalog(default_plugin_manager()).values():
        for name, symbol in layer_icons(layer):
            out[name] = svg(symbol, outline)
    return out


def _svg_size(document: str) -> tuple[int, int]:
    import re

    found = re.match(r'<svg [^>]*width="(\d+)" height="(\d+)"', document)
    if found is None:
        raise ValueError("an icon's SVG has no width and height")
    return int(found.group(1)), int(found.group(2))


def _layout(sizes: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int, int, int]]:
    """x, y, width, height of each icon, in rows of at most ROW_WIDTH pixels, tallest first."""
    out, x, y, row = {}, 0, 0, 0
    for name in sorted(sizes, key=lambda n: (-sizes[n][1], n)):
        w, h = sizes[name]
        if x and x + w > ROW_WIDTH:
            x, y, row = 0, y + row, 0
        out[name] = (x, y, w, h)
        x, row = x + w, max(row, h)
    return out


def build_sprite(out_dir: Path, outline=None) -> dict[str, dict]:
    """Write sprite{,@2x}.png and .json into ``out_dir``; return the 1× index."""
    import cairosvg
    from PIL import Image

    documents = icons(outline)
    sizes = {name: _svg_size(doc) for name, doc in documents.items()}
    places = _layout(sizes)
    width = max((x + w for x, _, w, _ in places.values()), default=1)
    height = max((y + h for _, y, _, h in places.values()), default=1)
    out_dir.mkdir(parents=True, exist_ok=True)
    index1: dict[str, dict] = {}
    for ratio in RATIOS:
        sheet = Image.new("RGBA", (width * ratio, height * ratio), (0, 0, 0, 0))
        index: dict[str, dict] = {}
        for name, (x, y, w, h) in places.items():
            png = cairosvg.svg2png(bytestring=documents[name].encode(), output_width=w * ratio,
                                   output_height=h * ratio)
            sheet.alpha_composite(Image.open(io.BytesIO(png)).convert("RGBA"), (x * ratio, y * ratio))
            index[name] = {"x": x * ratio, "y": y * ratio, "width": w * ratio, "height": h * ratio,
                           "pixelRatio": ratio}
        suffix = "" if ratio == 1 else f"@{ratio}x"
        sheet.save(out_dir / f"sprite{suffix}.png", optimize=True)
        (out_dir / f"sprite{suffix}.json").write_text(json.dumps(index, indent=1, sort_keys=True))
        if ratio == 1:
            index1 = index
    return index1


def extract_face(ttc: str, family: str, out: Path) -> None:
    """Save the ``family`` face of a font collection as a font file of its own."""
    out.parent.mkdir(parents=True, exist_ok=True)
    _face(ttc, family).save(str(out))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m rallypoint.api.tiles.mapassets",
                                     description="Build the web map's sprite, or take a face out of a font collection.")
    sub = parser.add_subparsers(dest="what", required=True)
    sprite = sub.add_parser("sprite", help="the sprite of the layers' QGIS marker symbols")
    sprite.add_argument("out", type=Path)
    sprite.add_argument("--font", default=NOTO_BOLD, help="the font of font markers' characters (a .ttc or .otf)")
    font = sub.add_parser("font", help="one face of a font collection as a font file")
    font.add_argument("ttc")
    font.add_argument("family")
    font.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    if args.what == "sprite":
        index = build_sprite(args.out, outline_of(args.font))
        print(f"sprite: {len(index)} icons in {args.out}")
    else:
        extract_face(args.ttc, args.family, args.out)
        print(f"font: {args.family} from {args.ttc} in {args.out}")


if __name__ == "__main__":
    main()
