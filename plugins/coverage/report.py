"""The coverage report: the result in a sentence, headline figures, a map of covered and uncovered people (with
its legend), and figures by area. Every edge case reads plainly: everyone covered, nobody covered, nobody there."""

from __future__ import annotations

import base64
import html
import io

import numpy as np

from .coverage import label


def verdict(region: dict, tmax: float, lang: str) -> str:
    """The result in one sentence: who is covered within the longest walking time, and who is not.

    >>> verdict({"population": 500.0, "covered_60min": 500.0}, 60.0, "en")
    'Everyone (500 people) reaches a usable shelter within 60 minutes: nobody is left uncovered.'
    >>> verdict({"population": 500.0, "covered_60min": 0.0}, 60.0, "en")
    'Of 500 people, nobody is covered: none reaches a usable shelter within 60 minutes.'
    """
    zh = lang == "zh"
    total = round(float(region["population"]))
    covered = round(float(region[f"covered_{label(tmax)}"]))
    if total <= 0:
        return ("分析范围内没有人口：无需覆盖，也无未覆盖人口。" if zh else
                "Nobody lives in the areas analysed: there is nobody to cover and nobody uncovered.")
    if covered >= total:
        return (f"全部 {total:,} 人均可在 {tmax:g} 分钟内步行到达可用避难场所：无未覆盖人口。" if zh else
                f"Everyone ({total:,} people) reaches a usable shelter within {tmax:g} minutes: nobody is left "
                f"uncovered.")
    if covered <= 0:
        return (f"{total:,} 人中无人被覆盖：没有人能在 {tmax:g} 分钟内步行到达可用避难场所。" if zh else
                f"Of {total:,} people, nobody is covered: none reaches a usable shelter within {tmax:g} minutes.")
    return (f"{total:,} 人中 {covered:,} 人（{100 * covered / total:.1f} %）可在 {tmax:g} 分钟内步行到达可用避难场所，"
            f"{total - covered:,} 人未覆盖。" if zh else
            f"{covered:,} of {total:,} people ({100 * covered / total:.1f} %) reach a usable shelter within {tmax:g} "
            f"minutes; {total - covered:,} are not covered.")


def _map_png(layers, lang: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from rallypoint_plugins.capacity.charts import cjk_font

    font = cjk_font()
    zh = lang == "zh" and bool(font)

    def xy(frame) -> np.ndarray:
        g = frame.geometry[~frame.geometry.isna() & ~frame.geometry.is_empty] if len(frame) else frame.geometry
        return np.column_stack([g.x, g.y]) if len(g) else np.zeros((0, 2))

    with plt.rc_context({"font.family": [font, "DejaVu Sans"] if font else ["DejaVu Sans"]}):
        fig, ax = plt.subplots(figsize=(8, 7), dpi=90)
        areas = layers["coverage_areas"]
        handles = []
        if len(areas):
            areas.boundary.plot(ax=ax, color="#888", linewidth=0.6)
            handles.append(Line2D([], [], color="#888", linewidth=0.6, label="区域界线" if zh else "Area boundaries"))
        sa = layers["coverage_service_areas"]
        if len(sa):
            biggest = sa[sa["minutes"] == sa["minutes"].max()]
            biggest.plot(ax=ax, color="#9ecae1", alpha=0.35, edgecolor="none")
            t = float(sa["minutes"].max())
            handles.append(Patch(facecolor="#9ecae1", alpha=0.35,
                                 label=f"{t:g} 分钟服务范围" if zh else f"Reached within {t:g} min"))
        unc = xy(layers["coverage_uncovered"])
        if len(unc):  # one raster scatter: ~10^5 cells on a city, slow as separate vector markers
            ax.scatter(unc[:, 0], unc[:, 1], s=1, color="#d62728", alpha=0.5, linewidths=0, rasterized=True)
        handles.append(Line2D([], [], marker="o", linestyle="", markersize=3, color="#d62728",
                              label=(f"未覆盖人口格网（{len(unc)}）" if zh else f"Uncovered cells ({len(unc)})")))
        s = layers["coverage_shelters"]
        for mask, colour, marker, size, zh_l, en_l in (
                (s["eligible"].to_numpy(dtype=bool), "#08519c", "^", 18, "可用避难场所", "Usable shelters"),
                (~s["eligible"].to_numpy(dtype=bool), "#999", "x", 10, "不可用避难场所", "Shelters not usable")):
            pts = xy(s[mask])
            if len(pts):
                ax.scatter(pts[:, 0], pts[:, 1], s=size, color=colour, marker=marker)
            handles.append(Line2D([], [], marker=marker, linestyle="", color=colour,
                                  label=f"{zh_l if zh else en_l} ({len(pts)})"))
        sites = layers["coverage_sites"]
        mc = xy(sites[sites["problem"] == "maximal_covering"]) if len(sites) else np.zeros((0, 2))
        if len(mc):
            ax.scatter(mc[:, 0], mc[:, 1], s=40, color="#2ca02c", marker="*")
            handles.append(Line2D([], [], marker="*", linestyle="", color="#2ca02c", markersize=9,
                                  label=f"建议新增场址（{len(mc)}）" if zh else f"Proposed sites ({len(mc)})"))
        if len(areas):
            minx, miny, maxx, maxy = areas.total_bounds
            if np.all(np.isfinite([minx, miny, maxx, maxy])) and maxx > minx and maxy > miny:
                pad = 0.02 * max(maxx - minx, maxy - miny)
                ax.set_xlim(minx - pad, maxx + pad)
                ax.set_ylim(miny - pad, maxy + pad)
        ax.set_aspect("equal", adjustable="datalim")
        ax.set_title("服务范围、未覆盖人口与建议场址" if zh else "Service areas, uncovered people and proposed sites",
                     fontsize=9)
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3, fontsize=8, frameon=False)
        ax.set_axis_off()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", bbox_inches="tight")
        plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def render(layers, region, rows, info, warnings, lang: str = "zh") -> str:
    zh = lang == "zh"
    title = ("应急避难疏散覆盖分析" if zh else "Evacuation coverage") + f" — {html.escape(str(info['registry']))}"
    head = "".join(f"<tr><td>{html.escape(z if zh else e)}</td><td>{v:,}</td></tr>" if isinstance(v, (int, float))
                   else f"<tr><td>{html.escape(z if zh else e)}</td><td>{html.escape(str(v))}</td></tr>"
                   for z, e, v in rows)
    params = ", ".join(f"{k}={v}" for k, v in info["params"].items())
    sit = info.get("situation")
    situation = (f"<p><b>{'分配所用容量' if zh else 'Capacity the assignment fills'}{'：' if zh else ': '}</b>"
                 f"{html.escape(sit.describe(lang))}</p>" if sit is not None else "")
    result = f"<p><b>{html.escape(verdict(region, info['thresholds'][-1], lang))}</b></p>"
    areas = layers["coverage_areas"].drop(columns="geometry")
    warn = "".join(f"<li>{html.escape(w)}</li>" for w in warnings) or f"<li>{'无' if zh else 'none'}</li>"
    return f"""<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:auto}}table{{border-collapse:collapse;font-size:12px}}
td,th{{border:1px solid #ccc;padding:2px 6px;text-align:right}}</style></head><body>
<h1>{title}</h1><p>{html.escape(params)}</p>{situation}{result}
<h2>{"主要数字" if zh else "Headline figures"}</h2><table>{head}</table>
<h2>{"地图" if zh else "Map"}</h2><img src="data:image/png;base64,{_map_png(layers, lang)}" alt="map">
<h2>{"分区域数字" if zh else "Figures by area"}</h2>{areas.to_html(index=False, na_rep="—",
                                                                  float_format=lambda v: f"{v:,.1f}")}
<h2>{"提示" if zh else "Warnings"}</h2><ul>{warn}</ul></body></html>"""
