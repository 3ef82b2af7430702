"""What the help texts and the README say about who sees personal data is what the server does.

The behaviour is measured, not read from the code: a served registry (a GeoPackage, and PostGIS) holding a
shelter with a manager's phone is asked anonymously and with a key of each role, and checked out with each;
the roles that get the phone are then compared with every sentence of the command line's help (every command,
plugins' included), of the API's refusal and of the README that says which keys see personal data.
"""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from rallypoint import Registry
from rallypoint.api.auth import ROLES
from rallypoint.cli.main import cli
from rallypoint.sync import checkout
from rallypoint.web import create_app

from conftest import county_copy, shelter
from web_support import Server, auth, make_key

README = Path(__file__).resolve().parents[1] / "README.md"
ROLE = "|".join(ROLES)
PHONE = "13800001234"


@pytest.fixture(scope="module")
def site(request, web_backend, tmp_path_factory):
    """The county sample served from a GeoPackage or from PostGIS (the module runs on each), with one shelter
    whose manager's phone is known and a key of each role."""
    folder = tmp_path_factory.mktemp("help_personal")
    path = county_copy(request, web_backend, "help_personal_registry")
    with Registry.open(path) as reg:
        uid = reg.add("shelters", shelter(manager_phone=PHONE), (103.76, 30.63), author="tester").uuid
    keys = {role: make_key(path, f"{role}.owner", role) for role in ROLES}
    server = Server(path, workers=1, log_dir=folder)
    try:
        yield {"path": path, "uuid": uid, "keys": keys, "server": server, "folder": folder}
    finally:
        server.stop()


@pytest.fixture(scope="module")
def who_sees(site):
    """The roles (None: anonymous) whose answers and check-outs carry the personal fields, as measured."""
    client = create_app(site["path"], {"TESTING": True}).test_client()
    seen = {}
    for role in (None,) + ROLES:
        headers = auth(site["keys"][role]) if role else {}
        props = client.get(f"/collections/shelters/items/{site['uuid']}", headers=headers).get_json()["properties"]
        out = site["folder"] / f"checkout-{role or 'anonymous'}.gpkg"
        checkout(site["server"].url, out, key=site["keys"][role] if role else None, author="tester")
        with Registry.open(out) as local:
            copied = local.get("shelters", site["uuid"]).properties.get("manager_phone")
        assert (props.get("manager_phone") == PHONE) == (copied == PHONE), role  # the API and the check-out agree
        seen[role] = copied == PHONE
    refusal = client.get("/collections/shelters/items?filter=manager_phone IS NOT NULL").get_json()["description"]
    return {"roles": {r for r in ROLES if seen[r]}, "anonymous": seen[None], "refusal": refusal}


def _help_texts() -> dict[str, str]:
    """Every command's help (options included), by its command line, plugins' commands too."""
    texts = {}

    def walk(cmd: click.Command, ctx: click.Context, name: str) -> None:
        texts[name] = re.sub(r"\s+", " ", cmd.get_help(ctx))
        if isinstance(cmd, click.Group):
            for sub in cmd.list_commands(ctx):
                child = cmd.get_command(ctx, sub)
                walk(child, click.Context(child, info_name=sub, parent=ctx), f"{name} {sub}")

    walk(cli, click.Context(cli, info_name="rallypoint"), "rallypoint")
    return texts


def _roles_in(text: str) -> set[str]:
    return set(re.findall(rf"\b({ROLE})\b", text))


def _claims(source: str, text: str) -> list[tuple[str, str, object]]:
    """(source, sentence, claim) for each statement about who sees personal data; a claim is
    ("roles", {roles that see it}), ("lowest", role: it and the roles above see it), ("anonymous", False)
    or ("not", role)."""
    found = []
    for m in re.finditer(rf"(?:any role|any key|a key of any role)[^.;]*?\(((?:{ROLE})(?:, (?:{ROLE}))*"
                         rf"(?:,? or (?:{ROLE}))?)\)[^.;]*personal data|personal data[^.;]*?(?:any role|a key)"
                         rf"[^.;]*?\(((?:{ROLE})(?:, (?:{ROLE}))*(?:,? or (?:{ROLE}))?)\)", text):
        found.append((source, m.group(0), ("roles", _roles_in(m.group(1) or m.group(2)))))
    for m in re.finditer(rf"\b({ROLE}) \(sees personal data", text):
        found.append((source, m.group(0), ("lowest", m.group(1))))
    for m in re.finditer(rf"\b(?:a|an) ({ROLE})(?:'s)? (?:API )?key (?:sees|gets|receives|has) no personal", text):
        found.append((source, m.group(0), ("not", m.group(1))))
    for m in re.finditer(r"(?:Anonymous (?:users|readers) (?:read everything but|never receive)|[Ww]ithout a key[^.;]*?"
                         r"(?:no personal data|holds none|has none))", text):
        found.append((source, m.group(0), ("anonymous", False)))
    return found


def _check(claims, behaviour) -> None:
    seeing = behaviour["roles"]
    for source, sentence, (kind, value) in claims:
        where = f"{source}: {sentence!r}"
        if kind == "roles":
            assert value == seeing, f"{where} names {sorted(value)}; keys that see personal data: {sorted(seeing)}"
        elif kind == "lowest":
            assert seeing == set(ROLES[ROLES.index(value):]), f"{where}; keys that see it: {sorted(seeing)}"
        elif kind == "not":
            assert value not in seeing, f"{where}, but a {value} key sees personal data"
        else:
            assert behaviour["anonymous"] is value, f"{where}, but an anonymous caller sees personal data"


def test_what_is_measured(who_sees):
    assert who_sees["roles"] and not who_sees["anonymous"]  # so the claims below are checked against something


def test_the_help_texts_say_who_sees_personal_data_as_the_server_does(who_sees):
    texts = _help_texts()
    claims = [c for cmd, text in texts.items() for c in _claims(f"{cmd} --help", text)]
    _check(claims, who_sees)
    by_command = {c[0] for c in claims}
    # the commands whose help must say it: the key's roles, and what a check-out with or without a key holds
    assert {"rallypoint keys --help", "rallypoint checkout --help", "rallypoint push --help",
            "rallypoint pull --help"} <= by_command, by_command
    kinds = {(c[0], c[2][0]) for c in claims}
    assert ("rallypoint checkout --help", "roles") in kinds and ("rallypoint checkout --help", "anonymous") in kinds


def test_the_api_refusal_names_the_roles_that_may_filter_on_personal_fields(who_sees):
    refusal = who_sees["refusal"]
    assert "personal data" in refusal and _roles_in(refusal) == who_sees["roles"], refusal


def test_the_readme_says_who_sees_personal_data_as_the_server_does(who_sees):
    text = re.sub(r"\s+", " ", README.read_text(encoding="utf-8"))
    claims = _claims("README.md", text)
    _check(claims, who_sees)
    assert {c[2][0] for c in claims} >= {"roles", "anonymous"} and len(claims) >= 3, claims
