"""Every Rallypoint analysis in the Processing toolbox, built from the analyses' own metadata.

One algorithm per analysis that a plugin registers through ``rallypoint_analyses``: its
parameters are mapped by type onto Processing parameters (numbers with their limits,
choices and profiles as enums, booleans, text), it runs through the core's
:func:`~rallypoint.analysis.run_analysis` on the registry file, writes its result layers to a
GeoPackage and its report to HTML, and the result layers are loaded into the project.
A new analysis needs no code here.

Every analysis is listed, but one whose packages (``Analysis.packages``: pandas, geopandas, scipy,
ortools …) QGIS's Python lacks cannot run here: ``canExecute()`` says which are missing, in Chinese and
English, and the Processing dialog shows that instead of a traceback. One that runs works on shapely
geometries (its own world), whatever engine the plugin gave the registry's edits.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from qgis.core import (
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransformContext,
    QgsVectorFileWriter,
    QgsVectorLayer,
    QgsWkbTypes,
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingOutputString,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
    QgsProcessingProvider,
)

from rallypoint import Registry, RallypointError
from rallypoint import geometry_engine
from rallypoint.analysis import Analysis, AnalysisResult, Parameter, analyses, missing_packages, run_analysis
from rallypoint.plugins import default_plugin_manager

REGISTRY = "REGISTRY"
OUTPUT = "OUTPUT"
REPORT = "REPORT"
SUMMARY = "SUMMARY"


def write_result_with_qgis(result: AnalysisResult, out: str, report: str | None, lang: str) -> list[str]:
    """Write the result layers and tables to a GeoPackage with QGIS's own GDAL, and the report.

    The core's ``write_result`` uses pyogrio, whose wheel bundles a second GDAL and SQLite;
    inside QGIS, where the registry is open, only QGIS's GDAL may be loaded. Each frame goes
    through a temporary GeoJSON file (geopandas writes that without GDAL) into
    ``QgsVectorFileWriter``.
    """
    import geopandas as gpd

    written = []
    frames = {**result.layers, **result.tables}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, frame) in enumerate(frames.items()):
            is_table = not isinstance(frame, gpd.GeoDataFrame)
            gdf = gpd.GeoDataFrame(frame.reset_index(drop=True), geometry=[None] * len(frame)) if is_table else frame
            src = Path(tmp) / f"{name}.geojson"
            src.write_text(gdf.to_json(na="null", drop_id=True, default=str), encoding="utf-8")
            layer = QgsVectorLayer(str(src), name, "ogr")
            if not layer.isValid():
                raise QgsProcessingException(f"result {name}: QGIS cannot read it back")
            if not is_table and frame.crs is not None:
                layer.setCrs(QgsCoordinateReferenceSystem(frame.crs.to_string()))
            opts = QgsVectorFileWriter.SaveVectorOptions()
            opts.driverName = "GPKG"
            opts.layerName = name
            opts.fileEncoding = "UTF-8"
            opts.actionOnExistingFile = (QgsVectorFileWriter.CreateOrOverwriteFile if i == 0
                                         else QgsVectorFileWriter.CreateOrOverwriteLayer)
            if is_table:
                opts.overrideGeometryType = QgsWkbTypes.NoGeometry
            err, msg, *_ = QgsVectorFileWriter.writeAsVectorFormatV3(layer, out, QgsCoordinateTransformContext(), opts)
            if err != QgsVectorFileWriter.NoError:
                raise QgsProcessingException(f"result {name}: cannot write {out}: {msg}")
            written.append(name)
    if report and result.report is not None:
        Path(report).write_text(result.report(lang), encoding="utf-8")
    return written


def _lang() -> str:
    from qgis.core import QgsApplication

    return "zh" if QgsApplication.locale().startswith("zh") else "en"


def cannot_run(analysis: Analysis) -> str | None:
    """Why ``analysis`` cannot run in this QGIS (None when it can), in Chinese and English."""
    missing = missing_packages(analysis)
    if not missing:
        return None
    names = ", ".join(missing)
    return (f"这项分析需要 QGIS 的 Python 中安装以下软件包：{names}。请在命令行运行 "
            f"`rallypoint analyse {analysis.name}`，或在 Rallypoint 服务器上运行。\n"
            f"This analysis needs these packages in QGIS's Python: {names}. Run `rallypoint analyse "
            f"{analysis.name}` on the command line, or on the Rallypoint server.")


def _choices(p: Parameter, profiles) -> list[str]:
    if p.type == "choice":
        return list(p.choices)
    return [pr.name for pr in profiles if pr.kind == (p.profile_kind or p.name)]


def processing_parameter(p: Parameter, profiles, lang: str):
    """The Processing parameter for one analysis parameter."""
    title = p.title(lang)
    if p.type in ("int", "float"):
        kind = QgsProcessingParameterNumber.Integer if p.type == "int" else QgsProcessingParameterNumber.Double
        param = QgsProcessingParameterNumber(p.name, title, kind, p.default, p.default is None)
        if p.min is not None:
            param.setMinimum(p.min)
        if p.max is not None:
            param.setMaximum(p.max)
        return param
    if p.type == "bool":
        return QgsProcessingParameterBoolean(p.name, title, bool(p.default))
    if p.type in ("choice", "profile"):
        options = _choices(p, profiles)
        default = options.index(p.default) if p.default in options else None
        return QgsProcessingParameterEnum(p.name, title, options, False, default, p.default is None)
    default = ",".join(f"{v:g}" for v in p.default) if p.type == "floats" and p.default else p.default
    return QgsProcessingParameterString(p.name, title, default, False, p.default is None)


class AnalysisAlgorithm(QgsProcessingAlgorithm):
    """A Processing algorithm that runs one Rallypoint analysis."""

    def __init__(self, analysis: Analysis, profiles):
        super().__init__()
        self.analysis = analysis
        self.profiles = profiles

    def createInstance(self):
        return AnalysisAlgorithm(self.analysis, self.profiles)

    def name(self):
        return self.analysis.name

    def displayName(self):
        return self.analysis.title(_lang())

    def shortHelpString(self):
        why = cannot_run(self.analysis)
        return self.analysis.description(_lang()) + (f"\n\n{why}" if why else "")

    def canExecute(self):  # noqa: N802 (QGIS's name)
        why = cannot_run(self.analysis)
        return (why is None), (why or "")

    def group(self):
        return "分析" if _lang() == "zh" else "Analyses"

    def groupId(self):
        return "analyses"

    def initAlgorithm(self, config=None):
        lang = _lang()
        self.addParameter(QgsProcessingParameterFile(REGISTRY, "登记库" if lang == "zh" else "Registry",
                                                     extension="gpkg"))
        for p in self.analysis.parameters:
            self.addParameter(processing_parameter(p, self.profiles, lang))
        self.addParameter(QgsProcessingParameterFileDestination(
            OUTPUT, "结果图层" if lang == "zh" else "Result layers", "GeoPackage (*.gpkg)"))
        self.addParameter(QgsProcessingParameterFileDestination(
            REPORT, "报告" if lang == "zh" else "Report", "HTML (*.html)", optional=True))
        self.addOutput(QgsProcessingOutputString(SUMMARY, "摘要" if lang == "zh" else "Summary"))

    def _raw(self, parameters, context) -> dict:
        raw = {}
        for p in self.analysis.parameters:
            if parameters.get(p.name) is None:
                continue
            if p.type == "int":
                raw[p.name] = self.parameterAsInt(parameters, p.name, context)
            elif p.type == "float":
                raw[p.name] = self.parameterAsDouble(parameters, p.name, context)
            elif p.type == "bool":
                raw[p.name] = self.parameterAsBool(parameters, p.name, context)
            elif p.type in ("choice", "profile"):
                raw[p.name] = _choices(p, self.profiles)[self.parameterAsEnum(parameters, p.name, context)]
            else:
                raw[p.name] = self.parameterAsString(parameters, p.name, context)
        return raw

    def processAlgorithm(self, parameters, context, feedback):
        lang = _lang()
        registry = self.parameterAsFile(parameters, REGISTRY, context)
        out = self.parameterAsFileOutput(parameters, OUTPUT, context)
        report = self.parameterAsFileOutput(parameters, REPORT, context) or None
        why = cannot_run(self.analysis)
        if why:
            raise QgsProcessingException(why)

        def progress(stage, done, total):
            feedback.setProgressText(stage)
            if total:
                feedback.setProgress(100.0 * done / total)

        try:
            # analyses compute with shapely and geopandas: their geometries are shapely ones, on this thread
            shapely_engine = geometry_engine.ShapelyEngine()
            with geometry_engine.using(shapely_engine), Registry.open(registry, readonly=True) as reg:
                result = run_analysis(reg, default_plugin_manager(), self.analysis.name,
                                      self._raw(parameters, context), lang=lang, progress=progress)
            write_result_with_qgis(result, out, report, lang)
        except RallypointError as exc:
            raise QgsProcessingException(str(exc)) from exc
        for w in result.warnings:
            feedback.pushWarning(w)
        titles = {o.name: o.title(lang) for o in self.analysis.outputs}
        for name in list(result.layers) + list(result.tables):
            uri = f"{out}|layername={name}"
            context.addLayerToLoadOnCompletion(uri, QgsProcessingContext.LayerDetails(
                titles.get(name, name), context.project(), name))
        summary = "\n".join(f"{zh if lang == 'zh' else en}: {value}" for zh, en, value in result.summary)
        feedback.pushInfo(summary)
        return {OUTPUT: out, REPORT: report, SUMMARY: summary}


class RallypointProvider(QgsProcessingProvider):
    """The "Rallypoint" group of the Processing toolbox."""

    def id(self):
        return "rallypoint"

    def name(self):
        return "Rallypoint"

    def longName(self):
        return "Rallypoint"

    def loadAlgorithms(self):
        pm = default_plugin_manager()
        profiles = pm.collect("rallypoint_profiles")
        for analysis in analyses(pm).values():
            self.addAlgorithm(AnalysisAlgorithm(analysis, profiles))


def output_layer_names(path: str | Path) -> list[str]:
    """The layers an algorithm wrote (read with the system SQLite, as QGIS would)."""
    from contextlib import closing

    from rallypoint.storage.gpkg.file import connect

    with closing(connect(path, readonly=True)) as conn:  # closed here, not when collected
        return [r[0] for r in conn.execute("SELECT table_name FROM gpkg_contents ORDER BY table_name")]
