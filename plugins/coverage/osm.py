"""A road network from an OpenStreetMap extract (``.osm.pbf`` or ``.osm``), ready for the ``roads`` layer.

The file is read with GDAL's OSM driver (through pyogrio: already a dependency, and it reads both PBF and
XML); pyrosm would need a protobuf that OR-Tools' numpy-1 builds exclude. OSM ways run through many
junctions, while the coverage network joins roads only at their ends, so every way is split at each vertex
it shares with another road (or with itself). ``highway`` classes map to the layer's classes, who may use
them (walking, driving) and a driving speed; ``maxspeed``, ``oneway``, ``junction=roundabout``, ``access``,
``foot`` and ``motor_vehicle`` tags override the defaults.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd

#: highway tag → (road_class, walk, drive, speed km/h). Classes as the roads layer defines them.
HIGHWAY = {
    "motorway": ("motorway", False, True, 100.0), "motorway_link": ("motorway", False, True, 60.0),
    "trunk": ("primary", False, True, 80.0), "trunk_link": ("primary", False, True, 50.0),
    "primary": ("primary", True, True, 60.0), "primary_link": ("primary", True, True, 40.0),
    "secondary": ("secondary", True, True, 50.0), "secondary_link": ("secondary", True, True, 40.0),
    "tertiary": ("tertiary", True, True, 40.0), "tertiary_link": ("tertiary", True, True, 30.0),
    "unclassified": ("residential", True, True, 30.0), "residential": ("residential", True, True, 30.0),
    "living_street": ("residential", True, True, 10.0), "service": ("residential", True, True, 20.0),
    "road": ("residential", True, True, 30.0), "track": ("track", True, True, 15.0),
    "pedestrian": ("path", True, False, None), "footway": ("path", True, False, None),
    "path": ("path", True, False, None), "steps": ("path", True, False, None),
    "cycleway": ("path", True, False, None), "bridleway": ("path", True, False, None),
    "corridor": ("path", True, False, None),
}
NO = {"no", "private", "false", "0"}
YES = {"yes", "designated", "permissive", "true", "1"}
_TAG = re.compile(r'"((?:[^"\\]|\\.)*)"=>"((?:[^"\\]|\\.)*)"')


class OsmError(ValueError):
    """The extract cannot be read or holds no usable road."""


def parse_other_tags(value) -> dict[str, str]:
    """GDAL's ``other_tags`` (an hstore string: ``"k"=>"v","k2"=>"v2"``) as a dict."""
    if not isinstance(value, str) or not value:
        return {}
    return {k.replace('\\"', '"'): v.replace('\\"', '"') for k, v in _TAG.findall(value)}


def _speed(tag: str | None) -> float | None:
    """``maxspeed`` in km/h (``50``, ``30 mph``); None when absent or not a number (``signals``, ``CN:urban``)."""
    if not tag:
        return None
    m = re.match(r"^\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh)?\s*$", tag.split(";")[0])
    if not m:
        return None
    v = float(m.group(1)) * (1.609344 if m.group(2) == "mph" else 1.0)
    return v if 0 < v <= 200 else None


def read_osm_roads(path: str | Path) -> "gpd.GeoDataFrame":
    """The roads of an OSM extract, split at junctions, with ``road_class``, ``name``, ``walk``, ``drive``,
    ``speed_kmh`` and ``oneway`` (EPSG:4326, as OSM)."""
    import geopandas as gpd
    import pyogrio
    import shapely

    path = Path(path)
    try:
        lines = pyogrio.read_dataframe(path, layer="lines", columns=["osm_id", "name", "highway", "other_tags"])
    except Exception as e:  # GDAL's messages name the file and the problem
        raise OsmError(f"{path}: not a readable OpenStreetMap extract ({e})") from e
    lines = lines[lines["highway"].isin(list(HIGHWAY)) & lines.geometry.notna()].reset_index(drop=True)
    if lines.empty:
        raise OsmError(f"{path}: no way with a road highway tag ({', '.join(sorted(HIGHWAY))})")

    rows = {"road_class": [], "name": [], "walk": [], "drive": [], "speed_kmh": [], "oneway": [], "reverse": []}
    for hw, name, other in zip(lines["highway"], lines["name"], lines["other_tags"]):
        tags = parse_other_tags(other)
        cls, walk, drive, kmh = HIGHWAY[hw]
        if tags.get("area") == "yes":
            walk = drive = False
        access = tags.get("access")
        if access in NO:
            walk = drive = False
        if tags.get("foot") in NO:
            walk = False
        elif tags.get("foot") in YES:
            walk = True
        if tags.get("motor_vehicle") in NO or tags.get("motorcar") in NO:
            drive = False
        kmh = _speed(tags.get("maxspeed")) or kmh
        ow = tags.get("oneway")
        oneway = ow in ("yes", "true", "1", "-1") or (tags.get("junction") == "roundabout" and ow != "no")
        rows["road_class"].append(cls)
        rows["name"].append(name[:100] if isinstance(name, str) else None)
        rows["walk"].append(walk)
        rows["drive"].append(drive)
        rows["speed_kmh"].append(kmh if drive else None)
        rows["oneway"].append(oneway)
        rows["reverse"].append(ow == "-1")
    attrs = {k: np.asarray(v, dtype=object if k in ("road_class", "name", "speed_kmh") else bool)
             for k, v in rows.items()}
    keep = attrs["walk"] | attrs["drive"]
    geoms = np.asarray(lines.geometry.values, dtype=object)[keep]
    attrs = {k: v[keep] for k, v in attrs.items()}
    geoms = np.where(attrs.pop("reverse"), shapely.reverse(geoms), geoms)

    # split every way at the vertices it shares with another way (or meets twice): the junctions
    coords, way = shapely.get_coordinates(geoms, return_index=True)
    _, vid, count = np.unique(coords, axis=0, return_inverse=True, return_counts=True)
    vid = vid.ravel()
    first = np.r_[True, way[1:] != way[:-1]]
    last = np.r_[way[1:] != way[:-1], True]
    split = (count[vid] > 1) & ~first & ~last  # an inner vertex where the way is cut
    # piece number of each vertex: a new piece starts at each way's first vertex and after each cut
    starts = first | np.r_[False, split[:-1]]
    piece = np.cumsum(starts) - 1
    # a cut vertex ends its piece and starts the next: repeat it once for the next piece
    rep = np.where(split, 2, 1)
    c2 = np.repeat(coords, rep, axis=0)
    p2 = np.repeat(piece, rep)
    cut = np.flatnonzero(split)
    p2[cut + np.cumsum(split)[cut]] += 1  # the repeated copy (vertex i's second copy is at i + cuts up to i)
    pieces = shapely.linestrings(c2, indices=p2)
    piece_way = np.repeat(way, rep)
    owner = np.zeros(len(pieces), dtype=np.int64)
    owner[p2] = piece_way
    ok = shapely.get_num_points(pieces) >= 2
    frame = {k: v[owner][ok] for k, v in attrs.items()}
    frame["speed_kmh"] = frame["speed_kmh"].astype(float)
    return gpd.GeoDataFrame(frame, geometry=pieces[ok], crs=4326)
