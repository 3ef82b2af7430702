"""Packaging the QGIS plugin: the installable zip and the copy into a QGIS profile.

The plugin is the ``rallypoint_qgis`` package. Its folder in QGIS's ``python/plugins`` is
called ``rallypoint_qgis``, not ``rallypoint``: QGIS imports a plugin by its folder name,
and a folder ``rallypoint`` would shadow the core package the plugin imports. The core
itself is not bundled: QGIS's Python must have the ``rallypoint`` package installed
(``python3 -m pip install --user rallypoint``); :func:`core_importable` checks that.
Interface translations (``i18n/*.ts``) are compiled to ``.qm`` with Qt's ``lrelease``.
Nothing here imports QGIS.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from .errors import RallypointError

PLUGIN_DIR = "rallypoint_qgis"
_LRELEASE = ("lrelease", "lrelease-qt5")


class PackagingError(RallypointError, RuntimeError):
    """The plugin cannot be built or installed (a missing tool, an unwritable folder)."""


def plugin_source() -> Path:
    """The folder of the ``rallypoint_qgis`` package (installed or in a checkout)."""
    import rallypoint_qgis  # its __init__ does not import QGIS

    return Path(rallypoint_qgis.__file__).resolve().parent


def _files(src: Path) -> list[Path]:
    keep = [src / "metadata.txt", *sorted(src.glob("*.py")), *sorted((src / "i18n").glob("*.ts"))]
    missing = [p.name for p in keep[:1] if not p.is_file()]
    if missing:
        raise PackagingError(f"{src}: the plugin has no {', '.join(missing)}")
    return keep


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
    """Copy the plugin's files into ``target`` (a new folder) and compile its translations."""
    src = plugin_source()
    if target.exists():
        shutil.rmtree(target)
    for f in _files(src):
        dest = target / f.relative_to(src)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, dest)
    compile_translations(target)
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


def profile_plugins_dir(profile: str = "default") -> Path:
    """Where QGIS 3 on Linux keeps a profile's Python plugins (``QGIS_CUSTOM_CONFIG_PATH`` moves it)."""
    root = os.environ.get("QGIS_CUSTOM_CONFIG_PATH")
    base = Path(root) if root else Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / \
        "QGIS" / "QGIS3"
    return base / "profiles" / profile / "python" / "plugins"


def install(profile: str = "default", plugins_dir: str | os.PathLike | None = None) -> Path:
    """Copy the plugin (translations compiled) into a QGIS profile; returns its folder."""
    target_root = Path(plugins_dir) if plugins_dir else profile_plugins_dir(profile)
    try:
        target_root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PackagingError(f"{target_root}: cannot create the plugins folder: {exc}") from None
    return stage(target_root / PLUGIN_DIR)


def core_importable(python: str = "python3") -> str | None:
    """None if ``python`` (QGIS's interpreter) can import rallypoint, else why not."""
    exe = shutil.which(python)
    if exe is None:
        return f"{python} not found"
    proc = subprocess.run([exe, "-c", "import rallypoint"], capture_output=True, text=True)
    return None if proc.returncode == 0 else (proc.stderr.strip().splitlines() or ["import failed"])[-1]
