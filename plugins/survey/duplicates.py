"""Duplicates: records of one layer at the same place (within a tolerance in metres) with the same name.

Only records whose normalised name occurs more than once can be duplicates, so only those go into a
KD-tree (scipy's cKDTree, the spatial index the coverage analysis uses too) over coordinates projected to an
azimuthal equidistant projection centred on them. The tree proposes the pairs within a slightly widened
radius; the geodesic distance on the CGCS2000 ellipsoid (pyproj's Geod) decides, so the answer does not
depend on the projection. Nothing is compared pair by pair over the whole layer.

Of each matching pair the record entered later (``created_at``, then fid) is the duplicate; it is reported
as a duplicate of the earliest record it matches. Three records at one spot give two duplicates of the first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# The search radius is widened by this much so that projection distortion (well under 0.1 % within a
# few hundred kilometres of the centre) never hides a pair the geodesic distance would accept.
_SLACK = 1.01
_SLACK_M = 1.0


@dataclass
class Duplicates:
    """Per record (in input order): the position of the record it duplicates (-1: none) and the distance."""

    of: np.ndarray
    distance_m: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        return self.of >= 0


def _project(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    import pyproj

    lon0, lat0 = float(np.median(lon)), float(np.median(lat))
    aeqd = pyproj.CRS.from_proj4(f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +ellps=GRS80 +units=m +no_defs")
    t = pyproj.Transformer.from_crs(pyproj.CRS.from_epsg(4490), aeqd, always_xy=True)
    x, y = t.transform(lon, lat)
    return np.column_stack([x, y])


def find_duplicates(keys, xy: np.ndarray, order: np.ndarray, tolerance_m: float) -> Duplicates:
    """Duplicates among n records.

    Parameters
    ----------
    keys : sequence of str
        Normalised names (:func:`~rallypoint_plugins.survey.names.normalise_many`); empty names never match.
    xy : (n, 2) array
        Longitude and latitude in EPSG:4490 (NaN for a record without a position: it never matches).
    order : (n,) array
        Rank of entry, unique per record (smaller = entered earlier); the later record of a pair is the
        duplicate.
    tolerance_m : float
        Largest geodesic distance between two records at "the same place".
    """
    import pandas as pd
    import pyproj
    from scipy.spatial import cKDTree

    n = len(xy)
    of = np.full(n, -1, dtype=np.int64)
    dist = np.full(n, np.nan)
    names = pd.Series(keys, dtype=object)
    codes, _ = pd.factorize(names)
    codes[(names.isna() | names.eq("")).to_numpy()] = -1
    counts = np.bincount(codes[codes >= 0], minlength=1) if n else np.zeros(1, dtype=np.int64)
    cand = np.flatnonzero((codes >= 0) & (counts[np.maximum(codes, 0)] > 1) & np.isfinite(xy).all(axis=1))
    if len(cand) < 2:
        return Duplicates(of, dist)
    pts = _project(xy[cand, 0], xy[cand, 1])
    pairs = cKDTree(pts).query_pairs(tolerance_m * _SLACK + _SLACK_M, output_type="ndarray")
    if not len(pairs):
        return Duplicates(of, dist)
    i, j = cand[pairs[:, 0]], cand[pairs[:, 1]]
    same = codes[i] == codes[j]
    i, j = i[same], j[same]
    _, _, d = pyproj.Geod(ellps="GRS80").inv(xy[i, 0], xy[i, 1], xy[j, 0], xy[j, 1])
    near = d <= tolerance_m
    i, j, d = i[near], j[near], np.asarray(d)[near]
    # the later of each pair is the duplicate; keep, per duplicate, its earliest partner
    later_is_j = order[j] > order[i]
    dup = np.where(later_is_j, j, i)
    orig = np.where(later_is_j, i, j)
    pick = np.lexsort((order[orig], dup))
    dup, orig, d = dup[pick], orig[pick], d[pick]
    first = np.ones(len(dup), dtype=bool)
    first[1:] = dup[1:] != dup[:-1]
    of[dup[first]] = orig[first]
    dist[dup[first]] = d[first]
    return Duplicates(of, dist)
