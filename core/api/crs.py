"""The CRS a request names (``crs``, ``bbox-crs``, ``filter-crs``): one of those offered, or a 400.

The CRSs themselves and their transforms are :mod:`rallypoint.crs` (the storage seam's readers use them too).
"""

from __future__ import annotations

from ..crs import CRS84, DEFAULT, EPSG, STORAGE_URI, SUPPORTED, URIS, Crs
from .errors import BadRequest

__all__ = ["CRS84", "DEFAULT", "EPSG", "STORAGE_URI", "SUPPORTED", "URIS", "Crs", "find"]


def find(value: str | None, param: str = "crs") -> Crs:
    """The CRS named by a URI (or the short forms ``EPSG:4490``, ``[EPSG:4490]``, ``CRS84``); 400 otherwise."""
    if value is None:
        return DEFAULT
    v = value.strip()
    if v.startswith("[") and v.endswith("]"):
        v = v[1:-1]
    if v.startswith("<") and v.endswith(">"):
        v = v[1:-1]
    if v in SUPPORTED:
        return SUPPORTED[v]
    up = v.upper()
    if up in ("CRS84", "OGC:CRS84", "URN:OGC:DEF:CRS:OGC:1.3:CRS84", "URN:OGC:DEF:CRS:OGC::CRS84"):
        return DEFAULT
    for prefix in ("EPSG:", "URN:OGC:DEF:CRS:EPSG::", "HTTP://WWW.OPENGIS.NET/DEF/CRS/EPSG/0/"):
        if up.startswith(prefix):
            uri = EPSG.format(up[len(prefix):])
            if uri in SUPPORTED:
                return SUPPORTED[uri]
    raise BadRequest(f"{param}={value!r} is not offered; use one of {', '.join(URIS)}")
