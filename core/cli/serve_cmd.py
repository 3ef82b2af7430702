"""``rallypoint serve REGISTRY``: the HTTP API (OGC API – Features, Tiles, Processes) under gunicorn.

Analyses run as jobs on a Dask cluster, never in the request workers: by default a local one that this
command starts beside gunicorn and stops with it (:mod:`rallypoint.jobs.cluster`: ``--job-workers`` single-
threaded worker processes at a lower CPU priority), or, when ``RALLYPOINT_DASK_SCHEDULER`` names one, that
cluster. ``--job-workers 0`` runs analyses inside the request workers, as before jobs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import click

from ..jobs.engine import SCHEDULER_ENV
from ..storage import backend_for
from .common import open_registry, registry_argument


def gunicorn_options(host: str, port: int, workers: int, threads: int, timeout: int, access_log: bool) -> dict:
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        # gthread always: a sync worker holds a connection until it closes, and a browser keeps idle
        # (pre)connections open, so one map or page stalled a sync worker until its timeout (300 s);
        # gthread parks idle keep-alive connections in its poller, whatever its number of threads
        "worker_class": "gthread",
        "timeout": timeout,
        "graceful_timeout": 10,
        "keepalive": 5,
        # CQL2 filters travel in the URL, polygons and all: gunicorn's largest request line, not its 4 KB default
        "limit_request_line": 8190,
        "preload_app": True,
        "accesslog": "-" if access_log else None,
        "errorlog": "-",
        "loglevel": "info",
        "control_socket_disable": True,  # gunicorn ≥ 24: no shared control socket, so several servers can run
    }


def run_gunicorn_app(load_app: Callable[[], Any], options: dict) -> None:
    """Run the WSGI app that ``load_app()`` returns under gunicorn with ``options`` (from :func:`gunicorn_options`)."""
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):
        def load_config(self):
            for key, value in options.items():
                if value is not None and key in self.cfg.settings:
                    self.cfg.set(key, value)

        def load(self):
            return load_app()

    Server().run()


def run_gunicorn(registry: str | Path, options: dict, config: dict | None = None) -> None:
    from ..web import create_app

    run_gunicorn_app(lambda: create_app(registry, config), options)


@click.command()
@registry_argument
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True, help="Worker processes.")
@click.option("--threads", type=click.IntRange(min=1), default=4, show_default=True,
              help="Threads per worker (gunicorn's gthread workers, with keep-alive).")
@click.option("--timeout", type=click.IntRange(min=1), default=300, show_default=True,
              help="Seconds a request may take.")
@click.option("--access-log", is_flag=True, help="Log every request on standard output.")
@click.option("--jobs-dir", type=click.Path(file_okay=False), default=None,
              help="Where analysis runs keep their results (default: a folder under the system's temp folder).")
@click.option("--rate-limit-writes", default=None, metavar="LIMIT",
              help="Writes a key may make, e.g. '1000 per minute' (the default).")
@click.option("--rate-limit-refused-keys", default=None, metavar="LIMIT",
              help="Refused API keys an address may send, e.g. '10 per minute' (the default); over it, keys from "
                   "that address whose id the registry does not know are answered 429 unchecked. A valid key is "
                   "never refused.")
@click.option("--rate-limit-refused-per-key", default=None, metavar="LIMIT",
              help="Refused tries of one key id (rp_<id>_…), e.g. '10 per minute' (the default); over it, keys "
                   "with that id are answered 429 unchecked, except a key the server has verified before.")
@click.option("--rate-limit-signin", default=None, metavar="LIMIT",
              help="Failed sign-ins an address may make before the sign-in form refuses it, e.g. '10 per minute' "
                   "(the default).")
@click.option("--session-hours", type=click.FloatRange(min=0.1, max=24 * 30), default=None,
              help="How long a browser's sign-in lasts (default: 8 hours).")
@click.option("--secure-cookies", is_flag=True,
              help="Mark the sign-in cookies Secure (behind an https proxy; over https itself they are anyway).")
@click.option("--job-workers", type=click.IntRange(min=0), default=2, show_default=True,
              help="Analyses that run at once on the local job cluster (one worker process each); 0: analyses run "
                   "inside the request workers. Not used when RALLYPOINT_DASK_SCHEDULER names a cluster.")
@click.option("--job-nice", type=click.IntRange(0, 19), default=10, show_default=True,
              help="How much lower the job workers' CPU priority is than the request workers'.")
@click.option("--sync-wait", type=click.FloatRange(min=0), default=10.0, show_default=True,
              help="Seconds a run asked without 'Prefer: respond-async' is waited for before it is answered "
                   "as a job (201).")
def serve(registry, host, port, workers, threads, timeout, access_log, jobs_dir, rate_limit_writes,
          rate_limit_refused_keys, rate_limit_refused_per_key, rate_limit_signin, session_hours, secure_cookies,
          job_workers, job_nice, sync_wait):
    """Serve REGISTRY over HTTP: OGC API – Features (read, and write with an editor's key) and the analyses.

    \b
      rallypoint serve county.gpkg --port 8000 --workers 2
      rallypoint serve postgresql://reader@db.example/registry    # a PostGIS registry
      ogrinfo OAPIF:http://127.0.0.1:8000/        # GDAL; QGIS: Layer › Add WFS / OGC API – Features
    Keys for writing: rallypoint keys add county.gpkg zhang.wei --role editor
    Staff signing in with a browser at /: rallypoint accounts add county.gpkg li.na --role reader
    Analyses run as jobs on a local Dask cluster started with the server (or RALLYPOINT_DASK_SCHEDULER's).
    """
    open_registry(registry).close()  # fail here, clearly, rather than in every worker
    given = {"RALLYPOINT_JOBS_DIR": jobs_dir, "RALLYPOINT_RATELIMIT_WRITES": rate_limit_writes,
             "RALLYPOINT_RATELIMIT_REFUSED_KEYS": rate_limit_refused_keys,
             "RALLYPOINT_RATELIMIT_REFUSED_PER_KEY": rate_limit_refused_per_key,
             "RALLYPOINT_RATELIMIT_SIGNIN": rate_limit_signin, "RALLYPOINT_SESSION_HOURS": session_hours,
             "RALLYPOINT_SESSION_SECURE": secure_cookies}
    config = {k: v for k, v in given.items() if v}
    config["RALLYPOINT_SYNC_SECONDS"] = sync_wait
    from ..web.ratelimit import ConfigError, rate_limits

    try:
        rate_limits(config)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    where = backend_for(registry).absolute
    options = gunicorn_options(host, port, workers, threads, timeout, access_log)
    remote = os.environ.get(SCHEDULER_ENV, "").strip()
    if remote or job_workers == 0:  # that cluster (the app reads the variable too), or none: in the requests
        run_gunicorn(where, options, config)
        return
    from ..api.config import ApiConfig
    from ..jobs.cluster import local_cluster

    jobs_root = Path(jobs_dir) if jobs_dir else ApiConfig(registry_path=where).job_root()
    with local_cluster(jobs_root / ".cluster", job_workers, job_nice) as scheduler_file:
        config["RALLYPOINT_JOBS_SCHEDULER_FILE"] = str(scheduler_file)
        run_gunicorn(where, options, config)
