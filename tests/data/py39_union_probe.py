"""A module the Python 3.9 check of tests/test_qgis_plugin_vendor.py must catch (line 5), and nothing else here."""
from __future__ import annotations
from typing import Callable
FLAGS = 0x01 | 0x10
Hook = Callable[[str], int | None]


def f(x: str | None = None) -> int | None:
    return None if x is None else len(x) | 1
