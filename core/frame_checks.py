"""Checks of a whole layer's data at once: reference layers loaded whole, column by column.

Reference layers hold base data in the hundreds of thousands or millions of rows; they are
loaded whole, not edited feature by feature, so they are checked column by column with
pandas/shapely (vectorised) instead of row by row. A storage then writes what passed
(:meth:`rallypoint.storage.base.Store.load_reference`); every load is recorded in the history
as a version of one pseudo-feature per layer (:func:`load_record`).
"""

from __future__ import annotations

import json
import re
import uuid as uuidlib
from typing import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import geometry as geo
from .errors import Problem, ValidationError
from .schema import LayerDef
from .storage.base import PreparedLoad
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


def prepare_reference(layer: LayerDef, gdf: gpd.GeoDataFrame, *, replace: bool = True) -> PreparedLoad:
    """A reference layer's data in the storage CRS, checked (:func:`check_frame`). Raises ValidationError
    naming every problem (any storage loads from this)."""
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
    load_id, summary = load_record(layer, len(gdf), replace, geoms)
    return PreparedLoad(len(gdf), columns, geoms, load_id, summary)


def load_record(layer: LayerDef, rows: int, replace: bool, geoms: np.ndarray) -> tuple[str, str]:
    """The loads of a layer are recorded as the versions of one pseudo-feature per layer: its UUID and
    the JSON summary of this load."""
    total = shapely.total_bounds(geoms) if len(geoms) else None
    summary = {"rows": int(rows), "replace": replace, "bounds": None if total is None else list(map(float, total))}
    return str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"urn:rallypoint:load:{layer.name}")), json.dumps(summary)


