"""The page every report is printed on: one self-contained HTML document (maps embedded as PNG) with the house
style on screen and print rules for A4 — portrait, with the sections too wide for it on landscape pages (CSS named
pages: ``<section class="wide">``), table headers repeated on each page, rows and maps never cut in two.

Cells are text (escaped here) unless wrapped in :class:`Raw` (HTML already made safe by the caller).
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Iterable, Sequence

from . import times

CSS = """
@page{size:A4;margin:12mm 11mm}
@page wide{size:A4 landscape;margin:10mm}
*{box-sizing:border-box}
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","Noto Sans SC","PingFang SC","Microsoft YaHei",sans-serif;
margin:24px auto;max-width:1100px;padding:0 12px;color:#222;line-height:1.45}
h1{font-size:24px;margin:0 0 4px}
h2{font-size:19px;border-bottom:2px solid #2166ac;padding-bottom:3px;margin:28px 0 8px}
h3{font-size:15px;margin:14px 0 4px}
p.sub{color:#555;margin:2px 0}p.verdict{font-weight:bold;margin:8px 0}
table{border-collapse:collapse;font-size:12px;margin:8px 0}
th,td{border:1px solid #ccc;padding:3px 6px;vertical-align:top}
th{background:#eef3f8;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.kv th{text-align:left;white-space:nowrap}
tr.total td{font-weight:bold;background:#f3f3f3}
.bad{color:#b2182b}.good{color:#1a9850}.muted{color:#777}
img{max-width:100%}img.map{border:1px solid #ddd;display:block;margin:6px 0}
.note{font-size:12px;color:#444}ul.note{padding-left:18px}
section.wide{page:wide}
@media print{
body{margin:0;max-width:none;padding:0;font-size:9.5pt}
h1{font-size:17pt}h2{font-size:12.5pt;margin:12px 0 5px;break-after:avoid}h3{break-after:avoid}
table{font-size:8pt;max-width:100%}thead{display:table-header-group}tr,img,li{break-inside:avoid}
th,td{padding:1.5px 4px}
img.map{max-height:175mm;width:auto;max-width:100%}
section.wide table{font-size:7.5pt}
.note{font-size:8pt}
}
"""


class Raw(str):
    """HTML made safe by the caller, put in a cell as it is."""


def esc(v) -> str:
    return v if isinstance(v, Raw) else html.escape("" if v is None else str(v))


def table(head: Sequence[str], rows: Iterable[Sequence], *, numeric: Iterable[int] = (), total: bool = False,
          cls: str = "", empty: str = "—") -> str:
    """A table; columns ``numeric`` are right-aligned; ``total``: the last row is a total (bold)."""
    num = set(numeric)
    rows = list(rows)
    body = []
    for i, r in enumerate(rows):
        klass = ' class="total"' if total and i == len(rows) - 1 else ""
        body.append(f"<tr{klass}>" + "".join(f'<td class="n">{esc(c)}</td>' if j in num else f"<td>{esc(c)}</td>"
                                              for j, c in enumerate(r)) + "</tr>")
    if not rows:
        body.append(f'<tr><td colspan="{len(head)}">{esc(empty)}</td></tr>')
    klass = f' class="{cls}"' if cls else ""
    return (f"<table{klass}><thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr></thead><tbody>"
            + "".join(body) + "</tbody></table>")


def key_values(rows: Iterable[tuple[str, object]]) -> str:
    """A two-column table of labels and values."""
    return '<table class="kv">' + "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows) \
        + "</table>"


def bullets(items: Iterable[str], cls: str = "note") -> str:
    items = list(items)
    return f'<ul class="{cls}">' + "".join(f"<li>{esc(i)}</li>" for i in items) + "</ul>" if items else ""


def section(title: str, *content: str, wide: bool = False) -> str:
    """A titled part of the report; ``wide``: printed on landscape pages."""
    klass = ' class="wide"' if wide else ""
    return f"<section{klass}><h2>{esc(title)}</h2>{''.join(content)}</section>"


def made(registry: str, bureau: str, lang: str, at: datetime | None = None) -> str:
    """The line naming the registry, the bureau and when the report was made, in local time with its zone."""
    at = at or times.now()
    label = "生成于" if lang == "zh" else "made"
    return f"{registry} · {bureau} · {label} {times.stamp(at, lang)}"


def document(*, lang: str, title: str, subtitle: Iterable[str] = (), body: Iterable[str] = (), css: str = "") -> str:
    """The whole page: ``title``, the ``subtitle`` lines (sentences in words), then ``body`` (HTML)."""
    code = "zh-CN" if lang == "zh" else "en"
    subs = "".join(f'<p class="sub">{esc(s)}</p>' for s in subtitle if s)
    return (f'<!DOCTYPE html><html lang="{code}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{CSS}{css}</style></head><body>"
            f"<header><h1>{esc(title)}</h1>{subs}</header>" + "".join(body) + "</body></html>")
