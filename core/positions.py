"""Where a feature may lie: inside China's extent, and inside the division its code names.

Two rules on the positions of features with a division code, checked on every write (the batch
hands :func:`~rallypoint.validation.check_feature` what they need) and by ``rallypoint validate``:

* **China's extent.** A registry keeps a Chinese bureau's resources in CGCS2000 (EPSG:4490), so a
  point outside China's extent (:data:`CHINA`) is refused whether or not the registry holds any
  boundaries: (0, 0), a point in Japan, latitude and longitude swapped. A registry made to practise on
  foreign data (Japan's shelter lists in the tests and drills) says so when it is created
  (``Registry.create(…, extent="world")``, ``rallypoint init --extent world``) and is spared this rule only.
* **The division.** Where the registry holds the boundary of the division a feature's code names (the
  ``admin_areas`` reference layer; failing that, of the nearest enclosing division it holds: a village
  code is held to its township, a township's to its county), a point lying outside it by more than
  :data:`BOUNDARY_TOLERANCE_M` is refused with a message naming the division (the problem names the
  feature). The distance is measured in metres in the CGCS2000 3-degree Gauss–Krüger zone of the
  division (EPSG:4534–4554, the projected CRS Chinese bureaus survey in), so a point on the boundary,
  or a shelter drawn a few metres across it, is not refused.

Only point layers are held to their division (a road or an area may cross a boundary). The check never
reads the database itself: a :class:`Divisions` lookup is given a ``fetch`` function by whoever owns
the connection (the batch, ``validate``, the PostGIS sample writer) and caches what it has read.

The rules are here; the geometry work is the geometry engine's (:mod:`rallypoint.geometry_engine`:
``vertices``, ``area`` and its ``Area``, ``geodesic_m``), so the same rules hold in QGIS, on QGIS's classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from .geometry_engine import engine

#: a geometry of the engine
BaseGeometry = Any

BOUNDARY_TOLERANCE_M = 50.0
"""How far outside its division's boundary a point may lie: boundaries are drawn to a few metres, and a
resource on the boundary road or a shelter whose point is a gate on the far side is still the division's."""


@dataclass(frozen=True)
class Extent:
    """A longitude/latitude box (EPSG:4490) that every coordinate of a registry's features must lie in."""

    name: str
    west: float
    south: float
    east: float
    north: float

    def holds(self, x: Any, y: Any) -> Any:
        """Whether (x, y) lie in the box: numbers, or numpy arrays of them (then an array of booleans)."""
        return (x >= self.west) & (x <= self.east) & (y >= self.south) & (y <= self.north)

    def describe(self) -> str:
        return f"{self.west:g}–{self.east:g}°E, {self.south:g}–{self.north:g}°N"


# China's extremities (Pamir 73°40'E, the Heilongjiang–Wusuli confluence 135°05'E, Zengmu Ansha 3°52'N,
# Mohe 53°33'N) with half a degree of sea around them. Not EPSG's area of use of CGCS2000, whose box
# (73.62–134.77°E, 16.7–53.56°N) leaves out the Nansha islands of Sansha city, which bureaus there register.
CHINA = Extent("China", 73.0, 3.3, 135.6, 54.1)
EXTENTS: dict[str, Extent | None] = {"china": CHINA, "world": None}


def extent_named(name: str | None) -> Extent | None:
    """The extent a registry's metadata names (``china``, the default, or ``world``: no extent rule)."""
    if name is None:
        return CHINA
    if name not in EXTENTS:
        raise ValueError(f"unknown extent {name!r} (known: {', '.join(EXTENTS)})")
    return EXTENTS[name]


# -- divisions -----------------------------------------------------------------------------


def gauss_krueger_zone(lon: float) -> int:
    """The EPSG code of the CGCS2000 3-degree Gauss–Krüger zone (central meridian 75°E … 135°E) nearest ``lon``."""
    cm = min(135, max(75, 3 * round(lon / 3)))
    return 4534 + (cm - 75) // 3


@dataclass
class Division:
    """One division's boundary as the registry holds it (EPSG:4490), as the engine's prepared area."""

    code: str
    name: str
    geometry: BaseGeometry
    _area: Any = field(default=None, repr=False)
    _zone: int | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._area = engine().area([self.geometry])

    def label(self) -> str:
        return f"{self.code} {self.name}" if self.name else self.code

    def outside_by(self, geom: BaseGeometry) -> tuple[float, tuple[float, float]] | None:
        """``(metres, (x, y))`` of the point of ``geom`` farthest outside this division, or None if all are in it.

        Near the boundary the distance is measured in the division's Gauss–Krüger zone; far from it
        (more than a few kilometres, where nothing but "outside" matters) geodesically to the nearest
        boundary point, as a figure for the message.
        """
        worst: tuple[float, tuple[float, float]] | None = None
        for x, y in engine().vertices(geom):
            if self._area.holds(x, y):  # on the boundary counts as in
                continue
            d = self._metres(x, y)
            if worst is None or d > worst[0]:
                worst = (d, (x, y))
        return worst

    def _metres(self, x: float, y: float) -> float:
        if self._area.distance(x, y) > 0.05:  # ≥ 3 km even at 54°N: well outside; the geodesic distance is for the message
            nx, ny = self._area.nearest(x, y)
            return engine().geodesic_m(x, y, nx, ny)
        if self._zone is None:
            self._zone = gauss_krueger_zone(self._area.centroid_x())
        return self._area.distance_m(x, y, self._zone)


Fetch = Callable[[list[str]], "Iterable[tuple[str, str | None, BaseGeometry | None]]"]  # quoted: Python 3.9


def enclosing_codes(code: str) -> list[str]:
    """The division itself and those enclosing it, nearest first (GB/T 2260: village, township, county,
    prefecture, province).

    >>> enclosing_codes("519921001002")
    ['519921001002', '519921001', '519921', '519900', '510000']
    """
    out = [code]
    if len(code) == 12:
        out.append(code[:9])
    if len(code) >= 9:
        out.append(code[:6])
    six = code[:6]
    out += [six[:4] + "00", six[:2] + "0000"]
    return list(dict.fromkeys(out))


class Divisions:
    """Division boundaries by code, read through ``fetch`` on first use and kept (one per batch or check).

    ``fetch(codes)`` returns ``(adcode, name, geometry)`` rows of ``admin_areas`` whose code is one of
    ``codes``; several rows of one code are taken together.
    """

    def __init__(self, fetch: Fetch):
        self._fetch = fetch
        self._by_code: dict[str, Division | None] = {}
        self._rows: dict[str, Division | None] = {}

    def __call__(self, code: str) -> Division | None:
        """The boundary a feature coded ``code`` must lie in (its own, or the nearest enclosing one held)."""
        code = str(code).strip()
        if code not in self._by_code:
            chain = enclosing_codes(code)
            todo = [c for c in chain if c not in self._rows]
            if todo:
                found: dict[str, list[tuple[str | None, BaseGeometry]]] = {}
                for adcode, name, geom in self._fetch(todo):
                    if geom is not None and not engine().is_empty(geom):
                        found.setdefault(str(adcode), []).append((name, geom))
                for c in todo:
                    rows = found.get(c)
                    self._rows[c] = None if not rows else Division(
                        c, rows[0][0] or "", rows[0][1] if len(rows) == 1 else engine().union([g for _, g in rows]))
            self._by_code[code] = next((self._rows[c] for c in chain if self._rows[c] is not None), None)
        return self._by_code[code]


def sql_divisions(execute: Callable[..., Any], geom_sql: str, decode: Callable[[Any], BaseGeometry | None],
                  has_areas: bool) -> Divisions | None:
    """A lookup reading ``admin_areas`` through ``execute(sql, params)`` (``?`` placeholders: an sqlite3
    connection or a :class:`~rallypoint.store.Store`); None when the registry has no such layer."""
    if not has_areas:
        return None

    def fetch(codes: list[str]):
        marks = ", ".join("?" * len(codes))
        rows = execute(f"SELECT adcode, name, {geom_sql} FROM admin_areas WHERE adcode IN ({marks})",
                       list(codes)).fetchall()
        return [(r[0], r[1], decode(r[2])) for r in rows]

    return Divisions(fetch)


def rules_for(store: Any, *, extent: str | None, has_areas: bool) -> dict[str, Any]:
    """The position rules of a registry's writes, as keyword arguments of ``check_feature``: the extent it
    names (``china`` unless it is for foreign data; an unknown name is taken as China's), and a lookup of
    the boundaries it holds read through its store (``execute``/``geom_select``/``decode``, in the batch's
    transaction)."""
    return {"extent": EXTENTS.get(extent or "china", CHINA),
            "divisions": sql_divisions(store.execute, store.geom_select, store.decode, has_areas)}


def frame_divisions(frame) -> Divisions:
    """A lookup over an ``admin_areas`` GeoDataFrame in EPSG:4490 (for writers that have it in memory)."""
    by_code: dict[str, list[tuple[str, str, BaseGeometry]]] = {}
    for code, name, geom in zip(frame["adcode"], frame["name"], frame.geometry):
        by_code.setdefault(str(code), []).append((str(code), name, geom))
    return Divisions(lambda codes: [row for c in codes for row in by_code.get(c, ())])


# -- the rules -----------------------------------------------------------------------------


def _km(metres: float) -> str:
    return f"{metres / 1000:,.1f} km" if metres >= 1000 else f"{metres:,.0f} m"


def position_problems(layer, properties: dict[str, Any], geometry: BaseGeometry | None, *,
                      extent: Extent | None, divisions: Divisions | None) -> list[tuple[str | None, str]]:
    """What is wrong with where a checked feature lies: ``[(field or None, message)]``, empty when nothing is."""
    if geometry is None or not layer.has_geometry or engine().is_empty(geometry):
        return []
    if extent is not None:
        stray = [(x, y) for x, y in engine().vertices(geometry) if not extent.holds(x, y)]
        if stray:
            x, y = stray[0]
            return [(None, f"({x:g}, {y:g}) lies outside {extent.name}'s extent ({extent.describe()}): the registry "
                           f"holds positions in {extent.name} (CGCS2000; a registry for foreign data is made with "
                           "extent 'world')")]
    code = properties.get("adcode")
    if divisions is None or not code or layer.geometry not in ("Point", "MultiPoint") or not layer.has_field("adcode"):
        return []
    division = divisions(code)
    if division is None:
        return []
    found = division.outside_by(geometry)
    if found is None or found[0] <= BOUNDARY_TOLERANCE_M:
        return []
    metres, (x, y) = found
    whose = "its code names" if division.code == code else f"that holds {code}"
    return [("adcode", f"the point ({x:.6f}, {y:.6f}) lies {_km(metres)} outside division {division.label()}, "
                       f"the division {whose} (more than the {BOUNDARY_TOLERANCE_M:g} m allowed at a boundary)")]
