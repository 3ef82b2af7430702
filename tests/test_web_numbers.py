"""Every number a request can carry is bounded before it reaches SQL: swept against a real server
(``rallypoint serve``) on a GeoPackage and on a PostGIS copy of the county sample (``web_backend``).

The numeric parameters come from the server's own OpenAPI document (``/api``), so a parameter added later is
swept too: limits, offsets, bbox numbers, every numeric property filter of every collection, tile matrix, row
and column; the ids in paths (features, jobs, results) get the same numbers. Every numeric queryable of every
collection is also swept as a CQL2 literal (text and JSON), and every numeric input of every analysis as a
JSON number. Each value is huge (beyond 64 bits), negative, not finite, a fraction where a whole number is due,
or the largest whole number stored. No answer may be a 5xx; a refusal is a 400 whose description names the
parameter; and what can never be right (a number that is not finite, a fraction for a whole number, a whole
number beyond 64 bits, a value outside the document's minimum/maximum) must be refused, not answered.
An id in a path that no feature or job has is a 404 (OGC API - Features: a path parameter with an incorrect
value), never a 5xx.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request

import pytest
from conftest import county_copy
from web_support import Server, make_key

INT64_MIN, INT64_MAX = -2 ** 63, 2 ** 63 - 1  # SQLite's INTEGER, PostgreSQL's bigint
HUGE = ["24451257147581333504", "-24451257147581333504", str(INT64_MAX + 1), str(INT64_MIN - 1), "1e30", "-1e30",
        "1" + "0" * 400, "9" * 5000]
NONFINITE = ["inf", "-inf", "nan", "Infinity", "NaN", "1e400", "-1e400"]
NEGATIVE = ["-1", str(INT64_MIN)]
FRACTION = ["1.5", "0.000001"]
EDGE = [str(INT64_MAX), "0"]  # the largest whole number stored: valid, and no sum or product with it may overflow
KINDS = {"huge": HUGE, "nonfinite": NONFINITE, "negative": NEGATIVE, "fraction": FRACTION, "edge": EDGE}
# a whole number is always refused when it is one of these (a limit above the maximum is clamped, as OGC API -
# Features /req/core/fc-limit-response-1 wants: "huge" is no error there)
ALWAYS_BAD_WHOLE = ("huge", "nonfinite", "fraction")
VALID_TILE = {"tileMatrix": "5", "tileRow": "13", "tileCol": "25"}  # a tile of the county at zoom 5
BBOX = ["103.5", "30.4", "104.2", "31.0"]


@pytest.fixture(scope="module")
def served(request, web_backend, tmp_path_factory):
    path = county_copy(request, web_backend, "web_numbers")
    editor = make_key(path, "zhang.wei", "editor")
    server = Server(path, workers=2, log_dir=tmp_path_factory.mktemp("web_numbers_log"),
                    extra_args=("--jobs-dir", str(tmp_path_factory.mktemp("web_numbers_jobs")),
                                "--rate-limit-refused-keys", "100000 per minute"))
    try:
        yield {"url": server.url, "editor": editor, "server": server}
    finally:
        server.stop()


def call(url: str, method: str = "GET", body: bytes | None = None, headers: dict | None = None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read()


def get_json(url: str):
    status, _, body = call(url)
    assert status == 200, (url, status, body[:300])
    return json.loads(body)


class Sweep:
    """The requests sent and what was wrong with their answers."""

    def __init__(self, base: str):
        self.base = base
        self.sent = 0
        self.problems: list[str] = []

    def check(self, url: str, named: str, must_refuse: bool, method: str = "GET", body: bytes | None = None,
              headers: dict | None = None, tolerated: tuple[int, ...] = (200, 204, 400, 404)) -> int:
        status, ctype, answer = call(self.base + url, method, body, headers)
        self.sent += 1
        shown = f"{method} {url}" + (f" {body[:120]!r}" if body else "")
        if status >= 500 or status not in tolerated:
            self.problems.append(f"{status} for {shown}: {answer[:200]!r}")
            return status
        if must_refuse and status != 400:
            self.problems.append(f"{status} (not 400) for {shown}")
        if status == 400:
            description = json.loads(answer).get("description", "") if "json" in ctype else ""
            if named.lower() not in description.lower():
                self.problems.append(f"400 for {shown} does not name {named!r}: {description[:200]!r}")
        return status


def _resolve(doc: dict, param: dict) -> dict:
    if "$ref" in param:
        return doc["components"]["parameters"][param["$ref"].rsplit("/", 1)[1]]
    return param


def _numeric(schema: dict) -> str | None:
    """``integer`` or ``number`` for a numeric parameter, ``array`` for a list of numbers (bbox), else None."""
    if schema.get("type") in ("integer", "number"):
        return schema["type"]
    if schema.get("type") == "array" and schema.get("items", {}).get("type") in ("integer", "number"):
        return "array"
    return None


def _outside_declared(schema: dict, value: str) -> bool:
    try:
        v = int(value)  # exactly: 2^63 - 1 is no more than the maximum 2^63 - 1 (as a double, it is 2^63)
    except ValueError:
        try:
            v = float(value)
        except ValueError:
            return False
    return ("maximum" in schema and v > schema["maximum"]) or ("minimum" in schema and v < schema["minimum"])


def _must_refuse(kind: str, value: str, typ: str, schema: dict, name: str) -> bool:
    if kind == "nonfinite":
        return True
    if typ == "integer" and kind in ALWAYS_BAD_WHOLE:
        return not (name == "limit" and kind == "huge" and not value.startswith("-"))
    return _outside_declared(schema, value) and name != "limit"


def test_every_numeric_parameter_of_the_api_document_is_bounded(served):
    base = served["url"]
    doc = get_json(base + "/api")
    feature = get_json(base + "/collections/shelters/items?limit=1")["features"][0]["id"]
    process = get_json(base + "/processes")["processes"][0]["id"]
    fill = {"featureId": feature, "processId": process, "jobId": "0" * 32, "output": "result", "conflictId": "1",
            "tileMatrixSetId": "WebMercatorQuad", **VALID_TILE}
    sweep = Sweep(base)
    swept: set[str] = set()
    for template, operations in doc["paths"].items():
        op = operations.get("get")
        if op is None:
            continue
        params = [_resolve(doc, p) for p in op.get("parameters", [])]
        # a route that needs a key is swept with the editor's: its numbers are checked, not its key
        headers = {"Authorization": f"Bearer {served['editor']}"} if op.get("security") else None
        path_values = {}
        for p in params:
            if p["in"] == "path":
                enum = p.get("schema", {}).get("enum")
                path_values[p["name"]] = enum[0] if enum else fill[p["name"]]

        def url_for(override: dict[str, str], query: str = "") -> str:
            values = {**path_values, **override}
            path = template
            for k, v in values.items():
                path = path.replace("{" + k + "}", urllib.parse.quote(v, safe=""))
            return path + ("?" + query if query else "")

        for p in params:
            schema = p.get("schema", {})
            typ = _numeric(schema)
            an_id = p["in"] == "path" and schema.get("type") == "string" and "enum" not in schema
            if typ is None and not an_id:
                continue
            swept.add(p["name"])
            for kind, values in KINDS.items():
                for value in values:
                    if p["in"] == "path":
                        refuse = typ is not None and _must_refuse(kind, value, typ, schema, p["name"])
                        # an id that is a number is no feature, job or result: 404 (or 400) is the answer
                        sweep.check(url_for({p["name"]: value}), p["name"], refuse, headers=headers)
                    elif typ == "array":  # bbox: each of its numbers in turn
                        for i in range(4):
                            box = list(BBOX)
                            box[i] = value
                            refuse = kind in ("huge", "nonfinite")  # beyond -180..180 / -90..90, or not finite
                            sweep.check(url_for({}, urllib.parse.urlencode({p["name"]: ",".join(box)})),
                                        p["name"], refuse, headers=headers)
                    else:
                        refuse = _must_refuse(kind, value, typ, schema, p["name"])
                        sweep.check(url_for({}, urllib.parse.urlencode({p["name"]: value})), p["name"], refuse,
                                    headers=headers)
    assert {"limit", "offset", "bbox", "tileMatrix", "tileRow", "tileCol", "featureId", "jobId", "version",
            "members", "capacity_day", "quantity", "conflictId"} <= swept, swept
    assert sweep.sent > 2000
    assert not sweep.problems, f"{len(sweep.problems)} of {sweep.sent} answers wrong:\n" + "\n".join(
        sweep.problems[:60])


def _beyond(value: str, exact: bool) -> bool:
    """Whether a CQL2 number literal lies outside what a filter compares: not finite, or beyond 64-bit whole
    numbers (``exact``: as JSON reads it, a whole number exactly; else as a double, as CQL2 text is read)."""
    try:
        number = json.loads(value) if exact else float(value)
    except ValueError:
        return True  # not a number at all (inf, NaN, or more digits than a number may have): refused anyway
    return not (isinstance(number, int) or math.isfinite(number)) or not INT64_MIN <= number <= INT64_MAX


def test_every_numeric_property_of_every_collection_is_bounded_as_a_cql2_literal(served):
    base = served["url"]
    sweep = Sweep(base)
    properties = 0
    for collection in get_json(base + "/collections")["collections"]:
        cid = collection["id"]
        queryables = get_json(f"{base}/collections/{cid}/queryables")["properties"]
        for name, schema in queryables.items():
            if schema.get("type") not in ("integer", "number"):
                continue
            properties += 1
            for kind, values in KINDS.items():
                for value in values:
                    # beyond 64 bits (or not finite) is refused; a fraction or a negative number is a fair comparison.
                    # CQL2 text's numbers are doubles (the reference parser reads them so): -2^63 - 1 is -2^63 there
                    for op in ("=", "<"):
                        text = f"{name} {op} {value}"
                        sweep.check(f"/collections/{cid}/items?" + urllib.parse.urlencode({"filter": text}),
                                    "filter", _beyond(value, exact=False))
                    if value.lstrip("-").replace(".", "", 1).replace("e", "", 1).isdigit():  # a JSON number
                        cql = '{"op": "=", "args": [{"property": "%s"}, %s]}' % (name, value)
                        sweep.check(f"/collections/{cid}/items?" + urllib.parse.urlencode(
                            {"filter": cql, "filter-lang": "cql2-json"}), "filter", _beyond(value, exact=True))
    assert properties >= 15
    assert not sweep.problems, f"{len(sweep.problems)} of {sweep.sent} answers wrong:\n" + "\n".join(
        sweep.problems[:60])


def test_every_numeric_input_of_every_analysis_is_bounded(served):
    """The analyses' numeric inputs, as JSON numbers in an execution request: only values the document itself
    rules out are sent (so nothing runs), and each must be refused with the input named."""
    base = served["url"]
    doc = get_json(base + "/api")
    sweep = Sweep(base)
    inputs = 0
    headers = {"Authorization": f"Bearer {served['editor']}", "Content-Type": "application/json"}
    for path, operations in doc["paths"].items():
        if not path.endswith("/execution"):
            continue
        schema = operations["post"]["requestBody"]["content"]["application/json"]["schema"]
        for name, s in schema["properties"]["inputs"]["properties"].items():
            typ = s.get("type")
            if typ not in ("integer", "number"):
                continue
            inputs += 1
            bad = ["24451257147581333504", "-24451257147581333504", "1e308", "-1e308"]
            if typ == "integer":
                bad += ["1.5"]
            for value in bad:
                if typ == "number" and not _outside_declared(s, value):
                    continue
                body = ('{"inputs": {"%s": %s}}' % (name, value)).encode()
                sweep.check(path, name, True, "POST", body, headers)
            for text in ("1e400", "NaN", "Infinity"):  # not JSON numbers: the body itself is refused
                body = ('{"inputs": {"%s": %s}}' % (name, text)).encode()
                sweep.check(path, "", True, "POST", body, headers)
    assert inputs >= 10
    assert not sweep.problems, f"{len(sweep.problems)} of {sweep.sent} answers wrong:\n" + "\n".join(
        sweep.problems[:60])
