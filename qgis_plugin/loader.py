"""Loading a registry into a QGIS project: layers in a group, styles, forms, relations, guards.

The registry's default styles (in its ``layer_styles`` table) already carry the aliases,
value maps, check boxes, date pickers, ranges and not-null constraints, and QGIS applies
them when it opens a layer. What a style cannot hold is added here: the depot → stock
relation (a relation editor in the depot form, a depot picker in the stock form), the
hiding of personal fields, English labels when asked for, retired features left out, a
message naming the fields a file does not hold (an export made without personal data), and
the :class:`~.commit.EditGuard` that saves edits through the registry.

Only the python ``sqlite3`` module (the system SQLite, the same library QGIS's GDAL uses)
touches the registry in this process: nothing here may import fiona or pyogrio.

A PostGIS registry (a ``postgresql://`` URL) loads the same way through QGIS's postgres
provider; its edits are saved through the registry as well (checked), and the database's
triggers stamp and record them.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import unquote, urlsplit

from qgis.core import (
    QgsDataSourceUri,
    QgsEditorWidgetSetup,
    QgsLayerTreeGroup,
    QgsProject,
    QgsRelation,
    QgsVectorLayer,
)
from qgis.PyQt.QtXml import QDomDocument

from rallypoint.storage.gpkg.file import connect, read_info
from rallypoint.plugins import default_plugin_manager, layer_catalog
from rallypoint.schema import LayerDef
from rallypoint.storage import is_postgres_url
from rallypoint.styles import render_qml

from .commit import EditGuard, _tr

#: The order of the layers in the group, top to bottom (points above areas).
ORDER = ("helipads", "teams", "depots", "shelters", "hazard_points", "depot_stock")
REFERENCE_GROUP = {"zh": "参考数据", "en": "Reference data"}
#: Reference layers top to bottom: roads, then the division outlines, the population grid at the bottom.
REFERENCE_ORDER = ("roads", "admin_areas", "population")


@dataclass
class LoadedRegistry:
    """What :func:`load_registry` put into the project."""

    path: str
    group: QgsLayerTreeGroup
    layers: dict[str, QgsVectorLayer] = field(default_factory=dict)
    guards: dict[str, EditGuard] = field(default_factory=dict)
    relations: list[QgsRelation] = field(default_factory=list)
    #: the fields of each layer's definition its table has no column for (as ``Registry.absent_fields``)
    absent: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def unload(self, project: QgsProject | None = None) -> None:
        """Take the registry out of the project (again: nothing happens; a layer the user removed is skipped)."""
        project = project or QgsProject.instance()
        for g in self.guards.values():
            g.disconnect()
        self.guards.clear()
        for rel in self.relations:
            try:
                project.relationManager().removeRelation(rel)
            except RuntimeError:  # gone with its layers
                pass
        for lyr in self.layers.values():
            try:
                project.removeMapLayer(lyr.id())
            except RuntimeError:  # the user removed it: QGIS deleted it already
                pass
        self.layers.clear()
        self.relations.clear()
        try:
            parent = self.group.parent()
        except RuntimeError:
            return
        if parent is not None:
            parent.removeChildNode(self.group)


def registry_info(path: str) -> tuple[str, str, list[str]]:
    """(name, language, layer tables) of a registry, read with the system SQLite (python's sqlite3)."""
    if is_postgres_url(path):
        from rallypoint import Registry

        with Registry.open(path, readonly=True) as reg:
            return reg.info.name, reg.info.language, sorted(reg.layers)
    with closing(connect(path, readonly=True)) as conn:
        info = read_info(conn)
        tables = [r[0] for r in conn.execute("SELECT table_name FROM gpkg_contents ORDER BY table_name")]
    return info.name, info.language, tables


def layer_source(location: str, ldef: LayerDef) -> tuple[str, str]:
    """(QGIS data source, provider) of a registry layer: retired features left out."""
    # The filter goes into the URI: setSubsetString() on a second layer of the same GeoPackage
    # makes QGIS 3.22's OGR provider fail with "unable to open database file".
    subset = '"retired_at" IS NULL' if ldef.versioned else ""
    if is_postgres_url(location):
        url = urlsplit(location)
        uri = QgsDataSourceUri()
        uri.setConnection(url.hostname or "", str(url.port or 5432), unquote(url.path.lstrip("/")),
                          unquote(url.username or ""), unquote(url.password or ""))
        uri.setDataSource("public", ldef.name, "geom" if ldef.has_geometry else "", subset, "fid")
        return uri.uri(False), "postgres"
    uri = f"{location}|layername={ldef.name}"
    return (uri + f"|subset={subset}" if subset else uri), "ogr"


def apply_language(layer: QgsVectorLayer, ldef: LayerDef, lang: str) -> None:
    """Labels (aliases, value maps) in ``lang``: the registry's own style, rendered in that language."""
    doc = QDomDocument()
    doc.setContent(render_qml(ldef, lang))
    layer.importNamedStyle(doc)


def hide_personal(layer: QgsVectorLayer, ldef: LayerDef, hidden: bool) -> None:
    """Hide (or show again) the personal-data fields in forms and the attribute table."""
    config = layer.attributeTableConfig()
    columns = config.columns()
    for name in ldef.personal_fields:
        idx = layer.fields().indexOf(name)
        if idx < 0:
            continue
        if hidden:
            layer.setEditorWidgetSetup(idx, QgsEditorWidgetSetup("Hidden", {}))
        elif layer.editorWidgetSetup(idx).type() == "Hidden":
            layer.setEditorWidgetSetup(idx, QgsEditorWidgetSetup("TextEdit", {"IsMultiline": False}))
        for col in columns:
            if col.name == name:
                col.hidden = hidden
    config.setColumns(columns)
    layer.setAttributeTableConfig(config)


def fix_ranges(layer: QgsVectorLayer, ldef: LayerDef) -> None:
    """Give number fields the limits of their definition in the form's spin box.

    Registries written before Rallypoint wrote plain digits into their styles say ``Max = 1e+06`` as an
    ``int``, which QGIS reads as 0: the spin box would hold the value to 0 and saving the form would zero it.
    """
    for f in ldef.fields:
        if f.type not in ("integer", "real") or f.min is None or f.max is None:
            continue
        idx = layer.fields().indexOf(f.name)
        setup = layer.editorWidgetSetup(idx) if idx >= 0 else None
        if setup is None or setup.type() != "Range":
            continue
        config = dict(setup.config())
        cast = int if f.type == "integer" else float
        if config.get("Min") != cast(f.min) or config.get("Max") != cast(f.max):
            config.update(Min=cast(f.min), Max=cast(f.max))
            layer.setEditorWidgetSetup(idx, QgsEditorWidgetSetup("Range", config))


def _relation(project: QgsProject, child: QgsVectorLayer, parent: QgsVectorLayer, cdef: LayerDef,
              lang: str) -> QgsRelation:
    rel = QgsRelation()
    rel.setId(f"rallypoint_{cdef.name}_{child.id()}")
    rel.setName(cdef.title(lang))
    rel.setReferencingLayer(child.id())
    rel.setReferencedLayer(parent.id())
    rel.addFieldPair(cdef.parent_field, "uuid")
    project.relationManager().addRelation(rel)
    idx = child.fields().indexOf(cdef.parent_field)
    child.setEditorWidgetSetup(idx, QgsEditorWidgetSetup("RelationReference", {
        "Relation": rel.id(), "AllowNULL": False, "ShowForm": False, "MapIdentification": False,
        "ReadOnly": False, "AllowAddFeatures": False,
    }))
    return rel


def load_registry(path: str, *, project: QgsProject | None = None, lang: str | None = None,
                  show_personal: bool = False, author: Callable[[], str] | None = None,
                  notify: Callable[[str, str], None] | None = None) -> LoadedRegistry:
    """Add the registry's layers to ``project`` in one group, ready to view and edit."""
    project = project or QgsProject.instance()
    if not is_postgres_url(path):
        path = str(Path(path).resolve())
    title, reg_lang, tables = registry_info(path)
    lang = lang or reg_lang
    catalog = layer_catalog(default_plugin_manager())
    root = project.layerTreeRoot()
    group = root.insertGroup(0, title)
    loaded = LoadedRegistry(path, group)
    names = [n for n in ORDER if n in tables and n in catalog]
    names += [n for n in tables if n in catalog and n not in names and catalog[n].kind != "reference"]
    reference = [n for n in tables if n in catalog and catalog[n].kind == "reference"]
    reference.sort(key=lambda n: (REFERENCE_ORDER.index(n) if n in REFERENCE_ORDER else -1, n))
    author = author or (lambda: "qgis")
    ref_group = None
    for name in names + reference:
        ldef = catalog[name]
        uri, provider = layer_source(path, ldef)  # retired features stay in the registry, not on the map
        layer = QgsVectorLayer(uri, ldef.title(lang), provider)
        if not layer.isValid():
            raise RuntimeError(f"{path}: QGIS cannot open the layer {name}")
        if lang != "zh":
            apply_language(layer, ldef, lang)
        fix_ranges(layer, ldef)
        absent = tuple(f.name for f in ldef.fields if layer.fields().indexOf(f.name) < 0)
        if absent:
            loaded.absent[name] = absent
        hide_personal(layer, ldef, not show_personal)
        project.addMapLayer(layer, False)
        if ldef.kind == "reference" and ref_group is None:
            ref_group = group.addGroup(REFERENCE_GROUP.get(lang, REFERENCE_GROUP["en"]))
        (ref_group if ldef.kind == "reference" else group).addLayer(layer)
        loaded.layers[name] = layer
        if ldef.versioned:
            loaded.guards[name] = EditGuard(layer, path, name, author=author, notify=notify)
    for name, ldef in catalog.items():
        if ldef.parent and name in loaded.layers and ldef.parent in loaded.layers:
            loaded.relations.append(_relation(project, loaded.layers[name], loaded.layers[ldef.parent], ldef, lang))
    if ref_group is not None:
        ref_group.setExpanded(False)
        ref_group.setItemVisibilityChecked(True)
    if loaded.absent and notify is not None:
        notify("info", not_held_message(loaded.absent, catalog, lang))
    return loaded


def not_held_message(absent: dict[str, tuple[str, ...]], catalog: dict[str, LayerDef], lang: str) -> str:
    """What a file does not hold, said once when it opens: its forms simply have no such fields, and the user
    should know they were left out of the file, not left empty by someone."""
    held_not = "; ".join(f"{catalog[name].title(lang)} – " + ", ".join(
        f"{catalog[name].field(n).alias(lang)} ({n})" for n in fields) for name, fields in absent.items())
    return _tr("This file does not hold these fields (they are not shown, and no value can be given for them): "
               "{fields}").format(fields=held_not)
