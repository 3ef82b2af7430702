"""The HTML pages of jobs: one job with its progress (refreshing itself while it runs), and a list of jobs.

In Chinese (``lang=zh``, the default) or English (``lang=en``), with a link to the other language; no script
(the page reloads itself every two seconds while the job waits or runs), so it works offline and everywhere.
"""

JOB = """{% extends "base.html" %}
{% block title %}{{ title }} · {{ job.status_label }} · {{ site }}{% endblock %}
{% block main %}
{% if refresh %}<meta http-equiv="refresh" content="2">{% endif %}
<style>
progress{width:24em;height:1.2em}.status-failed{color:#b00020}.status-successful{color:#1b5e20}
.status-dismissed{color:#777}dl.job{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}
dl.job dt{color:#555}dl.job dd{margin:0}
</style>
<p style="float:right"><a href="{{ other_href }}" hreflang="{{ 'en' if lang == 'zh' else 'zh' }}">{{ other_label }}</a></p>
<h1>{{ title }}</h1>
<p class="status-{{ job.status }}"><strong>{{ job.status_label }}</strong>{% if message and job.status != "successful" %} · {{ message }}{% endif %}</p>
<p><progress max="100" value="{{ job.progress }}">{{ job.progress }} %</progress> {{ job.progress }} %
{% if step and job.status == "running" %}· {{ "当前步骤" if lang == "zh" else "step" }}: <code>{{ step }}</code>{% endif %}</p>
{% if refresh %}<p class="muted">{{ "本页每 2 秒自动刷新。" if lang == "zh" else "This page refreshes itself every 2 seconds." }}</p>{% endif %}
<dl class="job">
<dt>{{ "任务编号" if lang == "zh" else "Job" }}</dt><dd><code>{{ job.id }}</code></dd>
<dt>{{ "分析" if lang == "zh" else "Analysis" }}</dt><dd><code>{{ job.process }}</code></dd>
<dt>{{ "提交时间" if lang == "zh" else "Submitted" }}</dt><dd>{{ job.created }} ({{ tz }})</dd>
{% if started %}<dt>{{ "开始时间" if lang == "zh" else "Started" }}</dt><dd>{{ started }} ({{ tz }})</dd>{% endif %}
{% if job.finished %}<dt>{{ "结束时间" if lang == "zh" else "Ended" }}</dt><dd>{{ job.finished }} ({{ tz }})</dd>{% endif %}
<dt>{{ "参数" if lang == "zh" else "Inputs" }}</dt><dd><code>{{ doc.inputs|tojson }}</code></dd>
</dl>
{% if summary %}<h2>{{ "主要结果" if lang == "zh" else "Summary" }}</h2>
<table>{% for s in summary %}<tr><th>{{ s.label_zh if lang == "zh" else s.label_en }}</th><td>{{ s.value }}</td></tr>{% endfor %}</table>{% endif %}
{% if outputs or report_href %}<h2>{{ "结果" if lang == "zh" else "Results" }}</h2><ul>
{% if report_href %}<li><a href="{{ report_href }}">{{ "分析报告" if lang == "zh" else "Report" }}</a></li>{% endif %}
{% for name, n, href in outputs %}<li><a href="{{ href }}">{{ name }}</a> (GeoJSON, {{ n }} {{ "条" if lang == "zh" else "features" }})</li>{% endfor %}
</ul>{% endif %}
{% endblock %}
"""

JOBS = """{% extends "base.html" %}
{% block main %}
<h1>{{ "分析任务" if lang == "zh" else "Analysis jobs" }}</h1>
<table><tr><th>{{ "任务" if lang == "zh" else "Job" }}</th><th>{{ "分析" if lang == "zh" else "Analysis" }}</th>
<th>{{ "状态" if lang == "zh" else "Status" }}</th><th>{{ "进度" if lang == "zh" else "Progress" }}</th>
<th>{{ "提交时间" if lang == "zh" else "Submitted" }}</th></tr>
{% for r in rows %}<tr><td><a href="{{ r.href }}"><code>{{ r.id[:8] }}</code></a></td><td>{{ r.process }}</td>
<td>{{ r.status_label }}</td><td>{{ r.progress }} %</td><td>{{ r.created }}</td></tr>{% endfor %}
</table>
{% endblock %}
"""

JOB_PAGES = {"job.html": JOB, "jobs.html": JOBS}
