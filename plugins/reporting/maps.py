"""Maps and charts of the reports, drawn offline with matplotlib (object API, Agg canvas: no pyplot, no global
state), and the furniture every map carries: a legend, a scale bar and a north arrow.

A map's axes are in metres of a projected CRS (the reports use the CGCS2000 Gauss–Krüger zone of their area), with
equal aspect, so the scale bar (an anchored box of matplotlib's :mod:`matplotlib.offsetbox`) measures true
distances; the north arrow points to grid north, within 1.5° of true north in a 3-degree zone.
Each piece of furniture is tagged with a ``gid`` (``legend``, ``scale-bar``, ``north-arrow``): :func:`drawn` reads
the tags off the finished figure, and the report's ``<img>`` names what its map holds (``data-furniture``), so a
map without one of them shows in the page and in the tests.

Chinese text needs a CJK font: the first installed of :data:`CJK_FONTS` (Debian's fonts-noto-cjk gives
'Noto Sans CJK SC', which matplotlib may list under the collection's first face, 'Noto Sans CJK JP': it holds the
same simplified characters). Without one, labels fall back to division codes and English, never to boxes.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

CJK_FONTS = ("Noto Sans CJK SC", "Source Han Sans SC", "Noto Sans SC", "Noto Sans CJK JP", "Source Han Sans CN",
             "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "SimHei", "Microsoft YaHei", "PingFang SC")
#: The furniture every map carries, by the gid its artist is tagged with.
FURNITURE = ("legend", "scale-bar", "north-arrow")
_WORDS = {"legend": ("图例", "legend"), "scale-bar": ("比例尺", "scale bar"), "north-arrow": ("指北针", "north arrow")}


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The family name of an installed CJK font, or None."""
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in names:
            return name
    return next((n for n in sorted(names) if "CJK" in n and "Sans" in n), None)


class Style:
    """Fonts and labels for one report language."""

    def __init__(self, lang: str):
        self.cjk = cjk_font()
        self.lang = lang if (lang == "en" or self.cjk) else "en"  # no CJK font: English charts
        self.rc = {"font.family": [self.cjk, "DejaVu Sans"] if self.cjk else ["DejaVu Sans"],
                   "axes.unicode_minus": False, "font.size": 9}

    def area_label(self, name: str, adcode: str) -> str:
        return name if self.cjk else adcode

    def text(self, zh: str, en: str) -> str:
        return zh if self.lang == "zh" else en


def figure(style: Style, w: float, h: float):
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(style.rc):
        return Figure(figsize=(w, h))


def png_bytes(fig, dpi: int = 110) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def polygon_paths(geom):
    """matplotlib Paths (exterior and holes) of a (multi)polygon; the parts that are not polygons (the convex hull
    of two points is a line) and missing geometries give none."""
    import shapely
    from matplotlib.path import Path

    out = []
    if geom is None:
        return out
    for part in shapely.get_parts(geom):
        if part.is_empty or part.geom_type != "Polygon":
            continue
        rings = [np.asarray(part.exterior.coords)[:, :2]] + [np.asarray(r.coords)[:, :2] for r in part.interiors]
        out.append(Path.make_compound_path(*[Path(r, closed=True) for r in rings]))
    return out


def nice_length(span: float) -> float:
    """The longest 1, 2 or 5 × 10ⁿ metres not over a fifth of ``span`` (metres).

    >>> nice_length(23_000), nice_length(2_400), nice_length(180)
    (2000.0, 200.0, 20.0)
    """
    raw = max(span / 5.0, 1e-9)
    step = 10.0 ** np.floor(np.log10(raw))
    return float(max(m * step for m in (1, 2, 5) if m * step <= raw))


def distance_words(metres: float, lang: str) -> str:
    """``5 千米`` / ``5 km``, ``200 米`` / ``200 m``."""
    if metres >= 1000:
        return f"{metres / 1000:g} 千米" if lang == "zh" else f"{metres / 1000:g} km"
    return f"{metres:g} 米" if lang == "zh" else f"{metres:g} m"


def scale_bar(ax, lang: str, *, loc: str = "lower left", fontsize: float = 8):
    """A scale bar in the axes' own units (metres): a bar of a round length anchored in a corner, with its length
    in words under it. Built from matplotlib.offsetbox as ``mpl_toolkits``' AnchoredSizeBar is (that module is
    matplotlib's too, but not a distribution of its own, so an analysis could not declare it as a package)."""
    from matplotlib.offsetbox import AnchoredOffsetbox, AuxTransformBox, TextArea, VPacker
    from matplotlib.patches import Rectangle

    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    length = nice_length(abs(x1 - x0))
    bar = AuxTransformBox(ax.transData)
    bar.add_artist(Rectangle((0, 0), length, abs(y1 - y0) / 250, facecolor="black", edgecolor="black"))
    label = TextArea(distance_words(length, lang), textprops={"size": fontsize})
    box = AnchoredOffsetbox(loc, child=VPacker(children=[bar, label], align="center", pad=0, sep=3), pad=0.4,
                            borderpad=0.6, frameon=True)
    box.patch.set_alpha(0.75)
    box.patch.set_edgecolor("none")
    box.set_gid("scale-bar")
    box.set_zorder(20)
    ax.add_artist(box)
    return box


def north_arrow(ax, lang: str, *, x: float = 0.955, y: float = 0.955, size: float = 0.08):
    """An arrow pointing up (grid north) with 北 / N under its head, in the axes' corner."""
    arrow = ax.annotate("北" if lang == "zh" else "N", xy=(x, y), xytext=(x, y - size), xycoords="axes fraction",
                        textcoords="axes fraction", ha="center", va="top", fontsize=10, fontweight="bold",
                        arrowprops={"facecolor": "black", "edgecolor": "black", "width": 3, "headwidth": 10,
                                    "headlength": 10}, zorder=20)
    arrow.set_gid("north-arrow")
    return arrow


def legend(ax, handles, *, title: str | None = None, **kw):
    """The map's legend (matplotlib's), tagged."""
    kw.setdefault("fontsize", 8)
    kw.setdefault("title_fontsize", 8)
    leg = ax.legend(handles=handles, title=title, **kw)
    leg.set_gid("legend")
    leg.set_zorder(20)
    return leg


def colour_legend(fig, mappable, ax, label: str, **kw):
    """A colour bar as the legend of a choropleth, tagged as the map's legend."""
    kw.setdefault("shrink", 0.6)
    kw.setdefault("pad", 0.01)
    cb = fig.colorbar(mappable, ax=ax, **kw)
    cb.set_label(label)
    cb.ax.set_gid("legend")
    return cb


def furnish(ax, handles, lang: str, *, title: str | None = None, scale_loc: str = "lower left", **legend_kw):
    """All the furniture at once: the legend of ``handles``, a scale bar and a north arrow."""
    legend(ax, handles, title=title, **legend_kw)
    scale_bar(ax, lang, loc=scale_loc)
    north_arrow(ax, lang)


@dataclass(frozen=True)
class Drawn:
    """A finished map: its PNG, and the furniture found on the figure."""

    png: bytes
    furniture: tuple[str, ...]

    def img(self, alt: str, lang: str, cls: str = "map") -> str:
        """The map as an ``<img>``: its alt text names the furniture, ``data-furniture`` lists it."""
        words = ("、" if lang == "zh" else ", ").join(_WORDS[g][0 if lang == "zh" else 1] for g in self.furniture)
        text = f"{alt}（{words}）" if lang == "zh" and words else (f"{alt} ({words})" if words else alt)
        data = base64.b64encode(self.png).decode("ascii")
        return (f'<img class="{cls}" alt="{html.escape(text)}" data-furniture="{" ".join(self.furniture)}" '
                f'src="data:image/png;base64,{data}">')


def furniture(fig) -> tuple[str, ...]:
    """The furniture on ``fig``: the gids of :data:`FURNITURE` its artists carry, in that order."""
    found = {a.get_gid() for a in fig.findobj(lambda a: a.get_gid() in FURNITURE)}
    for ax in fig.axes:  # anchored artists and legends are children of the axes
        found |= {a.get_gid() for a in ax.get_children() if a.get_gid() in FURNITURE}
        if ax.get_gid() in FURNITURE:
            found.add(ax.get_gid())
    return tuple(g for g in FURNITURE if g in found)


def drawn(fig, dpi: int = 110) -> Drawn:
    """Render ``fig`` to PNG and note its furniture."""
    return Drawn(png_bytes(fig, dpi=dpi), furniture(fig))
