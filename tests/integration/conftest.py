"""Fixtures for integration tests: the embedded stack (moto, the real ASL, the real handlers
in-process) built from template.yaml, and small clients that speak to it as storefronts,
warehouses and operators do."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from shipshape.adapters.dynamodb import (
    DynamoDBAuditIndex,
    DynamoDBInventory,
    DynamoDBOrderStore,
    DynamoDBStores,
)
from shipshape_local.issuer import dev_token
from shipshape_local.runtime import EmbeddedRuntime, ManualClock
from shipshape_local.storefronts import (
    GenericStore,
    ShopifyStore,
    WooCommerceStore,
)
from shipshape_local.warehouse import WarehouseSimulator
from tests.integration.stack import emulated_orders_table


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
        # Every call each function made was granted by its own role (see roles).
        assert rt.roles.refused == [], (
            f"calls the template's policies do not grant: {rt.roles.refused}"
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
    return WarehouseSimulator(send, tokens, dev_token("olivia.lead"))


@pytest.fixture
def table() -> Iterator[DynamoDBStores]:
    """The real DynamoDB stores on the orders table alone (see ``emulated_orders_table``)."""
    with emulated_orders_table() as stores:
        yield stores


@pytest.fixture
def repo(table: DynamoDBStores) -> DynamoDBOrderStore:
    return table.orders


@pytest.fixture
def inventory(table: DynamoDBStores) -> DynamoDBInventory:
    return table.inventory


@pytest.fixture
def audit(table: DynamoDBStores) -> DynamoDBAuditIndex:
    return table.audit
