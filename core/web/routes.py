"""The blueprints: URL rules mapped onto the api functions, nothing more."""

from __future__ import annotations

from flask import Blueprint, request

from ..api import conflicts, endpoints, jobs, landing, openapi, processes
from ..api.features import changes, collections, items, transactions
from ..api.portal import page as portal_page
from ..api.portal import search
from ..api.tiles import divisions, mappage
from ..api.tiles import tilesets as tiles
from .adapter import handle, state


def features_blueprint() -> Blueprint:
    """OGC API – Features Parts 1, 2, 3 and 4: landing page, conformance, API, collections, items."""
    bp = Blueprint("features", __name__)
    rules = [
        ("/", "landing", landing.landing_page, ["GET"]),
        ("/conformance", "conformance", landing.conformance, ["GET"]),
        ("/api", "api", openapi.api_document, ["GET"]),
        ("/collections", "collections", collections.list_collections, ["GET"]),
        ("/collections/<collection_id>", "collection", collections.get_collection, ["GET"]),
        ("/collections/<collection_id>/queryables", "queryables", collections.get_queryables, ["GET"]),
    ]
    for rule, name, fn, methods in rules:
        bp.add_url_rule(rule, name, _view(fn), methods=methods)

    by_method = {"GET": items.get_items, "POST": transactions.create_item,
                 "OPTIONS": lambda ctx, req: transactions.allowed_methods(ctx, req, item=False)}
    bp.add_url_rule("/collections/<collection_id>/items", "items", _dispatch(by_method),
                    methods=list(by_method), provide_automatic_options=False)
    by_method_item = {"GET": items.get_item, "PUT": transactions.replace_item, "PATCH": transactions.update_item,
                      "DELETE": transactions.delete_item,
                      "OPTIONS": lambda ctx, req: transactions.allowed_methods(ctx, req, item=True)}
    bp.add_url_rule("/collections/<collection_id>/items/<feature_id>", "item", _dispatch(by_method_item),
                    methods=list(by_method_item), provide_automatic_options=False)
    bp.add_url_rule("/transactions", "transactions", _view(changes.post_transaction, large_body=True),
                    methods=["POST"])
    bp.add_url_rule("/conflicts", "conflicts", _view(conflicts.list_conflicts), methods=["GET"])
    bp.add_url_rule("/conflicts/<conflict_id>", "conflict", _view(conflicts.get_conflict), methods=["GET"])
    bp.add_url_rule("/conflicts/<conflict_id>/resolution", "resolution", _view(conflicts.resolve), methods=["POST"])
    return bp


def processes_blueprint() -> Blueprint:
    """OGC API – Processes: the analyses plugins provide, their execution as jobs, and the jobs."""
    bp = Blueprint("processes", __name__)
    rules = [
        ("/processes", "list", processes.list_processes, ["GET"]),
        ("/processes/<process_id>", "describe", processes.describe_process, ["GET"]),
        ("/processes/<process_id>/execution", "execute", processes.execute, ["POST"]),
        ("/jobs", "jobs", jobs.list_jobs, ["GET"]),
    ]
    # a job's routes, at /jobs/{id} (the standard's) and under its process (where they were first)
    for prefix, name in (("/jobs/<job_id>", "job"), ("/processes/<process_id>/jobs/<job_id>", "process_job")):
        rules += [
            (prefix, name, jobs.get_job, ["GET"]),
            (prefix, name + "_dismiss", jobs.dismiss_job, ["DELETE"]),
            (prefix + "/results", name + "_results", jobs.get_results, ["GET"]),
            (prefix + "/results/<output>", name + "_result", jobs.get_result, ["GET"]),
            (prefix + "/report", name + "_report", jobs.get_report, ["GET"]),
        ]
    for rule, name, fn, methods in rules:
        bp.add_url_rule(rule, name, _view(fn), methods=methods)
    return bp


def tiles_blueprint() -> Blueprint:
    """OGC API – Tiles: vector tiles of the geometry layers on WebMercatorQuad, and TileJSON."""
    bp = Blueprint("tiles", __name__)
    rules = [
        ("/tileMatrixSets", "tms_list", tiles.list_tile_matrix_sets),
        ("/tileMatrixSets/<tms_id>", "tms", tiles.get_tile_matrix_set),
    ]
    for base, prefix in (("/collections/<collection_id>/tiles", "collection_"), ("/tiles", "dataset_")):
        rules += [
            (base, prefix + "tilesets", tiles.list_tilesets),
            (base + "/<tms_id>", prefix + "tileset", tiles.get_tileset),
            (base + "/<tms_id>/tilejson.json", prefix + "tilejson", tiles.tilejson),
            (base + "/<tms_id>/<z>/<y>/<x>", prefix + "tile", tiles.get_tile),
        ]
    for rule, name, fn in rules:
        bp.add_url_rule(rule, name, _view(fn), methods=["GET"])
    return bp


def map_blueprint() -> Blueprint:
    """The web map page; its script and MapLibre GL JS are the app's static files (``static/``)."""
    bp = Blueprint("map", __name__)
    bp.add_url_rule("/map", "map", _view(mappage.map_page), methods=["GET"])
    bp.add_url_rule("/map/style.json", "style", _view(mappage.style_document), methods=["GET"])
    bp.add_url_rule("/map/divisions.json", "divisions", _view(divisions.divisions_document), methods=["GET"])
    return bp


def portal_blueprint() -> Blueprint:
    """The portal's search and its panels' figures (the portal itself is ``/`` for a browser)."""
    bp = Blueprint("portal", __name__)
    bp.add_url_rule("/search", "search", _view(search.search), methods=["GET"])
    bp.add_url_rule("/portal/panels/<panel_id>", "panel", _view(portal_page.panel_figures), methods=["GET"])
    return bp


def plugin_endpoints_blueprint(found) -> Blueprint:
    """Every :class:`~rallypoint.web_endpoints.Endpoint` that plugins provide."""
    bp = Blueprint("plugin_endpoints", __name__)
    for i, ep in enumerate(found):
        bp.add_url_rule(endpoints.flask_rule(ep.path), f"ep{i}",
                        _view(lambda ctx, req, ep=ep: endpoints.call(ctx, req, ep)), methods=[ep.method.upper()])
    return bp


def _view(fn, large_body: bool = False):
    def view(**path_params):
        if large_body:  # a push's whole change set: its own limit, above the single feature's
            request.max_content_length = state().config.max_transaction_bytes
        return handle(fn, **path_params)

    return view


def _dispatch(by_method):
    def view(**path_params):
        method = "GET" if request.method == "HEAD" else request.method
        return handle(by_method[method], **path_params)

    return view
