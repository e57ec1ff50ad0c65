"""The pilot's report: where every order ended, whether its trail is complete, what the
operating model achieved (each client's metrics from the ops API, and totals across them),
whether any unit of stock or any shipment was counted twice, and what the run asked of AWS
(the cost inputs ``bench/cost.py`` prices). Written as JSON and as one HTML page
(``page.py``), and summarized in the terminal."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from shipshape.audit import SHIPMENTS
from shipshape.models import SHIPPED_STATUSES, Order
from shipshape_local.cost import Usage
from shipshape_local.metering import ExecutionCount
from shipshape_local.pilot.actors import Actors, bearer
from shipshape_local.pilot.page import render_html
from shipshape_local.pilot.plan import FINAL, LEAD, PILOT_START
from shipshape_local.runtime import SEED


class Reporter:
    """Reads what happened, once the simulation is over: the stack's records and metrics, and
    what the actors and the runtime's meter saw."""

    def __init__(
        self,
        actors: Actors,
        load: dict[str, Any],
        metered: dict[str, Usage],
        executions: list[ExecutionCount],
        injected: dict[str, int],
    ) -> None:
        self.actors = actors
        self.options = actors.options
        self.orders = actors.orders
        self.by_id = actors.by_id
        self.counts = actors.counts
        self.received = actors.received
        self.deps = actors.deps
        self.api = actors.api
        self.rt = actors.rt
        self.clock = actors.clock
        self.scheduler = actors.scheduler
        self.load = load
        self.metered = metered  # what each order (or schedule) used, by subject
        self.executions = executions
        self.injected = injected

    def report(self, wall_seconds: float) -> dict[str, Any]:
        report = self._report(wall_seconds)
        report["load"]["cost_inputs"]["idle_runs"] = self._idle_runs(report)
        return report

    def _report(self, wall_seconds: float) -> dict[str, Any]:
        from shipshape.services.checklist import trail_problems

        deps = self.deps
        days = min(92, self.options.days + 8)
        metrics = {
            client: self.api.send(
                "GET", f"/metrics?client={client}&days={days}", bearer(LEAD), None
            )[1]
            for client in self.options.clients
        }
        states: Counter[str] = Counter()
        unaccounted: list[str] = []
        incomplete: dict[str, list[str]] = {}
        open_exceptions: dict[str, str] = {}
        shipped_twice: list[str] = []
        records: list[Order] = []
        for order in self.orders:
            record = deps.repo.get(order.order_id)
            if record is None:
                unaccounted.append(f"#{order.n}: never recorded")
                continue
            states[record.status.value] += 1
            if record.status.value in FINAL:
                pass
            elif record.status.value in ("EXCEPTION", "QUARANTINED") and record.owner:
                open_exceptions[record.order_id] = record.owner
            else:
                unaccounted.append(f"{record.order_id}: {record.status.value}")
            trail = deps.repo.audit_trail(record.order_id)
            problems = trail_problems(record, trail)
            if problems:
                incomplete[record.order_id] = problems
            if sum(1 for event in trail if event.action in SHIPMENTS) > 1:
                shipped_twice.append(record.order_id)
            records.append(record)
        return {
            "options": {
                "orders": self.options.orders, "clients": list(self.options.clients),
                "seed": self.options.seed, "days": self.options.days,
                "faults": self.options.faults, "start": PILOT_START.isoformat(),
            },
            "orders_by_final_state": dict(sorted(states.items())),
            "unaccounted": unaccounted,
            "open_exceptions": open_exceptions,
            "audit": {"complete": len(self.orders) - len(incomplete), "incomplete": incomplete},
            "traffic": {k: v for k, v in sorted(self.counts.items())
                        if not k.startswith(("wrong-", "light-"))},
            "faults_planned": dict(sorted(Counter(
                f for o in self.orders for f in o.faults).items())),
            "metrics": metrics,
            "integration_errors": [e.strip()[-600:] for e in self.rt.integration_errors],
            # Calls a function made that its role does not grant (see roles): none expected.
            "refused_by_roles": [" ".join(r) for r in self.rt.roles.refused],
            "integrity": {
                "shipped_twice": shipped_twice,
                "stock": self._stock_balance(records),
                "infrastructure_faults": self.injected,
            },
            "load": {**self.load, "cost_inputs": self._cost_inputs(records)},
            "wall_seconds": round(wall_seconds, 1),
        }  # fmt: skip

    def _cost_inputs(self, records: list[Order]) -> dict[str, Any]:
        """What the run asked of AWS, as AWS bills it, by the path each order took (happy,
        exception, cancelled, backordered, other) and for what belongs to no order (set-up,
        restocks, the schedules' runs): the counts bench/cost.py prices."""
        by_order: dict[int, Usage] = {}
        unattributed: dict[str, Usage] = {}
        for subject, usage in self.metered.items():
            n = self._planned(subject)
            if n is None:
                unattributed.setdefault(subject, Usage()).merge(usage)
            else:
                by_order.setdefault(n, Usage()).merge(usage)
        states: dict[int, list[str]] = {}
        for execution in self.executions:
            n = self._planned(f"order:{execution.order_id}")
            usage = (
                by_order.setdefault(n, Usage()) if n is not None
                else unattributed.setdefault("shared", Usage())
            )  # fmt: skip
            usage.executions += 1
            usage.transitions += execution.transitions
            usage.retries += execution.retries
            usage.transitions_per_execution[execution.transitions] += 1
            usage.state_machine_log_events += execution.log_events
            usage.state_machine_log_bytes += execution.log_bytes
            usage.traces += 1  # the execution's trace (tracing on); its steps join it
            states.setdefault(n if n is not None else -1, []).extend(execution.states)
        status = {record.order_id: record.status.value for record in records}
        paths: dict[str, Usage] = {}
        for order in self.orders:
            usage = by_order.get(order.n, Usage())
            usage.orders = 1
            path = _path(status.get(order.order_id), states.get(order.n, []))
            paths.setdefault(path, Usage()).merge(usage)
        meter = self.rt.meter
        return {
            "stack": self._stack_facts(),
            "paths": {path: usage.as_dict() for path, usage in sorted(paths.items())},
            "unattributed": {s: u.as_dict() for s, u in sorted(unattributed.items())},
            "custom_metrics": {
                "distinct": len(meter.metrics),
                "metric_hours": len(meter.metric_hours),
            },
            "simulated_hours": round((self.clock.now() - PILOT_START).total_seconds() / 3600, 2),
        }

    def _planned(self, subject: str) -> int | None:
        """The planned order a meter subject is about (None: no order's)."""
        kind, _, value = subject.partition(":")
        if kind == "planned":
            return int(value)
        if kind == "order" and value in self.by_id:
            return self.by_id[value].n
        return None

    def _stack_facts(self) -> dict[str, Any]:
        """What the template says that prices depend on: memory and architecture, tracing,
        schedules, the state machine's log level, fixed monthly items."""
        template = self.rt.template
        defaults = template.doc.get("Globals", {}).get("Function", {})
        functions: dict[str, Any] = {}
        schedules: dict[str, str] = {}
        for logical_id, resource in template.of_type("AWS::Serverless::Function").items():
            props = {**defaults, **resource["Properties"]}
            name = f"shipshape-{logical_id}"
            functions[name] = {
                "memory_mb": int(props.get("MemorySize", 128)),
                "architecture": (props.get("Architectures") or ["x86_64"])[0],
                "tracing": props.get("Tracing", "PassThrough"),
            }
            for event in props.get("Events", {}).values():
                if event.get("Type") in ("Schedule", "ScheduleV2"):
                    schedules[name] = str(event["Properties"]["ScheduleExpression"])
        machine = template.state_machines["FulfillmentStateMachine"]
        return {
            "lambda": functions,
            "schedules": schedules,
            "state_machine": {
                "type": machine.get("Type", "STANDARD"),
                "tracing": bool(machine.get("Tracing", {}).get("Enabled", False)),
                "log_level": machine.get("Logging", {}).get("Level", "OFF"),
            },
            "alarms": len(template.of_type("AWS::CloudWatch::Alarm")),
            "dashboards": len(template.of_type("AWS::CloudWatch::Dashboard")),
            "kms_keys": len(template.of_type("AWS::KMS::Key")),
            "secrets": len(self.rt.dev["secrets"]),
            "clients": len(self.options.clients),
        }

    def _idle_runs(self, report: dict[str, Any], runs: int = 3) -> dict[str, Any]:
        """Runs of the scheduled functions with nothing to do, as most of their runs are:
        what the schedules cost a month whatever the volume. The sweeper's only when no
        exception is open (it would act on one), else the pilot's own runs stand in."""
        out: dict[str, Any] = {}
        for logical_id in ("StarterFunction", "SweeperFunction"):
            if logical_id == "SweeperFunction" and report["open_exceptions"]:
                continue
            subject = f"idle:shipshape-{logical_id}"
            with self.rt.meter.serving(subject):
                for _ in range(runs):
                    self.scheduler.scheduled(logical_id)
            out[f"shipshape-{logical_id}"] = (
                self.rt.meter.snapshot().get(subject, Usage()).as_dict()
            )
        return out

    def _stock_balance(self, records: list[Order]) -> dict[str, Any]:
        """Every unit accounted for, per SKU: what was seeded and received equals what is
        available, reserved and shipped; what is reserved is what open orders hold. A unit
        sold twice (or reserved and lost) breaks one of the two."""
        import tomllib

        seeded: Counter[tuple[str, str]] = Counter()
        for entry in tomllib.loads(SEED.read_text())["sku"]:
            for lot in entry.get("stock", []):
                seeded[(entry["client_id"], entry["sku"])] += int(lot["quantity"])
        shipped: Counter[tuple[str, str]] = Counter()
        held: Counter[tuple[str, str]] = Counter()
        for record in records:
            bucket = shipped if record.status in SHIPPED_STATUSES else held
            if record.status.value == "CANCELLED":
                continue
            for allocation in record.reservation:
                bucket[(record.client_id, allocation.sku)] += allocation.quantity
        problems: list[str] = []
        skus = sorted(set(seeded) | set(self.received) | set(shipped) | set(held))
        for client, sku in skus:
            if client not in self.options.clients:
                continue
            lots = self.deps.inventory.stock_of(client, sku)
            available = sum(lot.available for lot in lots)
            reserved = sum(lot.reserved for lot in lots)
            supplied = seeded[(client, sku)] + self.received[(client, sku)]
            if supplied != available + reserved + shipped[(client, sku)]:
                problems.append(
                    f"{client}/{sku}: {supplied} supplied, {available} available + {reserved} "
                    f"reserved + {shipped[(client, sku)]} shipped"
                )
            if reserved != held[(client, sku)]:
                problems.append(
                    f"{client}/{sku}: {reserved} reserved, orders hold {held[(client, sku)]}"
                )
        return {
            "skus": len(skus),
            "units_shipped": sum(shipped.values()),
            "problems": problems,
        }


def _path(status: str | None, states: list[str]) -> str:
    """The path an order took through the workflow, from the states its execution entered
    and where its record ended."""
    if any(state.startswith("ExceptionAt") or state == "Hold" for state in states):
        return "exception"
    if status == "CANCELLED":
        return "cancelled"
    if "AwaitStock" in states:
        return "backordered"
    if status == "SHIPPED":
        return "happy"
    return "other"


def totals(report: dict[str, Any]) -> dict[str, Any]:
    """Figures across clients, from each client's metrics."""
    per = list(report["metrics"].values())
    by_type: Counter[str] = Counter()
    escalations: Counter[str] = Counter()
    histogram: Counter[str] = Counter()
    labels: list[str] = []
    for m in per:
        for row in m["exceptions"]["by_type"]:
            by_type[row["type"]] += row["opened"]
        for row in m["escalations_per_owner"]:
            escalations[f"{m['client_id']}: {row['owner']}"] += row["escalations"]
        for row in m["fulfillment_hours"]["histogram"]:
            histogram[row["label"]] += row["count"]
            if row["label"] not in labels:
                labels.append(row["label"])
    received = sum(m["orders"]["received"] for m in per)
    met = sum(m["sla"]["met"] for m in per)
    missed = sum(m["sla"]["missed"] for m in per)
    resolved = [(m["time_to_resolution_hours"]["count"], m["time_to_resolution_hours"]["average"])
                for m in per if m["time_to_resolution_hours"]["count"]]  # fmt: skip
    count = sum(c for c, _ in resolved)
    return {
        "received": received,
        "exceptions_opened": sum(by_type.values()),
        "exception_rate": round(sum(by_type.values()) / received, 4) if received else None,
        "exceptions_by_type": {
            t: {"opened": n, "rate": round(n / received, 4) if received else None}
            for t, n in by_type.most_common()
        },
        "time_to_resolution_hours": {
            "count": count,
            "average": round(sum(c * a for c, a in resolved) / count, 2) if count else None,
            "p90_by_client": {m["client_id"]: m["time_to_resolution_hours"]["p90"] for m in per},
        },
        "sla": {
            "met": met,
            "missed": missed,
            "compliance": round(met / (met + missed), 4) if met + missed else None,
        },
        "escalations_per_owner": dict(escalations.most_common()),
        "fulfillment_hours": {
            "histogram": [{"label": label, "count": histogram[label]} for label in labels],
            "median_by_client": {m["client_id"]: m["fulfillment_hours"]["median"] for m in per},
            "p90_by_client": {m["client_id"]: m["fulfillment_hours"]["p90"] for m in per},
        },
    }


def write(report: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    vendor = Path(__file__).parents[3] / "layers/shipshape/shipshape/web/static/vendor"
    shutil.copy(vendor / "chart.umd.min.js", out / "chart.umd.min.js")
    (out / "report.html").write_text(render_html(report))


def summarize(console: Console, report: dict[str, Any], out: Path) -> None:
    t = report["totals"]
    table = Table(title="Orders by final state", show_edge=False)
    table.add_column("state")
    table.add_column("orders", justify="right")
    for state, n in report["orders_by_final_state"].items():
        table.add_row(state, str(n))
    console.print(table)
    console.print(
        f"Exception rate {_pct(t['exception_rate'])} ({t['exceptions_opened']} opened: "
        + ", ".join(f"{k} {v['opened']}" for k, v in t["exceptions_by_type"].items())
        + ")"
    )
    ttr = t["time_to_resolution_hours"]
    console.print(
        f"Time to resolution: average {ttr['average']} h over {ttr['count']}; p90 by client "
        + ", ".join(f"{c} {v} h" for c, v in ttr["p90_by_client"].items())
    )
    console.print(f"SLA compliance {_pct(t['sla']['compliance'])} "
                  f"({t['sla']['met']} met, {t['sla']['missed']} missed)")  # fmt: skip
    console.print(
        "Escalations per owner: "
        + (", ".join(f"{k} {v}" for k, v in t["escalations_per_owner"].items()) or "none")
    )
    console.print(
        "Fulfillment time (h): median "
        + ", ".join(f"{c} {v}" for c, v in t["fulfillment_hours"]["median_by_client"].items())
        + "; p90 "
        + ", ".join(f"{c} {v}" for c, v in t["fulfillment_hours"]["p90_by_client"].items())
    )
    audit = report["audit"]
    total = sum(report["orders_by_final_state"].values())
    if audit["incomplete"]:
        console.print(f"[red]Audit: {len(audit['incomplete'])} order(s) lack a complete trail:[/] "
                      + ", ".join(audit["incomplete"]))  # fmt: skip
    else:
        console.print(f"Audit: all {total} orders have a complete trail.")
    integrity = report["integrity"]
    faults = integrity["infrastructure_faults"]
    if faults:
        console.print(
            f"AWS faults injected: {sum(faults.values())} ("
            + ", ".join(f"{k} {v}" for k, v in faults.items())
            + ")"
        )
    stock = integrity["stock"]
    if integrity["shipped_twice"] or stock["problems"]:
        console.print(
            f"[red]Integrity: shipped twice {integrity['shipped_twice']}; "
            f"stock {stock['problems']}[/]"
        )
    else:
        console.print(
            f"Integrity: no order shipped twice; every unit of {stock['skus']} SKUs accounted "
            f"for ({stock['units_shipped']} shipped)."
        )
    if report["refused_by_roles"]:
        console.print(
            f"[red]Refused by the functions' roles (template.yaml Policies): "
            f"{'; '.join(report['refused_by_roles'])}[/]"
        )
    if report["unaccounted"]:
        console.print(f"[red]Unaccounted for: {', '.join(report['unaccounted'])}[/]")
    else:
        console.print(
            f"Nothing lost: every order is shipped, partially completed, cancelled, or in an "
            f"open exception with an owner ({len(report['open_exceptions'])} open)."
        )
    calls = sum(report["load"].get("aws_calls", {}).values())
    invocations = sum(report["load"].get("lambda_invocations", {}).values())
    if calls:
        console.print(f"Load: {calls} AWS API calls ({calls / total:.0f} per order), "
                      f"{invocations} Lambda invocations")  # fmt: skip
    cost_inputs = report["load"].get("cost_inputs")
    if cost_inputs:
        from shipshape_local.cost import by_path

        console.print(
            "At AWS list prices, per 1,000 orders (bench/cost.py has the breakdown): "
            + "; ".join(
                f"{p.path} ${p.dollars_per_thousand:.2f} ({p.orders} orders, "
                f"{p.transitions_per_order:.1f} transitions each, biggest: {p.biggest})"
                for p in by_path(cost_inputs)
            )
        )
    console.print(f"Report: {out / 'report.html'} and {out / 'report.json'} "
                  f"({report['wall_seconds']} s wall)")  # fmt: skip


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f} %"
