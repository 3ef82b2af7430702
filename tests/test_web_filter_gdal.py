"""A real client filtering through the server: GDAL 3.6's OAPIF driver (ogrinfo -where / -spat) against `rallypoint serve`.

GDAL 3.6 turns an attribute filter into a server-side filter when the OpenAPI document offers
``filter-lang=cql-text`` (the draft's name of CQL2 text) and the fields are query parameters of
the items path; it sends ``filter=...&filter-lang=cql-text`` and still checks every feature it
receives on its own side. So the counts must agree with the registry, and the server's access
log must show the filter: otherwise GDAL filtered everything itself after reading the whole layer.
In CI (CI=true) a missing ogrinfo fails these tests instead of skipping them. Every test runs
against a served GeoPackage and a served PostGIS copy of the sample (``web_backend``).
"""

from __future__ import annotations

import re
import subprocess
from urllib.parse import parse_qs, unquote_plus, urlsplit

import pytest
import shapely
from conftest import StepClock, county_copy, require_program
from web_support import Server

from rallypoint import Registry

BOX = (103.66, 30.57, 103.74, 30.64)


@pytest.fixture(scope="module")
def served(request, web_backend, tmp_path_factory):
    path = county_copy(request, web_backend, "web_filter_gdal")
    with Registry.open(path, clock=StepClock()) as reg:  # a clock in May 2026: these ten are updated early
        hazards = list(reg.features("hazard_points"))
        reg.retire("hazard_points", hazards[0].uuid, author="test")
        for f in hazards[1:11]:
            reg.update("hazard_points", f.uuid, {"status": "monitoring"}, author="test")
        frame = reg.read_frame("hazard_points")
    server = Server(path, workers=1, access_log=True, log_dir=tmp_path_factory.mktemp("web_filter_gdal_log"))
    try:
        yield {"url": server.url, "server": server, "frame": frame}
    finally:
        server.stop()


def ogrinfo_count(served, *args: str) -> int:
    ogrinfo = require_program("ogrinfo", "Debian's gdal-bin 3.6")
    out = subprocess.run([ogrinfo, "-ro", "-so", "-oo", "PAGE_SIZE=1000", f"OAPIF:{served['url']}/", "hazard_points",
                          *args], capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0 and "ERROR" not in out.stderr, out.stderr
    return int(re.search(r"^Feature Count: (\d+)", out.stdout, re.MULTILINE).group(1))


def filters_sent(served) -> list[dict[str, list[str]]]:
    """The query of every items request the server logged that carried a filter."""
    found = []
    for line in served["server"].read_log().splitlines():
        m = re.search(r'"GET (/collections/hazard_points/items\?\S+) HTTP', line)
        if m:
            query = parse_qs(urlsplit(m.group(1)).query)
            if "filter" in query:
                found.append(query)
    return found


def test_ogrinfo_where_is_answered_by_the_server_with_the_registrys_count(served):
    d = served["frame"]
    want = int(((d.hazard_type == "fire_risk") & (d.threatened_people > 10)).sum())
    assert 0 < want < len(d)
    before = len(filters_sent(served))
    assert ogrinfo_count(served, "-where", "hazard_type = 'fire_risk' AND threatened_people > 10") == want
    sent = filters_sent(served)[before:]
    assert sent, "GDAL did not send the filter to the server"
    assert all(q["filter-lang"] == ["cql-text"] for q in sent)
    assert unquote_plus(sent[0]["filter"][0]) == "(hazard_type = 'fire_risk') AND (threatened_people > 10)"


def test_ogrinfo_where_with_like_or_and_a_box(served):
    d = served["frame"]
    inside = d.intersects(shapely.box(*BOX))
    sel = inside & ((d.name.str.contains("村", regex=False)) | (d.threatened_households >= 20))
    want = int(sel.sum())
    assert 0 < want < int(inside.sum())
    before = len(filters_sent(served))
    got = ogrinfo_count(served, "-spat", *map(str, BOX), "-where", "name LIKE '%村%' OR threatened_households >= 20")
    assert got == want
    sent = filters_sent(served)[before:]
    assert sent and all("bbox" in q for q in sent)


def test_ogrinfo_where_on_a_date_time_sends_a_quoted_timestamp_the_server_reads(served):
    import pandas as pd

    d = served["frame"]
    stamp = "2026-06-01T00:00:00Z"
    sel = (pd.to_datetime(d.updated_at, utc=True) < pd.Timestamp(stamp)) & (d.status == "monitoring")
    assert int(sel.sum()) == 10
    before = len(filters_sent(served))
    assert ogrinfo_count(served, "-where", f"updated_at < '{stamp}' AND status = 'monitoring'") == 10
    sent = filters_sent(served)[before:]
    assert sent and "updated_at < '2026" in unquote_plus(sent[0]["filter"][0])


def test_a_filter_that_would_overflow_the_parsers_stack_is_a_400_and_the_worker_lives(served):
    import urllib.error
    import urllib.request
    from urllib.parse import urlencode

    base = served["url"] + "/collections/hazard_points/items?"
    # gunicorn takes request lines up to 8 KB: these are as deep as fits (the first is parsed on the big stack)
    for text in ("capacity_day" + "+1" * 1900 + ">3", "(" * 1300 + "status='x'" + ")" * 1300):
        assert 4100 < len(urlencode({"filter": text})) < 8000
        try:
            urllib.request.urlopen(base + urlencode({"filter": text}), timeout=60)
            raise AssertionError("accepted")
        except urllib.error.HTTPError as exc:
            assert exc.code == 400
    with urllib.request.urlopen(base + urlencode({"filter": "threatened_people > 10", "limit": 1}), timeout=30) as r:
        assert r.status == 200
    assert served["server"].read_log().count("Booting worker") == 1  # the one worker never died and came back


def test_a_polygon_of_200_vertices_fits_in_the_url(served):
    import json
    import urllib.request
    from urllib.parse import urlencode

    ring = shapely.Point(103.7, 30.6).buffer(0.05, quad_segs=50)  # 201 vertices
    text = f"S_INTERSECTS(geometry, {shapely.to_wkt(ring, rounding_precision=6)})"
    query = urlencode({"filter": text, "limit": 1})
    assert len(query) > 4096  # past gunicorn's default request line
    with urllib.request.urlopen(served["url"] + "/collections/hazard_points/items?" + query, timeout=30) as r:
        matched = json.loads(r.read())["numberMatched"]
    assert matched == int(served["frame"].intersects(ring).sum()) > 0
