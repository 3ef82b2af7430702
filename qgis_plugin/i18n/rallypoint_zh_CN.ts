<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN">
<context>
    <name>Rallypoint</name>
    <message>
        <source>&amp;Rallypoint</source>
        <translation>应急资源登记(&amp;R)</translation>
    </message>
    <message>
        <source>Rallypoint</source>
        <translation>应急资源登记</translation>
    </message>
    <message>
        <source>{layer}: saved {new} new, {changed} changed, {retired} retired</source>
        <translation>{layer}：已保存，新增 {new} 个、修改 {changed} 个、停用 {retired} 个</translation>
    </message>
    <message>
        <source>This file does not hold these fields (they are not shown, and no value can be given for them): {fields}</source>
        <translation>本文件未包含以下字段（不显示，也不能填写）：{fields}</translation>
    </message>
    <message>
        <source>{layer}: could not save: {error}</source>
        <translation>{layer}：未能保存：{error}</translation>
    </message>
    <message>
        <source>Open registry…</source>
        <translation>打开登记库…</translation>
    </message>
    <message>
        <source>Check out from server…</source>
        <translation>从服务器签出…</translation>
    </message>
    <message>
        <source>Push local changes</source>
        <translation>推送本地修改</translation>
    </message>
    <message>
        <source>Pull changes from server</source>
        <translation>拉取服务器修改</translation>
    </message>
    <message>
        <source>Show personal data</source>
        <translation>显示个人信息</translation>
    </message>
    <message>
        <source>English labels</source>
        <translation>英文标签</translation>
    </message>
    <message>
        <source>API key (empty: anonymous)</source>
        <translation>API 密钥（留空为匿名）</translation>
    </message>
    <message>
        <source>Server address</source>
        <translation>服务器地址</translation>
    </message>
    <message>
        <source>Cannot open the registry: {0}</source>
        <translation>无法打开登记库：{0}</translation>
    </message>
    <message>
        <source>Checked out {0}</source>
        <translation>已签出 {0}</translation>
    </message>
    <message>
        <source>Conflicts (kept locally):</source>
        <translation>冲突（已保留本地修改）：</translation>
    </message>
    <message>
        <source>{0} conflicts</source>
        <translation>{0} 处冲突</translation>
    </message>
    <message>
        <source>{0} created, {1} updated, {2} retired</source>
        <translation>新增 {0} 个，修改 {1} 个，注销 {2} 个</translation>
    </message>
    <message>
        <source>Labels change for registries opened from now on</source>
        <translation>标签语言将在此后打开的登记库中生效</translation>
    </message>
    <message>
        <source>Select a layer of a registry checked out from a server</source>
        <translation>请选择一个从服务器签出的登记库中的图层</translation>
    </message>
    <message>
        <source>Check-out failed: {0}</source>
        <translation>签出失败：{0}</translation>
    </message>
    <message>
        <source>Opening a PostGIS registry in QGIS needs the psycopg package (version 3) in QGIS&apos;s Python, which QGIS does not ship; check the registry out into a file with `rallypoint checkout`, or open it through the Rallypoint server</source>
        <translation>在 QGIS 中打开 PostGIS 登记库需要 QGIS 的 Python 中安装 psycopg 软件包（第 3 版），QGIS 未自带该软件包；请用 `rallypoint checkout` 将登记库签出为文件后打开，或通过 Rallypoint 服务器访问</translation>
    </message>
</context>
</TS>
