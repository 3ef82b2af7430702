"""The coverage report: headline figures, a map of covered and uncovered people, and figures by area."""

from __future__ import annotations

import base64
import html
import io


def _map_png(layers, lang: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rallypoint_plugins.capacity.charts import cjk_font

    font = cjk_font()
    with plt.rc_context({"font.family": [font, "DejaVu Sans"] if font else ["DejaVu Sans"]}):
        fig, ax = plt.subplots(figsize=(8, 7), dpi=90)
        areas = layers["coverage_areas"]
        areas.boundary.plot(ax=ax, color="#888", linewidth=0.6)
        sa = layers["coverage_service_areas"]
        if len(sa):
            biggest = sa[sa["minutes"] == sa["minutes"].max()]
            biggest.plot(ax=ax, color="#9ecae1", alpha=0.35, edgecolor="none")
        unc = layers["coverage_uncovered"]
        if len(unc):  # one raster scatter: ~10^5 cells on a city, slow as separate vector markers
            ax.scatter(unc.geometry.x, unc.geometry.y, s=1, color="#d62728", alpha=0.5, linewidths=0,
                       rasterized=True)
        s = layers["coverage_shelters"]
        s[s["eligible"]].plot(ax=ax, markersize=18, color="#08519c", marker="^")
        s[~s["eligible"]].plot(ax=ax, markersize=10, color="#999", marker="x")
        sites = layers["coverage_sites"]
        mc = sites[sites["problem"] == "maximal_covering"] if len(sites) else sites
        if len(mc):
            mc.plot(ax=ax, markersize=40, color="#2ca02c", marker="*")
        ax.set_title("服务范围、未覆盖人口与建议场址" if lang == "zh" and font else
                     "Service areas, uncovered people (red), usable shelters (blue), proposed sites (green)",
                     fontsize=9)
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
    areas = layers["coverage_areas"].drop(columns="geometry")
    warn = "".join(f"<li>{html.escape(w)}</li>" for w in warnings)
    return f"""<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:auto}}table{{border-collapse:collapse;font-size:12px}}
td,th{{border:1px solid #ccc;padding:2px 6px;text-align:right}}</style></head><body>
<h1>{title}</h1><p>{html.escape(params)}</p>{situation}
<h2>{"主要数字" if zh else "Headline figures"}</h2><table>{head}</table>
<h2>{"地图" if zh else "Map"}</h2><img src="data:image/png;base64,{_map_png(layers, lang)}" alt="map">
<h2>{"分区域数字" if zh else "Figures by area"}</h2>{areas.to_html(index=False, float_format=lambda v: f"{v:,.1f}")}
<h2>{"提示" if zh else "Warnings"}</h2><ul>{warn}</ul></body></html>"""
