"""The query parameters of ``/collections/{id}/items``, checked and turned into a :class:`ItemsQuery`.

Every mistake is a 400 that names the parameter and what would be right; nothing reaches
SQL that was not checked against the layer's definition (identifiers) or bound as a value.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ...schema import FieldDef, LayerDef
from ...storage.base import TIME_FIELD, ItemsQuery
from ...validation import INT64_MAX, _Bad, format_datetime, normalise_value
from .. import crs as crsmod
from ..errors import BadRequest
from ..request import Request, check_params

ITEMS_PARAMS = ("f", "limit", "offset", "bbox", "bbox-crs", "crs", "datetime", "filter", "filter-lang",
                "filter-crs")
NOT_FILTERABLE = ("retired_at",)
MAX_INT = INT64_MAX  # a registry's whole numbers are 64-bit (SQLite INTEGER, PostgreSQL bigint)
MERCATOR_X, MERCATOR_Y = 20037508.342789244, 20048966.1040146  # EPSG:3857's bounds


def filterable_fields(layer: LayerDef, personal: bool) -> list[FieldDef]:
    """Fields that may be used as ``?field=value`` filters (personal ones only with a key)."""
    return [f for f in layer.fields if f.name not in NOT_FILTERABLE and (personal or not f.personal)]


def _int(req: Request, name: str, default: int, minimum: int, clamp: int | None = None) -> int:
    raw = req.args.single(name)
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise BadRequest(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise BadRequest(f"{name}={value} is below the minimum {minimum}")
    if clamp is not None:
        return min(value, clamp)
    if value > MAX_INT:  # SQLite's integers are 64-bit: a larger one was an internal error
        raise BadRequest(f"{name}={value} is above the maximum {MAX_INT}")
    return value


def parse_limit(req: Request, default: int, maximum: int) -> int:
    """``limit``: at least 1; above the maximum it is clamped, not refused."""
    return _int(req, "limit", default, 1, clamp=maximum)


def parse_bbox(raw: str, bbox_crs: crsmod.Crs) -> list[tuple[float, float, float, float]]:
    try:
        values = [float(v) for v in raw.split(",")]
    except ValueError:
        raise BadRequest(f"bbox={raw!r} is not 4 (or 6) comma-separated numbers") from None
    if len(values) not in (4, 6) or not all(math.isfinite(v) for v in values):
        raise BadRequest(f"bbox={raw!r} is not 4 (or 6) comma-separated finite numbers")
    if len(values) == 6:  # minx, miny, minz, maxx, maxy, maxz: heights are not stored
        values = [values[0], values[1], values[3], values[4]]
    a0, a1, b0, b1 = values
    lat_first = bbox_crs.uri in (crsmod.EPSG.format(4490), crsmod.EPSG.format(4326))
    lat_lo, lat_hi, lon_lo, lon_hi = (a0, b0, a1, b1) if lat_first else (a1, b1, a0, b0)
    if bbox_crs.uri != crsmod.EPSG.format(3857):
        # /req/core/fc-bbox-response: "The coordinate values SHALL be within the extent specified for the
        # coordinate reference system." (QGIS and GDAL clamp their boxes to it before sending them)
        for what, value, most in (("longitude", lon_lo, 180), ("longitude", lon_hi, 180),
                                  ("latitude", lat_lo, 90), ("latitude", lat_hi, 90)):
            if abs(value) > most:
                raise BadRequest(f"bbox={raw!r}: the {what} {value:g} is outside -{most}..{most} "
                                 f"(in {bbox_crs.uri})")
    if bbox_crs.uri == crsmod.EPSG.format(3857):
        if a0 > b0 or a1 > b1:
            raise BadRequest(f"bbox={raw!r}: the lower corner must come first (min x, min y, max x, max y)")
        if max(abs(a0), abs(b0)) > MERCATOR_X or max(abs(a1), abs(b1)) > MERCATOR_Y:
            raise BadRequest(f"bbox={raw!r}: EPSG:3857 coordinates lie within ±{MERCATOR_X:.2f} m (x) and "
                             f"±{MERCATOR_Y:.2f} m (y)")
        return [bbox_crs.bbox_to_storage((a0, a1, b0, b1))]
    if lat_lo > lat_hi:
        raise BadRequest(f"bbox={raw!r}: the southern latitude {lat_lo} is north of {lat_hi}")
    if lon_lo > lon_hi:  # across the antimeridian
        return [(lon_lo, lat_lo, 180.0, lat_hi), (-180.0, lat_lo, lon_hi, lat_hi)]
    return [(lon_lo, lat_lo, lon_hi, lat_hi)]


def _instant(text: str, end: bool) -> str:
    """One end of a datetime filter as a stored string (a date covers its whole day, UTC)."""
    s = text.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
        try:
            d = date.fromisoformat(s)
        except ValueError:
            raise BadRequest(f"datetime: {text!r} is not a valid date") from None
        dt = datetime(d.year, d.month, d.day, tzinfo=UTC)
        return format_datetime(dt + timedelta(days=1) - timedelta(milliseconds=1) if end else dt)
    norm = s.replace(" ", "T", 1)
    if norm[-1:] in ("Z", "z"):
        norm = norm[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(norm)
    except ValueError:
        raise BadRequest(f"datetime: {text!r} is not an RFC 3339 date-time such as 2026-05-01T08:00:00Z") from None
    if dt.tzinfo is None:
        raise BadRequest(f"datetime: {text!r} has no time zone; add Z or an offset such as +08:00")
    return format_datetime(dt)


def parse_datetime(raw: str) -> tuple[str | None, str | None]:
    """An instant, or an interval ``start/end`` where either end may be ``..`` (or empty) for open."""
    if "/" not in raw:
        if raw.strip() in ("", ".."):
            raise BadRequest(f"datetime={raw!r} is neither an instant nor an interval")
        s = raw.strip()
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
            return _instant(s, False), _instant(s, True)
        t = _instant(s, False)
        return t, t
    start, _, end = raw.partition("/")
    if "/" in end:
        raise BadRequest(f"datetime={raw!r} has more than one '/'")
    lo = None if start.strip() in ("", "..") else _instant(start, False)
    hi = None if end.strip() in ("", "..") else _instant(end, True)
    if lo is None and hi is None:
        raise BadRequest(f"datetime={raw!r}: an interval needs at least one end")
    if lo and hi and lo > hi:
        raise BadRequest(f"datetime={raw!r}: the interval ends before it starts")
    return lo, hi


def _filter(f: FieldDef, values: list[str], dialect: str = "sqlite") -> tuple[str, list[Any]]:
    col = 't."' + f.name + '"'
    out: list[Any] = []
    for raw in values:
        if raw.strip() == "":
            raise BadRequest(f"{f.name}: an empty value cannot be used as a filter")
        try:
            out.append(normalise_value(f, raw))
        except _Bad as exc:
            raise BadRequest(f"{f.name}={raw!r}: {exc}") from None
    if f.type == "boolean" and dialect == "postgis":  # validation gives SQLite's 0/1
        out = [None if v is None else bool(v) for v in out]
    if f.type == "codes":  # a list of codes: every code given must be in it; several values: any of them
        alternatives = []
        params: list[Any] = []
        for v in out:
            codes = v.split(",")
            alternatives.append("(" + " AND ".join(f"(',' || {col} || ',') LIKE ?" for _ in codes) + ")")
            params.extend(f"%,{c},%" for c in codes)
        return "(" + " OR ".join(alternatives) + ")", params
    if len(out) == 1:
        return f"{col} = ?", out
    return f"{col} IN ({', '.join('?' * len(out))})", out


def parse_items_query(req: Request, layer: LayerDef, *, personal: bool, default_limit: int,
                      max_limit: int, dialect: str = "sqlite") -> ItemsQuery:
    """Check every parameter of an items request; unknown parameters are a 400. ``dialect``: the SQL
    the filters are written in, ``sqlite`` or ``postgis`` (see :data:`.cql.DIALECTS`)."""
    fields = {f.name: f for f in filterable_fields(layer, personal)}
    check_params(req, ITEMS_PARAMS + tuple(fields))
    q = ItemsQuery(layer=layer, limit=parse_limit(req, default_limit, max_limit),
                   offset=_int(req, "offset", 0, 0), personal=personal)
    q.crs = crsmod.find(req.args.single("crs"), "crs")
    bbox_crs = crsmod.find(req.args.single("bbox-crs"), "bbox-crs")
    raw_bbox = req.args.single("bbox")
    if raw_bbox is not None:
        bboxes = parse_bbox(raw_bbox, bbox_crs)  # checked on every collection: a bad bbox is a 400 everywhere
        # /req/core/fc-bbox-response: "The bbox parameter SHALL match all features in the collection that are
        # not associated with a spatial geometry, too." A collection without geometry (depot_stock): all of them.
        if layer.has_geometry:
            q.bboxes = bboxes
    elif req.args.single("bbox-crs") is not None:
        raise BadRequest("bbox-crs is given without bbox")
    raw_time = req.args.single("datetime")
    if raw_time is not None:
        time = parse_datetime(raw_time)
        # /req/core/fc-time-response: "The datetime parameter SHALL match all features in the collection that are
        # not associated with a temporal geometry, too." A collection without a time property: all of them.
        if layer.has_field(TIME_FIELD):
            q.time = time
    for name, f in fields.items():
        values = req.args.getlist(name)
        if values:
            q.filters.append(_filter(f, values, dialect))
    raw_filter = req.args.single("filter")
    if raw_filter is not None:
        from .cql import parse_filter

        if req.args.single("filter-crs") is not None and not layer.has_geometry:
            raise BadRequest(f"collection {layer.name} has no geometry; filter-crs cannot be used")
        cql = parse_filter(layer, raw_filter, personal=personal, lang=req.args.single("filter-lang"),
                           filter_crs=req.args.single("filter-crs"), dialect=dialect)
        q.filters.append((cql.sql, cql.params))
        q.cql = True
    else:
        for name in ("filter-lang", "filter-crs"):
            if req.args.single(name) is not None:
                raise BadRequest(f"{name} is given without filter")
    return q
