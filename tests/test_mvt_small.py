"""Layers of a few features are written a feature at a time in Python (rallypoint.storage.mvt_encode: numpy's
fixed cost per call is most of the time there): they decode to what the array writer's layers decode to, with
every kind of value, coded columns (the indexes' kept fields) and plain ones, absent values and blobs."""

from __future__ import annotations

import mapbox_vector_tile
import numpy as np
import pytest
import shapely

from rallypoint.storage import mvt_encode


def _columns(n: int, coded: bool) -> list:
    rnd = np.random.default_rng(n)
    kinds = {
        "name": [f"名称{i % 5}" for i in range(n)],
        "count": [int(v) for v in rnd.integers(-3, 300_000, n)],
        "ratio": [float(v) for v in rnd.random(n)],
        "open": [i % 2 for i in range(n)],
        "mixed": [("a", 1, 2.5, None, b"\x00")[i % 5] for i in range(n)],
        "uuid": [f"id-{i}" for i in range(n)],
        "code": [f"{i:06d}" if i % 9 else None for i in range(n)],  # messages of one length
        "none": [None] * n,
    }
    out = []
    for key, values in kinds.items():
        boolean = key == "open"
        out.append((key, mvt_encode.Coded.of(values, boolean) if coded else values, boolean))
    return out


def _write(n: int, coded: bool, kind: str) -> bytes:
    ids = np.arange(1, n + 1, dtype=np.uint64) * 1000
    if kind == "point":
        commands, counts = mvt_encode.point_commands(np.arange(n) * 10, np.arange(n) * 7)
        geom_type = mvt_encode.POINT
    else:
        lines = np.array([shapely.LineString([(i, 0), (i + 5, 9), (i + 300, 4000)]) for i in range(n)])
        commands, counts = mvt_encode.line_commands(lines)
        commands, counts[0] = commands[int(counts[0]):], 0  # a feature whose geometry came to nothing: left out
        geom_type = mvt_encode.LINESTRING
    return mvt_encode.layer("layer", ids, geom_type, commands, counts, _columns(n, coded))


@pytest.mark.parametrize("n", [1, 2, 7, 24, 100])
@pytest.mark.parametrize("coded", [False, True])
@pytest.mark.parametrize("kind", ["point", "line"])
def test_a_small_layer_decodes_as_the_array_writer_s(n, coded, kind, monkeypatch):
    """Also: coded columns (all values of a column of few listed in every tile, values of one length gathered as
    rows) decode as plain ones."""
    small = _write(n, coded, kind)
    monkeypatch.setattr(mvt_encode, "SMALL", -1)
    large, plain = _write(n, coded, kind), _write(n, False, kind)
    a, b, c = (mapbox_vector_tile.decode(t) for t in (small, large, plain))
    if not c:
        assert small == large == b""
        return
    assert a["layer"]["extent"] == 4096 and a["layer"]["version"] == 2
    assert a["layer"]["features"] == b["layer"]["features"] == c["layer"]["features"]
    assert len(a["layer"]["features"]) == n - (kind == "line")
