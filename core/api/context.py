"""What an API function works with besides the request: the registry, settings, plugins."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from ..plugins import RallypointPluginManager
    from ..registry import Registry
    from .config import ApiConfig
    from .read import Reader


@dataclass
class Context:
    """The registry opened for this one request (never shared across threads), the settings, the plugins."""

    registry: Registry
    config: ApiConfig
    plugins: RallypointPluginManager
    _reader: Reader | None = field(default=None, init=False, repr=False)

    @property
    def conn(self) -> sqlite3.Connection:
        """The registry's own connection (SQLite for a GeoPackage; psycopg's for PostGIS). The read path
        goes through :attr:`reader`, which knows which."""
        return self.registry._conn

    @property
    def reader(self) -> Reader:
        """How the API reads this registry: SQLite or PostGIS (see :mod:`.read`)."""
        if self._reader is None:
            from .read import reader_for

            self._reader = reader_for(self.registry, str(self.config.registry_path))
        return self._reader
