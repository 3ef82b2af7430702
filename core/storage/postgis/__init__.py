"""The PostGIS backend: a registry in a PostgreSQL database, through psycopg 3; its triggers write the history.

:mod:`.store` (writes, keys, conflicts), :mod:`.connect`, :mod:`.schema` (tables, triggers, roles, creating a
registry), :mod:`.bulk` (COPY), :mod:`.reader` (the OGC API's reads), :mod:`.tiles` (``ST_AsMVT``),
:mod:`.snapshot` (a GeoPackage copy as of one moment), :mod:`.check` (the database's structure). Reached
through :mod:`rallypoint.storage`, never directly.
"""
