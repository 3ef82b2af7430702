"""What filters share between the API that writes them and the backends that run them.

CQL2's ``casei`` and ``accenti`` fold text; the API folds literals with :func:`fold`, and a backend
folds its column values the same way (PostgreSQL with ``lower``/``unaccent``-like SQL, a GeoPackage
with SQLite functions registered by :mod:`.gpkg.filters`).
"""

from __future__ import annotations

import unicodedata


def fold(fn: str, value: str | None) -> str | None:
    if value is None:
        return None
    if fn == "casei":
        return value.casefold()
    return "".join(c for c in unicodedata.normalize("NFD", value) if not unicodedata.combining(c))
