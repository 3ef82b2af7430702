"""What an API function works with besides the request: the registry, settings, plugins."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from ..plugins import RallypointPluginManager
    from ..registry import Registry
    from .config import ApiConfig


@dataclass
class Context:
    """The registry opened for this one request (never shared across threads), the settings, the plugins."""

    registry: Registry
    config: ApiConfig
    plugins: RallypointPluginManager

    @property
    def conn(self) -> sqlite3.Connection:
        """The registry's own SQLite connection, for the read path's plain SQL (see :mod:`.store`)."""
        return self.registry._conn
