"""The GeoPackage backend: a registry in one file, through Python's sqlite3 (never GDAL in the same process).

:mod:`.store` (writes, history, keys, conflicts), :mod:`.file` (creating and opening the file: GDAL's DDL,
``gpkg_*`` tables, styles), :mod:`.blobs` (geometry blobs and the SQL functions GDAL's triggers call),
:mod:`.bulk` (reference layers loaded whole), :mod:`.reader` (the OGC API's reads, with :mod:`.changes`,
:mod:`.counting` and :mod:`.geojson`), :mod:`.tiles` (vector tiles), :mod:`.filters` (what a CQL2 filter
needs on the connection). Reached through :mod:`rallypoint.storage`, never directly.
"""
