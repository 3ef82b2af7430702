"""The survey itself: per layer and township, filled records, stale records, duplicates and a fix list.

Every count comes from one table of per-record flags, so the layer totals, the township figures and the
fix list cannot disagree. Layers are read with ``Registry.read_points`` (positions as numpy, no shapely
objects for 140,000 hazard points) through the registry's own SQLite connection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from rallypoint_plugins.reporting.notes import Notes

from .duplicates import find_duplicates
from .names import normalise_many
from .period import cutoff, period_words
from .requirements import LayerRequirement

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd
    import pandas as pd

    from rallypoint import Registry
    from rallypoint.schema import LayerDef

COUNTS = ("records", "complete", "missing", "placeholder", "stale", "duplicates", "to_fix")
TOWNSHIP_DIGITS = 9


@dataclass
class SurveyOutcome:
    """What one survey found; ``info`` holds the settings it ran with (for the report)."""

    layers: "pd.DataFrame"
    townships: "pd.DataFrame"
    areas: "gpd.GeoDataFrame"
    fields: "pd.DataFrame"
    fixes: "gpd.GeoDataFrame"
    info: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def township_of(adcodes) -> np.ndarray:
    """The township code of each division code: its first 9 digits (a 6-digit county code stays as it is).

    >>> township_of(["519901001", "519901001203", "519901", None]).tolist()
    ['519901001', '519901001', '519901', '']
    """
    codes = np.asarray(adcodes, dtype=object)
    return np.array([c[:TOWNSHIP_DIGITS] if isinstance(c, str) else "" for c in codes], dtype=object)


def read_areas(reg: "Registry") -> "gpd.GeoDataFrame | None":
    """The registry's admin_areas (code, name, level and boundary), or None when it has none."""
    if "admin_areas" not in reg.layers:
        return None
    areas = reg.read_frame("admin_areas", columns=["adcode", "name", "level"])
    areas["adcode"] = areas["adcode"].astype(str)
    areas["name"] = areas["name"].fillna("").astype(str)
    return areas


def township_areas(areas: "gpd.GeoDataFrame | None", town: "pd.DataFrame") -> "gpd.GeoDataFrame":
    """Township boundaries with the survey's figures over all layers surveyed (a map of the fill rate)."""
    import geopandas as gpd

    if areas is None:
        return gpd.GeoDataFrame({"adcode": [], "name": []}, geometry=[], crs="EPSG:4490")
    out = areas[areas["level"] == "township"][["adcode", "name", "geometry"]].sort_values("adcode")
    sums = town.groupby("township")[list(COUNTS)].sum()
    out = out.join(sums, on="adcode")
    out[list(COUNTS)] = out[list(COUNTS)].fillna(0).astype("int64")
    out = _with_rate(out.reset_index(drop=True))
    return gpd.GeoDataFrame(out, geometry="geometry", crs=areas.crs)


def _read(reg: "Registry", ldef: "LayerDef", columns: list[str]) -> tuple["pd.DataFrame", np.ndarray]:
    if ldef.geometry == "Point":
        return reg.read_points(ldef.name, columns=columns)
    frame = reg.read_frame(ldef.name, columns=columns)
    if not ldef.has_geometry:
        return frame, np.full((len(frame), 2), np.nan)
    import shapely

    geoms = np.asarray(frame.geometry.values, dtype=object)
    ok = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    xy = np.full((len(frame), 2), np.nan)
    if ok.any():
        xy[ok] = shapely.get_coordinates(shapely.point_on_surface(geoms[ok]))
    return frame.drop(columns=frame.geometry.name), xy


def _empty_mask(values: "pd.Series") -> np.ndarray:
    """Missing: NULL or empty text.

    Whitespace-only text is not looked for: the registry strips text on every write and stores blank as NULL.
    """
    import pandas as pd

    if values.dtype == object or pd.api.types.is_string_dtype(values.dtype):
        arr = values.to_numpy(dtype=object)
        return pd.isna(arr) | (arr == "")
    return values.isna().to_numpy().copy()


def _join_flags(mask: np.ndarray, labels: list[str], sep: str) -> np.ndarray:
    """Per row, the labels whose column of ``mask`` is set, joined by ``sep`` (rows × labels → str)."""
    out = np.full(mask.shape[0], "", dtype=object)
    for k, label in enumerate(labels):
        col = mask[:, k]
        if col.any():
            out[col] = np.where(out[col] == "", label, out[col] + sep + label)
    return out


def survey_layer(reg: "Registry", req: LayerRequirement, *, since, tolerance_m: float) -> dict[str, Any]:
    """The per-record flags of one layer (a dict of equal-length arrays) and its per-field counts."""
    import pandas as pd

    ldef = reg.layer(req.layer)
    has_name = ldef.has_field("name")
    base = ["uuid", "adcode", "created_at"] + (["name"] if has_name else [])
    columns = list(dict.fromkeys(base + [req.date_field] + list(req.required)))
    frame, xy = _read(reg, ldef, columns)
    n = len(frame)
    missing = np.zeros((n, len(req.required)), dtype=bool)
    placeholder = np.zeros_like(missing)
    for k, f in enumerate(req.required):
        missing[:, k] = _empty_mask(frame[f])
        if f in req.placeholders:
            placeholder[:, k] = frame[f].isin(list(req.placeholders[f])).to_numpy() & ~missing[:, k]
    dates = pd.to_datetime(frame[req.date_field], utc=True, errors="coerce", format="ISO8601")
    stale = (dates.isna() | (dates < since)).to_numpy()
    created = pd.to_datetime(frame["created_at"], utc=True, errors="coerce", format="ISO8601")
    created_ns = created.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")  # NaT sorts last
    order = np.empty(n, dtype=np.int64)
    order[np.lexsort((frame.index.to_numpy(), created_ns))] = np.arange(n)
    names = frame["name"].to_numpy(dtype=object) if has_name else np.full(n, "", dtype=object)
    dups = find_duplicates(normalise_many(names, req.name_suffixes), xy, order, tolerance_m)
    fields_table = pd.DataFrame({
        "layer": req.layer, "field": list(req.required),
        "alias_zh": [ldef.field(f).alias_zh for f in req.required],
        "alias_en": [ldef.field(f).alias_en for f in req.required],
        "records": n, "filled": n - (missing | placeholder).sum(axis=0),
        "missing": missing.sum(axis=0), "placeholder": placeholder.sum(axis=0),
    })
    names = np.array([x if isinstance(x, str) else "" for x in names], dtype=object)
    return {"ldef": ldef, "req": req, "frame": frame, "xy": xy, "names": names,
            "missing": missing, "placeholder": placeholder, "stale": stale, "dates": dates, "dups": dups,
            "fields": fields_table}


def _counts(part: dict[str, Any]) -> "pd.DataFrame":
    """One row per record: layer, township and the 0/1 flags that the tables sum."""
    import pandas as pd

    miss = part["missing"].any(axis=1)
    ph = part["placeholder"].any(axis=1)
    dup = part["dups"].mask
    stale = part["stale"]
    return pd.DataFrame({
        "township": township_of(part["frame"]["adcode"]), "layer": part["req"].layer,
        "records": 1, "complete": (~(miss | ph)).astype(int), "missing": miss.astype(int),
        "placeholder": ph.astype(int), "stale": stale.astype(int), "duplicates": dup.astype(int),
        "to_fix": (miss | ph | stale | dup).astype(int),
    })


def rate(part, whole) -> np.ndarray:
    """part / whole, NaN where whole is 0: 0 of 0 records is no rate, neither 0 % nor a division error."""
    part, whole = np.asarray(part, dtype=float), np.asarray(whole, dtype=float)
    return np.divide(part, whole, out=np.full(whole.shape, np.nan), where=whole > 0)


def _with_rate(table: "pd.DataFrame") -> "pd.DataFrame":
    """Adds fill_rate = complete / records after the complete column."""
    table.insert(table.columns.get_loc("complete") + 1, "fill_rate", rate(table["complete"], table["records"]))
    return table


def _fixes(part: dict[str, Any], period: tuple[int, str], names_of_areas: dict[str, str]) -> "pd.DataFrame":
    """The records of one layer that need fixing, one row each, saying what is wrong in zh and en."""
    import pandas as pd

    req, ldef, frame = part["req"], part["ldef"], part["frame"]
    miss, ph, stale, dups = part["missing"], part["placeholder"], part["stale"], part["dups"]
    rows = np.flatnonzero(miss.any(axis=1) | ph.any(axis=1) | stale | dups.mask)
    if not len(rows):
        return pd.DataFrame()
    aliases = [ldef.field(f) for f in req.required]
    values = {f: frame[f].to_numpy()[rows] for f in req.placeholders}
    ph_rows = ph[rows]
    ph_zh = np.full(len(rows), "", dtype=object)
    ph_en = np.full(len(rows), "", dtype=object)
    for k, f in enumerate(req.required):
        if f in values and ph_rows[:, k].any():
            text = pd.Series(values[f]).astype(str).to_numpy()[ph_rows[:, k]]
            for out, label, sep in ((ph_zh, aliases[k].alias_zh, "、"), (ph_en, aliases[k].alias_en, ", ")):
                sel = ph_rows[:, k]
                item = label + "=" + text
                out[sel] = np.where(out[sel] == "", item, out[sel] + sep + item)
    # the stored ISO 8601 text's date part (strftime of 10^5 timestamps took most of a second)
    raw = frame[req.date_field].to_numpy(dtype=object)[rows]
    parsed = part["dates"].notna().to_numpy()[rows]
    last_text = np.array([v[:10] if ok else "" for v, ok in zip(raw, parsed)], dtype=object)
    of = dups.of[rows]
    uuids = frame["uuid"].to_numpy()
    town = township_of(frame["adcode"].iloc[rows])
    out = pd.DataFrame({
        "layer": req.layer, "uuid": uuids[rows], "name": part["names"][rows],
        "adcode": frame["adcode"].to_numpy()[rows], "township": town,
        "township_name": [names_of_areas.get(t, "") for t in town],
        "missing_zh": _join_flags(miss[rows], [a.alias_zh for a in aliases], "、"),
        "missing_en": _join_flags(miss[rows], [a.alias_en for a in aliases], ", "),
        "placeholder_zh": ph_zh, "placeholder_en": ph_en,
        "stale": stale[rows], "last_updated": last_text,
        "duplicate_of": np.where(of >= 0, uuids[np.maximum(of, 0)], ""),
        "duplicate_of_name": np.where(of >= 0, part["names"][np.maximum(of, 0)], ""),
        "duplicate_distance_m": np.round(dups.distance_m[rows], 1),
    })
    out["problems_zh"] = _problems(out, period_words(period, "zh"), "zh")
    out["problems_en"] = _problems(out, period_words(period, "en"), "en")
    out["x"], out["y"] = part["xy"][rows, 0], part["xy"][rows, 1]
    return out


def _problems(fx: "pd.DataFrame", within: str, lang: str) -> np.ndarray:
    zh = lang == "zh"
    parts = []
    miss = fx[f"missing_{lang}"].to_numpy(dtype=object)
    parts.append(np.where(miss != "", ("缺填：" if zh else "missing: ") + miss, ""))
    ph = fx[f"placeholder_{lang}"].to_numpy(dtype=object)
    parts.append(np.where(ph != "", ("占位值：" if zh else "placeholder: ") + ph, ""))
    last = fx["last_updated"].to_numpy(dtype=object)
    never = "从未核查更新" if zh else "never inspected or updated"
    stale_text = np.where(last == "", never,
                          (f"超过 {within}未核查更新（最近 " if zh else f"not inspected or updated within "
                           f"{within} (last ") + last + ("）" if zh else ")"))
    parts.append(np.where(fx["stale"].to_numpy(), stale_text, ""))
    dup = fx["duplicate_of"].to_numpy(dtype=object)
    dist = np.full(len(fx), "", dtype=object)
    has = dup != ""
    dist[has] = [f"{d:g}" for d in fx["duplicate_distance_m"].to_numpy()[has]]
    dup_text = (("疑似重复：" if zh else "duplicate of ") + fx["duplicate_of_name"].to_numpy(dtype=object)
                + " " + dup + ("（相距 " if zh else " (") + dist + (" 米）" if zh else " m)"))
    parts.append(np.where(dup != "", dup_text, ""))
    out = parts[0]
    for p in parts[1:]:
        out = np.where(out == "", p, np.where(p == "", out, out + ("；" if zh else "; ") + p))
    return out


def run_survey(reg: "Registry", reqs: list[LayerRequirement], *, period: tuple[int, str], period_text: str,
               as_of: datetime, tolerance_m: float, profile_name: str, warnings: list[str] | None = None,
               progress: Callable[[str, int, int], None] = lambda s, d, t: None) -> SurveyOutcome:
    """Survey the layers of ``reqs`` (already checked against the registry)."""
    import geopandas as gpd
    import pandas as pd
    import shapely

    since = cutoff(as_of, period)
    areas = read_areas(reg)
    names_of_areas = {} if areas is None else dict(zip(areas["adcode"], areas["name"]))
    counts, fields, fixes, layer_rows = [], [], [], []
    for step, req in enumerate(reqs):
        progress(req.layer, step, len(reqs))
        part = survey_layer(reg, req, since=since, tolerance_m=tolerance_m)
        c = _counts(part)
        counts.append(c)
        fields.append(part["fields"])
        fixes.append(_fixes(part, period, names_of_areas))
        ldef = part["ldef"]
        layer_rows.append({"layer": req.layer, "title_zh": ldef.title_zh, "title_en": ldef.title_en,
                           **{k: int(c[k].sum()) for k in COUNTS},
                           "required_fields": ",".join(req.required), "date_field": req.date_field})
    progress("done", len(reqs), len(reqs))
    layers = _with_rate(pd.DataFrame(layer_rows, columns=["layer", "title_zh", "title_en", *COUNTS,
                                                           "required_fields", "date_field"]))
    allc = pd.concat(counts, ignore_index=True)
    town = allc.groupby(["township", "layer"], sort=True)[list(COUNTS)].sum().reset_index()
    town.insert(1, "township_name", town["township"].map(lambda t: names_of_areas.get(t, "")))
    town = _with_rate(town)
    fields_table = pd.concat(fields, ignore_index=True)
    fields_table["fill_rate"] = rate(fields_table["filled"], fields_table["records"])
    fixes = [f for f in fixes if len(f)]
    fx = pd.concat(fixes, ignore_index=True) if fixes else _empty_fixes()
    geometry = shapely.points(fx.pop("x").to_numpy(dtype=float), fx.pop("y").to_numpy(dtype=float))
    geometry[~np.isfinite(shapely.get_x(geometry))] = None
    info = {"registry": reg.info.name, "bureau": reg.info.bureau, "profile": profile_name, "within": period_text,
            "within_zh": period_words(period, "zh"), "within_en": period_words(period, "en"),
            "date_fields": {r.layer: [reg.layer(r.layer).field(r.date_field).alias(lang) for lang in ("zh", "en")]
                            for r in reqs},
            "as_of": as_of.strftime("%Y-%m-%dT%H:%M:%SZ"), "cutoff": since.strftime("%Y-%m-%d"),
            "tolerance_m": tolerance_m}
    fixes_frame = gpd.GeoDataFrame(fx, geometry=geometry, crs="EPSG:4490")
    return SurveyOutcome(layers, town, township_areas(areas, town), fields_table, fixes_frame, info,
                         Notes(warnings or []))


def _empty_fixes() -> "pd.DataFrame":
    import pandas as pd

    cols = ["layer", "uuid", "name", "adcode", "township", "township_name", "missing_zh", "missing_en",
            "placeholder_zh", "placeholder_en", "stale", "last_updated", "duplicate_of", "duplicate_of_name",
            "duplicate_distance_m", "problems_zh", "problems_en", "x", "y"]
    return pd.DataFrame({c: pd.Series(dtype=float if c in ("x", "y", "duplicate_distance_m") else object)
                         for c in cols})
