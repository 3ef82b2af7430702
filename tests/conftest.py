"""Shared fixtures. Tests use real GeoPackage files in a temporary folder, never mocks."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path
from datetime import datetime, timedelta, timezone

import pytest
from shapely.geometry import Point

from rallypoint import Registry

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# real files written by others, carried in the project with their sources and licences (data/real/SOURCES.md)
REAL_FIXTURES = Path(__file__).resolve().parent / "data" / "real"
BUREAU = "示例县应急管理局"


def require(module: str, why: str) -> None:
    """Skip when ``module`` is missing on a developer's machine; fail in CI, where it must run."""
    if importlib.util.find_spec(module) is None:
        msg = f"{module} is not installed ({why})"
        if IN_CI:
            pytest.fail(msg + ": CI must run this test, not skip it")
        pytest.skip(msg)


def require_program(name: str, why: str) -> str:
    """The path of program ``name``; skip without it on a developer's machine, fail in CI (as :func:`require`)."""
    path = shutil.which(name)
    if path is None:
        msg = f"{name} is not installed ({why})"
        if IN_CI:
            pytest.fail(msg + ": CI must run this test, not skip it")
        pytest.skip(msg)
    return path


class StepClock:
    """A clock that moves one second per call, so history order is certain."""

    def __init__(self) -> None:
        self.t = datetime(2026, 5, 1, 8, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        self.t += timedelta(seconds=1)
        return self.t


@pytest.fixture(scope="session")
def empty_registry_file(tmp_path_factory):
    """One empty registry made by Registry.create; tests copy it (creating one takes a while)."""
    path = tmp_path_factory.mktemp("template") / "empty.gpkg"
    Registry.create(path, name="示例县应急资源", bureau=BUREAU, adcode="519901").close()
    return path


@pytest.fixture(scope="session")
def foreign_registry_file(tmp_path_factory):
    """An empty registry for foreign data (extent "world": its points need not lie in China, as Japan's shelter
    lists in the real fixtures do not); tests copy it, as ``empty_registry_file``."""
    path = tmp_path_factory.mktemp("template-world") / "world.gpkg"
    Registry.create(path, name="示例县应急资源", bureau=BUREAU, adcode="519901", extent="world").close()
    return path


@pytest.fixture
def foreign_registry(registry_location):
    """The test's registry (GeoPackage or PostGIS, as ``registry``) made again for foreign data (extent "world")."""
    reg = Registry.create(registry_location, name="示例县应急资源", bureau=BUREAU, adcode="519901", extent="world",
                          overwrite=True, clock=StepClock())
    yield reg
    reg.close()


@pytest.fixture
def registry_path(tmp_path, empty_registry_file):
    path = tmp_path / "county.gpkg"
    shutil.copyfile(empty_registry_file, path)
    return path


BACKENDS = ("gpkg", "postgis")


def pytest_generate_tests(metafunc):
    """Tests of a module marked ``both_backends`` run once per backend (GeoPackage, PostGIS), through the
    ``registry`` fixture; a test that names ``registry_path`` is about the file and runs on GeoPackage only."""
    if "backend" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_backends") \
            and "registry_path" not in metafunc.fixturenames:
        metafunc.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture
def backend(request):
    return getattr(request, "param", "gpkg")


@pytest.fixture(scope="session")
def pg_cluster():
    """A throwaway PostgreSQL 15 + PostGIS server of the test session's own, on 127.0.0.1 (tests/pg_support.py)."""
    import pg_support

    why = pg_support.missing()
    if why:
        if IN_CI:
            pytest.fail(why + ": CI must run the PostGIS tests, not skip them")
        pytest.skip(why)
    cluster = pg_support.PgCluster()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def pg_template(pg_cluster):
    """A database holding an empty registry, as :func:`empty_registry_file`; tests get copies of it."""
    url = pg_cluster.new_database()
    Registry.create(url, name="示例县应急资源", bureau=BUREAU, adcode="519901").close()
    return url.rsplit("/", 1)[1]


@pytest.fixture(scope="session")
def pg_county_template(pg_cluster, pg_template, county_sample):
    """A database holding an exact copy of the county sample (same fids, UUIDs, stamps, history: tests/pg_copy.py)."""
    from pg_copy import copy_gpkg_to_postgis

    url = pg_cluster.new_database(template=pg_template)
    copy_gpkg_to_postgis(county_sample, url)
    return url.rsplit("/", 1)[1]


@pytest.fixture(scope="module", params=BACKENDS)
def web_backend(request):
    """The backend a web test module's served registry is on: the module runs once per backend. A test
    marked ``gpkg_only`` runs on the GeoPackage only (see pytest_collection_modifyitems)."""
    return request.param


def place_outside(reg, box):
    """(division code, point) of a township of ``reg`` whose inner point lies outside ``box``: where a test moves a
    feature out of a box while it stays in the division its code names."""
    from shapely.geometry import box as rectangle

    area = rectangle(*box)
    for _, town in reg.read_frame("admin_areas").iterrows():
        point = town.geometry.representative_point()
        if not area.intersects(point.buffer(0.002)):
            return str(town["adcode"]), point
    raise AssertionError(f"no township of the sample lies outside {box}")


def county_copy(request, backend: str, name: str):
    """A private copy of the county sample on ``backend``: a GeoPackage path, or a PostGIS database's URL
    (dropped when the requesting fixture ends)."""
    if backend == "postgis":
        cluster = request.getfixturevalue("pg_cluster")
        url = cluster.new_database(template=request.getfixturevalue("pg_county_template"))
        request.addfinalizer(lambda: cluster.drop_database(url))
        return url
    from web_support import copy_registry

    folder = request.getfixturevalue("tmp_path_factory").mktemp(name)
    return copy_registry(request.getfixturevalue("county_sample"), folder / "county.gpkg")


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpkg_only`` are not run on the PostGIS variant of a ``web_backend`` module."""
    keep, drop = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if params.get("web_backend") == "postgis" and item.get_closest_marker("gpkg_only"):
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture
def pg_registry_url(pg_cluster, pg_template):
    """The URL of a new PostGIS registry (an empty one, like ``registry_path``), dropped after the test."""
    url = pg_cluster.new_database(template=pg_template)
    yield url
    pg_cluster.drop_database(url)


@pytest.fixture
def registry_location(request, backend):
    """Where the test's empty registry is: a GeoPackage path or a PostgreSQL URL, by ``backend``."""
    return request.getfixturevalue("pg_registry_url" if backend == "postgis" else "registry_path")


@pytest.fixture
def registry(registry_location):
    reg = Registry.open(registry_location, clock=StepClock())
    yield reg
    reg.close()


def shelter(**over):
    props = {
        "name": "人民公园应急避难场所", "adcode": "519901001", "source": BUREAU, "shelter_type": "fixed_short",
        "level": "township", "effective_area_m2": 12000, "capacity_day": 6000, "capacity_night": 4000,
        "hazards": "earthquake,flood", "status": "standby", "manager_name": "王芳", "manager_phone": "13800001234",
    }
    props.update(over)
    return props


def helipad(**over):
    props = {"name": "一号起降点", "adcode": "519901002", "source": BUREAU, "surface": "concrete",
             "pad_length_m": 40, "pad_width_m": 40, "status": "usable"}
    props.update(over)
    return props


def hazard(**over):
    props = {"name": "后山滑坡", "adcode": "519901003", "source": BUREAU, "hazard_type": "landslide",
             "threatened_people": 120, "threatened_property": 300, "status": "active"}
    props.update(over)
    return props


def depot(**over):
    props = {"name": "县级物资储备库", "adcode": "519901001", "source": BUREAU, "level": "county",
             "status": "in_service"}
    props.update(over)
    return props


def team(**over):
    props = {"name": "县消防救援大队", "adcode": "519901001", "source": BUREAU, "category": "fire_rescue",
             "specialties": "flood,water_rescue", "members": 45, "readiness_min": 5, "status": "ready"}
    props.update(over)
    return props


def stock(depot_uuid, **over):
    props = {"depot_uuid": depot_uuid, "source": BUREAU, "item": "帐篷", "category": "tent", "unit": "piece",
             "quantity": 200}
    props.update(over)
    return props


HERE = Point(104.06, 30.66)


@pytest.fixture(scope="session")
def county_sample(tmp_path_factory):
    """The county sample registry, written once per test session by the real sample command's code."""
    from rallypoint.sample import write_sample

    path = tmp_path_factory.mktemp("sample") / "county.gpkg"
    counts = write_sample(path, "county")
    path.with_suffix(".counts.json").write_text(__import__("json").dumps(counts))
    return path


@pytest.fixture(scope="session")
def pg_county_sample(pg_cluster):
    """The county sample written into a PostGIS database by the real sample command's code (as county_sample);
    read it, or write into a copy of it (``pg_county_copy``)."""
    from rallypoint.sample import write_sample

    url = pg_cluster.new_database()
    write_sample(url, "county")
    return url


@pytest.fixture
def pg_county_copy(pg_cluster, pg_county_sample):
    """A copy of the PostGIS county sample for one test (CREATE DATABASE … TEMPLATE), dropped after it."""
    url = pg_cluster.new_database(template=pg_county_sample.rsplit("/", 1)[1])
    yield url
    pg_cluster.drop_database(url)


@pytest.fixture(scope="session")
def county_counts(county_sample):
    return __import__("json").loads(county_sample.with_suffix(".counts.json").read_text())
