"""Benchmark: what Shipshape costs on AWS per 1,000 orders, at list prices, from the counts a
pilot run took (report.json, ``load.cost_inputs``): state transitions per execution from each
execution's history, Lambda invocations with their measured durations, DynamoDB request units
computed from the items each request read and wrote, API requests, log bytes, traces.

Figures: the happy path (shipped, no exception), the exception path, and the pilot's mix, each
with its breakdown so the biggest item is obvious; and what costs the same every month
whatever the volume (the schedules, metrics, alarms, secrets, keys), spread over a stated
monthly volume. Prices and their sources: ``shipshape_local.cost.PRICES``.

Run ``.venv/bin/python bench/cost.py [report.json] [--monthly-orders N]``; without a path it
reads pilot-report/bench/report.json, which bench/pilot.py writes (``make bench``). Any
pilot's report works: ``shipshape pilot --orders 100 --out /tmp/p`` then pass
/tmp/p/report.json.

What is approximated, and why, is in ``ASSUMPTIONS`` (printed with the tables).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Figure, ratio_figure, show
from rich.console import Console
from rich.table import Table

from shipshape_local.cost import (
    ITEMS,
    PRICES,
    FunctionUsage,
    LambdaConfig,
    Usage,
    biggest_first,
    per_thousand,
    price,
    runs_per_month,
)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REPORT = ROOT / "pilot-report" / "bench" / "report.json"
SECTION = "Cost per 1,000 orders"
TRANSITIONS_TARGET = 16
DOLLARS_TARGET = 0.50  # per 1,000 happy-path orders, every request-driven item
MONTHLY_ORDERS = 30_000  # the volume fixed monthly items are spread over (1,000 a day)

ASSUMPTIONS = (
    "Prices: us-east-1 list prices without free tiers (shipshape_local.cost.PRICES, 2025 price "
    "list; DynamoDB on-demand since the 1 November 2024 cut); offline machine: not re-checked.",
    "Lambda duration is the handler's wall time in the embedded runtime, billed per "
    "invocation rounded up to 1 ms at the template's memory size. It includes the emulator's "
    "own time answering the AWS calls and none of AWS's network latency; no cold starts (INIT "
    "is billed since August 2025: about 0.3 to 0.5 s at 512 MB per new environment). Under "
    "make bench the pilot runs sampled by py-spy, which slows it by about a third.",
    "DynamoDB units are computed from the items each request names, before and after: item "
    "sizes by DynamoDB's rules (numbers and documents approximated), the larger of before and "
    "after for a write, 2x for transactions, a standard write per index entry put or deleted "
    "(two when its key changes), Query pages by the total size read before filtering. A "
    "transaction's ConditionCheck is charged as a transactional read; a failed condition as a "
    "write of the item as it stood (2x in a cancelled transaction).",
    "CloudWatch Logs: the handlers' lines as written (structured logs and EMF), Lambda's "
    "START/END/REPORT lines, one access log line per API request in the template's format, the "
    "state machine's ERROR-level events without execution data; 26 bytes per event on top.",
    "X-Ray: every API request and scheduled run starts a trace and every execution is one: "
    "the default sampling rule records all of them below one request a second, 5% of the rest "
    "above that, so this is the most it can be.",
    "Scheduled runs cost the same every month whatever the volume: counted per run in the "
    "pilot (its own runs and a few idle ones), times the runs a month; EventBridge Scheduler's "
    "14 million free invocations a month make its own line $0 in practice.",
    "Not counted: data transfer out, DynamoDB storage and PITR (per GB-month held), log "
    "storage, KMS requests (SNS and DynamoDB cache data keys), SNS deliveries (no "
    "subscriptions in the template), CloudWatch Logs queries, Cognito users.",
)


@dataclass
class Priced:
    """A set of orders and what they cost, by item."""

    usage: Usage
    dollars: dict[str, float]

    @property
    def orders(self) -> int:
        return self.usage.orders

    @property
    def per_thousand(self) -> dict[str, float]:
        return per_thousand(self.dollars, self.orders)

    @property
    def total_per_thousand(self) -> float:
        return sum(self.per_thousand.values())


@dataclass
class CostReport:
    happy: Priced
    exception: Priced
    mix: Priced
    paths: dict[str, Priced]
    fixed_monthly: dict[str, float]
    schedules: dict[str, tuple[float, Usage]]  # function: (runs a month, usage of one run)
    monthly_orders: int

    @property
    def fixed_per_thousand(self) -> float:
        return sum(self.fixed_monthly.values()) / self.monthly_orders * 1000


def lambda_configs(inputs: dict[str, Any]) -> dict[str, LambdaConfig]:
    return {
        name: LambdaConfig(int(spec["memory_mb"]), str(spec["architecture"]))
        for name, spec in inputs["stack"]["lambda"].items()
    }


def compute(report: dict[str, Any], monthly_orders: int = MONTHLY_ORDERS) -> CostReport:
    inputs = report["load"]["cost_inputs"]
    lambdas = lambda_configs(inputs)

    def priced(usage: Usage) -> Priced:
        return Priced(usage, price(usage, lambdas))

    paths = {name: Usage.from_dict(data) for name, data in inputs["paths"].items()}
    # A schedule's runs (the pilot's and the idle ones) are the schedule's, not the orders':
    # on AWS they run every few minutes whatever the volume.
    runs: dict[str, Usage] = {}
    mix = Usage()
    for path in paths.values():
        mix.merge(path)
    for subject, data in inputs["unattributed"].items():
        usage = Usage.from_dict(data)
        kind, _, function = subject.partition(":")
        if kind == "schedule":
            runs.setdefault(function, Usage()).merge(usage)
        else:
            mix.merge(usage)
    for function, data in inputs.get("idle_runs", {}).items():
        runs.setdefault(function, Usage()).merge(Usage.from_dict(data))
    schedules: dict[str, tuple[float, Usage]] = {}
    fixed: dict[str, float] = {}
    for function, expression in inputs["stack"]["schedules"].items():
        usage = runs.get(function, Usage())
        count = usage.functions.get(function)
        per_run = sum(price(usage, lambdas).values()) / count.invocations if count else 0.0
        month = runs_per_month(expression)
        schedules[function] = (month, usage)
        short = function.removeprefix("shipshape-").removesuffix("Function").lower()
        fixed[f"scheduled {short} runs ({expression})"] = per_run * month
    stack = inputs["stack"]
    fixed["EventBridge Scheduler invocations"] = PRICES["scheduler_invocation"].of(
        sum(month for month, _ in schedules.values())
    )
    # Each metric (name and dimension values) is billed for the hours it is emitted in: every
    # hour at volume, so the upper bound (the pilot's own rate is far lower, and printed).
    metrics = inputs["custom_metrics"]
    fixed[f"CloudWatch custom metrics (EMF, {metrics['distinct']} distinct)"] = PRICES[
        "custom_metric_month"
    ].of(metrics["distinct"])
    fixed["CloudWatch alarms"] = PRICES["alarm_month"].of(stack["alarms"])
    fixed["CloudWatch dashboards"] = PRICES["dashboard_month"].of(stack["dashboards"])
    fixed["Secrets Manager secrets"] = PRICES["secret_month"].of(stack["secrets"])
    fixed["KMS customer managed keys"] = PRICES["kms_key_month"].of(stack["kms_keys"])
    return CostReport(
        happy=priced(paths.get("happy", Usage())),
        exception=priced(paths.get("exception", Usage())),
        mix=priced(mix),
        paths={name: priced(usage) for name, usage in paths.items()},
        fixed_monthly=fixed,
        schedules=schedules,
        monthly_orders=monthly_orders,
    )


def transitions_per_order(usage: Usage) -> float:
    return usage.transitions / usage.orders if usage.orders else 0.0


def figures(
    console: Console, report_path: Path = DEFAULT_REPORT, monthly_orders: int = MONTHLY_ORDERS
) -> list[Figure]:
    """The cost figures of a pilot's report (see the module docstring)."""
    if not report_path.exists():
        console.print(
            f"[yellow]{report_path} is missing: run bench/pilot.py (make bench) or "
            "`shipshape pilot --out DIR` and pass DIR/report.json[/yellow]"
        )
        return []
    report = json.loads(report_path.read_text())
    if "cost_inputs" not in report.get("load", {}):
        console.print(f"[yellow]{report_path} has no cost inputs: rerun the pilot[/yellow]")
        return []
    costs = compute(report, monthly_orders)
    happy, exception, mix = costs.happy, costs.exception, costs.mix
    worst = max(happy.usage.transitions_per_execution, default=0)
    out = [
        ratio_figure(
            SECTION,
            f"state transitions per happy-path order (max {worst})",
            transitions_per_order(happy.usage),
            TRANSITIONS_TARGET,
            "",
            1,
        ),
        ratio_figure(
            SECTION,
            f"$ per 1,000 happy-path orders, all request-driven items ({happy.orders} orders)",
            happy.total_per_thousand,
            DOLLARS_TARGET,
            "$",
            1,
        ),
        Figure(
            SECTION,
            f"$ per 1,000 exception-path orders ({exception.orders} orders, "
            f"{transitions_per_order(exception.usage):.1f} transitions each)",
            f"${exception.total_per_thousand:.3f}",
        ),
        Figure(
            SECTION,
            f"$ per 1,000 orders, the pilot's mix ({_mix_label(costs)})",
            f"${mix.total_per_thousand:.3f}",
        ),
        Figure(
            SECTION,
            f"fixed monthly items (schedules, metrics, alarms, secrets, keys), spread over "
            f"{monthly_orders:,} orders a month (${sum(costs.fixed_monthly.values()):.2f}/month)",
            f"${costs.fixed_per_thousand:.3f}",
        ),
        Figure(
            SECTION,
            "$ per 1,000 happy-path orders with the fixed monthly items",
            f"${happy.total_per_thousand + costs.fixed_per_thousand:.3f}",
        ),
    ]
    total = happy.total_per_thousand
    for item, value, share in biggest_first(happy.per_thousand):
        out.append(
            Figure(SECTION, f"happy path: {item}", f"${value:.4f}", f"{share:.0%} of ${total:.3f}")
        )
    return out


def mix_per_month(costs: CostReport, simulated_hours: float) -> float:
    """The pilot's volume, in orders a month."""
    return costs.mix.orders / simulated_hours * 730 if simulated_hours else 0.0


def _mix_label(costs: CostReport) -> str:
    counts = ", ".join(f"{p.orders} {name}" for name, p in sorted(costs.paths.items()))
    return f"{costs.mix.orders} orders: {counts}"


def counts_table(costs: CostReport) -> Table:
    """What each path's figure came from: counts per order."""
    table = Table(title="The counts per order, by path (from the pilot)")
    table.add_column("per order")
    names = sorted(costs.paths, key=lambda n: -costs.paths[n].orders)
    for name in names:
        table.add_column(f"{name} ({costs.paths[name].orders})", justify="right")
    table.add_column(f"mix ({costs.mix.orders})", justify="right")
    columns = [costs.paths[n].usage for n in names] + [costs.mix.usage]

    def row(label: str, value: Any, fmt: str = "{:.1f}") -> None:
        table.add_row(
            label, *(fmt.format(value(u) / u.orders) if u.orders else "-" for u in columns)
        )

    row("state transitions", lambda u: u.transitions, "{:.2f}")
    row("  of which retry attempts", lambda u: u.retries, "{:.2f}")
    functions = sorted({f for u in columns for f in u.functions})
    for function in functions:
        short = function.removeprefix("shipshape-")
        row(f"{short} invocations", lambda u, f=function: _fn(u, f).invocations, "{:.2f}")
        row("  billed ms", lambda u, f=function: _fn(u, f).billed_ms)
    row("DynamoDB write units (table)", lambda u: u.write_units)
    row("DynamoDB write units (indexes)", lambda u: u.index_write_units)
    row("DynamoDB read units", lambda u: u.read_units)
    for operation in sorted({o for u in columns for o in u.dynamodb_requests}):
        row(f"  {operation} requests", lambda u, o=operation: u.dynamodb_requests[o], "{:.2f}")
        for kind in ("write", "index write", "read"):
            key = f"{operation} {kind}"
            if any(u.dynamodb_units.get(key) for u in columns):
                row(f"    {kind} units", lambda u, k=key: u.dynamodb_units.get(k, 0.0))
    row("API requests", lambda u: sum(u.api_requests.values()), "{:.2f}")
    for route in sorted({r for u in columns for r in u.api_requests}):
        row(f"  {route}", lambda u, r=route: u.api_requests[r], "{:.2f}")
    row("log KB ingested", lambda u: u.log_ingested_bytes() / 1024)
    row("EMF metric documents written", lambda u: u.emf_documents)
    row("X-Ray traces", lambda u: u.traces, "{:.2f}")
    row("SNS publishes", lambda u: u.calls["sns.Publish"], "{:.2f}")
    return table


def _fn(usage: Usage, function: str) -> FunctionUsage:
    return usage.functions.get(function, FunctionUsage())


def breakdown_table(costs: CostReport) -> Table:
    table = Table(title="$ per 1,000 orders by item (biggest first for the happy path)")
    table.add_column("item")
    for name in ("happy", "exception", "mix"):
        table.add_column(name, justify="right")
    table.add_column("happy share", justify="right")
    rows = biggest_first(costs.happy.per_thousand)
    for item, value, share in rows:
        table.add_row(item, f"${value:.4f}", f"${costs.exception.per_thousand.get(item, 0):.4f}",
                      f"${costs.mix.per_thousand.get(item, 0):.4f}", f"{share:.0%}")  # fmt: skip
    table.add_row("total", f"${costs.happy.total_per_thousand:.3f}",
                  f"${costs.exception.total_per_thousand:.3f}",
                  f"${costs.mix.total_per_thousand:.3f}", "")  # fmt: skip
    return table


def fixed_table(costs: CostReport) -> Table:
    table = Table(title=f"Fixed each month, whatever the volume ({costs.monthly_orders:,} orders "
                        "a month to spread it)")  # fmt: skip
    table.add_column("item")
    table.add_column("$ a month", justify="right")
    table.add_column("$ per 1,000 orders", justify="right")
    for item, value in sorted(costs.fixed_monthly.items(), key=lambda kv: -kv[1]):
        table.add_row(item, f"${value:.2f}", f"${value / costs.monthly_orders * 1000:.4f}")
    total = sum(costs.fixed_monthly.values())
    table.add_row("total", f"${total:.2f}", f"${costs.fixed_per_thousand:.4f}")
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", nargs="?", type=Path, default=DEFAULT_REPORT)
    parser.add_argument("--monthly-orders", type=int, default=MONTHLY_ORDERS)
    args = parser.parse_args(argv)
    console = Console()
    found = figures(console, args.report, args.monthly_orders)
    if not found:
        return 1
    show(f"Shipshape on AWS: cost per 1,000 orders ({args.report})", found, console)
    costs = compute(json.loads(args.report.read_text()), args.monthly_orders)
    console.print(breakdown_table(costs))
    console.print(counts_table(costs))
    console.print(fixed_table(costs))
    inputs = json.loads(args.report.read_text())["load"]["cost_inputs"]
    metrics, hours = inputs["custom_metrics"], inputs["simulated_hours"]
    if hours:
        active = metrics["metric_hours"] / hours
        console.print(
            f"Custom metrics: {metrics['distinct']} distinct in the pilot; on average {active:.1f} "
            f"emitted in a given hour at the pilot's volume ({mix_per_month(costs, hours):,.0f} "
            f"orders a month): ${PRICES['custom_metric_month'].of(active):.2f} a month at that "
            "rate; the table counts every metric in every hour."
        )
    console.print("Items: " + ", ".join(ITEMS))
    for line in ASSUMPTIONS:
        console.print(f"- {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
