"""The portal page (``/`` in a browser), its panels' figures (``/portal/panels/{id}``) and the sign-in page.

The page answers at once from the registry's own figures (:mod:`.glance`); each plugin panel's figures come
apart, fetched by the page's script, so a slow one holds nothing back. A panel runs inside the request, with
the request mapping a plugin's web endpoint gets (:mod:`rallypoint.web_endpoints`) plus ``lang``.
"""

from __future__ import annotations

import logging
from typing import Any

from ...analysis import analyses
from ...portal import Panel
from .. import html
from ..auth import Principal, sees_personal_data
from ..context import Context
from ..errors import Forbidden, NotFound, Unauthorized
from ..features.collections import site_title
from ..request import Request, check_params
from ..responses import Response, json_response
from .glance import glance, worded_changes
from .texts import LANGS, ROLES as ROLE_WORDS, TEXTS, page_lang

log = logging.getLogger("rallypoint.portal")


def panels(ctx: Context) -> list[Panel]:
    found = [p for p in ctx.plugins.collect("rallypoint_portal_panels") if isinstance(p, Panel)]
    return sorted(found, key=lambda p: (p.order, p.id))


def _may(principal: Principal | None, role: str | None) -> bool:
    return role is None or (principal is not None and principal.has(role))


def _other(lang: str) -> str:
    return LANGS[1 - LANGS.index(lang)]


def common(ctx: Context, req: Request, lang: str) -> dict[str, Any]:
    """What every portal page shows around its content: the site, the words, who is signed in."""
    t = TEXTS[lang]
    p = req.principal
    user = None
    if p is not None:
        user = t["signed_in_as"].format(name=p.name, role=ROLE_WORDS[lang].get(p.role, p.role))
    return {"site": site_title(ctx), "lang": lang, "t": t, "user": user,
            "switch_href": req.url(req.path, req.args.encode(lang=_other(lang))),
            "map_href": req.url("/map", f"lang={lang}"), "here": req.path + ("?" + req.args.encode() if req.args else "")}


def _machine_links(req: Request, t: dict[str, str]) -> list[tuple[str, str]]:
    """The landing page's links for software, each once (the JSON names some twice, by both of OGC's rels)."""
    return [(req.url("/api", "f=html"), t["api_doc"]), (req.url("/conformance", "f=html"), t["conformance"]),
            (req.url("/collections", "f=html"), t["collections"]), (req.url("/tiles"), t["tiles"]),
            (req.url("/tileMatrixSets"), t["tms"]), (req.url("/", "f=json"), t["landing_json"])]


def portal_page(ctx: Context, req: Request) -> Response:
    lang, headers = page_lang(req)
    t = TEXTS[lang]
    personal = sees_personal_data(req.principal)
    g = glance(ctx)
    shown_panels = []
    for p in panels(ctx):
        links = [{"href": req.url(link.href.replace("{lang}", lang)), "title": link.title(lang),
                  "note": None if _may(req.principal, link.role) else
                  t["needs_role"].format(role=ROLE_WORDS[lang].get(link.role, link.role))}
                 for link in p.links]
        shown_panels.append({"id": p.id, "title": p.title(lang), "links": links, "has_figures": p.figures is not None,
                             "locked": not _may(req.principal, p.role),
                             "src": req.url(f"/portal/panels/{p.id}", f"lang={lang}")})
    found = analyses(ctx.plugins)
    processes = [{"href": req.url(f"/processes/{a.name}", "f=html"), "title": a.title(lang),
                  "description": a.description(lang)} for a in sorted(found.values(), key=lambda a: a.name)]
    layer_titles = {lay["name"]: lay["title_en"] if lang == "en" else lay["title_zh"] for lay in g.layers}
    config = {"lang": lang, "search": req.url("/search"), "texts": {k: t[k] for k in (
        "loading", "unavailable", "search_none", "details", "sign_in_to_see")}}
    return html.render(req, "portal.html", **common(ctx, req, lang), glance=g, layer_titles=layer_titles,
                       changes=worded_changes(g, lang, personal), personal=personal, panels=shown_panels,
                       processes=processes, machine=_machine_links(req, t), config=config,
                       crumbs=[], headers=headers)


def panel_figures(ctx: Context, req: Request) -> Response:
    """``/portal/panels/{id}``: one panel's figures as JSON (``lang``: the labels' language)."""
    check_params(req, ("lang",))
    lang, _ = page_lang(req)
    wanted = req.path_params["panel_id"]
    panel = next((p for p in panels(ctx) if p.id == wanted), None)
    if panel is None or panel.figures is None:
        raise NotFound(f"no portal panel {wanted!r} with figures")
    if panel.role and not _may(req.principal, panel.role):
        if req.principal is None:
            raise Unauthorized(f"the figures of {wanted} need the role {panel.role} or above: sign in")
        raise Forbidden(f"the figures of {wanted} need the role {panel.role} or above")
    p = req.principal
    mapping = {"method": "GET", "path": req.path, "path_params": {}, "args": {}, "json": None, "body": b"",
               "headers": dict(req.headers), "principal": None if p is None else {"name": p.name, "role": p.role},
               "personal": sees_personal_data(p), "registry": ctx.registry, "lang": lang}
    try:
        figures = panel.figures(mapping)
    except Exception:  # a plugin's failure is its panel's, not the portal's: said, and logged
        log.warning("portal panel %s failed", wanted, exc_info=True)
        return json_response({"id": wanted, "title": panel.title(lang), "unavailable": True}, status=503)
    return json_response({"id": wanted, "title": panel.title(lang), "figures": [
        {"label": f.label(lang), "value": f.value, "alert": bool(f.alert)} for f in figures]})


def signin_page(ctx: Context, req: Request, *, lang: str, next_path: str, status: int = 200,
                message: str | None = None, name: str = "", headers: dict[str, str] | None = None) -> Response:
    """The sign-in form (the web layer posts it back with its CSRF token and keeps the session's cookie)."""
    t = TEXTS[lang]
    page = common(ctx, req, lang)
    page["switch_href"] = req.url("/signin", f"lang={_other(lang)}&next={_quote(next_path)}")
    roles = dict(ROLE_WORDS[lang])
    already = None
    if req.principal is not None:
        already = t["already"].format(name=req.principal.name, role=roles.get(req.principal.role, req.principal.role))
    status_, headers_, body = html.render(req, "signin.html", **page, next_path=next_path, message=message,
                                          name=name, already=already, crumbs=[], headers=headers)
    return status, headers_, body


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="/")
