"""Each analysis names the packages it imports (``Analysis.packages``): QGIS's Processing checks them before it
offers to run one (``rallypoint_qgis.processing_provider.cannot_run``), so a missing one is a message, not a traceback.

The declaration is held to the code: every outside package the analysis' modules import, at the top or inside a
function, following its imports into other plugins (the response sheet uses coverage's and capacity's code), is
declared. The check is made without importing anything, as QGIS makes it.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from rallypoint.analysis import Analysis, analyses, missing_packages
from rallypoint.plugins import default_plugin_manager

ROOT = Path(__file__).resolve().parents[1]
#: imported only when present (dask: the optional distributed search) or only before Python 3.11 (tomli)
OPTIONAL = {"dask", "tomli"}


def _path(module: str) -> Path | None:
    parts = module.split(".")
    if parts[0] != "rallypoint_plugins":
        return None
    base = ROOT.joinpath("plugins", *parts[1:])
    for p in (base / "__init__.py", base.with_suffix(".py")):
        if p.is_file():
            return p
    return None


def imported_packages(start: str) -> set[str]:
    """Outside packages imported by ``start`` and the plugin modules it imports, anywhere in them."""
    seen, found, todo = set(), set(), [start]
    while todo:
        module = todo.pop()
        path = _path(module)
        if module in seen or path is None:
            continue
        seen.add(module)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = package.split(".")[:len(package.split(".")) - (node.level - 1)] if node.level else []
                stem = ".".join(base + ([node.module] if node.module else []))
                names = [stem] + [f"{stem}.{a.name}" for a in node.names]
            for name in names:
                top = name.split(".")[0]
                if top == "rallypoint_plugins":
                    todo.append(name)
                elif not top.startswith("rallypoint") and top not in sys.stdlib_module_names:
                    found.add(top)
    return found


ANALYSES = analyses(default_plugin_manager())


@pytest.mark.parametrize("name", sorted(ANALYSES))
def test_an_analysis_declares_every_package_it_imports(name):
    analysis = ANALYSES[name]
    declared = {spec.partition(">=")[0] for spec in analysis.packages}
    module = analysis.run.__module__
    assert imported_packages(module) - OPTIONAL <= declared
    assert {"numpy", "pandas", "geopandas", "shapely"} <= declared  # read_frame and the result's GeoPackage


def test_missing_packages_names_what_is_absent_or_too_old_without_importing_it():
    here = Analysis("probe", "探", "Probe", "", "", (), (), lambda *a: None,
                    packages=("numpy", "shapely>=2", "shapely>=99", "no_such_package_rp"))
    before = set(sys.modules)
    assert missing_packages(here) == ["shapely>=99", "no_such_package_rp"]
    assert "no_such_package_rp" not in sys.modules and set(sys.modules) - before <= {"importlib.metadata"}
