"""QGIS 3.22 editing a PostGIS registry directly (postgres provider): the database keeps the history."""

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
from shapely.geometry import Point

from rallypoint import Registry

from conftest import HERE, StepClock, require, shelter

SCRIPT = Path(__file__).parent / "qgis_scripts" / "edit_postgis.py"


def test_edits_committed_in_qgis_are_versioned_and_in_the_history_with_their_author(pg_cluster, pg_registry_url,
                                                                                     tmp_path):
    require("qgis", "Debian's python3-qgis, QGIS 3.22")
    with psycopg.connect(pg_registry_url, autocommit=True) as conn:
        conn.execute("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'qgis_editor') THEN "
                     "CREATE ROLE qgis_editor LOGIN; END IF; END $$")
        conn.execute("GRANT rallypoint_editor TO qgis_editor")
    with Registry.open(pg_registry_url, clock=StepClock()) as reg:
        kept = reg.add("shelters", shelter(), HERE, author="zhang")
        gone = reg.add("shelters", shelter(name="第二场所"), Point(104.1, 30.7), author="zhang")
    runtime = tmp_path / "xdg-runtime"
    runtime.mkdir(mode=0o700)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_RUNTIME_DIR=str(runtime))
    dbname = pg_registry_url.rsplit("/", 1)[1]
    proc = subprocess.run([sys.executable, str(SCRIPT), "127.0.0.1", str(pg_cluster.port), dbname, "qgis_editor",
                           "shelters", kept.uuid, gone.uuid], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["qgis_version"].startswith("3.22")
    assert report["valid"] and report["crs"] == "EPSG:4490" and report["found"], report
    # the default style (and with it the aliases) came from layer_styles
    assert report["renderer"] == "categorizedSymbol" and report["alias"].startswith("日间容量"), report
    assert report["committed"], report["errors"]

    with Registry.open(pg_registry_url) as reg:
        now = reg.get("shelters", kept.uuid)
        assert now.version == 2 and now.properties["status"] == "open"
        assert now.properties["updated_by"] == "qgis_editor" and now.properties["created_by"] == "zhang"
        assert now.geometry.equals_exact(Point(HERE.x + 0.01, HERE.y), 1e-9)
        change = reg.history("shelters", kept.uuid)[-1]
        assert (change.version, change.op, change.author) == (2, "update", "qgis_editor")
        assert set(change.changed_fields()) == {"status", "geometry", "version", "updated_at", "updated_by"}
        retired = reg.get("shelters", gone.uuid)
        assert retired.retired and retired.version == 2
        assert [(c.op, c.author) for c in reg.history("shelters", gone.uuid)] == [("insert", "zhang"),
                                                                                 ("retire", "qgis_editor")]
        added = [f for f in reg.features("shelters") if f.properties["name"] == "新增场所"]
        assert len(added) == 1 and added[0].version == 1 and added[0].properties["created_by"] == "qgis_editor"
        assert [(c.op, c.author) for c in reg.history("shelters", added[0].uuid)] == [("insert", "qgis_editor")]
        assert reg.count("shelters") == 2
