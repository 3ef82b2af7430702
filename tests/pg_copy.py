"""An exact copy of a GeoPackage registry in a PostGIS registry, for tests that compare the two backends.

``rallypoint import`` writes features anew (new versions, stamps, authors and fids), as it
must; tests of the read path need the *same* registry on both backends (same fids, UUIDs,
versions, stamps, history) to expect the same answers. So this copies the rows as they are,
with the database's triggers off for the session (``session_replication_role = replica``,
which needs a superuser: the test cluster's own), then the point layers' thinning levels computed as a
bulk load does.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path

import psycopg
import shapely

from rallypoint import Registry
from rallypoint.storage.gpkg.blobs import decode_many
from rallypoint.storage.base import HISTORY_TABLE, quote
from rallypoint.storage.gpkg.file import read_info
from rallypoint.storage.postgis import thinning


def copy_gpkg_to_postgis(src: Path, url: str, only: Iterable[str] | None = None) -> None:
    """Copy every layer's rows, the history and the registry record of ``src`` into the (empty) registry at ``url``
    (``only``: just these layers' rows and history, as a benchmark of one layer wants)."""
    with Registry.open(src, readonly=True) as reg:
        layers = {name: layer for name, layer in reg.layers.items() if only is None or name in only}
    with closing(sqlite3.connect(f"file:{src}?mode=ro", uri=True)) as lite, \
            psycopg.connect(url, autocommit=True) as pg:
        info = read_info(lite)
        with pg.transaction():
            pg.execute("SET LOCAL session_replication_role = replica")  # no stamping, no history triggers
            pg.execute("UPDATE rp_metadata SET info = %s::jsonb WHERE id = 1", (info.to_json(),))
            for name, layer in layers.items():
                names = [f.name for f in layer.fields]
                cols = ["fid"] + (["geom"] if layer.has_geometry else []) + names
                rows = lite.execute(f"SELECT {', '.join(quote(c) for c in cols)} FROM {quote(name)}").fetchall()
                if layer.has_geometry:
                    geoms = shapely.set_srid(decode_many([r[1] for r in rows]), 4490)
                    ewkb = shapely.to_wkb(geoms, hex=True, include_srid=True, output_dimension=2)
                booleans = {i for i, n in enumerate(names) if layer.field(n).type == "boolean"}
                start = 2 if layer.has_geometry else 1
                with pg.cursor().copy(f"COPY {quote(name)} ({', '.join(quote(c) for c in cols)}) FROM STDIN") as cp:
                    for i, r in enumerate(rows):
                        values = [None if v is None or j not in booleans else bool(v)
                                  for j, v in enumerate(r[start:])]
                        values = [v if j in booleans else r[start + j] for j, v in enumerate(values)]
                        cp.write_row((r[0], *([ewkb[i]] if layer.has_geometry else []), *values))
                pg.execute(f"SELECT setval(pg_get_serial_sequence(%s, 'fid'), coalesce(max(fid), 0) + 1, false) "
                           f"FROM {quote(name)}", (quote(name),))
            for layer in layers.values():  # the point layers' thinning levels, which the triggers did not keep
                if thinning.applies(layer):
                    pg.execute(thinning.rebuild_sql(layer, quote))
            hist = ["fid", "layer", "uuid", "version", "op", "author", "at", "before", "after", "note"]
            with pg.cursor().copy(f"COPY {HISTORY_TABLE} ({', '.join(hist)}) FROM STDIN") as cp:
                for r in lite.execute(f"SELECT {', '.join(hist)} FROM {HISTORY_TABLE} ORDER BY fid"):
                    if only is None or r[1] in layers:
                        cp.write_row(r)
            pg.execute(f"SELECT setval(pg_get_serial_sequence('{HISTORY_TABLE}', 'fid'), "
                       f"coalesce(max(fid), 0) + 1, false) FROM {HISTORY_TABLE}")
        pg.execute("ANALYZE")
