"""Partial payments and partial refunds of one order, through ``ingest_version`` with every
port an in-memory fake: what a partly paid version waits in, what a partial refund takes off
the order (and gives back to stock) where it stands, and what it leaves to a person."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from shipshape.audit import AuditAction
from shipshape.config import ClientConfig, FulfilOn, StoreConfig
from shipshape.errors import PaymentMismatch
from shipshape.models import (
    Actor,
    Address,
    LineKind,
    Order,
    OrderLine,
    OrderStatus,
    OtherLine,
    PaymentState,
    Platform,
    RefundedLine,
    StorefrontOrder,
)
from shipshape.services import inventory
from shipshape.services.fulfillment import (
    StepContext,
    WorkflowState,
    assign_picker,
    reserve_inventory,
    validate_address,
)
from shipshape.services.ingest import IngestOutcome, IngestResult, ingest_version
from shipshape.services.records import record
from shipshape.storefronts.base import epoch_ms
from tests.fakes import (
    CarrierStub,
    InMemoryOrderRepository,
    NotifierRecorder,
    RecordingWarehouseChannel,
    RecordingWorkflow,
    SettableClock,
)

SHOP = "acme-outdoors.myshopify.com"
WAREHOUSE = "pdx-1"
FIRST = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
PORTLAND = Address(
    name="Jane Doe", line1="500 SW Market St", city="Portland", region="OR",
    postal_code="97204", country_code="US",
)  # fmt: skip
LANTERN = "LANTERN-LED-2"
STOVE = "STOVE-CANISTER-1"
WORKFLOW = Actor(kind="workflow", id="fulfillment")


def _version(
    minutes: int,
    *,
    payment: PaymentState = PaymentState.PAID,
    refunded: Sequence[tuple[str, int]] | None = (),
    refunded_total: str = "0",
    gift_card: bool = False,
) -> StorefrontOrder:
    """The storefront's order ``minutes`` after its first version: line 1 two lanterns, line
    2 one stove; ``refunded`` the units refunded per line id so far (None: not said)."""
    at = FIRST + timedelta(minutes=minutes)
    ready = payment in (PaymentState.PAID, PaymentState.PARTIALLY_REFUNDED)
    return StorefrontOrder(
        platform=Platform.SHOPIFY, store=SHOP, storefront_order_id="6100200399",
        order_number="#1043", version=epoch_ms(at), storefront_updated_at=at, payment=payment,
        ready_to_fulfil=ready, shipping_address=PORTLAND,
        lines=(
            OrderLine(line_id="1", sku=LANTERN, quantity=2),
            OrderLine(line_id="2", sku=STOVE, quantity=1),
        ),
        other_lines=(
            (OtherLine(line_id="3", kind=LineKind.NOT_SHIPPED, title="Gift card", quantity=1),)
            if gift_card else ()
        ),
        refunded_lines=None if refunded is None else tuple(
            RefundedLine(line_id=line_id, quantity=q) for line_id, q in refunded
        ),
        refunded_total=Decimal(refunded_total),
    )  # fmt: skip


class Storefront:
    """Acme's Shopify store sending versions of one order; the workflow's steps by hand."""

    def __init__(self, client: ClientConfig, workflow: RecordingWorkflow) -> None:
        self.client, self.workflow = client, workflow
        self.clock = SettableClock(FIRST)
        self.repo = InMemoryOrderRepository()
        for sku in (LANTERN, STOVE):
            self.repo.inventory.receive_stock(
                client.client_id, sku, WAREHOUSE, "-", 10, "E-01-1", None
            )
        self.store: StoreConfig = next(s for s in client.stores if s.platform is Platform.SHOPIFY)
        self.ctx = StepContext(
            self.repo, self.clock, client, CarrierStub(), NotifierRecorder(),
            self.repo.inventory, RecordingWarehouseChannel(),
        )  # fmt: skip

    def send(self, incoming: StorefrontOrder) -> IngestResult:
        heard = incoming.storefront_updated_at + timedelta(seconds=1)
        if heard > self.clock.now():
            self.clock.advance(heard - self.clock.now())
        return ingest_version(
            client=self.client, store=self.store, incoming=incoming, repo=self.repo,
            workflow=self.workflow, clock=self.clock, source="webhook",
        )  # fmt: skip

    def order(self, order_id: str) -> Order:
        found = self.repo.get(order_id)
        assert found is not None
        return found

    def reserve(self, order_id: str) -> Order:
        state = WorkflowState(order_id=order_id, client_id=self.client.client_id)
        validate_address(self.ctx, state)
        reserve_inventory(self.ctx, state)
        return self.order(order_id)

    def move(self, order: Order, to: OrderStatus, **changes: object) -> Order:
        """The workflow's later steps, in one hand-written transition."""
        return record(
            self.repo, self.clock, self.client, order, action=AuditAction.PACK_REQUESTED,
            actor=WORKFLOW, to_status=to, changes=changes,  # type: ignore[arg-type]
            detail={"reason": "the test's own step"},
        )  # fmt: skip

    def units(self, sku: str) -> tuple[int, int]:
        (lot,) = self.repo.inventory.stock_of(self.client.client_id, sku)
        return lot.available, lot.reserved


@pytest.fixture
def shop(acme: ClientConfig, workflow: RecordingWorkflow) -> Storefront:
    return Storefront(acme, workflow)


def test_part_of_a_line_refunded_before_picking_leaves_the_rest_to_pick(shop: Storefront) -> None:
    # Given a paid order with its picker assigned: two lanterns and a stove reserved, on the
    # pick list
    order_id = shop.send(_version(0)).order_id
    shop.reserve(order_id)
    assign_picker(shop.ctx, WorkflowState(order_id=order_id, client_id="acme-outdoors"))
    assert shop.units(LANTERN) == (8, 2)

    # When the storefront refunds one of the two lanterns
    result = shop.send(_version(5, payment=PaymentState.PARTIALLY_REFUNDED, refunded=[("1", 1)]))

    # Then one lantern is left to pick, the other is available again, the pick list says one,
    # and the trail names the line and the unit
    order = shop.order(order_id)
    assert (result.outcome, order.status) == (IngestOutcome.UPDATED, OrderStatus.PICKER_ASSIGNED)
    assert [(ln.sku, ln.quantity) for ln in order.lines] == [(LANTERN, 1), (STOVE, 1)]
    assert shop.units(LANTERN) == (9, 1) and shop.units(STOVE) == (9, 1)
    assert order.pick_list is not None
    assert sorted((e.sku, e.quantity) for e in order.pick_list.entries) == [
        (LANTERN, 1), (STOVE, 1),
    ]  # fmt: skip
    assert order.refunded_lines == (RefundedLine(line_id="1", quantity=1),)
    event = shop.repo.audit_trail(order_id)[-1]
    assert event.action is AuditAction.LINES_REFUNDED
    assert event.detail["outcome"] == "removed"
    assert event.detail["refunded"] == [{"line_id": "1", "sku": LANTERN, "quantity": 1}]
    assert "removed_lines" not in event.detail
    assert [(s["sku"], s["quantity"]) for s in event.detail["stock_released"]] == [(LANTERN, 1)]

    # When a later version restates the same refund (an unrelated edit)
    shop.send(_version(9, payment=PaymentState.PARTIALLY_REFUNDED, refunded=[("1", 1)]))

    # Then nothing more is taken off or released
    assert [ln.quantity for ln in shop.order(order_id).lines] == [1, 1]
    assert shop.units(LANTERN) == (9, 1)


def test_a_refund_of_every_unit_to_ship_ends_the_order_as_a_cancel_does(
    shop: Storefront,
) -> None:
    # Given a paid order whose lines are reserved
    order_id = shop.send(_version(0)).order_id
    shop.reserve(order_id)

    # When the storefront refunds every unit (the shipping charge kept: partly refunded)
    shop.send(_version(5, payment=PaymentState.PARTIALLY_REFUNDED, refunded=[("1", 2), ("2", 1)]))

    # Then the order is cancelled, its stock back, the trail naming the refunded units
    order = shop.order(order_id)
    assert (order.status, order.reservation) == (OrderStatus.CANCELLED, ())
    assert shop.units(LANTERN) == (10, 0) and shop.units(STOVE) == (10, 0)
    event = shop.repo.audit_trail(order_id)[-1]
    assert (event.action, event.to_status) == (AuditAction.ORDER_CANCELLED, OrderStatus.CANCELLED)
    assert event.detail["note"] == "refunded of every unit to ship"
    assert [(r["sku"], r["quantity"]) for r in event.detail["refunded"]] == [
        (LANTERN, 2), (STOVE, 1),
    ]  # fmt: skip


def test_a_refund_after_picking_holds_the_order_for_a_person_and_stops_the_wait(
    shop: Storefront,
) -> None:
    # Given a paid order picked and waiting for its pack data on a task token
    order_id = shop.send(_version(0)).order_id
    reserved = shop.reserve(order_id)
    shop.workflow.wait("pack-token")
    shop.move(reserved, OrderStatus.AWAITING_PACK, task_token="pack-token", awaiting="pack_data")

    # When the storefront refunds the stove
    shop.send(_version(5, payment=PaymentState.PARTIALLY_REFUNDED, refunded=[("2", 1)]))

    # Then nothing is taken off silently: the lines and stock stay, the refund is unsettled,
    # and the wait is failed as a payment mismatch (its Catch opens the exception)
    order = shop.order(order_id)
    assert [ln.quantity for ln in order.lines] == [2, 1]
    assert shop.units(STOVE) == (9, 1)
    assert order.refund_unsettled is not None and "STOVE-CANISTER-1" in order.refund_unsettled
    outcome = shop.workflow.outcomes["pack-token"]
    assert (outcome.succeeded, outcome.error) == (False, "PaymentMismatch")
    event = shop.repo.audit_trail(order_id)[-1]
    assert (event.action, event.detail["outcome"]) == (AuditAction.LINES_REFUNDED, "held")
    # and every later step stops on it until a person settles it
    with pytest.raises(PaymentMismatch):
        validate_address(shop.ctx, WorkflowState(order_id=order_id, client_id="acme-outdoors"))


def test_a_refund_of_a_line_with_nothing_to_ship_after_picking_holds_nothing(
    shop: Storefront,
) -> None:
    # Given a paid order with a gift card beside its lines, picked and waiting for its pack
    order_id = shop.send(_version(0, gift_card=True)).order_id
    reserved = shop.reserve(order_id)
    shop.workflow.wait("pack-token")
    shop.move(reserved, OrderStatus.AWAITING_PACK, task_token="pack-token", awaiting="pack_data")

    # When the storefront refunds the gift card
    shop.send(
        _version(5, payment=PaymentState.PARTIALLY_REFUNDED, refunded=[("3", 1)], gift_card=True)
    )

    # Then the gift card leaves the order and nothing in the parcel changes: no mismatch, the
    # wait goes on
    order = shop.order(order_id)
    assert (order.other_lines, order.refund_unsettled) == ((), None)
    assert [ln.quantity for ln in order.lines] == [2, 1]
    assert "pack-token" not in shop.workflow.outcomes
    event = shop.repo.audit_trail(order_id)[-1]
    assert (event.action, event.detail["outcome"]) == (AuditAction.LINES_REFUNDED, "removed")
    assert event.detail["removed_lines"] == ["3"]


def test_a_refund_after_shipping_is_recorded_and_undoes_nothing(
    shop: Storefront, acme: ClientConfig
) -> None:
    # Given an order that shipped, its stock used
    order_id = shop.send(_version(0)).order_id
    reserved = shop.reserve(order_id)
    record(
        shop.repo, shop.clock, acme, reserved, action=AuditAction.SHIPPED, actor=WORKFLOW,
        to_status=OrderStatus.SHIPPED, changes={"stock_consumed": True},
        writes=inventory.consume(reserved),
        detail={"carrier": "ups", "service": "GROUND", "tracking_number": "1ZSANDBOX0000002"},
    )  # fmt: skip

    # When the storefront refunds a lantern after that
    shop.send(_version(60, payment=PaymentState.PARTIALLY_REFUNDED, refunded=[("1", 1)]))

    # Then the order stays shipped with its lines, stock unchanged, the refund recorded
    order = shop.order(order_id)
    assert (order.status, [ln.quantity for ln in order.lines]) == (OrderStatus.SHIPPED, [2, 1])
    assert order.refund_unsettled is None
    assert shop.units(LANTERN) == (8, 0)
    event = shop.repo.audit_trail(order_id)[-1]
    assert (event.action, event.detail["outcome"]) == (AuditAction.LINES_REFUNDED, "recorded")


def test_a_refund_whose_lines_are_not_stated_is_held_even_before_picking(
    shop: Storefront,
) -> None:
    # Given a paid order whose lines are reserved
    order_id = shop.send(_version(0)).order_id
    shop.reserve(order_id)

    # When the storefront says 10.00 was refunded, not for which lines
    shop.send(_version(5, payment=PaymentState.PARTIALLY_REFUNDED, refunded=None,
                       refunded_total="10.00"))  # fmt: skip

    # Then nothing is taken off; a person decides
    order = shop.order(order_id)
    assert [ln.quantity for ln in order.lines] == [2, 1]
    assert order.refund_unsettled is not None
    assert "without saying which lines" in order.refund_unsettled


def test_partly_paid_waits_and_an_authorization_starts_a_client_that_fulfils_on_it(
    acme: ClientConfig, workflow: RecordingWorkflow
) -> None:
    # Given a client that fulfils on authorization
    client = acme.model_copy(
        update={"fulfilment": acme.fulfilment.model_copy(update={"fulfil_on": FulfilOn.AUTHORIZED})}
    )
    shop = Storefront(client, workflow)

    # When a partly paid order arrives
    waiting = shop.send(_version(0, payment=PaymentState.PARTIALLY_PAID))

    # Then it waits in PARTIALLY_PAID with that status's owner, not started
    order = shop.order(waiting.order_id)
    assert (order.status, order.owner, order.pending_start) == (
        OrderStatus.PARTIALLY_PAID, client.owner_of(OrderStatus.PARTIALLY_PAID), False,
    )  # fmt: skip
    assert workflow.executions == {}

    # When a later version says the payment is authorized
    started = shop.send(_version(5, payment=PaymentState.AUTHORIZED))

    # Then the authorization starts it
    assert started.status is OrderStatus.ACCEPTED
    assert list(workflow.executions) == [waiting.order_id]
