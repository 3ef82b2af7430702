"""Merge conflicts listed and resolved in real QGIS 3.22 (headless, in this process) through the plugin's dialog.

The county exports a township's shelters; the township and the county change the same two shelters
differently; ``rallypoint merge`` records the two conflicts. The county's GIS staff open the registry with the
plugin, in Chinese, and open "合并冲突" from its menu: both conflicts are listed with their layer, feature,
fields, ours and theirs; a value the field's rule refuses is refused with the rule's message and changes
nothing; one conflict is resolved with chosen values (one typed, one picked from the field's allowed values),
the other keeping theirs; the history names the plugin's author (op ``resolve``), the layer shows the new values
and the list is empty. A screenshot of the dialog in Chinese is saved in artifacts/.
"""

from __future__ import annotations

import ast
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import county_copy, require, require_program

from rallypoint import ConflictError, Registry
from rallypoint.cli.main import cli

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "artifacts"
TS = ROOT / "qgis_plugin" / "i18n" / "rallypoint_zh_CN.ts"
TOWNSHIP = "519921102"  # 太河镇

pytestmark = pytest.mark.qgis


def run(*args) -> str:
    r = CliRunner().invoke(cli, [str(a) for a in args], env={"COLUMNS": "200"})
    assert r.exit_code == 0, (args, r.output, r.exception)
    return r.output


def two_conflicts(request, backend, tmp_path) -> tuple[str, str, str]:
    """(county, s1, s2): a county registry where a real merge met s1 (occupancy) and s2 (occupancy, status)
    changed differently on both sides."""
    county = county_copy(request, backend, "conflicts")
    sent, copy = tmp_path / "taihe-sent.gpkg", tmp_path / "taihe.gpkg"
    run("export", county, sent, "--adcode", TOWNSHIP, "--layers", "shelters")
    shutil.copyfile(sent, copy)
    s1, s2 = run("list", copy, "shelters", "--format", "ids", "--limit", "2").split()
    run("edit", copy, "shelters", s1, "--set", "occupancy=40", "--author", "wang.taihe")
    run("edit", copy, "shelters", s2, "--set", "occupancy=25", "--set", "status=full", "--author", "wang.taihe")
    run("edit", county, "shelters", s1, "--set", "occupancy=55", "--author", "li.county")
    run("edit", county, "shelters", s2, "--set", "occupancy=30", "--set", "status=closed", "--author", "li.county")
    assert "2 conflicts" in run("merge", county, copy, "--base", sent, "--author", "li.county")
    return county, s1, s2


@pytest.fixture
def chinese(tmp_path):
    """The plugin's Chinese translation, compiled from its .ts as the zip's build does, installed in Qt."""
    require("qgis", "Debian's python3-qgis, QGIS 3.22")
    require_program("lrelease", "Qt's lrelease compiles the plugin's translations")
    from qgis.PyQt.QtCore import QCoreApplication, QTranslator

    from rallypoint_qgis.packaging import compile_translations

    folder = tmp_path / "tr"
    (folder / "i18n").mkdir(parents=True)
    shutil.copyfile(TS, folder / "i18n" / TS.name)
    [qm] = compile_translations(folder)
    translator = QTranslator()
    assert translator.load(str(qm))
    QCoreApplication.installTranslator(translator)
    yield translator
    QCoreApplication.removeTranslator(translator)


def cells(table, row) -> list[str]:
    return [table.item(row, c).text() if table.item(row, c) else "" for c in range(table.columnCount())]


def history(location, uuid):
    with Registry.open(location) as reg:
        return reg.history("shelters", uuid)


@pytest.mark.parametrize("backend", ["gpkg", "postgis"])
def test_the_plugin_lists_and_resolves_merge_conflicts(request, backend, tmp_path, chinese):
    require("qgis", "Debian's python3-qgis, QGIS 3.22")
    from qgis.core import Qgis, QgsApplication, QgsFeatureRequest

    import rallypoint_qgis

    county, s1, s2 = two_conflicts(request, backend, tmp_path)
    with Registry.open(county) as reg:
        ids = {c.uuid: c.id for c in reg.conflicts()}
        names = {u: reg.get("shelters", u).properties["name"] for u in (s1, s2)}
        alias = {f: reg.definition("shelters").field(f).alias("zh") for f in ("occupancy", "status")}
    iface = request.getfixturevalue("qgis_iface")
    iface.messageBar().clear_messages()
    plugin = rallypoint_qgis.classFactory(iface)
    plugin.initGui()
    try:
        plugin.set_setting("author", "zhou.gis")
        loaded = plugin.open_registry(path=str(county))
        assert loaded is not None, iface.messageBar().get_messages(Qgis.Critical)
        action = plugin.actions["conflicts"]
        assert action.text() == "合并冲突…"
        assert action in plugin.toolbar.actions()
        action.trigger()
        dialog = plugin.conflicts_dialog
        assert dialog is not None and dialog.isVisible()
        assert dialog.windowTitle() == "合并冲突"
        assert [dialog.keep_ours.text(), dialog.keep_theirs.text(), dialog.use_chosen.text()] == [
            "保留本方", "采用对方", "采用选定值"]

        # both conflicts listed: number, layer, feature, fields in conflict, when (China time), by whom
        assert dialog.list.rowCount() == 2
        rows = {r[2]: r for r in (cells(dialog.list, i) for i in range(2))}
        assert set(rows) == {names[s1], names[s2]}
        assert rows[names[s1]][:4] == [str(ids[s1]), "应急避难场所", names[s1], alias["occupancy"]]
        assert rows[names[s2]][3] == f"{alias['occupancy']}、{alias['status']}"
        assert rows[names[s2]][5] == "li.county" and rows[names[s2]][4].startswith("20")

        # the second one's fields: base, ours when merged, theirs, now, and a value to choose
        dialog.select(ids[s2])
        assert dialog.selected().uuid == s2
        assert f"第 {ids[s2]} 号（双方均有修改）· 要素 {s2}" in dialog.detail.text()
        fields = {cells(dialog.fields, r)[0]: cells(dialog.fields, r) for r in range(dialog.fields.rowCount())}
        assert fields[alias["occupancy"]][2:5] == ["30", "25", "30"]
        assert fields[alias["status"]][2:5] == ["关闭", "已满", "关闭"]
        occupancy, _ = dialog.choosers["occupancy"]
        status, _ = dialog.choosers["status"]
        assert [status.itemText(i) for i in range(2)] == ["本方：关闭", "对方：已满"]

        # a value the field's rule refuses: the registry's message in the dialog, nothing written
        versions = len(history(county, s2))
        occupancy.setEditText("-3")
        assert dialog.resolve("ours", chosen=True) is None
        assert "occupancy" in dialog.message.text() and "未解决" in dialog.message.text()
        assert len(history(county, s2)) == versions and dialog.list.rowCount() == 2

        # chosen values: occupancy typed, status picked from the field's allowed values (neither side's)
        occupancy.setEditText("28")
        assert dialog.message.text() == ""  # the refusal was about the value typed before
        status.setCurrentIndex(status.findText("待命"))
        assert dialog.chosen_values() == {"occupancy": "28", "status": "standby"}
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "qgis_conflicts_zh.png"
        dialog.resize(1100, 640)
        QgsApplication.processEvents()
        assert dialog.grab().save(str(shot), "png")
        dialog.use_chosen.click()
        assert dialog.last_error is None, dialog.last_error
        said = dialog.message.text()  # who, how, which fields by their Chinese names, the version written
        assert "已由 zhou.gis 解决" in said and f"设定 {alias['occupancy']}、{alias['status']}" in said, said
        assert dialog.list.rowCount() == 1 and dialog.selected().uuid == s1

        # the other: someone edits the feature after the dialog read it; the choice was made on the older version,
        # so the registry refuses it (nothing written) until the list is read again
        with Registry.open(county) as reg:
            reg.update("shelters", s1, {"capacity_night": 77}, author="li.county")
        dialog.keep_theirs.click()
        assert isinstance(dialog.last_error, ConflictError), dialog.last_error
        assert dialog.list.rowCount() == 1 and history(county, s1)[-1].op == "update"
        dialog.refresh()

        # then: keep theirs
        dialog.keep_theirs.click()
        assert dialog.last_error is None, dialog.last_error
        assert dialog.list.rowCount() == 0 and not dialog.keep_theirs.isEnabled()
        assert dialog.detail.text() == "没有未解决的合并冲突。"
        assert "0 处未解决的合并冲突" in dialog.summary.text()

        # the layer shows what the registry wrote
        layer = loaded.layers["shelters"]
        shown = {f["uuid"]: f for f in layer.getFeatures(QgsFeatureRequest().setFilterExpression(
            f"\"uuid\" IN ('{s1}', '{s2}')"))}
        assert (shown[s1]["occupancy"], shown[s2]["occupancy"], shown[s2]["status"]) == (40, 28, "standby")
    finally:
        plugin.set_setting("author", "")
        plugin.unload()
    assert plugin.conflicts_dialog is None

    with Registry.open(county) as reg:
        assert reg.conflicts() == []
        done = {c.uuid: c.resolution for c in reg.conflicts(resolved=True)}
        assert done[s1]["keep"] == "theirs" and done[s1]["by"] == "zhou.gis"
        assert done[s2]["set"] == {"occupancy": "28", "status": "standby"} and done[s2]["by"] == "zhou.gis"
        assert reg.get("shelters", s1).properties["occupancy"] == 40
        assert reg.get("shelters", s2).properties["status"] == "standby"
        for u in (s1, s2):
            last = reg.history("shelters", u)[-1]
            assert (last.op, last.author) == ("resolve", "zhou.gis")
            assert f"merge conflict {ids[u]}" in (last.note or "")


def test_every_string_of_the_dialog_is_translated():
    """Each text the conflicts dialog passes through Qt's translation has a Chinese translation in the .ts."""
    tree = ast.parse((ROOT / "qgis_plugin" / "conflicts.py").read_text(encoding="utf-8"))
    said = {n.args[0].value for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "_tr"
            and n.args and isinstance(n.args[0], ast.Constant)}
    said |= {h for cls in tree.body if isinstance(cls, ast.ClassDef) for node in cls.body
             if isinstance(node, ast.Assign) and node.targets[0].id.endswith("_COLUMNS")
             for h in ast.literal_eval(node.value)}
    plugin = ast.parse((ROOT / "qgis_plugin" / "plugin.py").read_text(encoding="utf-8"))
    said |= {"Merge conflicts…", "Open a registry first: its merge conflicts are listed here"}
    assert {n.args[0].value for n in ast.walk(plugin) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "tr"
            and n.args and isinstance(n.args[0], ast.Constant)} >= {"Merge conflicts…"}
    translated = {m.findtext("source"): m.findtext("translation") for m in ET.parse(TS).iter("message")}
    missing = sorted(s for s in said if not translated.get(s))
    assert len(said) > 30 and missing == []
