"""The incident area: a GeoJSON polygon in any CRS, a point with a radius, or a hazard point picked by UUID.

Exactly one of the three is given. The area is kept in EPSG:4490 and, for measuring, in the CGCS2000
Gauss–Krüger zone around it. A hazard point's radius, unless ``radius_m`` is given, comes from the shelter
setback profile for the types it lists (GB 50413-2007: 1,000 m around a major hazard installation) and from the
incident profile's ``radius_m`` table for the others (planning assumptions); the sheet says which.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from rallypoint.analysis import AnalysisError

if TYPE_CHECKING:  # pragma: no cover
    from shapely.geometry.base import BaseGeometry

    from rallypoint import Registry

#: Segments per quarter circle of a radius buffer (a circle of 128 sides: within 0.03 % of its area).
QUAD_SEGS = 32


@dataclass
class Incident:
    """Where and what: the area (EPSG:4490 and projected), the incident type and how the area was given."""

    area: "BaseGeometry"  # EPSG:4490
    area_m: "BaseGeometry"  # in ``epsg``
    epsg: int
    kind: str  # incident type key of the profile
    title_zh: str
    title_en: str
    hazard: str  # the hazard shelters must serve
    specialties: tuple[str, ...]
    how_zh: str
    how_en: str
    radius_m: float | None = None
    hazard_uuid: str | None = None

    def title(self, lang: str) -> str:
        return self.title_zh if lang == "zh" else self.title_en

    def how(self, lang: str) -> str:
        return self.how_zh if lang == "zh" else self.how_en


def resolve(reg: "Registry", params: Mapping[str, Any], profile: Mapping[str, Any],
            setback_m: Mapping[str, float]) -> Incident:
    """The incident of ``params`` (area, point + radius_m, or hazard_uuid), checked: an AnalysisError says what is
    wrong."""
    import shapely

    from rallypoint.errors import RallypointError
    from rallypoint.geometry import STORAGE_CRS, crs_from_user, to_storage

    given = [k for k in ("area", "point", "hazard_uuid") if str(params.get(k) or "").strip()]
    if len(given) != 1:
        raise AnalysisError("give the incident area one way: 'area' (a GeoJSON polygon), 'point' with 'radius_m', "
                            "or 'hazard_uuid'" + (f" — got {', '.join(given)}" if given else " — none was given"))
    radius = float(params.get("radius_m") or 0.0)
    if radius < 0 or not math.isfinite(radius):
        raise AnalysisError(f"parameter 'radius_m': {radius:g} is not a radius (metres, above 0)")
    try:
        crs = crs_from_user(params.get("area_crs") or "EPSG:4490")
    except RallypointError as exc:
        raise AnalysisError(f"parameter 'area_crs': {exc}") from None
    hazard_type = None
    uuid = None
    if given[0] == "area":
        geom, crs = _polygon(str(params["area"]), crs)
        how = ("绘制的区域", "the area drawn")
        if radius:
            raise AnalysisError("parameter 'radius_m' goes with 'point' or 'hazard_uuid', not with a drawn 'area'")
    elif given[0] == "point":
        geom = _point(str(params["point"]))
        if not radius:
            raise AnalysisError("parameter 'point' needs 'radius_m', the evacuation radius in metres (above 0)")
        how = (f"事件点周边 {radius:,.0f} 米（给定半径）", f"{radius:,.0f} m around the incident point (radius given)")
    else:
        uuid = str(params["hazard_uuid"]).strip()
        if "hazard_points" not in reg.layers:
            raise AnalysisError("the registry has no hazard_points layer to pick a hazard point from")
        try:
            feature = reg.get("hazard_points", uuid)
        except (RallypointError, LookupError, ValueError):
            raise AnalysisError(f"parameter 'hazard_uuid': no hazard point {uuid!r} in this registry") from None
        if feature.retired or feature.geometry is None:
            raise AnalysisError(f"parameter 'hazard_uuid': hazard point {uuid!r} is retired or has no position")
        geom, crs = feature.geometry, STORAGE_CRS
        hazard_type = str(feature.properties.get("hazard_type") or "other")
        name = feature.properties.get("name") or uuid
        radius, how = _hazard_radius(radius, hazard_type, name, profile, setback_m)
    try:
        area = to_storage(geom, crs)
    except Exception as exc:  # pyproj raises several classes for coordinates outside a CRS
        raise AnalysisError(f"the incident geometry cannot be brought from {crs.to_string()} to EPSG:4490 ({exc})") \
            from None
    if not _finite(area):
        raise AnalysisError(f"the incident geometry has coordinates outside {crs.to_string()}'s area of use: check "
                            f"'area_crs' (x is longitude/easting, y is latitude/northing)")
    epsg = _work_epsg(area)
    area_m = to_projected(area, epsg)
    if area.geom_type == "Point":
        area_m = shapely.buffer(area_m, radius, quad_segs=QUAD_SEGS)
        area = to_lonlat(area_m, epsg)
    if area_m.is_empty or area_m.area <= 0:
        raise AnalysisError("the incident area is empty (no surface)")
    kind = _kind(params.get("incident") or "auto", hazard_type, profile)
    entry = profile.get("incidents", {}).get(kind)
    if not isinstance(entry, Mapping) or not entry.get("hazard"):
        raise AnalysisError(f"the incident profile has no incident type {kind!r} with a 'hazard'")
    return Incident(area=area, area_m=area_m, epsg=epsg, kind=kind, title_zh=str(entry.get("title_zh", kind)),
                    title_en=str(entry.get("title_en", kind)), hazard=str(entry["hazard"]),
                    specialties=tuple(entry.get("specialties", ())), how_zh=how[0], how_en=how[1],
                    radius_m=radius or None, hazard_uuid=uuid)


def _polygon(text: str, crs):
    """A polygon or multipolygon from GeoJSON text (geometry, Feature or FeatureCollection) and the CRS it is in."""
    import shapely

    from rallypoint.errors import RallypointError
    from rallypoint.geometry import crs_from_user

    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AnalysisError(f"parameter 'area': not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") \
            from None
    if not isinstance(doc, dict):
        raise AnalysisError("parameter 'area': a GeoJSON object is expected (a Polygon, Feature or FeatureCollection)")
    named = ((doc.get("crs") or {}).get("properties") or {}).get("name") if isinstance(doc.get("crs"), dict) else None
    if named:  # the old GeoJSON 2008 crs member, as GDAL writes it for a CRS other than CRS84
        try:
            crs = crs_from_user(named)
        except RallypointError as exc:
            raise AnalysisError(f"parameter 'area': its crs member {named!r} is unknown ({exc})") from None
    kind = doc.get("type")
    if kind == "FeatureCollection":
        feats = doc.get("features")
        if not isinstance(feats, list) or not feats:
            raise AnalysisError("parameter 'area': the FeatureCollection holds no features")
        geoms = [_geometry(f.get("geometry") if isinstance(f, dict) else None, f"feature #{i + 1}")
                 for i, f in enumerate(feats)]
        geom = shapely.union_all(geoms)
    elif kind == "Feature":
        geom = _geometry(doc.get("geometry"), "the Feature")
    else:
        geom = _geometry(doc, "the geometry")
    return geom, crs


def _geometry(doc, where: str):
    import shapely

    if not isinstance(doc, dict) or "type" not in doc:
        raise AnalysisError(f"parameter 'area': {where} has no GeoJSON geometry")
    if doc["type"] not in ("Polygon", "MultiPolygon"):
        raise AnalysisError(f"parameter 'area': {where} is a {doc['type']}, not an area; give a Polygon or "
                            f"MultiPolygon (or a point with radius_m)")
    try:
        geom = shapely.geometry.shape(doc)
    except Exception as exc:  # shapely raises several classes for malformed coordinates
        raise AnalysisError(f"parameter 'area': {where} has malformed coordinates ({exc})") from None
    if geom.is_empty:
        raise AnalysisError(f"parameter 'area': {where} is empty")
    if not geom.is_valid:
        raise AnalysisError(f"parameter 'area': {where} is not a valid polygon ({shapely.is_valid_reason(geom)})")
    return geom


def _point(text: str):
    import shapely

    parts = [p.strip() for p in text.replace(";", ",").split(",")]
    try:
        x, y = (float(p) for p in parts)
    except ValueError:
        raise AnalysisError(f"parameter 'point': {text!r} is not 'x,y' (two numbers)") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise AnalysisError(f"parameter 'point': {text!r} is not 'x,y' (two finite numbers)")
    return shapely.Point(x, y)


def _hazard_radius(given: float, hazard_type: str, name: str, profile, setback_m) -> tuple[float, tuple[str, str]]:
    if given:
        return given, (f"隐患点“{name}”周边 {given:,.0f} 米（给定半径）", f"{given:,.0f} m around hazard point "
                                                                       f"'{name}' (radius given)")
    if setback_m.get(hazard_type):
        r = float(setback_m[hazard_type])
        return r, (f"隐患点“{name}”周边 {r:,.0f} 米（安全距离方案中该类型的距离，GB 50413-2007）",
                   f"{r:,.0f} m around hazard point '{name}' (its type's setback in the setback profile, "
                   f"GB 50413-2007)")
    table = profile.get("radius_m") or {}
    r = table.get(hazard_type)
    if not isinstance(r, (int, float)) or isinstance(r, bool) or r <= 0:
        raise AnalysisError(f"hazard point '{name}' is of type {hazard_type!r}, for which neither the setback "
                            f"profile nor the incident profile gives a radius: give radius_m")
    r = float(r)
    return r, (f"隐患点“{name}”周边 {r:,.0f} 米（事件类型方案中该类型的规划假设半径）",
               f"{r:,.0f} m around hazard point '{name}' (the incident profile's planning radius for its type)")


def _kind(kind: str, hazard_type: str | None, profile) -> str:
    if kind != "auto":
        return kind
    if hazard_type is None:
        raise AnalysisError("parameter 'incident': say what happened (flood, landslide, hazmat, earthquake, fire); "
                            "'auto' only works with a hazard point picked by hazard_uuid")
    found = (profile.get("hazard_incident") or {}).get(hazard_type)
    if not found:
        raise AnalysisError(f"parameter 'incident': a hazard point of type {hazard_type!r} has no incident type in "
                            f"the incident profile; give incident")
    return str(found)


def _finite(geom) -> bool:
    import numpy as np
    import shapely

    xy = shapely.get_coordinates(geom)
    return bool(len(xy)) and bool(np.isfinite(xy).all()) and bool((np.abs(xy[:, 1]) <= 90).all()) \
        and bool((np.abs(xy[:, 0]) <= 180).all())


def _work_epsg(area) -> int:
    import geopandas as gpd

    from rallypoint_plugins.capacity.areas import work_epsg

    return work_epsg(gpd.GeoSeries([area], crs=4490))


def to_projected(geom, epsg: int):
    """A geometry from EPSG:4490 into EPSG ``epsg``."""
    import geopandas as gpd

    return gpd.GeoSeries([geom], crs=4490).to_crs(epsg).iloc[0]


def to_lonlat(geom, epsg: int):
    """A geometry from EPSG ``epsg`` into EPSG:4490."""
    import geopandas as gpd

    return gpd.GeoSeries([geom], crs=epsg).to_crs(4490).iloc[0]
