"""Helpers shared by the integration tests: speak to the embedded stack as storefronts,
warehouses and operators do, read what it wrote, and the orders table alone on the emulator.

Test modules import these from here, never from one another or from a conftest.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import boto3
from moto import mock_aws

from shipshape.adapters import dynamodb
from shipshape.adapters.dynamodb import DynamoDBStores
from shipshape.bootstrap import container
from shipshape.models import (
    OrderException,
    StockLot,
)
from shipshape.ports import OrderRepository
from shipshape_local.issuer import dev_bearer
from shipshape_local.runtime import REGION, EmbeddedRuntime, HttpResponse, ManualClock
from shipshape_local.storefronts import Delivery, ShopifyStore
from shipshape_local.template import Template
from shipshape_local.warehouse import WarehouseSimulator
from tests.builders import NO_ZIP, paid_shopify_order, seed_exception

LEAD = dev_bearer("olivia.lead")
ACME_OPERATOR = dev_bearer("omar.operator")
WAREHOUSES = {"acme-outdoors": "pdx-1", "nordlicht": "ber-1", "kite-and-kin": "lon-1"}
GONE = ("SHIPPED", "COMPLETED_PARTIAL", "CANCELLED", "ON_HOLD")
# What a paid order's audit trail reads when it ships without a hitch.
HAPPY_PATH_ACTIONS = [
    "order_received",
    "address_validated",
    "inventory_reserved",
    "picker_assigned",
    "qa_passed",  # pre-pick
    "pick_requested",
    "pick_confirmed",
    "qa_passed",  # post-pick
    "pack_requested",
    "pack_confirmed",
    "qa_passed",  # packing
    "label_created",
    "qa_passed",  # shipping
    "shipped",
    "customer_notified",
]


# --- the HTTP API, as storefronts, warehouses and operators call it ----------------------


def deliver(runtime: EmbeddedRuntime, delivery: Delivery) -> HttpResponse:
    return runtime.http("POST", delivery.path, headers=delivery.headers, body=delivery.body)


def deliver_at_once(runtime: EmbeddedRuntime, deliveries: list[Delivery]) -> list[HttpResponse]:
    """Every delivery sent at the same moment, one thread each, as a burst of webhooks
    arrives; the answers in the order they came back."""
    answers: list[HttpResponse] = []
    threads = [
        threading.Thread(target=lambda d=d: answers.append(deliver(runtime, d))) for d in deliveries
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def audit_actions(runtime: EmbeddedRuntime, order_id: str) -> list[str]:
    response = runtime.http("GET", f"/orders/{order_id}/audit", headers=LEAD)
    assert response.status == 200, response.body
    return [event["action"] for event in response.json()["events"]]


def view(runtime: EmbeddedRuntime, order_id: str) -> dict[str, Any]:
    answer = runtime.http("GET", f"/orders/{order_id}", headers=LEAD)
    assert answer.status == 200, answer.body
    return dict(answer.json())


def wait_status(runtime: EmbeddedRuntime, order_id: str, *statuses: str) -> dict[str, Any]:
    assert runtime.wait_for(lambda: view(runtime, order_id)["status"] in statuses, timeout=30), (
        view(runtime, order_id)
    )
    return view(runtime, order_id)


def post(warehouse: WarehouseSimulator, client_id: str, event: dict[str, Any]) -> tuple[int, Any]:
    return warehouse.post(client_id, event)


def new_sku(
    warehouse: WarehouseSimulator, client_id: str, sku: str, *, quantity: int = 0, **fields: Any
) -> None:
    master = {
        "type": "sku_updated", "event_id": f"sku-{sku}-{len(warehouse.events_sent)}", "sku": sku,
        "title": sku.title(), "barcode": f"BC-{sku}", "unit_weight_grams": 500,
        "length_mm": 200, "width_mm": 150, "height_mm": 100, **fields,
    }  # fmt: skip
    status, body = post(warehouse, client_id, master)
    assert status == 202, body
    if quantity:
        receive(warehouse, client_id, sku, quantity)


def receive(
    warehouse: WarehouseSimulator, client_id: str, sku: str, quantity: int, **fields: Any
) -> dict[str, Any]:
    event = {
        "type": "stock_received", "event_id": f"in-{sku}-{len(warehouse.events_sent)}",
        "sku": sku, "warehouse": WAREHOUSES[client_id], "quantity": quantity, "bin": "D-01-1",
        **fields,
    }  # fmt: skip
    status, body = post(warehouse, client_id, event)
    assert status == 202, body
    return dict(body)


def queue(runtime: EmbeddedRuntime, query: str = "") -> list[dict[str, Any]]:
    answer = runtime.http("GET", f"/exceptions{query}", headers=LEAD)
    assert answer.status == 200, answer.body
    return list(answer.json()["exceptions"])


def resolve(
    runtime: EmbeddedRuntime,
    exception_id: str,
    body: dict[str, Any],
    headers: dict[str, str] = LEAD,
) -> HttpResponse:
    return runtime.http(
        "POST", f"/exceptions/{exception_id}/resolve", headers=headers, body=json.dumps(body)
    )


def work_until_exception(
    runtime: EmbeddedRuntime, warehouse: WarehouseSimulator, order_id: str
) -> dict[str, Any]:
    """Play the warehouse for the order until an exception stops it."""

    def stopped() -> bool:
        return warehouse.act(order_id) in ("EXCEPTION", *GONE)

    assert runtime.wait_for(stopped, timeout=30, interval=0.05), view(runtime, order_id)
    return open_exception_of(runtime, order_id)


def open_exception_of(runtime: EmbeddedRuntime, order_id: str) -> dict[str, Any]:
    assert runtime.wait_for(
        lambda: any(e["order_id"] == order_id and e["status"] == "OPEN" for e in queue(runtime)),
        timeout=30,
    ), view(runtime, order_id)
    return next(e for e in queue(runtime) if e["order_id"] == order_id and e["status"] == "OPEN")


def place(runtime: EmbeddedRuntime, delivery: Any) -> str:
    answer = deliver(runtime, delivery)
    assert answer.status == 202, answer.body
    return str(answer.json()["order_id"])


def order_in_address_exception(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock
) -> str:
    """Deliver Acme's paid order without a postal code and wait until its address_invalid
    exception is open and its owner told; the order's id."""
    order_id = deliver(
        runtime, acme.deliver("orders/paid", paid_shopify_order(acme, clock, address=NO_ZIP))
    ).json()["order_id"]
    assert runtime.wait_for(
        lambda: (
            runtime.http("GET", f"/orders/{order_id}", headers=LEAD).json()["status"] == "EXCEPTION"
        )
    ), runtime.http("GET", f"/orders/{order_id}", headers=LEAD).json()
    # The step notifies the owner right after its write; wait for that too, so later
    # notifications (escalated, reassigned) are compared in a defined order.
    assert runtime.wait_for(
        lambda: any(
            n["message"]["order_id"] == order_id and n["message"]["reason"] == "opened"
            for n in runtime.notifications()
        )
    )
    return str(order_id)


# --- what the stack wrote, read behind the API ---------------------------------------------


def lots(client_id: str, sku: str) -> list[StockLot]:
    return container().inventory.stock_of(client_id, sku)


def units(client_id: str, sku: str) -> tuple[int, int]:
    """(available, reserved) over every lot of a SKU."""
    found = lots(client_id, sku)
    return sum(lot.available for lot in found), sum(lot.reserved for lot in found)


def table_items(runtime: EmbeddedRuntime) -> list[dict[str, Any]]:
    """Everything in the orders table but the seeded catalog and stock (a test may scan; the
    product never does)."""
    client = boto3.client("dynamodb", region_name=REGION)
    items: list[dict[str, Any]] = []
    for page in client.get_paginator("scan").paginate(TableName=runtime.names["OrdersTable"]):
        items.extend(i for i in page["Items"] if not i["pk"]["S"].startswith(("SKU#", "STOCK#")))
    return items


def execution_history(runtime: EmbeddedRuntime, order_id: str) -> list[dict[str, Any]]:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    arn = next(e["executionArn"] for e in runtime.executions() if e["name"] == order_id)
    return list(sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"])


SWEEPER = "shipshape-SweeperFunction"


def emf_documents(runtime: EmbeddedRuntime, function: str | None = SWEEPER) -> list[dict[str, Any]]:
    """The CloudWatch embedded-metric documents the function (None: every function) printed."""
    documents = []
    for line in runtime.lambdas.captured(function):
        try:
            parsed = json.loads(line)
        except ValueError:
            continue
        if isinstance(parsed, dict) and "_aws" in parsed:
            documents.append(parsed)
    return documents


def datapoints(
    runtime: EmbeddedRuntime, metric: str, function: str | None = SWEEPER
) -> list[tuple[dict[str, str], float]]:
    """(dimensions, value) of every datapoint of ``metric`` in namespace Shipshape."""
    found = []
    for doc in emf_documents(runtime, function):
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            if directive["Namespace"] != "Shipshape":
                continue
            if metric not in {m["Name"] for m in directive["Metrics"]}:
                continue
            for names in directive["Dimensions"]:
                # Powertools writes values as a list (it may batch several of one metric).
                for value in doc[metric]:
                    found.append(({name: doc[name] for name in names}, value))
    return found


# --- state written straight into the stack's table ----------------------------------------


def repository() -> OrderRepository:
    """The stack's order records (with their exceptions), as its functions reach them."""
    return container().repo


def open_address_exception(
    clock: ManualClock, storefront_id: int = 5_600_001, task_token: str | None = None
) -> OrderException:
    """An Acme order whose address failed validation now, written into the stack's table as
    the workflow writes it: the order, then the order in EXCEPTION with its exception, each
    with its audit event."""
    client = container().clients.get("acme-outdoors")
    return seed_exception(
        container().repo, client, storefront_id, opened_at=clock.now(), task_token=task_token
    )


# --- the orders table alone, on the emulator ----------------------------------------------

ORDERS_TABLE = "shipshape-OrdersTable"

# What of the table's declaration shapes the table (not its encryption, tags or backups).
TABLE_SHAPE = (
    "AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "LocalSecondaryIndexes",
    "BillingMode",
)  # fmt: skip


@cache
def _declared_orders_table() -> dict[str, Any]:
    declared = Template().tables["OrdersTable"]
    return {k: v for k, v in declared.items() if k in TABLE_SHAPE}


@contextmanager
def emulated_orders_table() -> Iterator[DynamoDBStores]:
    """The real stores on the orders table as template.yaml declares it (keys and indexes),
    in the emulator's DynamoDB: the table alone, without the rest of the embedded stack, so a
    test costs what its writes cost."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(TableName=ORDERS_TABLE, **_declared_orders_table())
        yield dynamodb.stores(client, ORDERS_TABLE)
