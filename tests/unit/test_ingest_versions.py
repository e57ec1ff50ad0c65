"""One order's versions as the storefront sends them, through ``ingest_version`` (the path
every webhook and every reconciliation read takes), every port an in-memory fake.

The storefront's versions arrive at least once and in any order. Each test tells one order's
story: what each version became (created, updated, duplicate, stale), what a newer version
changes on the record and in the trail, and what a cancellation gives back (stock, a waiting
exception, the workflow's wait) at whatever point of fulfilment it arrives.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from shipshape.audit import AuditAction
from shipshape.config import ClientConfig, StoreConfig
from shipshape.errors import ConcurrentUpdate
from shipshape.models import (
    Actor,
    Address,
    AuditEvent,
    ExceptionStatus,
    Order,
    OrderException,
    OrderLine,
    OrderStatus,
    PaymentState,
    Platform,
    SideWrite,
    StorefrontOrder,
)
from shipshape.services import inventory
from shipshape.services.exceptions import OpenExceptionRequest, open_exception
from shipshape.services.fulfillment import (
    StepContext,
    WorkflowState,
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
STOREFRONT_ID = "6100200300"
STOREFRONT = Actor(kind="storefront", id=f"shopify:{SHOP}")
WAREHOUSE = "pdx-1"
FIRST = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
# How long after the storefront's change Shipshape hears of it (not a round number, so the
# recorded lag shows its rounding to the millisecond).
LAG = timedelta(seconds=1, microseconds=234_567)
PORTLAND = Address(
    name="Jane Doe", line1="500 SW Market St", city="Portland", region="OR",
    postal_code="97204", country_code="US",
)  # fmt: skip
APARTMENT = PORTLAND.model_copy(update={"line2": "Apt 3B"})
LANTERN = "LANTERN-LED-2"
STOVE = "STOVE-CANISTER-1"


def _version(
    minutes: int,
    *,
    payment: PaymentState = PaymentState.PAID,
    cancelled: bool = False,
    address: Address = PORTLAND,
    lines: Sequence[tuple[str, int]] = ((LANTERN, 2), (STOVE, 1)),
) -> StorefrontOrder:
    """The storefront's order as changed ``minutes`` after its first version."""
    at = FIRST + timedelta(minutes=minutes)
    return StorefrontOrder(
        platform=Platform.SHOPIFY, store=SHOP, storefront_order_id=STOREFRONT_ID,
        order_number="#1042", version=epoch_ms(at), storefront_updated_at=at, payment=payment,
        ready_to_fulfil=payment is PaymentState.PAID and not cancelled, cancelled=cancelled,
        shipping_address=address,
        lines=tuple(
            OrderLine(line_id=str(n), sku=sku, quantity=quantity)
            for n, (sku, quantity) in enumerate(lines, 1)
        ),
    )  # fmt: skip


class Storefront:
    """Acme's Shopify store sending versions of one order to Shipshape."""

    def __init__(
        self,
        acme: ClientConfig,
        repo: InMemoryOrderRepository,
        workflow: RecordingWorkflow,
        clock: SettableClock,
    ) -> None:
        self.acme, self.repo, self.workflow, self.clock = acme, repo, workflow, clock
        self.store: StoreConfig = next(s for s in acme.stores if s.platform is Platform.SHOPIFY)
        self.ctx = StepContext(
            repo, clock, acme, CarrierStub(), NotifierRecorder(), repo.inventory,
            RecordingWarehouseChannel(),
        )  # fmt: skip

    def send(
        self,
        incoming: StorefrontOrder,
        *,
        source: str = "webhook",
        exceptions: InMemoryOrderRepository | None = None,
        repo: InMemoryOrderRepository | None = None,
    ) -> IngestResult:
        """Shipshape hears of ``incoming`` ``LAG`` after it was made (or now, if later)."""
        heard = incoming.storefront_updated_at + LAG
        if heard > self.clock.now():
            self.clock.advance(heard - self.clock.now())
        return ingest_version(
            client=self.acme, store=self.store, incoming=incoming, repo=repo or self.repo,
            workflow=self.workflow, clock=self.clock, source=source,
        )  # fmt: skip

    def order(self, order_id: str) -> Order:
        found = self.repo.get(order_id)
        assert found is not None
        return found

    def reserve(self, order_id: str) -> Order:
        """The workflow's first steps: the address checked, the lines' stock reserved."""
        state = WorkflowState(order_id=order_id, client_id=self.acme.client_id)
        validate_address(self.ctx, state)
        reserve_inventory(self.ctx, state)
        order = self.order(order_id)
        assert order.status is OrderStatus.RESERVED, order.status
        return order

    def fail_pre_pick_qa(self, order_id: str, token: str) -> OrderException:
        """Pre-pick QA refused the order: an owned exception waits for a person on ``token``."""
        self.workflow.wait(token)
        return open_exception(
            repo=self.repo, clock=self.clock, client=self.acme,
            notifier=NotifierRecorder(),
            request=OpenExceptionRequest(
                order_id=order_id, client_id=self.acme.client_id, failed_step="PrePickQA",
                task_token=token, error={"Error": "QaFailed", "Cause": "lantern lot recalled"},
            ),
        )  # fmt: skip

    def units(self, sku: str) -> tuple[int, int]:
        (lot,) = self.repo.inventory.stock_of(self.acme.client_id, sku)
        return lot.available, lot.reserved

    def actions(self, order_id: str) -> list[str]:
        return [e.action for e in self.repo.audit_trail(order_id)]


def _stocked(*skus: str, units: int = 10) -> InMemoryOrderRepository:
    repo = InMemoryOrderRepository()
    for sku in skus:
        repo.inventory.receive_stock("acme-outdoors", sku, WAREHOUSE, "-", units, "E-01-1", None)
    return repo


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(FIRST)


@pytest.fixture
def shop(acme: ClientConfig, workflow: RecordingWorkflow, clock: SettableClock) -> Storefront:
    return Storefront(acme, _stocked(LANTERN, STOVE), workflow, clock)


# --- what each version became ---------------------------------------------------------------


def test_each_version_is_answered_with_what_became_of_it(shop: Storefront) -> None:
    # Given an order created unpaid, then paid
    pending, paid = _version(0, payment=PaymentState.PENDING), _version(5)
    created = shop.send(pending)
    updated = shop.send(paid)

    # When the paid version is delivered again, and then the first one, late
    duplicate = shop.send(paid)
    stale = shop.send(pending)

    # Then each answer says what happened, with the status the order has after it
    order_id = created.order_id
    assert [(r.order_id, r.outcome, r.status, r.detail) for r in (created, updated)] == [
        (order_id, IngestOutcome.CREATED, OrderStatus.RECEIVED, "order recorded"),
        (order_id, IngestOutcome.UPDATED, OrderStatus.ACCEPTED, "order updated"),
    ]
    assert (duplicate.order_id, duplicate.outcome, duplicate.status, duplicate.detail) == (
        order_id,
        IngestOutcome.DUPLICATE,
        OrderStatus.ACCEPTED,
        f"version {paid.version} is already recorded; nothing changed",
    )
    assert (stale.order_id, stale.outcome, stale.status, stale.detail) == (
        order_id,
        IngestOutcome.STALE,
        OrderStatus.ACCEPTED,
        f"version {pending.version} is older than the recorded version {paid.version}; "
        "nothing changed",
    )
    # And only the two new versions are in the trail
    assert shop.actions(order_id) == ["order_received", "fulfilment_requested"]


def test_a_newer_version_is_what_later_versions_are_compared_with(shop: Storefront) -> None:
    # Given an order whose address the merchant edited twice (versions at 0, 10 and 20 minutes)
    first, between, latest = _version(0), _version(10), _version(20, address=APARTMENT)
    order_id = shop.send(first).order_id
    assert shop.send(latest).outcome is IngestOutcome.UPDATED

    # When the version from between them arrives late, and the latest is delivered again
    late = shop.send(between)
    again = shop.send(latest)

    # Then the record holds the latest version: the one in between is stale (it would undo the
    # edit), the latest's redelivery a duplicate
    assert (late.outcome, again.outcome) == (IngestOutcome.STALE, IngestOutcome.DUPLICATE)
    order = shop.order(order_id)
    assert (order.version, order.storefront_updated_at) == (
        latest.version,
        latest.storefront_updated_at,
    )
    assert order.shipping_address == APARTMENT
    assert shop.actions(order_id) == ["order_received", "storefront_updated"]


def test_the_trail_records_each_versions_numbers_lag_and_how_it_arrived(
    shop: Storefront,
) -> None:
    # Given an order first read from the storefront's API by reconciliation
    first = _version(0)
    order_id = shop.send(first, source="reconciliation").order_id

    # When its address edit is read the same way, heard of LAG after the edit
    edited = _version(7, address=APARTMENT)
    shop.send(edited, source="reconciliation")

    # Then both events say how the version arrived; the update names the versions, what changed
    # and how late Shipshape heard of it, to the millisecond
    created, updated = shop.repo.audit_trail(order_id)
    assert created.detail["source"] == "reconciliation"
    assert (updated.action, updated.actor) == ("storefront_updated", STOREFRONT)
    assert updated.detail == {
        "version": edited.version,
        "previous_version": first.version,
        "changed": ["shipping_address"],
        "sync_lag_seconds": 1.235,
        "source": "reconciliation",
    }


# --- cancellations ------------------------------------------------------------------------


def test_a_cancellation_gives_the_reserved_stock_back_with_the_status_change(
    shop: Storefront,
) -> None:
    # Given a paid order whose lines are reserved
    order_id = shop.send(_version(0)).order_id
    shop.reserve(order_id)
    assert (shop.units(LANTERN), shop.units(STOVE)) == ((8, 2), (9, 1))

    # When the storefront cancels it
    result = shop.send(_version(30, cancelled=True))

    # Then the order is cancelled and every unit is available again, in the cancel's event
    assert (result.outcome, result.status) == (IngestOutcome.UPDATED, OrderStatus.CANCELLED)
    order = shop.order(order_id)
    assert (order.status, order.reservation) == (OrderStatus.CANCELLED, ())
    assert (shop.units(LANTERN), shop.units(STOVE)) == ((10, 0), (10, 0))
    event = shop.repo.audit_trail(order_id)[-1]
    assert (event.action, event.from_status, event.to_status) == (
        "order_cancelled",
        OrderStatus.RESERVED,
        OrderStatus.CANCELLED,
    )
    assert sorted((s["sku"], s["quantity"]) for s in event.detail["stock_released"]) == [
        (LANTERN, 2),
        (STOVE, 1),
    ]


def test_an_order_cancelled_before_its_workflow_started_is_not_started_later(
    shop: Storefront,
) -> None:
    # Given a paid order whose workflow start failed, so the reconciler would start it
    shop.workflow.fail_next_starts(1)
    order_id = shop.send(_version(0)).order_id
    assert shop.repo.pending_starts(shop.clock.now() + timedelta(hours=1), 10) == [order_id]

    # When the storefront cancels it
    shop.send(_version(3, cancelled=True))

    # Then nothing is left for the reconciler to start
    assert shop.order(order_id).pending_start is False
    assert shop.repo.pending_starts(shop.clock.now() + timedelta(hours=1), 10) == []
    assert shop.workflow.executions == {}


def test_a_cancellation_after_shipping_is_recorded_and_changes_nothing(
    shop: Storefront, acme: ClientConfig
) -> None:
    # Given an order that shipped, its stock used
    order_id = shop.send(_version(0)).order_id
    reserved = shop.reserve(order_id)
    record(
        shop.repo, shop.clock, acme, reserved, action=AuditAction.SHIPPED,
        actor=Actor(kind="workflow", id="fulfillment"), to_status=OrderStatus.SHIPPED,
        changes={"stock_consumed": True}, writes=inventory.consume(reserved),
        detail={"carrier": "ups", "service": "GROUND", "tracking_number": "1ZSANDBOX0000001"},
    )  # fmt: skip
    stock_before = (shop.units(LANTERN), shop.units(STOVE))

    # When the storefront's cancellation arrives after that
    result = shop.send(_version(60, cancelled=True))

    # Then the order stays shipped, nothing comes back to stock, and the trail says why
    assert (result.outcome, result.status) == (IngestOutcome.UPDATED, OrderStatus.SHIPPED)
    assert shop.order(order_id).status is OrderStatus.SHIPPED
    assert (shop.units(LANTERN), shop.units(STOVE)) == stock_before == ((8, 0), (9, 0))
    event = shop.repo.audit_trail(order_id)[-1]
    assert (event.action, event.from_status, event.to_status) == ("storefront_updated", None, None)
    assert event.detail["note"] == "cancellation arrived after the order was SHIPPED"


def test_a_change_after_fulfilment_started_is_recorded_but_not_applied(
    shop: Storefront,
) -> None:
    # Given a reserved order
    order_id = shop.send(_version(0)).order_id
    reserved = shop.reserve(order_id)

    # When the merchant changes the address and a line's quantity
    edited = _version(15, address=APARTMENT, lines=((LANTERN, 5), (STOVE, 1)))
    result = shop.send(edited)

    # Then the new version is recorded, but what is picked and where it goes stay as they were
    # until an operator applies them; the stock held is the same
    assert (result.outcome, result.status) == (IngestOutcome.UPDATED, OrderStatus.RESERVED)
    order = shop.order(order_id)
    assert order.version == edited.version
    assert (order.shipping_address, order.lines) == (PORTLAND, reserved.lines)
    assert order.reservation == reserved.reservation
    assert shop.units(LANTERN) == (8, 2)
    event = shop.repo.audit_trail(order_id)[-1]
    assert event.detail["changed"] == []
    assert event.detail["not_applied"] == ["lines", "shipping_address"]
    assert event.detail["not_applied_reason"] == (
        "fulfilment has started; an operator must apply them"
    )


def test_a_cancellation_closes_the_exception_that_waits_for_a_person(
    shop: Storefront, clock: SettableClock
) -> None:
    # Given a reserved order whose pre-pick QA failed: an exception waits for QA on a token
    order_id = shop.send(_version(0)).order_id
    shop.reserve(order_id)
    opened = shop.fail_pre_pick_qa(order_id, "token-qa-1")
    assert shop.order(order_id).status is OrderStatus.EXCEPTION

    # When the storefront cancels the order
    result = shop.send(_version(45, cancelled=True))

    # Then the order is cancelled with its exception closed, in one write with its stock
    assert (result.outcome, result.status) == (IngestOutcome.UPDATED, OrderStatus.CANCELLED)
    order = shop.order(order_id)
    assert (order.status, order.owner) == (OrderStatus.CANCELLED, "client-success")
    assert order.open_exception_id is None
    assert order.reservation == ()
    assert (shop.units(LANTERN), shop.units(STOVE)) == ((10, 0), (10, 0))
    closed = shop.repo.get_exception(opened.exception_id)
    assert closed is not None
    assert (closed.status, closed.version) == (ExceptionStatus.RESOLVED, opened.version + 1)
    assert (closed.resolved_by, closed.resolved_at) == (STOREFRONT.id, clock.now())
    assert closed.resolution == {"action": "cancel", "note": "cancelled by the storefront"}
    assert closed.task_token is None
    # And one audit event, from the storefront, records both
    event = shop.repo.audit_trail(order_id)[-1]
    assert (event.action, event.actor, event.from_status, event.to_status, event.owner) == (
        "order_cancelled",
        STOREFRONT,
        OrderStatus.EXCEPTION,
        OrderStatus.CANCELLED,
        "client-success",
    )
    assert event.detail["closed_exception"] == opened.exception_id
    assert event.detail["source"] == "webhook"
    # And the exception's wait is interrupted with the error the state machine catches
    outcome = shop.workflow.outcomes["token-qa-1"]
    assert (outcome.succeeded, outcome.error) == (False, "OrderCancelled")


def test_a_storefront_edit_while_an_exception_waits_leaves_it_to_its_owner(
    shop: Storefront,
) -> None:
    # Given a paid order whose exception waits for QA
    order_id = shop.send(_version(0)).order_id
    shop.reserve(order_id)
    opened = shop.fail_pre_pick_qa(order_id, "token-qa-2")

    # When the storefront sends an edit that is not a cancellation, with and without the
    # exception store at hand
    shop.send(_version(20, address=APARTMENT))
    shop.send(_version(25, address=PORTLAND))

    # Then the exception is still open, the order still waits on it, the edits are recorded
    still = shop.repo.get_exception(opened.exception_id)
    assert still == opened
    order = shop.order(order_id)
    assert (order.status, order.open_exception_id) == (OrderStatus.EXCEPTION, opened.exception_id)
    assert shop.actions(order_id)[-2:] == ["storefront_updated", "storefront_updated"]
    assert "token-qa-2" not in shop.workflow.outcomes


# --- orders that hold more stock lots than one transaction ------------------------------------

MANY = [f"BEAD-{n:03d}" for n in range(inventory.MAX_SIDE_WRITES + 2)]


@pytest.fixture
def bead_shop(acme: ClientConfig, workflow: RecordingWorkflow, clock: SettableClock) -> Storefront:
    return Storefront(acme, _stocked(*MANY, units=1), workflow, clock)


def test_a_cancellation_of_an_order_holding_too_many_lots_gives_them_back_in_groups_first(
    bead_shop: Storefront,
) -> None:
    # Given a reserved order holding one unit of each of 99 lots (more than one transaction
    # writes with the order and its event)
    order_id = bead_shop.send(_version(0, lines=[(sku, 1) for sku in MANY])).order_id
    bead_shop.reserve(order_id)
    assert all(bead_shop.units(sku) == (0, 1) for sku in MANY)

    # When the storefront cancels it
    result = bead_shop.send(_version(30, cancelled=True, lines=[(sku, 1) for sku in MANY]))

    # Then a group of lots went back ahead of the cancel, the rest with it: all stock is back
    assert result.status is OrderStatus.CANCELLED
    assert bead_shop.actions(order_id)[-2:] == ["stock_released_in_part", "order_cancelled"]
    part = bead_shop.repo.audit_trail(order_id)[-2]
    assert part.actor == STOREFRONT
    assert len(part.detail["stock_released"]) == inventory.MAX_SIDE_WRITES
    assert all(bead_shop.units(sku) == (1, 0) for sku in MANY)
    assert bead_shop.order(order_id).reservation == ()


def test_an_edit_of_an_order_holding_many_lots_gives_nothing_back(
    bead_shop: Storefront,
) -> None:
    # Given the same reserved order of 99 lots
    order_id = bead_shop.send(_version(0, lines=[(sku, 1) for sku in MANY])).order_id
    reserved = bead_shop.reserve(order_id)

    # When the storefront sends an edit that does not cancel it
    bead_shop.send(_version(30, address=APARTMENT, lines=[(sku, 1) for sku in MANY]))

    # Then every unit is still held for it, and the trail holds the edit only
    assert bead_shop.order(order_id).reservation == reserved.reservation
    assert all(bead_shop.units(sku) == (0, 1) for sku in MANY)
    assert bead_shop.actions(order_id)[-1] == "storefront_updated"
    assert "stock_released_in_part" not in bead_shop.actions(order_id)


# --- races with other writers -------------------------------------------------------------


class CreatedMeanwhile(InMemoryOrderRepository):
    """Between this delivery's first read and its create, another delivery creates the order,
    its workflow reserves it and its pre-pick QA opens an exception."""

    def __init__(self, shop: Storefront) -> None:
        super().__init__()
        self.shop = shop
        self.raced = False

    def get(self, order_id: str) -> Order | None:
        found = super().get(order_id)
        if found is None and not self.raced:
            self.raced = True
            self.shop.send(_version(0), repo=self)
            self.shop.reserve(order_id)
            self.shop.fail_pre_pick_qa(order_id, "token-qa-race")
        return found


def test_a_cancellation_that_loses_the_create_race_decides_again_on_what_is_there(
    acme: ClientConfig, workflow: RecordingWorkflow, clock: SettableClock
) -> None:
    # Given a cancellation whose first read finds no order, and an order that is created,
    # reserved and waits on an exception before the cancellation writes
    shop = Storefront(acme, InMemoryOrderRepository(), workflow, clock)
    repo = CreatedMeanwhile(shop)
    for sku in (LANTERN, STOVE):
        repo.inventory.receive_stock("acme-outdoors", sku, WAREHOUSE, "-", 10, "E-01-1", None)
    shop.repo = repo
    shop.ctx = StepContext(
        repo, clock, acme, CarrierStub(), NotifierRecorder(), repo.inventory,
        RecordingWarehouseChannel(),
    )  # fmt: skip

    # When the cancellation (read by reconciliation) is recorded
    result = shop.send(_version(40, cancelled=True), source="reconciliation")

    # Then it was decided against what the other delivery wrote: the order is cancelled, its
    # exception closed, its stock back, its wait interrupted
    assert (result.outcome, result.status) == (IngestOutcome.UPDATED, OrderStatus.CANCELLED)
    order = shop.order(result.order_id)
    assert (order.status, order.open_exception_id) == (OrderStatus.CANCELLED, None)
    exception_id = f"{result.order_id}.e1"
    closed = repo.get_exception(exception_id)
    assert closed is not None and closed.status is ExceptionStatus.RESOLVED
    assert (shop.units(LANTERN), shop.units(STOVE)) == ((10, 0), (10, 0))
    event = repo.audit_trail(result.order_id)[-1]
    assert event.action == "order_cancelled"
    assert (event.detail["source"], event.detail["closed_exception"]) == (
        "reconciliation",
        exception_id,
    )
    assert workflow.outcomes["token-qa-race"].error == "OrderCancelled"


class BusyOrder(InMemoryOrderRepository):
    """Another writer (the workflow telling the customer) writes to the order just before
    each of the next ``losses`` writes, so each of them loses the race."""

    def __init__(self, acme: ClientConfig, clock: SettableClock, losses: int) -> None:
        super().__init__()
        self.acme, self.clock, self.losses = acme, clock, losses

    def apply(
        self, order: Order, event: AuditEvent, expected_seq: int, writes: Sequence[SideWrite] = ()
    ) -> None:
        if self.losses and event.action is not AuditAction.CUSTOMER_NOTIFIED:
            self.losses -= 1
            current = self.get(order.order_id)
            assert current is not None
            record(
                self, self.clock, self.acme, current, action=AuditAction.CUSTOMER_NOTIFIED,
                actor=Actor(kind="workflow", id="fulfillment"), detail={"channel": "email"},
            )  # fmt: skip
        super().apply(order, event, expected_seq, writes)


@pytest.mark.parametrize(("losses", "recorded"), [(4, True), (5, False)])
def test_a_version_that_keeps_losing_the_write_race_gives_up_after_five_tries(
    acme: ClientConfig,
    workflow: RecordingWorkflow,
    clock: SettableClock,
    losses: int,
    recorded: bool,
) -> None:
    # Given a recorded order, and another writer that wins the next ``losses`` races
    busy = BusyOrder(acme, clock, losses=0)
    shop = Storefront(acme, busy, workflow, clock)
    order_id = shop.send(_version(0)).order_id
    busy.losses = losses
    edited = _version(10, address=APARTMENT)

    # When the storefront's edit is recorded
    if recorded:
        result = shop.send(edited)
    else:
        with pytest.raises(ConcurrentUpdate):
            shop.send(edited)

    # Then it is read and decided again after each lost race, up to five times in all: the
    # fifth loss answers "try again" (the platform redelivers) with the edit not written
    order = shop.order(order_id)
    notices = shop.actions(order_id).count("customer_notified")
    assert notices == losses
    if recorded:
        assert result.outcome is IngestOutcome.UPDATED
        assert (order.version, order.shipping_address) == (edited.version, APARTMENT)
    else:
        assert (order.version, order.shipping_address) == (_version(0).version, PORTLAND)
        assert "storefront_updated" not in shop.actions(order_id)
