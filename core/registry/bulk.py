"""Adding many features in one batch: checked a column at a time, stamped and written in bulk (``add_many``).

What :meth:`.batch.Batch.add` does to one feature, done to a hundred thousand without a hundred thousand
trips through Python's per-feature code, and with every guarantee of the feature-by-feature path:

* **The same checks, the same messages.** :func:`rallypoint.column_checks.check_new` settles, column by
  column, the features whose every value it can; any other feature (a wrong value, a label to turn into
  a code, a reference the registry does not hold …) goes through ``Batch.add``'s own checks
  (``check_feature``), so it is refused with the very problems, labels and order a single add gives.
* **The plugins' checks**, per feature (``rallypoint_validate_feature``, ``rallypoint_validate_change``),
  or once per chunk for a plugin that implements their bulk form (``rallypoint_validate_many``).
* **UUIDs** given twice, or already used in the layer, are refused as the unique index refuses them
  one by one: the first one given is written.
* **Stamps and history** in bulk statements (the store's ``insert_many``: ``executemany`` and the R-tree
  filled set-wise in a GeoPackage, ``COPY`` through the triggers in PostGIS), in the batch's one
  transaction: a refusal anywhere in the batch writes nothing, and every feature written has its
  ``insert`` in the history, the same content as ``add`` writes.

Features come in chunks (:data:`CHUNK`), so memory stays bounded; ``progress`` is told of a chunk's
features once they are checked, before they are written.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Sequence
from itertools import islice
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from .. import geometry as geo
from ..column_checks import ColumnCheck, check_new
from ..schema import LayerDef
from ..storage.base import quote

CHUNK = 200_000  # an empty layer's R-tree is built in one pass from its first chunk (see storage.gpkg.rtree)


class _Checked(Sequence):
    """The checked properties of some features of a chunk, each built when it is read (for the plugins)."""

    def __init__(self, cc: ColumnCheck, rows: list[int]):
        self._cc, self._rows = cc, rows

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self._cc.properties(i) for i in self._rows[k]]
        return self._cc.properties(self._rows[k])


def existing(store, layer: str, uuids: list[str]) -> set[str]:
    """Which of ``uuids`` are features in use in ``layer`` (``check_feature``'s reference check, in bulk)."""
    import json

    out: set[str] = set()
    for i in range(0, len(uuids), 5000):
        rows = store.execute(f"SELECT uuid FROM {quote(layer)} WHERE retired_at IS NULL AND uuid IN ({store.json_list})",
                             (json.dumps(uuids[i:i + 5000]),)).fetchall()
        out.update(r[0] for r in rows)
    return out


def _used(store, layer: str, uuids: list[str]) -> set[str]:
    """Which of ``uuids`` the layer already holds, retired or not (its unique index)."""
    import json

    out: set[str] = set()
    for i in range(0, len(uuids), 5000):
        rows = store.execute(f"SELECT uuid FROM {quote(layer)} WHERE uuid IN ({store.json_list})",
                             (json.dumps(uuids[i:i + 5000]),)).fetchall()
        out.update(r[0] for r in rows)
    return out


def _geometries_in(batch, layer: LayerDef, raw: list[Any], crs: Any) -> tuple[np.ndarray, dict[int, str]]:
    """Every geometry read and reprojected as ``Batch._geometry_in`` does; why for those that cannot be."""
    out = np.full(len(raw), None, dtype=object)
    why: dict[int, str] = {}
    plain = True
    for i, g in enumerate(raw):
        if g is None:
            continue
        if isinstance(g, BaseGeometry):
            out[i] = g
        else:
            plain = False
            break
    src = geo.crs_from_user(crs) if (crs is not None and layer.has_geometry) else geo.STORAGE_CRS
    if plain and src == geo.STORAGE_CRS:
        return out, why
    if plain and src != geo.STORAGE_CRS:
        present = np.flatnonzero(~shapely.is_missing(out))
        try:  # the shapely engine reprojects an array of geometries in one transform
            out[present] = geo.to_storage(out[present], src)
            return out, why
        except Exception:  # per feature below, for each one's reason
            pass
    for i, g in enumerate(raw):
        out[i], reason = batch._geometry_in(layer, g, crs)
        if reason:
            why[i] = reason
    return out, why


def _label(props: Mapping[str, Any], number: int) -> str:
    if props.get("uuid"):
        return f"feature {props['uuid']}"
    name = props.get("name") or props.get("item")
    return f"new feature #{number}" + (f" ({name!r})" if name else "")


def add_many(batch, layer: LayerDef, features: Iterable[tuple[Mapping[str, Any], Any]], *, crs: Any = None,
             progress: Callable[[int], None] | None = None) -> list[str | None]:
    """``batch.add`` of every feature, in bulk (see the module's description); the UUIDs (None: refused)."""
    uids: list[str | None] = []
    it = iter(features)
    while True:
        chunk = list(islice(it, CHUNK))
        if not chunk:
            return uids
        uids += _add_chunk(batch, layer, chunk, crs, progress, len(uids))


def _add_chunk(batch, layer: LayerDef, items: list, crs: Any, progress, start: int) -> list[str | None]:
    n = len(items)
    props = [p for p, _ in items]
    geoms, why = _geometries_in(batch, layer, [g for _, g in items], crs)
    rules = batch._rules
    cc = check_new(layer, props, geoms, existing=lambda ref, uuids: existing(batch._store, ref, uuids),
                   extent=rules.get("extent"), divisions=rules.get("divisions"))
    if why:
        cc.deferred[list(why)] = True
    problems: dict[int, list[tuple[str | None, str]]] = {}
    cols = cc.columns
    for i in np.flatnonzero(cc.deferred).tolist():  # what the columns could not settle, one by one
        checked, found = batch._check_new(layer, dict(props[i]), geoms[i], why.get(i))
        if found:
            problems[i] = found
            continue
        out = checked.properties
        for f in layer.fields:
            cols[f.name][i] = out.get(f.name)
        cc.geometries[i] = checked.geometry
        cc.checked[i] = out
    ok = [i for i in range(n) if i not in problems]
    checks_many = batch._checks_many
    if checks_many is not None:
        found = checks_many(layer, _Checked(cc, ok), cc.geometries[ok] if ok else [], old=None, at=batch.now)
    else:
        found = {k: p for k, i in enumerate(ok)
                 if (p := batch._checks(layer, cc.properties(i), cc.geometries[i], old=None, at=batch.now))}
    for k, p in found.items():
        if p:
            problems[ok[k]] = list(p)
    # UUIDs: given or made; one given twice, or already used, is refused as the unique index refuses it
    ids = cols["uuid"]
    accepted = [i for i in ok if i not in problems]
    for i in accepted:
        if not ids[i]:
            ids[i] = str(uuidlib.uuid4())
    used = _used(batch._store, layer.name, [ids[i] for i in accepted])
    seen: set[str] = set()
    written = []
    for i in accepted:
        uid = ids[i]
        if uid in used or uid in seen:
            problems[i] = [("uuid", f"UUID {uid} is already used in {layer.name}")]
        else:
            seen.add(uid)
            written.append(i)
    if progress is not None:
        for k in range(start + 1, start + n + 1):
            progress(k)
    numbers = batch._new + np.cumsum([not p.get("uuid") for p in props]).astype(int)
    batch._new = int(numbers[-1]) if n else batch._new
    for i in sorted(problems):
        batch._problems(layer, _label(props[i], int(numbers[i])), problems[i])
    if written:
        _write(batch, layer, cols, cc.geometries, written)
    done = set(written)
    return [ids[i] if i in done else None for i in range(n)]


def _write(batch, layer: LayerDef, cols: dict[str, list[Any]], geoms: np.ndarray, rows: list[int]) -> None:
    """Stamp the rows and hand them to the store with their history (the store's ``insert_many``)."""
    every = len(rows) == len(geoms)
    stamps = {"version": 1, "created_at": batch.now, "created_by": batch.author, "updated_at": batch.now,
              "updated_by": batch.author, "retired_at": None}
    columns = []
    for f in layer.fields:
        if f.name in stamps:
            columns.append([stamps[f.name]] * len(rows))
        else:
            col = cols[f.name]
            columns.append(col if every else [col[i] for i in rows])
    kept = geoms if every else geoms[rows]
    batch._store.insert_many(layer, list(layer.field_names), columns, kept if layer.has_geometry else None,
                             author=batch.author, at=batch.now, note=batch.note)
    if layer.has_geometry:
        present = kept[~shapely.is_missing(kept)]
        if len(present):
            b = shapely.total_bounds(present).tolist()
            ext = batch.touched.setdefault(layer.name, [])
            ext[:] = b if not ext else [min(ext[0], b[0]), min(ext[1], b[1]), max(ext[2], b[2]), max(ext[3], b[3])]
        else:
            batch.touched.setdefault(layer.name, [])
    else:
        batch.touched.setdefault(layer.name, [])
