"""The plugin system: hooks documented and tested, entry points, broken plugins, tracing."""

import importlib
import inspect
import sys
import textwrap

import click
import pytest
from click.testing import CliRunner
from shapely.geometry import Point

from rallypoint import Registry, ValidationError, hookspecs
from rallypoint import plugins as plugins_module
from rallypoint.analysis import Analysis, AnalysisError, AnalysisResult, Output, Parameter, analyses, run_analysis
from rallypoint.cli.main import cli
from rallypoint.exchange_formats import ExportFormat, ImportFormat, ValueParser
from rallypoint.hookspecs import hookimpl
from rallypoint.plugins import get_plugin_manager
from rallypoint.profiles import Profile, find_profile
from rallypoint.web_endpoints import Endpoint

from conftest import HERE, StepClock, shelter

HOOKS = sorted(name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("rallypoint_"))


# -- the contract -------------------------------------------------------------------

def test_every_hook_is_documented_with_what_it_returns():
    assert len(HOOKS) >= 8
    for name in HOOKS:
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        assert len(doc) > 40 and ":returns:" in doc, name


def test_every_hook_has_a_test_of_its_own():
    missing = [h for h in HOOKS if f"test_hook_{h}" not in globals()]
    assert missing == []


def test_the_plugin_manager_is_built_in_a_function_not_at_import():
    import subprocess
    code = ("import rallypoint, rallypoint.cli.main, rallypoint.registry, rallypoint.plugins as p; "
            "assert p._default is None; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr


# -- a plugin installed as an outside distribution would be ------------------------------

@pytest.fixture
def install(tmp_path, monkeypatch):
    """Install a throwaway plugin module with an entry point in the ``rallypoint`` group."""
    made = []

    def _install(module: str, source: str, entry: str | None = None, dist: str = "rallypoint-demo"):
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        info = tmp_path / f"{dist.replace('-', '_')}-0.3.1.dist-info"
        info.mkdir(exist_ok=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.3.1\n")
        eps = info / "entry_points.txt"
        old = eps.read_text() if eps.exists() else "[rallypoint]\n"
        eps.write_text(old + f"{entry or module} = {module}\n")
        made.append(module)
        importlib.invalidate_caches()
        plugins_module._default = None  # the next use builds a manager that sees it

    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    monkeypatch.setattr(plugins_module, "_default", None)
    yield _install
    for module in made:
        sys.modules.pop(module, None)


DEMO_ANALYSIS = """
    from rallypoint.hookspecs import hookimpl
    from rallypoint.analysis import Analysis, AnalysisResult, Parameter, Output

    def run(registry, params, ctx):
        n = registry.count("shelters")
        return AnalysisResult(summary=[("场所数", "shelters", n * params["factor"])])

    @hookimpl
    def rallypoint_analyses():
        return [Analysis("demo", "演示", "Demo", "演示分析", "Counts shelters times a factor.",
                         (Parameter("factor", "int", 2, "倍数", "Factor", min=1),),
                         (Output("demo", "table", "演示", "Demo"),), run, requires=("shelters",))]
"""


def test_an_outside_plugin_adds_an_analysis_listed_and_run_from_the_cli(install, registry, registry_path):
    install("rp_demo_analysis", DEMO_ANALYSIS)
    registry.add("shelters", shelter(), HERE, author="t")
    registry.close()
    runner = CliRunner()
    listed = runner.invoke(cli, ["plugins"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0 and "rp_demo_analysis" in listed.output and "0.3.1" in listed.output
    assert "rallypoint_analyses" in listed.output
    out = runner.invoke(cli, ["analyse", "demo", str(registry_path), "--factor", "3",
                              "--out", str(registry_path.with_name("r.gpkg")), "--lang", "en"])
    assert out.exit_code == 0, out.output
    assert "shelters" in out.output and "3" in out.output
    bad = runner.invoke(cli, ["analyse", "demo", str(registry_path), "--factor", "0"])
    assert bad.exit_code == 1 and "below the minimum 1" in bad.output and "Traceback" not in bad.output


def test_a_broken_plugin_is_reported_and_skipped_and_the_others_load(install):
    install("rp_good", DEMO_ANALYSIS)
    install("rp_crashes", "raise RuntimeError('cannot start')\n")
    install("rp_misspelled", """
        from rallypoint.hookspecs import hookimpl
        @hookimpl
        def rallypoint_analyzes():
            return []
    """)
    pm = get_plugin_manager()
    broken = {b.name: b.error for b in pm.broken}
    assert "cannot start" in broken["rp_crashes"]
    assert "rallypoint_analyzes" in broken["rp_misspelled"]
    assert "demo" in analyses(pm) and pm.get_plugin("rp_misspelled") is None
    out = CliRunner().invoke(cli, ["plugins"], env={"COLUMNS": "200"})
    assert out.exit_code == 0 and "Broken plugins" in out.output and "cannot start" in out.output


def test_hook_calls_can_be_traced():
    lines = []
    plugin = type("P", (), {"rallypoint_profiles": hookimpl(lambda self: [])})()
    pm = get_plugin_manager(trace=True, writer=lines.append, entrypoints=False, extra=[("p", plugin)])
    pm.hook.rallypoint_profiles()
    assert any("rallypoint_profiles" in line for line in lines)


def test_the_trace_switch_on_the_command_line(install, monkeypatch):
    install("rp_good", DEMO_ANALYSIS)
    # the switch sets RALLYPOINT_TRACE_HOOKS for the processes the command starts: put back after the test, or
    # every later test of this process (and its subprocesses) would trace
    monkeypatch.setenv("RALLYPOINT_TRACE_HOOKS", "0")
    out = CliRunner().invoke(cli, ["--trace-hooks", "plugins"])
    assert out.exit_code == 0
    assert "rallypoint_" in out.output + (out.stderr or ""), out.output
    plugins_module._default = None


# -- one test per hook --------------------------------------------------------------

def _pm(plugin):
    return get_plugin_manager(entrypoints=False, extra=[("test-plugin", plugin)])


class WellsPlugin:
    @hookimpl
    def rallypoint_layer_types(self):
        return [{"layer": {"name": "water_points", "kind": "resource", "geometry": "Point",
                           "title_zh": "应急水源", "title_en": "Water points"},
                 "field": [{"name": "yield_m3_per_day", "type": "real", "min": 0, "max": 100000, "required": True,
                            "alias_zh": "日供水量", "alias_en": "Daily yield", "unit": "m³"}]}]


def test_hook_rallypoint_layer_types(tmp_path):
    path = tmp_path / "r.gpkg"
    with Registry.create(path, name="n", bureau="b", plugins=_pm(WellsPlugin())) as reg:
        assert "water_points" in reg.layers
        f = reg.add("water_points", {"name": "一号井", "adcode": "519901001", "source": "b",
                                     "yield_m3_per_day": 120}, HERE, author="t")
        assert f.version == 1 and reg.history("water_points")[0].op == "insert"
        with pytest.raises(ValidationError, match="yield_m3_per_day"):
            reg.add("water_points", {"name": "x", "adcode": "519901001", "source": "b", "yield_m3_per_day": -1},
                    HERE, author="t")


class CapPlugin:
    @hookimpl
    def rallypoint_validate_feature(self, layer, properties, geometry):
        if layer.name == "shelters" and (properties.get("capacity_day") or 0) > 5000:
            return [("capacity_day", "more than 5,000 places needs the county's approval number")]
        return []


def test_hook_rallypoint_validate_feature(registry_path):
    with Registry.open(registry_path, plugins=_pm(CapPlugin())) as reg:
        reg.add("shelters", shelter(capacity_day=4000), HERE, author="t")
        with pytest.raises(ValidationError) as exc:
            reg.add("shelters", shelter(capacity_day=6000), HERE, author="t")
        assert exc.value.problems[0].field == "capacity_day" and "approval" in exc.value.problems[0].message
        f = next(reg.features("shelters"))
        with pytest.raises(ValidationError, match="approval"):
            reg.update("shelters", f.uuid, {"capacity_day": 7000}, author="t")
        assert reg.count("shelters") == 1


class BulkCapPlugin(CapPlugin):
    """CapPlugin's rule, answered for a whole chunk at once in a bulk write (and per feature otherwise)."""

    def __init__(self):
        self.chunks = []

    @hookimpl
    def rallypoint_validate_many(self, layer, features, geometries, old, at):
        self.chunks.append((layer.name, len(features)))
        if layer.name != "shelters":
            return {}
        return {i: [("capacity_day", "more than 5,000 places needs the county's approval number")]
                for i, f in enumerate(features) if (f.get("capacity_day") or 0) > 5000}


def test_hook_rallypoint_validate_many(registry_path):
    plugin = BulkCapPlugin()
    with Registry.open(registry_path, plugins=_pm(plugin)) as reg:
        many = [(shelter(name=f"避难点{i}", capacity_day=100 * i), (HERE.x + i * 1e-4, HERE.y)) for i in range(1, 40)]
        with pytest.raises(ValidationError) as exc:  # one of them over the cap: refused by name, nothing written
            reg.add_many("shelters", many + [(shelter(name="大场馆", capacity_day=6000), HERE)], author="t")
        assert [(p.feature, p.field) for p in exc.value.problems] == [("new feature #40 ('大场馆')", "capacity_day")]
        assert "approval" in exc.value.problems[0].message and reg.count("shelters") == 0
        assert plugin.chunks and plugin.chunks[0][0] == "shelters"  # asked once for the chunk
        assert len(reg.add_many("shelters", many, author="t")) == 39 and reg.count("shelters") == 39
        with pytest.raises(ValidationError, match="approval"):  # a single write: the per-feature hook
            reg.add("shelters", shelter(capacity_day=6000), HERE, author="t")


class NoShrinkPlugin:
    """A shelter's day capacity may grow but never shrink: a rule about the change, not the new values."""

    def __init__(self):
        self.calls = []

    @hookimpl
    def rallypoint_validate_change(self, layer, old, new, at):
        self.calls.append((layer.name, None if old is None else old.get("capacity_day"), new.get("capacity_day"), at))
        if layer.name == "shelters" and old is not None and new["capacity_day"] < old["capacity_day"]:
            return [("capacity_day", f"may not shrink from {old['capacity_day']} to {new['capacity_day']}")]
        return []


def test_hook_rallypoint_validate_change(registry_path):
    plugin = NoShrinkPlugin()
    with Registry.open(registry_path, plugins=_pm(plugin), clock=StepClock()) as reg:
        f = reg.add("shelters", shelter(capacity_day=4000), HERE, author="t")
        assert plugin.calls[-1] == ("shelters", None, 4000, f.properties["created_at"])  # new: no old version
        reg.update("shelters", f.uuid, {"capacity_day": 4500}, author="t")
        assert plugin.calls[-1][1:3] == (4000, 4500)
        with pytest.raises(ValidationError) as exc:
            reg.update("shelters", f.uuid, {"capacity_day": 3000}, author="t")
        p = exc.value.problems[0]
        assert (p.layer, p.feature, p.field) == ("shelters", f"feature {f.uuid}", "capacity_day")
        assert "shrink from 4500 to 3000" in p.message
        with pytest.raises(ValidationError, match="shrink"):  # restoring version 1 is a change too
            reg.restore("shelters", f.uuid, 1, author="t")
        stored = reg.get("shelters", f.uuid)
        assert (stored.version, stored.properties["capacity_day"]) == (2, 4500)
        assert len(reg.history("shelters", f.uuid)) == 2  # the refused writes left nothing
        # a feature the definition already refuses never reaches the hook
        n = len(plugin.calls)
        with pytest.raises(ValidationError):
            reg.update("shelters", f.uuid, {"capacity_day": -1}, author="t")
        assert len(plugin.calls) == n


def _demo_analysis(run=None):
    return Analysis("demo", "演示", "Demo", "演示", "Demo",
                    (Parameter("k", "int", 1, "k", "k", min=0, max=10),
                     Parameter("mode", "choice", "a", "模式", "Mode", choices=("a", "b")),
                     Parameter("minutes", "floats", (10.0,), "分钟", "Minutes")),
                    (Output("t", "table", "表", "Table"),),
                    run or (lambda reg, p, ctx: AnalysisResult(summary=[("k", "k", p["k"]), ("m", "m", p["minutes"])])),
                    requires=("population",))


class AnalysisPlugin:
    @hookimpl
    def rallypoint_analyses(self):
        return [_demo_analysis()]


def test_hook_rallypoint_analyses(registry, county_sample):
    pm = _pm(AnalysisPlugin())
    assert "demo" in analyses(pm)
    with Registry.open(county_sample, plugins=pm) as reg:
        result = run_analysis(reg, pm, "demo", {"k": "3", "minutes": "10,30,60"})
        assert result.summary == [("k", "k", 3), ("m", "m", (10.0, 30.0, 60.0))]
        for raw, message in [({"k": "x"}, "not a whole number"), ({"k": 11}, "above the maximum"),
                             ({"mode": "c"}, "not one of a, b"), ({"speed": 1}, "no parameter 'speed'"),
                             ({"minutes": "ten"}, "comma-separated list")]:
            with pytest.raises(AnalysisError, match=message):
                run_analysis(reg, pm, "demo", raw)
    with pytest.raises(AnalysisError, match="needs features in 'population'"):
        run_analysis(registry, pm, "demo", {})
    with pytest.raises(AnalysisError, match="no analysis 'nosuch'"):
        run_analysis(registry, pm, "nosuch", {})


class ProfilePlugin:
    @hookimpl
    def rallypoint_profiles(self):
        return [Profile("shelter_standard", "guangdong", "广东规划", "Guangdong plan", "test",
                        {"emergency": 1.0, "fixed_short": 2.5})]


def test_hook_rallypoint_profiles():
    pm = _pm(ProfilePlugin())
    profile = find_profile(pm.collect("rallypoint_profiles"), "shelter_standard", "guangdong")
    assert profile.data["fixed_short"] == 2.5
    with pytest.raises(Exception, match="no shelter_standard profile 'hubei'"):
        find_profile(pm.collect("rallypoint_profiles"), "shelter_standard", "hubei")


class FormatsPlugin:
    @hookimpl
    def rallypoint_import_formats(self):
        return [ImportFormat("kml", "KML", (".kml",), read=lambda path, options: iter(()))]

    @hookimpl
    def rallypoint_export_formats(self):
        return [ExportFormat("kml", "KML", ".kml", write=lambda *a, **k: None)]


def test_hook_rallypoint_import_formats():
    formats = _pm(FormatsPlugin()).collect("rallypoint_import_formats")
    assert [(f.name, f.suffixes) for f in formats] == [("kml", (".kml",))]


def test_hook_rallypoint_export_formats():
    formats = _pm(FormatsPlugin()).collect("rallypoint_export_formats")
    assert [(f.name, f.suffix) for f in formats] == [("kml", ".kml")]


class ParsersPlugin:
    @hookimpl
    def rallypoint_value_parsers(self):
        return [ValueParser("li_to_m", lambda v: float(str(v).removesuffix("里")) * 500, "华里 → 米")]

    @hookimpl
    def rallypoint_profiles(self):
        fields = {"name": "名称", "effective_area_m2": {"from": "距离", "parse": "li_to_m"}}
        return [Profile("import_mapping", "li_sites", "里程场所", "Sites in li", data={"layer": "shelters",
                                                                                  "fields": fields}),
                Profile("import_mapping", "broken", "坏的", "Broken", data={
                    "layer": "shelters", "fields": {"name": {"from": "名称", "parse": "os:system"}}})]


def test_hook_rallypoint_value_parsers():
    from rallypoint.exchange import mapping

    pm = _pm(ParsersPlugin())
    assert set(mapping.value_parsers(pm)) == {"number", "li_to_m"}
    with pytest.raises(mapping.MappingError, match="broken.*no value parser 'os:system'"):
        mapping.import_mappings(pm)  # a name is looked up among the parsers plugins provide, never imported
    good = mapping.from_profile(_pm(ParsersPlugin()).collect("rallypoint_profiles")[0], mapping.value_parsers(pm))
    rule = next(r for r in good.rules if r.target == "effective_area_m2")
    assert mapping.apply_rule(rule, {"距离": "3里"}, {}, None) == 1500.0


HELLO_COMMAND = """
    import click
    from rallypoint.hookspecs import hookimpl

    @click.command("hello")
    @click.argument("who")
    def hello(who):
        click.echo(f"你好, {who}")

    @hookimpl
    def rallypoint_cli_commands():
        return [hello]
"""


def test_hook_rallypoint_cli_commands(install):
    install("rp_hello", HELLO_COMMAND)
    out = CliRunner().invoke(cli, ["hello", "县局"])
    assert out.exit_code == 0 and "你好, 县局" in out.output
    assert "hello" in CliRunner().invoke(cli, ["--help"]).output


class WebPlugin:
    @hookimpl
    def rallypoint_web_endpoints(self):
        return [Endpoint("GET", "/plugins/echo/{word}",
                         lambda req: (200, {"Content-Type": "application/json"}, {"echo": req["path_params"]["word"]}),
                         summary="echo")]


def test_hook_rallypoint_web_endpoints():
    endpoints = _pm(WebPlugin()).collect("rallypoint_web_endpoints")
    assert [(e.method, e.path) for e in endpoints] == [("GET", "/plugins/echo/{word}")]
    status, headers, body = endpoints[0].handler({"path_params": {"word": "避难"}})
    assert status == 200 and body == {"echo": "避难"}


DEMO_PANEL = """
    from rallypoint.hookspecs import hookimpl
    from rallypoint.portal import Figure, Link, Panel

    def figures(request):
        return [Figure("场所数", "Shelters", request["registry"].count("shelters"), alert=True)]

    @hookimpl
    def rallypoint_portal_panels():
        return [Panel("demo", "演示面板", "Demo panel", figures, links=(Link("/plugins/demo?lang={lang}", "演示报告",
                                                                          "Demo report"),))]
"""


def test_hook_rallypoint_portal_panels(install, county_sample, tmp_path):
    """An outside plugin's panel, installed through its entry point, is on the portal with its figures."""
    import sqlite3

    from rallypoint.web import create_app

    install("rp_demo_panel", DEMO_PANEL)
    panels = get_plugin_manager().collect("rallypoint_portal_panels")
    assert {p.id for p in panels} >= {"demo", "survey", "rectification"}
    path = tmp_path / "served.gpkg"
    src, dst = sqlite3.connect(county_sample), sqlite3.connect(path)
    src.backup(dst)
    src.close(), dst.close()
    client = create_app(path, {"TESTING": True, "RALLYPOINT_JOBS_DIR": str(tmp_path / "jobs")}).test_client()
    page = client.get("/?lang=en", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert 'data-panel="demo"' in page and "Demo panel" in page and 'href="http://localhost/plugins/demo?lang=en"' in page
    with Registry.open(path) as reg:
        shelters = reg.count("shelters")
    assert client.get("/portal/panels/demo").get_json()["figures"] == [  # in the language the browser chose
        {"label": "Shelters", "value": shelters, "alert": True}]
    assert client.get("/portal/panels/demo?lang=zh").get_json()["figures"][0]["label"] == "场所数"


def test_an_outside_plugins_analysis_is_listed_and_run_by_the_web_api(install, county_sample, tmp_path):
    import sqlite3

    from rallypoint.web import create_app

    install("rp_demo_analysis", DEMO_ANALYSIS)
    path = tmp_path / "served.gpkg"
    src, dst = sqlite3.connect(county_sample), sqlite3.connect(path)
    src.backup(dst)
    src.close(), dst.close()
    app = create_app(path, {"TESTING": True, "RALLYPOINT_JOBS_DIR": str(tmp_path / "jobs")})
    client = app.test_client()
    assert "demo" in [p["id"] for p in client.get("/processes").get_json()["processes"]]
    from rallypoint.api.auth import add_key

    with Registry.open(path) as reg:
        key, _ = add_key(reg, "planner", "reader")
    headers = {"Authorization": f"Bearer {key}"}
    ran = client.post("/processes/demo/execution", json={"inputs": {"factor": 2}}, headers=headers)
    assert ran.status_code in (200, 201), ran.get_data(as_text=True)
    assert "shelters" in ran.get_data(as_text=True)
