"""Benchmark: webhook ingest latency and throughput against the floor of its AWS calls.

The real ingest path, in-process on the embedded emulator: the ingest function's handler
(Powertools routing and validation, signature check, the storefront adapter, the order and its
audit event written in one transaction, the workflow started) called with the API Gateway
events of signed Shopify paid-order webhooks, one new order each. Every AWS call it makes is
recorded (operation and parameters). The floor then replays exactly those calls, in the same
order, with plain boto3 clients on a fresh emulator in the same state: the cost of the
DynamoDB and Step Functions work alone. The ratio is what the handler's own code adds.

The state machine is replaced by a one-state definition for both runs, so executions started
by the webhooks do not run the fulfillment steps in the background while requests are timed.

Run alone with `.venv/bin/python bench/ingest.py [orders]`; `make bench` includes it.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from common import Figure, percentile, ratio_figure, run_alone
from rich.console import Console

SECTION = "Webhook ingest (in-process on the emulator)"
LIMIT = 1.5
WARMUP = 20
Call = tuple[str, str, dict[str, Any]]  # service, operation, parameters


def _events(rt: Any, orders: int) -> list[dict[str, Any]]:
    from shipshape_local.storefronts import Line, Person, PostalAddress, ShopifyStore

    store = ShopifyStore("acme-outdoors", "acme-outdoors.myshopify.com",
                         rt.secret("shipshape/acme-outdoors/shopify-webhook"))  # fmt: skip
    person = Person("Jane", "Doe", "jane.doe@example.com", "+1 503 555 0100")
    address = PostalAddress("500 SW Market St", "Portland", "OR", "97204", "US")
    now = rt.clock.now()
    events = []
    for n in range(orders):
        placed = now - timedelta(minutes=5) + timedelta(seconds=n)
        payload = store.order(
            7_100_000 + n, 5000 + n, person=person, address=address, created_at=placed,
            updated_at=placed, financial_status="paid",
            lines=[Line("MUG-ENAMEL-12", "Enamel camp mug", 2, "14.50")],
        )  # fmt: skip
        delivery = store.deliver("orders/paid", payload)
        events.append(rt.event_for("POST", delivery.path, delivery.headers, delivery.body))
    return events


def _one_state_machine(rt: Any) -> None:
    import boto3

    from shipshape_local.runtime import REGION

    sfn = boto3.client("stepfunctions", region_name=REGION)
    sfn.update_state_machine(
        stateMachineArn=rt.names["FulfillmentStateMachine"],
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
    )


def _record(deps: Any, sink: list[Call]) -> None:
    """Record every call the container's clients make (what the handler asked AWS for)."""
    clients = {id(c): c for c in _clients(deps)}
    for client in clients.values():
        service = client.meta.service_model.service_name

        def keep(params: dict[str, Any], model: Any, service: str = service, **_: Any) -> None:
            sink.append((service, model.name, copy.deepcopy(params)))

        client.meta.events.register("provide-client-params.*.*", keep)


def _ingest(
    handler: Callable[..., Any],
    events: list[dict[str, Any]],
    latencies: list[float],
    statuses: list[Any],
    calls: list[list[Call]],
    sink: list[Call],
) -> None:
    from shipshape_local.lambdas import LambdaContext

    for event in events:
        sink.clear()
        context = LambdaContext(function_name="shipshape-IngestFunction")
        started = time.perf_counter()
        result = handler(event, context)
        latencies.append((time.perf_counter() - started) * 1000)
        statuses.append(result.get("statusCode"))
        calls.append(list(sink))


def _clients(deps: Any) -> list[Any]:
    from shipshape.bootstrap import aws_client

    return [deps.repo._client, deps.workflow._client, aws_client("secretsmanager")]


def measure(orders: int = 300) -> dict[str, Any]:
    from botocore.exceptions import ClientError

    from shipshape.bootstrap import aws_client, container
    from shipshape_local.lambdas import load_handler
    from shipshape_local.runtime import EmbeddedRuntime
    from shipshape_local.template import Template

    spec = Template().functions["IngestFunction"]
    total = WARMUP + orders
    with EmbeddedRuntime() as rt:
        _one_state_machine(rt)
        handler = load_handler(spec)
        events = _events(rt, total)
        calls: list[list[Call]] = []
        sink: list[Call] = []
        _record(container(), sink)
        latencies, statuses = [], []
        gc.collect()
        # The log lines are written as on Lambda (formatted, masked), to nowhere.
        from shipshape.observability import logger

        with open(os.devnull, "w") as nowhere, contextlib.redirect_stdout(nowhere):
            before = logger.registered_handler.setStream(nowhere)  # type: ignore[attr-defined]
            try:
                _ingest(handler, events, latencies, statuses, calls, sink)
            finally:
                logger.registered_handler.setStream(before)  # type: ignore[attr-defined]
    if set(statuses) != {202}:
        raise RuntimeError(f"ingest answered {sorted(set(map(str, statuses)))}, not all 202")

    floor: list[float] = []
    with EmbeddedRuntime() as rt:
        _one_state_machine(rt)
        clients = {s: aws_client(s) for s in ("dynamodb", "stepfunctions", "secretsmanager")}
        gc.collect()
        for request in calls:
            prepared = [
                (getattr(clients[service], _method(clients[service], operation)), params)
                for service, operation, params in copy.deepcopy(request)
            ]
            started = time.perf_counter()
            for method, params in prepared:
                # the same refusal the handler met, if any (a condition, a duplicate)
                with contextlib.suppress(ClientError):
                    method(**params)
            floor.append((time.perf_counter() - started) * 1000)
    measured, floor = latencies[WARMUP:], floor[WARMUP:]
    per_request = [len(c) for c in calls[WARMUP:]]
    return {
        "orders": orders,
        "measured": measured,
        "floor": floor,
        "calls_per_request": sum(per_request) / len(per_request),
        "operations": sorted({op for c in calls[WARMUP:] for _, op, _ in c}),
    }


def _method(client: Any, operation: str) -> str:
    return next(name for name, api in client.meta.method_to_api_mapping.items() if api == operation)


def figures(console: Console, orders: int = 300) -> list[Figure]:
    with console.status(f"ingesting {orders} webhooks, then replaying their AWS calls"):
        found = measure(orders)
    measured, floor = found["measured"], found["floor"]
    ops = ", ".join(found["operations"])
    rate = len(measured) / (sum(measured) / 1000)
    floor_rate = len(floor) / (sum(floor) / 1000)
    return [
        ratio_figure(SECTION, f"p50 latency ({found['calls_per_request']:.1f} AWS calls: {ops})",
                     percentile(measured, 50), percentile(floor, 50), "ms", LIMIT),
        ratio_figure(SECTION, "p99 latency", percentile(measured, 99), percentile(floor, 99),
                     "ms", LIMIT),
        Figure(SECTION, f"throughput, one at a time ({found['orders']} new orders)",
               f"{rate:.0f} webhooks/s", f"{floor_rate:.0f}/s floor",
               floor_rate / rate, floor_rate / rate <= LIMIT),
    ]  # fmt: skip


def main() -> int:
    return run_alone(lambda orders: f"Shipshape webhook ingest ({orders} new orders)", figures, 300)


if __name__ == "__main__":
    sys.exit(main())
