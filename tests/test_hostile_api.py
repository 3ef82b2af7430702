"""The API fuzzed from its own OpenAPI document (schemathesis), anonymously and with a key of each role.

Every operation of ``/api`` gets generated requests, valid and invalid; every answer must be
no 5xx and must conform to the document (status codes, content types, headers, bodies).
The examples are bounded so this runs in CI in about a minute; ``bench/hostile.py``
runs many more and prints the figures.
"""

from __future__ import annotations

import pytest
from conftest import require
from hostile_support import FUZZ_EXAMPLES, ROLES, api_site, fuzz_api, record

MAX_EXAMPLES = FUZZ_EXAMPLES or 2
# Valid analysis runs take seconds each (tests/test_web_processes.py runs them); here they get invalid requests only
NEGATIVE_ONLY = ("POST /processes/",)


@pytest.fixture(scope="module")
def site(county_sample, tmp_path_factory):
    # the fuzzer sends made-up keys by the hundred: the limit on refused keys would answer most of it 429
    return api_site(county_sample, tmp_path_factory.mktemp("hostile_api"),
                    RALLYPOINT_RATELIMIT_REFUSED_KEYS="100000 per minute")


def test_no_5xx_and_every_answer_conforms_to_the_document(site):
    require("schemathesis", "the API is fuzzed from its OpenAPI document")
    report = fuzz_api(site["app"], {role: site["headers"][role] for role in ROLES}, MAX_EXAMPLES,
                      negative_only=NEGATIVE_ONLY)
    record("API through the WSGI app, 4 roles", _figures(report))
    assert report.operations > 40 and report.requests > 4 * report.operations
    assert not any(status >= 500 for status in report.statuses), report.statuses
    assert not report.failures, "\n\n".join(f"{k}\n{v}" for k, v in report.failures.items())


def test_a_shorter_run_against_a_real_server(site, tmp_path):
    """The same checks through gunicorn on 127.0.0.1 (real HTTP, gzip, two workers): one example per operation
    and kind, anonymously and with an editor's key."""
    require("schemathesis", "the API is fuzzed from its OpenAPI document")
    from web_support import Server, auth, copy_registry, make_key

    path = copy_registry(site["path"], tmp_path / "county.gpkg")
    editor = make_key(path, "zhang.wei", "editor")
    server = Server(path, workers=2, extra_args=("--rate-limit-refused-keys", "100000 per minute",
                                                 "--jobs-dir", str(tmp_path / "jobs")))
    try:
        report = fuzz_api(None, {None: {}, "editor": auth(editor)}, max(1, MAX_EXAMPLES // 5), base_url=server.url,
                          negative_only=NEGATIVE_ONLY)
    finally:
        server.stop()
    record("API through gunicorn, anonymous and editor", _figures(report))
    assert report.operations > 40 and report.requests > 2 * report.operations
    assert not any(status >= 500 for status in report.statuses), report.statuses
    assert not report.failures, "\n\n".join(f"{k}\n{v}" for k, v in report.failures.items())


def _figures(report) -> dict:
    return {"operations": report.operations, "examples": report.examples, "requests": report.requests,
            "statuses": dict(sorted(report.statuses.items())), "failures": len(report.failures),
            "without invalid requests": report.unsatisfiable}
