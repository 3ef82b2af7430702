"""A new registry file's tables through ``osgeo.ogr``: QGIS's own GDAL, inside QGIS's process.

The command line makes them with fiona (:class:`rallypoint.geometry_engine.ShapelyEngine`); a check-out
made in QGIS goes through here instead, because fiona's wheel carries a second GDAL and SQLite that must
never be loaded into QGIS. The same creation options are given, so GDAL writes the same DDL, R-tree and
triggers (``tests/test_geometry_engines.py`` compares the two files).
"""

from __future__ import annotations

from typing import Sequence

from rallypoint.geometry_engine import TableSpec


def _field(ogr, name: str, kind: str):
    base, _, width = kind.partition(":")
    types = {"str": ogr.OFTString, "int64": ogr.OFTInteger64, "float": ogr.OFTReal, "bool": ogr.OFTInteger,
             "date": ogr.OFTDate, "datetime": ogr.OFTDateTime, "int": ogr.OFTInteger}
    if base not in types:
        raise ValueError(f"column {name}: no OGR type for {kind!r}")
    fd = ogr.FieldDefn(name, types[base])
    if base == "bool":
        fd.SetSubType(ogr.OFSTBoolean)
    if width:
        fd.SetWidth(int(width))
    return fd


def create_tables(path: str, tables: Sequence[TableSpec], srs_epsg: int) -> None:
    """Create the GeoPackage ``path`` (GeoPackage 1.2, as fiona is asked for) with ``tables``."""
    from osgeo import ogr, osr

    driver = ogr.GetDriverByName("GPKG")
    if driver is None:
        raise RuntimeError("QGIS's GDAL has no GeoPackage driver")
    ds = driver.CreateDataSource(str(path), options=["VERSION=1.2"])
    if ds is None:
        raise RuntimeError(f"GDAL cannot create {path}")
    try:
        srs = osr.SpatialReference()
        srs.ImportFromEPSG(srs_epsg)
        for t in tables:
            options = [f"FID={t.fid}", f"IDENTIFIER={t.identifier}", f"DESCRIPTION={t.description}"]
            if t.geometry == "None":
                layer = ds.CreateLayer(t.name, None, ogr.wkbNone, options=options)
            else:
                kind = getattr(ogr, "wkb" + t.geometry)
                layer = ds.CreateLayer(t.name, srs, kind, options=options + ["GEOMETRY_NAME=geom", "SPATIAL_INDEX=YES"])
            if layer is None:
                raise RuntimeError(f"GDAL cannot create the table {t.name} in {path}")
            for name, kind in t.columns:
                if layer.CreateField(_field(ogr, name, kind)) != 0:
                    raise RuntimeError(f"GDAL cannot create the column {t.name}.{name} in {path}")
            layer.SyncToDisk()
    finally:
        ds = None  # closes the file: GDAL writes what it still holds
