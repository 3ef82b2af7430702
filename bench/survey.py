"""Benchmark: the resource survey on a city against the straightforward geopandas way, in one run.

* survey: ``run_analysis(..., "survey")`` over every resource layer (fill rates, overdue records, duplicates,
  fix list, tables), then the GeoPackage and the report written (timed apart).
* anchor: the same counts the plain way: every layer read with ``read_frame`` (shapely points), fill and
  overdue flags with pandas, duplicates by buffering every record by the tolerance in a Gauss–Krüger zone and
  ``geopandas.sjoin``-ing the layer with itself, then filtering pairs by normalised name; sums by township.
  It must find the same duplicates and the same filled and to-fix counts, or the bench stops.
* duplicates alone, on hazard points with injected near-copies (renamed with spaces, full-width digits and
  the type word, moved 0–70 m), because the sample city has none: the survey's KD-tree over the repeated names
  against the sjoin of buffers; both must give the same set of duplicate records.

    rallypoint sample city.gpkg --size city      # or a copy of any registry (never a live one)
    python bench/survey.py city.gpkg
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from rallypoint import Registry
from rallypoint.analysis import run_analysis, write_result
from rallypoint.plugins import get_plugin_manager
from rallypoint.profiles import find_profile
from rallypoint_plugins.survey.duplicates import find_duplicates
from rallypoint_plugins.survey.names import normalise_many
from rallypoint_plugins.survey.survey import township_of

AS_OF = "2026-12-01"
TOLERANCE_M = 50.0
GK_EPSG = 4544  # CGCS2000 3-degree Gauss–Krüger, CM 105°E: the sample city's zone


def survey(path: Path, out: Path, tol: float) -> tuple[float, float, dict]:
    pm = get_plugin_manager()
    t = time.perf_counter()
    with Registry.open(path, plugins=pm, readonly=True) as reg:
        result = run_analysis(reg, pm, "survey", {"as_of": AS_OF, "tolerance_m": tol})
    compute = time.perf_counter() - t
    t = time.perf_counter()
    write_result(result, out / "survey.gpkg", out / "survey.html", "zh")
    written = time.perf_counter() - t
    layers = result.tables["survey_layers"].set_index("layer")
    return compute, written, {k: layers[k].to_dict() for k in ("complete", "duplicates", "to_fix")}


def sjoin_duplicates(points: gpd.GeoDataFrame, keys, order: np.ndarray, tol: float) -> set[int]:
    """Positions of the records that have an earlier record with the same key within the tolerance."""
    proj = points.to_crs(GK_EPSG)
    frame = gpd.GeoDataFrame({"key": np.asarray(keys), "order": order, "pos": np.arange(len(points))},
                             geometry=proj.geometry.values, crs=GK_EPSG)
    buffers = frame.copy()
    buffers["geometry"] = frame.buffer(tol, resolution=32)
    pairs = gpd.sjoin(frame, buffers, predicate="within", lsuffix="a", rsuffix="b")
    pairs = pairs[(pairs["key_a"] == pairs["key_b"]) & (pairs["key_a"] != "") & (pairs["order_a"] > pairs["order_b"])]
    return set(pairs["pos_a"].tolist())


def anchor(path: Path, tol: float) -> tuple[float, dict]:
    pm = get_plugin_manager()
    t = time.perf_counter()
    found: dict[str, dict] = {"complete": {}, "duplicates": {}, "to_fix": {}}
    with Registry.open(path, plugins=pm, readonly=True) as reg:
        profile = find_profile(pm.collect("rallypoint_profiles"), "survey_requirements", "bureau")
        cutoff = pd.Timestamp(AS_OF, tz="UTC") - pd.DateOffset(days=365)
        for layer, spec in profile.data["layers"].items():
            required = spec["required"]
            frame = reg.read_frame(layer, columns=list(dict.fromkeys(["uuid", "adcode", "created_at",
                                                                       "updated_at", *required])))
            missing = frame[required].isna() | frame[required].astype(str).apply(lambda c: c.str.strip() == "")
            for f, values in spec.get("placeholders", {}).items():
                missing[f] |= frame[f].isin(values)
            complete = ~missing.any(axis=1)
            stale = pd.to_datetime(frame["updated_at"], utc=True, format="ISO8601") < cutoff
            order = np.lexsort((frame.index.to_numpy(), pd.to_datetime(frame["created_at"], utc=True,
                                                                         format="ISO8601").to_numpy()))
            rank = np.empty(len(frame), dtype=np.int64)
            rank[order] = np.arange(len(frame))
            dup = np.zeros(len(frame), dtype=bool)
            keys = normalise_many(frame["name"].to_numpy(dtype=object), spec.get("name_suffixes", []))
            dup[list(sjoin_duplicates(frame, keys, rank, tol))] = True
            by_town = pd.DataFrame({"town": township_of(frame["adcode"]), "complete": complete.to_numpy(),
                                    "dup": dup, "fix": (~complete).to_numpy() | stale.to_numpy() | dup})
            sums = by_town.groupby("town")[["complete", "dup", "fix"]].sum()
            found["complete"][layer] = int(sums["complete"].sum())
            found["duplicates"][layer] = int(sums["dup"].sum())
            found["to_fix"][layer] = int(sums["fix"].sum())
    return time.perf_counter() - t, found


def injected(path: Path, share: float = 0.03, seed: int = 7):
    """Hazard points plus near-copies of a share of them: (points frame, names, order)."""
    rng = np.random.default_rng(seed)
    with Registry.open(path, readonly=True) as reg:
        frame, xy = reg.read_points("hazard_points", columns=["name"])
    n = len(frame)
    pick = rng.choice(n, size=int(n * share), replace=False)
    dist = rng.uniform(0, 70, size=len(pick))
    angle = rng.uniform(0, 2 * np.pi, size=len(pick))
    lat = np.radians(xy[pick, 1])
    moved = xy[pick] + np.column_stack([dist * np.cos(angle) / (111_320.0 * np.cos(lat)),
                                        dist * np.sin(angle) / 110_574.0])
    variants = np.array([" ", "（一）", "隐患点"], dtype=object)
    names = frame["name"].to_numpy(dtype=object)
    new_names = names[pick] + variants[rng.integers(0, len(variants), size=len(pick))]
    new_names = np.array([s.replace(" ", "\u3000", 1) if i % 2 else s for i, s in enumerate(new_names)], dtype=object)
    all_xy = np.vstack([xy, moved])
    all_names = pd.Series(np.concatenate([names, new_names]), dtype=object)
    return all_xy, all_names, np.arange(len(all_xy))


def duplicates_only(path: Path, tol: float) -> tuple[float, float, int]:
    xy, names, order = injected(path)
    keys = normalise_many(names, ["隐患点"])
    t = time.perf_counter()
    ours = find_duplicates(keys, xy, order, tol)
    t_ours = time.perf_counter() - t
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=4490)
    t = time.perf_counter()
    theirs = sjoin_duplicates(points, keys, order, tol)
    t_sjoin = time.perf_counter() - t
    mine = set(np.flatnonzero(ours.mask).tolist())
    if mine != theirs:
        raise SystemExit(f"duplicates differ: {len(mine - theirs)} only in the survey, {len(theirs - mine)} only "
                         "in the sjoin")
    return t_ours, t_sjoin, len(mine)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("registry", type=Path, help="a registry file (a copy; the bench only reads it)")
    ap.add_argument("--tolerance-m", type=float, default=TOLERANCE_M, help="duplicate distance in metres")
    ap.add_argument("--runs", type=int, default=3, help="runs of each; the best is reported")
    args = ap.parse_args()
    tol = args.tolerance_m
    runs = args.runs
    with tempfile.TemporaryDirectory() as d:
        ours = [survey(args.registry, Path(d), tol) for _ in range(runs)]
    base = [anchor(args.registry, tol) for _ in range(runs)]
    if ours[0][2] != base[0][1]:
        raise SystemExit(f"the survey and the anchor disagree:\n{ours[0][2]}\n{base[0][1]}")
    s, w, a = min(r[0] for r in ours), min(r[1] for r in ours), min(r[0] for r in base)
    dups = [duplicates_only(args.registry, tol) for _ in range(runs)]
    d_ours, d_sjoin, n_dups = min(r[0] for r in dups), min(r[1] for r in dups), dups[0][2]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"survey (all layers, tables, fix list):         best {s:.2f} s of {runs}; writing it {w:.2f} s")
    print(f"anchor (read_frame, pandas, sjoin of buffers):  best {a:.2f} s of {runs}; same counts")
    print(f"ratio anchor / survey {a / s:.1f}x")
    print(f"duplicates among {len(injected(args.registry)[0]):,} hazard points with injected copies "
          f"({n_dups:,} found by both): KD-tree {d_ours:.3f} s, sjoin {d_sjoin:.2f} s, ratio {d_sjoin / d_ours:.0f}x")
    print(f"peak memory of this process {peak:.0f} MB")


if __name__ == "__main__":
    main()
