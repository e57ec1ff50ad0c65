"""A small pilot through the real stack: nothing lost, the report agrees with the table,
duplicates create nothing, every exception is owned, every trail complete, and the same seed
gives the same report."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
from rich.console import Console

from shipshape_local.pilot import Pilot, PilotOptions, totals, write
from shipshape_local.runtime import REGION, EmbeddedRuntime

OPTIONS = PilotOptions(orders=40, days=3, seed=11, faults="heavy")


def _items(runtime: EmbeddedRuntime) -> list[dict[str, Any]]:
    client = boto3.client("dynamodb", region_name=REGION)
    found: list[dict[str, Any]] = []
    for page in client.get_paginator("scan").paginate(TableName=runtime.names["OrdersTable"]):
        found.extend(page["Items"])
    return found


def _run(out: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []
    options = PilotOptions(**{**OPTIONS.__dict__, "out": out})
    report = Pilot(options, Console(file=open("/dev/null", "w"))).run(  # noqa: SIM115
        inspect=lambda rt: seen.extend(_items(rt))
    )
    report["totals"] = totals(report)
    write(report, out)
    return report, seen


def _numbers(report: dict[str, Any]) -> dict[str, Any]:
    # The wall time and the API calls measure the run (a retried conflict adds a call), not
    # its outcome.
    return {k: v for k, v in report.items() if k not in ("wall_seconds", "load", "options")}


def test_a_small_pilot_loses_nothing_and_reports_what_the_table_holds(tmp_path: Path) -> None:
    # Given a 40-order pilot with the heavy fault profile, run twice with the same seed
    first, items = _run(tmp_path / "first")
    second, _ = _run(tmp_path / "second")

    orders = [json.loads(i["doc"]["S"]) for i in items if i.get("entity", {}).get("S") == "order"]
    exceptions = [
        json.loads(i["doc"]["S"]) for i in items if i.get("entity", {}).get("S") == "exception"
    ]

    # Then no order is lost and nothing crashed
    assert first["unaccounted"] == [], first["unaccounted"]
    assert first["integration_errors"] == []
    # and the report's counts are the table's
    assert first["orders_by_final_state"] == dict(Counter(o["status"] for o in orders))
    # duplicates and out-of-order deliveries created no extra orders
    assert first["traffic"]["duplicates sent"] > 0
    assert first["traffic"]["webhook 200 duplicate"] >= first["traffic"]["duplicates sent"]
    assert len(orders) == OPTIONS.orders
    # every exception has an owner; some were opened, and the open ones are owned
    assert exceptions and all(e["owner"] for e in exceptions)
    assert all(first["open_exceptions"].values())
    # every order's audit trail is complete
    assert first["audit"] == {"complete": OPTIONS.orders, "incomplete": {}}
    # what the run asked of AWS is counted: every delivery went through the webhook function
    assert (
        first["load"]["lambda_invocations"]["shipshape-IngestFunction"]
        == (first["traffic"]["webhooks sent"])
    )
    assert first["load"]["aws_calls"]["stepfunctions.StartExecution"] == OPTIONS.orders
    # the report is written as HTML (with its chart library beside it) and JSON
    for name in ("report.html", "report.json", "chart.umd.min.js"):
        assert (tmp_path / "first" / name).stat().st_size > 0
    assert json.loads((tmp_path / "first" / "report.json").read_text())["totals"]

    # And the same seed gives the same report numbers
    assert _numbers(first) == _numbers(second)
