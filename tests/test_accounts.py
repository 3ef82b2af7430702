"""Staff accounts and browser sessions kept in the registry itself, on both backends: added, listed, disabled,
checked; sessions started, read back as the same principal an API key gives, ended, expired.

Only an argon2id hash of a password is stored, and only the SHA-256 of a session's token; a session ended or an
account disabled through one connection is refused by every other at once (each server worker has its own).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner

from rallypoint import Registry
from rallypoint.api.accounts import (add_account, check_password, disable_account, list_accounts, set_password,
                                     sign_in)
from rallypoint.api.auth import add_key, revoke_key
from rallypoint.api.errors import BadRequest, Unauthorized
from rallypoint.api.sessions import end_session, session_principal, start_session
from rallypoint.cli.main import cli
from rallypoint.errors import RegistryFileError

pytestmark = pytest.mark.both_backends


def _rows(registry, sql):
    return registry._store.execute(sql).fetchall()


def test_an_account_signs_in_with_its_password_as_the_principal_keys_give(registry):
    info = add_account(registry, "zhang.wei", "editor", "correct horse battery")
    assert (info.name, info.role, info.disabled_at) == ("zhang.wei", "editor", None)
    who = sign_in(registry, "zhang.wei", "correct horse battery")
    assert (who.name, who.role) == ("zhang.wei", "editor")
    assert who.has("reader") and who.has("editor") and not who.has("admin")
    assert check_password(registry, " zhang.wei ", "correct horse battery") == who  # a name is trimmed


@pytest.mark.parametrize("name, password", [("zhang.wei", "correct horse batterY"), ("zhang.wei", ""),
                                            ("nobody", "correct horse battery"), ("", "correct horse battery"),
                                            ("zhang.wei", "x" * 2000), ("z" * 500, "correct horse battery")])
def test_wrong_names_and_passwords_are_refused_in_the_same_words(registry, name, password):
    add_account(registry, "zhang.wei", "editor", "correct horse battery")
    with pytest.raises(Unauthorized) as refused:
        sign_in(registry, name, password)
    assert refused.value.description == "wrong name or password"  # which of the two is not said


def test_only_an_argon2id_hash_is_stored(registry):
    add_account(registry, "wang.fang", "reader", "s3cret-passphrase")
    add_account(registry, "li.na", "reader", "s3cret-passphrase")
    rows = _rows(registry, "SELECT name, role, password_hash FROM rp_accounts ORDER BY name")
    assert [(r[0], r[1]) for r in rows] == [("li.na", "reader"), ("wang.fang", "reader")]
    hashes = [r[2] for r in rows]
    assert all(h.startswith("$argon2id$") and "s3cret" not in h for h in hashes)
    assert hashes[0] != hashes[1]  # a salt of its own each
    assert PasswordHasher().verify(hashes[0], "s3cret-passphrase")


def test_bad_accounts_are_refused_naming_what_is_wrong(registry):
    with pytest.raises(BadRequest, match="at least 8 characters"):
        add_account(registry, "zhao.lei", "reader", "short")
    with pytest.raises(BadRequest, match="role 'boss' is not one of reader, editor, admin"):
        add_account(registry, "zhao.lei", "boss", "long enough password")
    with pytest.raises(BadRequest, match="no spaces"):
        add_account(registry, "zhao lei", "reader", "long enough password")
    with pytest.raises(BadRequest, match="holder's name"):
        add_account(registry, "  ", "reader", "long enough password")
    add_account(registry, "赵磊", "reader", "long enough password")  # Chinese names are names
    with pytest.raises(BadRequest, match="already an account named '赵磊'"):
        add_account(registry, "赵磊", "admin", "another password!")
    assert [(a.name, a.role) for a in list_accounts(registry)] == [("赵磊", "reader")]


def test_a_disabled_account_is_refused_and_its_sessions_end(registry):
    add_account(registry, "sun.li", "editor", "correct horse battery")
    token, _ = start_session(registry, sign_in(registry, "sun.li", "correct horse battery"))
    other = Registry.open(registry.location)  # another worker's connection
    try:
        assert session_principal(other, token).name == "sun.li"
        assert disable_account(registry, "sun.li").disabled_at
        assert session_principal(other, token) is None
        with pytest.raises(Unauthorized, match="disabled"):
            sign_in(other, "sun.li", "correct horse battery")
        assert disable_account(registry, "sun.li") is None  # not in use any more
    finally:
        other.close()
    assert _rows(registry, "SELECT count(*) FROM rp_sessions")[0][0] == 0


def test_a_new_password_replaces_the_old(registry):
    add_account(registry, "he.jun", "reader", "first password")
    set_password(registry, "he.jun", "second password")
    assert sign_in(registry, "he.jun", "second password").name == "he.jun"
    with pytest.raises(Unauthorized):
        sign_in(registry, "he.jun", "first password")
    with pytest.raises(BadRequest, match="no account named 'nobody'"):
        set_password(registry, "nobody", "whatever password")


def test_an_api_key_given_as_the_password_signs_in_as_its_holder(registry):
    key, info = add_key(registry, "chen.jie", "admin")
    who = sign_in(registry, "", key)
    assert (who.name, who.role, who.key_id) == ("chen.jie", "admin", info.id)
    token, _ = start_session(registry, who)
    assert session_principal(registry, token) == who
    with pytest.raises(Unauthorized, match="wrong name or password"):
        sign_in(registry, "", key[:-2] + "xx")
    revoke_key(registry, "chen.jie")
    assert session_principal(registry, token) is None  # the key's sessions end with it
    with pytest.raises(Unauthorized, match="revoked"):
        sign_in(registry, "", key)


def test_sessions_are_kept_as_hashes_read_back_ended_and_expired(registry):
    add_account(registry, "li.na", "reader", "correct horse battery")
    who = sign_in(registry, "li.na", "correct horse battery")
    start = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
    token, expires = start_session(registry, who, hours=8, now=start)
    assert expires == start + timedelta(hours=8)
    stored = _rows(registry, "SELECT id, kind, subject, created_at, expires_at FROM rp_sessions")
    assert stored == [(hashlib.sha256(token.encode()).hexdigest(), "account", "li.na", "2026-05-01T08:00:00Z",
                       "2026-05-01T16:00:00Z")]
    assert token not in repr(stored)
    assert session_principal(registry, token, now=start + timedelta(hours=7, minutes=59)) == who
    assert session_principal(registry, token, now=start + timedelta(hours=8)) is None  # expired
    assert session_principal(registry, token + "x", now=start) is None  # forged
    assert session_principal(registry, None) is None and session_principal(registry, "y" * 500) is None
    later, _ = start_session(registry, who)  # a new session sweeps the expired ones away
    assert len(_rows(registry, "SELECT id FROM rp_sessions")) == 1
    other = Registry.open(registry.location)
    try:
        assert session_principal(other, later) == who
        assert end_session(registry, later) and session_principal(other, later) is None
        assert not end_session(other, later)
    finally:
        other.close()


def test_the_accounts_command_adds_lists_changes_and_disables(registry, registry_location):
    runner = CliRunner()
    where = str(registry_location)
    added = runner.invoke(cli, ["accounts", "add", where, "zhou.min", "--role", "editor", "--password-stdin"],
                          input="a long passphrase\n")
    assert added.exit_code == 0, added.output
    assert sign_in(registry, "zhou.min", "a long passphrase").role == "editor"
    asked = runner.invoke(cli, ["accounts", "add", where, "qian.yu"], input="typed twice!\ntyped twice!\n")
    assert asked.exit_code == 0 and "a long passphrase" not in asked.output
    listed = runner.invoke(cli, ["accounts", "list", where])
    assert listed.exit_code == 0 and "zhou.min" in listed.output and "qian.yu" in listed.output
    assert "$argon2" not in listed.output
    short = runner.invoke(cli, ["accounts", "add", where, "x.y", "--password-stdin"], input="short\n")
    assert short.exit_code == 1 and "at least 8 characters" in short.output and "Traceback" not in short.output
    changed = runner.invoke(cli, ["accounts", "password", where, "zhou.min", "--password-stdin"],
                            input="another passphrase\n")
    assert changed.exit_code == 0 and sign_in(registry, "zhou.min", "another passphrase")
    disabled = runner.invoke(cli, ["accounts", "disable", where, "zhou.min"])
    assert disabled.exit_code == 0 and "sessions have ended" in disabled.output
    again = runner.invoke(cli, ["accounts", "disable", where, "zhou.min"])
    assert again.exit_code != 0 and "no account in use named 'zhou.min'" in again.output


# -- PostGIS only: who may read and write the accounts and sessions -----------------------------------

@pytest.fixture
def editor_url(pg_registry_url):
    """A login role granted rallypoint_editor (a server run as one)."""
    with psycopg.connect(pg_registry_url, autocommit=True) as conn:
        conn.execute("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'session_editor') THEN "
                     "CREATE ROLE session_editor LOGIN; END IF; END $$")
        conn.execute("GRANT rallypoint_editor TO session_editor")
    return pg_registry_url.replace("postgres@", "session_editor@")


def test_a_server_connected_as_an_editor_signs_people_in_but_cannot_make_accounts(pg_registry_url, editor_url):
    with Registry.open(pg_registry_url) as owner:
        add_account(owner, "zhou.min", "editor", "correct horse battery")
    with Registry.open(editor_url) as reg:
        who = sign_in(reg, "zhou.min", "correct horse battery")
        token, _ = start_session(reg, who)
        assert session_principal(reg, token) == who
        assert end_session(reg, token)
        with pytest.raises(RegistryFileError, match="only the registry's owner may add accounts"):
            add_account(reg, "mallory", "admin", "correct horse battery")
        with pytest.raises(RegistryFileError, match="only the registry's owner may disable accounts"):
            disable_account(reg, "zhou.min")
        with pytest.raises(RegistryFileError, match="only the registry's owner may change passwords"):
            set_password(reg, "zhou.min", "mallory's password")


def test_a_registry_made_before_accounts_gets_their_tables_on_the_first(pg_registry_url):
    with psycopg.connect(pg_registry_url, autocommit=True) as conn:
        conn.execute("DROP TABLE rp_accounts, rp_sessions")
    with Registry.open(pg_registry_url) as reg:
        assert list_accounts(reg) == [] and disable_account(reg, "anyone") is None
        assert session_principal(reg, "a-token") is None and not end_session(reg, "a-token")
        with pytest.raises(Unauthorized):
            sign_in(reg, "anyone", "a password")
        add_account(reg, "he.jun", "reader", "correct horse battery")
        token, _ = start_session(reg, sign_in(reg, "he.jun", "correct horse battery"))
        assert session_principal(reg, token).name == "he.jun"
        granted = reg._conn.execute(
            "SELECT has_table_privilege('rallypoint_editor', 'rp_accounts', 'SELECT'),"
            " has_table_privilege('rallypoint_editor', 'rp_accounts', 'INSERT'),"
            " has_table_privilege('rallypoint_editor', 'rp_sessions', 'INSERT'),"
            " has_table_privilege('rallypoint_editor', 'rp_sessions', 'DELETE')").fetchone()
        assert granted == (True, False, True, True)
