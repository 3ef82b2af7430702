"""The hook specifications of Rallypoint: everything a plugin can add.

A plugin is a module or object with functions marked ``@hookimpl`` and named after the
hooks below, published under the entry-point group ``rallypoint`` (Rallypoint's own
analyses in ``plugins/`` are loaded exactly the same way)::

    # pyproject.toml of a plugin
    [project.entry-points.rallypoint]
    myplugin = "my_package.rallypoint_plugin"

    # my_package/rallypoint_plugin.py
    from rallypoint.hookspecs import hookimpl

    @hookimpl
    def rallypoint_analyses():
        return [my_analysis]

Hooks are always called with keyword arguments, so a later Rallypoint can add arguments
to a hook without breaking plugins that do not take them. None is ``firstresult``: every
plugin's answer is collected, in a list, unless a hook says otherwise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    import click

    from .analysis import Analysis
    from .exchange_formats import ExportFormat, ImportFormat, ValueParser
    from .portal import Panel
    from .profiles import Profile
    from .schema import LayerDef
    from .web_endpoints import Endpoint

PROJECT = "rallypoint"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def rallypoint_layer_types() -> list["LayerDef | dict[str, Any]"]:
    """Add layer types to the registry (created in new registry files).

    :returns: layer definitions, as :class:`~rallypoint.schema.LayerDef` or as the parsed
        TOML of a definition file (a dict with ``layer`` and ``field``). A name that is
        already defined is an error reported against the plugin.
    """


@hookspec
def rallypoint_validate_feature(layer: "LayerDef", properties: dict[str, Any],
                                geometry: Any) -> list[tuple[str | None, str]]:
    """Check one feature beyond its definition, before it is written.

    Called for every feature added, changed or restored, after the definition's own
    checks passed, with the normalised properties and the geometry in EPSG:4490.

    :param layer: the layer definition.
    :param properties: the feature's user-editable fields, normalised.
    :param geometry: the geometry in the storage CRS (``None`` for tables), as the geometry engine makes it: a
        shapely geometry, or a ``QgsGeometry`` when the registry is edited in QGIS. A plugin that must run in
        both reads it through :mod:`rallypoint.geometry` (``bounds``, ``geom_type``, ``mapping``).
    :returns: a list of ``(field or None, message)`` problems; an empty list when it is fine.
    """


@hookspec
def rallypoint_validate_change(layer: "LayerDef", old: dict[str, Any] | None, new: dict[str, Any],
                               at: str) -> list[tuple[str | None, str]]:
    """Check a change of one feature against its previous version, before it is written.

    :func:`rallypoint_validate_feature` sees only the new values; this hook also sees the
    stored ones, for rules about how a feature may change (a record's state may only move
    to certain next states). Called for every feature added (``old`` is ``None``), changed
    or restored, on every write path (Python API, command line, HTTP, QGIS saves), after the
    definition's checks and ``rallypoint_validate_feature`` found nothing wrong; any problem
    refuses the whole batch, which then writes nothing.

    :param layer: the layer definition.
    :param old: the stored user-editable fields before the change; ``None`` for a new feature.
    :param new: the user-editable fields after the change, normalised as they will be stored.
    :param at: the time of the change (the batch's time stamp, UTC ISO 8601 with ``Z``), for
        rules that depend on the date ("a deadline already passed").
    :returns: a list of ``(field or None, message)`` problems; an empty list when it is fine.
    """


@hookspec
def rallypoint_validate_many(layer: "LayerDef", features: "Sequence[dict[str, Any]]",
                             geometries: "Sequence[BaseGeometry | None]", old: "Sequence[dict[str, Any] | None]",
                             at: str) -> "dict[int, list[tuple[str | None, str]]]":
    """Check many features of one layer at once: the bulk form of :func:`rallypoint_validate_feature` and
    :func:`rallypoint_validate_change` (optional).

    A bulk write (``Registry.add_many``, an import) checks a hundred thousand features a column at a time;
    calling two hooks per feature through pluggy would cost it more than all its own checks. A plugin that
    implements this hook is asked it, once per layer and chunk of a bulk write, **instead of** its two
    per-feature hooks, which it still implements for single writes (an edit, an update, a restore). It must
    answer as they would: for each feature, the problems ``rallypoint_validate_feature`` would give, and,
    only when there are none, those of ``rallypoint_validate_change``. A plugin that does not implement it
    is asked its per-feature hooks for every feature, as on any write. Only features that passed the
    definition's checks and the per-feature hooks of the other plugins are handed over.

    :param layer: the layer definition (a plugin that checks one layer returns ``{}`` for the others
        before looking at the features).
    :param features: each feature's user-editable fields, normalised (a sequence of dicts, built as
        they are read).
    :param geometries: the geometries, in EPSG:4490, in the same order (``None`` for tables).
    :param old: the stored fields before the change, in the same order; ``None`` for a new feature.
    :param at: the time of the change (the batch's time stamp, UTC ISO 8601 with ``Z``).
    :returns: ``{index: [(field or None, message), …]}`` for the features with problems; ``{}`` when all
        are fine.
    """


@hookspec
def rallypoint_analyses() -> list["Analysis"]:
    """Provide analyses (capacity, coverage …) with their metadata.

    :returns: :class:`~rallypoint.analysis.Analysis` objects: name, titles, typed
        parameters with defaults, outputs, the layers they need and the function that runs
        them. They appear in ``rallypoint analyse``, the web API and QGIS Processing.
    """


@hookspec
def rallypoint_profiles() -> list["Profile"]:
    """Provide data profiles that analyses use: shelter standards, minimum needs, displacement rates.

    :returns: :class:`~rallypoint.profiles.Profile` objects (``kind``, ``name``, titles
        and a ``data`` mapping). Analyses look profiles up by kind and name.
    """


@hookspec
def rallypoint_import_formats() -> list["ImportFormat"]:
    """Provide formats and mapping profiles that ``rallypoint import`` can read.

    :returns: :class:`~rallypoint.exchange_formats.ImportFormat` objects.
    """


@hookspec
def rallypoint_value_parsers() -> list["ValueParser"]:
    """Provide the value parsers that import mapping profiles name by ``parse = "name"``.

    :returns: :class:`~rallypoint.exchange_formats.ValueParser` objects (a name, a function taking the
        source's value). A profile naming a parser no plugin provides is refused when the mappings
        are loaded; ``number`` is built in.
    """


@hookspec
def rallypoint_export_formats() -> list["ExportFormat"]:
    """Provide formats that ``rallypoint export`` can write.

    :returns: :class:`~rallypoint.exchange_formats.ExportFormat` objects.
    """


@hookspec
def rallypoint_cli_commands() -> list["click.Command"]:
    """Add commands to the ``rallypoint`` command line.

    :returns: click commands or groups; a name already taken is reported and skipped.
    """


@hookspec
def rallypoint_web_endpoints() -> list["Endpoint"]:
    """Add endpoints to the HTTP API, independent of the web framework.

    :returns: :class:`~rallypoint.web_endpoints.Endpoint` objects: method, path
        template and a handler taking a request mapping and returning
        ``(status, headers, body)``.
    """


@hookspec
def rallypoint_portal_panels() -> list["Panel"]:
    """Add panels to the web portal (``/`` in a browser): figures at a glance and links to reports.

    :returns: :class:`~rallypoint.portal.Panel` objects: an id, titles in Chinese and English, a callable
        computing the figures from a request mapping (as a web endpoint's handler gets it, plus ``lang``),
        links, and the least role that sees the figures.
    """
