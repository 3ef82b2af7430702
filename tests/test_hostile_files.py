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
