"""Analyses as plugins: their metadata, typed parameters, a run, and results written out.

An :class:`Analysis` says what it is called, what parameters it takes (typed, with
defaults and limits), what layers it needs and what it produces. The core checks the
parameters and the registry before running it, so a bad parameter or a missing layer is
a clear message, never a traceback; it then writes the result layers to a GeoPackage
and the report to HTML. The CLI, the web API and QGIS Processing all build their forms
from the same metadata.
"""

from __future__ import annotations

import importlib.util
import itertools
import math
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from .errors import RallypointError
from .profiles import Profile, find_profile

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd
    import pandas as pd

# The plugin contract sits below the registry and the plugin manager (both import it through the hook
# specifications): a registry is a :class:`rallypoint.Registry`, a plugin manager a
# :class:`rallypoint.plugins.RallypointPluginManager`, named in the docstrings rather than imported.
_Registry = Any
_PluginManager = Any

PARAMETER_TYPES = ("int", "float", "str", "bool", "choice", "floats", "profile")


class AnalysisError(RallypointError, ValueError):
    """An analysis cannot run as asked: a bad parameter, a missing layer, no data."""

    http_status = 400
    ogc_code = "InvalidParameterValue"


class UnknownAnalysisError(AnalysisError, LookupError):
    http_status = 404
    ogc_code = "NotFound"


@dataclass(frozen=True)
class Parameter:
    """One parameter of an analysis.

    ``type`` is one of ``int``, ``float``, ``str``, ``bool``, ``choice`` (one of
    ``choices``), ``floats`` (a comma-separated list of numbers) or ``profile`` (the name
    of an installed profile of kind ``profile_kind``).
    """

    name: str
    type: str
    default: Any
    title_zh: str
    title_en: str
    choices: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    profile_kind: str | None = None

    def title(self, lang: str = "zh") -> str:
        return self.title_zh if lang == "zh" else self.title_en

    def parse(self, raw: Any, profiles: Sequence[Profile] = ()) -> Any:
        """Turn what a user gave (a string from a command line, a JSON value) into the typed value."""
        if raw is None:
            return self.default
        try:
            value = self._convert(raw)
        except (TypeError, ValueError):
            raise AnalysisError(f"parameter {self.name!r}: {raw!r} is not {self._describe()}") from None
        for v in (value if isinstance(value, (list, tuple)) else [value]):
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                if self.min is not None and v < self.min:
                    raise AnalysisError(f"parameter {self.name!r}: {v} is below the minimum {self.min:g}")
                if self.max is not None and v > self.max:
                    raise AnalysisError(f"parameter {self.name!r}: {v} is above the maximum {self.max:g}")
        if self.type == "choice" and value not in self.choices:
            raise AnalysisError(f"parameter {self.name!r}: {value!r} is not one of {', '.join(self.choices)}")
        if self.type == "profile":
            find_profile(profiles, self.profile_kind or self.name, value)
        return value

    def _describe(self) -> str:
        return {"int": "a whole number", "float": "a number", "bool": "true or false",
                "floats": "a comma-separated list of numbers"}.get(self.type, "text")

    def _convert(self, raw: Any) -> Any:
        t = self.type
        if t == "int":
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError
            return int(raw)
        if t == "float":
            if isinstance(raw, bool):
                raise ValueError
            v = float(raw)
            if not math.isfinite(v):
                raise ValueError
            return v
        if t == "bool":
            if isinstance(raw, bool):
                return raw
            s = str(raw).strip().lower()
            if s in ("1", "true", "yes", "on"):
                return True
            if s in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if t == "floats":
            items = raw if isinstance(raw, (list, tuple)) else [p for p in str(raw).split(",") if p.strip()]
            values = tuple(float(v) for v in items)
            if not values or not all(math.isfinite(v) for v in values):
                raise ValueError
            return values
        if not isinstance(raw, str):
            raise ValueError
        return raw.strip()


@dataclass(frozen=True)
class Output:
    """One result of an analysis: a layer (with geometry) or a table, with its titles."""

    name: str
    kind: str  # "layer" or "table"
    title_zh: str
    title_en: str

    def title(self, lang: str = "zh") -> str:
        return self.title_zh if lang == "zh" else self.title_en


@dataclass
class AnalysisResult:
    """What a run produced: result layers and tables, headline figures, and a report."""

    layers: dict[str, "gpd.GeoDataFrame"] = field(default_factory=dict)
    tables: dict[str, "pd.DataFrame"] = field(default_factory=dict)
    summary: list[tuple[str, str, Any]] = field(default_factory=list)  # (label zh, label en, value)
    report: Callable[[str], str] | None = None  # lang -> HTML page
    warnings: list[str] = field(default_factory=list)


@dataclass
class AnalysisContext:
    """What a running analysis may ask of its host: profiles, the language, a progress callback."""

    profiles: list[Profile]
    lang: str = "zh"
    progress: Callable[[str, int, int], None] = lambda stage, done, total: None

    def profile(self, kind: str, name: str) -> Profile:
        return find_profile(self.profiles, kind, name)


@dataclass(frozen=True)
class Analysis:
    """An analysis a plugin provides."""

    name: str
    title_zh: str
    title_en: str
    description_zh: str
    description_en: str
    parameters: tuple[Parameter, ...]
    outputs: tuple[Output, ...]
    run: Callable[[_Registry, dict[str, Any], AnalysisContext], AnalysisResult]
    requires: tuple[str, ...] = ()  # layers that must hold features
    version: str = "1"
    #: the Python packages it imports, as ``name`` or ``name>=version`` (a host without them, QGIS's Python
    #: say, lists the analysis but cannot run it: :func:`missing_packages` says what is missing)
    packages: tuple[str, ...] = ()

    def title(self, lang: str = "zh") -> str:
        return self.title_zh if lang == "zh" else self.title_en

    def description(self, lang: str = "zh") -> str:
        return self.description_zh if lang == "zh" else self.description_en

    def parse_parameters(self, raw: Mapping[str, Any], profiles: Sequence[Profile] = ()) -> dict[str, Any]:
        known = {p.name: p for p in self.parameters}
        unknown = sorted(set(raw) - set(known))
        if unknown:
            raise AnalysisError(f"analysis {self.name!r} has no parameter {', '.join(map(repr, unknown))} "
                                f"(parameters: {', '.join(known) or 'none'})")
        return {name: p.parse(raw.get(name), profiles) for name, p in known.items()}


def _version_tuple(text: str) -> tuple[int, ...]:
    out = []
    for part in text.split("."):
        digits = "".join(itertools.takewhile(str.isdigit, part))
        if not digits:
            break
        out.append(int(digits))
    return tuple(out)


def missing_packages(analysis: Analysis) -> list[str]:
    """The packages of ``analysis.packages`` this Python lacks (or has too old), as declared.

    Nothing is imported to find out (``find_spec`` and the installed metadata only), so asking never loads a
    package, or a wheel's own copy of a native library, into the process that asks (QGIS).
    """
    missing = []
    for spec in analysis.packages:
        name, _, minimum = spec.partition(">=")
        name = name.strip()
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if found and minimum:
            try:
                found = _version_tuple(metadata.version(name)) >= _version_tuple(minimum.strip())
            except metadata.PackageNotFoundError:  # importable without metadata: cannot tell, take it
                pass
        if not found:
            missing.append(spec)
    return missing


def analyses(pm: _PluginManager) -> dict[str, Analysis]:
    """Every analysis the installed plugins provide, by name."""
    found: dict[str, Analysis] = {}
    for a in pm.collect("rallypoint_analyses"):
        if a.name in found:
            raise AnalysisError(f"two plugins provide an analysis called {a.name!r}")
        found[a.name] = a
    return found


def check_analysis(registry: _Registry, pm: _PluginManager, name: str,
                   raw: Mapping[str, Any]) -> tuple[Analysis, dict[str, Any]]:
    """Analysis ``name`` and its parsed parameters, once the parameters and the registry are checked (what a
    server does before it accepts a job, so a bad request is refused at once rather than as a failed job)."""
    available = analyses(pm)
    if name not in available:
        raise UnknownAnalysisError(f"no analysis {name!r} (installed: {', '.join(sorted(available)) or 'none'})")
    analysis = available[name]
    params = analysis.parse_parameters(raw, pm.collect("rallypoint_profiles"))
    for layer in analysis.requires:
        if layer not in registry.layers:
            raise AnalysisError(f"analysis {name!r} needs the layer {layer!r}, which this registry does not have")
        if registry.count(layer) == 0:
            raise AnalysisError(f"analysis {name!r} needs features in {layer!r}, and it is empty")
    return analysis, params


def run_analysis(registry: _Registry, pm: _PluginManager, name: str, raw: Mapping[str, Any], *,
                 lang: str = "zh", progress: Callable[[str, int, int], None] | None = None) -> AnalysisResult:
    """Check the parameters and the registry, then run analysis ``name``."""
    analysis, params = check_analysis(registry, pm, name, raw)
    ctx = AnalysisContext(profiles=pm.collect("rallypoint_profiles"), lang=lang,
                          progress=progress or (lambda s, d, t: None))
    return analysis.run(registry, params, ctx)


def write_result(result: AnalysisResult, out: str | Path | None = None, report: str | Path | None = None,
                 lang: str = "zh") -> None:
    """Write result layers and tables to a GeoPackage (1.2, for QGIS 3.22) and the report to HTML."""
    import geopandas as gpd
    import pyogrio

    if out is not None:
        out = Path(out)
        if out.exists():
            out.unlink()
        for name, frame in {**result.layers, **result.tables}.items():
            if not isinstance(frame, gpd.GeoDataFrame):
                frame = gpd.GeoDataFrame(frame, geometry=None)
            pyogrio.write_dataframe(frame, out, layer=name, driver="GPKG", dataset_options={"VERSION": "1.2"},
                                    append=out.exists())
    if report is not None and result.report is not None:
        Path(report).write_text(result.report(lang), encoding="utf-8")
