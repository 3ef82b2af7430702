"""Panels a plugin adds to the web portal (``/`` in a browser), independent of the web framework.

A plugin returns :class:`Panel` objects from the ``rallypoint_portal_panels`` hook. The portal shows each
panel's title and links at once, and fetches its figures apart (``/portal/panels/{id}``), so a panel whose
figures take seconds never holds the page, the map or the other panels back. The figures are computed by
the panel's ``figures`` callable from the same request mapping a plugin's web endpoint gets (``registry``,
``principal``, ``personal``, ``args``, …; see :mod:`rallypoint.web_endpoints`) plus ``lang``, so a panel
shows exactly the figures its plugin's own endpoint or report gives::

    from rallypoint.hookspecs import hookimpl
    from rallypoint.portal import Figure, Link, Panel

    def _figures(request):
        reg = request["registry"]
        return [Figure("水井数", "Wells", reg.count("wells"))]

    @hookimpl
    def rallypoint_portal_panels():
        return [Panel("wells", "水源", "Water sources", _figures,
                      links=(Link("/plugins/wells?f=html", "水源报告", "Water report", role="reader"),))]

A panel's ``role`` (like an endpoint's) is the least role a visitor needs to see its figures; below it the
portal says sign-in is needed and calls nothing. A link's ``role`` is shown beside it (a browser asks for
sign-in when a link needs it). A panel that fails shows that it is unavailable; the rest of the portal does
not notice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Figure:
    """One figure of a panel: its label in both languages and its value as shown (a number, or text with its
    unit and decimals already written, such as ``"55.8 %"``). ``alert`` marks one that needs attention."""

    label_zh: str
    label_en: str
    value: Any
    alert: bool = False

    def label(self, lang: str) -> str:
        return self.label_en if lang == "en" else self.label_zh


@dataclass(frozen=True)
class Link:
    """A page of this server a panel leads to: a report, a list, an analysis. ``href`` is a path (``/...``) on
    the server; ``{lang}`` in it is replaced by the portal's language (``zh`` or ``en``)."""

    href: str
    title_zh: str
    title_en: str
    role: str | None = None

    def title(self, lang: str) -> str:
        return self.title_en if lang == "en" else self.title_zh


@dataclass(frozen=True)
class Panel:
    """A block of the portal: a title, figures computed on request, and links."""

    id: str
    title_zh: str
    title_en: str
    figures: Callable[[Mapping[str, Any]], list[Figure]] | None = None
    links: tuple[Link, ...] = ()
    role: str | None = None
    order: int = 100

    def title(self, lang: str) -> str:
        return self.title_en if lang == "en" else self.title_zh
