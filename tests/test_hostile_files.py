"""The malformed-file corpus (tests/hostile_corpus.py): every file gets a clear refusal that names what and
where, and the registry is unchanged."""

from __future__ import annotations

import pytest
from hostile_corpus import write_corpus
from hostile_support import digest

from rallypoint import Registry
from rallypoint.errors import RallypointError
from rallypoint.exchange.apply import apply_import
from rallypoint.exchange.importer import plan_import


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("corpus"))


def test_the_corpus_covers_what_the_issue_lists(corpus):
    names = " ".join(c.name for c in corpus)
    for kind in ("truncated", "wrong magic", "application_id", "blob", "huge", "SQL in a layer name",
                 "SQL in a field name", "path traversal", "zip bomb", "268 million points"):
        assert kind in names, kind
    assert len(corpus) >= 30


def test_every_malformed_file_is_refused_clearly_and_changes_nothing(corpus, registry_path):
    wrong = []
    with Registry.open(registry_path) as reg:
        before = digest(reg.path)
        for case in corpus:
            try:
                plan = plan_import(reg, case.path)
            except RallypointError as exc:
                got, text = type(exc).__name__, str(exc)
            else:
                result = apply_import(reg, plan, author="corpus")
                refused = result.refused
                got = "imported" if result.applied else "refused" if refused and all(f.reason for f in refused) \
                    else "neither imported nor refused"
                text = " ".join(f"{f.label}: {f.reason}" for f in refused)
            missing = [w for w in case.words if w not in text]
            if got != case.error or missing or digest(reg.path) != before:
                wrong.append(f"{case.name}: {got} (expected {case.error}), missing {missing}: {text[:300]}")
    assert not wrong, "\n".join(wrong)


def test_reading_a_live_registry_as_an_import_source_keeps_its_locks(county_sample, tmp_path):
    """The importer looked at a source's header with open()/close(): when the source was a registry this
    process had open, closing that descriptor dropped the registry connection's POSIX locks, and another
    process could then take the file out of WAL mode under it (or checkpoint a WAL still being read)."""
    import subprocess
    import sys

    from web_support import copy_registry

    path = copy_registry(county_sample, tmp_path / "live.gpkg")
    probe = ("import sqlite3, sys; c = sqlite3.connect(sys.argv[1], timeout=0); "
             "c.execute('PRAGMA journal_mode=DELETE').fetchone()")
    # the holder is a fresh process of its own: a process that has run other tests may hold GDAL or SQLite
    # state of its own (seen once in a parallel run, not reproduced alone), and this is about read_source only
    holder = f"""
import subprocess, sys
from rallypoint import Registry
from rallypoint.exchange.readers import read_source
path = sys.argv[1]
with Registry.open(path) as live:
    live._conn.execute("BEGIN")
    live._conn.execute("SELECT count(*) FROM shelters").fetchone()  # a read in progress holds its lock
    try:
        source = read_source(path)  # e.g. an export of this registry checked against itself
        assert source.format == "GeoPackage" and any(layer.name == "shelters" for layer in source.layers)
        other = subprocess.run([sys.executable, "-c", {probe!r}, path], capture_output=True, text=True)
        print("probe", other.returncode, other.stderr.strip().splitlines()[-1:] if other.stderr else "")
    finally:
        live._conn.execute("ROLLBACK")
"""
    ran = subprocess.run([sys.executable, "-c", holder, str(path)], capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert ran.stdout.startswith("probe 1") and "database is locked" in ran.stdout, ran.stdout


def test_a_csv_of_a_few_bytes_is_read_as_csv_not_taken_for_an_empty_database(registry_path, tmp_path):
    """Found by the importer fuzzing: SQLite takes any file shorter than a page for an empty database."""
    from rallypoint.exchange.readers import SourceError, read_source

    path = tmp_path / "helipads.csv"
    path.write_bytes(b"\xef")
    with pytest.raises(SourceError, match="helipads.csv"):
        read_source(path)
    path.write_text("name\n", encoding="utf-8")
    assert read_source(path).format == "CSV"
