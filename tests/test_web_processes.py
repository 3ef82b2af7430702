"""Analyses over HTTP, plugins' own endpoints, and the ``keys`` and ``serve`` commands, on a GeoPackage file
and on a PostGIS registry (the ``site`` fixture runs the module once per backend)."""

from __future__ import annotations

import json

import geopandas as gpd
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import county_copy
from web_support import auth, make_key

from rallypoint.analysis import Analysis, AnalysisResult, Output, Parameter
from rallypoint.cli.main import cli
from rallypoint.hookspecs import hookimpl
from rallypoint.plugins import get_plugin_manager
from rallypoint.web import create_app
from rallypoint.web_endpoints import Endpoint


def _count_shelters(registry, params, ctx):
    frame = registry.read_frame("shelters", columns=["name", "capacity_night"])
    big = frame[frame["capacity_night"] >= params["min_capacity"]]
    layer = gpd.GeoDataFrame({"name": big["name"].tolist()}, geometry=list(big.geometry), crs=4490)
    table = pd.DataFrame({"scope": ["region"], "shelters": [len(big)]})
    return AnalysisResult(layers={"big_shelters": layer}, tables={"totals": table},
                          summary=[("大型场所", "Large shelters", len(big))],
                          report=lambda lang: f"<html><body>{len(big)} {params['label']}</body></html>")


COUNT = Analysis("bigshelters", "大型避难场所", "Large shelters", "统计容量不低于阈值的场所", "Shelters above a capacity",
                 (Parameter("min_capacity", "int", 1000, "最小容量", "Minimum capacity", min=0),
                  Parameter("label", "choice", "shelters", "标签", "Label", choices=("shelters", "sites"))),
                 (Output("big_shelters", "layer", "大型场所", "Large shelters"), Output("totals", "table", "合计", "Totals")),
                 _count_shelters, requires=("shelters",))


class WebPlugin:
    @hookimpl
    def rallypoint_analyses(self):
        return [COUNT]

    @hookimpl
    def rallypoint_web_endpoints(self):
        def echo(req):
            return 200, {}, {"echo": req["path_params"]["word"], "who": req["principal"], "args": req["args"]}

        def count(req):
            return 200, {"X-Plugin": "yes"}, f"{req['registry'].count('shelters')} shelters"

        return [Endpoint("GET", "/plugins/echo/{word}", echo, summary="echo"),
                Endpoint("GET", "/plugins/count", count),
                Endpoint("POST", "/plugins/echo/{word}", echo)]


@pytest.fixture(scope="module")
def site(request, web_backend, tmp_path_factory):
    folder = tmp_path_factory.mktemp("web_processes")
    path = county_copy(request, web_backend, "web_processes")
    keys = {"reader": make_key(path, "li.na", "reader"), "editor": make_key(path, "zhang.wei", "editor")}
    pm = get_plugin_manager(entrypoints=False, extra=[("webplugin", WebPlugin())])
    app = create_app(path, {"TESTING": True, "RALLYPOINT_PLUGINS": pm, "RALLYPOINT_JOBS_DIR": str(folder / "jobs")})
    return {"client": app.test_client(), "path": path, "keys": keys, "jobs": folder / "jobs", "backend": web_backend}


@pytest.fixture(scope="module")
def client(site):
    return site["client"]


def test_processes_lists_the_plugins_analyses_with_their_inputs(client):
    doc = client.get("/processes").get_json()
    assert [p["id"] for p in doc["processes"]] == ["bigshelters"]
    desc = client.get("/processes/bigshelters").get_json()
    assert desc["inputs"]["min_capacity"]["schema"] == {"type": "integer", "minimum": 0, "default": 1000}
    assert desc["inputs"]["label"]["schema"]["enum"] == ["shelters", "sites"]
    assert set(desc["outputs"]) == {"big_shelters", "totals"}
    assert client.get("/processes/nothing").status_code == 404
    assert client.get("/processes?f=html").mimetype == "text/html"
    assert "/processes/bigshelters/execution" in client.get("/api").get_json()["paths"]


def test_running_an_analysis_needs_a_key_and_returns_its_summary_and_results(site, client):
    body = json.dumps({"inputs": {"min_capacity": 500, "label": "sites"}})
    url = "/processes/bigshelters/execution"
    assert client.post(url, data=body, content_type="application/json").status_code == 401
    r = client.post(url, data=body, content_type="application/json", headers=auth(site["keys"]["reader"]))
    assert r.status_code == 200, r.get_json()
    job = r.get_json()
    assert job["status"] == "successful" and job["summary"][0]["label_en"] == "Large shelters"
    n = job["summary"][0]["value"]
    links = {link["title"].split(" ")[0]: link["href"].replace("http://localhost", "") for link in job["links"]}
    layer = client.get(links["big_shelters"])
    assert layer.mimetype == "application/geo+json" and len(layer.get_json()["features"]) == n > 0
    assert layer.get_json()["features"][0]["geometry"]["type"] == "Point"
    totals = client.get(links["totals"]).get_json()
    assert totals["features"][0]["properties"] == {"scope": "region", "shelters": n}
    report = client.get(links["Report"])
    assert report.mimetype == "text/html" and f"{n} sites" in report.get_data(as_text=True)
    assert client.get(f"/processes/bigshelters/jobs/{job['jobID']}").get_json()["jobID"] == job["jobID"]
    assert (site["jobs"] / job["jobID"] / "result.gpkg").is_file()


@pytest.mark.parametrize("body, status, words", [
    ({"inputs": {"min_capacity": -5}}, 400, "minimum"),
    ({"inputs": {"min_capacity": "many"}}, 400, "whole number"),
    ({"inputs": {"label": "dogs"}}, 400, "label"),
    ({"inputs": {"radius": 3}}, 400, "radius"),
    ({"inputs": [1]}, 400, "inputs"),
    ({"inputz": {}}, 400, "inputz"),
])
def test_bad_inputs_are_400(site, client, body, status, words):
    r = client.post("/processes/bigshelters/execution", data=json.dumps(body), content_type="application/json",
                    headers=auth(site["keys"]["reader"]))
    assert r.status_code == status and words in r.get_json()["description"]


def _run(site, client, key="reader"):
    r = client.post("/processes/bigshelters/execution", data=json.dumps({"inputs": {"min_capacity": 500}}),
                    content_type="application/json", headers=auth(site["keys"][key]))
    assert r.status_code == 200, r.get_json()
    return r.get_json()["jobID"]


def test_a_run_is_dismissed_by_its_author_or_an_admin_only(site, client):
    job = _run(site, client, "reader")
    url = f"/processes/bigshelters/jobs/{job}"
    assert client.delete(url).status_code == 401
    other = client.delete(url, headers=auth(site["keys"]["editor"]))
    assert other.status_code == 403 and "li.na" in other.get_json()["description"]
    assert (site["jobs"] / job / "job.json").is_file()
    r = client.delete(url, headers=auth(site["keys"]["reader"]))
    assert r.status_code == 200 and r.get_json()["status"] == "dismissed"
    assert not (site["jobs"] / job).exists() and client.get(url).status_code == 404
    admin = make_key(site["path"], "root", "admin")
    job = _run(site, client, "editor")
    assert client.delete(f"/processes/bigshelters/jobs/{job}", headers=auth(admin)).status_code == 200
    assert "delete" in client.get("/api").get_json()["paths"]["/processes/{processId}/jobs/{jobId}"]


def test_old_and_unfinished_runs_are_swept(site, client):
    import os
    import time

    from rallypoint.jobs.records import sweep_jobs

    old, fresh = _run(site, client), _run(site, client)
    week_ago = time.time() - 8 * 24 * 3600
    os.utime(site["jobs"] / old / "job.json", (week_ago, week_ago))
    dead = site["jobs"] / ("d" * 32)
    dead.mkdir()
    (dead / "result.gpkg").write_bytes(b"half written")
    os.utime(dead, (time.time() - 7200, time.time() - 7200))
    running = site["jobs"] / ("e" * 32)
    running.mkdir()  # no manifest yet, but young: a run still going
    stranger = site["jobs"] / "notes"
    stranger.mkdir()  # not a job folder: never touched
    newest = _run(site, client)  # every run sweeps first
    left = {p.name for p in site["jobs"].iterdir()}
    assert old not in left and dead.name not in left
    assert {fresh, newest, running.name, "notes"} <= left
    finished = {p.name for p in site["jobs"].iterdir() if (p / "job.json").is_file()}
    assert set(sweep_jobs(site["jobs"], 0.0, now=time.time() + 1)) == finished  # a zero TTL: every finished run
    assert {p.name for p in site["jobs"].iterdir()} == {running.name, "notes"}


def test_unknown_jobs_and_results_are_404(client):
    assert client.get("/processes/bigshelters/jobs/../../etc").status_code == 404
    assert client.get("/processes/bigshelters/jobs/" + "0" * 32).status_code == 404
    assert client.get("/processes/bigshelters/jobs/" + "0" * 32 + "/results/totals").status_code == 404


def test_plugin_endpoints_are_served(site, client):
    r = client.get("/plugins/echo/避难?x=1")
    assert r.status_code == 200 and r.get_json() == {"echo": "避难", "who": None, "args": {"x": "1"}}
    r = client.get("/plugins/count")
    assert r.get_data(as_text=True) == "60 shelters" and r.headers["X-Plugin"] == "yes"
    assert client.post("/plugins/echo/x").status_code == 401  # a plugin's write path needs an editor
    assert client.post("/plugins/echo/x", headers=auth(site["keys"]["reader"])).status_code == 403
    r = client.post("/plugins/echo/x", headers=auth(site["keys"]["editor"]))
    assert r.get_json()["who"] == {"name": "zhang.wei", "role": "editor"}


def test_keys_command_adds_lists_and_revokes(site, request):
    path = county_copy(request, site["backend"], "keys")
    runner = CliRunner()
    out = runner.invoke(cli, ["keys", "add", str(path), "wang.fang", "--role", "editor"])
    assert out.exit_code == 0, out.output
    key = out.output.strip().splitlines()[-1]
    assert key.startswith("rp_")
    listed = runner.invoke(cli, ["keys", "list", str(path)]).output
    assert "wang.fang" in listed and "editor" in listed and key.split("_", 2)[2] not in listed
    client = create_app(path, {"TESTING": True}).test_client()
    assert client.get("/collections/shelters/items?limit=1", headers=auth(key)).status_code == 200
    assert runner.invoke(cli, ["keys", "revoke", str(path), "wang.fang"]).exit_code == 0
    r = client.get("/collections/shelters/items?limit=1", headers=auth(key))
    assert r.status_code == 401 and "revoked" in r.get_json()["description"]
    assert runner.invoke(cli, ["keys", "revoke", str(path), "nobody"]).exit_code != 0
    assert runner.invoke(cli, ["keys", "add", str(path), "x", "--role", "god"]).exit_code != 0


def test_serve_command_refuses_a_file_that_is_not_a_registry(tmp_path):
    bad = tmp_path / "not.gpkg"
    bad.write_text("hello")
    out = CliRunner().invoke(cli, ["serve", str(bad), "--port", "1"])
    assert out.exit_code == 1 and "not a GeoPackage" in out.output
    assert "--workers" in CliRunner().invoke(cli, ["serve", "--help"]).output


def test_without_an_engine_runs_answer_synchronously_and_are_jobs_all_the_same(site, client):
    """An app without a job engine (``create_app`` alone, ``serve --job-workers 0``) offers synchronous execution
    only: ``Prefer: respond-async`` is answered 200 with the ended job, which /jobs/{id} then shows."""
    desc = client.get("/processes/bigshelters").get_json()
    assert desc["jobControlOptions"] == ["sync-execute", "dismiss"]
    r = client.post("/processes/bigshelters/execution", data=json.dumps({"inputs": {"min_capacity": 500}}),
                    content_type="application/json", headers={**auth(site["keys"]["reader"]), "Prefer": "respond-async"})
    assert r.status_code == 200 and "Preference-Applied" not in r.headers
    job = r.get_json()
    assert job["status"] == "successful" and job["type"] == "process" and job["progress"] == 100
    assert r.headers["Location"].endswith(f"/jobs/{job['jobID']}")
    status = client.get(f"/jobs/{job['jobID']}").get_json()
    assert status["status"] == "successful" and status["created"] <= status["finished"]
    results = client.get(f"/jobs/{job['jobID']}/results").get_json()
    assert set(results) == {"big_shelters", "totals"} and results["totals"]["type"] == "application/geo+json"
    page = client.get(f"/jobs/{job['jobID']}?f=html&lang=en").get_data(as_text=True)
    assert "finished" in page and "Large shelters" in page and 'http-equiv="refresh"' not in page
    r = client.post("/processes/bigshelters/execution", content_type="application/json",
                    data=json.dumps({"inputs": {}, "response": "document"}), headers=auth(site["keys"]["reader"]))
    assert set(r.get_json()) == {"big_shelters", "totals"}
    mine = client.get("/jobs", headers=auth(site["keys"]["reader"])).get_json()["jobs"]
    assert job["jobID"] in [j["jobID"] for j in mine]
    theirs = client.get("/jobs", headers=auth(site["keys"]["editor"])).get_json()["jobs"]
    assert job["jobID"] not in [j["jobID"] for j in theirs]
    assert client.get("/jobs?status=lost", headers=auth(site["keys"]["reader"])).status_code == 400
    missing = client.get("/jobs/" + "0" * 32)
    assert missing.status_code == 404 and missing.get_json()["type"].endswith("/no-such-job")
