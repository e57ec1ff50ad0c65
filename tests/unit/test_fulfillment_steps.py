"""The fulfillment steps the state machine runs, against the in-memory system of record.

Orders enter the way they do in production: a signed Shopify delivery through ingest.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shipshape.config import ClientConfig
from shipshape.errors import AddressInvalid, OrderCancelled
from shipshape.models import FULFILLMENT_PATH, Order, OrderStatus, PackData, PickScan, Platform
from shipshape.services.fulfillment import (
    AwaitRequest,
    HoldRequest,
    PackResult,
    PickResult,
    StepContext,
    StepOutOfOrder,
    WorkflowState,
    assign_picker,
    await_pack,
    await_pick,
    create_label,
    hold,
    mark_shipped,
    notify_shipped,
    record_pack,
    record_pick,
    reserve_inventory,
    validate_address,
)
from shipshape.services.ingest import ingest_webhook
from tests.fakes import (
    CarrierStub,
    FixedSecrets,
    InMemoryOrderRepository,
    NotifierRecorder,
    RecordingWorkflow,
    SettableClock,
)
from tests.helpers import EXECUTION, load_event, sign_shopify, webhook_delivery

SHOP = "acme-outdoors.myshopify.com"
SECRET_NAME = "shipshape/acme-outdoors/shopify-webhook"
SECRET = b"dev-shpss-acme-outdoors-current"
START = datetime(2026, 11, 20, 15, 42, 10, tzinfo=UTC)

PICK_TOKEN = "token-await-pick-1"
PACK_TOKEN = "token-await-pack-1"
SCANS = (
    PickScan(sku="TENT-2P-GRN", barcode="0840012345678", quantity=1),
    PickScan(sku="MUG-ENAMEL-12", barcode="0840012345685", quantity=2),
)
PACK = PackData(weight_grams=3400, length_mm=620, width_mm=310, height_mm=240)

# --- the steps in path order, each with the request the state machine builds for it --------

Step = Callable[[StepContext, WorkflowState], object]


def _await_pick(ctx: StepContext, state: WorkflowState) -> None:
    await_pick(ctx, AwaitRequest(**state.model_dump(), task_token=PICK_TOKEN))


def _record_pick(ctx: StepContext, state: WorkflowState) -> object:
    result = PickResult(
        **state.model_dump(), scans=SCANS, event_id="pick-0001", actor="pdx-picker-ana"
    )
    return record_pick(ctx, result)


def _await_pack(ctx: StepContext, state: WorkflowState) -> None:
    await_pack(ctx, AwaitRequest(**state.model_dump(), task_token=PACK_TOKEN))


def _record_pack(ctx: StepContext, state: WorkflowState) -> object:
    result = PackResult(**state.model_dump(), pack=PACK, event_id="pack-0001", actor="pdx-bench-2")
    return record_pack(ctx, result)


STEPS: dict[OrderStatus, Step] = {
    OrderStatus.ADDRESS_VALIDATED: validate_address,
    OrderStatus.RESERVED: reserve_inventory,
    OrderStatus.PICKER_ASSIGNED: assign_picker,
    OrderStatus.AWAITING_PICK: _await_pick,
    OrderStatus.PICKED: _record_pick,
    OrderStatus.AWAITING_PACK: _await_pack,
    OrderStatus.PACKED: _record_pack,
    OrderStatus.LABELLED: create_label,
    OrderStatus.SHIPPED: mark_shipped,
}
STEP_IDS = [status.value for status in STEPS]


def run_until(ctx: StepContext, state: WorkflowState, status: OrderStatus) -> None:
    """Run the happy path's steps, in order, until the order is at ``status``."""
    for target, step in STEPS.items():
        if FULFILLMENT_PATH.index(target) > FULFILLMENT_PATH.index(status):
            return
        step(ctx, state)


def status_before(status: OrderStatus) -> OrderStatus:
    return FULFILLMENT_PATH[FULFILLMENT_PATH.index(status) - 1]


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(START)


Deliver = Callable[..., WorkflowState]


@pytest.fixture
def deliver(acme: ClientConfig, repo: InMemoryOrderRepository, clock: SettableClock) -> Deliver:
    """Ingest a signed Shopify fixture, optionally edited first; the order's workflow state."""

    def _deliver(
        fixture: str = "shopify/orders_paid.json",
        topic: str = "orders/paid",
        edit: Callable[[dict[str, Any]], None] | None = None,
    ) -> WorkflowState:
        body = load_event(fixture)
        if edit is not None:
            payload = json.loads(body)
            edit(payload)
            body = json.dumps(payload).encode()
        headers = {
            "X-Shopify-Topic": topic,
            "X-Shopify-Shop-Domain": SHOP,
            "X-Shopify-Hmac-Sha256": sign_shopify(body, SECRET),
        }
        result = ingest_webhook(
            client=acme,
            platform=Platform.SHOPIFY,
            delivery=webhook_delivery(headers, body, clock.now()),
            repo=repo,
            secrets=FixedSecrets({SECRET_NAME: SECRET}),
            workflow=RecordingWorkflow(),
            clock=clock,
        )
        return WorkflowState(order_id=result.order_id, client_id=acme.client_id)

    return _deliver


@pytest.fixture
def accepted(deliver: Deliver) -> WorkflowState:
    """A paid order, accepted, its workflow about to run its first step."""
    return deliver()


def cancel(deliver: Deliver) -> None:
    # Stamped 20 s after Shipshape's clock starts: the fixture's own stamp is hours later,
    # and a stamp from Shipshape's future is refused.
    deliver(
        "shopify/orders_cancelled.json",
        "orders/cancelled",
        edit=lambda p: p.update(updated_at="2026-11-20T10:42:30-05:00"),
    )


def stored(repo: InMemoryOrderRepository, order_id: str) -> Order:
    order = repo.get(order_id)
    assert order is not None, f"order {order_id} was not stored"
    return order


# --- the happy path ------------------------------------------------------------------------


def test_happy_path_moves_the_order_along_the_fulfillment_path(
    ctx: StepContext,
    accepted: WorkflowState,
    repo: InMemoryOrderRepository,
    clock: SettableClock,
    carrier: CarrierStub,
    notifier: NotifierRecorder,
) -> None:
    # Given an accepted order

    # When every step runs in order, a minute apart, and the customer is notified
    for step in STEPS.values():
        clock.advance(timedelta(minutes=1))
        step(ctx, accepted)
    notify_shipped(ctx, accepted)

    # Then the audit trail has one event per status of the path, each owned as configured
    trail = repo.audit_trail(accepted.order_id)
    assert [e.action for e in trail] == [
        "order_received",
        "address_validated",
        "inventory_reserved",
        "picker_assigned",
        "pick_requested",
        "pick_confirmed",
        "pack_requested",
        "pack_confirmed",
        "label_created",
        "shipped",
        "customer_notified",
    ]
    assert [e.seq for e in trail] == list(range(1, 12))
    moves = [e for e in trail if e.to_status is not None]
    assert [e.to_status for e in moves] == list(FULFILLMENT_PATH)
    assert [e.owner for e in moves] == [
        "ops",
        "ops",
        "ops",
        "warehouse",
        "warehouse",
        "warehouse",
        "warehouse",
        "warehouse",
        "logistics",
        "logistics",
    ]
    # And the record holds what each step decided
    order = stored(repo, accepted.order_id)
    assert (order.status, order.owner) == (OrderStatus.SHIPPED, "logistics")
    assert order.picker in ctx.client.pickers
    assert order.pick_scans == SCANS
    assert order.pack == PACK
    assert order.label is not None
    assert order.label.tracking_number.startswith("1ZSS")
    assert carrier.labels_bought == [accepted.order_id]
    assert (order.task_token, order.awaiting, order.pending_start) == (None, None, False)
    assert order.status_timestamps[OrderStatus.SHIPPED] == START + timedelta(minutes=9)
    assert order.notified_at == clock.now()
    # And one label was bought and one notification sent
    assert carrier.labels_bought == [accepted.order_id]
    assert notifier.shipments_sent == [accepted.order_id]


def test_validate_address_acknowledges_the_start(
    ctx: StepContext, accepted: WorkflowState, repo: InMemoryOrderRepository
) -> None:
    # Given an accepted order the reconciler would still start
    assert repo.pending_starts(START + timedelta(days=1), limit=10) == [accepted.order_id]

    # When its workflow validates the address
    validate_address(ctx, accepted)

    # Then the order leaves the pending-start index, and the audit names the execution
    assert stored(repo, accepted.order_id).pending_start is False
    assert repo.pending_starts(START + timedelta(days=1), limit=10) == []
    assert repo.audit_trail(accepted.order_id)[-1].detail == {
        "execution": EXECUTION,
        "standard": "USPS Publication 28",
        "standardized_fields": ["city", "line1"],
    }


# --- idempotency and guards ----------------------------------------------------------------


@pytest.mark.parametrize("status", list(STEPS), ids=STEP_IDS)
def test_each_step_is_idempotent(
    ctx: StepContext,
    accepted: WorkflowState,
    repo: InMemoryOrderRepository,
    clock: SettableClock,
    status: OrderStatus,
) -> None:
    # Given an order whose step to ``status`` already ran once
    run_until(ctx, accepted, status)
    after_first = stored(repo, accepted.order_id)
    trail_length = len(repo.audit_trail(accepted.order_id))
    assert after_first.status is status

    # When the state machine retries the same step
    clock.advance(timedelta(seconds=30))
    STEPS[status](ctx, accepted)

    # Then nothing more is written
    assert stored(repo, accepted.order_id) == after_first
    assert len(repo.audit_trail(accepted.order_id)) == trail_length


def test_label_and_notification_are_bought_and_sent_once_on_retries(
    ctx: StepContext,
    accepted: WorkflowState,
    repo: InMemoryOrderRepository,
    carrier: CarrierStub,
    notifier: NotifierRecorder,
) -> None:
    # Given a packed order
    run_until(ctx, accepted, OrderStatus.PACKED)

    # When label, shipping and notification steps each run twice
    for step in (create_label, create_label, mark_shipped, mark_shipped):
        step(ctx, accepted)
    notify_shipped(ctx, accepted)
    notify_shipped(ctx, accepted)

    # Then one label was bought, one notification sent, and each was audited once
    assert carrier.labels_bought == [accepted.order_id]
    assert notifier.shipments_sent == [accepted.order_id]
    actions = [e.action for e in repo.audit_trail(accepted.order_id)]
    assert actions[-3:] == ["label_created", "shipped", "customer_notified"]
    assert actions.count("customer_notified") == 1


@pytest.mark.parametrize("status", list(STEPS), ids=STEP_IDS)
def test_step_on_a_cancelled_order_raises_order_cancelled(
    ctx: StepContext,
    accepted: WorkflowState,
    deliver: Deliver,
    repo: InMemoryOrderRepository,
    carrier: CarrierStub,
    status: OrderStatus,
) -> None:
    # Given an accepted order the storefront then cancelled
    cancel(deliver)
    trail_length = len(repo.audit_trail(accepted.order_id))

    # When a step of its workflow runs
    with pytest.raises(OrderCancelled, match=f"order {accepted.order_id} was cancelled"):
        STEPS[status](ctx, accepted)

    # Then the order stays cancelled and nothing is written or bought
    assert stored(repo, accepted.order_id).status is OrderStatus.CANCELLED
    assert len(repo.audit_trail(accepted.order_id)) == trail_length
    assert carrier.labels_bought == []


@pytest.mark.parametrize(
    "status", [s for s in STEPS if s is not OrderStatus.ADDRESS_VALIDATED], ids=STEP_IDS[1:]
)
def test_step_out_of_order_is_refused(
    ctx: StepContext,
    accepted: WorkflowState,
    repo: InMemoryOrderRepository,
    status: OrderStatus,
) -> None:
    # Given an accepted order, whose next step is address validation

    # When a later step runs first
    with pytest.raises(StepOutOfOrder) as raised:
        STEPS[status](ctx, accepted)

    # Then it is refused naming where the order is
    assert f"order {accepted.order_id} is ACCEPTED" in str(raised.value)
    assert stored(repo, accepted.order_id).status is OrderStatus.ACCEPTED
    assert len(repo.audit_trail(accepted.order_id)) == 1


def test_step_on_a_held_order_is_out_of_order(
    ctx: StepContext, accepted: WorkflowState, repo: InMemoryOrderRepository
) -> None:
    # Given an order held after address validation
    validate_address(ctx, accepted)
    hold(ctx, HoldRequest(**accepted.model_dump(), error={"Error": "InventoryShort"}))

    # When the next step runs anyway
    with pytest.raises(StepOutOfOrder, match="is ON_HOLD; cannot reserve"):
        reserve_inventory(ctx, accepted)

    # Then the order stays held
    assert stored(repo, accepted.order_id).status is OrderStatus.ON_HOLD


# --- address validation --------------------------------------------------------------------


def _without_zip(payload: dict[str, Any]) -> None:
    payload["shipping_address"]["zip"] = None


def _without_address(payload: dict[str, Any]) -> None:
    payload["shipping_address"] = None


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        pytest.param(_without_zip, "postal_code", id="no-postal-code"),
        pytest.param(_without_address, "the order has no shipping address", id="no-address"),
    ],
)
def test_validate_address_refuses_an_address_that_cannot_be_shipped_to(
    ctx: StepContext,
    deliver: Deliver,
    repo: InMemoryOrderRepository,
    edit: Callable[[dict[str, Any]], None],
    message: str,
) -> None:
    # Given a paid order whose shipping address is incomplete
    state = deliver(edit=edit)

    # When its address is validated
    with pytest.raises(AddressInvalid, match=message):
        validate_address(ctx, state)

    # Then the order did not move
    assert stored(repo, state.order_id).status is OrderStatus.ACCEPTED
    assert len(repo.audit_trail(state.order_id)) == 1


# --- holding -------------------------------------------------------------------------------


def test_hold_parks_the_order_with_the_error_and_releases_the_wait(
    ctx: StepContext, accepted: WorkflowState, repo: InMemoryOrderRepository
) -> None:
    # Given an order waiting for pick scans on a task token
    run_until(ctx, accepted, OrderStatus.AWAITING_PICK)
    assert stored(repo, accepted.order_id).task_token == PICK_TOKEN
    error = {"Error": "States.Timeout", "Cause": "no pick scans within 48 hours"}

    # When the wait times out and the Catch sends the order to hold, twice (a retry)
    hold(ctx, HoldRequest(**accepted.model_dump(), error=error))
    hold(ctx, HoldRequest(**accepted.model_dump(), error=error))

    # Then the order is on hold, owned by the client's on-call, with no token to resolve
    order = stored(repo, accepted.order_id)
    assert (order.status, order.owner) == (OrderStatus.ON_HOLD, "olivia.lead")
    assert order.hold_reason == "States.Timeout"
    assert (order.task_token, order.awaiting) == (None, None)
    # And one audit event says what went wrong and where
    trail = repo.audit_trail(accepted.order_id)
    assert [e.action for e in trail].count("order_held") == 1
    held = trail[-1]
    assert (held.from_status, held.to_status) == (OrderStatus.AWAITING_PICK, OrderStatus.ON_HOLD)
    assert held.owner == "olivia.lead"
    assert held.detail == {
        "error": "States.Timeout",
        "cause": "no pick scans within 48 hours",
        "held_at_status": "AWAITING_PICK",
    }


def test_hold_before_the_first_step_acknowledges_takes_the_order_out_of_the_start_index(
    ctx: StepContext, deliver: Deliver, repo: InMemoryOrderRepository
) -> None:
    # Given an accepted order whose address validation failed
    state = deliver(edit=_without_zip)
    with pytest.raises(AddressInvalid):
        validate_address(ctx, state)

    # When the Catch holds it
    error = {"Error": "AddressInvalid", "Cause": "postal_code is empty"}
    hold(ctx, HoldRequest(**state.model_dump(), error=error))

    # Then its workflow has run, so the reconciler no longer sees it
    assert stored(repo, state.order_id).status is OrderStatus.ON_HOLD
    assert repo.pending_starts(START + timedelta(days=1), limit=10) == []


def test_retried_wait_stores_the_token_of_the_attempt_that_waits(
    ctx: StepContext, accepted: WorkflowState, repo: InMemoryOrderRepository
) -> None:
    # Given the first attempt of the pick wait wrote its token, then failed (Lambda error)
    run_until(ctx, accepted, OrderStatus.AWAITING_PICK)

    # When the state machine retries the task, which waits on a new token
    await_pick(ctx, AwaitRequest(**accepted.model_dump(), task_token="token-await-pick-2"))

    # Then the warehouse event will resolve the token the workflow now waits on
    assert stored(repo, accepted.order_id).task_token == "token-await-pick-2"
