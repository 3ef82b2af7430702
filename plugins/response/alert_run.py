"""A warning to an area, at once: the response sheet of the area, the notification list and the first report.

``run_alert`` reads the warning (CAP 1.2 or GeoJSON, :mod:`.warning_area`), refuses what is not an incident,
runs the ``response`` analysis on its area, and builds the notification list (:mod:`.notify`); the page, the CSV
files and the first report are made from its outcome (:mod:`.alert_page`, :mod:`.first_report`).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Mapping

from rallypoint.analysis import AnalysisError
from rallypoint_plugins.reporting.times import local_zone

from .outcome import AlertOutcome, parse_as_of

if TYPE_CHECKING:  # pragma: no cover
    from rallypoint import Registry

#: Parameters of the alert itself; the rest go to the response analysis.
OWN = ("events", "as_of", "allow_expired")


def run_alert(reg: "Registry", data: bytes, raw: Mapping[str, Any], *, personal: bool) -> AlertOutcome:
    """The sheet, the notification list and the first report of the warning in ``data``.

    ``raw``: the response analysis' parameters (``incident`` overrides the one found from the alert's event;
    ``area``, ``point`` and ``hazard_uuid`` are the warning's), plus ``events`` (the warning_events profile),
    ``as_of`` (the time the report is made; now by default) and ``allow_expired``.
    """
    from rallypoint.analysis import analyses, run_analysis
    from rallypoint.plugins import default_plugin_manager
    from rallypoint.profiles import find_profile

    from .notify import notification_list
    from .warning_area import read_warning

    raw = {k: v for k, v in raw.items() if v is not None and v != ""}
    for taken in ("area", "point", "hazard_uuid", "radius_m"):
        if taken in raw:
            raise AnalysisError(f"parameter {taken!r}: the area is the warning's; it cannot be given as well")
    as_of = parse_as_of(raw.get("as_of"))
    made_at = (as_of or datetime.now(timezone.utc)).astimezone(local_zone())
    allow_expired = str(raw.get("allow_expired", "false")).strip().lower() in ("1", "true", "yes")
    pm = default_plugin_manager()
    profiles = pm.collect("rallypoint_profiles")
    events = find_profile(profiles, "warning_events", str(raw.get("events") or "default"))
    warning = read_warning(data, reg, events.data, area_crs=raw.get("area_crs"), now=made_at)
    if warning.expired and not allow_expired:
        raise AnalysisError("; ".join(en for en, _ in warning.notes if "EXPIRED" in en) +
                            " — no sheet is made for it (give allow_expired to make one anyway, e.g. to review it)")
    args = {k: v for k, v in raw.items() if k not in OWN}
    incident = args.get("incident") or warning.incident
    if not incident or incident == "auto":
        event = warning.alert.info("zh").event if warning.alert else None
        raise AnalysisError((f"the alert's event {event!r} is none of the incident types the response sheet knows"
                             if event else "a GeoJSON area says nothing of what happened") +
                            ": give incident (flood, landslide, hazmat, earthquake or fire)")
    found = bool(warning.incident and not args.get("incident"))
    args.update(area=warning.area, area_crs=warning.area_crs, incident=incident)
    params = analyses(pm)["response"].parse_parameters(args, profiles)
    result = run_analysis(reg, pm, "response", args, lang="zh")
    notes = list(warning.notes)
    if found:
        area = result.layers["response_area"].iloc[0]
        notes.append((f"responded to as: {area['title_en']} ({warning.incident_how[0]})",
                      f"按{area['title_zh']}响应（{warning.incident_how[1]}）"))
    notice = notification_list(reg, result, personal=personal, household_size=params["household_size"])
    return AlertOutcome(warning=warning, result=result, notice=notice, params=params, incident=incident,
                        registry=str(reg.info.name), bureau=str(reg.info.bureau), made_at=made_at, notes=notes)
