"""Every real file written by others imports with a report or is refused with a clear reason; none crashes.
Japan's GSI lists and Nanao's shelters import through their mapping profiles; Nanao's snapshots, imported
in date order, give each shelter's occupancy history."""

import csv
import shutil
import uuid
from pathlib import Path

import pytest

from rallypoint import RallypointError, Registry
from rallypoint.exchange.apply import apply_import
from rallypoint.exchange.importer import plan_import

from conftest import REAL_FIXTURES

REAL = REAL_FIXTURES
FILES = sorted(p for folder in ("gpkg-ogc", "gpkg-nga", "jp-gsi", "noto-nanao", "noto-nanao/latest")
               for p in (REAL / folder).iterdir() if p.is_file() and p.suffix in (".gpkg", ".json", ".csv", ".geojson"))
HISTORY = sorted((REAL / "noto-nanao" / "history").glob("*.csv"))  # the names sort by date and time
RESOURCE_DATA = ("jp-gsi", "noto-nanao")
OPTIONS = {"adcode": "519921", "hazards": "earthquake"}  # what a receiving bureau gives for foreign data
NANAO_IDS = uuid.uuid5(uuid.NAMESPACE_URL, "urn:rallypoint:jp:nanao-city:shelter-ID")

pytestmark = pytest.mark.both_backends  # the `registry` test refuses files on either backend


def test_the_fixture_folders_are_all_here():
    assert len(FILES) >= 45 and len(HISTORY) >= 100


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_real_file_imports_with_a_report_or_is_refused_with_a_reason(path, tmp_path, foreign_registry_file):
    reg_path = tmp_path / "throwaway.gpkg"  # a registry for foreign data: these shelters lie in Japan
    shutil.copyfile(foreign_registry_file, reg_path)
    with Registry.open(reg_path) as reg:
        try:
            plan = plan_import(reg, path, options=OPTIONS)
            result = apply_import(reg, plan, author="tester", quarantine=tmp_path / "refused.gpkg")
        except RallypointError as exc:  # refused as a whole: the message names the file and says why
            assert path.parent.name not in RESOURCE_DATA + ("latest",), f"{path.name}: {exc}"
            assert path.name in str(exc) and len(str(exc)) > len(path.name) + 20, str(exc)
            return
        inserted = reg.count("shelters", include_retired=True)
    assert path.parent.name in RESOURCE_DATA or path.parent.parent.name == "noto-nanao", plan.choices
    assert result.applied and inserted > 0 and result.counts["insert"] == inserted
    assert all(f.reason for f in result.refused)  # every refused feature has its reason
    if result.refused:
        assert (tmp_path / "refused.gpkg").is_file()


def test_a_non_sqlite_file_and_a_plain_sqlite_file_are_refused_for_what_they_are(registry):
    with pytest.raises(RallypointError, match="not an SQLite database"):
        plan_import(registry, REAL / "gpkg-nga" / "java_import_db_corrupt.gpkg")
    with pytest.raises(RallypointError, match="application_id is 0x0"):
        plan_import(registry, REAL / "gpkg-nga" / "js_test.gpkg")
    with pytest.raises(RallypointError, match="data_type 'foo'"):
        plan_import(registry, REAL / "gpkg-ogc" / "features-0_1.gpkg")


def _occupancy_by_snapshot(path: Path) -> dict[str, int]:
    with open(path, encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        people = next(c for c in reader.fieldnames if c.startswith("人数"))
        return {row["ID"]: int(row[people].replace(",", "")) for row in reader if row[people]}


def test_nanao_snapshots_in_date_order_give_each_shelters_occupancy_history(foreign_registry_file, tmp_path):
    registry_path = tmp_path / "nanao.gpkg"  # a registry for foreign data: Nanao lies outside China's extent
    shutil.copyfile(foreign_registry_file, registry_path)
    with Registry.open(registry_path) as reg:
        plan = plan_import(reg, REAL / "noto-nanao" / "reference_data.csv", options=OPTIONS)
        assert [c.mapping for c in plan.choices] == ["nanao-shelters"]
        first = apply_import(reg, plan, author="nanao", quarantine=tmp_path / "q.gpkg")
        assert first.counts["insert"] == 109 and len(first.refused) == 3  # three list neither capacity nor hazards
        for snapshot in HISTORY:
            plan = plan_import(reg, snapshot, options=OPTIONS)
            assert [c.mapping for c in plan.choices] == ["nanao-open-shelters"], snapshot.name
            result = apply_import(reg, plan, author="nanao", quarantine=tmp_path / f"q-{snapshot.stem}.gpkg")
            assert result.applied, snapshot.name
            assert all("is required" in f.reason for f in result.refused)  # ad hoc shelters: no capacity, hazards
        # 山王小学校 (CC0000000518): the people counted in each snapshot, in order, are its history
        sid = "CC0000000518"
        expected = []
        for snapshot in HISTORY:
            n = _occupancy_by_snapshot(snapshot).get(sid)
            value = n if n is not None else 0  # not listed: closed
            if not expected or expected[-1] != value:
                expected.append(value)
        uid = str(uuid.uuid5(NANAO_IDS, sid))
        got = []
        for change in reg.history("shelters", uid):
            after = change.after["properties"]
            if change.op == "insert":
                continue
            if not got or got[-1] != after["occupancy"]:
                got.append(after["occupancy"])
        assert got == expected and len(got) > 10
        history = reg.history("shelters", uid)
        assert history[1].after["properties"]["status"] == "open"
        assert history[1].after["properties"]["occupancy_at"] == "2024-01-09T09:00:00.000Z"  # 18:00 in Japan
        final = reg.get("shelters", uid)
        assert final.properties["status"] == ("open" if sid in _occupancy_by_snapshot(HISTORY[-1]) else "standby")
        # importing the last snapshot again changes nothing
        again = apply_import(reg, plan_import(reg, HISTORY[-1], options=OPTIONS), author="nanao", dry_run=True,
                             quarantine=tmp_path / "again.gpkg")
        assert again.counts["update"] == 0 and again.counts["insert"] == 0
