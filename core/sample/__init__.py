"""Writing the deterministic sample region (``rallypoint sample``) into a registry file.

The data come from :mod:`rallypoint.sample_data`; the resources go through the same
validated batches as any user's edits (so the sample also proves the write path), the
base layers through the bulk loader. The file is built under a temporary name and moved
into place at the end, so an interrupted run leaves no half-made registry.

``path`` may be a PostGIS database's URL: :mod:`.postgis` writes the same registry there in
one transaction, the resources with ``COPY``.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from ..errors import RegistryFileError
from ..registry import Registry
from ..sample_data import generate
from ..storage import backend_for
from .postgis import write_sample_postgis

SAMPLE_AUTHOR = "rallypoint-sample"
SAMPLE_TIME = datetime(2026, 11, 1, tzinfo=timezone.utc)
RESOURCE_ORDER = ("shelters", "depots", "depot_stock", "teams", "helipads", "hazard_points")

Progress = Callable[[str, int, int], None]


def write_sample(path: str | os.PathLike, size: str = "county", seed: int = 2938, *, overwrite: bool = False,
                 progress: Progress | None = None) -> dict[str, int]:
    """Generate the ``size`` sample (``county`` or ``city``) into a new registry at ``path``; return counts."""
    if size not in ("county", "city"):
        raise ValueError(f"size must be 'county' or 'city', not {size!r}")
    postgis = not backend_for(path).is_file
    target = Path(path)
    if not postgis and target.exists() and not overwrite:
        raise RegistryFileError(f"{target} already exists (use overwrite to replace it)")
    note = progress or (lambda stage, done, total: None)
    note("generating", 0, 1)
    data = generate(size, seed)
    note("generating", 1, 1)
    if postgis:
        return write_sample_postgis(str(path), data, name=f"{data.region['name']}应急资源（示例数据）",
                                    author=SAMPLE_AUTHOR, at=SAMPLE_TIME, resource_order=RESOURCE_ORDER,
                                    overwrite=overwrite, progress=progress)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".sample.gpkg", dir=target.parent or ".")
    os.close(fd)
    os.unlink(tmp)
    counts: dict[str, int] = {}
    try:
        region = data.region
        with Registry.create(tmp, name=f"{region['name']}应急资源（示例数据）", bureau=region["bureau"],
                             adcode=region["adcode"], clock=lambda: SAMPLE_TIME) as reg:
            for layer in ("admin_areas", "population", "roads"):
                gdf = getattr(data, layer)
                note(layer, 0, len(gdf))
                counts[layer] = reg.load_reference(layer, gdf, author=SAMPLE_AUTHOR, note="sample data")
                note(layer, len(gdf), len(gdf))
            for layer in RESOURCE_ORDER:
                items = data.features[layer]
                total = len(items)
                step = max(1, total // 100)

                def tick(i: int, layer: str = layer, total: int = total) -> None:
                    if i % step == 0 or i == total:
                        note(layer, i, total)

                note(layer, 0, total)
                reg.add_many(layer, items, author=SAMPLE_AUTHOR, note="sample data", progress=tick)
                counts[layer] = total
            for layer in reg.layers:  # plugins' layer types are in the file too, with no sample data
                counts.setdefault(layer, 0)
        for suffix in ("-wal", "-shm"):
            Path(str(target) + suffix).unlink(missing_ok=True)
        os.replace(tmp, target)
    except BaseException:
        for p in (tmp, tmp + "-wal", tmp + "-shm"):
            Path(p).unlink(missing_ok=True)
        raise
    return counts
