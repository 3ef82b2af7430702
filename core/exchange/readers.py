"""Reading an import source into layers of plain records: GeoPackage, GeoJSON, Shapefile, CSV.

Every reader gives the same thing, a :class:`Source` of :class:`SourceLayer` s: the
properties of each feature as a dict, its geometry (shapely, in the layer's own CRS), a
label to name it by (``fid 12``, ``feature #3``, ``row 7``) and any problem found while
reading it. Mapping, validation and matching are the importer's. The registry keeps x and
y only: Z (height) and M (measure) values are dropped here, and the source's ``warnings``
say how many features had them.

* GeoPackage: :mod:`.gpkg_strict` (Python's ``sqlite3``, strict checks). Never GDAL: an
  import source may itself be a live registry that this process has open.
* GeoJSON and Shapefile: pyogrio (GDAL). These are not registries, so GDAL's copy of
  SQLite never touches a registry file.
* CSV: pandas; points from coordinate columns (``lon``/``lat``, ``x``/``y``, ``经度``/``纬度``,
  ``経度``/``緯度`` …) or a WKT column. The CSV has no CRS: the importer takes it from
  ``--crs``, the mapping profile, or assumes EPSG:4326 and says so.
* Any other suffix: an import format a plugin provides (``rallypoint_import_formats``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pyproj
import shapely
from shapely.geometry.base import BaseGeometry

from .. import geometry as geo
from ..errors import RallypointError
from . import gpkg_strict

X_NAMES = ("lon", "lng", "long", "longitude", "x", "经度", "経度", "東経")
Y_NAMES = ("lat", "latitude", "y", "纬度", "緯度", "北緯")
WKT_NAMES = ("wkt", "geometry", "geom", "the_geom")


class SourceError(RallypointError, ValueError):
    """The import source cannot be read (unknown format, unreadable file); nothing is imported."""

    http_status = 400
    ogc_code = "InvalidParameterValue"


@dataclass
class SourceLayer:
    """One layer of an import source, read but not yet mapped or checked."""

    name: str
    fields: list[str]
    rows: list[dict[str, Any]]
    geometries: list[Any]
    labels: list[str]
    crs: pyproj.CRS | None = None
    crs_problem: str | None = None
    problems: dict[int, str] = field(default_factory=dict)
    has_geometry: bool = True
    geometry_type: str | None = None
    xy_columns: tuple[str, str] | None = None  # CSV: where the points came from

    def __len__(self) -> int:
        return len(self.rows)


@dataclass
class Source:
    """An import source: its layers, what was skipped and why, notes, and Rallypoint metadata if any."""

    path: Path
    format: str
    layers: list[SourceLayer]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    registry_info: dict | None = None
    export_info: dict | None = None
    warnings: list[str] = field(default_factory=list)  # what was read but not as the file meant it


def drop_zm(layer: SourceLayer) -> str | None:
    """Make the layer's geometries 2D; a warning saying how many carried Z or M values (None if none did)."""
    idx = [i for i, g in enumerate(layer.geometries) if isinstance(g, BaseGeometry)]
    if not idx:
        return None
    geoms = np.array([layer.geometries[i] for i in idx], dtype=object)
    z, m = shapely.has_z(geoms), shapely.has_m(geoms)
    if not (z.any() or m.any()):
        return None
    flat = shapely.force_2d(geoms)
    for i, g in zip(idx, flat):
        layer.geometries[i] = g
    what = [f"{int(n):,} feature(s) with {kind} values" for n, kind in ((z.sum(), "Z (height)"),
                                                                         (m.sum(), "M (measure)")) if n]
    first = layer.labels[idx[int(np.flatnonzero(z | m)[0])]]
    return (f"{layer.name}: {' and '.join(what)} (first: {first}): the registry keeps x and y only, so those "
            "values were dropped")


def _flatten(src: Source) -> Source:
    for layer in src.layers:
        why = drop_zm(layer)
        if why:
            src.warnings.append(why)
    return src


def _clean(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    try:
        import pandas as pd

        if v is pd.NA or v is pd.NaT:
            return None
    except ImportError:  # pragma: no cover
        pass
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):  # numpy scalars
        try:
            return v.item()
        except (AttributeError, ValueError):
            return v
    return v


def _records(frame) -> list[dict[str, Any]]:
    cols = list(frame.columns)
    return [{c: _clean(v) for c, v in zip(cols, row)} for row in frame.itertuples(index=False, name=None)]


def read_gpkg(path: Path) -> Source:
    reads, skipped, info, export, warnings = gpkg_strict.read_geopackage(path)
    layers = []
    for r in reads:
        lyr = r.layer
        layers.append(SourceLayer(
            lyr.name, [c for c in lyr.columns if c not in (lyr.geometry_column, lyr.pk)], r.rows, r.geometries,
            r.labels,
            crs=lyr.crs, crs_problem=lyr.crs_problem if lyr.geometry_column else None, problems=r.problems,
            has_geometry=lyr.geometry_column is not None, geometry_type=lyr.geometry_type))
    return _flatten(Source(path, "GeoPackage", layers, skipped, [], info, export, list(warnings)))


def read_ogr(path: Path, fmt: str) -> Source:
    """GeoJSON or Shapefile through pyogrio (these files are never registries)."""
    import pyogrio

    try:
        names = [n for n, _ in pyogrio.list_layers(path)]
    except Exception as exc:  # pyogrio raises DataSourceError and friends
        raise SourceError(f"{path.name}: cannot be read as {fmt}: {exc}") from None
    layers = []
    notes: list[str] = []
    for name in names:
        try:
            gdf = pyogrio.read_dataframe(path, layer=name, datetime_as_string=True)
        except Exception as exc:
            raise SourceError(f"{path.name}: layer {name!r} cannot be read as {fmt}: {exc}") from None
        geom_name = gdf.geometry.name if hasattr(gdf, "geometry") and "geometry" in gdf.columns else None
        geoms = list(gdf.geometry.values) if geom_name else [None] * len(gdf)
        frame = gdf.drop(columns=[geom_name]) if geom_name else gdf
        crs = pyproj.CRS.from_user_input(gdf.crs) if geom_name and gdf.crs is not None else None
        problem = None
        if geom_name and crs is None:
            problem = f"{fmt} layer {name!r} declares no CRS (no .prj?); give it with --crs"
        labels = [f"feature #{i + 1}" for i in range(len(frame))]
        layer = SourceLayer(name, list(frame.columns), _records(frame), geoms, labels, crs=crs,
                            crs_problem=problem, has_geometry=geom_name is not None)
        if fmt == "GeoJSON" and len(names) == 1:
            _coordinate_problems(path, layer)
        layers.append(layer)
    return _flatten(Source(path, fmt, layers, [], notes))


def _coordinate_problems(path: Path, layer: SourceLayer) -> None:
    """Why GDAL gave no geometry for a GeoJSON feature whose coordinates are not numbers (it reads
    ``["104.06", "30.66"]`` as a null geometry without a word): the feature's problem names the coordinate."""
    missing = [i for i, g in enumerate(layer.geometries) if g is None]
    if not missing:
        return
    try:
        data = json.loads(path.read_bytes())
    except (ValueError, OSError):
        return
    feats = data.get("features") if isinstance(data, dict) and data.get("type") == "FeatureCollection" else None
    if not isinstance(feats, list) or len(feats) != len(layer.rows):
        return  # not one feature per row as GDAL read them: nothing to say for sure
    for i in missing:
        geom = feats[i].get("geometry") if isinstance(feats[i], dict) else None
        why = geo.coordinate_problem(geom) if geom is not None else None
        if why:
            layer.problems[i] = f"{why} (GeoJSON coordinates are numbers)"


def _read_csv_text(path: Path):
    import pandas as pd

    last: Exception | None = None
    for enc in ("utf-8-sig", "gb18030", "cp932"):
        try:
            return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=enc), enc
        except UnicodeDecodeError as exc:
            last = exc
        except Exception as exc:  # pandas' ParserError, EmptyDataError …
            raise SourceError(f"{path.name}: cannot be read as CSV: {exc}") from None
    raise SourceError(f"{path.name}: not UTF-8, GB 18030 or Shift_JIS text: {last}")


def _find(columns: Iterable[str], names: Iterable[str]) -> str | None:
    low = {c.strip().lower(): c for c in columns}
    for n in names:
        if n in low:
            return low[n]
    return None


def points_from_columns(layer: SourceLayer, x: str, y: str) -> None:
    """(Re)build a CSV layer's points from its ``x`` and ``y`` columns; rows without numbers get a problem."""
    geoms: list[Any] = []
    for i, row in enumerate(layer.rows):
        try:
            gx, gy = float(str(row.get(x)).replace(",", "")), float(str(row.get(y)).replace(",", ""))
            if not (math.isfinite(gx) and math.isfinite(gy)):
                raise ValueError
            geoms.append(shapely.Point(gx, gy))
            if layer.problems.get(i, "").startswith("no coordinates"):
                del layer.problems[i]
        except (TypeError, ValueError):
            geoms.append(None)
            layer.problems[i] = f"no coordinates in columns {x!r}/{y!r} ({row.get(x)!r}, {row.get(y)!r})"
    layer.geometries = geoms
    layer.xy_columns = (x, y)
    layer.has_geometry = True


def read_csv(path: Path) -> Source:
    frame, enc = _read_csv_text(path)
    rows = [{k: (None if v == "" else v) for k, v in r.items()} for r in frame.to_dict("records")]
    columns = list(frame.columns)
    layer = SourceLayer(path.stem, columns, rows, [None] * len(rows), [f"row {i + 2}" for i in range(len(rows))],
                        has_geometry=False)
    notes = [] if enc == "utf-8-sig" else [f"{path.name} read as {enc}"]
    x, y = _find(columns, X_NAMES), _find(columns, Y_NAMES)
    wkt = _find(columns, WKT_NAMES)
    if x and y:
        points_from_columns(layer, x, y)
    elif wkt:
        geoms = []
        for i, row in enumerate(rows):
            try:
                geoms.append(shapely.from_wkt(row[wkt]) if row.get(wkt) else None)
            except shapely.errors.GEOSException as exc:
                geoms.append(None)
                layer.problems[i] = f"column {wkt!r} is not WKT: {exc}"
        layer.geometries, layer.has_geometry = geoms, True
        layer.fields = [c for c in columns if c != wkt]
    return Source(path, "CSV", [layer], [], notes)


def read_plugin_format(path: Path, fmt: Any, options: dict[str, Any]) -> Source:
    """Records ``(layer, properties, geometry, crs)`` from an import format a plugin provides."""
    by_layer: dict[str, SourceLayer] = {}
    try:
        for layer, props, geom, crs in fmt.read(str(path), dict(options)):
            sl = by_layer.get(layer)
            if sl is None:
                sl = by_layer[layer] = SourceLayer(layer, [], [], [], [], crs=pyproj.CRS.from_user_input(crs)
                                                   if crs else None)
            for k in props:
                if k not in sl.fields:
                    sl.fields.append(k)
            sl.rows.append(dict(props))
            sl.geometries.append(shapely.geometry.shape(geom) if isinstance(geom, dict) else geom)
            sl.labels.append(f"feature #{len(sl.rows)}")
    except RallypointError:
        raise
    except Exception as exc:  # someone else's reader
        raise SourceError(f"{path.name}: the {fmt.name} reader failed: {type(exc).__name__}: {exc}") from None
    return _flatten(Source(path, fmt.title, list(by_layer.values())))


def read_source(path: str | Path, *, formats: Iterable[Any] = (), options: dict[str, Any] | None = None) -> Source:
    """Read ``path`` by its content and suffix; raise SourceError or NotAGeoPackage if it cannot be read."""
    p = Path(path)
    if not p.is_file():
        raise SourceError(f"{p}: no such file")
    suffix = p.suffix.lower()
    # SQLite is asked, not open(): an import source may be a registry open in this process (see is_sqlite)
    if suffix == ".gpkg" or gpkg_strict.is_sqlite(p):
        return read_gpkg(p)  # refuses a .gpkg that is not SQLite, with the reason
    if suffix in (".geojson", ".json"):
        return read_ogr(p, "GeoJSON")
    if suffix == ".shp":
        return read_ogr(p, "Shapefile")
    if suffix in (".csv", ".txt"):
        return read_csv(p)
    for fmt in formats:
        if suffix in tuple(s.lower() for s in fmt.suffixes) or (fmt.sniff is not None and fmt.sniff(str(p))):
            return read_plugin_format(p, fmt, options or {})
    raise SourceError(f"{p.name}: unknown format {suffix or '(no suffix)'}: Rallypoint imports GeoPackage, "
                      "GeoJSON, Shapefile and CSV, and the formats plugins add")
