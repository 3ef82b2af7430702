"""The house's rules, read from the code's own imports (ARCHITECTURE.md draws the same picture).

Every import of every module in ``core/``, ``plugins/`` and ``qgis_plugin/`` is read with :mod:`ast`:
at the top level, inside functions and under ``TYPE_CHECKING`` alike, because an import hidden in a
function is still a dependency. The installed names map onto the folders (``rallypoint`` → ``core/``,
``rallypoint_plugins`` → ``plugins/``, ``rallypoint_qgis`` → ``qgis_plugin/``).
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"rallypoint": ROOT / "core", "rallypoint_plugins": ROOT / "plugins", "rallypoint_qgis": ROOT / "qgis_plugin"}
MAX_LINES = 500
#: the modules third-party plugins import: their paths are a promise
PUBLIC = ("rallypoint", "rallypoint.hookspecs", "rallypoint.plugins", "rallypoint.analysis", "rallypoint.profiles",
          "rallypoint.web_endpoints", "rallypoint.exchange_formats", "rallypoint.portal")


def _module_name(path: Path) -> str:
    for pkg, folder in PACKAGES.items():
        if path.is_relative_to(folder):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            return ".".join([pkg, *parts])
    raise ValueError(path)


@lru_cache(maxsize=None)
def modules() -> dict[str, Path]:
    out = {}
    for folder in PACKAGES.values():
        for path in folder.rglob("*.py"):
            if "static" in path.parts or "vendor" in path.parts:
                continue
            out[_module_name(path)] = path
    return out


def _is_package(name: str) -> bool:
    return modules()[name].name == "__init__.py"


def _target(name: str) -> str | None:
    """The project module ``name`` names (the longest existing prefix: ``pkg.mod.attr`` -> ``pkg.mod``)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules():
            return candidate
        parts.pop()
    return None


@lru_cache(maxsize=None)
def imports(name: str) -> dict[str, set[str]]:
    """Project modules and outside packages that module ``name`` imports: {'project': {...}, 'outside': {...}}."""
    tree = ast.parse(modules()[name].read_text(encoding="utf-8"))
    package = name if _is_package(name) else name.rpartition(".")[0]
    project: set[str] = set()
    outside: set[str] = set()

    def add(full: str) -> None:
        hit = _target(full)
        if hit is not None:
            if hit != name:
                project.add(hit)
        elif full.split(".")[0] not in PACKAGES:
            outside.add(full)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            for alias in node.names:  # `from pkg import submodule` names the submodule, else the package itself
                sub = f"{stem}.{alias.name}"
                add(sub if sub in modules() else stem)
    return {"project": project, "outside": outside}


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    graph = {m: sorted(imports(m)["project"]) for m in modules()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for m in sorted(graph):
        if m not in index:
            visit(m)
    return out


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _offenders(where: str, forbidden: tuple[str, ...], *, outside: tuple[str, ...] = ()) -> list[str]:
    out = []
    for m in modules():
        if not _in(m, where):
            continue
        found = imports(m)
        bad = sorted(t for t in found["project"] if any(_in(t, f) for f in forbidden))
        bad += sorted(t for t in found["outside"] if any(_in(t, f) for f in outside))
        if bad:
            out.append(f"{m} imports {', '.join(bad)}")
    return out


def test_the_import_reader_sees_what_it_must():
    # a relative import, a function-level import and one under TYPE_CHECKING are all read
    assert "rallypoint.errors" in imports("rallypoint.registry")["project"] or any(
        "rallypoint.errors" in imports(m)["project"] for m in modules() if _in(m, "rallypoint.registry"))
    assert _target("rallypoint.storage.base.Store") == "rallypoint.storage.base"
    assert "flask" in imports("rallypoint.web.app")["outside"]


def test_no_import_circles():
    assert _cycles() == []


def test_the_core_never_imports_qgis_or_the_plugins():
    assert _offenders("rallypoint", ("rallypoint_qgis", "rallypoint_plugins"), outside=("qgis", "PyQt5")) == []


def test_the_plugins_never_import_the_qgis_plugin():
    assert _offenders("rallypoint_plugins", ("rallypoint_qgis",), outside=("qgis", "PyQt5")) == []


def test_storage_is_the_bottom_of_the_registry():
    assert _offenders("rallypoint.storage", ("rallypoint.api", "rallypoint.web", "rallypoint.registry",
                                             "rallypoint.validation", "rallypoint.plugins", "rallypoint.hookspecs",
                                             "rallypoint.analysis", "rallypoint.cli", "rallypoint.exchange",
                                             "rallypoint.check", "rallypoint.sync", "rallypoint.sample")) == []


def test_the_api_knows_no_framework_and_no_database_driver():
    assert _offenders("rallypoint.api", ("rallypoint.web",), outside=("flask", "sqlite3", "psycopg")) == []
    assert _offenders("rallypoint.web.adapter", (), outside=("sqlite3", "psycopg")) == []


def test_flask_only_in_the_web_adapter():
    offenders = [o for o in _offenders("rallypoint", (), outside=("flask",)) if not o.startswith("rallypoint.web")]
    offenders += _offenders("rallypoint_plugins", (), outside=("flask",))
    assert offenders == []


def test_a_backend_is_reached_only_through_the_seam():
    """Nothing above storage imports a backend's store, reader or driver. A GeoPackage file is also the
    exchange format: its file and blob modules (``storage.gpkg.file``, ``storage.gpkg.blobs``) are the
    format's library, which exchange, check-outs, backups and checks of a file use."""
    format_modules = ("rallypoint.storage.gpkg.file", "rallypoint.storage.gpkg.blobs")
    out = []
    for m in modules():
        if _in(m, "rallypoint.storage"):
            continue
        found = imports(m)
        bad = [t for t in found["project"] if (_in(t, "rallypoint.storage.gpkg") and t not in format_modules)
               or _in(t, "rallypoint.storage.postgis")]
        bad += [t for t in found["outside"] if _in(t, "psycopg")]
        if bad:
            out.append(f"{m} imports {', '.join(sorted(bad))}")
    assert out == []
    # and inside storage, one backend never reaches into the other's store or reader
    for m in modules():
        if _in(m, "rallypoint.storage.gpkg"):
            assert not [t for t in imports(m)["project"] if _in(t, "rallypoint.storage.postgis")], m
            assert not [t for t in imports(m)["outside"] if _in(t, "psycopg")], m


def test_is_postgres_url_is_asked_in_few_places():
    users = sorted(_module_name(p) for p in (ROOT / "core").rglob("*.py") if "is_postgres_url(" in p.read_text("utf-8"))
    assert len(users) <= 4, users


def test_exchange_mapping_loads_no_code_by_name():
    assert "importlib" not in (ROOT / "core" / "exchange" / "mapping.py").read_text("utf-8")


@pytest.mark.parametrize("name", PUBLIC)
def test_the_modules_plugins_import_keep_their_paths(name):
    assert name in modules()


def test_no_module_over_500_lines():
    long = {m: n for m, p in modules().items() if (n := len(p.read_text("utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def test_every_package_is_in_the_distribution():
    """The wheel (and the QGIS plugin's copy of the core) holds every package of the code, not only those an
    editable install finds by their folders."""
    import tomllib

    setup = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]
    listed = set(setup["packages"])
    found = {m for m in modules() if _is_package(m)}
    assert found - listed == set()


# -- the QGIS plugin's zip carries the core (qgis_plugin/vendoring.py): what it loads, QGIS's Python must have ----------

#: what QGIS's Python has on every platform (its own modules, GDAL's), or the zip carries (pluggy, tomli)
QGIS_PYTHON_HAS = {"qgis", "PyQt5", "osgeo", "pluggy", "tomli"}
#: the plugin's modules QGIS imports, the sync it calls, and the bundled plugins the core's plugin manager loads
QGIS_STARTS = ("rallypoint_qgis", "rallypoint_qgis.plugin", "rallypoint_qgis.loader", "rallypoint_qgis.commit",
               "rallypoint_qgis.processing_provider", "rallypoint_qgis.qgis_engine", "rallypoint_qgis.ogr_tables",
               "rallypoint.sync", "rallypoint.edits")


def _load_time_imports(name: str) -> tuple[set[str], set[str]]:
    """What importing module ``name`` imports at once: its top level (not functions, not ``TYPE_CHECKING``) and
    its parent packages. (project modules, top-level names of outside packages)"""
    package = name if _is_package(name) else name.rpartition(".")[0]
    project, outside = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}, set()

    def walk(body) -> None:
        for node in body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                walk(node.orelse)
            elif isinstance(node, (ast.If, ast.Try)):
                walk(node.body + node.orelse + getattr(node, "finalbody", []))
                for handler in getattr(node, "handlers", []):
                    walk(handler.body)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                else:
                    base = package.split(".")[:len(package.split(".")) - (node.level - 1)] if node.level else []
                    stem = ".".join(base + ([node.module] if node.module else []))
                    names = [f"{stem}.{a.name}" if f"{stem}.{a.name}" in modules() else stem for a in node.names]
                for full in names:
                    hit = _target(full)
                    if hit is not None:
                        project.add(hit)
                    elif full.split(".")[0] not in PACKAGES:
                        outside.add(full.split(".")[0])

    walk(ast.parse(modules()[name].read_text(encoding="utf-8")).body)
    return project & set(modules()), outside


def test_the_qgis_plugin_loads_nothing_qgis_python_lacks():
    """Opening, editing, checking out and syncing in QGIS import no shapely, pyproj, pandas, fiona, psycopg … at load
    time (the geometry engine seam), and nothing of the core the zip leaves out (web, api, cli)."""
    import sys

    import tomllib

    entry_points = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["entry-points"]["rallypoint"]
    todo = list(QGIS_STARTS) + [v for v in entry_points.values() if v.startswith("rallypoint_plugins")]
    seen: set[str] = set()
    lacking: dict[str, set[str]] = {}
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        project, outside = _load_time_imports(m)
        for o in outside - QGIS_PYTHON_HAS - set(sys.stdlib_module_names):
            lacking.setdefault(o, set()).add(m)
        todo.extend(project - seen)
    assert lacking == {}
    assert not [m for m in seen if any(_in(m, f"rallypoint.{p}") for p in ("web", "api", "cli"))]
    assert {"rallypoint.registry.batch", "rallypoint.validation", "rallypoint.storage.gpkg.blobs"} <= seen
