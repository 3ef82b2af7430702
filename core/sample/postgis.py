"""Writing the sample region into a PostGIS database (``rallypoint sample postgresql://…``), in one transaction.

The GeoPackage sample (:mod:`rallypoint.sample`) builds a file under a temporary name and
moves it into place; here the same guarantee comes from the database: the tables, the
reference layers and every resource are written in **one transaction**, so a run that fails
or is killed leaves the database as it was (with ``overwrite``, the old registry too).

The resources are checked here as a batch checks them (field definitions, derived fields,
references, the plugins' checks) and then sent with ``COPY`` by the storage seam
(:func:`rallypoint.storage.new_registry`), not one ``INSERT`` per row: the registry's triggers
fire for copied rows too, so every feature gets its stamps and its insert in the history from
the database, as for any other write (author and time from the ``rallypoint.author`` /
``rallypoint.now`` settings of the transaction). The reference layers are checked as
``Registry.load_reference`` checks them (:mod:`rallypoint.frame_checks`).
"""

from __future__ import annotations

from typing import Any, Callable

from .. import geometry as geo
from ..errors import Problem, ValidationError
from ..frame_checks import prepare_reference
from ..plugins import default_plugin_manager, layer_catalog
from ..positions import CHINA, frame_divisions
from ..schema import LayerDef
from ..storage import new_registry
from ..storage.base import SCHEMA_VERSION, RegistryInfo
from ..validation import check_feature, format_datetime

Progress = Callable[[str, int, int], None]


def _checked_rows(pm, layer: LayerDef, items: list[tuple[dict[str, Any], Any]], known: dict[str, set[str]],
                  now: str, rules: dict[str, Any]) -> tuple[list[dict[str, Any]], list[Any]]:
    """The features' rows as :meth:`rallypoint.registry.Batch.add` would write them; every problem raised.
    ``rules``: the position rules (:mod:`rallypoint.positions`), the sample's own boundaries among them."""
    rows, geoms, problems = [], [], []
    exists = lambda ref_layer, uuid: uuid in known.get(ref_layer, ())  # noqa: E731
    for props, geometry in items:
        g = None if geometry is None else geo.to_storage(geo.from_user(geometry), None)
        checked = check_feature(layer, dict(props), g, allow_uuid=True, reference_exists=exists, **rules)
        found = list(checked.problems)
        if not found:
            for result in pm.hook.rallypoint_validate_feature(layer=layer, properties=dict(checked.properties),
                                                              geometry=checked.geometry):
                found.extend(result or [])
        if not found:
            for result in pm.hook.rallypoint_validate_change(layer=layer, old=None, new=dict(checked.properties),
                                                             at=now):
                found.extend(result or [])
        uid = props.get("uuid")
        if not uid:
            found.append(("uuid", "a sample feature carries its UUID"))
        if found:
            problems += [Problem(layer.name, f"feature {uid}", f, m) for f, m in found]
            continue
        rows.append(checked.properties)
        geoms.append(checked.geometry)
        known.setdefault(layer.name, set()).add(uid)
    if problems:
        raise ValidationError(problems)
    return rows, geoms


def write_sample_postgis(url: str, data, *, name: str, author: str, at, resource_order: tuple[str, ...],
                         overwrite: bool = False, progress: Progress | None = None) -> dict[str, int]:
    """Write generated sample ``data`` (:func:`rallypoint.sample_data.generate`) as a new registry at ``url``."""
    note = progress or (lambda stage, done, total: None)
    pm = default_plugin_manager()
    catalog = layer_catalog(pm)
    now = format_datetime(at)
    region = data.region
    info = RegistryInfo(name=name, bureau=region["bureau"], adcode=region["adcode"], schema_version=SCHEMA_VERSION,
                        created_at=now, language="zh")
    counts: dict[str, int] = {}
    with new_registry(url, list(catalog.values()), info, author=author, now=now, note="sample data",
                      overwrite=overwrite) as loader:
        for layer in ("admin_areas", "population", "roads"):
            gdf = getattr(data, layer)
            note(layer, 0, len(gdf))
            counts[layer] = loader.load_reference(catalog[layer], prepare_reference(catalog[layer], gdf))
            note(layer, len(gdf), len(gdf))
        known: dict[str, set[str]] = {}
        rules = {"extent": CHINA, "divisions": frame_divisions(data.admin_areas)}
        for layer in resource_order:
            items = data.features[layer]
            note(layer, 0, len(items))
            rows, geoms = _checked_rows(pm, catalog[layer], items, known, now, rules)
            counts[layer] = loader.add_checked(catalog[layer], rows, geoms)
            note(layer, len(items), len(items))
        for layer in catalog:  # plugins' layer types are in the registry too, with no sample data
            counts.setdefault(layer, 0)
    return counts
