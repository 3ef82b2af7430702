"""What an import or export format plugin provides (used by ``rallypoint import``/``export``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable


@dataclass(frozen=True)
class ImportFormat:
    """Reads a file into ``(layer, properties, geometry, crs)`` records for a strict import.

    ``sniff(path)`` says whether this format can read the file; ``read(path, options)``
    yields the records.
    """

    name: str
    title: str
    suffixes: tuple[str, ...]
    read: Callable[[str, dict[str, Any]], Iterable[tuple[str, dict[str, Any], Any, str | None]]]
    sniff: Callable[[str], bool] | None = None


@dataclass(frozen=True)
class ExportFormat:
    """Writes features of a registry to a file: ``write(registry, path, layers, options)``."""

    name: str
    title: str
    suffix: str
    write: Callable[..., None]
