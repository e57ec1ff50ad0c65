"""The starter: every accepted order reaches its workflow, exactly once."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shipshape.config import ClientDirectory
from shipshape.errors import AddressInvalid
from shipshape.models import Order, OrderStatus, Platform
from shipshape.services.fulfillment import HoldRequest, StepContext, WorkflowState, hold
from shipshape.services.fulfillment import validate_address as validate_address_step
from shipshape.services.ingest import ingest_webhook
from shipshape.services.starter import StartReport, start_pending_orders
from tests.fakes import (
    CarrierStub,
    FixedSecrets,
    InMemoryOrderRepository,
    NotifierRecorder,
    RecordingWarehouseChannel,
    RecordingWorkflow,
    SettableClock,
)
from tests.helpers import load_event, sign_shopify, webhook_delivery

SHOP = "acme-outdoors.myshopify.com"
SECRET_NAME = "shipshape/acme-outdoors/shopify-webhook"
SECRET = b"dev-shpss-acme-outdoors-current"
T0 = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)
GRACE = timedelta(minutes=1)


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(T0)


Accept = Callable[..., str]


@pytest.fixture
def accept(
    clients: ClientDirectory,
    repo: InMemoryOrderRepository,
    workflow: RecordingWorkflow,
    clock: SettableClock,
) -> Accept:
    """Ingest a paid Shopify order (fixture ``orders_paid.json`` under another id) now."""

    def _accept(storefront_id: int, *, edit: Callable[[dict[str, Any]], None] | None = None) -> str:
        payload = json.loads(load_event("shopify/orders_paid.json"))
        payload["id"] = storefront_id
        if edit is not None:
            edit(payload)
        body = json.dumps(payload).encode()
        headers = {
            "X-Shopify-Topic": "orders/paid",
            "X-Shopify-Shop-Domain": SHOP,
            "X-Shopify-Hmac-Sha256": sign_shopify(body, SECRET),
        }
        result = ingest_webhook(
            client=clients.get("acme-outdoors"),
            platform=Platform.SHOPIFY,
            delivery=webhook_delivery(headers, body, clock.now()),
            repo=repo,
            secrets=FixedSecrets({SECRET_NAME: SECRET}),
            workflow=workflow,
            clock=clock,
        )
        assert result.status is OrderStatus.ACCEPTED
        return result.order_id

    return _accept


Reconcile = Callable[..., StartReport]


@pytest.fixture
def reconcile(
    clients: ClientDirectory,
    repo: InMemoryOrderRepository,
    workflow: RecordingWorkflow,
    clock: SettableClock,
) -> Reconcile:
    def _reconcile(limit: int = 100) -> StartReport:
        return start_pending_orders(
            repo=repo, workflow=workflow, clients=clients, clock=clock, grace=GRACE, limit=limit
        )

    return _reconcile


def stored(repo: InMemoryOrderRepository, order_id: str) -> Order:
    order = repo.get(order_id)
    assert order is not None, f"order {order_id} was not stored"
    return order


def test_orders_accepted_before_the_grace_period_are_started(
    accept: Accept,
    reconcile: Reconcile,
    workflow: RecordingWorkflow,
    clock: SettableClock,
) -> None:
    # Given an order whose start failed two minutes ago, and one whose start failed just now
    workflow.fail_next_starts(1)
    old = accept(5934127349876)
    clock.advance(timedelta(minutes=2))
    workflow.fail_next_starts(1)
    recent = accept(5934127349877)
    clock.advance(timedelta(seconds=30))

    # When the starter runs
    report = reconcile()

    # Then only the old order's workflow is started; the recent one is left to its own start
    assert report.examined == 1
    assert report.started == [old]
    assert list(workflow.executions) == [old]
    assert workflow.executions[old].payload == {"order_id": old, "client_id": "acme-outdoors"}
    assert recent not in workflow.executions


def test_the_starter_starts_the_oldest_orders_first_up_to_its_limit(
    accept: Accept, reconcile: Reconcile, workflow: RecordingWorkflow, clock: SettableClock
) -> None:
    # Given three accepted orders whose starts failed, a minute apart
    workflow.fail_next_starts(3)
    first = accept(5934127349876)
    clock.advance(timedelta(minutes=1))
    second = accept(5934127349877)
    clock.advance(timedelta(minutes=1))
    accept(5934127349878)
    clock.advance(timedelta(minutes=10))

    # When the starter runs with room for two
    report = reconcile(limit=2)

    # Then the two oldest are started
    assert report.started == [first, second]
    assert sorted(workflow.executions) == sorted([first, second])


def test_running_execution_is_found_again_not_duplicated(
    accept: Accept, reconcile: Reconcile, workflow: RecordingWorkflow, clock: SettableClock
) -> None:
    # Given an order whose workflow started but has not run its first step yet
    order_id = accept(5934127349876)
    execution_id = workflow.executions[order_id].execution_id
    clock.advance(timedelta(minutes=5))

    # When the starter runs
    report = reconcile()

    # Then the start finds the running execution and no other is created
    assert report.started == [order_id]
    assert list(workflow.executions) == [order_id]
    assert workflow.executions[order_id].execution_id == execution_id


def test_transient_failure_leaves_the_order_for_the_next_pass(
    accept: Accept,
    reconcile: Reconcile,
    repo: InMemoryOrderRepository,
    workflow: RecordingWorkflow,
    clock: SettableClock,
) -> None:
    # Given an accepted order whose start failed, and Step Functions still failing
    workflow.fail_next_starts(2)
    order_id = accept(5934127349876)
    clock.advance(timedelta(minutes=5))

    # When the starter runs twice
    first = reconcile()
    second = reconcile()

    # Then the first pass reports the failure, and the second starts the order
    assert first.failed == [order_id]
    assert second.started == [order_id]
    assert list(workflow.executions) == [order_id]
    assert stored(repo, order_id).status is OrderStatus.ACCEPTED


def test_order_whose_execution_closed_without_acknowledging_is_held_once(
    accept: Accept,
    reconcile: Reconcile,
    repo: InMemoryOrderRepository,
    workflow: RecordingWorkflow,
    clock: SettableClock,
) -> None:
    # Given an order whose execution ended before its first step acknowledged the start
    order_id = accept(5934127349876)
    workflow.close(order_id, status="FAILED")
    clock.advance(timedelta(minutes=5))

    # When the starter runs twice
    first = reconcile()
    second = reconcile()

    # Then the order is held for the client's on-call, audited once, and not retried
    order = stored(repo, order_id)
    assert (order.status, order.owner) == (OrderStatus.ON_HOLD, "olivia.lead")
    assert order.hold_reason == "WorkflowClosedEarly"
    assert order.pending_start is False
    held = repo.audit_trail(order_id)[-1]
    assert held.action == "order_held"
    assert (held.actor.kind, held.actor.id) == ("system", "starter")
    assert (held.from_status, held.to_status) == (OrderStatus.ACCEPTED, OrderStatus.ON_HOLD)
    assert held.detail == {"error": "WorkflowClosedEarly", "execution": order_id}
    assert first.already_running == [order_id]
    assert second.examined == 0
    assert len(repo.audit_trail(order_id)) == 2


def test_order_held_by_its_workflow_keeps_its_hold_reason(
    accept: Accept,
    reconcile: Reconcile,
    repo: InMemoryOrderRepository,
    workflow: RecordingWorkflow,
    clients: ClientDirectory,
    clock: SettableClock,
) -> None:
    # Given an order without a postal code, held by its workflow, which then ended
    def without_zip(payload: dict[str, Any]) -> None:
        payload["shipping_address"]["zip"] = None

    order_id = accept(5934127349876, edit=without_zip)
    ctx = StepContext(
        repo, clock, clients.get("acme-outdoors"), CarrierStub(), NotifierRecorder(),
        repo.inventory, RecordingWarehouseChannel(),
    )  # fmt: skip
    state = WorkflowState(order_id=order_id, client_id="acme-outdoors")
    with pytest.raises(AddressInvalid) as raised:
        validate_address_step(ctx, state)
    error = {"Error": "AddressInvalid", "Cause": str(raised.value)}
    hold(ctx, HoldRequest(**state.model_dump(), error=error))
    workflow.close(order_id)
    trail_length = len(repo.audit_trail(order_id))
    clock.advance(timedelta(minutes=5))

    # When the starter runs
    report = reconcile()

    # Then it leaves the held order alone: the reason the operator sees is still the address
    assert report.examined == 0
    assert stored(repo, order_id).hold_reason == "AddressInvalid"
    assert len(repo.audit_trail(order_id)) == trail_length
