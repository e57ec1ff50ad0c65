"""Orders waiting for stock (Acme's backorder policy), through the workflow's steps on the
in-memory fakes: what the trail says was reserved and is short, the place each order takes in
a SKU's queue, and that a cancelled order leaves the queue and gives back what it held."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shipshape.config import ClientConfig
from shipshape.models import (
    Order,
    OrderLine,
    OrderStatus,
    PaymentState,
    Platform,
)
from shipshape.services.exceptions import OpenExceptionRequest, open_exception
from shipshape.services.fulfillment import (
    CancelRequest,
    StepContext,
    WorkflowState,
    cancel_order,
    reserve_inventory,
)
from tests.builders import received_event
from tests.fakes import (
    CarrierStub,
    InMemoryOrderRepository,
    NotifierRecorder,
    RecordingWarehouseChannel,
    SettableClock,
)

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
CLIENT = "acme-outdoors"
ORDER_ID = "ord_" + "d" * 20
WH = "pdx-1"
STOVE = "STOVE-CANISTER-1"
FUEL = "FUEL-CANISTER-230"


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(NOW)


@pytest.fixture
def shelves() -> InMemoryOrderRepository:
    """One stove and no fuel on the shelves."""
    repo = InMemoryOrderRepository()
    repo.inventory.receive_stock(CLIENT, STOVE, WH, "-", 1, "F-02-1", None)
    repo.inventory.receive_stock(CLIENT, FUEL, WH, "-", 0, "F-03-1", None)
    return repo


def _ctx(repo: InMemoryOrderRepository, clock: SettableClock, acme: ClientConfig) -> StepContext:
    return StepContext(
        repo, clock, acme, CarrierStub(), NotifierRecorder(), repo.inventory,
        RecordingWarehouseChannel(),
    )  # fmt: skip


def _validated(
    repo: InMemoryOrderRepository, *lines: tuple[str, int], **update: object
) -> WorkflowState:
    """An order whose address was validated, next in line for its reservation."""
    order = Order(
        order_id=ORDER_ID, client_id=CLIENT, platform=Platform.SHOPIFY,
        store="acme-outdoors.myshopify.com", storefront_order_id="77", version=1,
        storefront_updated_at=NOW, received_at=NOW, payment=PaymentState.PAID,
        lines=tuple(
            OrderLine(line_id=f"l{n}", sku=sku, quantity=quantity)
            for n, (sku, quantity) in enumerate(lines, 1)
        ),
        status=OrderStatus.ADDRESS_VALIDATED, owner="ops", rules_version="1", audit_seq=1,
        warehouse=WH,
    ).model_copy(update=update)  # fmt: skip
    repo.create(order, received_event(order, at=NOW))
    return WorkflowState(order_id=ORDER_ID, client_id=CLIENT)


def _stored(repo: InMemoryOrderRepository) -> Order:
    order = repo.get(ORDER_ID)
    assert order is not None
    return order


def _units(repo: InMemoryOrderRepository, sku: str) -> tuple[int, int]:
    (lot,) = repo.inventory.stock_of(CLIENT, sku)
    return lot.available, lot.reserved


def test_the_trail_says_what_was_reserved_and_what_each_line_is_short(
    shelves: InMemoryOrderRepository, clock: SettableClock, acme: ClientConfig
) -> None:
    # Given an order for 2 stoves and 3 fuel canisters, with 1 stove and no fuel in stock
    state = _validated(shelves, (STOVE, 2), (FUEL, 3))

    # When its reservation runs
    outcome = reserve_inventory(_ctx(shelves, clock, acme), state)

    # Then it waits for stock, and its event names the lot taken and the units missing
    assert outcome.backordered
    event = shelves.audit_trail(ORDER_ID)[-1]
    assert (event.action, event.to_status) == ("backordered", OrderStatus.BACKORDERED)
    assert event.detail["reserved"] == [
        {"sku": STOVE, "warehouse": WH, "lot": "-", "bin": "F-02-1", "quantity": 1}
    ]
    assert event.detail["short"] == [
        {"line_id": "l1", "sku": STOVE, "quantity": 1},
        {"line_id": "l2", "sku": FUEL, "quantity": 3},
    ]
    assert _units(shelves, STOVE) == (0, 1)


def test_two_short_lines_of_one_sku_wait_as_one_place_for_their_total(
    shelves: InMemoryOrderRepository, clock: SettableClock, acme: ClientConfig
) -> None:
    # Given an order with two lines of fuel (3 and 2) and no fuel in stock
    state = _validated(shelves, (FUEL, 3), (FUEL, 2))

    # When its reservation runs
    reserve_inventory(_ctx(shelves, clock, acme), state)

    # Then it takes one place in the fuel queue, for all 5 units, from now
    (mark,) = shelves.inventory.backorders_of(CLIENT, FUEL, 10)
    assert (mark.order_id, mark.quantity, mark.since) == (ORDER_ID, 5, NOW)


def test_an_order_waiting_a_second_time_queues_from_its_second_wait(
    shelves: InMemoryOrderRepository, clock: SettableClock, acme: ClientConfig
) -> None:
    # Given an order that waited for fuel last week, was reserved in full, and is back for a
    # new reservation (a gate refused its lots): nothing held, nothing short
    last_week = NOW - timedelta(days=7)
    state = _validated(shelves, (FUEL, 2), status_timestamps={OrderStatus.BACKORDERED: last_week})

    # When its reservation finds no fuel
    reserve_inventory(_ctx(shelves, clock, acme), state)

    # Then it queues behind those already waiting: from now, not from last week
    (mark,) = shelves.inventory.backorders_of(CLIENT, FUEL, 10)
    assert mark.since == NOW
    assert _stored(shelves).status_timestamps[OrderStatus.BACKORDERED] == NOW


def test_cancelling_a_backordered_order_leaves_the_queue_and_gives_back_what_it_held(
    shelves: InMemoryOrderRepository, clock: SettableClock, acme: ClientConfig
) -> None:
    # Given a backordered order holding 1 stove and waiting for 1 more and for fuel
    state = _validated(shelves, (STOVE, 2), (FUEL, 3))
    ctx = _ctx(shelves, clock, acme)
    reserve_inventory(ctx, state)
    assert len(shelves.inventory.backorders_of(CLIENT, STOVE, 10)) == 1

    # When an operator's resolution cancels it
    clock.advance(timedelta(hours=2))
    cancel_order(
        ctx, CancelRequest(**state.model_dump(), actor="omar.operator", exception_id="none")
    )

    # Then it waits in no queue and the stove is available again
    assert _stored(shelves).status is OrderStatus.CANCELLED
    assert shelves.inventory.backorders_of(CLIENT, STOVE, 10) == []
    assert shelves.inventory.backorders_of(CLIENT, FUEL, 10) == []
    assert _units(shelves, STOVE) == (1, 0)


def test_an_order_whose_wait_for_stock_timed_out_leaves_the_queue_when_cancelled(
    shelves: InMemoryOrderRepository, clock: SettableClock, acme: ClientConfig
) -> None:
    # Given a backordered order whose wait for fuel timed out: an inventory exception is open
    state = _validated(shelves, (FUEL, 3))
    ctx = _ctx(shelves, clock, acme)
    reserve_inventory(ctx, state)
    clock.advance(timedelta(days=3))
    open_exception(
        repo=shelves, clock=clock, client=acme, notifier=NotifierRecorder(),
        request=OpenExceptionRequest(
            order_id=ORDER_ID, client_id=CLIENT, failed_step="AwaitStock", task_token="t-stock",
            error={"Error": "States.Timeout", "Cause": "no stock within 72 hours"},
        ),
    )  # fmt: skip
    assert _stored(shelves).status is OrderStatus.EXCEPTION
    assert _stored(shelves).short_lines

    # When the exception's owner cancels the order
    cancel_order(ctx, CancelRequest(**state.model_dump(), actor="omar.operator", exception_id="e1"))

    # Then its place in the fuel queue is gone: arriving fuel wakes no cancelled order
    assert shelves.inventory.backorders_of(CLIENT, FUEL, 10) == []
