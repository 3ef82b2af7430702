"""Applying an import plan through ``Registry.batch``: all or nothing, or with refused features quarantined.

The registry's batch does every check again (definitions, references, plugin checks,
UUID uniqueness), stamps the changes and writes their history, in one transaction. A
dry run goes through the very same batch and rolls it back, so it reports exactly what
a real run would refuse. With ``quarantine``, features the batch refuses are set aside
and the rest is tried again (a feature that referred to a refused one is then refused
in turn); the refused ones are written to a separate GeoPackage with a ``rp_reason``
column, in the source's own fields, for someone to fix and import again.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import Problem, ValidationError
from ..registry import Registry
from .importer import ImportPlan, PlannedFeature

_OPS = ("insert", "update", "retire", "restore")


@dataclass
class ImportResult:
    plan: ImportPlan
    applied: bool
    dry_run: bool
    written: dict[str, int] = field(default_factory=dict)
    refused: list[PlannedFeature] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # problems not tied to one feature
    quarantine: Path | None = None

    @property
    def counts(self) -> dict[str, int]:
        """Features by what happened to them (``refused`` includes those the batch refused)."""
        return self.plan.counts()


class _Rollback(Exception):
    def __init__(self, problems: list[Problem]):
        super().__init__("rolled back")
        self.problems = problems


def _write(b, f: PlannedFeature) -> None:
    v = f.expected_version
    if f.op == "insert":
        uid = b.add(f.layer, {**f.properties, "uuid": f.uuid}, f.geometry)
        if uid is not None and f.retire:
            b.retire(f.layer, f.uuid, reason="retired in the imported file")
        return
    if f.restore:
        if b.restore(f.layer, f.uuid, expected_version=v, note="restored by import") is None:
            return
        v += 1
    if f.properties or f.geometry is not None:
        if b.update(f.layer, f.uuid, f.properties, f.geometry, expected_version=v) is None:
            return
        v += 1
    if f.retire:
        b.retire(f.layer, f.uuid, expected_version=v, reason="retired in the imported file")


def _runs(features: list[PlannedFeature]) -> list[list[PlannedFeature]]:
    """``features`` in order, as runs of new features of one layer (written by one ``add_many``, checked a
    column at a time and written in bulk) and single other changes."""
    runs: list[list[PlannedFeature]] = []
    for f in features:
        new = f.op == "insert" and not f.retire
        if new and runs and runs[-1][0].op == "insert" and not runs[-1][0].retire and runs[-1][0].layer == f.layer:
            runs[-1].append(f)
        else:
            runs.append([f])
    return runs


def _run(reg: Registry, features: list[PlannedFeature], author: str, note: str,
         keep: bool) -> tuple[list[Problem], bool]:
    """One batch over ``features``: committed when ``keep`` and nothing was refused, else rolled back."""
    try:
        with reg.batch(author=author, note=note) as b:
            for run in _runs(features):
                if run[0].op == "insert" and not run[0].retire:
                    b.add_many(run[0].layer, [(f.properties if f.properties.get("uuid") == f.uuid else
                                               {**f.properties, "uuid": f.uuid}, f.geometry) for f in run])
                else:
                    _write(b, run[0])
            if b.problems or not keep:
                problems = list(b.problems)
                b.problems.clear()
                raise _Rollback(problems)
    except _Rollback as rb:
        return rb.problems, False
    return [], True


def apply_import(reg: Registry, plan: ImportPlan, *, author: str, dry_run: bool = False,
                 quarantine: str | Path | None = None, note: str | None = None) -> ImportResult:
    """Apply ``plan`` to ``reg`` (see the module's description).

    All or nothing unless ``quarantine`` is given: one refused feature and nothing is
    written. Raises ValidationError only for problems that belong to no single feature.
    """
    note = note or f"import: {plan.source.path.name}"
    todo = [f for f in plan.features if f.op in _OPS]
    by_label = {f"feature {f.uuid}": f for f in todo}
    refused = [f for f in plan.features if f.op == "refused"]
    committed = False
    for _ in range(50):
        keep = not dry_run and (quarantine is not None or not refused)
        problems, committed = _run(reg, todo, author, note, keep)
        stray = [p for p in problems if p.feature not in by_label]
        if stray:
            raise ValidationError(stray)
        bad: dict[str, PlannedFeature] = {}
        for p in problems:
            f = bad.setdefault(p.feature, by_label[p.feature])
            why = f"{p.field}: {p.message}" if p.field else p.message
            f.reason = f"{f.reason}; {why}" if f.op == "refused" and f.reason else why
            f.op = "refused"
        refused += list(bad.values())
        todo = [f for f in todo if f.op != "refused"]
        if not bad or quarantine is None:
            break  # done; or all or nothing: rolled back, and every refusal of this pass is known
    result = ImportResult(plan, applied=committed, dry_run=dry_run, refused=refused)
    result.written = dict(Counter(f.op for f in todo)) if committed else {}
    if quarantine is not None and refused and not dry_run:
        result.quarantine = write_quarantine(plan, refused, Path(quarantine))
    return result


def write_quarantine(plan: ImportPlan, refused: list[PlannedFeature], path: Path) -> Path:
    """The refused features, with their source fields and a ``rp_reason``, in a GeoPackage of their own."""
    import geopandas as gpd
    import pyogrio

    layers = {sl.name: sl for sl in plan.source.layers}
    by_layer: dict[str, list[PlannedFeature]] = {}
    for f in refused:
        by_layer.setdefault(f.source_layer, []).append(f)
    if path.exists():
        path.unlink()
    for name, feats in by_layer.items():
        sl = layers.get(name)
        records, geoms = [], []
        for f in feats:
            row = dict(sl.rows[f.row]) if sl is not None and f.row >= 0 else {}
            rec: dict[str, Any] = {(f"source_{k}" if k.lower() == "fid" else k): (None if v is None else str(v))
                                   for k, v in row.items()}
            rec.update(rp_reason=f.reason, rp_source=f.label, rp_layer=f.layer, rp_uuid=f.uuid)
            records.append(rec)
            geoms.append(sl.geometries[f.row] if sl is not None and f.row >= 0 else None)
        crs = sl.crs if sl is not None and sl.crs is not None else "EPSG:4490"
        gdf = gpd.GeoDataFrame(records, geometry=geoms, crs=crs)
        pyogrio.write_dataframe(gdf, path, layer=f"refused_{name}"[:60], driver="GPKG", append=path.exists(),
                                dataset_options={"VERSION": "1.2"} if not path.exists() else None)
    return path
