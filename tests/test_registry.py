"""Create, read, update, retire, restore and history through the Python API."""

import sqlite3
import struct

import numpy as np
import pyproj
import pytest
import shapely
from shapely.geometry import Point

from rallypoint import ConflictError, FeatureNotFoundError, Registry, UnknownLayerError, ValidationError
from rallypoint.errors import RegistryFileError
from rallypoint.hookspecs import hookimpl

from conftest import HERE, helipad, shelter, team

pytestmark = pytest.mark.both_backends


def test_every_change_is_stamped_and_kept_in_the_history(registry):
    f = registry.add("shelters", shelter(), HERE, author="zhang")
    assert f.version == 1 and f.properties["created_by"] == "zhang" and f.properties["created_at"].endswith("Z")
    f = registry.update("shelters", f.uuid, {"status": "open", "occupancy": 120}, author="li")
    f = registry.update("shelters", f.uuid, geometry=Point(104.07, 30.67), author="wang", note="surveyed again")
    assert f.version == 3 and f.properties["updated_by"] == "wang" and f.properties["created_by"] == "zhang"
    changes = registry.history("shelters", f.uuid)
    assert [(c.version, c.op, c.author) for c in changes] == [(1, "insert", "zhang"), (2, "update", "li"),
                                                             (3, "update", "wang")]
    assert changes[1].changed_fields()["status"] == ("standby", "open")
    assert changes[1].changed_fields()["occupancy"] == (None, 120)
    assert set(changes[2].changed_fields()) == {"geometry", "version", "updated_at", "updated_by"}
    assert changes[2].note == "surveyed again"
    assert changes[0].before is None and changes[0].after["properties"]["name"] == "人民公园应急避难场所"


def test_retire_hides_a_feature_and_restore_brings_it_back(registry):
    f = registry.add("teams", team(), HERE, author="a")
    registry.retire("teams", f.uuid, author="b", reason="disbanded")
    assert registry.count("teams") == 0 and registry.count("teams", include_retired=True) == 1
    assert registry.get("teams", f.uuid).retired
    with pytest.raises(ValidationError, match="retired; restore it"):
        registry.update("teams", f.uuid, {"members": 50}, author="c")
    with pytest.raises(ValidationError, match="already retired"):
        registry.retire("teams", f.uuid, author="b")
    back = registry.restore("teams", f.uuid, author="c")
    assert not back.retired and back.version == 3 and registry.count("teams") == 1
    assert registry.history("teams", f.uuid)[1].note == "disbanded"


def test_any_feature_can_be_restored_to_an_earlier_version(registry):
    f = registry.add("helipads", helipad(), Point(104.0, 30.5), author="a")
    registry.update("helipads", f.uuid, {"status": "restricted", "night_lighting": True}, author="b")
    registry.update("helipads", f.uuid, {"name": "改名起降点"}, geometry=Point(104.1, 30.6), author="c")
    back = registry.restore("helipads", f.uuid, version=1, author="d")
    assert back.version == 4
    for k in ("name", "status", "night_lighting"):
        assert back.properties[k] == f.properties[k]
    assert back.geometry.equals(f.geometry)
    assert registry.get("helipads", f.uuid, version=3).properties["name"] == "改名起降点"
    assert registry.history("helipads", f.uuid)[-1].op == "restore"
    with pytest.raises(ValidationError, match="not an earlier version"):
        registry.restore("helipads", f.uuid, version=9, author="d")


def test_a_stale_write_is_refused_not_applied(registry):
    f = registry.add("shelters", shelter(), HERE, author="a")
    registry.update("shelters", f.uuid, {"occupancy": 10}, author="a", expected_version=1)
    with pytest.raises(ConflictError) as exc:
        registry.update("shelters", f.uuid, {"occupancy": 99}, author="b", expected_version=1)
    assert exc.value.current_version == 2
    assert registry.get("shelters", f.uuid).properties["occupancy"] == 10


@pytest.mark.parametrize("crs, xy", [
    ("EPSG:4326", (104.06, 30.66)),
    ("EPSG:3857", None),                     # Web Mercator
    ("EPSG:4543", None),                     # CGCS2000 3-degree Gauss-Kruger, CM 102°E
    ("EPSG:4544", None),                     # CGCS2000 3-degree Gauss-Kruger, CM 105°E
])
def test_input_in_any_crs_is_reprojected_to_cgcs2000(registry, crs, xy):
    lon, lat = 104.06, 30.66
    if xy is None:
        xy = pyproj.Transformer.from_crs(4490, crs, always_xy=True).transform(lon, lat)
    f = registry.add("helipads", helipad(), Point(*xy), author="a", crs=crs)
    stored = registry.get("helipads", f.uuid).geometry
    assert stored.x == pytest.approx(lon, abs=1e-7) and stored.y == pytest.approx(lat, abs=1e-7)


def test_geojson_in_crs84_and_wkt_are_accepted(registry):
    f = registry.add("helipads", helipad(), {"type": "Point", "coordinates": [104.06, 30.66]}, author="a",
                     crs="CRS84")
    g = registry.add("helipads", helipad(), "POINT (104.06 30.66)", author="a")
    assert f.geometry.equals(g.geometry)


def test_an_unknown_crs_is_refused_with_its_name(registry):
    with pytest.raises(ValidationError, match="EPSG:999999"):
        registry.add("helipads", helipad(), HERE, author="a", crs="EPSG:999999")


def test_bbox_and_division_filters(registry):
    registry.add("helipads", helipad(adcode="519901001"), Point(104.0, 30.5), author="a")
    registry.add("helipads", helipad(adcode="519902001"), Point(104.5, 30.9), author="a")
    assert registry.count("helipads", bbox=(103.9, 30.4, 104.1, 30.6)) == 1
    assert registry.count("helipads", adcode="519901") == 1
    assert registry.count("helipads", adcode="519900") == 2   # the city holds both counties
    box_3857 = pyproj.Transformer.from_crs(4490, 3857, always_xy=True).transform_bounds(103.9, 30.4, 104.1, 30.6)
    assert registry.count("helipads", bbox=box_3857, bbox_crs="EPSG:3857") == 1


def test_unknown_layer_feature_and_author_are_clear_errors(registry):
    with pytest.raises(UnknownLayerError, match="no layer 'shelter'"):
        registry.add("shelter", shelter(), HERE, author="a")
    with pytest.raises(FeatureNotFoundError):
        registry.get("shelters", "00000000-0000-4000-8000-000000000000")
    with pytest.raises(ValueError, match="author"):
        registry.add("shelters", shelter(), HERE, author=" ")


def test_the_history_cannot_be_rewritten(registry):
    registry.add("shelters", shelter(), HERE, author="a")
    if registry.url is None:
        conn, refused = sqlite3.connect(registry.path), sqlite3.IntegrityError
    else:
        import psycopg

        conn, refused = psycopg.connect(registry.url, autocommit=True), psycopg.errors.RaiseException
    with pytest.raises(refused, match="append-only"):
        conn.execute("DELETE FROM rp_history")
    with pytest.raises(refused, match="append-only"):
        conn.execute("UPDATE rp_history SET author = 'someone else'")
    conn.close()
    assert [c.author for c in registry.history()] == ["a"]


def test_opening_something_that_is_not_a_registry_says_so(tmp_path):
    bad = tmp_path / "x.gpkg"
    bad.write_bytes(b"not a database at all")
    with pytest.raises(RegistryFileError, match="not an SQLite database"):
        Registry.open(bad)
    with pytest.raises(RegistryFileError, match="no such registry file"):
        Registry.open(tmp_path / "missing.gpkg")
    plain = tmp_path / "plain.gpkg"
    sqlite3.connect(plain).execute("CREATE TABLE t (a)").connection.close()
    with pytest.raises(RegistryFileError, match="not a Rallypoint registry"):
        Registry.open(plain)


def test_create_refuses_to_overwrite_and_leaves_no_temporary_files(tmp_path, registry_path):
    with pytest.raises(RegistryFileError, match="already exists"):
        Registry.create(registry_path, name="x", bureau="y")
    assert sorted(p.name for p in registry_path.parent.iterdir()) == ["county.gpkg"]


def test_bulk_reads_see_every_write_and_leave_the_live_files_alone(registry, registry_path):
    registry.add("shelters", shelter(), HERE, author="a")
    first = registry.read_frame("shelters")
    assert len(first) == 1 and first["generator"].dtype == "boolean" and first.crs.to_epsg() == 4490
    wal = registry_path.with_name(registry_path.name + "-wal")
    assert wal.exists()
    registry.add("shelters", shelter(name="第二场所"), Point(104.1, 30.7), author="a")
    second = registry.read_frame("shelters")
    assert list(second["name"]) == ["人民公园应急避难场所", "第二场所"]
    assert second.geometry.iloc[1].equals(Point(104.1, 30.7))
    assert wal.exists()  # no second SQLite copy checkpointed it away under the open connection
    other = sqlite3.connect(registry_path)
    assert other.execute("SELECT count(*) FROM shelters").fetchone() == (2,)
    other.close()
    registry.retire("shelters", second.iloc[0]["uuid"], author="a")
    assert len(registry.read_frame("shelters")) == 1
    assert len(registry.read_frame("shelters", include_retired=True)) == 2


def test_read_points_gives_the_coordinates_read_frame_gives(registry):
    registry.add("shelters", shelter(), HERE, author="a")
    second = registry.add("shelters", shelter(name="第二场所"), Point(104.1, 30.7), author="a")
    registry.add("shelters", shelter(name="第三场所"), Point(104.2, 30.8), author="a")
    registry.retire("shelters", second.uuid, author="a")
    frame, xy = registry.read_points("shelters", columns=["name", "generator"])
    full = registry.read_frame("shelters", columns=["name", "generator"])
    assert list(frame.columns) == ["name", "generator"] and frame["generator"].dtype == "boolean"
    assert list(frame.index) == list(full.index) and list(frame["name"]) == ["人民公园应急避难场所", "第三场所"]
    assert xy.shape == (2, 2) and xy.tolist() == [[HERE.x, HERE.y], [104.2, 30.8]]
    _, every = registry.read_points("shelters", include_retired=True)
    assert every.tolist() == [[HERE.x, HERE.y], [104.1, 30.7], [104.2, 30.8]]


def test_read_points_refuses_a_layer_that_is_not_points(registry):
    import geopandas as gpd

    registry.load_reference("admin_areas", gpd.GeoDataFrame(
        {"adcode": ["510104"], "name": ["锦江区"], "level": ["county"], "parent_adcode": ["510100"]},
        geometry=[shapely.MultiPolygon([shapely.box(104.0, 30.6, 104.1, 30.7)])], crs=4490), author="a")
    with pytest.raises(ValueError, match="admin_areas: .*MultiPolygon, not a point"):
        registry.read_points("admin_areas")


def test_point_coords_reads_any_point_blob():
    from rallypoint import geometry as geo
    from rallypoint.storage.gpkg import blobs

    plain = blobs.encode(Point(104.1, 30.7))
    # the same point with an XY envelope, as other GeoPackage writers may store it
    enveloped = b"GP\x00\x03" + plain[4:8] + struct.pack("<4d", 104.1, 104.1, 30.7, 30.7) + plain[8:]
    xy = blobs.point_coords([plain, None, enveloped, blobs.encode(Point())])
    assert xy[0].tolist() == [104.1, 30.7] and xy[2].tolist() == [104.1, 30.7]
    assert np.isnan(xy[1]).all() and np.isnan(xy[3]).all()
    assert blobs.point_coords([plain, plain]).tolist() == [[104.1, 30.7]] * 2
    with pytest.raises(geo.GeometryBlobError, match="LineString, not a point"):
        blobs.point_coords([plain, blobs.encode(shapely.LineString([(0, 0), (1, 1)]))])


class _NotesPlugin:
    """A plugin defining a related table of shelters and a point layer, after the registry was made."""

    @hookimpl
    def rallypoint_layer_types(self):
        field = {"name": "shelter_uuid", "type": "uuid", "required": True, "references": "shelters",
                 "alias_zh": "场所", "alias_en": "Shelter"}
        text = {"name": "text", "type": "text", "required": True, "max_length": 200, "alias_zh": "内容",
                "alias_en": "Text"}
        return [{"layer": {"name": "shelter_notes", "kind": "related", "geometry": "None", "parent": "shelters",
                           "parent_field": "shelter_uuid", "title_zh": "场所备注", "title_en": "Shelter notes"},
                 "field": [field, text]},
                {"layer": {"name": "wells", "kind": "resource", "geometry": "Point", "title_zh": "水井",
                           "title_en": "Wells"}, "field": []}]


def test_add_layers_brings_a_plugins_table_into_an_older_registry(registry_location):
    """On either backend: the table is added, written with history, and one of the layers when opened again."""
    from rallypoint.plugins import get_plugin_manager

    pm = get_plugin_manager(entrypoints=False, extra=[("notes", _NotesPlugin())])
    with Registry.open(registry_location, plugins=pm) as reg:
        assert "shelter_notes" not in reg.layers
        with pytest.raises(UnknownLayerError, match="no_such"):
            reg.add_layers(["shelter_notes", "no_such"])
        with pytest.raises(RegistryFileError, match="wells has geometry"):
            reg.add_layers(["wells"])
        assert "shelter_notes" not in reg.layers  # a refused call adds nothing
        assert reg.add_layers(["shelter_notes"]) == ["shelter_notes"]
        s = reg.add("shelters", shelter(), HERE, author="t").uuid
        note = reg.add("shelter_notes", {"shelter_uuid": s, "text": "东门可进车", "source": "b"}, author="t")
        assert note.version == 1 and reg.history("shelter_notes")[0].op == "insert"
    with Registry.open(registry_location, plugins=pm) as reg:  # opened again, the table is one of its layers
        assert reg.count("shelter_notes") == 1
        assert reg.get("shelter_notes", note.uuid).properties["text"] == "东门可进车"


def test_a_plugins_table_added_to_a_file_is_sound_as_gdal_would_make_it(registry_path):
    from rallypoint.check import check_registry
    from rallypoint.plugins import get_plugin_manager

    pm = get_plugin_manager(entrypoints=False, extra=[("notes", _NotesPlugin())])
    with Registry.open(registry_path, plugins=pm) as reg:
        reg.add_layers(["shelter_notes"])
        notes = reg.layer("shelter_notes")
    assert check_registry(registry_path, gdal=False, layers=[notes]) == []
