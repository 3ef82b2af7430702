"""Bulk loading of a reference layer into PostGIS: the checks of :mod:`rallypoint.bulk`, then COPY."""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from . import geometry as geo
from .bulk import load_record, prepare_reference
from .pg_schema import HISTORY_TABLE, qi
from .schema import LayerDef


def _plain(v):
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return None
    return int(v) if isinstance(v, np.integer) else v


def load_reference(conn, layer: LayerDef, gdf, *, author: str, now: str, replace: bool = True,
                   note: str | None = None) -> int:
    """Write a whole reference layer from a GeoDataFrame (in any CRS) in one transaction, with COPY."""
    gdf, columns, geoms = prepare_reference(layer, gdf)
    names = list(columns)
    # hex EWKB carries the SRID: COPY fills the geometry(…, 4490) column without a function call per row
    ewkb = shapely.to_wkb(shapely.set_srid(geoms, geo.STORAGE_EPSG), hex=True, include_srid=True, output_dimension=2)
    data = []
    for n in names:
        values = columns[n].to_numpy(dtype=object)
        if layer.field(n).type == "boolean":  # check_frame gives SQLite's 0/1
            values = np.array([None if v is None else bool(v) for v in values], dtype=object)
        data.append(values)
    table = qi(layer.name)
    with conn.transaction():
        if replace:
            conn.execute(f"DELETE FROM {table}")
        cols = ", ".join(["geom"] + [qi(n) for n in names])
        with conn.cursor().copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
            for blob, vals in zip(ewkb, zip(*data) if data else [()] * len(gdf)):
                copy.write_row((blob, *map(_plain, vals)))
        load_id, summary = load_record(layer, len(gdf), replace, geoms)
        conn.execute(
            f"INSERT INTO {HISTORY_TABLE} (layer, uuid, version, op, author, at, before, after, note)"
            f" SELECT %s, %s, coalesce(max(version), 0) + 1, 'load', %s, %s, NULL, %s::jsonb, %s"
            f" FROM {HISTORY_TABLE} WHERE layer = %s AND uuid = %s",
            (layer.name, load_id, author, now, summary, note, layer.name, load_id))
    return len(gdf)
