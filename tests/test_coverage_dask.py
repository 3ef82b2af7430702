"""The coverage analysis with its searches on a Dask LocalCluster (two worker processes) gives the same
figures as in one process, on the county sample."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import require
from web_support import free_port

from rallypoint import Registry
from rallypoint.analysis import run_analysis
from rallypoint.plugins import default_plugin_manager

PARAMS = {"hazard": "flood", "minutes": "10,30,60", "new_sites": 3}


def test_dask_partitioned_run_equals_one_process(county_sample):
    require("distributed", "the partitioned coverage analysis")
    from dask.distributed import Client, LocalCluster, get_task_stream

    from rallypoint_plugins.coverage.distributed import searches_on

    pm = default_plugin_manager()
    with Registry.open(county_sample) as reg:
        one = run_analysis(reg, pm, "coverage", PARAMS, lang="en")
        # small chunks, so that the searches really are spread over several tasks and both workers
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                Client(cluster) as client, searches_on(client, chunk=7), get_task_stream(client) as stream:
            many = run_analysis(reg, pm, "coverage", PARAMS, lang="en")
    searched = [t for t in stream.data if "_search_chunk" in str(t["key"])]
    assert len({t["worker"] for t in searched}) == 2 and len(searched) > 2
    assert one.layers.keys() == many.layers.keys() and one.summary == many.summary
    pd.testing.assert_frame_equal(one.tables["coverage_region"], many.tables["coverage_region"], check_exact=True)
    for name in one.layers:
        a, b = one.layers[name], many.layers[name]
        pd.testing.assert_frame_equal(pd.DataFrame(a.drop(columns="geometry")),
                                      pd.DataFrame(b.drop(columns="geometry")), check_exact=True)
        assert np.array_equal(a.geometry.to_wkb().to_numpy(), b.geometry.to_wkb().to_numpy()), name
    region = one.tables["coverage_region"].iloc[0]
    assert region["covered_60min"] > 0 and region["shelters_searched"] > 7


@pytest.fixture
def dask_scheduler(tmp_path):
    """A real Dask cluster reached by address: a scheduler and two single-threaded worker processes on 127.0.0.1."""
    require("distributed", "the coverage analysis on a cluster by address")
    import subprocess
    import sys
    import time

    from dask.distributed import Client

    address = f"tcp://127.0.0.1:{free_port()}"
    log = (tmp_path / "dask.log").open("w")
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                               "--port", address.rsplit(":", 1)[1], "--no-dashboard"], stdout=log, stderr=log)]
    procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nworkers", "2",
                                   "--nthreads", "1", "--no-dashboard", "--local-directory", str(tmp_path)],
                                  stdout=log, stderr=log))
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with Client(address, timeout=5, set_as_default=False) as c:
                    c.wait_for_workers(2, timeout=max(1, deadline - time.monotonic()))
                break
            except (OSError, TimeoutError):
                if time.monotonic() > deadline:
                    raise AssertionError("the Dask cluster did not start:\n" + (tmp_path / "dask.log").read_text())
                time.sleep(0.5)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        log.close()


@pytest.mark.parametrize("backend", ["gpkg", "postgis"])
def test_cli_run_on_a_cluster_by_address_equals_one_process(request, backend, county_sample, dask_scheduler, tmp_path):
    """`rallypoint analyse coverage` with RALLYPOINT_DASK_SCHEDULER set sends its searches to that cluster (seen
    in the scheduler's own log of tasks) and writes the same result layers as a run in one process; the
    registry is the county as a file, or as a PostGIS database (a province's set-up: PostGIS and Dask)."""
    import os
    import subprocess
    import sys

    import pyogrio
    from dask.distributed import Client

    where = county_sample if backend == "gpkg" else request.getfixturevalue("pg_county_sample")
    args = ["analyse", "coverage", str(where), "--hazard", "flood", "--minutes", "10,30,60",
            "--new-sites", "3", "--lang", "en"]
    env = {k: v for k, v in os.environ.items() if k != "RALLYPOINT_DASK_SCHEDULER"}
    outs = {}
    for how, extra in (("one", {}), ("cluster", {"RALLYPOINT_DASK_SCHEDULER": dask_scheduler})):
        out = tmp_path / f"{how}.gpkg"
        proc = subprocess.run([sys.executable, "-c", "from rallypoint.cli.main import cli; cli()", *args, "--out", str(out)],
                              env={**env, **extra}, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        outs[how] = out

    with Client(dask_scheduler, timeout=10, set_as_default=False) as c:
        searched = c.run_on_scheduler(
            lambda dask_scheduler: sorted({str(t[0]) for t in dask_scheduler.transition_log
                                           if "_search_chunk" in str(t[0])}))
    assert searched, "no search ran on the cluster"

    layers = [name for name, _ in pyogrio.list_layers(outs["one"])]
    assert layers == [name for name, _ in pyogrio.list_layers(outs["cluster"])] and "coverage_region" in layers
    for name in layers:
        a = pyogrio.read_dataframe(outs["one"], layer=name)
        b = pyogrio.read_dataframe(outs["cluster"], layer=name)
        pd.testing.assert_frame_equal(pd.DataFrame(a.drop(columns="geometry", errors="ignore")),
                                      pd.DataFrame(b.drop(columns="geometry", errors="ignore")), check_exact=True)
        if "geometry" in a:
            assert np.array_equal(a.geometry.to_wkb().to_numpy(), b.geometry.to_wkb().to_numpy()), name


def test_unreachable_scheduler_is_a_clear_error(county_sample, monkeypatch):
    require("distributed", "the coverage analysis on a cluster by address")
    from rallypoint.analysis import AnalysisError
    from rallypoint_plugins.coverage.distributed import on_cluster

    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(AnalysisError, match=f"cannot reach the Dask scheduler at {address}"):
        with on_cluster(address, timeout=2):
            pass
