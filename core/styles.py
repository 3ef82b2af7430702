"""Default QGIS styles: the symbology from ``layers/styles`` plus what the definitions say.

The QML files in ``layers/styles`` hold only the look (renderer, labels). Aliases, edit
widgets (value maps for allowed values, check boxes, date pickers), not-null and range
constraints and read-only registry fields are written into the style from the layer
definition when a registry is created, so the two can never disagree. QGIS 3.22 reads
field aliases from the layer's default style (its GDAL 3.6 does not read
``gpkg_data_columns``), which is why they must be in the QML too.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from .schema import FieldDef, LayerDef, style_text

_DROP = ("fieldConfiguration", "aliases", "constraints", "constraintExpressions", "editable", "defaults")


def _option(parent: ET.Element, **attrs: str) -> ET.Element:
    return ET.SubElement(parent, "Option", {k: v for k, v in attrs.items()})


def _widget(field: FieldDef, lang: str) -> tuple[str, ET.Element]:
    config = ET.Element("config")
    if field.values and field.type == "text":
        root = _option(config, type="Map")
        lst = _option(root, type="List", name="map")
        for v in field.values:
            item = _option(lst, type="Map")
            _option(item, type="QString", name=v.label(lang), value=v.code)
        return "ValueMap", config
    if field.type == "boolean":
        root = _option(config, type="Map")
        _option(root, type="QString", name="CheckedState", value="")
        _option(root, type="QString", name="UncheckedState", value="")
        return "CheckBox", config
    if field.type in ("date", "datetime"):
        fmt = "yyyy-MM-dd" if field.type == "date" else "yyyy-MM-ddTHH:mm:ss"
        root = _option(config, type="Map")
        _option(root, type="bool", name="allow_null", value="true")
        _option(root, type="bool", name="calendar_popup", value="true")
        _option(root, type="QString", name="display_format", value=fmt)
        _option(root, type="QString", name="field_format", value=fmt)
        _option(root, type="bool", name="field_iso_format", value="false")
        return "DateTime", config
    if field.type in ("integer", "real") and field.min is not None and field.max is not None:
        root = _option(config, type="Map")
        _option(root, type="bool", name="AllowNull", value="true")
        _option(root, type="double" if field.type == "real" else "int", name="Max", value=_number(field.max))
        _option(root, type="double" if field.type == "real" else "int", name="Min", value=_number(field.min))
        _option(root, type="int", name="Precision", value="2" if field.type == "real" else "0")
        _option(root, type="double" if field.type == "real" else "int", name="Step", value="1")
        _option(root, type="QString", name="Style", value="SpinBox")
        return "Range", config
    root = _option(config, type="Map")
    _option(root, type="bool", name="IsMultiline", value="false")
    _option(root, type="bool", name="UseHtml", value="false")
    return "TextEdit", config


def _number(value: float) -> str:
    """A limit as QGIS reads it: plain digits (``1000000``, not ``1e+06``, which an ``int`` option reads as 0, so a
    form's spin box would be held to 0…0 and zero the value on save)."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _range_expression(field: FieldDef) -> str | None:
    parts = []
    q = f'"{field.name}"'
    if field.min is not None:
        parts.append(f"{q} >= {_number(field.min)}")
    if field.max is not None:
        parts.append(f"{q} <= {_number(field.max)}")
    if field.type == "text" and field.max_length:
        parts.append(f"length({q}) <= {field.max_length}")
    if not parts:
        return None
    return f"{q} IS NULL OR ({' AND '.join(parts)})"


def render_qml(layer: LayerDef, lang: str = "zh") -> str:
    """The default QML of ``layer`` in language ``lang`` (``zh`` or ``en``)."""
    if layer.style:
        root = ET.fromstring(style_text(layer.style))
    else:
        root = ET.Element("qgis", {"version": "3.22.16-Białowieża", "styleCategories": "AllStyleCategories"})
    for tag in _DROP:
        for el in root.findall(tag):
            root.remove(el)
    fields = [f for f in layer.fields]
    fc = ET.SubElement(root, "fieldConfiguration")
    aliases = ET.SubElement(root, "aliases")
    constraints = ET.SubElement(root, "constraints")
    expressions = ET.SubElement(root, "constraintExpressions")
    editable = ET.SubElement(root, "editable")
    ET.SubElement(aliases, "alias", {"field": "fid", "index": "0", "name": "FID"})
    for i, f in enumerate(fields, start=1):
        kind, config = _widget(f, lang)
        fe = ET.SubElement(fc, "field", {"name": f.name, "configurationFlags": "None"})
        ew = ET.SubElement(fe, "editWidget", {"type": kind})
        ew.append(config)
        label = f.alias(lang) + (f" ({f.unit})" if f.unit else "")
        ET.SubElement(aliases, "alias", {"field": f.name, "index": str(i), "name": label})
        notnull = f.required and not f.system
        exp = _range_expression(f)
        flags = (1 if notnull else 0) | (4 if exp else 0)
        ET.SubElement(constraints, "constraint", {
            "field": f.name,
            "constraints": str(flags),
            "notnull_strength": "1" if notnull else "0",
            "unique_strength": "0",
            "exp_strength": "1" if exp else "0",
        })
        ET.SubElement(expressions, "constraint", {
            "field": f.name,
            "exp": exp or "",
            "desc": f.description(lang) if exp else "",
        })
        ET.SubElement(editable, "field", {"name": f.name, "editable": "0" if f.system else "1"})
    ET.indent(root)
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + ET.tostring(root, encoding="unicode")


def render_sld(layer: LayerDef) -> str:
    """The SLD shipped beside the QML (symbology only), or an empty string."""
    if not layer.style:
        return ""
    try:
        return style_text(layer.style.removesuffix(".qml") + ".sld")
    except FileNotFoundError:
        return ""
