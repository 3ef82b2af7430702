"""A warning to an area, at once: the response sheet of the area, the notification list and the first report.

``run_alert`` reads the warning (CAP 1.2 or GeoJSON, :mod:`.warning_area`), refuses what is not an incident,
runs the ``response`` analysis on its area, and builds the notification list (:mod:`.notify`); the outcome gives
the page, the CSV files and the first report (:mod:`.alert_page`, :mod:`.first_report`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Mapping

from rallypoint.analysis import AnalysisError

if TYPE_CHECKING:  # pragma: no cover
    from rallypoint import Registry
    from rallypoint.analysis import AnalysisResult

    from .notify import Notice
    from .warning_area import WarningArea

#: The rule of the county plans: a village reports an incident within 30 minutes (初报).
REPORT_MINUTES = 30
#: Parameters of the alert itself; the rest go to the response analysis.
OWN = ("events", "as_of", "allow_expired")


def local_zone():
    """The time zone of reports: ``RALLYPOINT_TZ`` or Asia/Shanghai."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = os.environ.get("RALLYPOINT_TZ") or "Asia/Shanghai"
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise AnalysisError(f"RALLYPOINT_TZ {name!r} is not a time zone (e.g. Asia/Shanghai)") from None


def parse_as_of(text: str | None) -> datetime | None:
    """``as_of``: a date-time (local time when it has no zone), or None for now."""
    if text is None or not str(text).strip():
        return None
    try:
        value = datetime.fromisoformat(str(text).strip())
    except ValueError:
        raise AnalysisError(f"parameter 'as_of': {text!r} is not a date-time such as 2026-07-01T09:00+08:00") \
            from None
    return value if value.tzinfo else value.replace(tzinfo=local_zone())


@dataclass
class AlertOutcome:
    warning: "WarningArea"
    result: "AnalysisResult"
    notice: "Notice"
    params: dict[str, Any]  # the response analysis' parameters, parsed
    incident: str
    registry: str
    bureau: str
    made_at: datetime  # aware
    notes: list[tuple[str, str]] = field(default_factory=list)  # (English, Chinese)

    @property
    def summary(self) -> dict[str, Any]:
        return dict(self.result.tables["response_summary"].iloc[0])

    @property
    def started(self) -> datetime:
        """When the 30 minutes start: the alert's sending time, or when a drawn area was given."""
        alert = self.warning.alert
        return alert.sent if alert is not None else self.made_at

    @property
    def deadline(self) -> datetime:
        return self.started + timedelta(minutes=REPORT_MINUTES)

    def page(self, lang: str = "zh") -> str:
        from .alert_page import render

        return render(self, lang)

    def first_report(self, lang: str = "zh") -> str:
        from .first_report import text

        return text(self, lang)

    def csv(self, which: str, lang: str = "zh") -> bytes:
        from .alert_page import contacts_csv, people_csv

        if which == "contacts":
            return contacts_csv(self.notice, lang)
        if which == "people":
            return people_csv(self.notice, lang)
        raise AnalysisError(f"parameter 'list': {which!r} is not contacts or people")

    def as_json(self) -> dict[str, Any]:
        import math

        def plain(v):
            if hasattr(v, "item"):
                v = v.item()
            return None if isinstance(v, float) and not math.isfinite(v) else v

        alert = self.warning.alert
        return {
            "source": self.warning.kind, "incident": self.incident, "level": self.warning.level,
            "alert": None if alert is None else {
                "identifier": alert.identifier, "sender": alert.sender, "sent": alert.sent.isoformat(),
                "status": alert.status, "msgType": alert.msg_type, "references": alert.references,
                "event": alert.info("zh").event, "headline": alert.info("zh").headline,
                "expires": None if alert.expires is None else alert.expires.isoformat()},
            "area": {"zh": self.warning.desc("zh"), "en": self.warning.desc("en")},
            "made_at": self.made_at.isoformat(), "report_by": self.deadline.isoformat(),
            "summary": {k: plain(v) for k, v in self.summary.items()},
            "contacts": [{k: plain(v) for k, v in r.items()} for r in self.notice.contacts.to_dict("records")],
            "people": [{k: plain(v) for k, v in r.items()} for r in self.notice.areas.to_dict("records")],
            "personal": self.notice.personal,
            "first_report": {"zh": self.first_report("zh"), "en": self.first_report("en")},
            "notes": [en for en, _ in self.notes], "warnings": list(self.result.warnings),
        }


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
