"""An outside plugin for the job tests, installed the way any plugin is (an entry point of the group
``rallypoint``; tests/test_web_jobs.py writes its distribution metadata and puts it on the server's path).

Its analysis ``paced`` counts the shelters (through its own registry connection), then walks through
``steps`` steps of ``seconds`` each, reporting each one, so that a test can act on a job that is surely
running (dismiss it, kill its worker, read the map meanwhile); ``fail_at`` makes it refuse at that step, as an
analysis refuses data it cannot use.
"""

from __future__ import annotations

import time

import pandas as pd

from rallypoint.analysis import Analysis, AnalysisError, AnalysisResult, Output, Parameter
from rallypoint.hookspecs import hookimpl


def _paced(registry, params, ctx):
    shelters = registry.count("shelters")
    steps = params["steps"]
    for i in range(steps):
        ctx.progress(f"step{i + 1}", i, steps)
        if params["fail_at"] == i + 1:
            raise AnalysisError(f"paced: refused at step {i + 1} as asked")
        time.sleep(params["seconds"])
    ctx.progress("done", steps, steps)
    table = pd.DataFrame({"shelters": [shelters], "steps": [steps]})
    return AnalysisResult(tables={"paced_totals": table}, summary=[("避难场所", "Shelters", shelters)],
                          report=lambda lang: f"<html><body>{shelters} shelters, {steps} steps</body></html>")


PACED = Analysis("paced", "分步计数", "Paced count", "分步统计避难场所", "Counts shelters, step by step",
                 (Parameter("steps", "int", 10, "步数", "Steps", min=1, max=1000),
                  Parameter("seconds", "float", 0.5, "每步秒数", "Seconds a step", min=0, max=60),
                  Parameter("fail_at", "int", 0, "在第几步拒绝（0：不拒绝）", "Step to refuse at (0: none)", min=0)),
                 (Output("paced_totals", "table", "合计", "Totals"),), _paced, requires=("shelters",))


@hookimpl
def rallypoint_analyses():
    return [PACED]
