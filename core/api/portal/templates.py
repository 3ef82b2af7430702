"""The portal's pages (Jinja2, autoescaped), in the page's one language: Chinese by default, English on request."""

BASE = """<!doctype html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{% block title %}{{ t.portal }} · {{ site }}{% endblock %}</title>
<link rel="icon" href="data:,">
<style>
*{box-sizing:border-box}
body{font-family:"Noto Sans CJK SC","Noto Sans",sans-serif;margin:0;color:#222;background:#f4f4f2;font-size:15px}
a{color:#8b1a1a}
header.top{background:#8b1a1a;color:#fff;display:flex;align-items:center;gap:1.2em;padding:.55em 1.2em;flex-wrap:wrap}
header.top a,header.top button.link{color:#fff}
header.top .brand{font-weight:600;font-size:1.1em;text-decoration:none;margin-right:auto}
header.top nav{display:flex;gap:1em}
header.top nav a{text-decoration:none;opacity:.92}header.top nav a:hover{text-decoration:underline}
header.top .user{display:flex;align-items:center;gap:.6em;font-size:.92em}
header.top form{margin:0}
button.link{background:none;border:1px solid rgba(255,255,255,.6);border-radius:3px;padding:.15em .7em;cursor:pointer;
 font:inherit}
main{padding:1em 1.2em 2em;max-width:1500px;margin:0 auto}
section.card,article.panel{background:#fff;border-radius:6px;box-shadow:0 1px 3px rgba(0,0,0,.12);padding:.8em 1em;margin:0 0 1em}
h2{font-size:1.05em;margin:0 0 .6em;color:#5a1010}h3{font-size:1em;margin:0 0 .5em}
table{border-collapse:collapse;width:100%}td,th{padding:.3em .5em;text-align:left;border-bottom:1px solid #eee;vertical-align:top}
th{color:#555;font-weight:600;background:#fafafa}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#777}.note{color:#8a6d00;font-size:.88em}.alert{color:#b00020;font-weight:600}
.error{background:#fdecea;color:#8b1a1a;padding:.6em .8em;border-radius:4px}
{% block style %}{% endblock %}
</style>
</head>
<body>
<header class="top">
<a class="brand" href="{{ root }}/?lang={{ lang }}">{{ site }} · {{ t.portal }}</a>
<nav><a href="{{ map_href }}">{{ t.map }}</a><a href="{{ root }}/?lang={{ lang }}#reports">{{ t.reports }}</a>
<a href="{{ root }}/collections?f=html">{{ t.collections }}</a></nav>
<a id="lang-switch" href="{{ switch_href }}" lang="{{ 'en' if lang == 'zh' else 'zh' }}">{{ t.switch }}</a>
<div class="user">{% if user %}<span id="user">{{ user }}</span>
{% if csrf_token %}<form method="post" action="{{ root }}/signout"><input type="hidden" name="csrf_token" value="{{ csrf_token() }}">
<button class="link" id="sign-out" type="submit">{{ t.sign_out }}</button></form>{% endif %}
{% else %}<a id="sign-in" href="{{ root }}/signin?lang={{ lang }}&amp;next={{ here|urlencode }}">{{ t.sign_in }}</a>{% endif %}</div>
</header>
<main>{% block main %}{% endblock %}</main>
{% block script %}{% endblock %}
</body>
</html>
"""

PORTAL = """{% extends "portal_base.html" %}
{% block style %}
.layout{display:grid;grid-template-columns:minmax(0,2fr) minmax(19em,1fr);grid-template-rows:auto 1fr;gap:0 1em;
 align-items:start}.layout .mapbox,.layout .main-column{grid-column:1}.layout .side{grid-column:2;grid-row:1 / span 2}
@media (max-width:900px){.layout{grid-template-columns:1fr}.layout .side{grid-column:1;grid-row:auto}}
.mapbox{padding:0;overflow:hidden}.mapbox iframe{display:block;width:100%;height:64vh;min-height:420px;border:0}
.mapbox p{margin:0;padding:.5em 1em;display:flex;justify-content:space-between;align-items:center}
.mapbox .open{font-weight:600}
#search-form{display:flex;gap:.4em}#search-form input{flex:1;padding:.35em .5em;font:inherit;border:1px solid #bbb;border-radius:3px}
#search-form button,.signin button{background:#8b1a1a;color:#fff;border:0;border-radius:3px;padding:.35em 1em;font:inherit;cursor:pointer}
#search-results{list-style:none;margin:.5em 0 0;padding:0;max-height:16em;overflow:auto}
#search-results li{padding:.35em 0;border-bottom:1px solid #eee}
#search-results button{display:block;background:none;border:0;padding:0;color:#8b1a1a;font:inherit;font-weight:600;
 cursor:pointer;text-align:left}
#search-results .layer{color:#777;font-size:.85em}#search-results a{margin-left:.8em;font-size:.85em}
.big{font-size:1.35em;font-weight:600}
.panels{display:grid;grid-template-columns:repeat(auto-fill,minmax(15em,1fr));gap:1em;margin-bottom:1em}
.panels article{margin:0}.figures{display:grid;grid-template-columns:auto auto;gap:.2em .8em;margin:0 0 .5em}
.figures dt{color:#555}.figures dd{margin:0;text-align:right;font-weight:600;font-variant-numeric:tabular-nums}
.panel ul,.reports ul{margin:.3em 0 0;padding-left:1.1em}.reports li{margin:.25em 0}
.scroll{max-height:24em;overflow:auto}#changes td:first-child{width:6.5em}#changes th,#changes td.op{white-space:nowrap}
footer.machine ul{columns:3;margin:0;padding-left:1.1em}
{% endblock %}
{% block main %}
<div class="layout">
<section class="card mapbox" aria-label="{{ t.map }}">
<iframe id="portal-map" src="{{ map_href }}" title="{{ t.map }}"></iframe>
<p><a class="open" id="open-map" href="{{ map_href }}">{{ t.open_map }} ›</a><span class="muted" id="map-note"></span></p>
</section>
<section id="reports" class="reports main-column">
<h2>{{ t.reports }}</h2>
<div class="panels">
{% for p in panels %}<article class="panel" data-panel="{{ p.id }}"{% if p.has_figures and not p.locked %} data-src="{{ p.src }}"{% endif %}>
<h3>{{ p.title }}</h3>
{% if p.has_figures %}<dl class="figures">{% if p.locked %}<dt class="muted"><a href="{{ root }}/signin?lang={{ lang }}&amp;next=/">{{ t.sign_in_to_see }}</a></dt><dd></dd>{% else %}<dt class="muted">{{ t.loading }}</dt><dd></dd>{% endif %}</dl>{% endif %}
{% if p.links %}<ul>{% for l in p.links %}<li><a href="{{ l.href }}">{{ l.title }}</a>{% if l.note %} <span class="note">{{ l.note }}</span>{% endif %}</li>{% endfor %}</ul>{% endif %}
</article>
{% endfor %}
<article class="panel" data-panel="processes"><h3>{{ t.analyses }}</h3>
<ul>{% for a in processes %}<li><a href="{{ a.href }}">{{ a.title }}</a></li>{% endfor %}</ul></article>
</div>
</section>
<div class="side">
<section class="card" id="search">
<h2>{{ t.search }}</h2>
<form id="search-form" action="{{ root }}/search" method="get" role="search">
<input id="search-q" name="q" type="search" placeholder="{{ t.search_hint }}" aria-label="{{ t.search_hint }}" required maxlength="100">
<input type="hidden" name="lang" value="{{ lang }}"><button type="submit">{{ t.search }}</button></form>
<ol id="search-results" aria-live="polite"></ol>
</section>
<section class="card" id="glance">
<h2>{{ t.glance }}</h2>
<table><tr><th>{{ t.layer }}</th><th class="num">{{ t.features }}</th></tr>
{% for l in glance.layers %}<tr data-layer="{{ l.name }}"><td><a href="{{ root }}/collections/{{ l.name }}/items?f=html">{{ l.title_en if lang == "en" else l.title_zh }}</a></td>
<td class="num big">{{ "{:,}".format(l.count) }}</td></tr>{% endfor %}
</table>
</section>
<section class="card" id="changes">
<h2>{{ t.changes }}</h2>
{% if changes %}<table><tr><th>{{ t.when }}</th><th>{{ t.what }}</th><th>{{ t.op }}</th>{% if personal %}<th>{{ t.by }}</th>{% endif %}</tr>
{% for c in changes %}<tr><td class="muted">{{ c.when }}</td>
<td>{% if c.versioned and c.in_use %}<a href="{{ root }}/collections/{{ c.layer }}/items/{{ c.uuid }}?f=html">{{ c.name or c.title }}</a>{% else %}{{ c.name or "" }}{% endif %}
<br><span class="muted">{{ c.title }}</span></td><td class="op">{{ c.op_text }}</td>{% if personal %}<td>{{ c.author }}</td>{% endif %}</tr>
{% endfor %}</table>{% else %}<p class="muted">{{ t.no_changes }}</p>{% endif %}
</section>
</div>
</div>
<section class="card" id="townships">
<h2>{{ t.by_township }}</h2>
<div class="scroll"><table><tr><th>{{ t.code }}</th><th>{{ t.township }}</th>{% for l in glance.layers %}<th class="num">{{ layer_titles[l.name] }}</th>{% endfor %}<th class="num">{{ t.total }}</th></tr>
{% for w in glance.townships %}<tr data-township="{{ w.code }}"><td>{{ w.code }}</td><td>{{ w.name or t.unregistered }}</td>
{% for l in glance.layers %}<td class="num">{{ "{:,}".format(w.counts.get(l.name, 0)) }}</td>{% endfor %}<td class="num">{{ "{:,}".format(w.total) }}</td></tr>
{% endfor %}</table></div>
</section>
<footer class="card machine" id="machine">
<h2>{{ t.machine }}</h2>
<ul>{% for href, title in machine %}<li><a href="{{ href }}">{{ title }}</a></li>{% endfor %}</ul>
</footer>
{% endblock %}
{% block script %}
<script type="application/json" id="portal-config">{{ config|tojson }}</script>
<script src="{{ root }}/static/portal.js"></script>
{% endblock %}
"""

SIGNIN = """{% extends "portal_base.html" %}
{% block title %}{{ t.sign_in }} · {{ site }}{% endblock %}
{% block style %}
section.signin{max-width:26em;margin:3em auto}.signin label{display:block;margin:.7em 0 .2em;color:#444}
.signin input[type=text],.signin input[type=password]{width:100%;padding:.45em .5em;font:inherit;border:1px solid #bbb;border-radius:3px}
.signin button{margin-top:1em;width:100%;background:#8b1a1a;color:#fff;border:0;border-radius:3px;padding:.55em;font:inherit;cursor:pointer}
{% endblock %}
{% block main %}
<section class="card signin">
<h2>{{ t.signin_title }}</h2>
{% if message %}<p class="error" id="message" role="alert">{{ message }}</p>{% endif %}
{% if already %}<p id="already">{{ already }}</p>{% endif %}
<form method="post" action="{{ root }}/signin" id="signin-form">
<input type="hidden" name="csrf_token" value="{{ csrf_token() if csrf_token else '' }}">
<input type="hidden" name="next" value="{{ next_path }}"><input type="hidden" name="lang" value="{{ lang }}">
<label for="name">{{ t.name }}</label><input type="text" id="name" name="name" value="{{ name }}" autocomplete="username" maxlength="100">
<label for="password">{{ t.password }}</label><input type="password" id="password" name="password" autocomplete="current-password" required maxlength="1024">
<button type="submit">{{ t.sign_in }}</button>
</form>
<p class="muted">{{ t.key_hint }}</p>
<p><a href="{{ root }}/?lang={{ lang }}">‹ {{ t.back }}</a></p>
</section>
{% endblock %}
"""

SEARCH = """{% extends "portal_base.html" %}
{% block title %}{{ t.search_results }} · {{ site }}{% endblock %}
{% block main %}
<section class="card">
<h2>{{ t.search_results }}: {{ q }}</h2>
{% if results %}<table><tr><th>{{ t.what }}</th><th>{{ t.layer }}</th><th>{{ t.code }}</th></tr>
{% for r in results %}<tr><td><a href="{{ r.href }}">{{ r.name }}</a></td><td>{{ r.title }}</td><td>{{ r.adcode }}</td></tr>{% endfor %}
</table>{% else %}<p class="muted">{{ t.search_none }}</p>{% endif %}
<p><a href="{{ root }}/?lang={{ lang }}">‹ {{ t.back }}</a></p>
</section>
{% endblock %}
"""

PAGES = {"portal_base.html": BASE, "portal.html": PORTAL, "signin.html": SIGNIN, "search.html": SEARCH}
