"""The notification list of a warning area (“两个直达”: the warning reaches the responsible people and every household
in the area): who is responsible, and how many people and households live there, by township and village.

Responsible persons, one row per resource and role:
- the monitoring person of each hazard point inside the area (hazard_points: monitor_name, monitor_phone);
- the manager of each shelter inside the area (it lies in the warned area) and of each shelter the sheet opens
  (shelters: manager_name, manager_phone);
- the leader of each team the sheet sends and of each team based inside the area, whatever its status
  (teams: leader_name, leader_phone);
- the responsible unit of each rectification record of a hazard point inside the area that is not rectified yet
  (found or in rectification; hazard_rectification: responsible_unit; the ledger keeps no phone).
Names and phones are personal data: a caller who may not see personal data (decided by the core, as for every
route) gets the rows with those fields empty; the unit of a rectification record is not personal.

People and households: the sheet's population cells inside the area, each counted by its share inside, summed by
the cell's township (the first nine digits of its division code) and by the village whose boundary
(``admin_areas`` of level village) holds the cell's centre, or the cell's own 12-digit code; households are the
people of each row ÷ the people per household, rounded up (the total is the sheet's own).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from rallypoint import Registry
    from rallypoint.analysis import AnalysisResult

#: role -> (Chinese, English), in the order the list gives them
ROLES = {
    "hazard_monitor": ("隐患点监测人", "Hazard-point monitor"),
    "shelter_inside": ("避难场所管理责任人（场所在区域内）", "Shelter manager (shelter inside the area)"),
    "team_inside": ("队长（驻地在区域内）", "Team leader (based inside the area)"),
    "rectification": ("整改责任单位", "Rectification owner"),
    "shelter_open": ("避难场所管理责任人（需开放）", "Shelter manager (shelter to open)"),
    "team_sent": ("队长（派出）", "Team leader (team to send)"),
}
#: layer -> (name field, phone field) of its responsible person
PERSON_FIELDS = {"hazard_points": ("monitor_name", "monitor_phone"), "shelters": ("manager_name", "manager_phone"),
                 "teams": ("leader_name", "leader_phone"), "hazard_rectification": ("responsible_unit", None)}
OPEN_STATES = ("found", "rectifying")
CONTACT_COLUMNS = ["role", "layer", "uuid", "resource", "adcode", "township", "name", "phone", "detail_zh",
                   "detail_en"]
AREA_COLUMNS = ["township_code", "township", "village_code", "village", "people", "households"]


@dataclass
class Notice:
    contacts: "pd.DataFrame"  # CONTACT_COLUMNS
    areas: "pd.DataFrame"  # AREA_COLUMNS, one row per township and village
    people: float  # the sheet's total
    households: int  # the sheet's total
    personal: bool  # names and phones included

    def counts(self) -> dict[str, int]:
        """Rows per role."""
        return {r: int((self.contacts["role"] == r).sum()) for r in ROLES}

    def without_phone(self) -> int:
        """Persons (not units) with no phone recorded: the warning cannot reach them by SMS (0 when personal data
        is left out, as nothing can be told then)."""
        if not self.personal:
            return 0
        c = self.contacts
        return int(((c["role"] != "rectification") & c["phone"].isna()).sum())


def notification_list(reg: "Registry", result: "AnalysisResult", *, personal: bool,
                      household_size: float) -> Notice:
    import pandas as pd

    area = result.layers["response_area"].geometry.iloc[0]
    names = _division_names(reg)
    rows: list[dict[str, Any]] = []
    inside = _box([area])
    hp = result.layers["response_hazard_points"]
    _add(rows, reg, "hazard_points", list(hp["uuid"]), inside, "hazard_monitor", personal, names,
         lambda r: (f"区域内隐患点：{r['name']}", f"hazard point inside the area: {r['name']}"))
    _add(rows, reg, "shelters", _inside(reg, "shelters", area), inside, "shelter_inside", personal, names,
         lambda r: ("场所位于预警区域内", "the shelter lies inside the warned area"))
    _add(rows, reg, "teams", _inside(reg, "teams", area), inside, "team_inside", personal, names,
         lambda r: (f"驻地在预警区域内（状态：{_label(reg, 'teams', 'status', r['status'], 'zh')}）",
                    f"based inside the warned area (status: {_label(reg, 'teams', 'status', r['status'], 'en')})"))
    rows.extend(_rectification(reg, hp, personal, names))
    s = result.layers["response_shelters"]
    opened = s[s["open"]]
    placed = dict(zip(opened["uuid"], opened["assigned"]))
    _add(rows, reg, "shelters", list(opened["uuid"]), _box(opened.geometry), "shelter_open", personal, names,
         lambda r: (f"开放，安置 {_int(placed[r['uuid']]):,} 人", f"to open, for {_int(placed[r['uuid']]):,} people"))
    teams = result.layers["response_teams"]
    sent = teams[teams["send"]] if len(teams) else teams
    arrive = dict(zip(sent["uuid"], sent["arrive_min"])) if len(sent) else {}
    _add(rows, reg, "teams", list(sent["uuid"]) if len(sent) else [], _box(sent.geometry), "team_sent", personal,
         names, lambda r: (f"派出，预计 {arrive[r['uuid']]:.0f} 分钟到达",
                           f"to send, arriving in about {arrive[r['uuid']]:.0f} min"))
    contacts = pd.DataFrame(rows, columns=CONTACT_COLUMNS, dtype=object)
    contacts = contacts.where(contacts.notna(), None)  # an empty name or phone is None, never NaN
    summary = result.tables["response_summary"].iloc[0]
    return Notice(contacts=contacts, areas=_areas(reg, result.layers["response_people"], names, household_size),
                  people=float(summary["people"]), households=int(summary["households"]), personal=personal)


def _int(v: float) -> int:
    """People as an integer, half up."""
    return int(np.floor(float(v) + 0.5))


def _division_names(reg: "Registry") -> dict[str, str]:
    if "admin_areas" not in reg.layers:
        return {}
    frame = reg.read_frame("admin_areas", columns=["adcode", "name"])
    return dict(zip(frame["adcode"].astype(str), frame["name"].astype(str)))


def _box(geoms) -> tuple[float, float, float, float] | None:
    """The bounds (EPSG:4490) of some geometries, a little padded so points on the edge are read too."""
    import shapely

    geoms = [g for g in geoms if g is not None and not g.is_empty]
    if not geoms:
        return None
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    return minx - 1e-6, miny - 1e-6, maxx + 1e-6, maxy + 1e-6


def _inside(reg: "Registry", layer: str, area) -> list[str]:
    """UUIDs of the layer's (not retired) features whose point lies in the area (its edge included)."""
    import shapely

    if layer not in reg.layers:
        return []
    frame, xy = reg.read_points(layer, columns=["uuid"], bbox=_box([area]))
    ok = ~np.isnan(xy).any(axis=1)
    hit = np.zeros(len(frame), dtype=bool)
    hit[ok] = shapely.covers(area, shapely.points(xy[ok]))
    return list(frame["uuid"][hit])


def _read(reg: "Registry", layer: str, uuids: list[str], columns: list[str], box) -> "pd.DataFrame":
    """The rows of ``uuids`` (in that order, once each) with ``columns``, read within the box ``box``."""
    import pandas as pd

    if not uuids or layer not in reg.layers:
        return pd.DataFrame(columns=["uuid", *columns])
    have = [c for c in dict.fromkeys(columns) if reg.layer(layer).has_field(c) and c != "uuid"]
    frame = reg.read_frame(layer, columns=["uuid", *have], bbox=box)
    frame = frame.drop_duplicates("uuid").set_index("uuid").reindex(list(dict.fromkeys(uuids)))
    return frame.reset_index().reindex(columns=["uuid", *columns])


def _label(reg: "Registry", layer: str, field: str, code, lang: str) -> str:
    for v in reg.layer(layer).field(field).values:
        if v.code == code:
            return v.zh if lang == "zh" else v.en
    return "" if code is None else str(code)


def _person(reg: "Registry", layer: str, row, personal: bool) -> tuple[Any, Any]:
    """(name, phone) of the row's responsible person; the personal ones empty when they may not be seen."""
    name_f, phone_f = PERSON_FIELDS[layer]
    hidden = set() if personal else set(reg.layer(layer).personal_fields)
    name = None if name_f in hidden else row.get(name_f)
    phone = None if phone_f is None or phone_f in hidden else row.get(phone_f)
    return _clean(name), _clean(phone)


def _clean(v):
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    return str(v).strip() or None


def _add(rows, reg, layer, uuids, box, role, personal, names, detail) -> None:
    name_f, phone_f = PERSON_FIELDS[layer]
    cols = ["name", "adcode", "status", name_f] + ([phone_f] if phone_f else [])
    for r in _read(reg, layer, uuids, cols, box).to_dict("records"):
        person, phone = _person(reg, layer, r, personal)
        zh, en = detail(r)
        if personal and phone_f and not phone:  # the warning cannot reach this one by SMS: say so
            zh, en = f"{zh}（未登记联系电话）", f"{en} (no phone recorded)"
        town = str(r.get("adcode") or "")[:9]
        rows.append({"role": role, "layer": layer, "uuid": r["uuid"], "resource": r.get("name"), "adcode": town,
                     "township": names.get(town, ""), "name": person, "phone": phone, "detail_zh": zh,
                     "detail_en": en})


def _rectification(reg, hp, personal, names) -> list[dict[str, Any]]:
    """Rows of the open rectification records (not rectified yet) of the hazard points inside the area."""
    layer = "hazard_rectification"
    if layer not in reg.layers or not len(hp):
        return []
    ledger = reg.read_frame(layer, columns=["uuid", "hazard_uuid", "problem", "responsible_unit", "deadline",
                                            "state"])
    inside = dict(zip(hp["uuid"], hp["name"]))
    open_ = ledger[ledger["hazard_uuid"].isin(list(inside)) & ledger["state"].isin(OPEN_STATES)]
    hazards = _read(reg, "hazard_points", list(open_["hazard_uuid"]), ["adcode"], _box(hp.geometry)).set_index("uuid")
    labels = {v.code: (v.zh, v.en) for v in reg.layer(layer).field("state").values}
    out = []
    for r in open_.sort_values(["hazard_uuid", "deadline"], kind="stable").to_dict("records"):
        unit, _ = _person(reg, layer, r, personal)
        town = str(hazards.loc[r["hazard_uuid"], "adcode"] or "")[:9]
        zh_state, en_state = labels.get(r["state"], (r["state"], r["state"]))
        out.append({"role": "rectification", "layer": layer, "uuid": r["uuid"], "resource": inside[r["hazard_uuid"]],
                    "adcode": town, "township": names.get(town, ""), "name": unit, "phone": None,
                    "detail_zh": f"{r['problem']}（{zh_state}，整改时限 {r['deadline']}）",
                    "detail_en": f"{r['problem']} ({en_state.lower()}, deadline {r['deadline']})"})
    return out


def _areas(reg: "Registry", cells, names: dict[str, str], household_size: float) -> "pd.DataFrame":
    """People and households inside, by township and village (as the sheet counts the cells)."""
    import pandas as pd
    import shapely

    from .people import households

    if not len(cells):
        return pd.DataFrame(columns=AREA_COLUMNS)
    codes = cells["adcode"].astype(str).to_numpy()
    town = np.array([c[:9] for c in codes], dtype=object)
    village = np.array([c if len(c) == 12 else "" for c in codes], dtype=object)
    if "admin_areas" in reg.layers:
        minx, miny, maxx, maxy = cells.total_bounds
        near = reg.read_frame("admin_areas", columns=["adcode", "level"], bbox=(minx, miny, maxx, maxy))
        near = near[(near["level"] == "village") & ~near.geometry.isna()]
        x, y = cells.geometry.x.to_numpy(), cells.geometry.y.to_numpy()
        for code, geom in zip(near["adcode"].astype(str), near.geometry):
            village[shapely.contains_xy(geom, x, y)] = code
    frame = pd.DataFrame({"township_code": town, "village_code": village,
                          "people": cells["people_inside"].to_numpy(dtype=float)})
    frame = frame.groupby(["township_code", "village_code"], as_index=False, sort=True)["people"].sum()
    frame = frame[frame["people"] > 0]
    frame["township"] = frame["township_code"].map(lambda c: names.get(c, ""))
    frame["village"] = frame["village_code"].map(lambda c: names.get(c, "") if c else "")
    frame["households"] = [households(p, household_size) for p in frame["people"]]
    return frame[AREA_COLUMNS].reset_index(drop=True)
