"""The coverage analysis with its shortest-path searches spread over a Dask cluster.

The expensive part of a large run is the one-to-many searches: from every shelter (service areas, the
assignment's candidates) and from every candidate site (siting), each up to the largest time. They are
independent of each other, so the sources are cut into chunks and each chunk is searched on a worker; the
network is sent to every worker once. Every source's times come out of the same search as in one process, and
the chunks are read back in order, so the figures are the same, to the bit, as a run in one process (a test
compares them on the county sample). Everything else (one multi-source search for the nearest shelter, the
assignment, the siting solvers, the layers) runs where the analysis is called.

    from dask.distributed import Client, LocalCluster
    from rallypoint_plugins.coverage.distributed import searches_on

    with LocalCluster(n_workers=2, threads_per_worker=1) as cluster, Client(cluster) as client:
        with searches_on(client):
            result = run_analysis(reg, pm, "coverage", {"hazard": "flood"})

A real cluster is reached by its scheduler's address: ``RALLYPOINT_DASK_SCHEDULER=tcp://host:8786`` makes
every coverage run of the process (``rallypoint analyse coverage``, the server's processes, QGIS) use it
(:func:`on_cluster`). Its workers need the same Rallypoint installed.

The partition is by sources, not by area: a district with a halo of the largest walking time would let each
worker hold only its part of the network, which a national network would need; here every worker holds the
whole (a city's walking network is ~30 MB).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np

from . import network as nw


def _search_chunk(net_targets, nodes, offsets, limit, batch, reverse):
    net, targets = net_targets
    parts = list(nw.times_from_each(net, nodes, offsets, targets, limit, batch=batch, reverse=reverse))
    if not parts:
        return np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0)
    return tuple(np.concatenate(x) for x in zip(*parts))


def dask_search(client: Any, chunk: int = 128):
    """A searcher with :func:`network.times_from_each`'s signature that runs the sources in chunks on ``client``."""

    def search(net, nodes, offsets_min, targets, limit, batch=16, reverse=False) -> Iterator[tuple]:
        if not len(nodes) or not len(targets):
            return
        [shared] = client.scatter([(net, np.asarray(targets))], broadcast=True)
        futures = [client.submit(_search_chunk, shared, nodes[i:i + chunk], offsets_min[i:i + chunk], limit,
                                 batch, reverse, pure=False)
                   for i in range(0, len(nodes), chunk)]
        try:
            for i, fut in zip(range(0, len(nodes), chunk), futures):
                s, t, d = fut.result()
                yield (s + i).astype(np.int32), t, d
        finally:
            client.cancel(futures + [shared])

    return search


@contextmanager
def searches_on(client: Any, chunk: int = 128):
    """Within this block, coverage analyses in this thread run their one-to-many searches on ``client``."""
    token = nw.SEARCH.set(dask_search(client, chunk))
    try:
        yield
    finally:
        nw.SEARCH.reset(token)


@contextmanager
def on_cluster(address: str, timeout: float = 20) -> Iterator[None]:
    """Within this block, coverage searches run on the Dask cluster whose scheduler is at ``address``.

    A scheduler that cannot be reached, or that has no worker within ``timeout`` seconds, is an
    :class:`~rallypoint.analysis.AnalysisError` naming the address, not a hang.
    """
    from rallypoint.analysis import AnalysisError

    try:
        from dask.distributed import Client
    except ImportError as e:
        raise AnalysisError(f"a Dask scheduler is set ({address}) but dask.distributed is not installed: "
                            f"pip install 'dask[distributed]'") from e
    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as e:
        raise AnalysisError(f"cannot reach the Dask scheduler at {address}: {e}") from e
    with client:
        try:
            client.wait_for_workers(1, timeout=timeout)
        except TimeoutError as e:
            raise AnalysisError(f"the Dask scheduler at {address} has no worker after {timeout:g} s") from e
        with searches_on(client):
            yield
