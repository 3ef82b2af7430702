"""Fields whose value follows from others by a rule in the domain standards.

A definition names the rule (``derived = "danger_grade"``); the rule lives here because
it is logic, while its thresholds come straight from DOMAIN.md's sources.
"""

from __future__ import annotations

from typing import Any, Callable

GRADES = ("I", "II", "III", "IV")

# Geohazard danger grade (地质灾害险情等级): people threatened, property threatened (10,000 CNY).
#   I ≥ 1,000 people or ≥ 100 M CNY; II 500–1,000 or 50–100 M; III 100–500 or 5–50 M; IV < 100 and < 5 M.
_PEOPLE_THRESHOLDS = ((1000, "I"), (500, "II"), (100, "III"))
_PROPERTY_THRESHOLDS_WAN = ((10000, "I"), (5000, "II"), (500, "III"))
# Major hazard installation grade from R = α Σ βᵢ qᵢ/Qᵢ: 1 ≥ 100, 2: 50–100, 3: 10–50, 4: < 10.
_R_THRESHOLDS = ((100, "I"), (50, "II"), (10, "III"))


def _grade(value: float, thresholds) -> str:
    for limit, grade in thresholds:
        if value >= limit:
            return grade
    return "IV"


def geohazard_grade(people: int | None, property_wan: float | None) -> str | None:
    """Danger grade of a geohazard site: the more severe of the people and property grades.

    >>> geohazard_grade(120, 6000)
    'II'
    >>> geohazard_grade(99, None)
    'IV'
    """
    grades = []
    if people is not None:
        grades.append(_grade(people, _PEOPLE_THRESHOLDS))
    if property_wan is not None:
        grades.append(_grade(property_wan, _PROPERTY_THRESHOLDS_WAN))
    if not grades:
        return None
    return min(grades, key=GRADES.index)


def installation_grade(r: float | None) -> str | None:
    """Grade of a major hazard installation from its index R.

    >>> installation_grade(55.0)
    'II'
    """
    return None if r is None else _grade(r, _R_THRESHOLDS)


def danger_grade(props: dict[str, Any], group_of: Callable[[str], str | None]) -> tuple[str | None, str] | None:
    """The derived danger grade and why, or ``None`` where no rule applies (entered by hand)."""
    group = group_of(props.get("hazard_type") or "")
    if group == "geohazard":
        g = geohazard_grade(props.get("threatened_people"), props.get("threatened_property"))
        return g, "derived from threatened_people and threatened_property (geohazard rule)"
    if group == "installation" and props.get("risk_value_r") is not None:
        return installation_grade(props["risk_value_r"]), "derived from risk_value_r (major hazard rule)"
    return None


RULES = {"danger_grade": danger_grade}


# -- the same rules over many features at once (bulk writes: :mod:`rallypoint.column_checks`) ----------------


def _numbers(values) -> "np.ndarray":
    import numpy as np

    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _grade_index(values, thresholds) -> "np.ndarray":
    """Index into GRADES of each value's grade (3, grade IV, below every threshold); NaN rows are left at 3."""
    import numpy as np

    out = np.full(len(values), GRADES.index("IV"))
    for limit, grade in reversed(thresholds):
        out[values >= limit] = GRADES.index(grade)
    return out


def danger_grade_many(columns: dict[str, list], group_of: Callable[[str], str | None],
                      n: int) -> tuple["np.ndarray", list[str | None]]:
    """:func:`danger_grade` of ``n`` features given as columns: ``(applies, grades)``, where ``applies`` says
    whether a rule gives the grade (else it is entered by hand) and ``grades`` the grade it gives (None when
    the threat is not known). Exactly what :func:`danger_grade` gives feature by feature."""
    import numpy as np

    types = columns.get("hazard_type") or [None] * n
    groups = {t: group_of(t or "") for t in set(types)}
    group = np.array([groups[t] for t in types], dtype=object)
    geohazard = group == "geohazard"
    r = _numbers(columns.get("risk_value_r") or [None] * n)
    installation = (group == "installation") & ~np.isnan(r)
    people = _numbers(columns.get("threatened_people") or [None] * n)
    wan = _numbers(columns.get("threatened_property") or [None] * n)
    by_people = np.where(np.isnan(people), len(GRADES), _grade_index(people, _PEOPLE_THRESHOLDS))
    by_property = np.where(np.isnan(wan), len(GRADES), _grade_index(wan, _PROPERTY_THRESHOLDS_WAN))
    geo = np.minimum(by_people, by_property)  # the more severe; len(GRADES): neither is known
    inst = _grade_index(r, _R_THRESHOLDS)
    index = np.where(geohazard, geo, np.where(installation, inst, len(GRADES)))
    names = list(GRADES) + [None]
    return geohazard | installation, [names[i] for i in index.tolist()]


#: the rules of :data:`RULES` over many features at once
RULES_MANY = {"danger_grade": danger_grade_many}
