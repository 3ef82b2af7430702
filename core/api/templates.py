"""The HTML pages, server-rendered with Jinja2: one template per resource (only the map page has a script).

Kept as strings in this module so they ship with the package like its code does.
Labels come in Chinese and English from the layer definitions.
"""

from .portal.templates import PAGES as PORTAL_PAGES  # the portal's own pages (one language each)

BASE = """<!doctype html>
<html lang="zh">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{% block title %}{{ site }}{% endblock %}</title>
<style>
body{font-family:"Noto Sans CJK SC","Noto Sans",sans-serif;margin:0;color:#222}
header{background:#8b1a1a;color:#fff;padding:.6em 1.2em}header a{color:#fff;text-decoration:none}
nav.crumbs{padding:.4em 1.2em;background:#f3f3f3;font-size:.9em}main{padding:0 1.2em 2em}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:.25em .5em;vertical-align:top;text-align:left}
th{background:#f7f7f7}.en{color:#666;font-size:.85em}.muted{color:#777}.pager a{margin-right:1em}
</style>
</head>
<body>
<header><a href="{{ root }}/"><strong>{{ site }}</strong></a></header>
<nav class="crumbs">{% for href, label in crumbs %}<a href="{{ href }}">{{ label }}</a>{% if not loop.last %} › {% endif %}{% endfor %}
{% if json_href %} · <a href="{{ json_href }}">JSON</a>{% endif %}</nav>
<main>{% block main %}{% endblock %}</main>
</body>
</html>
"""

CONFORMANCE = """{% extends "base.html" %}
{% block main %}
<h1>符合性 <span class="en">Conformance</span></h1>
<ul>{% for c in doc.conformsTo %}<li><a href="{{ c }}">{{ c }}</a></li>{% endfor %}</ul>
{% endblock %}
"""

API = """{% extends "base.html" %}
{% block main %}
<h1>{{ doc.info.title }} <span class="en">API</span></h1>
<p>OpenAPI {{ doc.openapi }} · <a href="{{ json_href }}">JSON</a></p>
<table><tr><th>路径 Path</th><th>操作 Operations</th></tr>
{% for path, ops in doc.paths.items() %}<tr><td><code>{{ path }}</code></td>
<td>{% for method, op in ops.items() if method != "parameters" %}<strong>{{ method|upper }}</strong> {{ op.summary }}<br>{% endfor %}</td></tr>
{% endfor %}</table>
{% endblock %}
"""

COLLECTIONS = """{% extends "base.html" %}
{% block main %}
<h1>数据集 <span class="en">Collections</span></h1>
<table><tr><th>标识 Id</th><th>名称 Title</th><th>说明 Description</th><th>要素 Items</th></tr>
{% for c in doc.collections %}<tr><td><a href="{{ c.html_href }}">{{ c.id }}</a></td>
<td>{{ c.title_zh }}<br><span class="en">{{ c.title_en }}</span></td><td>{{ c.description }}</td>
<td><a href="{{ c.items_href }}">浏览 browse</a>{% if c.readOnly %} <span class="muted">(只读 read-only)</span>{% endif %}</td></tr>
{% endfor %}</table>
{% endblock %}
"""

COLLECTION = """{% extends "base.html" %}
{% block main %}
<h1>{{ layer.title_zh }} <span class="en">{{ layer.title_en }}</span></h1>
<p>{{ layer.description_zh }}<br><span class="en">{{ layer.description_en }}</span></p>
<p><a href="{{ items_href }}">浏览要素 Browse the features</a>{% if queryables_href %} ·
<a href="{{ queryables_href }}">可查询字段与筛选 Queryables and filters</a>{% endif %}</p>
{% if doc.extent %}<p>范围 Extent (CRS84): {{ doc.extent.spatial.bbox[0]|join(", ") }}</p>{% endif %}
<p>坐标系 CRS: {% for c in doc.crs %}<code>{{ c }}</code> {% endfor %}<br>存储 Storage: <code>{{ doc.storageCrs }}</code></p>
<table><tr><th>字段 Field</th><th>中文</th><th>English</th><th>类型 Type</th><th>单位 Unit</th><th>可选值 Allowed values</th></tr>
{% for f in fields %}<tr><td><code>{{ f.name }}</code></td><td>{{ f.alias_zh }}</td><td>{{ f.alias_en }}</td><td>{{ f.type }}</td>
<td>{{ f.unit or "" }}</td><td>{% for v in f.values %}{{ v.code }} = {{ v.zh }} / {{ v.en }}{% if not loop.last %}<br>{% endif %}{% endfor %}</td></tr>
{% endfor %}</table>
{% endblock %}
"""

ITEMS = """{% extends "base.html" %}
{% block main %}
<h1>{{ layer.title_zh }} <span class="en">{{ layer.title_en }}</span></h1>
<p>共 {{ doc.numberMatched if doc.numberMatched is not none else "许多" }} 个要素，本页 {{ doc.numberReturned }} 个 · <span class="en">{{ doc.numberMatched if doc.numberMatched is not none else "many" }} matched, {{ doc.numberReturned }} on this page</span></p>
<p class="pager">{% if prev_href %}<a href="{{ prev_href }}">‹ 上一页 previous</a>{% endif %}{% if next_href %}<a href="{{ next_href }}">下一页 next ›</a>{% endif %}</p>
<table><tr><th>#</th>{% for f in fields %}<th>{{ f.alias_zh }}<br><span class="en">{{ f.alias_en }}</span></th>{% endfor %}{% if layer.has_geometry %}<th>几何 Geometry</th>{% endif %}</tr>
{% for feat in rows %}<tr><td><a href="{{ feat.href }}">{{ loop.index + offset }}</a></td>{% for v in feat["values"] %}<td>{{ v }}</td>{% endfor %}
{% if layer.has_geometry %}<td class="muted">{{ feat.geometry }}</td>{% endif %}</tr>
{% endfor %}</table>
{% endblock %}
"""

ITEM = """{% extends "base.html" %}
{% block main %}
<h1>{{ title }}</h1>
<table>{% for f, v in pairs %}<tr><th>{{ f.alias_zh }}<br><span class="en">{{ f.alias_en }}</span></th><td>{{ v }}</td></tr>{% endfor %}
{% if geometry %}<tr><th>几何<br><span class="en">Geometry</span></th><td class="muted">{{ geometry }}</td></tr>{% endif %}</table>
{% endblock %}
"""

PROCESSES = """{% extends "base.html" %}
{% block main %}
<h1>分析 <span class="en">Processes (analyses)</span></h1>
<table><tr><th>标识 Id</th><th>名称 Title</th><th>说明 Description</th></tr>
{% for p in doc.processes %}<tr><td><a href="{{ p.html_href }}">{{ p.id }}</a></td><td>{{ p.title }}</td><td>{{ p.description }}</td></tr>{% endfor %}
</table>
{% endblock %}
"""

PROCESS = """{% extends "base.html" %}
{% block main %}
<h1>{{ doc.title }}</h1>
<p>{{ doc.description }}</p>
<p>运行：POST <code>{{ execute_href }}</code>，正文 <code>{"inputs": {...}}</code>（需要 API 密钥）。
<span class="en">Run it: POST a JSON body {"inputs": {...}} there (needs an API key).</span></p>
<table><tr><th>参数 Input</th><th>名称 Title</th><th>类型 Schema</th></tr>
{% for name, i in doc.inputs.items() %}<tr><td><code>{{ name }}</code></td><td>{{ i.title }}</td><td><code>{{ i.schema|tojson }}</code></td></tr>{% endfor %}
</table>
{% endblock %}
"""

QUERYABLES = """{% extends "base.html" %}
{% block main %}
<h1>{{ layer.title_zh }} · 可查询字段 <span class="en">{{ layer.title_en }} · Queryables</span></h1>
<p>筛选：在要素请求中加 <code>filter</code>（CQL2 文本或 JSON）。
<span class="en">Filter the items with <code>filter</code> (CQL2 text, or CQL2 JSON with <code>filter-lang=cql2-json</code>),
e.g. <code>status = 'open' AND S_INTERSECTS(geometry, BBOX(103.6, 30.5, 104.2, 31.0))</code>.</span></p>
<form method="get" action="{{ items_href.split('?')[0] }}">
<input type="hidden" name="f" value="html">
<label>filter (CQL2) <input type="text" name="filter" size="80"></label>
<button type="submit">查询 Search</button>
</form>
<table><tr><th>名称 Name</th><th>标题 Title</th><th>类型 Type</th><th>可选值 Allowed values</th></tr>
{% for name, p in doc.properties.items() %}<tr><td><code>{{ name }}</code></td><td>{{ p.title }}</td>
<td>{{ p.type or "" }}{% if p.format %} ({{ p.format }}){% endif %}{% if p["x-ogc-role"] %} · {{ p["x-ogc-role"] }}{% endif %}</td>
<td>{% for code in p.enum or [] %}<code>{{ code }}</code> {{ p["x-enum-titles"][code] }}{% if not loop.last %}<br>{% endif %}{% endfor %}</td></tr>
{% endfor %}</table>
{% endblock %}
"""

MAP = """<!doctype html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ texts.title }} · {{ site }}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{{ static }}/vendor/maplibre-gl.css">
<style>
html,body{height:100%;margin:0;font-family:"Noto Sans CJK SC","Noto Sans",sans-serif;color:#222}
header{position:absolute;top:0;left:0;right:0;height:2.4em;background:#8b1a1a;color:#fff;display:flex;align-items:center;
 gap:1em;padding:0 1em;z-index:4}header a{color:#fff}header h1{font-size:1.05em;margin:0;font-weight:600}
#map{position:absolute;top:2.4em;bottom:0;left:0;right:0}
#legend{position:absolute;top:3.2em;left:.8em;z-index:1;background:rgba(255,255,255,.94);border-radius:4px;
 box-shadow:0 1px 4px rgba(0,0,0,.3);padding:.5em .8em;font-size:13px;max-height:calc(100% - 5em);overflow:auto;min-width:12em}
#legend h2{font-size:13px;margin:.4em 0 .2em;color:#555}#legend label{display:flex;align-items:center;gap:.4em;font-weight:600;margin-top:.3em}
#legend ul{list-style:none;margin:0 0 0 1.6em;padding:0}#legend li{display:flex;align-items:center;gap:.4em;font-size:12px}
.swatch{display:inline-block;flex:none;box-sizing:border-box}
.maplibregl-popup{z-index:3}.maplibregl-popup-content{font-family:inherit;font-size:12px}
.maplibregl-popup-content .fields{max-height:17em;overflow-y:auto}
.maplibregl-popup-content h3{font-size:14px;margin:0 0 .3em}.maplibregl-popup-content .layer{color:#777;font-size:11px}
.maplibregl-popup-content table{border-collapse:collapse}.maplibregl-popup-content th{text-align:left;color:#555;font-weight:normal;padding:1px .6em 1px 0;vertical-align:top}
#message{position:absolute;top:4em;left:50%;transform:translateX(-50%);background:#fff3cd;padding:.6em 1em;z-index:3;display:none}
</style>
</head>
<body>
<header><h1>{{ texts.title }} · {{ site }}</h1><a href="{{ home_href }}">{{ texts.home }}</a>
<a id="lang-switch" href="{{ switch_href }}" lang="{{ 'en' if lang == 'zh' else 'zh' }}">{{ texts.switch }}</a></header>
<div id="map"></div>
<div id="legend" aria-label="{{ texts.resources }}"></div>
<div id="message" role="alert"></div>
<script type="application/json" id="map-config">{{ config|tojson }}</script>
<script src="{{ static }}/vendor/maplibre-gl.js"></script>
<script src="{{ static }}/map.js"></script>
</body>
</html>
"""

CONFLICTS = """{% extends "base.html" %}
{% block main %}
<h1>合并冲突 <span class="en">Merge conflicts</span></h1>
{% if state %}<p>{% for s, label in [("open", "未解决 open"), ("resolved", "已解决 resolved"), ("all", "全部 all")] %}
{% if s == state %}<strong>{{ label }}</strong>{% else %}<a href="?state={{ s }}&amp;f=html">{{ label }}</a>{% endif %}{% if not loop.last %} · {% endif %}{% endfor %}</p>{% endif %}
{% if not doc.conflicts %}<p class="muted">没有合并冲突。<span class="en">No merge conflicts.</span></p>{% endif %}
{% for c in doc.conflicts %}
<h2><a href="{{ c.links[1].href }}">#{{ c.id }}</a> {{ c.layer }} · {{ c.name or c.uuid }} <span class="en">{{ c.kind }}</span></h2>
<p class="muted">{{ c.uuid }} · 来自 from {{ c.theirs_from or "?" }} · 发现 found {{ c.detected_at }} ({{ c.detected_by }}){% if c.now %} · 当前版本 now version {{ c.now.version }}{% endif %}</p>
<table><tr><th>字段 Field</th><th>共同基础 Base</th><th>本方 Ours (merged)</th><th>对方 Theirs</th><th>当前 Now</th></tr>
{% for f, v in c.fields.items() %}<tr><td><code>{{ f }}</code></td><td>{{ v.base if v.base is not none else "" }}</td><td>{{ v.ours if v.ours is not none else "" }}</td>
<td>{{ v.theirs if v.theirs is not none else "" }}</td><td>{{ c.now["values"][f] if c.now and c.now["values"][f] is not none else "" }}</td></tr>
{% endfor %}</table>
{% if c.resolved_at %}<p>已解决 Resolved {{ c.resolved_at }} · {{ c.resolution.by }} · 保留 kept {{ c.resolution.keep }}{% if c.resolution.set %} · {{ c.resolution.set|tojson }}{% endif %}</p>
{% else %}<p>解决：POST <code>{{ c.links[3].href }}</code>，正文 <code>{"keep": "ours" | "theirs", "set": {...}}</code>，带 <code>If-Match</code>（要素的 ETag）。
<span class="en">Resolve it: POST that JSON there with the feature's ETag as If-Match (an editor's key).</span></p>{% endif %}
{% endfor %}
{% endblock %}
"""

PAGES = {
    **PORTAL_PAGES,
    "base.html": BASE, "conformance.html": CONFORMANCE, "api.html": API,
    "collections.html": COLLECTIONS, "collection.html": COLLECTION, "items.html": ITEMS, "item.html": ITEM,
    "processes.html": PROCESSES, "process.html": PROCESS, "queryables.html": QUERYABLES, "map.html": MAP,
    "conflicts.html": CONFLICTS,
}
