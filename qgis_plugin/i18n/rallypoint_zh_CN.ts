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
    <message>
        <source>Merge conflicts…</source>
        <translation>合并冲突…</translation>
    </message>
    <message>
        <source>Open a registry first: its merge conflicts are listed here</source>
        <translation>请先打开登记库，此处列出其合并冲突</translation>
    </message>
    <message>
        <source>Merge conflicts</source>
        <translation>合并冲突</translation>
    </message>
    <message>
        <source>#</source>
        <translation>编号</translation>
    </message>
    <message>
        <source>Layer</source>
        <translation>图层</translation>
    </message>
    <message>
        <source>Feature</source>
        <translation>要素</translation>
    </message>
    <message>
        <source>Fields in conflict</source>
        <translation>冲突字段</translation>
    </message>
    <message>
        <source>Found (UTC+8)</source>
        <translation>发现时间（北京时间）</translation>
    </message>
    <message>
        <source>Found by</source>
        <translation>发现人</translation>
    </message>
    <message>
        <source>Field</source>
        <translation>字段</translation>
    </message>
    <message>
        <source>Base</source>
        <translation>共同基础</translation>
    </message>
    <message>
        <source>Ours (when merged)</source>
        <translation>本方（合并时）</translation>
    </message>
    <message>
        <source>Theirs</source>
        <translation>对方</translation>
    </message>
    <message>
        <source>Now</source>
        <translation>当前</translation>
    </message>
    <message>
        <source>Chosen value</source>
        <translation>选定值</translation>
    </message>
    <message>
        <source>Keep ours</source>
        <translation>保留本方</translation>
    </message>
    <message>
        <source>Keep theirs</source>
        <translation>采用对方</translation>
    </message>
    <message>
        <source>Use the chosen values</source>
        <translation>采用选定值</translation>
    </message>
    <message>
        <source>Close</source>
        <translation>关闭</translation>
    </message>
    <message>
        <source>The feature stays as it stands in this registry</source>
        <translation>要素保持本登记库中的现状</translation>
    </message>
    <message>
        <source>Their values of the fields in conflict (and their feature retired or in use)</source>
        <translation>冲突字段采用对方的值（要素停用与否也按对方）</translation>
    </message>
    <message>
        <source>Ours for the fields left at ours, the chosen value for the others</source>
        <translation>选为本方的字段保持本方，其余字段采用选定值</translation>
    </message>
    <message>
        <source>Cannot read the merge conflicts: {0}</source>
        <translation>无法读取合并冲突：{0}</translation>
    </message>
    <message>
        <source>{0}: {1} open merge conflicts</source>
        <translation>{0}：{1} 处未解决的合并冲突</translation>
    </message>
    <message>
        <source>retired or in use</source>
        <translation>停用与否</translation>
    </message>
    <message>
        <source>Geometry</source>
        <translation>几何位置</translation>
    </message>
    <message>
        <source>No open merge conflicts.</source>
        <translation>没有未解决的合并冲突。</translation>
    </message>
    <message>
        <source>#{id} {kind} · feature {uuid} · now version {version} · theirs from {source}</source>
        <translation>第 {id} 号（{kind}）· 要素 {uuid} · 当前版本 {version} · 对方来自 {source}</translation>
    </message>
    <message>
        <source>Retired</source>
        <translation>停用</translation>
    </message>
    <message>
        <source>Ours: {0}</source>
        <translation>本方：{0}</translation>
    </message>
    <message>
        <source>Theirs: {0}</source>
        <translation>对方：{0}</translation>
    </message>
    <message>
        <source>Conflict #{0} not resolved: {1}</source>
        <translation>第 {0} 号冲突未解决：{1}</translation>
    </message>
    <message>
        <source>ours</source>
        <translation>本方</translation>
    </message>
    <message>
        <source>theirs</source>
        <translation>对方</translation>
    </message>
    <message>
        <source>, set {0}</source>
        <translation>，设定 {0}</translation>
    </message>
    <message>
        <source>Conflict #{0} resolved by {1}: kept {2}{3}; {4} is now version {5}</source>
        <translation>第 {0} 号冲突已由 {1} 解决：保留{2}{3}；{4} 现为第 {5} 版</translation>
    </message>
    <message>
        <source>(geometry)</source>
        <translation>（几何）</translation>
    </message>
    <message>
        <source>yes</source>
        <translation>是</translation>
    </message>
    <message>
        <source>no</source>
        <translation>否</translation>
    </message>
    <message>
        <source>both edited</source>
        <translation>双方均有修改</translation>
    </message>
    <message>
        <source>retired by them, edited by us</source>
        <translation>对方停用、本方修改</translation>
    </message>
    <message>
        <source>restored by them, edited by us</source>
        <translation>对方恢复、本方修改</translation>
    </message>
    <message>
        <source>edited by them, retired by us</source>
        <translation>对方修改、本方停用</translation>
    </message>
    <message>
        <source>edited by them, restored by us</source>
        <translation>对方修改、本方恢复</translation>
    </message>
    <message>
        <source>added on both sides</source>
        <translation>双方均有新增</translation>
    </message>
</context>
</TS>
