"""GeoPackage geometry blobs, and the SQL functions GDAL's R-tree triggers call.

Why this is written here rather than taken from a library: the registry writes through
Python's ``sqlite3`` so that a batch, its history rows and its checks share one
transaction, which GDAL's bindings cannot give us. The GeoPackage blob is an 8-byte header,
an optional envelope and standard WKB (GeoPackage 1.2, clause 2.1.3); the geometry engine
(:mod:`rallypoint.geometry_engine`) does the WKB and this module only adds the header. GDAL's R-tree triggers call ``ST_IsEmpty``,
``ST_MinX`` … which plain SQLite lacks; :func:`register_functions` supplies them, the
same way GDAL registers them on its own connections.

This is the GeoPackage format's code: the GeoPackage store uses it, and so do exchange, check-outs,
backups and checks of a file, because a GeoPackage is also the exchange format.

:func:`encode` and :func:`decode` (one geometry: the registry's writes and reads) use the engine and
import nothing else; :func:`encode_many`, :func:`decode_many` and :func:`point_coords` (whole layers:
bulk loads, analyses, the API) are vectorised with numpy and shapely, imported when they are called.
"""

from __future__ import annotations

import sqlite3
import struct
from functools import lru_cache

from typing import Any

from ...geometry import STORAGE_EPSG, GeometryBlobError
from ...geometry_engine import engine

_ENVELOPE_SIZES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}


def encode(geom: Any, srs_id: int = STORAGE_EPSG) -> bytes | None:
    """Encode a geometry (the engine's) as a GeoPackage blob (little-endian, XY envelope except for points)."""
    if geom is None:
        return None
    eng = engine()
    empty = eng.is_empty(geom)
    if empty or eng.geom_type(geom) == "Point":
        envelope_code, envelope = 0, b""
    else:
        envelope_code = 1
        minx, miny, maxx, maxy = eng.bounds(geom)
        envelope = struct.pack("<4d", minx, maxx, miny, maxy)
    flags = 0x01 | (envelope_code << 1) | (0x10 if empty else 0)
    header = b"GP" + bytes((0, flags)) + struct.pack("<i", srs_id)
    return header + envelope + eng.to_wkb(geom)


def encode_many(geoms, srs_id: int = STORAGE_EPSG) -> list[bytes]:
    """Vectorised :func:`encode` for a numpy array of shapely geometries (bulk writes)."""
    import numpy as np
    import shapely

    geoms = np.asarray(geoms, dtype=object)
    if len(geoms) and (shapely.get_type_id(geoms) == 0).all() and not shapely.is_empty(geoms).any() \
            and not shapely.has_z(geoms).any():
        # 2D points, the resource layers' and the population grid's: the blobs made with numpy at once
        point_blob = np.dtype([("head", "S4"), ("srs", "<i4"), ("order", "u1"), ("type", "<u4"),
                               ("xy", "<f8", (2,))])
        rec = np.zeros(len(geoms), dtype=point_blob)
        rec["head"], rec["srs"], rec["order"], rec["type"] = b"GP\x00\x01", srs_id, 1, 1
        rec["xy"] = shapely.get_coordinates(geoms)
        buf = rec.tobytes()
        size = point_blob.itemsize
        return [buf[i:i + size] for i in range(0, len(buf), size)]
    wkbs = shapely.to_wkb(geoms, byte_order=1, output_dimension=2)
    bounds = shapely.bounds(geoms)
    is_point = shapely.get_type_id(geoms) == 0
    out = []
    srs = struct.pack("<i", srs_id)
    for wkb, b, pt in zip(wkbs, bounds, is_point):
        if pt:
            out.append(b"GP\x00\x01" + srs + wkb)
        else:
            out.append(b"GP\x00\x03" + srs + struct.pack("<4d", b[0], b[2], b[1], b[3]) + wkb)
    return out


def parse_header(blob: bytes) -> tuple[int, bool, int]:
    """Return ``(srs_id, empty, wkb_offset)`` of a GeoPackage blob, or raise GeometryBlobError."""
    if not isinstance(blob, (bytes, bytearray, memoryview)) or len(blob) < 8:
        raise GeometryBlobError("geometry blob is shorter than the 8-byte GeoPackage header")
    blob = bytes(blob[:8])
    if blob[:2] != b"GP":
        raise GeometryBlobError("geometry blob does not start with the GeoPackage magic 'GP'")
    if blob[2] != 0:
        raise GeometryBlobError(f"geometry blob version {blob[2]} is not 0")
    flags = blob[3]
    if flags & 0x20:
        raise GeometryBlobError("extended GeoPackage geometry blobs are not supported")
    env = (flags >> 1) & 0x07
    if env not in _ENVELOPE_SIZES:
        raise GeometryBlobError(f"geometry blob has an invalid envelope code {env}")
    order = "<" if flags & 0x01 else ">"
    (srs_id,) = struct.unpack(order + "i", blob[4:8])
    return srs_id, bool(flags & 0x10), 8 + _ENVELOPE_SIZES[env]


def decode(blob: bytes | None) -> Any:
    """Decode a GeoPackage blob to a geometry of the engine (``None`` for SQL NULL)."""
    if blob is None:
        return None
    _, _, offset = parse_header(blob)
    try:
        return engine().from_wkb(bytes(blob[offset:]))
    except ValueError as exc:
        raise GeometryBlobError(f"geometry blob holds invalid WKB: {exc}") from exc


#: envelope size by envelope code (-1: no such code), for the vectorised readers
_ENVELOPE_BY_CODE = (0, 32, 48, 48, 64, -1, -1, -1)


def decode_many(blobs):
    """Vectorised :func:`decode`: an array of shapely geometries (``None`` for NULL).

    The headers are read with numpy over all blobs at once (a million points decode in
    well under a second); any blob with a bad header raises GeometryBlobError.
    """
    import numpy as np
    import shapely

    blobs = list(blobs)
    present = [b for b in blobs if b is not None]
    out = np.full(len(blobs), None, dtype=object)
    if not present:
        return out
    lengths = np.fromiter(map(len, present), dtype=np.int64, count=len(present))
    if (lengths < 8).any():
        raise GeometryBlobError("geometry blob is shorter than the 8-byte GeoPackage header")
    buf = np.frombuffer(b"".join(present), dtype=np.uint8)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    if not ((buf[starts] == ord("G")) & (buf[starts + 1] == ord("P")) & (buf[starts + 2] == 0)).all():
        raise GeometryBlobError("geometry blob does not start with the GeoPackage magic 'GP' and version 0")
    flags = buf[starts + 3]
    if (flags & 0x20).any():
        raise GeometryBlobError("extended GeoPackage geometry blobs are not supported")
    env = np.array(_ENVELOPE_BY_CODE)[(flags >> 1) & 0x07]
    if (env < 0).any():
        raise GeometryBlobError("geometry blob has an invalid envelope code")
    offsets = 8 + env
    if (lengths == 29).all() and (offsets == 8).all():
        # All 2D points without envelopes (the resource layers, the population grid): read
        # the coordinates straight from the buffer; GEOS's WKB reader is 20x slower here.
        rec = buf.reshape(-1, 29)
        if (rec[:, 8] == 1).all() and (rec[:, 9:13] == np.array([1, 0, 0, 0], dtype=np.uint8)).all():
            xy = rec[:, 13:29].copy().view("<f8")
            geoms = shapely.points(xy)
            if len(present) == len(blobs):
                return geoms
            mask = np.fromiter((b is not None for b in blobs), dtype=bool, count=len(blobs))
            out[mask] = geoms
            return out
    if (offsets == offsets[0]).all():
        o = int(offsets[0])
        wkbs = [b[o:] for b in present]
    else:
        wkbs = [b[o:] for b, o in zip(present, offsets.tolist())]
    try:
        geoms = shapely.from_wkb(np.array(wkbs, dtype=object))
    except shapely.errors.GEOSException as exc:
        raise GeometryBlobError(f"geometry blob holds invalid WKB: {exc}") from exc
    if len(present) == len(blobs):
        return geoms
    mask = np.fromiter((b is not None for b in blobs), dtype=bool, count=len(blobs))
    out[mask] = geoms
    return out


def point_coords(blobs):
    """The (n, 2) float array of x, y of point blobs; NaN for NULL or empty points.

    For bulk reads that need only positions (a million population cells): no shapely
    objects are made when every blob is a plain 2D little-endian point, which is how the
    registry writes them. Any blob holding something other than a point raises
    GeometryBlobError.
    """
    import numpy as np
    import shapely

    blobs = list(blobs)
    out = np.full((len(blobs), 2), np.nan)
    present = np.fromiter((b is not None for b in blobs), dtype=bool, count=len(blobs))
    if not present.any():
        return out
    if present.all():
        lengths = np.fromiter(map(len, blobs), dtype=np.int64, count=len(blobs))
        if (lengths == 29).all():
            buf = np.frombuffer(b"".join(blobs), dtype=np.uint8).reshape(-1, 29)
            if ((buf[:, 0] == ord("G")) & (buf[:, 1] == ord("P")) & (buf[:, 2] == 0)).all() \
                    and not (buf[:, 3] & 0x2E).any() and (buf[:, 8] == 1).all() \
                    and (buf[:, 9:13] == np.array([1, 0, 0, 0], dtype=np.uint8)).all():
                # no envelope, not extended, WKB little-endian POINT: the coordinates are bytes 13..28
                return buf[:, 13:29].copy().view("<f8")
    geoms = decode_many(blobs)  # anything else: through shapely (checks headers, reads any WKB)
    kinds = shapely.get_type_id(geoms[present])
    if (kinds != 0).any():
        bad = geoms[present][kinds != 0][0]
        raise GeometryBlobError(f"geometry blob holds a {bad.geom_type}, not a point, where points are read")
    full = np.flatnonzero(present)
    full = full[~shapely.is_empty(geoms[full])]  # empty points stay NaN (older GEOS refuses getX on them)
    out[full, 0] = shapely.get_x(geoms[full])
    out[full, 1] = shapely.get_y(geoms[full])
    return out


@lru_cache(maxsize=8)
def _bounds(blob: bytes) -> tuple[float, float, float, float] | None:
    # The triggers call ST_MinX, ST_MaxX, ST_MinY, ST_MaxY on the same blob in a row:
    # a tiny cache parses it once. An envelope in the header, or a 2D point's own
    # coordinates, are read directly; anything else is parsed by the engine.
    flags = blob[3]
    env = (flags >> 1) & 0x07
    order = "<" if flags & 0x01 else ">"
    if flags & 0x10:
        return None
    if env:
        minx, maxx, miny, maxy = struct.unpack(order + "4d", blob[8:40])
        return minx, miny, maxx, maxy
    if len(blob) == 29:  # header + 21-byte 2D point WKB
        wkb_order = "<" if blob[8] == 1 else ">"
        (gtype,) = struct.unpack(wkb_order + "I", blob[9:13])
        if gtype == 1:
            x, y = struct.unpack(wkb_order + "2d", blob[13:29])
            if x != x or y != y:  # NaN coordinates: an empty point
                return None
            return x, y, x, y
    geom = decode(blob)
    if geom is None or engine().is_empty(geom):
        return None
    return engine().bounds(geom)


def _st_is_empty(blob):
    if blob is None:
        return None
    try:
        _, empty, _ = parse_header(blob)
    except GeometryBlobError:
        return None
    return 1 if empty or _bounds(bytes(blob)) is None else 0


def _make_bound(i: int):
    def fn(blob):
        if blob is None:
            return None
        try:
            b = _bounds(bytes(blob))
        except GeometryBlobError:
            return None
        return None if b is None else b[i]

    return fn


def register_functions(conn: sqlite3.Connection) -> None:
    """Register the spatial SQL functions that GeoPackage R-tree triggers call."""
    conn.create_function("ST_IsEmpty", 1, _st_is_empty, deterministic=True)
    conn.create_function("ST_MinX", 1, _make_bound(0), deterministic=True)
    conn.create_function("ST_MinY", 1, _make_bound(1), deterministic=True)
    conn.create_function("ST_MaxX", 1, _make_bound(2), deterministic=True)
    conn.create_function("ST_MaxY", 1, _make_bound(3), deterministic=True)
    # GDAL 3.7+ writes GeoPackage 1.4 triggers that also call ST_GeometryType / GPKG_IsAssignable
    # (files made elsewhere may carry them); answering them keeps such files writable.
    conn.create_function("ST_GeometryType", 1, _geometry_type, deterministic=True)
    conn.create_function("GPKG_IsAssignable", 2, _is_assignable, deterministic=True)


def _geometry_type(blob):
    try:
        g = decode(blob)
    except GeometryBlobError:
        return None
    return None if g is None else engine().geom_type(g).upper()


def _is_assignable(expected, actual):
    if expected is None or actual is None:
        return 0
    expected, actual = expected.upper(), actual.upper()
    if expected == "GEOMETRY" or expected == actual:
        return 1
    return 1 if expected == "MULTI" + actual else 0
