"""A report as PDF: the same HTML page printed by headless Chromium (Debian's ``chromium``, no network).

Chromium lays out the page exactly as the browser shows it (CJK fonts, CSS grid, ``@page`` A4 and named
landscape pages), which the pure-Python HTML-to-PDF libraries do not (WeasyPrint has no CSS grid in Debian's
version; xhtml2pdf no CJK shaping), so reports are printed by the browser the project already installs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from rallypoint.analysis import AnalysisError

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: Flags that keep a one-shot headless print from reaching for the network or a profile's extras.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-default-browser-check", "--no-pdf-header-footer")


def browser() -> str:
    """The headless browser to print with (``RALLYPOINT_CHROMIUM`` overrides the search)."""
    found = os.environ.get("RALLYPOINT_CHROMIUM") or next((p for p in map(shutil.which, BROWSERS) if p), None)
    if not found:
        raise AnalysisError("no Chromium to print the PDF with: install Debian's chromium (or set RALLYPOINT_CHROMIUM)")
    return found


def html_to_pdf(page: str, out: str | Path, timeout: float = 90.0) -> Path:
    """Print an HTML page (text) to a PDF file with headless Chromium; returns the PDF's path."""
    out = Path(out).resolve()
    with tempfile.TemporaryDirectory(prefix="rallypoint-print-") as tmp:
        src = Path(tmp) / "report.html"
        src.write_text(page, encoding="utf-8")
        cmd = [browser(), *FLAGS, f"--user-data-dir={tmp}/profile", f"--print-to-pdf={out}", src.as_uri()]
        try:
            run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AnalysisError(f"Chromium did not print the report within {timeout:g} s") from None
    if run.returncode != 0 or not out.exists() or out.stat().st_size == 0:
        raise AnalysisError(f"Chromium could not print the report (exit {run.returncode}): "
                            f"{run.stderr.strip()[-400:]}")
    return out


def pdf_bytes(page: str, timeout: float = 90.0) -> bytes:
    """The PDF of an HTML page, as bytes (for an HTTP answer)."""
    with tempfile.TemporaryDirectory(prefix="rallypoint-pdf-") as tmp:
        return html_to_pdf(page, Path(tmp) / "report.pdf", timeout).read_bytes()
