"""The data of bench/pg_10m.py: synthetic hazard points that the registry accepts, and their bulk load.

The benchmark's figures mean something only if the 10M points it serves are points the registry
would take (valid under the hazard_points definition, clustered like real sites) and if the
loaded database is a working registry afterwards (indexes built, triggers back on). This checks
both on a few thousand points; the timings are the benchmark's business, not the tests'.
The load is PostGIS-only by nature (COPY into the layer's table).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import psycopg
import pytest
import shapely

from rallypoint import Registry
from rallypoint.schema import builtin_layers
from rallypoint.validation import check_feature

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import pg_10m  # noqa: E402

NOW = "2026-11-01T00:00:00.000Z"


@pytest.fixture(scope="module")
def points():
    rng = np.random.default_rng(7)
    return pg_10m.hazard_chunk(pg_10m.Province(rng), rng, 3000, NOW)


def test_every_synthetic_point_passes_the_registrys_checks(points):
    layer = builtin_layers()["hazard_points"]
    user = [f.name for f in layer.fields if not f.system and f.name in points.columns]
    geoms = shapely.from_wkb(points["geom"].to_numpy())
    rows = points[user].astype(object).where(points[user].notna(), None).to_dict("records")
    for row, geom in zip(rows, geoms):
        checked = check_feature(layer, row, geom)
        assert checked.problems == [], (row, checked.problems)
        # the grade given is the one the registry derives (for the types it derives it for)
        assert checked.properties["danger_grade"] == row["danger_grade"], row
    assert set(shapely.get_type_id(geoms)) == {0} and (shapely.get_srid(geoms) == 4490).all()
    x0, y0, x1, y1 = pg_10m.EXTENT
    xy = shapely.get_coordinates(geoms)
    assert ((xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)).all()
    assert points["adcode"].str.fullmatch(r"51\d{7}").all()
    assert points["uuid"].is_unique


def test_the_points_cluster_like_settlements(points):
    """On a 100 × 100 grid over the province, the busiest tenth of the cells holds most points
    (uniformly spread points would put about a tenth there)."""
    xy = shapely.get_coordinates(shapely.from_wkb(points["geom"].to_numpy()))
    x0, y0, x1, y1 = pg_10m.EXTENT
    counts, _, _ = np.histogram2d(xy[:, 0], xy[:, 1], bins=100, range=[[x0, x1], [y0, y1]])
    busiest = np.sort(counts.ravel())[::-1][:1000].sum()
    assert busiest / len(xy) > 0.6


def test_the_bulk_load_leaves_a_working_registry(pg_registry_url):
    timings = pg_10m.load_points(pg_registry_url, 2500, seed=11, chunk=1000)
    assert timings["total_s"] > 0
    assert pg_10m.loaded(pg_registry_url)["points"] == 2500
    with psycopg.connect(pg_registry_url) as conn:
        assert conn.execute("SELECT count(*) FROM hazard_points").fetchone()[0] == 2500
        disabled = conn.execute("SELECT tgname FROM pg_trigger WHERE tgrelid = 'hazard_points'::regclass"
                                " AND NOT tgisinternal AND tgenabled = 'D'").fetchall()
        assert disabled == []
        indexes = {r[0] for r in conn.execute("SELECT indexdef FROM pg_indexes WHERE tablename = 'hazard_points'")}
        assert any("USING gist (geom)" in d for d in indexes)
        assert any("UNIQUE INDEX idx_hazard_points_uuid" in d for d in indexes)
        load = conn.execute("SELECT op, author, after->>'rows' FROM rp_history WHERE layer = 'hazard_points'"
                            ).fetchall()
        assert load == [("load", pg_10m.LOADER, "2500")]
        some = conn.execute("SELECT uuid FROM hazard_points WHERE retired_at IS NULL ORDER BY fid LIMIT 1"
                            ).fetchone()[0]
    with Registry.open(pg_registry_url) as reg:
        assert reg.count("hazard_points", include_retired=True) == 2500
        assert 2400 < reg.count("hazard_points") < 2500  # half a percent are retired
        inside = reg.count("hazard_points", bbox=pg_10m.EXTENT)
        assert inside == reg.count("hazard_points")
        changed = reg.update("hazard_points", some, {"status": "closed"}, author="zhang.wei")
        assert changed.version == 2
        assert [h.op for h in reg.history("hazard_points", some)][-1:] == ["update"]
