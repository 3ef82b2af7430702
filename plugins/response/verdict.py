"""The response sheet's result in one sentence: everyone placed, nobody placed, some placed, or nobody there."""

from __future__ import annotations


def verdict(m: dict, lang: str) -> str:
    """What the sheet comes to, from its headline figures ``m`` (the ``response_summary`` row).

    >>> verdict({"people": 470.0, "to_evacuate": 470.0, "placed": 470.0, "unplaced": 0.0}, "en")
    'Everyone to evacuate (470 people) is placed in a shelter outside the area.'
    >>> verdict({"people": 0.0, "to_evacuate": 0.0, "placed": 0.0, "unplaced": 0.0}, "en")
    'Nobody lives in the area: nobody to evacuate.'
    """
    zh = lang == "zh"
    people, todo = round(float(m["people"])), round(float(m["to_evacuate"]))
    placed, unplaced = round(float(m["placed"])), round(float(m["unplaced"]))
    if people <= 0:
        return "区域内无人居住：无需转移。" if zh else "Nobody lives in the area: nobody to evacuate."
    if todo <= 0:
        return (f"区域内 {people:,} 人，按所设比例无需转移。" if zh else
                f"{people:,} people live in the area; at the share given nobody is to be evacuated.")
    if unplaced <= 0:
        return (f"需转移的 {todo:,} 人全部安置到区域外的避难场所。" if zh else
                f"Everyone to evacuate ({todo:,} people) is placed in a shelter outside the area.")
    if placed <= 0:
        return (f"需转移 {todo:,} 人，无人可安置：步行时限内没有安全且有空位的避难场所。" if zh else
                f"Of {todo:,} people to evacuate, nobody can be placed: no safe shelter with free places lies within "
                f"the walking limit.")
    return (f"需转移 {todo:,} 人，已安置 {placed:,} 人，{unplaced:,} 人无法安置。" if zh else
            f"{placed:,} of {todo:,} people to evacuate are placed; {unplaced:,} cannot be placed.")
