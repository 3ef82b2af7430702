"""Bulk loading of reference layers (administrative areas, population grid, roads).

Reference layers hold base data in the hundreds of thousands or millions of rows; they
are loaded whole, not edited feature by feature, so they are checked column by column
with pandas/shapely (vectorised) instead of row by row, and written in one transaction.
The spatial index is filled from bounds computed with shapely in one pass rather than by
the per-row trigger, which would call back into Python four times per row; the trigger
is dropped and re-created inside the same transaction, so a failure leaves it in place.
"""

from __future__ import annotations

import json
import re
import sqlite3
import uuid as uuidlib
from typing import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import geometry as geo
from .errors import Problem, ValidationError
from .gpkgfile import HISTORY_TABLE, quote
from .schema import LayerDef
from .validation import PROVINCE_PREFIXES

_ADCODE = re.compile(r"^\d{6}(\d{3}(\d{3})?)?$")
_TYPE_IDS = {"Point": 0, "LineString": 1, "Polygon": 3, "MultiPoint": 4, "MultiLineString": 5, "MultiPolygon": 6}
MAX_PROBLEMS = 200


def _check_column(layer: LayerDef, name: str, col: pd.Series, problems: list[Problem]) -> pd.Series:
    f = layer.field(name)
    null = col.isna()
    if f.required and null.any():
        for i in col.index[null][:5]:
            problems.append(Problem(layer.name, f"row {i}", name, "is required"))
    vals = col[~null]

    def bad(mask, msg: Callable[[object], str]) -> None:
        for i in vals.index[np.asarray(mask, dtype=bool)][:5]:
            problems.append(Problem(layer.name, f"row {i}", name, msg(vals[i])))

    if f.type in ("integer", "real"):
        num = pd.to_numeric(vals, errors="coerce")  # aligned with vals; NaN where not a number
        bad(num.isna(), lambda v: f"{v!r} is not a number")
        if f.type == "integer":
            bad((num % 1).fillna(0) != 0, lambda v: f"{v} is not a whole number")
        if f.min is not None:
            bad(num < f.min, lambda v: f"{v} is below the minimum {f.min:g}")
        if f.max is not None:
            bad(num > f.max, lambda v: f"{v} is above the maximum {f.max:g}")
        out = pd.to_numeric(col, errors="coerce")
        return out.astype("Int64") if f.type == "integer" else out.astype(float)
    if f.type == "boolean":
        ok = vals.map(lambda v: isinstance(v, (bool, np.bool_)) or v in (0, 1))
        bad(~ok, lambda v: f"{v!r} is not true or false")
        return col.map(lambda v: None if pd.isna(v) else int(bool(v)))
    s = vals.astype(str)
    if f.values:
        bad(~s.isin(f.codes), lambda v: f"{v!r} is not an allowed value ({', '.join(f.codes)})")
    if f.type == "adcode":
        bad(~s.str.match(_ADCODE) | ~s.str[:2].isin(PROVINCE_PREFIXES), lambda v: f"{v!r} is not a division code")
    if f.max_length:
        bad(s.str.len() > f.max_length, lambda v: f"text longer than {f.max_length}")
    return col.map(lambda v: None if pd.isna(v) else str(v))


def check_frame(layer: LayerDef, gdf: gpd.GeoDataFrame) -> tuple[dict[str, pd.Series], np.ndarray, list[Problem]]:
    """Check a whole reference layer column by column; return stored columns, geometries and problems.

    ``gdf`` must already be in the storage CRS. Problems name the row (its position).
    """
    problems: list[Problem] = []
    for c in gdf.columns:
        if c != gdf.geometry.name and not layer.has_field(c):
            problems.append(Problem(layer.name, "(all rows)", c, f"no such field in layer {layer.name}"))
    for f in layer.fields:
        if f.required and f.name not in gdf.columns:
            problems.append(Problem(layer.name, "(all rows)", f.name, "is required but the column is missing"))
    columns = {}
    for f in layer.fields:
        if f.name in gdf.columns:
            columns[f.name] = _check_column(layer, f.name, gdf[f.name], problems)
    geoms = gdf.geometry.to_numpy()
    want = _TYPE_IDS[layer.geometry]
    types = shapely.get_type_id(geoms)
    if layer.geometry.startswith("Multi"):
        single = types == want - 3
        if single.any():
            geoms = geoms.copy()
            geoms[single] = [getattr(shapely.geometry, layer.geometry)([g]) for g in geoms[single]]
            types = shapely.get_type_id(geoms)
    for i in np.flatnonzero(shapely.is_missing(geoms) | shapely.is_empty(geoms))[:5]:
        problems.append(Problem(layer.name, f"row {i}", None, "a geometry is required"))
    for i in np.flatnonzero((types != want) & ~shapely.is_missing(geoms))[:5]:
        problems.append(Problem(layer.name, f"row {i}", None, f"a {geoms[i].geom_type} where the layer holds {layer.geometry}"))
    invalid = ~shapely.is_valid(geoms) & ~shapely.is_missing(geoms)
    for i in np.flatnonzero(invalid)[:5]:
        problems.append(Problem(layer.name, f"row {i}", None, f"invalid geometry: {shapely.is_valid_reason(geoms[i])}"))
    return columns, geoms, problems[:MAX_PROBLEMS]


def prepare_reference(layer: LayerDef, gdf: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, dict[str, pd.Series], np.ndarray]:
    """A reference layer's data in the storage CRS, checked (:func:`check_frame`): the frame, its stored
    columns and geometries. Raises ValidationError naming every problem (any storage loads from this)."""
    if layer.versioned:
        raise ValueError(f"{layer.name} keeps per-feature history; add its features through a batch")
    if gdf.crs is None:
        raise ValidationError([Problem(layer.name, "(all rows)", None, "the data has no coordinate reference system")])
    gdf = gdf.reset_index(drop=True)
    if not gdf.crs.equals(geo.STORAGE_CRS):
        gdf = gdf.to_crs(geo.STORAGE_CRS)
    columns, geoms, problems = check_frame(layer, gdf)
    if problems:
        raise ValidationError(problems)
    return gdf, columns, geoms


def load_record(layer: LayerDef, rows: int, replace: bool, geoms: np.ndarray) -> tuple[str, str]:
    """The loads of a layer are recorded as the versions of one pseudo-feature per layer: its UUID and
    the JSON summary of this load."""
    total = shapely.total_bounds(geoms) if len(geoms) else None
    summary = {"rows": int(rows), "replace": replace, "bounds": None if total is None else list(map(float, total))}
    return str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"urn:rallypoint:load:{layer.name}")), json.dumps(summary)


def load_reference(conn: sqlite3.Connection, layer: LayerDef, gdf: gpd.GeoDataFrame, *, author: str, now: str,
                   replace: bool = True, note: str | None = None) -> int:
    """Write a whole reference layer from a GeoDataFrame (in any CRS) in one transaction."""
    gdf, columns, geoms = prepare_reference(layer, gdf)
    names = list(columns)
    blobs = geo.encode_many(geoms)
    bounds = shapely.bounds(geoms)
    rtree = quote(f"rtree_{layer.name}_geom")
    table = quote(layer.name)
    conn.execute("BEGIN IMMEDIATE")
    try:
        triggers = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?",
                                (layer.name,)).fetchall()
        # Per-row triggers (R-tree and GDAL's feature count) are replaced by set-wise work below.
        for name, _ in triggers:
            conn.execute(f"DROP TRIGGER {quote(name)}")
        if replace:
            conn.execute(f"DELETE FROM {table}")
            conn.execute(f"DELETE FROM {rtree}")
        start = conn.execute(f"SELECT coalesce(max(fid), 0) FROM {table}").fetchone()[0] + 1
        fids = np.arange(start, start + len(gdf))
        data = [columns[n].to_numpy(dtype=object) for n in names]
        rows = ((int(fid), blob, *[None if (v is pd.NA or v is None or (isinstance(v, float) and np.isnan(v))) else
                                   (int(v) if isinstance(v, (np.integer,)) else v) for v in vals])
                for fid, blob, vals in zip(fids, blobs, zip(*data) if data else [()] * len(gdf)))
        conn.executemany(
            f"INSERT INTO {table} (fid, geom{''.join(', ' + quote(n) for n in names)})"
            f" VALUES (?, ?{', ?' * len(names)})", rows)
        conn.executemany(f"INSERT INTO {rtree} VALUES (?, ?, ?, ?, ?)",
                         ((int(f), b[0], b[2], b[1], b[3]) for f, b in zip(fids, bounds)))
        for _, sql in triggers:
            conn.execute(sql)
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'gpkg_ogr_contents'").fetchone():
            conn.execute(f"UPDATE gpkg_ogr_contents SET feature_count = (SELECT count(*) FROM {table})"
                         " WHERE lower(table_name) = lower(?)", (layer.name,))
        total = shapely.total_bounds(geoms) if len(geoms) else None
        if total is not None:
            conn.execute("UPDATE gpkg_contents SET last_change = ?, min_x = ?, min_y = ?, max_x = ?, max_y = ?"
                         " WHERE table_name = ?", (now, *map(float, total), layer.name))
        load_id, summary = load_record(layer, len(gdf), replace, geoms)
        version = conn.execute(f"SELECT coalesce(max(version), 0) + 1 FROM {HISTORY_TABLE} WHERE layer = ? AND uuid = ?",
                               (layer.name, load_id)).fetchone()[0]
        conn.execute(
            f"INSERT INTO {HISTORY_TABLE} (layer, uuid, version, op, author, at, before, after, note)"
            " VALUES (?, ?, ?, 'load', ?, ?, NULL, ?, ?)",
            (layer.name, load_id, version, author, now, summary, note))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return len(gdf)
