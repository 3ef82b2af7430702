"""Depot stock against the minimum needs of the displaced: days of supply per need and per area.

A minimum-needs profile lists needs (rice, drinking water, family kits, tents …), each with an
amount per person (per week, per day or once), the depot_stock categories that hold it and the
units it can be counted in. For every area, the stock of the in-service depots within reach
(distance from the depot to the area polygon, in a projected CRS) is summed per need:

- a consumable (weekly or daily) gets ``days = stock / (displaced × amount per day)``;
- a one-off need (toilets, tents, quilts) gets ``coverage = stock / (displaced × amount)``.

A depot within reach of several areas counts for each of them, so stock is not additive over
areas; the region's figure counts each depot that reaches any area once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np

from rallypoint.analysis import AnalysisError
from rallypoint_plugins.reporting import units as unit_words
from rallypoint_plugins.reporting.notes import add as note

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd
    import pandas as pd

    from rallypoint import Registry
    from rallypoint.profiles import Profile

FREQUENCIES = {"weekly": 7.0, "daily": 1.0, "once": None}


@dataclass(frozen=True)
class Need:
    key: str
    title_zh: str
    title_en: str
    amount: float  # per person, per week / per day / once
    unit: str
    frequency: str
    categories: tuple[str, ...]
    units: dict[str, float]
    origin: str = ""
    origin_zh: str = ""
    unit_zh: str = ""  # the Chinese measure word a profile gives (顶 for tents, 床 for quilts); else the code's

    @property
    def consumable(self) -> bool:
        return FREQUENCIES[self.frequency] is not None

    @property
    def per_day(self) -> float:
        return self.amount / FREQUENCIES[self.frequency] if self.consumable else math.nan

    def title(self, lang: str) -> str:
        return self.title_zh if lang == "zh" else self.title_en

    def note(self, lang: str) -> str:
        return (self.origin_zh or self.origin) if lang == "zh" else self.origin

    def unit_label(self, lang: str) -> str:
        """The need's unit as a report says it: 千克, 升, 套, 顶, 床 … in Chinese."""
        return unit_words.unit(self.unit, lang, own=self.unit_zh or None)


def needs(profile: "Profile") -> list[Need]:
    """The needs of a minimum-needs profile, checked (a bad entry is an AnalysisError naming it)."""
    out: list[Need] = []
    for i, d in enumerate(profile.data.get("needs") or []):
        where = f"minimum-needs profile {profile.name!r}, need #{i + 1}"
        try:
            key = str(d["key"])
            amount = d["amount"]
            freq = d.get("frequency", "weekly")
            factors = {str(k): float(v) for k, v in (d.get("units") or {}).items()}
            cats = tuple(str(c) for c in d.get("categories") or ())
        except (KeyError, TypeError, ValueError) as exc:
            raise AnalysisError(f"{where}: malformed ({exc})") from None
        if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not amount > 0:
            raise AnalysisError(f"{where} ({key}): amount must be a positive number, not {amount!r}")
        if freq not in FREQUENCIES:
            raise AnalysisError(f"{where} ({key}): frequency must be one of {', '.join(FREQUENCIES)}, not {freq!r}")
        if any(not (v > 0 and math.isfinite(v)) for v in factors.values()):
            raise AnalysisError(f"{where} ({key}): every unit factor must be a positive number")
        out.append(Need(key, str(d.get("title_zh", key)), str(d.get("title_en", key)), float(amount),
                        str(d.get("unit", "")), freq, cats, factors, str(d.get("origin", "")),
                        str(d.get("origin_zh", "")), str(d.get("unit_zh", ""))))
    if not out:
        raise AnalysisError(f"minimum-needs profile {profile.name!r} lists no needs (data.needs)")
    return out


def depot_stock(reg: "Registry", assessed: list[Need], warnings: list[str]) -> tuple["gpd.GeoDataFrame", np.ndarray]:
    """In-service depots (points) and a matrix depot × need of the stock each holds, in the needs' units."""
    import geopandas as gpd
    import pandas as pd

    empty = gpd.GeoDataFrame({"uuid": []}, geometry=[], crs=4490)
    if "depots" not in reg.layers or "depot_stock" not in reg.layers or not reg.count("depots"):
        note(warnings, "the registry holds no depots: every need has 0 days of supply",
             "登记库中没有储备库：各项物资可供天数均为 0")
        return empty, np.zeros((0, len(assessed)))
    depots = reg.read_frame("depots", columns=["uuid", "name", "status"])
    depots = depots[(depots["status"] == "in_service") & ~depots.geometry.isna()].reset_index(drop=True)
    stock = reg.read_frame("depot_stock", columns=["depot_uuid", "category", "unit", "quantity", "expiry"])
    pos = pd.Series(np.arange(len(depots)), index=depots["uuid"].astype(str))
    stock = stock.assign(depot=stock["depot_uuid"].astype(str).map(pos)).dropna(subset=["depot"])
    matrix = np.zeros((len(depots), len(assessed)))
    today = pd.Timestamp(date.today())
    expired = 0
    for j, need in enumerate(assessed):
        rows = stock[stock["category"].isin(need.categories)]
        factor = rows["unit"].map(need.units)
        ignored = rows[factor.isna()]
        for (cat, unit), g in ignored.groupby(["category", "unit"]):
            qty, said = f"{g['quantity'].sum():,.0f}", unit_words.unit(unit, "zh")
            note(warnings, f"{len(g)} stock records of {cat} in {unit} ({qty} {unit}) are not counted as "
                           f"{need.title_en} ({need.unit}): a needs profile gives no conversion from {unit}",
                 f"{len(g)} 条以“{said}”计量的库存记录（共 {qty} {said}）未计入{need.title_zh}："
                 f"最低需求方案未给出由“{said}”到“{need.unit_label('zh')}”的换算")
        ok = rows[factor.notna()]
        qty = ok["quantity"].astype(float).fillna(0.0).to_numpy() * factor[factor.notna()].to_numpy()
        np.add.at(matrix[:, j], ok["depot"].to_numpy(dtype=np.int64), qty)
        exp = pd.to_datetime(ok["expiry"], errors="coerce")
        expired += int((exp < today).sum())
    if expired:
        note(warnings, f"{expired} counted stock records are past their expiry date; they are still counted",
             f"{expired} 条计入的库存记录已过保质期，仍按库存计入")
    return depots, matrix


def in_reach(depots: "gpd.GeoDataFrame", areas: "gpd.GeoDataFrame", epsg: int, reach_km: float) -> np.ndarray:
    """Pairs ``(depot, area)`` (2 × k) of depots within ``reach_km`` of the area polygon."""
    import shapely

    if not len(depots):
        return np.zeros((2, 0), dtype=np.int64)
    a = np.asarray(areas.geometry.to_crs(epsg).values, dtype=object)
    d = np.asarray(depots.geometry.to_crs(epsg).values, dtype=object)
    return shapely.STRtree(a).query(d, predicate="dwithin", distance=reach_km * 1000.0)


def stock_by_area(matrix: np.ndarray, pairs: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Stock per area × need, depots in reach per area, the region's stock and depots (each depot once)."""
    dep, area = pairs
    per_area = np.zeros((n, matrix.shape[1]))
    np.add.at(per_area, area, matrix[dep])
    count = np.bincount(area, minlength=n).astype(np.int64)
    reaching = np.unique(dep)
    return per_area, count, matrix[reaching].sum(axis=0), len(reaching)


def supply_days(stock: np.ndarray, displaced: np.ndarray, need: Need) -> np.ndarray:
    """Days of supply (consumables) or share of the need covered (one-off needs); NaN when nobody is displaced.

    >>> n = Need("rice", "大米", "Rice", 2.8, "kg", "weekly", ("food",), {"kg": 1.0})
    >>> supply_days(np.array([400.0, 0.0, 5.0]), np.array([100, 100, 0]), n).tolist()
    [10.0, 0.0, nan]
    """
    displaced = np.asarray(displaced, dtype=float)
    per = need.per_day if need.consumable else need.amount
    want = displaced * per
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(want > 0, np.asarray(stock, dtype=float) / np.where(want > 0, want, 1.0), np.nan)


def stock_table(areas: "pd.DataFrame", per_area: np.ndarray, depots_in_reach: np.ndarray,
                region_stock: np.ndarray, region_depots: int, region_displaced: int, assessed: list[Need],
                region_name: str) -> "pd.DataFrame":
    """The ``capacity_stock`` table: one row per area and need, then the region's rows (``scope = region``)."""
    import pandas as pd

    rows: list[dict[str, Any]] = []
    displaced = areas["demand"].to_numpy()
    for j, need in enumerate(assessed):
        values = supply_days(per_area[:, j], displaced, need)
        region_value = supply_days(region_stock[j:j + 1], np.array([region_displaced]), need)[0]
        common = {"need": need.key, "need_zh": need.title_zh, "need_en": need.title_en, "unit": need.unit,
                  "frequency": need.frequency, "per_person": need.amount}
        for i in range(len(areas)):
            rows.append({"scope": "area", "adcode": areas["adcode"].iat[i], "name": areas["name"].iat[i], **common,
                         "displaced": int(displaced[i]), "depots": int(depots_in_reach[i]),
                         "stock": float(per_area[i, j]),
                         "days": float(values[i]) if need.consumable else math.nan,
                         "coverage": math.nan if need.consumable else float(values[i])})
        rows.append({"scope": "region", "adcode": "", "name": region_name, **common,
                     "displaced": int(region_displaced), "depots": int(region_depots), "stock": float(region_stock[j]),
                     "days": float(region_value) if need.consumable else math.nan,
                     "coverage": math.nan if need.consumable else float(region_value)})
    return pd.DataFrame(rows)
