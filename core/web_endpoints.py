"""An HTTP endpoint a plugin adds, independent of the web framework.

The handler takes a plain request mapping (``method``, ``path``, ``args``, ``json``,
``headers``, ``path_params``) and returns ``(status, headers, body)``, in the manner of
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
