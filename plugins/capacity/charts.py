"""The report's map and charts, drawn with matplotlib (object API, Agg canvas: no pyplot, no global state).

The map is a :class:`~rallypoint_plugins.reporting.maps.Drawn` (PNG and the furniture on it: legend, scale bar,
north arrow); the charts are PNG bytes. Fonts and the figure helpers are the reports' shared ones
(:mod:`rallypoint_plugins.reporting.maps`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Sequence

import numpy as np

from rallypoint_plugins.reporting.maps import Drawn, Style, drawn, figure, png_bytes, polygon_paths
from rallypoint_plugins.reporting import maps

from .occupancy import STATE_TITLES

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd
    import pandas as pd

STATE_COLOURS = {"full": "#111111", "near_full": "#ffd700", "available": "#2166ac", "closed": "#555555",
                 "unknown": "#bdbdbd", "no_places": "#9ecae1"}
SHORT_CMAP = "OrRd"
NO_SHORTFALL = "#d9f0d3"


def shortfall_map(areas: "gpd.GeoDataFrame", shelters: "gpd.GeoDataFrame", epsg: int, style: Style,
                  legend_title: str, shelters_title: str, no_shortfall: str, label_top: int = 12) -> Drawn:
    """Areas coloured by shortfall (green where none), shelters on top sized by places, coloured by state; with
    its legend, colour bar, scale bar and north arrow."""
    import matplotlib
    from matplotlib.cm import ScalarMappable
    from matplotlib.collections import PatchCollection
    from matplotlib.colors import ListedColormap, Normalize
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, PathPatch

    a = areas.to_crs(epsg)
    minx, miny, maxx, maxy = a.total_bounds
    span = max(maxx - minx, maxy - miny)
    geoms = a.geometry.simplify(span / 3000.0)
    short = a["shortfall"].to_numpy(dtype=float)
    norm = Normalize(vmin=0, vmax=max(short.max(), 1.0))
    cmap = ListedColormap(matplotlib.colormaps[SHORT_CMAP](np.linspace(0.15, 1.0, 256)))
    with matplotlib.rc_context(style.rc):
        ratio = (maxy - miny) / max(maxx - minx, 1.0)
        fig = figure(style, 9.0, max(4.0, min(12.0, 9.0 * ratio)) + 0.6)
        ax = fig.add_subplot(1, 1, 1)
        patches, colours = [], []
        for g, s in zip(geoms, short):
            for p in polygon_paths(g):
                patches.append(PathPatch(p))
                colours.append(NO_SHORTFALL if s <= 0 else cmap(norm(s)))
        ax.add_collection(PatchCollection(patches, facecolor=colours, edgecolor="#555555", linewidth=0.5))
        s = shelters[~shelters.geometry.isna()].to_crs(epsg)
        xy = np.column_stack([s.geometry.x, s.geometry.y]) if len(s) else np.zeros((0, 2))
        places = np.nan_to_num(np.asarray(s["places"].astype("Float64").fillna(0), dtype=float))
        size = 4 + 60 * np.sqrt(places / max(float(places.max()) if len(places) else 1.0, 1.0))
        handles = []
        for state in ("available", "near_full", "full", "closed", "no_places", "unknown"):
            m = (s["state"] == state).to_numpy()
            if state in ("no_places", "unknown") and not m.any():
                continue  # the legend names these only where there is one
            marker = "x" if state == "closed" else "s" if state == "unknown" else "o"
            edge = None if state == "closed" else ("black" if state in ("near_full", "unknown") else "white")
            ax.scatter(xy[m, 0], xy[m, 1], s=size[m] if state not in ("closed", "unknown", "no_places") else 14,
                       c=STATE_COLOURS[state],
                       marker=marker, linewidths=0.8 if state == "closed" else 0.4, edgecolors=edge, alpha=0.9,
                       zorder=3)
            handles.append(Line2D([], [], marker=marker, linestyle="", color=STATE_COLOURS[state],
                                  markeredgecolor=edge or STATE_COLOURS[state], markeredgewidth=0.5,
                                  label=f"{style.text(*STATE_TITLES[state])} ({int(m.sum())})"))
        if (short <= 0).any():
            handles.append(Patch(facecolor=NO_SHORTFALL, edgecolor="#555555", linewidth=0.5, label=no_shortfall))
        order = np.argsort(-short)[:label_top] if len(a) > label_top else np.arange(len(a))
        pts = a.geometry.representative_point()
        for i in order:
            ax.annotate(style.area_label(a["name"].iat[i], a["adcode"].iat[i]), (pts.iat[i].x, pts.iat[i].y),
                        ha="center", va="center", fontsize=8 if len(a) <= label_top else 7, zorder=4,
                        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.6})
        ax.set_xlim(minx - span * 0.02, maxx + span * 0.02)
        ax.set_ylim(miny - span * 0.02, maxy + span * 0.02)
        ax.set_aspect("equal")
        ax.set_axis_off()
        maps.furnish(ax, handles, style.lang, title=shelters_title, loc="upper center", bbox_to_anchor=(0.5, 0.0),
                     ncol=5, frameon=False)
        maps.colour_legend(fig, ScalarMappable(norm=norm, cmap=cmap), ax, legend_title)
        return drawn(fig)


def demand_bars(table: "pd.DataFrame", style: Style, labels: Sequence[str]) -> bytes:
    """Horizontal bars per area: people to shelter against places (``labels``: demand, places, axis)."""
    import matplotlib
    from matplotlib.ticker import FuncFormatter

    n = len(table)
    with matplotlib.rc_context(style.rc):
        fig = figure(style, 9.0, 1.2 + 0.32 * n)
        ax = fig.add_subplot(1, 1, 1)
        y = np.arange(n)[::-1]
        names = [style.area_label(nm, code) for nm, code in zip(table["name"], table["adcode"])]
        ax.barh(y + 0.2, table["demand"], height=0.4, color="#9e9e9e", label=labels[0])
        ax.barh(y - 0.2, table["places"], height=0.4, color="#2166ac", label=labels[1])
        top = float(max(table["demand"].max(), table["places"].max(), 1))
        for yi, sh in zip(y, table["shortfall"]):
            if sh > 0:
                ax.text(top * 1.01, yi, f"-{int(sh):,}", va="center", fontsize=7, color="#b2182b")
        ax.set_yticks(y)
        ax.set_yticklabels(names)
        ax.set_xlim(0, top * 1.15)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.legend(loc="lower right", fontsize=8)
        ax.set_xlabel(labels[2])
        ax.grid(axis="x", color="#dddddd", linewidth=0.5)
        ax.set_axisbelow(True)
        return png_bytes(fig)


def days_heatmap(rows: Sequence[str], needs: Sequence[str], days: np.ndarray, style: Style, cap: float = 14.0) -> bytes:
    """Days of supply, areas (rows) × consumable needs (columns), red under 3 days, green from ``cap`` days."""
    import matplotlib

    days = np.asarray(days, dtype=float)
    with matplotlib.rc_context(style.rc):
        fig = figure(style, 2.2 + 1.3 * len(needs), 1.0 + 0.3 * len(rows))
        ax = fig.add_subplot(1, 1, 1)
        shown = np.clip(np.nan_to_num(days, nan=cap), 0, cap)
        ax.imshow(shown, cmap="RdYlGn", vmin=0, vmax=cap, aspect="auto")
        for i in range(days.shape[0]):
            for j in range(days.shape[1]):
                v = days[i, j]
                ax.text(j, i, "—" if not math.isfinite(v) else (f"{v:.1f}" if v < 100 else f"{v:,.0f}"),
                        ha="center", va="center", fontsize=8)
        ax.set_xticks(range(len(needs)))
        ax.set_xticklabels(needs)
        ax.xaxis.tick_top()
        ax.set_yticks(range(len(rows)))
        ax.set_yticklabels(rows)
        ax.tick_params(length=0)
        for side in ax.spines.values():
            side.set_visible(False)
        return png_bytes(fig)


def coverage_bars(needs: Sequence[str], shares: Sequence[float], style: Style, xlabel: str) -> bytes:
    """Share (%) of each one-off need the region's depots cover, with the 100 % line."""
    import matplotlib

    with matplotlib.rc_context(style.rc):
        fig = figure(style, 7.0, 0.8 + 0.45 * len(needs))
        ax = fig.add_subplot(1, 1, 1)
        pct = [0.0 if not math.isfinite(s) else 100.0 * s for s in shares]
        y = np.arange(len(needs))[::-1]
        ax.barh(y, pct, color=["#1a9850" if p >= 100 else "#d73027" for p in pct], height=0.6)
        for yi, p in zip(y, pct):
            ax.text(p + 1, yi, f"{p:.1f} %", va="center", fontsize=8)
        ax.axvline(100, color="black", linewidth=0.8, linestyle="--")
        ax.set_yticks(y)
        ax.set_yticklabels(needs)
        ax.set_xlim(0, max(110.0, max(pct, default=0) * 1.15))
        ax.set_xlabel(xlabel)
        return png_bytes(fig)
