"""Rendering the HTML pages, and showing stored values with their Chinese/English labels."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ..schema import FieldDef
from .request import Request
from .responses import Response, html_response


@lru_cache(maxsize=1)
def _env():
    import jinja2

    from .job_pages import JOB_PAGES
    from .templates import PAGES

    return jinja2.Environment(loader=jinja2.DictLoader({**PAGES, **JOB_PAGES}), autoescape=True, trim_blocks=True,
                              lstrip_blocks=True)


def render(req: Request, template: str, *, site: str, crumbs: list[tuple[str, str]],
           json_href: str | None = None, headers: dict[str, str] | None = None, **data: Any) -> Response:
    page = _env().get_template(template).render(site=site, root=req.base_url, crumbs=crumbs,
                                                json_href=json_href, csrf_token=req.csrf_token, **data)
    return html_response(page, headers=headers)


def show_value(f: FieldDef, value: Any) -> str:
    """A stored value as a person reads it: allowed codes with their labels, yes/no, units."""
    if value is None:
        return ""
    if f.values:
        codes = str(value).split(",") if f.type == "codes" else [str(value)]
        shown = []
        for c in codes:
            v = f.value(c)
            shown.append(f"{v.zh} ({v.en})" if v else c)
        return "、".join(shown)
    if f.type == "boolean":
        return "是 yes" if value else "否 no"
    if f.unit and f.type in ("integer", "real"):
        return f"{value:g} {f.unit}" if isinstance(value, float) else f"{value} {f.unit}"
    return str(value)


def show_geometry(text: str | None) -> str:
    """A short text for a GeoJSON geometry: a point's coordinates, else its type and size."""
    if not text:
        return ""
    import orjson

    geom = orjson.loads(text)
    if geom.get("type") == "Point":
        x, y = geom["coordinates"][:2]
        return f"POINT ({x:.6f} {y:.6f})"
    return f"{geom.get('type')} ({len(text):,} bytes of GeoJSON)"
