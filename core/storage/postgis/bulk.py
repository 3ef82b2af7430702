"""Bulk writing into PostGIS with COPY: a checked reference layer (:mod:`rallypoint.frame_checks` checked it),
and a whole new registry in one transaction (``rallypoint sample``)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np
import pandas as pd
import shapely

from ... import geometry as geo
from ...errors import RegistryFileError
from ...schema import LayerDef
from ..base import HISTORY_TABLE, PreparedLoad, RegistryInfo
from .connect import connect, label
from .schema import create_registry_tables, qi


def _plain(v):
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return None
    return int(v) if isinstance(v, np.integer) else v


def load_reference(conn, layer: LayerDef, data: PreparedLoad, *, author: str, now: str, replace: bool = True,
                   note: str | None = None) -> int:
    """Write a whole reference layer, checked by :func:`~rallypoint.frame_checks.prepare_reference`, in one
    transaction, with COPY."""
    columns, geoms = data.columns, data.geoms
    names = list(columns)
    # hex EWKB carries the SRID: COPY fills the geometry(…, 4490) column without a function call per row
    ewkb = shapely.to_wkb(shapely.set_srid(geoms, geo.STORAGE_EPSG), hex=True, include_srid=True, output_dimension=2)
    values_by_field = []
    for n in names:
        values = columns[n].to_numpy(dtype=object)
        if layer.field(n).type == "boolean":  # check_frame gives SQLite's 0/1
            values = np.array([None if v is None else bool(v) for v in values], dtype=object)
        values_by_field.append(values)
    table = qi(layer.name)
    with conn.transaction():
        if replace:
            conn.execute(f"DELETE FROM {table}")
        cols = ", ".join(["geom"] + [qi(n) for n in names])
        with conn.cursor().copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
            for blob, vals in zip(ewkb, zip(*values_by_field) if values_by_field else [()] * data.rows):
                copy.write_row((blob, *map(_plain, vals)))
        load_id, summary = data.load_id, data.summary
        conn.execute(
            f"INSERT INTO {HISTORY_TABLE} (layer, uuid, version, op, author, at, before, after, note)"
            f" SELECT %s, %s, coalesce(max(version), 0) + 1, 'load', %s, %s, NULL, %s::jsonb, %s"
            f" FROM {HISTORY_TABLE} WHERE layer = %s AND uuid = %s",
            (layer.name, load_id, author, now, summary, note, layer.name, load_id))
    return data.rows


_STAMPS = ("version", "created_at", "created_by", "updated_at", "updated_by", "retired_at")


def copy_features(conn, layer: LayerDef, rows: list[dict[str, Any]], geoms: list[Any]) -> None:
    """COPY checked rows of a versioned layer in; the layer's triggers stamp them and write their history."""
    names = [f.name for f in layer.fields if f.name not in _STAMPS]
    bools = {f.name for f in layer.fields if f.type == "boolean"}
    cols = ([] if not layer.has_geometry else ["geom"]) + [qi(n) for n in names]
    if layer.has_geometry:
        arr = np.array(geoms, dtype=object)
        ewkb = shapely.to_wkb(shapely.set_srid(arr, geo.STORAGE_EPSG), hex=True, include_srid=True,
                              output_dimension=2)
    with conn.cursor().copy(f"COPY {qi(layer.name)} ({', '.join(cols)}) FROM STDIN") as copy:
        for i, row in enumerate(rows):
            values = [bool(row[n]) if n in bools and row.get(n) is not None else row.get(n) for n in names]
            copy.write_row(([ewkb[i]] if layer.has_geometry else []) + values)


def copy_columns(conn, layer: LayerDef, names: list[str], columns: list[list[Any]], geoms: Any) -> None:
    """COPY checked rows given as columns into a versioned layer; its triggers stamp them and write their
    history (the stamps given are the triggers' to set, and are not sent)."""
    keep = [k for k, name in enumerate(names) if name not in _STAMPS]
    values = []
    for k in keep:
        col = columns[k]
        if layer.field(names[k]).type == "boolean":  # checked values are SQLite's 0/1
            col = [None if v is None else bool(v) for v in col]
        values.append(col)
    cols = [qi(names[k]) for k in keep]
    if geoms is not None:
        values.insert(0, shapely.to_wkb(shapely.set_srid(np.asarray(geoms, dtype=object), geo.STORAGE_EPSG),
                                        hex=True, include_srid=True, output_dimension=2).tolist())
        cols.insert(0, "geom")
    with conn.cursor().copy(f"COPY {qi(layer.name)} ({', '.join(cols)}) FROM STDIN") as copy:
        for row in zip(*values):
            copy.write_row(row)


class NewRegistryLoader:
    """What a whole new registry is written with inside its one transaction (see :func:`new_registry`)."""

    def __init__(self, conn, author: str, now: str, note: str | None):
        self._conn = conn
        self._author, self._now, self._note = author, now, note

    def load_reference(self, layer: LayerDef, data: PreparedLoad) -> int:
        return load_reference(self._conn, layer, data, author=self._author, now=self._now, note=self._note)

    def add_checked(self, layer: LayerDef, rows: list[dict[str, Any]], geoms: list[Any]) -> int:
        """Rows already checked as a batch checks them (every field, derived values, references, plugins)."""
        copy_features(self._conn, layer, rows, geoms)
        return len(rows)


@contextmanager
def new_registry(url: str, layers: list[LayerDef], info: RegistryInfo, *, author: str, now: str,
                 note: str | None, overwrite: bool = False) -> Iterator[NewRegistryLoader]:
    """A new registry at ``url`` written in **one transaction**: the tables, then whatever the caller loads.
    A run that fails or is killed leaves the database as it was (with ``overwrite``, the old registry too);
    the triggers stamp copied rows and write their history with the transaction's author and time."""
    import psycopg

    conn = connect(url)
    try:
        with conn.transaction():
            create_registry_tables(conn, label(url), layers, info, overwrite=overwrite)
            conn.execute("SELECT set_config('rallypoint.author', %s, true), set_config('rallypoint.now', %s, true),"
                         " set_config('rallypoint.note', %s, true)", (author, now, note or ""))
            yield NewRegistryLoader(conn, author, now, note)
    except psycopg.Error as exc:
        raise RegistryFileError(f"{label(url)}: cannot write the registry: {str(exc).strip()}") from exc
    finally:
        conn.close()
