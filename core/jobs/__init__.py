"""Analyses as jobs: run outside the processes that answer requests, seen alike by all of them.

- :mod:`.records`: the jobs folder, where a job's request, progress, end and results are (the state every
  server process reads; no process keeps a job in its memory).
- :mod:`.runner`: one job run: the analysis with its own registry connection, its progress and its results.
- :mod:`.engine`: the Dask cluster jobs run on, as a server process sees it (submit, wait, why it ended, cancel).
- :mod:`.cluster`: the local cluster ``rallypoint serve`` starts beside gunicorn (a process of its own).

The OGC API – Processes routes over them are :mod:`rallypoint.api.processes` and :mod:`rallypoint.api.jobs`.
"""
