"""What an API function works with besides the request: the registry, settings, plugins."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..storage import reader_for
from ..storage.base import Reader

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
    _reader: Reader | None = field(default=None, init=False, repr=False)

    @property
    def reader(self) -> Reader:
        """How the API reads this registry, whatever its backend (the storage seam's :class:`Reader`)."""
        if self._reader is None:
            self._reader = reader_for(self.registry.store, str(self.config.registry_path))
        return self._reader
