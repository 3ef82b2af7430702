"""Several processes writing to one registry at once, on both backends: on a file, WAL and the busy timeout
make them take turns; on PostGIS, the database's own locks."""

import os
import subprocess
import sys
import textwrap

import pytest

from rallypoint import Registry
from rallypoint.check import check_registry

pytestmark = pytest.mark.both_backends

WRITER = textwrap.dedent("""
    import sys
    from shapely.geometry import Point
    from rallypoint import Registry
    from conftest import helipad
    who = sys.argv[2]
    reg = Registry.open(sys.argv[1])
    for i in range(40):
        with reg.batch(author=who) as b:
            for j in range(5):
                b.add("helipads", helipad(name=f"{who}-{i}-{j}"), Point(104 + i / 1000, 30.5 + j / 1000))
    print("done", flush=True)
""")


def test_concurrent_batches_from_several_processes_all_land(registry, registry_location):
    registry.close()
    env = dict(os.environ, PYTHONPATH=os.path.dirname(__file__))
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(registry_location), f"writer{k}"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for k in range(4)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    with Registry.open(registry_location) as reg:
        assert reg.count("helipads") == 4 * 40 * 5
        authors = {c.author for c in reg.history("helipads")}
        assert authors == {f"writer{k}" for k in range(4)}
    assert check_registry(registry_location, gdal=False) == []
