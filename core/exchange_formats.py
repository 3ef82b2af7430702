"""What an import or export format plugin provides (used by ``rallypoint import``/``export``), and the value
parsers that import mapping profiles name."""

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
class ValueParser:
    """A parser an import mapping profile names (``parse = "nanao_capacity"``): text of someone else's data
    turned into a value (or a mapping whose ``pick`` key is taken). It may raise any exception for a value it
    cannot read: that feature is refused with the message, the others go on."""

    name: str
    parse: Callable[[Any], Any]
    description: str = ""


@dataclass(frozen=True)
class ExportFormat:
    """Writes features of a registry to a file: ``write(registry, path, layers, options)``."""

    name: str
    title: str
    suffix: str
    write: Callable[..., None]
