"""rallypoint diff and merge: changes keyed on UUID, round trips, and a merge of two bureaus' edits that keeps
every edit and reports every conflict.

The merge tests run on both backends (``backend``): on PostGIS, ours and theirs are both PostGIS registries,
so the merge writes into a database and reads another one's changes out of it. The diff tests compare files
(exports, and geodiff's fids of one file's lineage) and stay on GeoPackage.
"""

import json
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner
from shapely.geometry import Point

from rallypoint import Registry
from rallypoint.check import check_registry
from rallypoint.cli.main import cli
from rallypoint.exchange.apply import apply_import
from rallypoint.exchange.diff import diff_registries
from rallypoint.exchange.export import export_registry
from rallypoint.exchange.importer import plan_import
from rallypoint.exchange.merge import CONFLICTS_TABLE, merge_registries, unresolved_conflicts
from rallypoint.storage.gpkg.blobs import register_functions
from rallypoint.check.postgis import check_postgis_registry
from rallypoint.storage import location_label
from rallypoint.plugins import default_plugin_manager, layer_catalog

from conftest import StepClock

pytestmark = pytest.mark.both_backends

ENV = {"RALLYPOINT_AUTHOR": "cli", "COLUMNS": "200"}


def import_into_new(source, path, name, bureau):
    Registry.create(path, name=name, bureau=bureau).close()
    with Registry.open(path, clock=StepClock()) as reg:
        result = apply_import(reg, plan_import(reg, source), author=bureau)
    assert result.applied and not result.refused
    return path


@pytest.fixture(scope="module")
def round_trip(county_sample, tmp_path_factory):
    """The county exported with everything, and imported into an empty registry of another bureau."""
    d = tmp_path_factory.mktemp("roundtrip")
    export = d / "county-all.gpkg"
    export_registry(county_sample, export, include_personal=True)
    return export, import_into_new(export, d / "received.gpkg", "市局资源", "示例市应急管理局")


def test_export_then_import_into_an_empty_registry_then_diff_shows_no_change(county_sample, round_trip):
    export, received = round_trip
    for a, b in ((export, received), (county_sample, received)):
        d = diff_registries(a, b)
        assert d.empty, d.changes[:3]
        assert set(d.layers) == {n for n, ldef in layer_catalog(default_plugin_manager()).items() if ldef.versioned}
    with Registry.open(received) as reg:
        assert reg.info.bureau == "示例市应急管理局"  # a registry of its own: its own stamps and history
        assert len(reg.history()) >= 1743


def test_diff_lists_inserts_updates_field_by_field_and_retirements(round_trip, tmp_path):
    _, received = round_trip
    b = tmp_path / "b.gpkg"
    shutil.copyfile(received, b)
    with Registry.open(b, clock=StepClock()) as reg:
        s1, s2 = list(reg.features("shelters", limit=2))
        reg.update("shelters", s1.uuid, {"occupancy": 321, "status": "open"}, Point(103.7, 30.6), author="wang")
        reg.retire("shelters", s2.uuid, author="wang", reason="拆除")
        pad = next(reg.features("helipads")).properties
        new = reg.add("helipads", {k: pad[k] for k in ("adcode", "source", "surface", "pad_length_m", "pad_width_m",
                                                       "status")} | {"name": "新起降点"}, Point(103.71, 30.61),
                      author="wang").uuid
    d = diff_registries(received, b)
    got = {(c.op, c.uuid): c for c in d.changes}
    assert d.counts() == {"insert": 1, "update": 1, "retire": 1, "restore": 0, "absent": 0}
    assert set(got[("update", s1.uuid)].fields) == {"occupancy", "status", "geometry"}
    assert got[("update", s1.uuid)].fields["status"] == ("standby", "open")
    assert got[("insert", new)].name == "新起降点"
    assert ("retire", s2.uuid) in got
    stamped = diff_registries(received, b, stamps=True)
    assert "version" in {f for c in stamped.changes for f in c.fields}


def test_geodiff_finds_the_same_changes_when_fids_are_shared_and_is_not_trusted_when_they_are_not(
        county_sample, round_trip, tmp_path):
    export, received = round_trip
    edited = tmp_path / "edited.gpkg"
    shutil.copyfile(export, edited)
    with Registry.open(edited, clock=StepClock()) as reg:
        t = next(reg.features("teams"))
        reg.update("teams", t.uuid, {"members": 7}, author="li")
    same = diff_registries(export, edited, engine="geodiff")
    assert same.engine == "geodiff" and [(c.op, c.uuid) for c in same.changes] == [("update", t.uuid)]
    assert same.changes[0].fields == {"members": (t.properties["members"], 7)}
    renumbered = tmp_path / "renumbered.gpkg"  # the import renumbered fids: geodiff would pair the wrong rows
    shutil.copyfile(received, renumbered)
    with closing(sqlite3.connect(renumbered)) as c:  # two features swap fids, as a rewrite of the layer may do
        register_functions(c)
        c.execute("UPDATE teams SET fid = -1 WHERE fid = 1")
        c.execute("UPDATE teams SET fid = 1 WHERE fid = 2")
        c.execute("UPDATE teams SET fid = 2 WHERE fid = -1")
        c.commit()
    fallback = diff_registries(export, renumbered, engine="geodiff")
    assert fallback.engine.startswith("uuid") and fallback.empty
    assert any("geodiff" in n for n in fallback.notes)


def test_the_default_diff_pairs_rows_on_the_fid_only_when_every_fid_holds_the_same_feature(round_trip, tmp_path):
    _, received = round_trip
    edited = tmp_path / "edited.gpkg"
    shutil.copyfile(received, edited)
    with Registry.open(edited, clock=StepClock()) as reg:
        t = next(reg.features("teams"))
        reg.update("teams", t.uuid, {"members": 7}, author="li")
    paired = diff_registries(received, edited)  # a copy: every fid holds the same feature in both
    assert [(c.op, c.uuid, c.fields) for c in paired.changes] == [("update", t.uuid,
                                                                    {"members": (t.properties["members"], 7)})]
    moved = tmp_path / "moved.gpkg"  # two teams swap fids and a helipad is gone: paired on the UUID
    shutil.copyfile(edited, moved)
    with closing(sqlite3.connect(moved)) as c:
        register_functions(c)
        c.execute("UPDATE teams SET fid = -1 WHERE fid = 1")
        c.execute("UPDATE teams SET fid = 1 WHERE fid = 2")
        c.execute("UPDATE teams SET fid = 2 WHERE fid = -1")
        gone = c.execute("SELECT uuid FROM helipads ORDER BY fid LIMIT 1").fetchone()[0]
        c.execute("DELETE FROM helipads WHERE uuid = ?", (gone,))
        c.commit()
    d = diff_registries(received, moved)
    assert [(c.op, c.uuid) for c in d.changes] == [("update", t.uuid), ("absent", gone)]
    assert [(c.op, c.uuid) for c in diff_registries(moved, received).changes] == [("update", t.uuid),
                                                                               ("insert", gone)]


def import_into(location, source, bureau):
    with Registry.open(location, clock=StepClock()) as reg:
        result = apply_import(reg, plan_import(reg, source), author=bureau)
    assert result.applied and not result.refused
    return location


@pytest.fixture(scope="module")
def base_export(county_sample, tmp_path_factory):
    """The base both bureaus start from: the county exported whole; and the city's registry made from it."""
    d = tmp_path_factory.mktemp("bureaus")
    base = d / "base.gpkg"
    export_registry(county_sample, base, include_personal=True)
    return base, import_into_new(base, d / "theirs.gpkg", "市局", "示例市应急管理局")


@pytest.fixture(scope="module")
def pg_base_imported(pg_cluster, pg_template, base_export):
    """A PostGIS registry holding the base (imported once; each test gets copies of the database)."""
    url = pg_cluster.new_database(template=pg_template)
    import_into(url, base_export[0], "示例县应急管理局")
    yield url.rsplit("/", 1)[1]
    pg_cluster.drop_database(url)


@pytest.fixture
def pg_bureaus(pg_cluster, pg_base_imported):
    """Two PostGIS registries (ours, theirs) that both imported the base, dropped after the test."""
    urls = [pg_cluster.new_database(template=pg_base_imported) for _ in range(2)]
    yield urls
    for url in urls:
        pg_cluster.drop_database(url)


@pytest.fixture
def two_bureaus(county_sample, base_export, tmp_path, backend, request):
    """Ours (the county registry), the base export both start from, theirs (the city's registry) and its export;
    on PostGIS, ours and theirs are databases (the base imported into each) and theirs is read directly."""
    base = tmp_path / "base.gpkg"
    shutil.copyfile(base_export[0], base)
    if backend == "postgis":
        ours, theirs = request.getfixturevalue("pg_bureaus")
    else:
        ours, theirs = tmp_path / "ours.gpkg", tmp_path / "theirs.gpkg"
        shutil.copyfile(county_sample, ours)
        shutil.copyfile(base_export[1], theirs)
    with Registry.open(theirs, clock=StepClock()) as reg:
        s = list(reg.features("shelters", limit=4))
        hp, team = next(reg.features("helipads")), next(reg.features("teams"))
        reg.update("shelters", s[0].uuid, {"occupancy": 111}, author="them")        # both: conflict
        reg.update("shelters", s[1].uuid, {"status": "open"}, author="them")        # both, other fields
        reg.update("shelters", s[2].uuid, {"capacity_night": 9}, author="them")     # both, same value
        reg.retire("shelters", s[3].uuid, author="them", reason="拆除")              # retired by them, edited by us
        reg.retire("helipads", hp.uuid, author="them", reason="征用")                # only them
        editable = {f.name for f in reg.layer("teams").editable_fields}
        new_team = reg.add("teams", {k: v for k, v in team.properties.items() if k in editable} | {"name": "新组建队"},
                           team.geometry, author="them").uuid
    with Registry.open(ours, clock=StepClock()) as reg:
        reg.update("shelters", s[0].uuid, {"occupancy": 222}, author="us")
        reg.update("shelters", s[1].uuid, {"capacity_day": 555}, author="us")
        reg.update("shelters", s[2].uuid, {"capacity_night": 9}, author="us")
        reg.update("shelters", s[3].uuid, {"occupancy": 3}, author="us")
        only_ours = list(reg.features("teams", limit=2))[1].uuid
        reg.update("teams", only_ours, {"members": 12}, author="us")
    if backend == "postgis":
        their_export = theirs
    else:
        their_export = tmp_path / "theirs-export.gpkg"
        export_registry(theirs, their_export, include_personal=True)
    return {"backend": backend, "ours": ours, "base": base, "theirs": their_export, "s": [x.uuid for x in s],
            "helipad": hp.uuid, "new_team": new_team, "only_ours": only_ours}


def test_a_merge_keeps_every_edit_and_reports_every_conflict(two_bureaus):
    b = two_bureaus
    s = b["s"]
    dry = merge_registries(b["ours"], b["theirs"], b["base"], author="us", dry_run=True)
    assert unresolved_conflicts(b["ours"]) == []
    result = merge_registries(b["ours"], b["theirs"], b["base"], author="us")
    assert dry.counts() == result.counts()
    conflicts = {c.uuid: c for c in result.conflicts}
    assert set(conflicts) == {s[0], s[3]}
    assert conflicts[s[0]].kind == "edit/edit" and conflicts[s[0]].fields["occupancy"] == (0, 222, 111)
    assert conflicts[s[3]].kind == "retired-by-them/edited-by-us"
    applied = {(c.op, c.uuid) for c in result.applied}
    assert applied == {("update", s[1]), ("retire", b["helipad"]), ("insert", b["new_team"])}
    with Registry.open(b["ours"]) as reg:
        assert reg.get("shelters", s[0]).properties["occupancy"] == 222             # ours stays in the layer
        assert reg.get("shelters", s[1]).properties["status"] == "open"             # their edit …
        assert reg.get("shelters", s[1]).properties["capacity_day"] == 555          # … and ours, both kept
        assert reg.get("shelters", s[2]).properties["capacity_night"] == 9
        assert not reg.get("shelters", s[3]).retired and reg.get("shelters", s[3]).properties["occupancy"] == 3
        assert reg.get("helipads", b["helipad"]).retired
        assert reg.get("teams", b["new_team"]).properties["name"] == "新组建队"
        assert reg.get("teams", b["only_ours"]).properties["members"] == 12
        assert reg.history("shelters", s[1])[-1].note.startswith("merge:")
    stored = {r["uuid"]: r for r in unresolved_conflicts(b["ours"])}  # theirs is kept, whole
    assert set(stored) == {s[0], s[3]}
    theirs = json.loads(stored[s[0]]["theirs"])
    assert theirs["properties"]["occupancy"] == 111 and theirs["geometry"]
    assert json.loads(stored[s[3]]["theirs"])["properties"]["retired_at"]
    assert json.loads(stored[s[0]]["ours"])["properties"]["occupancy"] == 222
    if b["backend"] == "postgis":
        assert check_postgis_registry(b["ours"]) == []
        assert stored[s[0]]["theirs_from"] == location_label(b["theirs"])  # where from, without a password
    else:
        assert check_registry(b["ours"]) == []  # still a sound registry, GDAL's validator included
    again = merge_registries(b["ours"], b["theirs"], b["base"], author="us")
    assert again.applied == [] and all(not c.recorded for c in again.conflicts)
    assert len(unresolved_conflicts(b["ours"])) == 2
    if b["backend"] == "gpkg":  # the file format: the table is listed in gpkg_contents, so QGIS and GDAL see it
        with closing(sqlite3.connect(b["ours"])) as c:
            assert c.execute("SELECT data_type FROM gpkg_contents WHERE table_name = ?",
                             (CONFLICTS_TABLE,)).fetchone() == ("attributes",)


def test_a_merge_into_a_registry_changed_since_its_snapshot_writes_nothing(two_bureaus, tmp_path):
    """The merge's updates are guarded by the versions its snapshot of ours saw: an edit made in between
    fails the merge whole, and is not overwritten."""
    from rallypoint.errors import ConflictError
    from rallypoint.exchange.merge import _merge
    from rallypoint.exchange.snapshots import as_files

    b = two_bureaus
    with as_files(b["ours"], b["theirs"]) as (ours_file, theirs_file):
        stale = tmp_path / "ours-before.gpkg"
        shutil.copyfile(ours_file, stale)
        with Registry.open(b["ours"]) as reg:
            reg.update("shelters", b["s"][1], {"capacity_night": 4}, author="meanwhile")  # theirs changed status
            before = len(reg.history())
        with pytest.raises(ConflictError, match="changed while it was being merged"):
            _merge(b["ours"], stale, Path(theirs_file), Path(b["base"]), "theirs", "base", author="us",
                   dry_run=False, layers=None)
    with Registry.open(b["ours"]) as reg:
        assert len(reg.history()) == before and reg.get("shelters", b["s"][1]).properties["status"] == "standby"
        assert not reg.get("helipads", b["helipad"]).retired
    assert unresolved_conflicts(b["ours"]) == []


def test_diff_and_merge_from_the_command_line(two_bureaus):
    b = two_bureaus
    out = CliRunner().invoke(cli, ["diff", str(b["base"]), str(b["theirs"]), "--exit-code"], env=ENV)
    assert out.exit_code == 1 and "retire" in out.output and "status: 'standby' → 'open'" in out.output
    out = CliRunner().invoke(cli, ["diff", str(b["base"]), str(b["theirs"]), "--json"], env=ENV)
    assert json.loads(out.output)["counts"]["insert"] == 1
    out = CliRunner().invoke(cli, ["merge", str(b["ours"]), str(b["theirs"]), "--base", str(b["base"]),
                                   "--dry-run"], env=ENV)
    assert out.exit_code == 0 and "CONFLICT edit/edit" in out.output and "Dry run" in out.output
    assert unresolved_conflicts(b["ours"]) == []


def test_conflicts_are_listed_and_resolved_with_who_and_when_in_one_batch(two_bureaus):
    from rallypoint.registry import ConflictResolvedError

    b = two_bureaus
    s = b["s"]
    merge_registries(b["ours"], b["theirs"], b["base"], author="us")
    with Registry.open(b["ours"], clock=StepClock()) as reg:
        found = {c.uuid: c for c in reg.conflicts()}
        assert set(found) == {s[0], s[3]} and reg.conflicts(resolved=True) == []
        edit, retired = found[s[0]], found[s[3]]
        assert edit.values() == {"occupancy": (0, 222, 111)} and edit.name
        assert retired.kind == "retired-by-them/edited-by-us" and retired.theirs["properties"]["retired_at"]
        before = reg.get("shelters", s[0]).version
        done, feat = reg.resolve_conflict(edit.id, keep="theirs", author="chen.office")
        assert feat.properties["occupancy"] == 111 and feat.version == before + 1
        assert done.resolved and done.resolution == {"keep": "theirs", "set": {}, "by": "chen.office",
                                                     "version": before + 1}
        last = reg.history("shelters", s[0])[-1]
        assert (last.op, last.author, last.at) == ("resolve", "chen.office", done.resolved_at)  # who and when
        assert f"merge conflict {edit.id}" in last.note and "kept theirs" in last.note
        assert last.changed_fields()["occupancy"] == (222, 111)
        kept = reg.get("shelters", s[3])
        done, feat = reg.resolve_conflict(retired.id, keep="ours", author="chen.office")
        assert not feat.retired and feat.version == kept.version + 1  # ours stands, and the history says so
        assert feat.properties["occupancy"] == kept.properties["occupancy"]
        assert reg.history("shelters", s[3])[-1].op == "resolve"
        assert reg.conflicts() == [] and {c.id for c in reg.conflicts(resolved=True)} == {edit.id, retired.id}
        with pytest.raises(ConflictResolvedError, match="already resolved"):
            reg.resolve_conflict(edit.id, keep="ours", author="someone")
    again = merge_registries(b["ours"], b["theirs"], b["base"], author="us")  # the same merge: settled once
    assert all(not c.recorded for c in again.conflicts)
    with Registry.open(b["ours"]) as reg:
        assert reg.conflicts() == []


def test_a_resolution_that_is_refused_writes_nothing_and_leaves_the_conflict_open(two_bureaus):
    from rallypoint.errors import ConflictError, ValidationError

    b = two_bureaus
    s = b["s"]
    merge_registries(b["ours"], b["theirs"], b["base"], author="us")
    with Registry.open(b["ours"]) as reg:
        c = next(x for x in reg.conflicts() if x.uuid == s[0])
        version = reg.get("shelters", s[0]).version
        with pytest.raises(ValidationError, match="occupancy"):  # the layer's rule, named
            reg.resolve_conflict(c.id, values={"occupancy": -1}, author="chen")
        with pytest.raises(ValidationError, match="not in conflict"):
            reg.resolve_conflict(c.id, values={"address": "别处"}, author="chen")
        with pytest.raises(ConflictError, match="changed since version"):
            reg.resolve_conflict(c.id, keep="theirs", author="chen", expected_version=version - 1)
        assert reg.get("shelters", s[0]).version == version and [x.id for x in reg.conflicts()].count(c.id) == 1
        done, feat = reg.resolve_conflict(c.id, values={"occupancy": 150}, author="chen", expected_version=version)
        assert feat.properties["occupancy"] == 150 and done.resolution["set"] == {"occupancy": 150}


def test_conflicts_from_the_command_line(two_bureaus):
    b = two_bureaus
    s = b["s"]
    ours = str(b["ours"])
    assert "No open merge conflicts" in CliRunner().invoke(cli, ["conflicts", "list", ours], env=ENV).output
    merge_registries(b["ours"], b["theirs"], b["base"], author="us")
    out = CliRunner().invoke(cli, ["conflicts", "list", ours, "--lang", "en"], env=ENV)
    assert out.exit_code == 0, out.output
    assert "edit/edit" in out.output and "retired-by-them/edited-by-us" in out.output and "(Asia/Shanghai)" in out.output
    listed = json.loads(CliRunner().invoke(cli, ["conflicts", "list", ours, "--json"], env=ENV).output)
    ids = {c["uuid"]: c["id"] for c in listed}
    assert listed[0]["fields"] or listed[1]["fields"]
    out = CliRunner().invoke(cli, ["conflicts", "resolve", ours, str(ids[s[0]])], env=ENV)
    assert out.exit_code == 2 and "--keep" in out.output  # say what to keep
    out = CliRunner().invoke(cli, ["conflicts", "resolve", ours, str(ids[s[0]]), "--set", "occupancy=-4"], env=ENV)
    assert out.exit_code == 1 and "Refused" in out.output and "occupancy" in out.output
    out = CliRunner().invoke(cli, ["conflicts", "resolve", ours, str(ids[s[0]]), "--keep", "theirs",
                                   "--author", "li.office"], env=ENV)
    assert out.exit_code == 0 and "kept theirs" in out.output, out.output
    out = CliRunner().invoke(cli, ["conflicts", "resolve", ours, str(ids[s[3]]), "--set", "occupancy=7"], env=ENV)
    assert out.exit_code == 1 and "not in conflict" in out.output  # they retired it; no field is in conflict
    out = CliRunner().invoke(cli, ["conflicts", "resolve", ours, str(ids[s[3]]), "--keep", "ours"], env=ENV)
    assert out.exit_code == 0 and "kept ours" in out.output, out.output
    out = CliRunner().invoke(cli, ["conflicts", "resolve", ours, str(ids[s[3]]), "--keep", "theirs"], env=ENV)
    assert out.exit_code == 1 and "already resolved" in out.output
    out = CliRunner().invoke(cli, ["conflicts", "list", ours, "--resolved"], env=ENV)
    assert "li.office" in out.output and "kept theirs" in out.output
    with Registry.open(b["ours"]) as reg:
        assert reg.get("shelters", s[0]).properties["occupancy"] == 111
        assert not reg.get("shelters", s[3]).retired and reg.get("shelters", s[3]).properties["occupancy"] == 3
        assert reg.history("shelters", s[0])[-1].author == "li.office"
