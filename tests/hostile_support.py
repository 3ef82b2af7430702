"""What the hostile-input and access-control tests share: a registry copy with a key of each role, its app."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from web_support import auth, copy_registry, make_key

from rallypoint.storage import is_postgres_url
from rallypoint.web import create_app

#: Examples per fuzzed case: a few in the test suite; bench/hostile.py sets many more.
FUZZ_EXAMPLES = int(os.environ.get("RALLYPOINT_FUZZ_EXAMPLES", "0")) or None


def record(what: str, figures: dict) -> None:
    """Add a fuzz run's figures to the JSON-lines file named by RALLYPOINT_FUZZ_REPORT (bench/hostile.py's)."""
    target = os.environ.get("RALLYPOINT_FUZZ_REPORT")
    if target:
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"what": what, **figures}, default=str) + "\n")


#: None is anonymous; then a key of each role, lowest first.
ROLES = (None, "reader", "editor", "admin")
OWNERS = {"reader": "li.na", "editor": "zhang.wei", "admin": "chen.jie"}


def digest(path: Path) -> str:
    """Every row of every table of a registry (API keys and R-tree shadow tables aside) as one hash, read through
    SQLite (never GDAL: the registry may be open): "nothing changed" is "the same hash"."""
    h = hashlib.sha256()
    if is_postgres_url(path):
        return _pg_digest(path, h)
    with closing(sqlite3.connect(f"file:{Path(path).resolve().as_posix()}?mode=ro", uri=True)) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT "
                                             "LIKE 'rtree%' AND name != 'rp_api_keys' ORDER BY name")]
        for t in tables:
            h.update(t.encode())
            for row in conn.execute(f'SELECT * FROM "{t}" ORDER BY rowid'):
                h.update(repr(row).encode())
    return h.hexdigest()


def _pg_digest(url: str, h) -> str:
    """:func:`digest` of a PostGIS registry: every row of its tables (keys and PostGIS's own aside), in key order."""
    import psycopg

    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
            " AND table_type = 'BASE TABLE' AND table_name NOT IN ('rp_api_keys', 'spatial_ref_sys') ORDER BY 1")]
        for t in tables:
            h.update(t.encode())
            for row in conn.execute(f'SELECT * FROM "{t}" ORDER BY 1'):
                h.update(repr(row).encode())
    return h.hexdigest()


def api_site(sample: Path, folder: Path, location: Path | str | None = None, **config) -> dict:
    """A private copy of ``sample`` (or the registry at ``location``, a file or a PostGIS URL, already a copy),
    a key of each role, and the Flask app serving it."""
    path = location or copy_registry(sample, folder / "county.gpkg")
    keys = {role: make_key(path, OWNERS[role], role) for role in ROLES if role}
    cfg = {"TESTING": True, "RALLYPOINT_JOBS_DIR": str(folder / "jobs"), **config}
    app = create_app(path, cfg)
    headers = {None: {}, **{role: auth(key) for role, key in keys.items()}}
    return {"path": path, "keys": keys, "app": app, "client": app.test_client(), "headers": headers}


# -- the API fuzzed from its own OpenAPI document ----------------------------------------------------

@dataclass
class FuzzReport:
    """What a fuzz run tried and what failed (one line per distinct failure)."""

    operations: int = 0
    examples: int = 0
    requests: int = 0
    statuses: Counter = field(default_factory=Counter)
    failures: dict[str, str] = field(default_factory=dict)  # "METHOD path [role]: check" -> first example
    unsatisfiable: list[str] = field(default_factory=list)  # operations with no invalid request to make
    seconds: Counter = field(default_factory=Counter)  # by operation


def fuzz_api(app, headers: dict, max_examples: int, *, seed: int | None = 0,
             modes=("positive", "negative"), base_url: str | None = None,
             negative_only: tuple[str, ...] = (), only: tuple[str, ...] = ()) -> FuzzReport:
    """Every operation of the app's (or the server's at ``base_url``) ``/api``, ``max_examples`` generated
    requests per mode, each sent anonymously and with each role's key (``headers``: role -> headers); every
    answer is checked by schemathesis' checks (no 5xx, status code, content type, headers and body as
    documented) but one, said below.
    ``negative_only``: operations (label prefixes such as ``"POST /processes/"``) sent invalid requests only;
    ``only``: the operations fuzzed (label prefixes; all when empty)."""
    import schemathesis
    from hypothesis import HealthCheck, given, seed as hyp_seed, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode
    from schemathesis.core.failures import FailureGroup
    # Excluded check: "a request valid by the document is accepted". The registry's rules are more than
    # OpenAPI 3.0 can state (fields that depend on each other, tile rows and columns that depend on the zoom,
    # a bbox's corners in order, a key's role), and their refusal is the named 400 the project wants. All
    # other checks stay, "an invalid request is refused" among them.
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    if base_url:  # a real server
        schema = schemathesis.openapi.from_url(base_url + "/api")
    else:
        schema = schemathesis.openapi.from_wsgi("/api", app)
    report = FuzzReport()
    most = schema.raw_schema["components"]["parameters"]["limit"]["schema"]["maximum"]
    for result in schema.get_all_operations():
        operation = result.ok()
        if only and not operation.label.startswith(only):
            continue
        report.operations += 1
        for mode in modes:
            if mode == "positive" and operation.label.startswith(negative_only):
                continue
            strategy = operation.as_strategy(generation_mode=GenerationMode(mode))
            if mode == "negative":
                # OGC API - Features (/req/core/fc-limit-response-1): a limit above the maximum is no error, the
                # maximum is used; the document's maximum is what clients (QGIS) read as the page size
                strategy = strategy.filter(lambda case: not _above(case.query, "limit", most))

            @settings(max_examples=max_examples, deadline=None, database=None, derandomize=seed is None,
                      suppress_health_check=list(HealthCheck), phases=("explicit", "generate"))
            @given(strategy)
            def run(case):
                report.examples += 1
                for role, extra in headers.items():
                    if not base_url:  # Werkzeug's test client does not undo Flask-Compress' gzip
                        extra = {**extra, "Accept-Encoding": "identity"}
                    response = case.call(base_url=base_url, headers=extra)
                    report.requests += 1
                    report.statuses[response.status_code] += 1
                    if response.status_code == 414:
                        # gunicorn refuses a request line above its limit (8190 bytes) before the app sees it;
                        # schemathesis does not count 414 among refusals, so it would call the request accepted
                        continue
                    try:
                        case.validate_response(response, headers=extra, excluded_checks=[positive_data_acceptance])
                    except (AssertionError, FailureGroup) as exc:
                        key = f"{operation.label} [{role or 'anonymous'}]: {_failure_names(exc)}"
                        report.failures.setdefault(key, f"{case.as_curl_command(headers=extra)}\n{exc}")

            if seed is not None:
                run = hyp_seed(seed)(run)
            start = time.perf_counter()
            try:
                run()
            except Unsatisfiable:  # nothing of this operation can be made invalid (no parameters, no body)
                report.unsatisfiable.append(f"{operation.label} ({mode})")
            report.seconds[operation.label] += time.perf_counter() - start
    return report


def _above(query: dict | None, name: str, most: int) -> bool:
    try:
        return int(str((query or {}).get(name, ""))) > most
    except ValueError:
        return False


def _failure_names(exc: BaseException) -> str:
    """The names of the checks that failed (a FailureGroup holds one exception per check)."""
    inner = getattr(exc, "exceptions", None) or [exc]
    return ", ".join(sorted({getattr(e, "title", None) or type(e).__name__ for e in inner}))
