"""Fixtures for integration tests: the embedded stack (moto, the real ASL, the real handlers
in-process) built from template.yaml, and small clients that speak to it as storefronts,
warehouses and operators do."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from shipshape_local.runtime import REGION, EmbeddedRuntime, HttpResponse, ManualClock
from shipshape_local.storefronts import (
    Delivery,
    GenericStore,
    Line,
    Person,
    PostalAddress,
    ShopifyStore,
    WooCommerceStore,
)
from shipshape_local.warehouse import WarehouseSimulator

LEAD = {"Authorization": "Bearer dev-token-lead"}
JANE = Person("Jane", "Doe", "jane.doe@example.com", "+1 503 555 0100")
PORTLAND = PostalAddress("500 SW Market St", "Portland", "OR", "97204", "US")
BERLIN = PostalAddress("Invalidenstraße 117", "Berlin", "", "10115", "DE")
TENT = Line("TENT-2P-GRN", "Ridgeline 2P tent", 1, "249.00")
MUG = Line("MUG-ENAMEL-12", "Enamel camp mug", 2, "14.50")
LAMP = Line("LAMP-OAK-S", "Oak table lamp, small", 1, "89.00")  # Nordlicht's
KITE = Line("KITE-DELTA-RED", "Delta kite, red", 1, "39.00")  # Kite & Kin's
LONDON = PostalAddress("1 Brick Lane", "London", "", "E1 6AN", "GB")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 23, 17, 0, tzinfo=UTC))


@pytest.fixture
def runtime(clock: ManualClock) -> Iterator[EmbeddedRuntime]:
    with EmbeddedRuntime(clock=clock) as rt:
        yield rt
        assert rt.integration_errors == [], "a handler crashed:\n" + "\n".join(
            rt.integration_errors
        )


@pytest.fixture
def acme(runtime: EmbeddedRuntime) -> ShopifyStore:
    return ShopifyStore(
        "acme-outdoors",
        "acme-outdoors.myshopify.com",
        runtime.secret("shipshape/acme-outdoors/shopify-webhook"),
    )


@pytest.fixture
def nordlicht(runtime: EmbeddedRuntime) -> WooCommerceStore:
    return WooCommerceStore(
        "nordlicht",
        "https://nordlicht-shop.de/",
        runtime.secret("shipshape/nordlicht/woocommerce-webhook"),
    )


@pytest.fixture
def kite(runtime: EmbeddedRuntime) -> GenericStore:
    return GenericStore(
        "kite-and-kin", "kite-and-kin", runtime.secret("shipshape/kite-and-kin/generic-webhook")
    )


def deliver(runtime: EmbeddedRuntime, delivery: Delivery) -> HttpResponse:
    return runtime.http("POST", delivery.path, headers=delivery.headers, body=delivery.body)


def paid_shopify_order(
    acme: ShopifyStore, clock: ManualClock, order_id: int = 5_600_001, **overrides: Any
) -> dict[str, Any]:
    now = clock.now()
    fields: dict[str, Any] = {
        "lines": [TENT, MUG],
        "person": JANE,
        "address": PORTLAND,
        "created_at": now,
        "updated_at": now,
        "financial_status": "paid",
    }
    fields.update(overrides)
    return acme.order(order_id, order_id - 5_599_000, **fields)


@pytest.fixture
def warehouse(runtime: EmbeddedRuntime) -> WarehouseSimulator:
    def send(
        method: str, path: str, headers: dict[str, str], body: bytes | None
    ) -> tuple[int, dict[str, Any]]:
        response = runtime.http(method, path, headers=headers, body=body)
        return response.status, response.json()

    tokens = {
        client: runtime.secret(f"shipshape/{client}/warehouse-token")
        for client in ("acme-outdoors", "nordlicht", "kite-and-kin")
    }
    return WarehouseSimulator(send, tokens, "dev-token-lead")


def table_items(runtime: EmbeddedRuntime) -> list[dict[str, Any]]:
    """Everything in the orders table but the seeded catalog and stock (a test may scan; the
    product never does)."""
    client = boto3.client("dynamodb", region_name=REGION)
    items: list[dict[str, Any]] = []
    for page in client.get_paginator("scan").paginate(TableName=runtime.names["OrdersTable"]):
        items.extend(i for i in page["Items"] if not i["pk"]["S"].startswith(("SKU#", "STOCK#")))
    return items


def audit_actions(runtime: EmbeddedRuntime, order_id: str) -> list[str]:
    response = runtime.http("GET", f"/orders/{order_id}/audit", headers=LEAD)
    assert response.status == 200, response.body
    return [event["action"] for event in response.json()["events"]]


def execution_history(runtime: EmbeddedRuntime, order_id: str) -> list[dict[str, Any]]:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    arn = next(e["executionArn"] for e in runtime.executions() if e["name"] == order_id)
    return list(sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"])
