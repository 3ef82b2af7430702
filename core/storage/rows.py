"""Rows → GeoJSON Features, for every backend's reader (other CRSs, HTML, single features).

A reader's rows are (fid, geometry, fields…), the geometry as a GeoPackage blob (a file) or as
WKB (PostGIS). A page of 2D points in CRS84 is written straight from the bytes; any other
geometry a page at a time by shapely (reprojected when asked); orjson embeds each geometry
as a ready-made fragment.
"""

from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np
import orjson
import shapely

from ..crs import Crs
from ..schema import LayerDef
from .gpkg.blobs import _ENVELOPE_SIZES as _ENVELOPE

_POINT = struct.Struct("<dd")
_served: dict[tuple[int, bool], tuple[LayerDef, tuple[tuple[str, ...], tuple[int, ...]]]] = {}


def served_fields(layer: LayerDef, personal: bool) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The field names served (personal ones only when ``personal``) and the positions of the boolean ones;
    worked out once per layer."""
    key = (id(layer), personal)
    hit = _served.get(key)
    if hit is None or hit[0] is not layer:
        names = tuple(f.name for f in layer.fields if personal or not f.personal)
        booleans = tuple(i for i, n in enumerate(names) if layer.field(n).type == "boolean")
        hit = _served[key] = (layer, (names, booleans))
    return hit[1]


def _point_text(blob: bytes) -> str | None:
    """A 2D little-endian point blob without envelope, straight to GeoJSON text (None if not one)."""
    if len(blob) == 29 and blob[0:2] == b"GP" and blob[3] == 1 and blob[8] == 1 and blob[9:13] == b"\x01\x00\x00\x00":
        x, y = _POINT.unpack_from(blob, 13)
        if not (math.isnan(x) or math.isnan(y)):
            return f'{{"type":"Point","coordinates":[{x!r},{y!r}]}}'
    return None


def _wkb_point_text(wkb: bytes) -> str | None:
    """A 2D little-endian WKB point (as PostGIS's ST_AsBinary writes it), as :func:`_point_text` writes it."""
    if len(wkb) == 21 and wkb[0] == 1 and wkb[1:5] == b"\x01\x00\x00\x00":
        x, y = _POINT.unpack_from(wkb, 5)
        if not (math.isnan(x) or math.isnan(y)):
            return f'{{"type":"Point","coordinates":[{x!r},{y!r}]}}'
    return None


def geometries_json(blobs: list[bytes | None], crs: Crs, *, as_text: bool = False, wkb: bool = False) -> list[Any]:
    """GeoJSON geometries of a page of GeoPackage blobs (or plain WKB with ``wkb``), as orjson fragments or
    text (None for NULL)."""
    texts: list[str | None] | None = None
    point_text = _wkb_point_text if wkb else _point_text
    if crs.identity:
        texts = []
        for blob in blobs:
            t = None if blob is None else point_text(blob)
            if t is None and blob is not None:
                texts = None
                break
            texts.append(t)
    if texts is None:
        wkbs = np.empty(len(blobs), dtype=object)
        for i, blob in enumerate(blobs):
            if blob is not None:
                wkbs[i] = bytes(blob) if wkb else bytes(blob[8 + _ENVELOPE.get((blob[3] >> 1) & 7, 0):])
        texts = list(shapely.to_geojson(crs.geometry_out(shapely.from_wkb(wkbs))))
    if as_text:
        return texts
    return [None if t is None else orjson.Fragment(t) for t in texts]


def to_features(layer: LayerDef, rows: list[tuple], crs: Crs, personal: bool, *,
                geometry_as_text: bool = False, wkb: bool = False) -> list[dict[str, Any]]:
    """GeoJSON Features (``id`` is the UUID, or the fid for reference layers) from a reader's rows
    (geometries as GeoPackage blobs, or as WKB with ``wkb``: PostGIS's rows)."""
    names, booleans = served_fields(layer, personal)
    offset = 2 if layer.has_geometry else 1
    geoms = (geometries_json([r[1] for r in rows], crs, as_text=geometry_as_text, wkb=wkb) if layer.has_geometry
             else [None] * len(rows))
    use_uuid = layer.versioned
    out = []
    for row, geom in zip(rows, geoms):
        props = dict(zip(names, row[offset:]))
        for i in booleans:
            v = props[names[i]]
            if v is not None:
                props[names[i]] = bool(v)
        out.append({"type": "Feature", "id": props["uuid"] if use_uuid else row[0], "geometry": geom,
                    "properties": props})
    return out
