"""What only a PostGIS registry has: the database writes the history, whoever edits the tables."""

import psycopg
import pytest
from shapely.geometry import Point

from rallypoint import Registry
from rallypoint.errors import RegistryFileError

from conftest import HERE, StepClock, helipad, shelter, team


@pytest.fixture
def pg(pg_registry_url):
    reg = Registry.open(pg_registry_url, clock=StepClock())
    yield reg
    reg.close()


@pytest.fixture
def editor(pg_cluster, pg_registry_url):
    """A login role granted rallypoint_editor, as a bureau would give one to each person editing in QGIS."""
    with psycopg.connect(pg_registry_url, autocommit=True) as conn:
        conn.execute("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'li_na') THEN "
                     "CREATE ROLE li_na LOGIN; END IF; END $$")
        conn.execute("GRANT rallypoint_editor TO li_na")
    return pg_registry_url.replace("postgres@", "li_na@")


def test_layers_are_postgis_tables_in_cgcs2000_with_spatial_indexes(pg):
    rows = pg._conn.execute("SELECT f_table_name, srid, type FROM geometry_columns ORDER BY 1").fetchall()
    assert {r[0] for r in rows} == {n for n, d in pg.layers.items() if d.has_geometry}
    assert {r[1] for r in rows} == {4490}
    assert ("shelters", 4490, "POINT") in rows and ("admin_areas", 4490, "MULTIPOLYGON") in rows
    gist = {r[0] for r in pg._conn.execute("SELECT tablename FROM pg_indexes WHERE indexdef LIKE '%USING gist%'")}
    assert gist == {r[0] for r in rows}
    styles = pg._conn.execute("SELECT f_table_name, stylename FROM layer_styles WHERE useasdefault").fetchall()
    assert ("shelters", "rallypoint-zh") in styles and len(styles) == len(pg.layers)


def test_direct_sql_edits_are_stamped_and_kept_in_the_history(pg, editor):
    f = pg.add("shelters", shelter(), HERE, author="zhang")
    with psycopg.connect(editor, autocommit=True) as conn:
        conn.execute("UPDATE shelters SET status = 'open', version = 99, created_by = 'forged' WHERE uuid = %s",
                     (f.uuid,))
        with conn.transaction():
            conn.execute("SET LOCAL rallypoint.author = 'wang'")
            conn.execute("UPDATE shelters SET geom = ST_SetSRID(ST_MakePoint(104.1, 30.7), 4490) WHERE uuid = %s",
                         (f.uuid,))
        new = shelter(name="新增场所")
        conn.execute(f"INSERT INTO shelters ({', '.join(new)}, geom) VALUES ({', '.join(['%s'] * len(new))},"
                     " ST_SetSRID(ST_MakePoint(104.2, 30.8), 4490))", list(new.values()))
        conn.execute("DELETE FROM shelters WHERE uuid = %s", (f.uuid,))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE rp_history SET author = 'someone else'")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM rp_history")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # nor forge a change
            conn.execute("INSERT INTO rp_history (layer, uuid, version, op, author, at) "
                         "VALUES ('shelters', 'x', 9, 'update', 'zhang', '2026-01-01T00:00:00.000Z')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("TRUNCATE shelters")
    with psycopg.connect(pg.url, autocommit=True) as owner:  # not even the owner empties a layer
        with pytest.raises(psycopg.errors.RaiseException, match="retired, never deleted"):
            owner.execute("TRUNCATE shelters")
    now = pg.get("shelters", f.uuid)
    assert now.version == 4 and now.retired and now.properties["created_by"] == "zhang"
    assert now.geometry.equals(Point(104.1, 30.7))
    changes = pg.history("shelters", f.uuid)
    assert [(c.version, c.op, c.author) for c in changes] == [
        (1, "insert", "zhang"), (2, "update", "li_na"), (3, "update", "wang"), (4, "retire", "li_na")]
    assert changes[1].changed_fields()["status"] == ("standby", "open")
    assert set(changes[2].changed_fields()) == {"geometry", "version", "updated_at", "updated_by"}
    assert changes[3].note.startswith("deleted by")
    added = [c for c in pg.history("shelters") if c.uuid != f.uuid]
    assert [(c.version, c.op, c.author) for c in added] == [(1, "insert", "li_na")]
    assert pg.get("shelters", added[0].uuid).properties["created_by"] == "li_na"
    # a version written outside Rallypoint restores like any other
    back = pg.restore("shelters", f.uuid, version=2, author="zhao")
    assert back.version == 5 and not back.retired and back.properties["status"] == "open"
    assert back.geometry.equals(HERE)


def test_a_retired_feature_deleted_again_stays_as_it_is(pg):
    f = pg.add("teams", team(), HERE, author="a")
    pg.retire("teams", f.uuid, author="a")
    with psycopg.connect(pg.url, autocommit=True) as conn:
        assert conn.execute("DELETE FROM teams").rowcount == 0
    assert pg.get("teams", f.uuid).version == 2 and len(pg.history("teams", f.uuid)) == 2


def test_a_failed_batch_leaves_no_history_and_no_settings_behind(pg):
    pg.add("teams", team(), HERE, author="a")
    with pytest.raises(Exception):
        with pg.batch(author="b", note="half") as b:
            b.add("teams", team(name="第二队"), HERE)
            raise RuntimeError("stop")
    assert pg.count("teams") == 1 and len(pg.history()) == 1
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute("UPDATE teams SET members = 46")
    last = pg.history("teams")[-1]
    assert last.author == "postgres" and last.note is None and last.op == "update"


def test_opening_a_database_that_is_not_a_registry_says_so(pg_cluster):
    url = pg_cluster.new_database()
    with pytest.raises(RegistryFileError, match="not a Rallypoint registry"):
        Registry.open(url)
    with pytest.raises(RegistryFileError, match="cannot connect"):
        Registry.open(f"postgresql://postgres@127.0.0.1:{pg_cluster.port}/no_such_database")


def test_create_refuses_to_overwrite_a_registry(pg_registry_url):
    with pytest.raises(RegistryFileError, match="already holds a registry"):
        Registry.create(pg_registry_url, name="x", bureau="y")
    Registry.create(pg_registry_url, name="新的", bureau="y", overwrite=True).close()
    with Registry.open(pg_registry_url) as reg:
        assert reg.info.name == "新的" and reg.count("shelters") == 0 and reg.history() == []


def test_the_cli_works_on_a_postgis_registry_given_by_url(pg_registry_url):
    from click.testing import CliRunner

    from rallypoint.cli.main import cli

    def run(*args):
        res = CliRunner().invoke(cli, [str(a) for a in args], env={"COLUMNS": "250", "RALLYPOINT_AUTHOR": "cli-user"})
        assert res.exit_code == 0, res.output
        return res.output

    sets = [x for k, v in helipad().items() for x in ("--set", f"{k}={v}")]
    out = run("add", pg_registry_url, "helipads", *sets, "--at", "104.06,30.66")
    uid = out.split()[2]
    run("edit", pg_registry_url, "helipads", uid, "--set", "status=restricted")
    run("retire", pg_registry_url, "helipads", uid, "--reason", "flooded")
    assert uid not in run("list", pg_registry_url, "helipads")
    run("restore", pg_registry_url, "helipads", uid)
    assert uid in run("show", pg_registry_url, "helipads", uid)
    with Registry.open(pg_registry_url) as reg:
        assert reg.get("helipads", uid).properties["status"] == "restricted"
        assert [(c.version, c.op, c.author) for c in reg.history("helipads", uid)] == [
            (1, "insert", "cli-user"), (2, "update", "cli-user"), (3, "retire", "cli-user"), (4, "restore", "cli-user")]
        assert reg.history("helipads", uid)[2].note == "flooded"


def test_a_writer_waits_for_the_row_another_is_changing_and_then_sees_the_conflict(pg):
    import threading

    f = pg.add("shelters", shelter(), HERE, author="a")
    other = Registry.open(pg.url)
    outcome = {}

    def late_writer():
        try:
            other.update("shelters", f.uuid, {"occupancy": 99}, author="b", expected_version=1)
            outcome["result"] = "written"
        except Exception as exc:  # the ConflictError is what is expected
            outcome["result"] = exc

    with pg.batch(author="a") as b:
        b.update("shelters", f.uuid, {"occupancy": 10})
        t = threading.Thread(target=late_writer)
        t.start()
        t.join(1.0)
        assert t.is_alive()  # blocked on the row lock, not reading the old version
    t.join(30)
    other.close()
    from rallypoint import ConflictError

    assert isinstance(outcome["result"], ConflictError) and outcome["result"].current_version == 2
    assert pg.get("shelters", f.uuid).properties["occupancy"] == 10
    assert [c.version for c in pg.history("shelters", f.uuid)] == [1, 2]


def test_validate_checks_the_tables_triggers_and_every_feature(pg):
    from click.testing import CliRunner

    from rallypoint.cli.main import cli

    pg.add("shelters", shelter(), HERE, author="a")
    res = CliRunner().invoke(cli, ["validate", pg.url], env={"COLUMNS": "250"})
    assert res.exit_code == 0 and "sound registry" in res.output, res.output
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute("ALTER TABLE shelters DISABLE TRIGGER rp_record")
        conn.execute("UPDATE shelters SET capacity_day = -1")  # unchecked, and unrecorded without the trigger
    res = CliRunner().invoke(cli, ["validate", pg.url], env={"COLUMNS": "250"})
    assert res.exit_code == 1 and "rp_record" in res.output, res.output
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute("ALTER TABLE shelters ENABLE TRIGGER rp_record")
    res = CliRunner().invoke(cli, ["validate", pg.url], env={"COLUMNS": "250"})
    assert res.exit_code == 1 and "capacity_day" in res.output and "below the minimum" in res.output, res.output


def test_a_database_error_in_a_batch_writes_nothing_and_the_registry_stays_usable(pg):
    with psycopg.connect(pg.url, autocommit=True) as conn:  # a rule of the database's own, not of the definitions
        conn.execute("ALTER TABLE teams ADD CONSTRAINT few_members CHECK (members < 100)")
    with pytest.raises(psycopg.errors.CheckViolation, match="few_members"):
        pg.add_many("teams", [(team(name=f"队{i}", members=40 if i != 3 else 400), HERE) for i in range(6)],
                    author="a")
    assert pg.count("teams", include_retired=True) == 0 and pg.history() == []
    f = pg.add("teams", team(), HERE, author="a")  # the same connection goes on working
    assert pg.get("teams", f.uuid).version == 1 and len(pg.history()) == 1
