# ruff: noqa: E501  (the page template below keeps its HTML lines whole)
"""The pilot's report as one HTML page: the numbers, charts (Chart.js, copied next to the
page, so it opens offline) and the audit completeness line. Rendered with Jinja2 (escaped)."""

from __future__ import annotations

import json
from typing import Any

from jinja2 import Environment, select_autoescape

from shipshape_local.cost import by_path

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Shipshape pilot: {{ o.orders }} orders, seed {{ o.seed }}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:#f4f6fa;color:#152033}
header{background:#111a2e;color:#fff;padding:18px 32px}
header h1{margin:0;font-size:20px} header p{margin:4px 0 0;color:#b8c2d6}
main{max-width:1180px;margin:0 auto;padding:20px 32px 48px}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:12px;margin-bottom:18px}
.card{background:#fff;border-radius:10px;padding:14px 16px;box-shadow:0 1px 2px #0001}
.card b{display:block;font-size:24px} .card span{color:#5a6780;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(340px,1fr));gap:14px}
section{background:#fff;border-radius:10px;padding:16px 18px;box-shadow:0 1px 2px #0001}
h2{font-size:15px;margin:0 0 10px} table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e6e9f0} th{color:#5a6780;font-weight:600}
.ok{color:#11783b;font-weight:600} .bad{color:#b42318;font-weight:600} canvas{max-height:260px}
.full{grid-column:1/-1}
</style></head><body>
<header><h1>Shipshape pilot report</h1>
<p>{{ o.orders }} orders for {{ o.clients|join(", ") }} · {{ o.days }} simulated days from {{ o.start[:10] }} ·
fault profile “{{ o.faults }}” · seed {{ o.seed }} · {{ r.wall_seconds }} s wall</p></header>
<main>
<div class="cards">
  <div class="card"><span>Orders</span><b>{{ total }}</b></div>
  <div class="card"><span>Shipped</span><b>{{ r.orders_by_final_state.get("SHIPPED", 0) }}</b></div>
  <div class="card"><span>Exception rate</span><b>{{ pct(t.exception_rate) }}</b></div>
  <div class="card"><span>SLA compliance</span><b>{{ pct(t.sla.compliance) }}</b></div>
  <div class="card"><span>Time to resolution, avg</span><b>{{ t.time_to_resolution_hours.average if t.time_to_resolution_hours.average is not none else "—" }} h</b></div>
  <div class="card"><span>Escalations</span><b>{{ t.escalations_per_owner.values()|sum }}</b></div>
</div>
<p class="{{ 'bad' if r.unaccounted else 'ok' }}">
{% if r.unaccounted %}Unaccounted for: {{ r.unaccounted|join(", ") }}
{% else %}Nothing lost: every order is shipped, partially completed, cancelled, or in an open exception with an owner ({{ r.open_exceptions|length }} open).{% endif %}</p>
<p class="{{ 'bad' if r.audit.incomplete else 'ok' }}">
{% if r.audit.incomplete %}Audit: {{ r.audit.incomplete|length }} order(s) lack a complete trail: {{ r.audit.incomplete|join(", ") }}
{% else %}Audit: all {{ total }} orders have a complete trail (every status with its event, owner, timestamp and QA results).{% endif %}</p>
{% set integrity = r.integrity %}
<p class="{{ 'bad' if integrity.shipped_twice or integrity.stock.problems else 'ok' }}">
{% if integrity.shipped_twice or integrity.stock.problems %}Integrity: shipped twice: {{ integrity.shipped_twice|join(", ") or "none" }}; stock: {{ integrity.stock.problems|join("; ") or "balanced" }}
{% else %}Integrity: no order shipped twice; every unit of {{ integrity.stock.skus }} SKUs accounted for (supplied = available + reserved + shipped; {{ integrity.stock.units_shipped }} shipped).{% endif %}
{% if integrity.infrastructure_faults %} AWS faults injected: {% for k, v in integrity.infrastructure_faults.items() %}{{ k }} {{ v }}{{ ", " if not loop.last }}{% endfor %}.{% endif %}</p>
<div class="grid">
  <section><h2>Orders by final state</h2><canvas id="states"></canvas></section>
  <section><h2>Exception rate by type (per order received)</h2><canvas id="exceptions"></canvas></section>
  <section><h2>Fulfillment time, paid to shipped (hours)</h2><canvas id="fulfillment"></canvas></section>
  <section><h2>SLA compliance (exceptions)</h2><canvas id="sla"></canvas></section>
  <section><h2>Escalations per owner</h2><canvas id="escalations"></canvas></section>
  <section class="full"><h2>Per client</h2><table><tr><th>client</th><th>received</th><th>shipped</th><th>fulfillment median / p90 (h)</th><th>resolution avg / p90 (h)</th><th>SLA</th></tr>
  {% for c, m in r.metrics.items() %}<tr><td>{{ c }}</td><td>{{ m.orders.received }}</td><td>{{ m.orders.shipped }}</td>
  <td>{{ na(m.fulfillment_hours.median) }} / {{ na(m.fulfillment_hours.p90) }}</td>
  <td>{{ na(m.time_to_resolution_hours.average) }} / {{ na(m.time_to_resolution_hours.p90) }}</td><td>{{ pct(m.sla.compliance) }}</td></tr>{% endfor %}
  </table></section>
  <section class="full"><h2>Traffic and faults</h2><table><tr><th>what</th><th>count</th></tr>
  {% for k, v in r.traffic.items() %}<tr><td>{{ k }}</td><td>{{ v }}</td></tr>{% endfor %}
  {% for k, v in r.faults_planned.items() %}<tr><td>fault planned: {{ k }}</td><td>{{ v }}</td></tr>{% endfor %}
  </table></section>
  {% if r.load and r.load.aws_calls %}<section class="full"><h2>What the run asked of AWS</h2><table><tr><th>call</th><th>count</th></tr>
  {% for k, v in r.load.aws_calls.items() %}<tr><td>{{ k }}</td><td>{{ v }}</td></tr>{% endfor %}
  {% for k, v in r.load.lambda_invocations.items() %}<tr><td>invocations of {{ k }}</td><td>{{ v }}</td></tr>{% endfor %}
  </table></section>{% endif %}
  {% if costs %}<section class="full"><h2>At AWS list prices, per 1,000 orders (request-driven items; bench/cost.py has the breakdown)</h2><table><tr><th>path</th><th>orders</th><th>state transitions per order</th><th>$ per 1,000 orders</th><th>biggest item</th></tr>
  {% for c in costs %}<tr><td>{{ c.path }}</td><td>{{ c.orders }}</td><td>{{ "%.1f"|format(c.transitions_per_order) }}</td><td>${{ "%.3f"|format(c.dollars_per_thousand) }}</td><td>{{ c.biggest }}</td></tr>{% endfor %}
  </table></section>{% endif %}
</div></main>
<script id="data" type="application/json">{{ data }}</script>
<script src="chart.umd.min.js"></script>
<script>
const r = JSON.parse(document.getElementById("data").textContent), t = r.totals;
const bar = (id, labels, data, label, color) => new Chart(document.getElementById(id), {type: "bar",
  data: {labels, datasets: [{label, data, backgroundColor: color}]},
  options: {plugins: {legend: {display: false}}, scales: {y: {beginAtZero: true}}}});
const states = Object.entries(r.orders_by_final_state);
new Chart(document.getElementById("states"), {type: "doughnut", data: {labels: states.map(s => s[0]),
  datasets: [{data: states.map(s => s[1]), backgroundColor: ["#1f7a4d","#2f6fde","#d97706","#b42318","#6b7280","#7c3aed"]}]}});
const ex = Object.entries(t.exceptions_by_type);
bar("exceptions", ex.map(e => e[0]), ex.map(e => +(e[1].rate * 100).toFixed(2)), "% of orders", "#d97706");
const h = t.fulfillment_hours.histogram;
bar("fulfillment", h.map(x => x.label), h.map(x => x.count), "orders", "#2f6fde");
new Chart(document.getElementById("sla"), {type: "doughnut", data: {labels: ["met", "missed"],
  datasets: [{data: [t.sla.met, t.sla.missed], backgroundColor: ["#1f7a4d", "#b42318"]}]}});
const es = Object.entries(t.escalations_per_owner);
bar("escalations", es.map(e => e[0]), es.map(e => e[1]), "escalations", "#475569");
</script></body></html>
"""


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


def render_html(report: dict[str, Any]) -> str:
    env = Environment(autoescape=select_autoescape(default=True), trim_blocks=True)
    template = env.from_string(_PAGE)
    # The page's data leaves the per-path counts out (bench/cost.py reads them from the JSON).
    slim = {
        **report,
        "load": {k: v for k, v in report.get("load", {}).items() if k != "cost_inputs"},
    }
    data = json.dumps(slim, sort_keys=True).replace("</", "<\\/")
    inputs = report.get("load", {}).get("cost_inputs")
    return template.render(
        r=report, o=report["options"], t=report["totals"],
        total=sum(report["orders_by_final_state"].values()), pct=_pct,
        na=lambda v: "—" if v is None else v,
        costs=by_path(inputs) if inputs else [],
        data=_Markup(data),
    )  # fmt: skip


class _Markup(str):
    """JSON already made safe for a script element (no closing tag can occur in it)."""

    def __html__(self) -> str:
        return str(self)
