"""The answer to a write names the version *that* write made, even when another write follows at once.

Found by reading the write path for the soak test (bench/soak.py): the API committed a
write, then read the feature again for the answer. Another client's write to the same
feature landing in between made the answer (and its ETag) name that client's version, so
a PATCH sent next with it as If-Match would have overwritten a change its sender never saw.
Here the other client's write is made to land exactly there, through a second connection
to the same registry, right after each commit of the API's registry: on a GeoPackage file
and on a PostGIS database.
"""

from __future__ import annotations

import json
import uuid
from contextlib import contextmanager

import pytest
from shapely.geometry import Point

from rallypoint import Registry
from rallypoint.api import ApiConfig, Context, Headers, Request
from rallypoint.api.auth import Principal
from rallypoint.api.features.transactions import create_item, replace_item, update_item
from rallypoint.plugins import default_plugin_manager

from conftest import team

pytestmark = pytest.mark.both_backends


class OthersWriteAfterEachCommit(Registry):
    """The real registry; after each of its commits, ``other()`` writes through another connection."""

    def __init__(self, path, other):
        super().__init__(path)
        self.other = other

    @contextmanager
    def batch(self, *, author, note=None):
        with super().batch(author=author, note=note) as b:
            yield b
        self.other()


def _request(method: str, uid: str | None, body: dict, if_match: str | None = None) -> Request:
    headers = {"Content-Type": "application/geo+json"}
    if if_match:
        headers["If-Match"] = if_match
    params = {"collection_id": "teams"} | ({"feature_id": uid} if uid else {})
    return Request(method=method, path="/collections/teams/items", path_params=params, headers=Headers(headers),
                   body=json.dumps(body).encode(), principal=Principal("zhang.wei", "editor", "k1"))


@pytest.fixture
def teams_file(registry, registry_location):
    uid = registry.add("teams", team(), Point(104.06, 30.66), author="setup").uuid
    registry.close()
    return registry_location, uid


def _other_client(path, uid):
    def write():
        with Registry.open(path) as other:
            now = other.get("teams", uid)
            other.update("teams", uid, {"members": now.properties["members"] + 100}, author="li.na")
    return write


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_the_answer_to_a_change_is_its_own_version_not_the_next_writers(teams_file, method):
    path, uid = teams_file
    reg = OthersWriteAfterEachCommit(path, _other_client(path, uid))
    ctx = Context(reg, ApiConfig(registry_path=path), default_plugin_manager())
    body = {"type": "Feature", "properties": {"members": 7}}
    if method == "PUT":
        body = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [104.06, 30.66]},
                "properties": team(members=7)}
    fn = update_item if method == "PATCH" else replace_item
    status, headers, raw = fn(ctx, _request(method, uid, body, if_match=f'"{uid}-v1"'))
    reg.close()
    answer = json.loads(raw)
    assert status == 200
    assert answer["properties"]["version"] == 2 and answer["properties"]["members"] == 7
    assert answer["properties"]["updated_by"] == "zhang.wei"
    assert headers["ETag"] == f'"{uid}-v2"'
    with Registry.open(path) as check:  # the other client's write did land after it, as version 3
        assert check.get("teams", uid).version == 3
        assert check.get("teams", uid).properties["members"] == 107


def test_the_answer_to_a_new_feature_is_version_1_as_written(registry, registry_location):
    registry_path = registry_location
    registry.close()
    made = {}

    def other():
        if made:
            with Registry.open(registry_path) as o:
                o.update("teams", made["uid"], {"members": 99}, author="li.na")

    reg = OthersWriteAfterEachCommit(registry_path, other)
    ctx = Context(reg, ApiConfig(registry_path=registry_path), default_plugin_manager())
    made["uid"] = str(uuid.uuid4())
    body = {"type": "Feature", "id": made["uid"], "geometry": {"type": "Point", "coordinates": [104.06, 30.66]},
            "properties": team(members=12)}
    status, headers, raw = create_item(ctx, _request("POST", None, body))
    reg.close()
    answer = json.loads(raw)
    assert status == 201 and answer["properties"]["version"] == 1 and answer["properties"]["members"] == 12
    assert headers["ETag"] == f'"{made["uid"]}-v1"'


def test_a_refused_write_through_the_api_writes_nothing(teams_file):
    path, uid = teams_file
    reg = OthersWriteAfterEachCommit(path, lambda: None)
    ctx = Context(reg, ApiConfig(registry_path=path), default_plugin_manager())
    from rallypoint.errors import ValidationError

    with pytest.raises(ValidationError):
        update_item(ctx, _request("PATCH", uid, {"type": "Feature", "properties": {"members": -5}},
                                  if_match=f'"{uid}-v1"'))
    reg.close()
    with Registry.open(path) as check:
        assert check.get("teams", uid).version == 1
