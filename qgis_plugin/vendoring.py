"""What the plugin zip carries besides the plugin: the core, its data and pure-Python dependencies (``_vendor/``).

QGIS's Python has none of Rallypoint and cannot be asked to install anything (Debian refuses ``pip
install --user``, the core is on no package index, bureaus run QGIS on Windows). So the zip carries, in
``rallypoint_qgis/_vendor/`` (a folder the plugin *appends* to ``sys.path``, so a core installed in QGIS's
Python is still found first, see ``rallypoint_qgis.missing_core``):

* ``rallypoint/`` — the core's Python, without what only a server or the command line runs (``web/``,
  ``api/``, ``cli/``); ``rallypoint_layers/`` — the layer definitions and styles (data);
  ``rallypoint_plugins/`` — the analyses' hooks and profiles (their heavy imports are made when they run);
* ``rallypoint-<version>.dist-info/`` — the distribution's metadata and its ``rallypoint`` entry points, so
  the core's plugin manager finds the bundled plugins through ``importlib.metadata`` as it does anywhere;
* ``pluggy/`` and ``tomli/`` — pure Python, from the wheels pinned with their hashes in ``vendor.txt``,
  fetched with ``pip download`` (as Mergin Maps' plugin fetches its client's dependencies) and kept in a
  cache, for Python 3.9 (QGIS 3.22–3.34 on Windows), whatever Python builds the zip.

Nothing compiled goes into the zip, ever (:func:`binaries` is checked by the build): a compiled module fits
one platform and one Python only, and a wheel's own copy of GEOS, PROJ, GDAL or SQLite must not be loaded
into QGIS's process. Geometry and CRS work inside QGIS goes through QGIS's own classes instead
(``rallypoint_qgis.qgis_engine``). This module runs on the machine that builds the zip; it is not in the zip.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

from rallypoint.errors import RallypointError

VENDOR_DIR = "_vendor"
#: the core's subpackages only a server or the command line runs (they import flask, click, rich …)
LEFT_OUT = ("web", "api", "cli")
#: the Python the vendored wheels are chosen for: the oldest one QGIS 3.22+ runs
TARGET_PYTHON = "3.9"
BINARY_SUFFIXES = (".so", ".pyd", ".dll", ".dylib")
_SKIP = ("__pycache__",)


class VendoringError(RallypointError, RuntimeError):
    """The zip's vendored part cannot be made (a wheel cannot be fetched, a binary would go in)."""


def _package_dir(name: str) -> Path:
    import importlib

    return Path(importlib.import_module(name).__file__).resolve().parent


def _copy_tree(src: Path, dest: Path, leave_out: tuple[str, ...] = ()) -> None:
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if any(part in _SKIP for part in rel.parts) or (rel.parts and rel.parts[0] in leave_out):
            continue
        if path.is_file() and not path.name.endswith((".pyc", ".pyo")):
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)


def _dist_info(dest: Path, packages: set[str]) -> Path:
    """``rallypoint-<version>.dist-info`` with the entry points of the packages the zip carries."""
    import rallypoint

    dist = metadata.distribution("rallypoint")
    folder = dest / f"rallypoint-{rallypoint.__version__}.dist-info"
    folder.mkdir(parents=True)
    (folder / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: rallypoint\n"
        f"Version: {rallypoint.__version__}\n"
        f"Summary: {dist.metadata.get('Summary', '')}\n"
        "License: Apache-2.0\n", encoding="utf-8")
    eps = sorted((ep.name, ep.value) for ep in dist.entry_points
                 if ep.group == "rallypoint" and ep.value.split(".")[0] in packages)
    (folder / "entry_points.txt").write_text(
        "[rallypoint]\n" + "".join(f"{name} = {value}\n" for name, value in eps), encoding="utf-8")
    (folder / "INSTALLER").write_text("rallypoint_qgis\n", encoding="utf-8")
    return folder


def pinned_wheels(requirements: Path) -> list[tuple[str, str, str]]:
    """(name, version, sha256) of each pinned wheel in ``vendor.txt``."""
    out = []
    for line in requirements.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        spec, _, digest = line.partition("--hash=sha256:")
        name, _, version = spec.strip().partition("==")
        if not (name and version and digest.strip()):
            raise VendoringError(f"{requirements.name}: {line!r} is not `name==version --hash=sha256:…`")
        out.append((name, version, digest.strip()))
    return out


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rallypoint" / "qgis-wheels"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch_wheels(requirements: Path, cache: Path | None = None) -> list[Path]:
    """The pinned wheels, from the cache or from the package index (``pip download``, hashes required)."""
    cache = cache or _cache_dir()
    pins = pinned_wheels(requirements)

    def cached() -> dict[str, Path]:
        found = {}
        for name, version, digest in pins:
            for whl in cache.glob(f"{name.replace('-', '_')}-{version}-*.whl"):
                if _sha256(whl) == digest:
                    found[name] = whl
        return found

    have = cached() if cache.is_dir() else {}
    if len(have) < len(pins):
        cache.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--require-hashes",
               "--only-binary=:all:", "--python-version", TARGET_PYTHON, "--implementation", "py",
               "--abi", "none", "--platform", "any", "--dest", str(cache), "-r", str(requirements)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        have = cached()
        if proc.returncode != 0 or len(have) < len(pins):
            why = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no wheel"]
            raise VendoringError(f"the pure-Python wheels of {requirements.name} could not be fetched "
                                 f"({why[0]}); put them into {cache} to build offline")
    return [have[name] for name, _, _ in pins]


def _unpack_wheel(wheel: Path, dest: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            if name.endswith("/") or name.split("/", 1)[0].endswith(".data"):  # scripts, headers: not wanted
                continue
            if name.endswith(BINARY_SUFFIXES):
                raise VendoringError(f"{wheel.name} holds a compiled module ({name}): not for the QGIS plugin")
            z.extract(name, dest)


def binaries(folder: Path) -> list[str]:
    """Compiled modules or libraries under ``folder`` (there must be none in the plugin)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.name.endswith(BINARY_SUFFIXES))


def vendor(plugin_folder: Path, requirements: Path, *, cache: Path | None = None) -> Path:
    """Fill ``plugin_folder/_vendor`` (see the module's docstring); returns it."""
    dest = plugin_folder / VENDOR_DIR
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    # a regular package, never a namespace one: QGIS's plugin reloader and unloader walk the plugin's modules
    (dest / "__init__.py").write_text('"""A sys.path entry of the plugin (see rallypoint_qgis), not a package to '
                                      'import."""\n', encoding="utf-8")
    _copy_tree(_package_dir("rallypoint"), dest / "rallypoint", LEFT_OUT)
    _copy_tree(_package_dir("rallypoint_layers"), dest / "rallypoint_layers")
    _copy_tree(_package_dir("rallypoint_plugins"), dest / "rallypoint_plugins")
    _dist_info(dest, {"rallypoint", "rallypoint_layers", "rallypoint_plugins"})
    for wheel in fetch_wheels(requirements, cache):
        _unpack_wheel(wheel, dest)
    found = binaries(dest)
    if found:
        raise VendoringError(f"compiled files would go into the plugin: {', '.join(found)}")
    return dest
