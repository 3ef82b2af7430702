"""The hazard rectification ledger plugin: rules of state changes, lists and rates worked out by hand,
the history of each step, and the same rules on every write path (Python, CLI, HTTP)."""

from __future__ import annotations

import json
import shutil

import geopandas as gpd
import pytest
from click.testing import CliRunner
from shapely.geometry import box

from rallypoint import Registry, ValidationError
from rallypoint.analysis import run_analysis
from rallypoint.check import check_registry
from rallypoint.cli.main import cli
from rallypoint.plugins import default_plugin_manager, get_plugin_manager
from rallypoint_plugins.rectification.ledger import LAYER, STATES, STEP_FIELDS, next_states
from rallypoint_plugins.rectification.records import add_record, advance
from rallypoint_plugins.rectification.report import rate_percent

from conftest import BUREAU, HERE, StepClock, county_copy, hazard

# the ledger's rules hold the same on either backend: tests through the `registry` fixture run on both
pytestmark = pytest.mark.both_backends

# StepClock's time is 2026-05-01 08:00 UTC: 16:00 on 2026-05-01 in China, the ledger's "today".
TODAY = "2026-05-01"


def record(hazard_uuid, state="found", **over):
    """A record complete for ``state`` (dates before TODAY, in the order of the steps)."""
    props = {"hazard_uuid": hazard_uuid, "source": BUREAU, "problem": "坡体裂缝扩大", "found_at": "2026-04-01",
             "found_by": "张三", "responsible_unit": "东河镇人民政府", "deadline": "2026-06-30", "state": state,
             "progress": 0}
    rank = STATES.index(state)
    if rank >= 1:
        props["measures"] = "削坡减载，设置截排水沟"
    if rank >= 2:
        props.update(rectified_at="2026-04-20", progress=100)
    if rank >= 3:
        props.update(verified_at="2026-04-25", verified_by="李四")
    if rank >= 4:
        props.update(closed_at="2026-04-28", closed_by="王五")
    props.update(over)
    return props


def _complete_for(hazard_uuid, state):
    """Changes that make any record complete for ``state``: its steps' fields filled, later ones cleared."""
    out = record(hazard_uuid, state)
    return {f: out.get(f) for fields in STEP_FIELDS.values() for f in fields} | {
        "state": state, "progress": out["progress"]}


@pytest.fixture
def hz(registry):
    return registry.add("hazard_points", hazard(), HERE, author="t").uuid


def test_the_ledger_is_a_related_table_of_hazard_points_defined_as_data(registry):
    layer = registry.layer(LAYER)
    assert (layer.kind, layer.parent, layer.parent_field, layer.has_geometry) == (
        "related", "hazard_points", "hazard_uuid", False)
    assert layer.field("hazard_uuid").references == "hazard_points"
    assert layer.field("state").codes == STATES
    assert (layer.field("state").alias_zh, layer.field("state").alias_en) == ("整改状态", "State")
    assert (layer.field("progress").unit, layer.field("progress").min, layer.field("progress").max) == ("%", 0, 100)
    assert layer.personal_fields == ()  # the officials who sign the steps: see the definition's comment
    assert {"uuid", "version", "created_at", "created_by", "updated_at", "updated_by", "retired_at", "source"} <= \
        set(layer.field_names)


def test_a_small_ledger_by_township_worked_out_by_hand(registry, registry_path):
    # Township 519901003 (named in admin_areas: 东河镇): hazards coded to the township and to a village in it;
    # township 519901004 has no admin area, so no name.
    registry.load_reference("admin_areas", gpd.GeoDataFrame(
        {"adcode": ["519901003"], "name": ["东河镇"], "level": ["township"], "parent_adcode": ["519901"],
         "population": [12000]}, geometry=[box(104.0, 30.6, 104.1, 30.7)], crs="EPSG:4490"), author="t")
    a1 = registry.add("hazard_points", hazard(adcode="519901003"), HERE, author="t").uuid
    a2 = registry.add("hazard_points", hazard(adcode="519901003012"), HERE, author="t").uuid
    b1 = registry.add("hazard_points", hazard(adcode="519901004"), HERE, author="t").uuid
    rows = [  # (hazard, state, deadline); reported as of 2026-06-15
        (a1, "found", "2026-06-01"),       # open, overdue
        (a1, "rectifying", "2026-06-30"),  # open
        (a2, "rectified", "2026-05-20"),   # open, rectified (not overdue: rectified in time or not, it is done)
        (a2, "closed", "2026-05-10"),      # closed, rectified
        (a2, "found", "2026-06-15"),       # open; the deadline is the reporting day itself: not passed yet
        (b1, "verified", "2026-05-30"),    # open, rectified
        (b1, "rectifying", "2026-05-31"),  # open, overdue
        (b1, "closed", "2026-05-15"),      # closed, rectified
    ]
    uids = registry.add_many(LAYER, [(record(h, s, deadline=d), None) for h, s, d in rows], author="t")
    gone = registry.add(LAYER, record(b1, "found", deadline="2026-05-02"), author="t").uuid
    registry.retire(LAYER, gone, author="t", reason="entered twice")  # a retired record is not in the ledger
    # By hand: 519901003: 5 records, open 4, overdue 1, closed 1, rectified 2 → 40.00 %
    #          519901004: 3 records, open 2, overdue 1, closed 1, rectified 2 → 66.67 % (2/3 = 66.666…)
    #          all:       8 records, open 6, overdue 2, closed 2, rectified 4 → 50.00 %
    expected = [
        {"township": "519901003", "township_name": "东河镇", "total": 5, "open": 4, "overdue": 1, "closed": 1,
         "rectified": 2, "rate_pct": 40.0},
        {"township": "519901004", "township_name": "", "total": 3, "open": 2, "overdue": 1, "closed": 1,
         "rectified": 2, "rate_pct": 66.67},
        {"township": "*", "township_name": "", "total": 8, "open": 6, "overdue": 2, "closed": 2,
         "rectified": 4, "rate_pct": 50.0},
    ]
    result = run_analysis(registry, default_plugin_manager(), "rectification", {"as_of": "2026-06-15"})
    assert result.tables["townships"].to_dict("records") == expected
    summary = {en: v for _, en, v in result.summary}
    assert (summary["Records"], summary["Rectified"], summary["Rectification rate (%)"]) == (8, 4, 50.0)
    overdue = result.tables["records"].query("overdue")
    assert sorted(overdue["uuid"]) == sorted([uids[0], uids[6]])
    assert sorted(result.layers["overdue_hazards"]["uuid"]) == sorted([a1, b1])
    assert "东河镇" in result.report("zh") and "66.67" in result.report("en")
    # the same figures from the command line, and one township alone
    runner = CliRunner()
    out = runner.invoke(cli, ["rectification", "report", str(registry_path), "--as-of", "2026-06-15", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["townships"] == expected
    out = runner.invoke(cli, ["rectification", "list", str(registry_path), "--list", "overdue", "--as-of",
                              "2026-06-15", "--township", "519901004", "--json"])
    assert [r["uuid"] for r in json.loads(out.output)["records"]] == [uids[6]]
    out = runner.invoke(cli, ["rectification", "list", str(registry_path), "--list", "closed", "--json",
                              "--as-of", "2026-06-15"])
    assert sorted(r["uuid"] for r in json.loads(out.output)["records"]) == sorted([uids[3], uids[7]])


def test_the_rate_rounds_half_up_to_two_decimals_as_the_county_reported_it(registry, hz):
    assert rate_percent(3441, 3714) == 92.65  # 92.6494… (the county's own figure)
    assert [rate_percent(1, 8), rate_percent(2, 3), rate_percent(1, 3), rate_percent(0, 0)] == [12.5, 66.67, 33.33,
                                                                                                None]
    assert rate_percent(1, 4000) == 0.03  # 0.025 exactly: half up, not to even (round() would give 0.02)
    # the county's ledger itself: 3,714 records of which 3,441 are rectified or later
    records = [(record(hz, "closed" if i < 3000 else "rectified" if i < 3441 else "found"), None) for i in range(3714)]
    registry.add_many(LAYER, records, author="t")
    table = run_analysis(registry, default_plugin_manager(), "rectification", {}).tables["townships"]
    row = table.iloc[-1]
    assert (row["total"], row["rectified"], row["closed"], row["open"], row["rate_pct"]) == (3714, 3441, 3000, 714,
                                                                                              92.65)


def _transition_allowed(a, b):
    return STATES.index(b) > STATES.index(a) and a != "closed" or (a, b) == ("rectified", "rectifying")


@pytest.mark.parametrize("before", STATES)
def test_every_state_change_that_is_not_allowed_is_refused_and_writes_nothing(registry, hz, before):
    for after in STATES:
        if after == before:
            continue
        uid = registry.add(LAYER, record(hz, before), author="t").uuid
        changes = _complete_for(hz, after)  # complete for the new state: only the change itself is judged
        history = len(registry.history(LAYER, uid))
        if _transition_allowed(before, after):
            assert registry.update(LAYER, uid, changes, author="t").properties["state"] == after
            continue
        with pytest.raises(ValidationError) as exc:
            registry.update(LAYER, uid, changes, author="t")
        [p] = exc.value.problems
        assert (p.layer, p.feature, p.field) == (LAYER, f"feature {uid}", "state"), (before, after)
        if before == "closed":
            assert "closed" in p.message and "cannot change" in p.message
        else:
            assert f"from {before} to {after}" in p.message
            assert f"allowed next states: {', '.join(next_states(before))}" in p.message
        assert registry.get(LAYER, uid).properties["state"] == before
        assert len(registry.history(LAYER, uid)) == history
    assert next_states("closed") == ()


def test_restoring_an_earlier_version_is_a_state_change_like_any_other(registry, hz):
    uid = registry.add(LAYER, record(hz, "verified"), author="t").uuid
    registry.update(LAYER, uid, {"state": "closed", "closed_at": "2026-04-28", "closed_by": "王五"}, author="t")
    with pytest.raises(ValidationError, match="closed"):  # closed → verified by going back to version 1
        registry.restore(LAYER, uid, 1, author="t")
    registry.retire(LAYER, uid, author="t", reason="录入重复")
    assert registry.restore(LAYER, uid, author="t").properties["state"] == "closed"  # back from retirement: no change


def test_a_record_cannot_be_closed_before_it_is_verified(registry, hz):
    uid = registry.add(LAYER, record(hz, "rectified"), author="t").uuid
    with pytest.raises(ValidationError) as exc:
        registry.update(LAYER, uid, {"state": "closed", "closed_at": "2026-04-30", "closed_by": "王五"}, author="t")
    problems = {p.field: p.message for p in exc.value.problems}
    assert set(problems) == {"verified_at", "verified_by"}
    assert "cannot be closed before it is verified" in problems["verified_by"]
    assert "allowed next states: verified, closed, rectifying" in problems["verified_by"]
    # the convenience step does not fill a verification in: closing straight away is refused as well
    with pytest.raises(ValidationError, match="verified_by"):
        advance(registry, uid, "closed", author="zhao", on="2026-04-30")
    assert registry.get(LAYER, uid).version == 1
    # nor can a closed record be added without its verification
    with pytest.raises(ValidationError, match="verified_at"):
        registry.add(LAYER, record(hz, "closed", verified_at=None, verified_by=None), author="t")


@pytest.mark.parametrize("over, field, words", [
    ({"deadline": "2026-03-31"}, "deadline", "before the finding date 2026-04-01"),
    ({"state": "found", "rectified_at": "2026-04-20"}, "rectified_at", "is only found"),
    ({"state": "rectified", "progress": 80}, "progress", "100 % done"),
    ({"state": "rectified", "rectified_at": "2026-03-30"}, "rectified_at", "before found_at 2026-04-01"),
    ({"state": "verified", "verified_at": "2026-04-19"}, "verified_at", "before rectified_at 2026-04-20"),
    ({"found_at": "2026-05-02"}, "found_at", "in the future"),
    ({"state": "rectifying", "measures": None}, "measures", "needed when the state is rectifying"),
    ({"state": "rectifying", "measures": "  "}, "measures", "needed when the state is rectifying"),
])
def test_records_that_break_the_rules_are_refused_naming_the_field(registry, hz, over, field, words):
    props = record(hz, over.get("state", "found"))
    props.update(over)
    with pytest.raises(ValidationError) as exc:
        registry.add(LAYER, props, author="t")
    assert [(p.field, words in p.message) for p in exc.value.problems] == [(field, True)], exc.value
    assert registry.count(LAYER) == 0


def test_a_deadline_already_past_is_accepted_and_reported_as_overdue(registry, hz):
    written = add_record(registry, {"hazard_uuid": hz, "problem": "排水沟堵塞", "found_at": "2026-04-01",
                                    "found_by": "张三", "responsible_unit": "东河镇", "deadline": "2026-04-21"},
                         author="zhang")
    assert written.feature.properties["state"] == "found"
    assert written.notices == ["deadline 2026-04-21 has already passed (today is 2026-05-01): "
                               "the record is overdue from the start, by 10 days"]
    table = run_analysis(registry, default_plugin_manager(), "rectification", {}).tables["townships"]
    assert table.iloc[-1]["overdue"] == 1
    # moving the deadline into the future is no longer overdue; a past one entered again is reported again
    later = advance(registry, written.feature.uuid, "rectifying", author="zhang", on=TODAY,
                    values={"measures": "清淤", "deadline": "2026-05-31"})
    assert later.notices == []
    again = advance(registry, written.feature.uuid, "rectifying", author="zhang", values={"deadline": "2026-04-30"})
    assert "by 1 day" in again.notices[0] and "days" not in again.notices[0]
    # a record rectified on time, entered late, is not overdue and not reported
    done = add_record(registry, record(hz, "rectified", deadline="2026-04-22"), author="zhang")
    assert done.notices == []


def test_a_record_for_a_hazard_that_does_not_exist_is_refused(registry, hz):
    missing = "8f3c2a1e-0000-4000-8000-000000000000"
    with pytest.raises(ValidationError) as exc:
        registry.add(LAYER, record(missing), author="t")
    [p] = exc.value.problems
    assert p.field == "hazard_uuid" and missing in p.message
    registry.retire("hazard_points", hz, author="t")
    with pytest.raises(ValidationError, match="hazard_uuid"):
        add_record(registry, record(hz), author="t")
    assert registry.count(LAYER) == 0


def test_every_step_is_in_the_history_with_its_author_and_time(registry, hz):
    uid = add_record(registry, record(hz), author="zhang.san").feature.uuid
    advance(registry, uid, "rectifying", author="li.town", values={"measures": "削坡减载"}, on="2026-04-02")
    advance(registry, uid, "rectified", author="li.town", on="2026-04-20")
    advance(registry, uid, "verified", author="wang.county", by="王验收", on="2026-04-25")
    advance(registry, uid, "closed", author="zhao.bureau", by="赵局长", on="2026-04-28")
    changes = registry.history(LAYER, uid)
    steps = [(c.author, c.changed_fields().get("state", (None, c.after["properties"]["state"]))) for c in changes]
    assert steps == [("zhang.san", (None, "found")), ("li.town", ("found", "rectifying")),
                     ("li.town", ("rectifying", "rectified")), ("wang.county", ("rectified", "verified")),
                     ("zhao.bureau", ("verified", "closed"))]
    times = [c.at for c in changes]
    assert times == sorted(times) and len(set(times)) == 5 and all(t.startswith("2026-05-01T08:00") for t in times)
    closed = registry.get(LAYER, uid).properties
    assert (closed["verified_by"], closed["verified_at"], closed["closed_by"], closed["progress"]) == (
        "王验收", "2026-04-25", "赵局长", 100)
    assert changes[2].changed_fields()["progress"] == (0, 100)
    # a failed verification goes back to rectifying, clearing the rectification date
    other = add_record(registry, record(hz, "rectified"), author="t").feature.uuid
    back = advance(registry, other, "rectifying", author="wang.county", values={"remarks": "验收不合格"}).feature
    assert (back.properties["state"], back.properties["rectified_at"], back.properties["progress"]) == (
        "rectifying", None, None)


def test_the_command_line_adds_advances_and_refuses_with_a_clear_message(registry_path, tmp_path):
    with Registry.open(registry_path, clock=StepClock()) as reg:
        hz = reg.add("hazard_points", hazard(), HERE, author="t").uuid
    runner = CliRunner()
    out = runner.invoke(cli, ["rectification", "add", str(registry_path), hz, "--problem", "挡墙开裂",
                              "--found-by", "张三", "--unit", "东河镇", "--deadline", "2020-01-31",
                              "--found-on", "2020-01-02", "--author", "zhang"])
    assert out.exit_code == 0, out.output
    assert "overdue from the start" in out.output
    uid = out.output.split()[1]
    out = runner.invoke(cli, ["rectification", "advance", str(registry_path), uid, "verified", "--author", "li"])
    assert out.exit_code == 1
    assert f"feature {uid}" in out.output and "measures" in out.output and "allowed next states: rectifying" in \
        out.output.replace("\n", " ").replace("  ", " ")
    out = runner.invoke(cli, ["rectification", "advance", str(registry_path), uid, "rectifying",
                              "--set", "measures=加固挡墙", "--author", "li", "--if-version", "1"])
    assert out.exit_code == 0, out.output
    with Registry.open(registry_path) as reg:
        assert reg.get(LAYER, uid).properties["state"] == "rectifying"
    # the generic commands go through the same rules
    out = runner.invoke(cli, ["edit", str(registry_path), LAYER, uid, "--set", "state=closed", "--author", "li"])
    assert out.exit_code == 1 and "state" in out.output
    # a registry made before the plugin gets the ledger with `init`, as a sound GeoPackage
    old = tmp_path / "old.gpkg"
    Registry.create(old, name="旧县", bureau=BUREAU, plugins=get_plugin_manager(entrypoints=False)).close()
    out = runner.invoke(cli, ["rectification", "report", str(old)])
    assert out.exit_code == 1 and "rectification init" in out.output
    out = runner.invoke(cli, ["rectification", "init", str(old)])
    assert out.exit_code == 0 and "added" in out.output
    assert check_registry(old) == []
    with Registry.open(old) as reg:
        h = reg.add("hazard_points", hazard(), HERE, author="t").uuid
        assert add_record(reg, record(h), author="t").feature.version == 1


def test_init_gives_the_same_table_as_a_new_registry(registry_path, tmp_path):
    old = tmp_path / "old.gpkg"
    Registry.create(old, name="旧县", bureau=BUREAU, plugins=get_plugin_manager(entrypoints=False)).close()
    with Registry.open(old) as reg:
        assert reg.add_layers([LAYER]) == [LAYER]
        assert reg.add_layers([LAYER]) == []
    import sqlite3

    def describe(path):
        with sqlite3.connect(path) as c:
            return (c.execute("SELECT sql FROM sqlite_master WHERE tbl_name = ? ORDER BY name", (LAYER,)).fetchall(),
                    c.execute("SELECT * FROM gpkg_data_columns WHERE table_name = ? ORDER BY column_name",
                              (LAYER,)).fetchall(),
                    c.execute("SELECT data_type, identifier, description FROM gpkg_contents WHERE table_name = ?",
                              (LAYER,)).fetchall(),
                    c.execute("SELECT styleName, styleQML, useAsDefault FROM layer_styles WHERE f_table_name = ?"
                              " ORDER BY styleName", (LAYER,)).fetchall())

    assert describe(old) == describe(registry_path)


def test_writes_over_http_follow_the_rules_and_reading_needs_no_key(request, backend):
    from web_support import auth, make_key

    from rallypoint.web import create_app

    path = county_copy(request, backend, "rectification_web")
    editor = make_key(path, "zhang.wei", "editor")
    reader = make_key(path, "li.na", "reader")
    with Registry.open(path) as reg:
        hz = next(reg.features("hazard_points")).uuid
    client = create_app(path, {"TESTING": True}).test_client()
    body = {"hazard_uuid": hz, "problem": "危岩体松动", "found_at": "2020-03-01", "found_by": "张三",
            "responsible_unit": "西河街道办", "deadline": "2020-03-31"}
    assert client.post("/rectification/records", json=body).status_code == 401  # writing needs a key
    assert client.post("/rectification/records", json=body, headers=auth(reader)).status_code == 403
    r = client.post("/rectification/records", json=body, headers=auth(editor))
    assert r.status_code == 201, r.json
    uid = r.json["uuid"]
    assert "overdue from the start" in r.json["notices"][0]
    r = client.post(f"/rectification/records/{uid}/advance", json={"state": "closed"}, headers=auth(editor))
    assert r.status_code == 400
    assert {p["field"] for p in r.json["problems"]} >= {"measures", "verified_at", "verified_by"}
    assert all(p["feature"] == f"feature {uid}" for p in r.json["problems"])
    r = client.post(f"/rectification/records/{uid}/advance", json={"state": "rectifying",
                    "values": {"measures": "清除危岩"}, "if_version": 1}, headers=auth(editor))
    assert r.status_code == 200 and r.json["record"]["state"] == "rectifying"
    # the OGC API's own PATCH of the collection is guarded by the same rules
    r = client.patch(f"/collections/{LAYER}/items/{uid}", json={"properties": {"state": "found"}},
                     headers={**auth(editor), "Content-Type": "application/merge-patch+json",
                              "If-Match": f'"{uid}-v2"'})
    assert r.status_code == 400 and "allowed next states" in json.dumps(r.json, ensure_ascii=False)
    with Registry.open(path) as reg:
        assert reg.get(LAYER, uid).version == 2
    # reading: no key needed
    r = client.get("/rectification/records?list=overdue&as_of=2020-06-01")
    assert r.status_code == 200 and [x["uuid"] for x in r.json["records"]] == [uid]
    assert r.json["records"][0]["found_by"] == "张三"
    r = client.get("/rectification/townships?as_of=2020-06-01")
    assert r.status_code == 200 and r.json["townships"][-1] == {
        "township": "*", "township_name": "", "total": 1, "open": 1, "overdue": 1, "closed": 0, "rectified": 0,
        "rate_pct": 0.0}
    assert client.get("/rectification/records?list=late").status_code == 400
    assert client.get("/rectification/records?colour=red").status_code == 400
    assert client.get("/rectification/townships?as_of=yesterday").status_code == 400
    assert "/rectification/townships" in json.dumps(client.get("/api").json)
    # the analysis is an OGC process
    assert client.get("/processes/rectification").status_code == 200


def test_the_ledger_travels_in_an_export_and_imports_into_another_bureaus_registry(registry, registry_path, tmp_path):
    hz = registry.add("hazard_points", hazard(), HERE, author="t").uuid
    uids = registry.add_many(LAYER, [(record(hz, s), None) for s in STATES], author="t")
    runner = CliRunner()
    out, received = tmp_path / "out.gpkg", tmp_path / "received.gpkg"
    assert runner.invoke(cli, ["export", str(registry_path), str(out)]).exit_code == 0  # without personal data
    assert runner.invoke(cli, ["init", str(received), "--name", "市局", "--bureau", "示例市应急管理局"]).exit_code == 0
    result = runner.invoke(cli, ["import", str(received), str(out), "--author", "city"])
    assert result.exit_code == 0, result.output
    with Registry.open(received) as reg:
        got = {f.uuid: f.properties for f in reg.features(LAYER)}
    assert set(got) == set(uids)
    assert got[uids[-1]]["state"] == "closed" and got[uids[-1]]["verified_by"] == "李四"


def test_the_plugin_needs_no_special_case_in_the_core():
    import pathlib

    core = pathlib.Path(__file__).resolve().parents[1] / "core"
    hits = [p.name for p in core.rglob("*.py") if "rectification" in p.read_text(encoding="utf-8")]
    assert hits == []


def test_a_registry_copy_with_the_ledger_stays_sound(county_sample, tmp_path):
    path = tmp_path / "c.gpkg"
    shutil.copyfile(county_sample, path)
    with Registry.open(path, clock=StepClock()) as reg:
        hz = next(reg.features("hazard_points")).uuid
        uid = add_record(reg, record(hz), author="t").feature.uuid
        advance(reg, uid, "rectifying", author="t", values={"measures": "x"})
    assert check_registry(path, gdal=False) == []


@pytest.mark.slow
def test_a_field_copy_pulls_the_servers_steps_taken_meanwhile(county_sample, tmp_path):
    """Forward over several steps is allowed when the steps are recorded: else a copy that missed the server's
    intermediate steps could never pull (found → verified here, each step validated on the server)."""
    import urllib.request

    from web_support import Server, copy_registry, make_key

    from rallypoint.sync import pull

    path = copy_registry(county_sample, tmp_path / "served.gpkg")
    key = make_key(path, "zhang.field", "editor")
    with Registry.open(path) as reg:
        hz = next(reg.features("hazard_points")).uuid
        uid = add_record(reg, record(hz), author="office").feature.uuid
    srv = Server(path, workers=1, threads=2)
    try:
        field = tmp_path / "field.gpkg"
        r = CliRunner().invoke(cli, ["checkout", srv.url, str(field), "--key", key, "--author", "zhang.field"])
        assert r.exit_code == 0, r.output
        for step in ({"state": "rectifying", "values": {"measures": "削坡"}}, {"state": "rectified"},
                     {"state": "verified", "by": "李四"}):
            req = urllib.request.Request(f"{srv.url}/rectification/records/{uid}/advance", method="POST",
                                         data=json.dumps(step).encode(),
                                         headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
            with urllib.request.urlopen(req) as resp:
                assert resp.status == 200
        with Registry.open(field) as reg:
            assert reg.get(LAYER, uid).properties["state"] == "found"
        pull(field, key=key, author="zhang.field")
        with Registry.open(field) as reg:
            local = reg.get(LAYER, uid).properties
            assert (local["state"], local["verified_by"], local["measures"]) == ("verified", "李四", "削坡")
            assert reg.history(LAYER, uid)[-1].changed_fields()["state"] == ("found", "verified")
            with pytest.raises(ValidationError, match="allowed next states: closed"):  # and no way back in the copy
                reg.update(LAYER, uid, {"state": "rectified", "verified_at": None, "verified_by": None}, author="z")
    finally:
        srv.stop()
