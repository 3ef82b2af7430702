"""An HTTP endpoint a plugin adds, independent of the web framework.

The handler takes a plain request mapping (``method``, ``path``, ``args``, ``json``,
``headers``, ``path_params``; served, also ``body``, ``principal``, ``registry`` and ``personal``: whether the
caller may see personal-data fields, as the core decides it for every route) and returns
``(status, headers, body)``, in the manner of
pygeoapi's API functions, so it can be tested without a server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

Response = tuple[int, Mapping[str, str], Any]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # e.g. "/plugins/demo/{name}"
    handler: Callable[[Mapping[str, Any]], Response]
    summary: str = ""
    #: The least role a caller's key needs (``reader``, ``editor``, ``admin``), checked by the core before the
    #: handler runs (401 without a key, 403 below it) and stated in the API document. ``None``: anyone may
    #: call a GET; any other method needs an editor, as every write does.
    role: str | None = None

    def needed_role(self) -> str | None:
        return self.role or (None if self.method.upper() in ("GET", "HEAD") else "editor")
