"""What a warning to an area produced: the warning, the sheet, the notification list, and when it was made.

Only data and times here; the page and the CSV lists are :mod:`.alert_page`, the first report :mod:`.first_report`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from rallypoint.analysis import AnalysisError
from rallypoint_plugins.reporting.times import local_zone

if TYPE_CHECKING:  # pragma: no cover
    from rallypoint.analysis import AnalysisResult

    from .notify import Notice
    from .warning_area import WarningArea

#: The rule of the county plans: a village reports an incident within 30 minutes (初报).
REPORT_MINUTES = 30


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
