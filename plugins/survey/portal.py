"""The survey's panel on the web portal: the figures of ``GET /plugins/survey`` (the same outcome, kept by the
endpoint for a couple of minutes) and a link to its report. For key holders and signed-in staff only, as the
endpoint is: its figures name missing personal fields."""

from __future__ import annotations

from typing import Any, Mapping

from rallypoint.portal import Figure, Link, Panel


def figures(request: Mapping[str, Any]) -> list[Figure]:
    from .web import survey_summary

    _, _, body = survey_summary({**request, "args": {}})
    return [Figure(s["label_zh"], s["label_en"], s["value"]) for s in body["summary"]]


PANEL = Panel("survey", "资源普查", "Resource survey", figures, role="reader", order=10, links=(
    Link("/plugins/survey?f=html&lang={lang}", "普查完整性报告", "Survey completeness report", role="reader"),
    Link("/plugins/survey/report?f=pdf&lang={lang}", "普查完整性报告（PDF）", "Survey completeness report (PDF)",
         role="reader"),))
