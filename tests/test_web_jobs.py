"""Analyses as jobs over HTTP (OGC API – Processes, asynchronous execution and dismissal), on a real server
(`rallypoint serve`, gunicorn with two workers, and the local Dask cluster it starts), on a GeoPackage file and
on a PostGIS registry (the module runs once per backend).

Besides Rallypoint's own analyses, an outside plugin (tests/jobs_plugin.py, installed through an entry point
as any plugin is) brings ``paced``, which walks through timed steps, so that a test acts on a job that is
surely running: dismiss it, kill the process running it, read the map meanwhile.
"""

from __future__ import annotations

import json
import math
import os
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest
from conftest import county_copy, require
from web_support import Server, make_key

from rallypoint import Registry

HERE = Path(__file__).resolve().parent


def http(method: str, url: str, body=None, key: str | None = None, headers: dict | None = None):
    """(status, headers, body bytes) of one request; errors are answers too."""
    h = dict(headers or {})
    if key:
        h["Authorization"] = f"Bearer {key}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, headers=h, method=method)
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def get_json(url: str, key: str | None = None):
    status, _, body = http("GET", url, key=key)
    return status, json.loads(body)


@pytest.fixture(scope="module")
def site(request, web_backend, tmp_path_factory):
    require("distributed", "the job engine")
    folder = tmp_path_factory.mktemp("web_jobs")
    # the outside plugin: its module in tests/, its distribution metadata (an entry point) written here
    dist = folder / "site" / "rallypoint_jobs_test-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: rallypoint-jobs-test\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[rallypoint]\njobs_test = jobs_plugin\n")
    path = county_copy(request, web_backend, "web_jobs")
    keys = {"reader": make_key(path, "li.na", "reader"), "other": make_key(path, "wang.fang", "reader"),
            "admin": make_key(path, "root", "admin")}
    jobs = folder / "jobs"
    env = {"PYTHONPATH": os.pathsep.join([str(folder / "site"), str(HERE), os.environ.get("PYTHONPATH", "")])}
    server = Server(path, workers=2, log_dir=folder, env=env,
                    extra_args=("--jobs-dir", str(jobs), "--job-workers", "2", "--sync-wait", "90"))
    with Registry.open(path) as reg:
        shelter = next(reg.features("shelters"))
    yield {"url": server.url, "keys": keys, "jobs": jobs, "server": server, "shelter": shelter}
    server.stop()


def start(site, process: str, inputs: dict, key: str = "reader", prefer: str = "respond-async"):
    status, headers, body = http("POST", f"{site['url']}/processes/{process}/execution", {"inputs": inputs},
                                 key=site["keys"][key], headers={"Prefer": prefer} if prefer else None)
    return status, headers, json.loads(body)


def until(site, job: str, predicate, what: str, timeout: float = 180):
    """Poll the job's status until ``predicate(doc)``; its last status document."""
    end = time.monotonic() + timeout
    while True:
        status, doc = get_json(f"{site['url']}/jobs/{job}")
        assert status == 200, doc
        if predicate(doc):
            return doc
        if time.monotonic() > end:
            pytest.fail(f"job {job} never {what}: {doc}\n{site['server'].read_log()[-3000:]}")
        time.sleep(0.2)


def running(doc) -> bool:
    assert doc["status"] in ("accepted", "running"), doc
    return doc["status"] == "running" and doc.get("progress", 0) > 0


def cluster_view(site) -> str:
    """What the cluster's scheduler says: its workers and the tasks each runs or holds (for failure messages)."""
    from dask.distributed import Client

    scheduler = json.loads((site["jobs"] / ".cluster" / "scheduler.json").read_text())["address"]
    with Client(scheduler, timeout=20, set_as_default=False) as client:
        return f"workers {sorted(client.scheduler_info()['workers'])}, processing {client.processing()}"


def cluster_ready(site, workers: int = 2, timeout: float = 300) -> None:
    """Wait until the cluster has ``workers`` workers and runs nothing (workers a test ended are back)."""
    from dask.distributed import Client

    scheduler = json.loads((site["jobs"] / ".cluster" / "scheduler.json").read_text())["address"]
    with Client(scheduler, timeout=20, set_as_default=False) as client:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            busy = client.processing()
            if len(busy) >= workers and not any(busy.values()):
                return
            time.sleep(0.5)
    pytest.fail(f"the cluster is not back to {workers} idle workers: {cluster_view(site)}")


def worker_of(site, job: str) -> int:
    """The process id of the Dask worker running ``job``, as the cluster's scheduler says."""
    from dask.distributed import Client

    scheduler = json.loads((site["jobs"] / ".cluster" / "scheduler.json").read_text())["address"]
    with Client(scheduler, timeout=20, set_as_default=False) as client:
        end = time.monotonic() + 60
        while time.monotonic() < end:
            for worker, keys in client.processing().items():
                if f"rallypoint-job-{job}" in keys:
                    return client.run(os.getpid, workers=[worker])[worker]
            time.sleep(0.2)
    pytest.fail(f"no worker of the cluster runs job {job}")


def gone(pid: int, timeout: float = 60) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            return True
        time.sleep(0.2)
    return False


def test_an_async_job_answers_201_and_its_status_progress_and_results_follow(site):
    status, headers, doc = start(site, "coverage", {"hazard": "flood", "minutes": "10,30"})
    assert status == 201, doc
    assert headers["Location"] == f"{site['url']}/jobs/{doc['jobID']}"
    assert headers["Preference-Applied"] == "respond-async"
    assert doc["type"] == "process" and doc["processID"] == "coverage" and doc["status"] in ("accepted", "running")
    assert any(link["rel"] == "monitor" for link in doc["links"])
    job = doc["jobID"]
    done = until(site, job, lambda d: d["status"] not in ("accepted", "running"), "ended")
    assert done["status"] == "successful" and done["progress"] == 100, done
    assert done["started"] <= done["finished"] and done["summary"]
    status, results = get_json(f"{site['url']}/jobs/{job}/results")
    assert status == 200 and set(results) == set(done["outputs"]) and "coverage_region" in results
    region = json.loads(http("GET", results["coverage_region"]["href"])[2])
    assert region["features"][0]["properties"]["covered_30min"] > 0
    status, headers, report = http("GET", f"{site['url']}/jobs/{job}/report")
    assert status == 200 and headers["Content-Type"].startswith("text/html") and b"<html" in report
    assert (site["jobs"] / job / "result.gpkg").is_file()
    # the same job under its process, as the routes were before jobs
    assert get_json(f"{site['url']}/processes/coverage/jobs/{job}")[1]["status"] == "successful"
    assert get_json(f"{site['url']}/processes/capacity/jobs/{job}")[0] == 404
    # a job in the list of its author, not in another reader's; an admin sees all
    assert job in [j["jobID"] for j in get_json(f"{site['url']}/jobs", site["keys"]["reader"])[1]["jobs"]]
    assert job not in [j["jobID"] for j in get_json(f"{site['url']}/jobs", site["keys"]["other"])[1]["jobs"]]
    assert job in [j["jobID"] for j in get_json(f"{site['url']}/jobs", site["keys"]["admin"])[1]["jobs"]]
    assert get_json(f"{site['url']}/jobs")[0] == 401


def test_a_small_analysis_still_answers_synchronously_and_runs_outside_the_request_workers(site):
    server = psutil.Process(site["server"].proc.pid)
    gunicorn = {p.pid for p in server.children() if "rallypoint.jobs.cluster" not in " ".join(p.cmdline())}
    status, headers, doc = start(site, "capacity", {}, prefer="")
    assert status == 200, doc
    assert doc["status"] == "successful" and doc["summary"] and headers["Location"].endswith(doc["jobID"])
    ran_in = json.loads((site["jobs"] / doc["jobID"] / "status.json").read_text())["pid"]
    cluster = next(p for p in server.children() if "rallypoint.jobs.cluster" in " ".join(p.cmdline()))
    assert ran_in not in gunicorn and ran_in in {p.pid for p in cluster.children(recursive=True)}
    # asked for the results document instead
    status, _, body = http("POST", f"{site['url']}/processes/capacity/execution",
                           {"inputs": {}, "response": "document"}, key=site["keys"]["reader"])
    results = json.loads(body)
    assert status == 200 and results["capacity_region"]["type"] == "application/geo+json", results
    # bad inputs are refused before a job is made
    status, _, body = http("POST", f"{site['url']}/processes/capacity/execution",
                           {"inputs": {"period": "noon"}}, key=site["keys"]["reader"])
    assert status == 400 and "period" in json.loads(body)["description"]


def test_a_running_job_shows_its_progress_and_has_no_results_yet(site):
    status, _, doc = start(site, "paced", {"steps": 40, "seconds": 0.5})
    assert status == 201, doc
    job = doc["jobID"]
    doc = until(site, job, running, "ran")
    assert 0 < doc["progress"] < 100 and doc["step"].startswith("step")
    status, _, body = http("GET", f"{site['url']}/jobs/{job}/results")
    error = json.loads(body)
    assert status == 404 and error["type"].endswith("/result-not-ready"), error
    for lang, words in (("zh", ["运行中", "当前步骤", "本页每 2 秒自动刷新"]),
                        ("en", ["running", "step", "refreshes"])):
        status, headers, page = http("GET", f"{site['url']}/jobs/{job}?f=html&lang={lang}")
        text = page.decode()
        assert status == 200 and headers["Content-Type"].startswith("text/html")
        assert '<progress max="100" value="' in text and 'http-equiv="refresh"' in text
        assert all(w in text for w in words), (lang, text)
    assert http("DELETE", f"{site['url']}/jobs/{job}", key=site["keys"]["reader"])[0] == 200


def test_dismissing_a_running_job_stops_it_and_keeps_it_listed_as_dismissed(site):
    status, _, doc = start(site, "paced", {"steps": 200, "seconds": 0.5})
    job = doc["jobID"]
    until(site, job, running, "ran")
    pid = worker_of(site, job)
    url = f"{site['url']}/jobs/{job}"
    assert http("DELETE", url)[0] == 401
    status, _, body = http("DELETE", url, key=site["keys"]["other"])
    assert status == 403 and "only they or an admin" in json.loads(body)["description"]
    status, _, body = http("DELETE", url, key=site["keys"]["reader"])
    doc = json.loads(body)
    assert status == 200 and doc["status"] == "dismissed" and doc["jobID"] == job, doc
    assert gone(pid), "the worker process running the dismissed job is still running it"
    time.sleep(1.5)  # three steps more: a job that went on would have moved
    status, doc = get_json(url)
    assert status == 200 and doc["status"] == "dismissed" and "li.na" in doc["message"]
    assert http("GET", url + "/results")[0] == 404
    # dismissing a job that ended removes it
    assert http("DELETE", url, key=site["keys"]["admin"])[0] == 200
    status, _, body = http("GET", url)
    assert status == 404 and json.loads(body)["type"].endswith("/no-such-job")
    assert not (site["jobs"] / job).exists()


def test_a_job_whose_worker_is_killed_ends_as_failed_with_the_reason(site):
    status, _, doc = start(site, "paced", {"steps": 200, "seconds": 0.5})
    job = doc["jobID"]
    until(site, job, running, "ran")
    pid = worker_of(site, job)
    os.kill(pid, signal.SIGKILL)
    doc = until(site, job, lambda d: d["status"] != "running", "ended", timeout=120)
    assert doc["status"] == "failed", doc
    assert "stopped before it finished" in doc["message"] and "killed" in doc["message"], doc
    status, _, body = http("GET", f"{site['url']}/jobs/{job}/results")
    error = json.loads(body)
    assert status == 500 and "killed" in error["description"], error
    page = http("GET", f"{site['url']}/jobs/{job}?f=html")[2].decode()
    assert "失败" in page and "被终止或内存不足" in page and 'http-equiv="refresh"' not in page
    # the cluster goes on: its nanny replaced the worker, and the next job runs
    status, _, doc = start(site, "paced", {"steps": 2, "seconds": 0.1})
    assert until(site, doc["jobID"], lambda d: d["status"] not in ("accepted", "running"), "ended")["status"] \
        == "successful"


def test_an_analysis_that_refuses_its_data_fails_with_its_reason(site):
    status, _, doc = start(site, "paced", {"steps": 5, "seconds": 0.1, "fail_at": 3})
    doc = until(site, doc["jobID"], lambda d: d["status"] not in ("accepted", "running"), "ended")
    assert doc["status"] == "failed" and doc["message"] == "paced: refused at step 3 as asked"
    status, _, body = http("GET", f"{site['url']}/jobs/{doc['jobID']}/results")
    assert status == 400 and json.loads(body)["description"].endswith("refused at step 3 as asked")


def _tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def test_reads_complete_while_jobs_run(site):
    """Two jobs run (as many as the server has request workers): map tiles, item pages and the map page are
    answered meanwhile, because no request worker runs them."""
    cluster_ready(site)  # the workers that tests above ended are back
    jobs = [start(site, "paced", {"steps": 200, "seconds": 0.5})[2]["jobID"] for _ in range(2)]
    for job in jobs:
        until(site, job, running, "ran")
    now = [get_json(f"{site['url']}/jobs/{job}")[1]["status"] for job in jobs]
    assert now == ["running", "running"], f"the cluster did not run two jobs at once: {now}; {cluster_view(site)}"
    x, y = _tile(site["shelter"].geometry.x, site["shelter"].geometry.y, 14)
    for path in ("/collections/shelters/items?limit=50", f"/collections/shelters/items/{site['shelter'].uuid}",
                 f"/tiles/WebMercatorQuad/14/{y}/{x}", f"/collections/shelters/tiles/WebMercatorQuad/14/{y}/{x}",
                 "/map", "/collections/hazard_points/items?limit=100&f=html"):
        status, _, body = http("GET", site["url"] + path)
        assert status == 200 and body, path
    for job in jobs:
        assert get_json(f"{site['url']}/jobs/{job}")[1]["status"] == "running"  # the reads did not wait for them
        assert http("DELETE", f"{site['url']}/jobs/{job}", key=site["keys"]["reader"])[0] == 200


def test_a_run_longer_than_the_bound_goes_on_as_a_job(site):
    begun = time.monotonic()
    status, headers, doc = start(site, "paced", {"steps": 30, "seconds": 0.5}, prefer="wait=1")
    assert status == 201 and doc["status"] in ("accepted", "running") and "Location" in headers, doc
    assert "Preference-Applied" not in headers
    assert time.monotonic() - begun < 15  # answered at the bound, not at the end of the run (15 s)
    assert http("DELETE", headers["Location"], key=site["keys"]["reader"])[0] == 200


def test_the_processes_say_how_they_run_and_the_server_what_it_conforms_to(site):
    status, desc = get_json(f"{site['url']}/processes/coverage")
    assert desc["jobControlOptions"] == ["sync-execute", "async-execute", "dismiss"]
    conf = get_json(f"{site['url']}/conformance")[1]["conformsTo"]
    base = "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/"
    assert {base + c for c in ("core", "ogc-process-description", "json", "html", "oas30", "dismiss")} <= set(conf)
    api = get_json(f"{site['url']}/api")[1]["paths"]
    assert {"/jobs", "/jobs/{jobId}", "/jobs/{jobId}/results"} <= set(api) and "delete" in api["/jobs/{jobId}"]
    assert get_json(f"{site['url']}/processes?limit=1")[1]["processes"].__len__() == 1
    status, _, body = http("GET", f"{site['url']}/processes/nothing")
    assert status == 404 and json.loads(body)["type"].endswith("/no-such-process")


def test_stopping_the_server_stops_its_cluster(request, web_backend, tmp_path):
    """The cluster is the server's: it ends with it, leaving no process behind."""
    require("distributed", "the job engine")
    path = county_copy(request, web_backend, "web_jobs_stop")
    server = Server(path, log_dir=tmp_path, extra_args=("--jobs-dir", str(tmp_path / "jobs")))
    scheduler = tmp_path / "jobs" / ".cluster" / "scheduler.json"
    end = time.monotonic() + 60
    while not scheduler.exists() and time.monotonic() < end:
        time.sleep(0.2)
    family = psutil.Process(server.proc.pid).children(recursive=True)
    assert any("rallypoint.jobs.cluster" in " ".join(p.cmdline()) for p in family)
    server.stop()
    assert all(gone(p.pid, 40) for p in family), [p.pid for p in family if p.is_running()]
    assert not scheduler.exists()
