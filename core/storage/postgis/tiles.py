"""Mapbox Vector Tiles of a PostGIS registry's layers, written by the database (``ST_AsMVT``).

The same tiles as :mod:`..gpkg.tiles` writes from a GeoPackage, by the same rules: the WebMercatorQuad
grid, a 4096 extent, lines and polygons clipped to the tile grown by :data:`~..tiles.BUFFER` units
(points only inside the tile), retired features and personal fields left out, and each
layer's ``[layer.tiles]`` rules (minimum zoom, classes hidden below their zoom, the few fields
carried below the detail zoom). Points are thinned as :func:`..gpkg.tiles.thin_points` does: below
:data:`~..tiles.FULL_DETAIL_ZOOM`, or beyond :data:`~..tiles.MAX_POINTS` in a tile, one point (the
lowest fid) per cell of a grid over the tile, the grid halved until the tile is under the limit.

Where the two differ: lines and polygons are clipped and snapped to the extent's grid by
``ST_AsMVTGeom`` (which drops what collapses), not simplified nor dropped below a pixel as
:mod:`..gpkg.tiles` does; and points are placed in the thinning grid by their exact position, where
:mod:`..gpkg.tiles` uses the R-tree's float32 boxes (a point within a metre of a cell's edge may fall
in the neighbouring cell).

The feature id is the fid, as in :mod:`..gpkg.tiles`. The box is found with the GiST index on ``geom``
(EPSG:4490); geometries are projected, clipped and quantised by ``ST_AsMVTGeom``. Each layer is
one ``ST_AsMVT`` call; a tile of several layers is their concatenation (protobuf messages of
repeated fields concatenate). Served for a PostGIS registry through :class:`.reader.PgReader`.
"""

from __future__ import annotations

from typing import Any

from ...schema import LayerDef
from ..tiles import BUFFER, EXTENT, FULL_DETAIL_ZOOM, MAX_POINTS
from . import thinning
from .schema import qi


def _fields(layer: LayerDef, personal: bool, z: int) -> list[str]:
    wanted = layer.tiles.fields_at(z)
    return [f.name for f in layer.fields if (personal or not f.personal) and (wanted is None or f.name in wanted)]


def _filters(layer: LayerDef, z: int) -> tuple[str, list[Any]]:
    clauses, params = [], []
    if layer.versioned:
        clauses.append("t.retired_at IS NULL")
    hidden = layer.tiles.classes_hidden_at(z)
    if hidden:
        clauses.append(f"t.{qi(layer.tiles.class_field)} <> ALL(%s)")
        params.append(list(hidden))
    return "".join(" AND " + c for c in clauses), params


def _cell_key(cells: int) -> str:
    # the point's cell in a cells×cells grid over the tile (rows counted from the bottom, as mvt's)
    col = f"least(greatest(floor((ST_X(p) - ST_XMin(e)) / (ST_XMax(e) - ST_XMin(e)) * {cells}), 0), {cells - 1})"
    row = f"least(greatest(floor((ST_Y(p) - ST_YMin(e)) / (ST_YMax(e) - ST_YMin(e)) * {cells}), 0), {cells - 1})"
    return f"({row} * {cells} + {col})"


def layer_tile(conn, layer: LayerDef, personal: bool, z: int, x: int, y: int) -> bytes:
    """One layer of tile ``z/x/y`` as an MVT layer message (b"" when it holds nothing)."""
    if z < layer.tiles.min_zoom or not layer.has_geometry:
        return b""
    point = "Point" in layer.geometry and "Multi" not in layer.geometry
    if point and z < FULL_DETAIL_ZOOM and thinning.applies(layer) and _has_levels(conn, layer):
        return _thinned_tile(conn, layer, personal, z, x, y)
    margin = 0.0 if point else BUFFER / EXTENT
    filters, params = _filters(layer, z)
    # e: the tile in EPSG:3857; q: the box searched in EPSG:4490 (latitudes within the projection's range)
    tile = (f"WITH tile AS (SELECT ST_TileEnvelope({int(z)}, {int(x)}, {int(y)}) AS e, "
            f"ST_Transform(ST_TileEnvelope({int(z)}, {int(x)}, {int(y)}, margin => {margin}), 4490) AS q)")
    proj = "ST_Transform(t.geom, 3857)"
    where = f"t.geom && tile.q{filters}"
    rows_from = f"{qi(layer.name)} t, tile"
    if point:
        # Each point projected once (m.p; OFFSET 0 keeps the planner from copying the expression into
        # every use: five PROJ calls a point were most of a tile's time, bench/pg_10m.py).
        rows_from = (f"{qi(layer.name)} t CROSS JOIN LATERAL (SELECT ST_Transform(t.geom, 3857) AS p OFFSET 0) m, "
                     "tile")
        # half-open, as mvt: a point on an edge is in exactly one tile
        where += (" AND ST_X(m.p) >= ST_XMin(tile.e) AND ST_X(m.p) < ST_XMax(tile.e)"
                  " AND ST_Y(m.p) > ST_YMin(tile.e) AND ST_Y(m.p) <= ST_YMax(tile.e)")
    fields = _fields(layer, personal, z)
    cols = "".join(", t." + qi(f) for f in fields)
    source = f"SELECT t.fid, {'m.p' if point else proj} AS g{cols} FROM {rows_from} WHERE {where}"
    source_params = params
    if point:
        # One pass over the tile's points: per cell of the finest grid, its count and lowest fid.
        fine = conn.execute(f"{tile} SELECT {_cell_key(FINEST)} AS cell, count(*), min(fid) FROM "
                            f"(SELECT t.fid, m.p AS p, tile.e FROM {rows_from} WHERE {where}) s GROUP BY cell",
                            params).fetchall()
        counted = sum(n for _, n, _ in fine)
        if counted and not (z >= FULL_DETAIL_ZOOM and counted <= MAX_POINTS):
            # the first (lowest fid) point of each occupied cell, fetched by key
            source = f"SELECT t.fid, {proj} AS g{cols} FROM {qi(layer.name)} t WHERE t.fid = ANY(%s)"
            source_params = [_thinned({cell: fid for cell, _, fid in fine})]
    sql = (f"{tile}, rows AS (SELECT fid, ST_AsMVTGeom(g, tile.e, {EXTENT}, {0 if point else BUFFER}, true) AS geom"
           f"{''.join(', ' + qi(f) for f in fields)} FROM ({source}) src, tile) "
           f"SELECT ST_AsMVT(rows, %s, {EXTENT}, 'geom', 'fid') FROM rows WHERE geom IS NOT NULL")
    data = conn.execute(sql, [*source_params, layer.name]).fetchone()[0]
    return bytes(data) if data else b""


def _has_levels(conn, layer: LayerDef) -> bool:
    """Whether the layer's thinning is precomputed (a registry made before it was is thinned per tile)."""
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (thinning.side_table(layer.name),)).fetchone()[0]


def _thinned_tile(conn, layer: LayerDef, personal: bool, z: int, x: int, y: int) -> bytes:
    """A point layer's tile below the detail zoom from its precomputed levels (:mod:`.thinning`): the tile
    counts its points by level (for each level ≤ z + 8, one range of keys in the (level, key) index), keeps the
    finest level at which it holds at most MAX_POINTS, and encodes those, already in EPSG:3857. What the
    per-tile pass below keeps, read in the time of the points drawn rather than of every point in the tile."""
    z, x, y = int(z), int(x), int(y)
    side = qi(thinning.side_table(layer.name))
    lo, hi = thinning.key_range(z, x, y)
    top = min(z + 8, thinning.TOP_LEVEL)
    inside = f"s.lvl = ANY(%s::smallint[]) AND s.k >= {lo} AND s.k < {hi}"
    counts = dict(conn.execute(f"SELECT lvl, count(*) FROM {side} s WHERE {inside} GROUP BY lvl",
                               [list(range(top + 1))]).fetchall())
    if not counts:
        return b""
    level, running = z, 0
    for lvl in range(0, top + 1):  # the points kept at level L: those of level <= L
        running += counts.get(lvl, 0)
        if lvl >= z and running <= MAX_POINTS:
            level = lvl
    fields = _fields(layer, personal, z)
    cols = "".join(", t." + qi(f) for f in fields)
    sql = (f"WITH tile AS (SELECT ST_TileEnvelope({z}, {x}, {y}) AS e), "
           f"rows AS (SELECT t.fid, ST_AsMVTGeom(ST_SetSRID(ST_MakePoint(s.x, s.y), 3857), tile.e, {EXTENT}, 0, "
           f"true) AS geom{cols} FROM {side} s JOIN {qi(layer.name)} t ON t.fid = s.fid, tile WHERE {inside}) "
           f"SELECT ST_AsMVT(rows, %s, {EXTENT}, 'geom', 'fid') FROM rows WHERE geom IS NOT NULL")
    data = conn.execute(sql, [list(range(level + 1)), layer.name]).fetchone()[0]
    return bytes(data) if data else b""


FINEST = 256  # cells a side of the finest thinning grid


def _thinned(firsts: dict[int, int]) -> list[int]:
    """The fids kept: the lowest of each cell of the finest grid holding at most MAX_POINTS occupied cells,
    from ``firsts`` (the lowest fid of each occupied cell of the FINEST × FINEST grid, keyed as _cell_key).

    The grids are nested and their sizes powers of two, so a cell of a coarser grid is the union of four
    of the finer one's, exactly: the position in the tile, v in [0, 1], is the same float at every level,
    and v · 2c is v · c scaled by two without rounding, so floor(v · c) = floor(v · 2c) // 2. One pass
    over the points (the caller's) gives every level, where a count per level and a sort of all the
    tile's points took minutes for a tile of millions of points (bench/pg_10m.py, issue 7).
    """
    cells = FINEST
    while cells > 1 and len(firsts) > MAX_POINTS:
        half, coarser = cells // 2, {}
        for cell, fid in firsts.items():
            row, col = divmod(cell, cells)
            key = (row // 2) * half + col // 2
            if key not in coarser or fid < coarser[key]:
                coarser[key] = fid
        firsts, cells = coarser, half
    return sorted(firsts.values())


def tile(conn, layers: list[LayerDef], personal: bool, z: int, x: int, y: int) -> bytes:
    """Tile ``z/x/y`` of ``layers`` (b"" when none holds anything)."""
    return b"".join(layer_tile(conn, layer, personal, z, x, y) for layer in layers)
