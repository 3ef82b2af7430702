"""What the plugin zip carries in ``rallypoint_qgis/_vendor``: the core without what only a server or the command line
runs, its data, the bundled plugins with their entry points, pinned pure-Python pluggy and tomli; nothing compiled;
code that runs on Python 3.9 (QGIS 3.22-3.34 on Windows); and a core installed in QGIS's Python is never shadowed.
"""

from __future__ import annotations

import ast
import builtins
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import require_program

import rallypoint
from rallypoint.cli.main import cli
from rallypoint_qgis.packaging import DEFAULT_QGIS_PYTHON

ROOT = Path(__file__).resolve().parents[1]
VENDOR = "rallypoint_qgis/_vendor/"
#: builtin type names: `str | None` outside an annotation is a TypeError on Python 3.9
TYPE_NAMES = {n for n, v in vars(builtins).items() if isinstance(v, type)} | {"None"}


@pytest.fixture(scope="module")
def unpacked(tmp_path_factory):
    require_program("lrelease", "Qt's lrelease compiles the plugin's translations")
    tmp = tmp_path_factory.mktemp("vendor")
    out = tmp / "rallypoint_qgis.zip"
    r = CliRunner().invoke(cli, ["qgis-plugin", "build", str(out)])  # what `make qgis-plugin` runs
    assert r.exit_code == 0, r.output
    with zipfile.ZipFile(out) as z:
        names = sorted(z.namelist())
        z.extractall(tmp / "x")
    return tmp / "x" / "rallypoint_qgis", names


def test_the_zip_carries_the_core_its_data_and_pure_python_dependencies(unpacked):
    folder, names = unpacked
    vendored = {n[len(VENDOR):].split("/")[0] for n in names if n.startswith(VENDOR)}
    assert vendored == {"__init__.py", "rallypoint", "rallypoint_layers", "rallypoint_plugins", "pluggy", "tomli",
                        f"rallypoint-{rallypoint.__version__}.dist-info", "pluggy-1.6.0.dist-info",
                        "tomli-2.2.1.dist-info"}
    core = {n[len(VENDOR + "rallypoint/"):] for n in names if n.startswith(VENDOR + "rallypoint/")}
    assert {"__init__.py", "geometry_engine.py", "registry/batch.py", "sync/http.py", "edits.py"} <= core
    assert not [n for n in core if n.split("/")[0] in ("web", "api", "cli")]  # flask, click: server and CLI only
    assert {p.name for p in (ROOT / "layers" / "definitions").glob("*.toml")} <= {
        Path(n).name for n in names if n.startswith(VENDOR + "rallypoint_layers/definitions/")}
    assert (folder / "_vendor" / "pluggy-1.6.0.dist-info" / "licenses" / "LICENSE").is_file()
    assert (folder / "_vendor" / "tomli-2.2.1.dist-info" / "LICENSE").is_file()
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".so", ".pyd", ".dll", ".dylib"))]


def test_the_bundled_plugins_are_found_through_their_entry_points(unpacked):
    folder, _ = unpacked
    info = folder / "_vendor" / f"rallypoint-{rallypoint.__version__}.dist-info"
    lines = (info / "entry_points.txt").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "[rallypoint]"
    listed = dict(line.split(" = ") for line in lines[1:])
    import tomllib

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["entry-points"]["rallypoint"]
    assert listed == {k: v for k, v in declared.items() if not v.startswith("rallypoint_qgis")}
    for target in listed.values():  # every target is in the zip
        assert (folder / "_vendor" / (target.replace(".", "/") + ".py")).is_file(), target


def test_python_3_9_can_run_it_vermin(unpacked):
    """vermin (PyPI) reads every module of the plugin and of its _vendor for APIs newer than Python 3.9."""
    folder, _ = unpacked
    run = "import sys; from vermin import main; sys.exit(main())"  # vermin has no __main__ module
    proc = subprocess.run([sys.executable, "-c", run, "--target=3.9-", "--no-tips", "--violations", str(folder)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]


def _runtime_unions(path: Path) -> list[str]:
    """``X | None`` and ``str | int`` evaluated at run time (outside postponed annotations): Python 3.10+ only."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    postponed = any(isinstance(n, ast.ImportFrom) and n.module == "__future__" and
                    any(a.name == "annotations" for a in n.names) for n in tree.body)
    skip: set[int] = set()
    if postponed:
        for n in ast.walk(tree):
            for ann in ([n.annotation] if isinstance(n, (ast.arg, ast.AnnAssign)) and n.annotation else []) + \
                       ([n.returns] if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.returns else []):
                skip.update(id(x) for x in ast.walk(ann))

    def typeish(node) -> bool:
        return (isinstance(node, ast.Constant) and node.value is None) or \
            (isinstance(node, ast.Name) and node.id in TYPE_NAMES) or \
            (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id in TYPE_NAMES) or \
            (isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr) and typeish(node.left))

    return [f"{path.name}:{n.lineno}" for n in ast.walk(tree)
            if isinstance(n, ast.BinOp) and isinstance(n.op, ast.BitOr) and id(n) not in skip
            and (typeish(n.left) or typeish(n.right))]


def test_python_3_9_can_run_it_no_type_unions_at_run_time(unpacked):
    """What vermin does not see: a type alias or default evaluated at import (``Checks = Callable[..., str | None]``)."""
    folder, _ = unpacked
    found = [hit for path in sorted(folder.rglob("*.py")) for hit in _runtime_unions(path)]
    assert found == []
    assert _runtime_unions(ROOT / "tests" / "data" / "py39_union_probe.py") == ["py39_union_probe.py:5"]


def test_python_3_9_can_run_it_entry_points_and_dates():
    """The two 3.10/3.11 behaviours the core leans on are asked for the 3.9 way where it matters."""
    calls = []
    for path in (ROOT / "core").rglob("*.py"):
        for n in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(n, ast.Call) and getattr(n.func, "id", getattr(n.func, "attr", None)) == "entry_points":
                calls.append((path.relative_to(ROOT).as_posix(), [k.arg for k in n.keywords]))
    # the one call with group= sits behind `sys.version_info >= (3, 10)` (3.9's entry_points() is a dict)
    assert sorted(calls) == [("core/plugins.py", []), ("core/plugins.py", ["group"])]
    assert "if sys.version_info >= (3, 10):\n        return entry_points(group=PROJECT)" in \
        (ROOT / "core" / "plugins.py").read_text("utf-8")
    from rallypoint.validation import _Bad, _to_datetime

    # the texts 3.9's fromisoformat refuses and 3.11's reads are read the same on both (in the 3.9 form)
    assert _to_datetime("2024-01-09 18:00:00.5+08") == "2024-01-09T10:00:00.500Z"
    assert _to_datetime("2024-01-09T18:00Z") == "2024-01-09T18:00:00.000Z"
    assert _to_datetime("2024-01-09T18:00:00.1234567+0800") == "2024-01-09T10:00:00.123Z"
    with pytest.raises(_Bad, match="not an ISO 8601 date-time"):
        _to_datetime("20240109T180000Z")  # 3.11 alone would read the basic format: refused everywhere


def _probe(qgis_python: str, plugins: Path, site: Path | None) -> subprocess.CompletedProcess:
    code = ("import sys\n"
            + (f"sys.path.insert(0, {str(site)!r})\n" if site else "")
            + f"sys.path.insert(0, {str(plugins)!r})\n"
            "import rallypoint_qgis\n"
            "print(rallypoint_qgis.missing_core())\n"
            "import rallypoint, pluggy\n"
            "print(rallypoint.__file__); print(pluggy.__file__)\n")
    return subprocess.run([qgis_python, "-E", "-B", "-c", code], capture_output=True, text=True, timeout=120)


def test_an_installed_core_is_never_shadowed_and_a_different_one_is_refused(unpacked, tmp_path):
    folder, _ = unpacked
    qgis_python = require_program(DEFAULT_QGIS_PYTHON, "Debian's Python, the one QGIS 3.22 embeds")
    alone = _probe(qgis_python, folder.parent, None)
    assert alone.returncode == 0, alone.stderr
    why, core, pluggy_file = alone.stdout.splitlines()
    assert why == "None" and core.startswith(str(folder / "_vendor"))
    assert pluggy_file.startswith(str(folder))  # Debian's QGIS Python has no pluggy: the zip's
    # an older core left in QGIS's Python (the old `pip install --user` advice): found first, and refused
    site = tmp_path / "site-packages"
    (site / "rallypoint").mkdir(parents=True)
    (site / "rallypoint" / "__init__.py").write_text('__version__ = "0.0.9"\n')
    (site / "rallypoint" / "geometry_engine.py").write_text("")
    older = _probe(qgis_python, folder.parent, site)
    why, core = older.stdout.splitlines()[:2]
    assert core == str(site / "rallypoint" / "__init__.py")
    assert "rallypoint 0.0.9" in why and f"carries {rallypoint.__version__}" in why
