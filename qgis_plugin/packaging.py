"""Packaging the QGIS plugin: the installable zip and the copy into a QGIS profile.

This module runs on the machine that builds or installs the plugin (through the
``rallypoint qgis-plugin`` command, which the plugin adds to the command line through the
``rallypoint_cli_commands`` hook); it is not put into the zip, and nothing here imports QGIS.

The plugin is the ``rallypoint_qgis`` package. Its folder in QGIS's ``python/plugins`` is
called ``rallypoint_qgis``, not ``rallypoint``: QGIS imports a plugin by its folder name,
and a folder ``rallypoint`` would shadow the core package the plugin imports. Interface
translations (``i18n/*.ts``) are compiled to ``.qm`` with Qt's ``lrelease``.

An install is checked before it replaces anything: the plugin is staged beside the profile's
plugins folder, QGIS's Python imports it from there (:func:`plugin_problem`) and only a plugin
that can start is moved into place; otherwise the profile is left as it was and
:class:`PackagingError` says why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from rallypoint.errors import RallypointError

from .vendoring import VendoringError, vendor

PLUGIN_DIR = "rallypoint_qgis"
_LRELEASE = ("lrelease", "lrelease-qt5")
#: Modules of the package that serve the build machine only; they stay out of the zip.
BUILD_ONLY = ("packaging.py", "vendoring.py", "cli.py", "hooks.py")
#: QGIS on Debian (and any Linux distribution) embeds the system's Python 3.
DEFAULT_QGIS_PYTHON = "/usr/bin/python3" if sys.platform.startswith("linux") else "python3"

# Run by QGIS's Python with the staged plugins folder first on its path, as QGIS puts it.
_CHECK = """
import os, sys
folder = sys.argv[1]
sys.path.insert(0, folder)
import rallypoint_qgis
where = os.path.realpath(rallypoint_qgis.__file__)
if not where.startswith(folder + os.sep):
    print(f"QGIS's Python imported rallypoint_qgis from {where}, not from the installed folder")
    sys.exit(3)
why = rallypoint_qgis.missing_core()
if why:
    print(why)
    sys.exit(3)
import importlib
for name in ("qgis_engine", "ogr_tables", "commit", "loader", "processing_provider", "plugin"):
    importlib.import_module("rallypoint_qgis." + name)  # what QGIS imports when it starts the plugin
from rallypoint.plugins import get_plugin_manager
broken = get_plugin_manager().broken
if broken:
    print("the plugins it carries do not load: " + "; ".join(f"{b.name}: {b.error}" for b in broken))
    sys.exit(3)
"""


class PackagingError(RallypointError, RuntimeError):
    """The plugin cannot be built or installed (a missing tool, an unwritable folder, a plugin that cannot start)."""


def plugin_source() -> Path:
    """The folder of the ``rallypoint_qgis`` package (installed or in a checkout)."""
    return Path(__file__).resolve().parent


def _files(src: Path) -> list[Path]:
    if not (src / "metadata.txt").is_file():
        raise PackagingError(f"{src}: the plugin has no metadata.txt")
    modules = [p for p in sorted(src.glob("*.py")) if p.name not in BUILD_ONLY]
    return [src / "metadata.txt", *modules, *sorted((src / "i18n").glob("*.ts"))]


def compile_translations(folder: Path) -> list[Path]:
    """``lrelease`` every ``i18n/*.ts`` in ``folder`` into a ``.qm`` beside it."""
    sources = sorted((folder / "i18n").glob("*.ts"))
    if not sources:
        return []
    tool = next((t for t in _LRELEASE if shutil.which(t)), None)
    if tool is None:
        raise PackagingError("Qt's lrelease is needed to compile the plugin's translations "
                             "(Debian: apt-get install qttools5-dev-tools)")
    out = []
    for ts in sources:
        qm = ts.with_suffix(".qm")
        proc = subprocess.run([tool, str(ts), "-qm", str(qm)], capture_output=True, text=True)
        if proc.returncode != 0 or not qm.is_file():
            raise PackagingError(f"{ts.name}: lrelease failed: {proc.stderr.strip() or proc.stdout.strip()}")
        out.append(qm)
    return out


def stage(target: Path) -> Path:
    """Copy the plugin's files into ``target`` (a new folder), compile its translations and add what it carries
    (:mod:`.vendoring`: the core, its data, pluggy and tomli, in ``_vendor/``)."""
    import rallypoint

    src = plugin_source()
    if target.exists():
        shutil.rmtree(target)
    for f in _files(src):
        dest = target / f.relative_to(src)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, dest)
    meta = target / "metadata.txt"
    lines = meta.read_text(encoding="utf-8").splitlines()
    # the plugin's version is the core's it carries (the plugin refuses to start on another core)
    meta.write_text("\n".join(f"version={rallypoint.__version__}" if ln.startswith("version=") else ln
                               for ln in lines) + "\n", encoding="utf-8")
    compile_translations(target)
    try:
        vendor(target, src / "vendor.txt")
    except VendoringError as exc:
        raise PackagingError(str(exc)) from None
    return target


def build_zip(out: str | os.PathLike) -> list[str]:
    """Write the zip QGIS's "Install from ZIP" takes; returns the names inside it."""
    out = Path(out)
    with tempfile.TemporaryDirectory() as tmp:
        folder = stage(Path(tmp) / PLUGIN_DIR)
        tmp_zip = out.with_name(out.name + ".part")
        with zipfile.ZipFile(tmp_zip, "w", zipfile.ZIP_DEFLATED) as z:
            for f in sorted(folder.rglob("*")):
                if f.is_file():
                    z.write(f, f.relative_to(folder.parent).as_posix())
        os.replace(tmp_zip, out)
    with zipfile.ZipFile(out) as z:
        return z.namelist()


def profile_settings(plugins_dir: Path) -> Path | None:
    """The ``QGIS/QGIS3.ini`` of the profile whose plugins folder is ``plugins_dir`` (None: not a profile's)."""
    if plugins_dir.name != "plugins" or plugins_dir.parent.name != "python":
        return None
    return plugins_dir.parent.parent / "QGIS" / "QGIS3.ini"


def enable_plugin(ini: Path, name: str = PLUGIN_DIR) -> None:
    """Enable the plugin in a profile's settings as the Plugin Manager does (``QgsSettings().setValue(
    "PythonPlugins/<name>", True)``, which QGIS writes as ``<name>=true`` under ``[PythonPlugins]``).

    The file is QSettings' INI: only that one line is set (added, or its value changed), everything else stays
    byte for byte as QGIS wrote it; :mod:`configparser` would rewrite the whole file in its own dialect
    (keys, escapes, spacing) and is not used for that reason. QGIS rewrites the file when it quits, so the
    profile must not be open in a running QGIS (start QGIS after installing).
    """
    key = f"{name}=true"
    lines = ini.read_text(encoding="utf-8").splitlines() if ini.is_file() else []
    section = next((i for i, ln in enumerate(lines) if ln.strip() == "[PythonPlugins]"), None)
    if section is None:
        if lines and lines[-1].strip():
            lines.append("")
        lines += ["[PythonPlugins]", key]
    else:
        end = next((i for i in range(section + 1, len(lines)) if lines[i].startswith("[")), len(lines))
        at = next((i for i in range(section + 1, end) if lines[i].split("=", 1)[0].strip() == name), None)
        if at is None:
            last = max((i for i in range(section + 1, end) if lines[i].strip()), default=section)
            lines.insert(last + 1, key)
        else:
            lines[at] = key
    ini.parent.mkdir(parents=True, exist_ok=True)
    tmp = ini.with_name(ini.name + ".rallypoint-tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, ini)


def profile_plugins_dir(profile: str = "default") -> Path:
    """Where QGIS 3 on Linux keeps a profile's Python plugins (``QGIS_CUSTOM_CONFIG_PATH`` moves it)."""
    root = os.environ.get("QGIS_CUSTOM_CONFIG_PATH")
    base = Path(root) if root else Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / \
        "QGIS" / "QGIS3"
    return base / "profiles" / profile / "python" / "plugins"


def plugin_problem(folder: str | os.PathLike, python: str = DEFAULT_QGIS_PYTHON) -> str | None:
    """None if QGIS's Python (``python``) can start the plugin installed in ``folder``, else why not.

    The interpreter runs with ``-E`` (no ``PYTHONPATH``/``PYTHONHOME``, as QGIS starts it) and ``-B``
    (no ``__pycache__`` left in the staged copy) from
    ``folder``, so a virtual environment or a checkout the command runs from cannot make a
    plugin look installed that QGIS could not start.
    """
    exe = shutil.which(python)
    if exe is None:
        return f"QGIS's Python {python} was not found (--qgis-python names it)"
    folder = str(Path(folder).resolve())
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    try:
        proc = subprocess.run([exe, "-E", "-B", "-c", _CHECK, folder], capture_output=True, text=True, env=env,
                              cwd=folder, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"QGIS's Python {python} could not be run: {exc}"
    if proc.returncode == 0:
        return None
    lines = (proc.stdout.strip() or proc.stderr.strip() or f"exit status {proc.returncode}").splitlines()
    return lines[-1]


def install(profile: str = "default", plugins_dir: str | os.PathLike | None = None, *,
            python: str = DEFAULT_QGIS_PYTHON) -> tuple[Path, Path | None]:
    """Install the plugin (translations compiled, the core inside) into a QGIS profile and enable it there as
    the Plugin Manager does; returns its folder and the settings file it was enabled in (None: ``plugins_dir``
    is not a profile's, so there is nothing to enable it in).

    The plugin is staged and checked with :func:`plugin_problem` first; only a plugin QGIS's
    Python can start replaces the installed one. Otherwise :class:`PackagingError` is raised
    and the profile is as it was.
    """
    target_root = Path(plugins_dir) if plugins_dir else profile_plugins_dir(profile)
    try:
        target_root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".rallypoint_qgis-", dir=target_root))
    except OSError as exc:
        raise PackagingError(f"{target_root}: cannot create the plugins folder: {exc}") from None
    try:
        stage(staging / PLUGIN_DIR)
        why = plugin_problem(staging, python)
        if why:
            raise PackagingError(f"the plugin was not installed: QGIS's Python ({python}) cannot start it: {why}")
        ini = profile_settings(target_root)
        target = target_root / PLUGIN_DIR
        old = staging / "previous"
        if target.exists():
            target.rename(old)
        (staging / PLUGIN_DIR).rename(target)
        if ini is not None:
            try:
                enable_plugin(ini)
            except OSError as exc:
                raise PackagingError(f"the plugin was copied into {target} but could not be enabled in {ini}: "
                                     f"{exc}; enable it in QGIS (Plugins ▸ Manage and Install Plugins)") from None
        return target, ini
    finally:
        shutil.rmtree(staging, ignore_errors=True)
