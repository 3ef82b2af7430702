"""A warning area, from a CAP 1.2 alert or from GeoJSON, as the response sheet takes it.

CAP: the area is the union of every ``<polygon>`` and ``<circle>`` of every ``<area>`` of every ``<info>`` (the
info blocks in other languages repeat the same areas, which the union absorbs). An ``<area>`` with neither takes
the administrative area its ``<geocode>`` names (a GB/T 2260 division code of 6, 9 or 12 digits found in the
registry's ``admin_areas``); an ``<area>`` with none of the three is refused. A circle (``lat,lon radius`` in km)
is drawn in an azimuthal equidistant projection around its centre, so its radius is true in every direction.
CAP coordinates are WGS 84, which China's CGCS2000 (EPSG:4490) matches to well under a metre.

The incident type of the sheet comes from the alert's event (profile ``warning_events``) unless one is given, and
its level (red, orange, yellow, blue) from a parameter, the headline or the severity.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Mapping

from rallypoint.analysis import AnalysisError

from .cap import CapAlert, CapError, CapInfo, read_cap, summed

if TYPE_CHECKING:  # pragma: no cover
    from rallypoint import Registry

#: Segments per quarter circle of a CAP circle (a 10 km circle then departs from the true one by under 12 m).
QUAD_SEGS = 32
DIVISION_CODE_LENGTHS = (6, 9, 12)


@dataclass
class WarningArea:
    kind: str  # "cap" or "geojson"
    area: str  # GeoJSON text of the area, for the sheet's ``area`` parameter
    area_crs: str  # its CRS
    descs: dict[str, list[str]]  # area descriptions by language (zh, en)
    alert: CapAlert | None = None
    incident: str | None = None  # incident type found from the alert's event
    incident_how: tuple[str, str] = ("", "")  # what it was found from (English, Chinese), for the notes
    level: str | None = None  # red, orange, yellow, blue
    level_names: Mapping[str, str] = field(default_factory=dict)  # its zh, en, grade_zh, grade_en (profile)
    notes: list[tuple[str, str]] = field(default_factory=list)  # (English, Chinese)

    def desc(self, lang: str) -> str:
        found = self.descs.get(lang) or self.descs.get("zh") or self.descs.get("en") or []
        return ("、" if lang == "zh" else "; ").join(found)

    @property
    def expired(self) -> bool:
        return any("EXPIRED" in en for en, _ in self.notes)


def read_warning(data: bytes, reg: "Registry", events: Mapping[str, Any], *, area_crs: str | None = None,
                 now: datetime | None = None) -> WarningArea:
    """The warning area of ``data``: a CAP 1.2 alert (XML) or GeoJSON, told apart by their first character."""
    text = data.decode("utf-8-sig", errors="replace") if isinstance(data, bytes) else str(data)
    head = text.lstrip()[:1]
    if head == "<":
        if area_crs and area_crs.upper() not in ("EPSG:4326", "EPSG:4490", "OGC:CRS84"):
            raise AnalysisError(f"parameter 'area_crs': a CAP alert is in WGS 84 (latitude, longitude); "
                                f"{area_crs!r} does not apply to it")
        return _from_cap(read_cap(data, now=now), reg, events)
    if head == "{":
        return _from_geojson(text, area_crs)
    raise AnalysisError("the warning area is neither a CAP 1.2 alert (XML, starting with '<') nor GeoJSON (starting "
                        "with '{')" + (" — it is empty" if not head else ""))


def _from_geojson(text: str, area_crs: str | None) -> WarningArea:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AnalysisError(f"the GeoJSON area is not valid JSON ({exc.msg} at line {exc.lineno}, column "
                            f"{exc.colno})") from None
    feats = doc.get("features") if isinstance(doc, dict) and doc.get("type") == "FeatureCollection" else [doc]
    names = []
    for f in feats if isinstance(feats, list) else []:
        props = f.get("properties") if isinstance(f, dict) else None
        name = (props.get("areaDesc") or props.get("name")) if isinstance(props, dict) else None
        if name and str(name) not in names:
            names.append(str(name))
    # the sheet reads the GeoJSON itself (geometry checks, the crs member, any CRS): its messages name the problem
    return WarningArea(kind="geojson", area=text, area_crs=area_crs or "EPSG:4490", descs={"zh": names, "en": names})


def _from_cap(alert: CapAlert, reg: "Registry", events: Mapping[str, Any]) -> WarningArea:
    import shapely

    errors: list[str] = []
    notes = list(alert.notes)
    parts = []
    for info in alert.infos:
        for a in info.areas:
            shapes = [_polygon(ring, f"{a.where} <polygon> #{i + 1}", errors) for i, ring in enumerate(a.polygons)]
            shapes += [_circle(lon, lat, km) for lon, lat, km in a.circles]
            shapes = [s for s in shapes if s is not None]
            if shapes:
                parts.extend(shapes)
                if a.geocodes:
                    codes = ", ".join(v for _, v in a.geocodes)
                    notes.append((f"{a.where} ({a.desc}): its geocode {codes} is not used, as it gives a polygon or "
                                  f"circle", f"{a.where}（{a.desc}）已给出多边形或圆，未使用其地理编码 {codes}"))
            elif a.geocodes:
                parts.extend(_geocoded(reg, a.geocodes, f"{a.where} ({a.desc})", errors))
            elif not a.polygons and not a.circles:
                errors.append(f"{a.where} ({a.desc}) has no <polygon>, <circle> or <geocode>: it gives no area")
    if errors:
        raise CapError(summed(errors))
    area = shapely.union_all(parts)
    if area.is_empty or area.geom_type not in ("Polygon", "MultiPolygon"):
        raise CapError("the alert's areas add up to no surface")
    descs = {lang: _unique(a.desc for a in alert.info(lang).areas) for lang in ("zh", "en")}
    info = alert.info("zh")
    incident, how = find_incident(info, events)
    level, level_notes = find_level(info, events)
    notes.extend(level_notes)
    return WarningArea(kind="cap", area=json.dumps(shapely.geometry.mapping(area)), area_crs="EPSG:4326",
                       descs=descs, alert=alert, incident=incident, incident_how=how, level=level,
                       level_names=dict((events.get("levels") or {}).get(level) or {}) if level else {}, notes=notes)


def _unique(items) -> list[str]:
    out: list[str] = []
    for i in items:
        if i and i not in out:
            out.append(i)
    return out


def _polygon(ring, where: str, errors: list[str]):
    import shapely

    poly = shapely.Polygon(ring)
    if not poly.is_valid:
        errors.append(f"{where} is not a valid polygon ({shapely.is_valid_reason(poly)}; coordinates as lon, lat)")
        return None
    if poly.area <= 0:
        errors.append(f"{where} encloses no surface (its pairs lie on one line)")
        return None
    return poly


def _circle(lon: float, lat: float, km: float):
    """The circle as a polygon in lon/lat, drawn in an azimuthal equidistant projection centred on it."""
    import numpy as np
    import shapely
    from pyproj import CRS, Transformer

    local = CRS.from_proj4(f"+proj=aeqd +lat_0={lat!r} +lon_0={lon!r} +datum=WGS84 +units=m +no_defs")
    back = Transformer.from_crs(local, "EPSG:4326", always_xy=True)
    disc = shapely.Point(0.0, 0.0).buffer(km * 1000.0, quad_segs=QUAD_SEGS)
    return shapely.transform(disc, lambda xy: np.column_stack(back.transform(xy[:, 0], xy[:, 1])))


def _geocoded(reg: "Registry", geocodes, where: str, errors: list[str]) -> list:
    """The administrative areas of the registry whose division code is one of ``geocodes``' values."""
    codes = [v.strip() for _, v in geocodes if v.strip().isdigit() and len(v.strip()) in DIVISION_CODE_LENGTHS]
    if not codes:
        shown = ", ".join(f"{n or '?'}={v}" for n, v in geocodes)
        errors.append(f"{where} gives only <geocode> {shown}, and none is a division code (6, 9 or 12 digits): give "
                      f"a <polygon> or <circle>")
        return []
    if "admin_areas" not in reg.layers or not reg.count("admin_areas"):
        errors.append(f"{where} gives only the division code {', '.join(codes)}, and the registry holds no "
                      f"administrative areas to find it in")
        return []
    frame = reg.read_frame("admin_areas", columns=["adcode"])
    found = frame[frame["adcode"].astype(str).isin(codes) & ~frame.geometry.isna()]
    missing = [c for c in codes if c not in set(found["adcode"].astype(str))]
    if missing:
        errors.append(f"{where}: the division code {', '.join(missing)} is not an administrative area of this "
                      f"registry")
        return []
    return list(found.geometry)


def find_incident(info: CapInfo, events: Mapping[str, Any]) -> tuple[str | None, tuple[str, str]]:
    """The response sheet's incident type for the info's event (or headline, or category), and what matched
    (English, Chinese)."""
    for text, what, zh in ((info.event, "event", "预警事件"), (info.headline, "headline", "预警标题")):
        low = text.lower()
        for kind, words in (events.get("events") or {}).items():
            hit = next((w for w in words if w.lower() in low), None)
            if hit:
                return str(kind), (f"<{what}> {text!r} contains {hit!r}", f"{zh}“{text}”含“{hit}”")
    for cat in info.categories:
        kind = (events.get("categories") or {}).get(cat)
        if kind:
            return str(kind), (f"<category> {cat}", f"类别 {cat}")
    return None, ("", "")


def find_level(info: CapInfo, events: Mapping[str, Any]) -> tuple[str | None, list[tuple[str, str]]]:
    """The warning level (a key of the profile's levels) from a parameter, the headline or the severity."""
    levels = events.get("levels") or {}
    names = [n.lower() for n in (events.get("level_parameters") or {}).get("names", [])]
    notes: list[tuple[str, str]] = []
    by_param = None
    for name, value in info.parameters:
        if any(n in name.lower() for n in names):
            v = value.strip().lower()
            by_param = next((k for k, lv in levels.items() if v in [w.lower() for w in lv.get("words", [])]
                             or v.startswith(str(lv.get("zh", "?")))), None)
            if by_param:
                break
    by_headline = next((k for k, lv in levels.items() if f"{lv.get('zh')}预警" in info.headline
                        or f"{str(lv.get('en', '?')).lower()} warning" in info.headline.lower()), None)
    by_severity = next((k for k, lv in levels.items() if lv.get("severity") == info.severity), None)
    level = by_param or by_headline or by_severity
    if level and by_severity and level != by_severity:
        lv = levels[level]
        notes.append((f"the warning level {lv.get('en')} does not match the CAP severity {info.severity} "
                      f"(usually {levels[by_severity].get('en')}); the level is taken",
                      f"预警级别{lv.get('zh')}与 CAP 严重程度 {info.severity}（通常对应"
                      f"{levels[by_severity].get('zh')}）不一致，按预警级别"))
    return level, notes
