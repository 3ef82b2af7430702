"""The ``(properties, geometry)`` feature pair and the random attribute values every resource layer uses."""

from __future__ import annotations

import uuid as uuidlib
from typing import Any, Optional

import numpy as np
from shapely.geometry.base import BaseGeometry

Feature = tuple[dict[str, Any], Optional[BaseGeometry]]  # Optional: Python 3.9 has no X | None


def _uuids(rng: np.random.Generator, n: int) -> list[str]:
    return [str(uuidlib.UUID(bytes=rng.bytes(16), version=4)) for _ in range(n)]


def _pick(rng: np.random.Generator, options: list, n: int, p=None) -> list:
    idx = rng.choice(len(options), size=n, p=None if p is None else np.asarray(p, float) / np.sum(p))
    return [options[i] for i in idx.tolist()]


def _dates(rng: np.random.Generator, n: int, start: str, end: str) -> list[str]:
    a, b = np.datetime64(start), np.datetime64(end)
    days = rng.integers(0, int((b - a).astype(int)) + 1, n)
    return [str(d) for d in (a + days.astype("timedelta64[D]"))]


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}
