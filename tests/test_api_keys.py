"""API keys kept in the registry itself, on both backends: added, listed, revoked, checked.

Only a salted scrypt hash of a key is stored; a key revoked through one connection is refused
by every other at once (each worker of a server has its own connection).
"""

from __future__ import annotations

import hashlib

import psycopg
import pytest
from click.testing import CliRunner

from rallypoint import Registry
from rallypoint.api.auth import add_key, authenticate, list_keys, revoke_key
from rallypoint.api.errors import BadRequest, Unauthorized
from rallypoint.cli.main import cli
from rallypoint.errors import RegistryFileError

pytestmark = pytest.mark.both_backends


def test_a_key_authenticates_as_its_owner_with_its_role(registry):
    key, info = add_key(registry, "zhang.wei", "editor")
    assert key.startswith(f"rp_{info.id}_") and info.revoked_at is None
    who = authenticate(registry, key)
    assert (who.name, who.role, who.key_id) == ("zhang.wei", "editor", info.id)
    assert who.has("reader") and who.has("editor") and not who.has("admin")
    assert authenticate(registry, None) is None


@pytest.mark.parametrize("bad", ["rp_nope", "xx_abc_def", "rp__secret", "rp_{id}_wrong-secret", "rp_00000000_{secret}"])
def test_wrong_keys_are_refused(registry, bad):
    key, info = add_key(registry, "zhang.wei", "reader")
    secret = key.split("_", 2)[2]
    with pytest.raises(Unauthorized, match="not valid"):
        authenticate(registry, bad.format(id=info.id, secret=secret))


def test_only_the_salted_hash_is_stored(registry):
    key, info = add_key(registry, "wang.fang", "reader")
    secret = key.split("_", 2)[2]
    rows = registry._store.execute("SELECT id, name, role, salt, hash, created_at FROM rp_api_keys").fetchall()
    assert len(rows) == 1
    key_id, name, role, salt, stored, _ = rows[0]
    assert (key_id, name, role) == (info.id, "wang.fang", "reader")
    assert all(secret not in str(v) and secret.encode() not in bytes(v if isinstance(v, bytes) else str(v).encode())
               for v in rows[0])
    assert bytes(stored) == hashlib.scrypt(secret.encode(), salt=bytes(salt), n=2 ** 14, r=8, p=1, dklen=32,
                                           maxmem=64 * 1024 * 1024)
    # a second key of the same person gets its own salt
    add_key(registry, "wang.fang", "reader")
    salts = [bytes(r[0]) for r in registry._store.execute("SELECT salt FROM rp_api_keys").fetchall()]
    assert len(set(salts)) == 2


def test_keys_are_listed_and_revoked_by_id_or_name(registry):
    k1, a = add_key(registry, "li.na", "editor")
    k2, b = add_key(registry, "li.na", "reader")
    k3, c = add_key(registry, "chen.gang", "admin")
    assert [k.id for k in list_keys(registry)] == sorted([a.id, b.id, c.id], key=lambda i: (
        {a.id: a, b.id: b, c.id: c}[i].created_at, i))
    assert [k.id for k in revoke_key(registry, c.id)] == [c.id]
    assert {k.id for k in revoke_key(registry, "li.na")} == {a.id, b.id}
    assert revoke_key(registry, "li.na") == []  # already revoked: nothing more to revoke
    listed = {k.id: k for k in list_keys(registry)}
    assert len(listed) == 3 and all(k.revoked_at for k in listed.values())  # revoked, never deleted
    for key in (k1, k2, k3):
        with pytest.raises(Unauthorized, match="revoked"):
            authenticate(registry, key)


def test_a_revocation_is_seen_at_once_by_another_connection(registry, registry_location):
    key, _ = add_key(registry, "zhao.lei", "editor")
    with Registry.open(registry_location) as worker:  # another server worker, its own connection
        assert authenticate(worker, key).name == "zhao.lei"  # verified once: remembered in the process
        revoke_key(registry, "zhao.lei")
        with pytest.raises(Unauthorized, match="revoked"):
            authenticate(worker, key)


def test_bad_names_and_roles_change_nothing(registry):
    with pytest.raises(BadRequest, match="owner's name"):
        add_key(registry, "  ", "reader")
    with pytest.raises(BadRequest, match="role 'root' is not one of reader, editor, admin"):
        add_key(registry, "zhang.wei", "root")
    assert list_keys(registry) == []


def test_the_keys_command_works_on_the_registry(registry, registry_location):
    runner = CliRunner()
    added = runner.invoke(cli, ["keys", "add", str(registry_location), "sun.li", "--role", "editor"])
    assert added.exit_code == 0, added.output
    key = added.output.strip().splitlines()[-1]
    assert authenticate(registry, key).role == "editor"
    listed = runner.invoke(cli, ["keys", "list", str(registry_location)])
    assert listed.exit_code == 0 and "sun.li" in listed.output and key not in listed.output
    revoked = runner.invoke(cli, ["keys", "revoke", str(registry_location), "sun.li"])
    assert revoked.exit_code == 0 and "Revoked key" in revoked.output
    again = runner.invoke(cli, ["keys", "revoke", str(registry_location), "sun.li"])
    assert again.exit_code != 0 and "no key in use with id or name 'sun.li'" in again.output
    with pytest.raises(Unauthorized, match="revoked"):
        authenticate(registry, key)


# -- PostGIS only: who may read and write the keys table ------------------------------------

@pytest.fixture
def editor_url(pg_registry_url):
    """A login role granted rallypoint_editor (a person editing in QGIS, or a server run as one)."""
    with psycopg.connect(pg_registry_url, autocommit=True) as conn:
        conn.execute("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'key_editor') THEN "
                     "CREATE ROLE key_editor LOGIN; END IF; END $$")
        conn.execute("GRANT rallypoint_editor TO key_editor")
    return pg_registry_url.replace("postgres@", "key_editor@")


def test_an_editor_login_checks_keys_but_cannot_make_or_revoke_them(pg_registry_url, editor_url):
    with Registry.open(pg_registry_url) as owner:
        key, _ = add_key(owner, "zhou.min", "editor")
    with Registry.open(editor_url) as reg:
        assert authenticate(reg, key).name == "zhou.min"
        with pytest.raises(RegistryFileError, match="only the registry's owner may add API keys"):
            add_key(reg, "mallory", "admin")
        with pytest.raises(RegistryFileError, match="only the registry's owner may revoke API keys"):
            revoke_key(reg, "zhou.min")
        assert [k.name for k in list_keys(reg)] == ["zhou.min"]
    refused = CliRunner().invoke(cli, ["keys", "add", editor_url, "mallory", "--role", "admin"])
    assert refused.exit_code == 1 and "only the registry's owner may add API keys" in " ".join(refused.output.split())
    assert "Traceback" not in refused.output


def test_a_registry_made_before_keys_gets_its_table_on_the_first_key(pg_registry_url):
    with psycopg.connect(pg_registry_url, autocommit=True) as conn:
        conn.execute("DROP TABLE rp_api_keys")
    with Registry.open(pg_registry_url) as reg:
        assert list_keys(reg) == [] and revoke_key(reg, "anyone") == []
        with pytest.raises(Unauthorized, match="not valid"):
            authenticate(reg, "rp_01234567_secret")
        key, _ = add_key(reg, "he.jun", "reader")
        assert authenticate(reg, key).name == "he.jun"
        granted = reg._conn.execute("SELECT has_table_privilege('rallypoint_editor', 'rp_api_keys', 'SELECT'),"
                                    " has_table_privilege('rallypoint_editor', 'rp_api_keys', 'INSERT')").fetchone()
        assert granted == (True, False)
