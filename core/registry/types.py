"""What the registry hands out: a feature as stored, and one change of the history."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from ..geometry_engine import engine


@dataclass
class Feature:
    """One feature as stored: all its fields (including the registry's stamps) and geometry.

    ``geometry`` is the geometry engine's (:mod:`rallypoint.geometry_engine`): a shapely geometry,
    or a ``QgsGeometry`` inside QGIS; :mod:`rallypoint.geometry` reads either (``bounds``, ``mapping`` …).
    """

    layer: str
    properties: dict[str, Any]
    geometry: Any = None
    fid: int | None = None

    @property
    def uuid(self) -> str | None:
        return self.properties.get("uuid")

    @property
    def version(self) -> int | None:
        return self.properties.get("version")

    @property
    def retired(self) -> bool:
        return bool(self.properties.get("retired_at"))

    def to_geojson(self, *, drop: Iterable[str] = ()) -> dict[str, Any]:
        """A GeoJSON Feature (``id`` is the UUID); ``drop`` leaves fields out (e.g. personal data)."""
        skip = set(drop)
        return {
            "type": "Feature",
            "id": self.uuid if self.uuid is not None else self.fid,
            "geometry": None if self.geometry is None else engine().mapping(self.geometry),
            "properties": {k: v for k, v in self.properties.items() if k not in skip},
        }


@dataclass(frozen=True)
class Change:
    """One row of the history: who changed which feature, when, from what to what."""

    id: int
    layer: str
    uuid: str
    version: int
    op: str
    author: str
    at: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    note: str | None = None

    def changed_fields(self) -> dict[str, tuple[Any, Any]]:
        """Field → (before, after) for every field whose value differs (``geometry`` included)."""
        b = (self.before or {}).get("properties", {})
        a = (self.after or {}).get("properties", {})
        out = {k: (b.get(k), a.get(k)) for k in sorted(set(a) | set(b)) if b.get(k) != a.get(k)}
        bg, ag = (self.before or {}).get("geometry"), (self.after or {}).get("geometry")
        if bg != ag:
            out["geometry"] = (bg, ag)
        return out


def state_of(props: Mapping[str, Any], geom: Any) -> dict[str, Any]:
    """A feature's full state for the history: properties and geometry as exact hex WKB (upper case, as
    GEOS writes it: the history of every registry made before the engines reads the same)."""
    return {
        "properties": dict(props),
        "geometry": None if geom is None else engine().to_wkb(geom).hex().upper(),
    }


def geometry_of_state(state: Mapping[str, Any]) -> Any:
    g = state.get("geometry")
    return None if g is None else engine().from_wkb(bytes.fromhex(g))


def adcode_prefix(code: str) -> str:
    """The prefix every division inside ``code`` shares (GB/T 2260: 510000 → 51, 510100 → 5101).

    >>> adcode_prefix("510100"), adcode_prefix("519910"), adcode_prefix("519901001")
    ('5101', '519910', '519901001')
    """
    if len(code) == 6:
        if code.endswith("0000"):
            return code[:2]
        if code.endswith("00"):
            return code[:4]
    return code


def json_value(value: Any) -> Any:
    """A JSON column's value: text in a GeoPackage, already decoded (jsonb) from PostgreSQL."""
    if value is None or isinstance(value, (dict, list)):
        return value
    return json.loads(value)
