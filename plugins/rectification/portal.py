"""The rectification ledger's panel on the web portal: the county-wide row of ``GET /rectification/townships``
(records, open, overdue, closed, the rectification rate) and links to the lists. Open to anyone, as the
endpoint is: the ledger holds no personal data."""

from __future__ import annotations

from typing import Any, Mapping

from rallypoint.portal import Figure, Link, Panel

from .ledger import LAYER


def figures(request: Mapping[str, Any]) -> list[Figure]:
    from .web import townships

    if LAYER not in request["registry"].layers:
        return []
    _, _, body = townships({**request, "args": {}})
    total = next((r for r in body["townships"] if r["township"] == "*"), None) or {}
    rate = total.get("rate_pct")
    return [
        Figure("整改记录", "Records", int(total.get("total") or 0)),
        Figure("未整改", "Open", int(total.get("open") or 0)),
        Figure("逾期未整改", "Overdue", int(total.get("overdue") or 0), alert=bool(total.get("overdue"))),
        Figure("已整改", "Rectified", int(total.get("rectified") or 0)),
        Figure("整改率", "Rectification rate", "—" if rate is None else f"{float(rate):.2f} %"),
    ]


PANEL = Panel("rectification", "隐患整改", "Hazard rectification", figures, order=20, links=(
    Link("/plugins/rectification/report?lang={lang}", "隐患排查治理统计报告", "Rectification ledger report"),
    Link("/plugins/rectification/report?f=pdf&lang={lang}", "隐患排查治理统计报告（PDF）",
         "Rectification ledger report (PDF)", role="reader"),
    Link("/rectification/records?list=overdue", "逾期整改清单（JSON）", "Overdue records (JSON)"),
    Link("/rectification/townships", "各乡镇整改率（JSON）", "Rate per township (JSON)"),
))
