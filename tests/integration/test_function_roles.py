"""Each function calls AWS with its own role, as deployed: a call its template entry's policies
do not grant is refused as AWS refuses it, so a missing grant fails here, not after a deploy.
(The other integration tests run with every role enforced and check that nothing was refused.)
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from shipshape_local.runtime import EmbeddedRuntime, ManualClock
from shipshape_local.storefronts import ShopifyStore
from shipshape_local.template import Template
from shipshape_local.warehouse import WarehouseSimulator
from tests.builders import paid_shopify_order
from tests.integration.stack import LEAD, deliver, order_in_address_exception

ACME_SHOP = "acme-outdoors.myshopify.com"


def _without_statement(logical_id: str, sid: str) -> dict[str, Any]:
    """The function's Policies as a template without the statement ``sid`` would deploy them."""
    policies = copy.deepcopy(Template().resources[logical_id]["Properties"]["Policies"])
    found = 0
    for policy in policies:
        statements = policy.get("Statement", [])
        kept = [s for s in statements if s.get("Sid") != sid]
        found += len(statements) - len(kept)
        if "Statement" in policy:
            policy["Statement"] = kept
    assert found == 1, f"{logical_id} has no statement {sid}"
    return {logical_id: {"Policies": [p for p in policies if p.get("Statement", True)]}}


def _acme(runtime: EmbeddedRuntime) -> ShopifyStore:
    secret = runtime.secret("shipshape/acme-outdoors/shopify-webhook")
    return ShopifyStore("acme-outdoors", ACME_SHOP, secret)


@contextmanager
def _deployed_without(clock: ManualClock, logical_id: str, sid: str) -> Iterator[EmbeddedRuntime]:
    """The embedded stack deployed from the template with one statement of one function's
    role removed."""
    with EmbeddedRuntime(clock=clock, edits=_without_statement(logical_id, sid)) as rt:
        yield rt


@pytest.fixture
def without_index_grant(clock: ManualClock) -> Iterator[EmbeddedRuntime]:
    with _deployed_without(clock, "OpsFunction", "ExceptionQueueAndAuditIndexes") as rt:
        yield rt


def test_a_query_on_an_index_the_role_does_not_grant_is_refused_naming_the_index(
    without_index_grant: EmbeddedRuntime, clock: ManualClock
) -> None:
    runtime = without_index_grant
    # Given an open address exception (the workflow's role grants what it needs)
    order_in_address_exception(runtime, _acme(runtime), clock)

    # When an operator reads the exception queue, which the operators' function serves from
    # the table's gsi3 index, with the statement granting its indexes removed from its role
    answer = runtime.http("GET", "/exceptions?client=acme-outdoors", headers=LEAD)

    # Then the call is refused as AWS refuses it, naming the role, the action and the index
    assert answer.status == 500
    refused = [(f, a, r) for f, a, r in runtime.roles.refused if f == "OpsFunction"]
    assert [(a, r.rsplit("/", 2)[-2:]) for _, a, r in refused] == [
        ("dynamodb:Query", ["index", "gsi3"])
    ]
    assert len(runtime.integration_errors) == 1
    error = runtime.integration_errors[0]
    assert "AccessDeniedException" in error
    assert "assumed-role/shipshape-OpsFunction-role/" in error
    assert "is not authorized to perform: dynamodb:Query on resource: arn:aws:dynamodb:" in error
    runtime.integration_errors.clear()
    # And the table itself (granted) still serves: the order's page answers
    assert runtime.roles.refused == refused


@pytest.fixture
def without_start_grant(clock: ManualClock) -> Iterator[EmbeddedRuntime]:
    with _deployed_without(clock, "IngestFunction", "StartFulfillment") as rt:
        yield rt


def test_a_start_the_ingest_role_does_not_grant_is_refused_and_the_order_is_kept(
    without_start_grant: EmbeddedRuntime, clock: ManualClock
) -> None:
    runtime = without_start_grant
    acme = _acme(runtime)
    # When Shopify sends a paid order to an ingest function whose role cannot start executions
    delivery = acme.deliver("orders/paid", paid_shopify_order(acme, clock, order_id=6_200_001))
    answer = deliver(runtime, delivery)

    # Then the start was refused by the role (StartExecution on the state machine) and the
    # order is not lost: it was recorded, and waits for the starter, as after any failed start
    assert [(f, a) for f, a, _ in runtime.roles.refused] == [
        ("IngestFunction", "states:StartExecution")
    ]
    assert runtime.roles.refused[0][2] == runtime.names["FulfillmentStateMachine"]
    assert answer.status == 202, answer.body
    order_id = answer.json()["order_id"]
    assert runtime.http("GET", f"/orders/{order_id}", headers=LEAD).json()["status"] == "ACCEPTED"


def test_every_call_of_an_order_run_to_shipped_is_granted_by_its_functions_role(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # When an order runs from webhook to SHIPPED and its events are published
    delivery = acme.deliver("orders/paid", paid_shopify_order(acme, clock, order_id=6_200_002))
    order_id = str(deliver(runtime, delivery).json()["order_id"])
    assert warehouse.run([order_id]) == {order_id: "SHIPPED"}
    runtime.drain()

    # Then nothing any function asked of AWS was refused by its role
    assert runtime.roles.refused == []
    # And the roles were checked: each function's policies resolved to the embedded resources
    statements = runtime.roles.statements("WorkflowFunction")
    publish = [s for s in statements if s["Action"] == ["sns:Publish"]]
    assert publish and publish[0]["Resource"] == runtime.names["OwnerNotificationsTopic"]
