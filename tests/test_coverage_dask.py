"""The coverage analysis with its searches on a Dask LocalCluster (two worker processes) gives the same
figures as in one process, on the county sample."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import require

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
