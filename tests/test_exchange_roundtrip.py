"""The exchange round trip, whole, as bureaus do it, on a GeoPackage and on PostGIS receiving registry:

the county exports a township's shelters and helipads **without personal fields**; the township opens the file
with the CLI and the Python API (show, edit, add, retire: no traceback, the contacts shown as not held, never
invented, a value for them refused by name); meanwhile the county changes two of the same shelters; the file is
merged back: the county keeps every phone number it holds, gets every edit, and lists and resolves the two
deliberate conflicts, one from the CLI and one over HTTP.
"""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner
from conftest import county_copy
from web_support import auth, make_key

from rallypoint import Registry
from rallypoint.cli.main import cli
from rallypoint.errors import ValidationError
from rallypoint.web import create_app

TOWNSHIP = "519921101"
ENV = {"COLUMNS": "200"}


def run(*args: str, code: int = 0) -> str:
    r = CliRunner().invoke(cli, [str(a) for a in args], env=ENV)
    assert r.exit_code == code, (args, r.output, r.exception)
    assert "Traceback" not in r.output
    return r.output


def contacts(location) -> dict:
    """Every personal value the registry holds, by layer, feature and field."""
    out = {}
    with Registry.open(location) as reg:
        for name, layer in reg.layers.items():
            for f in reg.features(name, include_retired=True) if layer.personal_fields else ():
                out[name, f.uuid] = {p: f.properties[p] for p in layer.personal_fields}
    return out


@pytest.mark.parametrize("backend", ["gpkg", "postgis"])
def test_export_without_personal_fields_edit_merge_back_and_settle_the_conflicts(request, backend, tmp_path):
    county = county_copy(request, backend, "roundtrip")
    phones = contacts(county)
    assert sum(1 for v in phones.values() if v.get("manager_phone")) > 10
    sent, copy = tmp_path / "xiling-sent.gpkg", tmp_path / "xiling.gpkg"
    run("export", county, sent, "--adcode", TOWNSHIP, "--layers", "shelters,helipads")
    shutil.copyfile(sent, copy)

    # -- the township's side: the file lacks the contacts ----------------------------------------------------
    s1, s2, s3 = run("list", copy, "shelters", "--format", "ids", "--limit", "3").split()
    shown = run("show", copy, "shelters", s1, "--lang", "en")
    assert "manager_phone" in shown and shown.count("(not held in this registry)") == 2
    assert "manager_phone │ manager_phone" not in shown.replace(")", "").replace("  ", " ")
    as_json = json.loads(run("show", copy, "shelters", s1, "--json"))
    assert "manager_phone" not in as_json["properties"] and as_json["properties"]["name"]
    with Registry.open(copy) as reg:
        assert reg.absent_fields("shelters") == ("manager_name", "manager_phone")
        assert reg.absent_fields("helipads") == ("contact_name", "contact_phone")
        assert "manager_phone" not in reg.get("shelters", s1).properties
        with pytest.raises(ValidationError, match="not held in this registry"):
            reg.update("shelters", s1, {"manager_phone": "13800001111"}, author="wang.xiling")
        frame = reg.read_frame("shelters")
        assert "manager_phone" not in frame.columns and len(frame) >= 3
    refused = run("edit", copy, "shelters", s1, "--set", "manager_phone=13800001111", code=1)
    assert "not held" in refused and "not a Chinese mobile" not in refused
    run("edit", copy, "shelters", s1, "--set", "occupancy=40", "--set", "status=open", "--author", "wang.xiling")
    run("edit", copy, "shelters", s2, "--set", "occupancy=25", "--author", "wang.xiling")
    run("retire", copy, "shelters", s3, "--reason", "校舍改建", "--author", "wang.xiling")
    added = run("add", copy, "helipads", "--at", "103.72,30.61", "--set", "name=西岭镇应急起降点",
                "--set", f"adcode={TOWNSHIP}", "--set", "source=西岭镇人民政府", "--set", "surface=草地",
                "--set", "pad_length_m=30", "--set", "pad_width_m=30", "--set", "status=可用", "--author", "wang.xiling")
    pad = added.split("helipads ")[1].split()[0]
    assert "(not held in this registry)" in run("show", copy, "helipads", pad, "--lang", "en")

    # -- the county's side: two of the same fields changed meanwhile, then the merge ------------------------
    run("edit", county, "shelters", s1, "--set", "occupancy=55", "--author", "li.county")
    run("edit", county, "shelters", s2, "--set", "occupancy=30", "--author", "li.county")
    merged = run("merge", county, copy, "--base", sent, "--author", "li.county")
    assert "2 conflicts" in merged
    with Registry.open(county) as reg:
        assert reg.get("shelters", s1).properties["status"] == "open"     # their edit of another field: in
        assert reg.get("shelters", s1).properties["occupancy"] == 55      # the field both changed: ours, for now
        assert reg.get("shelters", s3).retired
        assert reg.get("helipads", pad).properties["name"] == "西岭镇应急起降点"
        assert reg.get("helipads", pad).properties["contact_phone"] is None  # not invented
    after = contacts(county)
    assert {k: v for k, v in after.items() if k != ("helipads", pad)} == phones  # every phone number kept

    # -- the conflicts: listed, one resolved from the CLI, one over HTTP --------------------------------------
    listed = run("conflicts", "list", county, "--lang", "en")
    assert "occupancy" in listed and "edit/edit" in listed and "55" in listed and "40" in listed
    ids = {c["uuid"]: c["id"] for c in json.loads(run("conflicts", "list", county, "--json"))}
    assert set(ids) == {s1, s2}
    run("conflicts", "resolve", county, ids[s1], "--keep", "theirs", "--author", "li.county")
    key = make_key(county, "zhang.wei", "editor")
    client = create_app(county, {"TESTING": True}).test_client()
    page = client.get("/conflicts", headers=auth(key)).get_json()
    assert [c["uuid"] for c in page["conflicts"]] == [s2]
    etag = client.get(f"/conflicts/{ids[s2]}", headers=auth(key)).headers["ETag"]
    r = client.post(f"/conflicts/{ids[s2]}/resolution", data=json.dumps({"set": {"occupancy": 28}}),
                    headers={**auth(key), "Content-Type": "application/json", "If-Match": etag})
    assert r.status_code == 200, r.get_json()
    with Registry.open(county) as reg:
        assert reg.conflicts() == [] and len(reg.conflicts(resolved=True)) == 2
        assert reg.get("shelters", s1).properties["occupancy"] == 40
        assert reg.get("shelters", s2).properties["occupancy"] == 28
        last = {u: reg.history("shelters", u)[-1] for u in (s1, s2)}
        assert (last[s1].op, last[s1].author) == ("resolve", "li.county")
        assert (last[s2].op, last[s2].author) == ("resolve", "zhang.wei")
    assert {k: v for k, v in contacts(county).items() if k != ("helipads", pad)} == phones
