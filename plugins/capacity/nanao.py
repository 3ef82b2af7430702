"""Nanao city's open-shelter snapshots (Noto Peninsula earthquake, 2024): read one, and find the full shelters.

Each CSV of ``tests/data/real/noto-nanao/history/`` lists the shelters open at one moment with
the people in each (column ``人数_令和6年1月9日午後6時時点``), their position (緯度, 経度) and the
planned capacity as free text (想定収容人数, read by :func:`.capacity_text.parse_capacity_text`).
The registry cannot hold these shelters (its division codes are Chinese), so they stay a
DataFrame; :func:`over_capacity` uses the analysis's own :func:`.occupancy.occupancy_state`
against the indoor capacity (the people were indoors, in January).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .capacity_text import parse_capacity_text
from .occupancy import occupancy_state

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

_ERAS = {"令和": 2018, "平成": 1988}
_WHEN = re.compile(r"(令和|平成)(\d+|元)年(\d+)月(\d+)日(午前|午後)?(\d+)時(?:(\d+)分)?")


def snapshot_time(text: str) -> datetime | None:
    """The moment a column name or text like ``人数_令和6年1月9日午後6時時点`` gives.

    >>> snapshot_time("人数_令和6年1月9日午後6時時点")
    datetime.datetime(2024, 1, 9, 18, 0)
    >>> snapshot_time("人数_令和6年1月13日午前6時時点")
    datetime.datetime(2024, 1, 13, 6, 0)
    """
    m = _WHEN.search(unicodedata.normalize("NFKC", text))
    if not m:
        return None
    era, year, month, day, half, hour, minute = m.groups()
    y = _ERAS[era] + (1 if year == "元" else int(year))
    h = int(hour) % 12 + (12 if half == "午後" else 0) if half else int(hour)
    return datetime(y, int(month), int(day), h, int(minute or 0))


def read_snapshot(path: str | Path) -> "pd.DataFrame":
    """One snapshot as a frame: id, district, name, lat, lon, occupancy, the capacity text and its figures.

    ``frame.attrs['snapshot']`` holds the moment of the head count.
    """
    import pandas as pd

    raw = pd.read_csv(path, dtype=str, encoding="utf-8")
    people = [c for c in raw.columns if c.startswith("人数_")]
    if len(people) != 1:
        raise ValueError(f"{path}: expected one 人数_… column of people, found {people or 'none'}")
    text = raw["想定収容人数"] if "想定収容人数" in raw.columns else pd.Series([None] * len(raw))
    parsed = text.map(parse_capacity_text)
    frame = pd.DataFrame({
        "id": raw.get("ID"), "district": raw.get("地区"), "name": raw["名称"],
        "lat": pd.to_numeric(raw["緯度"], errors="coerce"), "lon": pd.to_numeric(raw["経度"], errors="coerce"),
        "occupancy": pd.to_numeric(raw[people[0]].str.replace(",", ""), errors="coerce").astype("Int64"),
        "capacity_text": text,
        "indoor_capacity": pd.array([p.indoor if p else None for p in parsed], dtype="Int64"),
        "outdoor_capacity": pd.array([p.outdoor if p else None for p in parsed], dtype="Int64"),
        "capacity_note": [p.note if p else None for p in parsed],
    })
    frame.attrs["snapshot"] = snapshot_time(people[0])
    return frame


def over_capacity(frame: "pd.DataFrame", near_full: float = 0.9) -> "pd.DataFrame":
    """The frame with ``state``, ``available`` and ``over_capacity`` against the indoor capacity.

    Shelters with no capacity text are ``unknown`` (never over capacity).
    """
    return occupancy_state(frame, capacity="indoor_capacity", occupancy="occupancy", near_full=near_full)
