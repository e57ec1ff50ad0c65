"""The stock guard where it lives: DynamoDB's conditions on the stock lots.

Stock never goes below zero because every negative stock change in an order's transaction is
conditional on the counter holding enough (``available >= :need``, ``reserved >= :need``). The
workflow runs one step of one order at a time, and the in-memory fakes enforce the same rule
themselves, so only a test against the emulator's DynamoDB shows that the condition is there.
These tests go through the real adapter and the real write path (``records.record``): two
orders plan from one stock read and both try to write, a lot is released twice, a receipt is
processed twice. The refused write changes nothing: not the stock, not the order, not its
audit trail.
"""

from __future__ import annotations

import pytest

from shipshape.adapters.dynamodb import DynamoDBInventory, DynamoDBOrderStore
from shipshape.config import ClientDirectory
from shipshape.errors import ConcurrentUpdate
from shipshape.models import (
    Actor,
    Order,
    OrderStatus,
    StockChange,
    StockLot,
)
from shipshape.services.records import record
from shipshape_local.runtime import ManualClock
from shipshape_local.template import REPO_ROOT
from tests.builders import ACME, LOT, SKU, WAREHOUSE, received_order

WORKFLOW = Actor(kind="workflow", id="fulfillment")


@pytest.fixture
def clients() -> ClientDirectory:
    return ClientDirectory(REPO_ROOT / "config" / "clients")


def _lot(inventory: DynamoDBInventory) -> StockLot:
    return next(
        s for s in inventory.stock_of(ACME, SKU) if (s.warehouse, s.lot) == (WAREHOUSE, LOT)
    )


def _unpaid_orders(repo: DynamoDBOrderStore, clock: ManualClock, count: int) -> list[str]:
    """Orders that wait for payment: in the table, with no workflow touching their stock."""
    ids = []
    for n in range(count):
        order, event = received_order(clock, str(5_700_001 + n))
        repo.create(order, event)
        ids.append(order.order_id)
    return ids


def _change(available: int = 0, reserved: int = 0) -> StockChange:
    return StockChange(
        client_id=ACME, sku=SKU, warehouse=WAREHOUSE, lot=LOT, available=available,
        reserved=reserved,
    )  # fmt: skip


def _write(
    repo: DynamoDBOrderStore,
    clients: ClientDirectory,
    clock: ManualClock,
    order: Order,
    action: str,
    change: StockChange,
) -> Order:
    return record(
        repo, clock, clients.get(ACME), order, action=action, actor=WORKFLOW, writes=[change]
    )


def _unchanged(repo: DynamoDBOrderStore, before: Order) -> None:
    after = repo.get(before.order_id)
    assert after == before
    assert len(repo.audit_trail(before.order_id)) == before.audit_seq


def test_two_reservations_planned_from_one_stock_read_cannot_both_take_the_last_units(
    inventory: DynamoDBInventory,
    clock: ManualClock,
    repo: DynamoDBOrderStore,
    clients: ClientDirectory,
) -> None:
    # Given a lot of 3 mugs and two orders, each planning to reserve 2 from the same read
    inventory.receive_stock(ACME, SKU, WAREHOUSE, LOT, 3, "B-09-1", None)
    first_id, second_id = _unpaid_orders(repo, clock, 2)
    first, second = repo.get(first_id), repo.get(second_id)
    assert first is not None and second is not None
    seen = _lot(inventory)
    assert (seen.available, seen.reserved) == (3, 0)
    take_two = _change(available=-2, reserved=2)

    # When both write their reservation
    _write(repo, clients, clock, first, "inventory_reserved", take_two)
    with pytest.raises(ConcurrentUpdate):
        _write(repo, clients, clock, second, "inventory_reserved", take_two)

    # Then DynamoDB refused the second: the stock holds the first reservation only
    lot = _lot(inventory)
    assert (lot.available, lot.reserved) == (1, 2)
    # and the refused order, its audit trail and its status are as they were
    _unchanged(repo, second)
    assert repo.get(first_id).audit_seq == first.audit_seq + 1  # type: ignore[union-attr]


def test_a_decrement_below_zero_written_through_the_adapter_is_refused(
    inventory: DynamoDBInventory,
    clock: ManualClock,
    repo: DynamoDBOrderStore,
    clients: ClientDirectory,
) -> None:
    # Given a lot of 1 mug and an order
    inventory.receive_stock(ACME, SKU, WAREHOUSE, LOT, 1, "B-09-1", None)
    [order_id] = _unpaid_orders(repo, clock, 1)
    order = repo.get(order_id)
    assert order is not None

    # When the order's write takes 2 mugs straight from the lot
    with pytest.raises(ConcurrentUpdate):
        _write(repo, clients, clock, order, "inventory_reserved", _change(available=-2, reserved=2))

    # Then nothing changed; taking exactly what is there is allowed
    assert (_lot(inventory).available, _lot(inventory).reserved) == (1, 0)
    _unchanged(repo, order)
    _write(repo, clients, clock, order, "inventory_reserved", _change(available=-1, reserved=1))
    assert (_lot(inventory).available, _lot(inventory).reserved) == (0, 1)


def test_a_reservation_released_twice_is_released_once(
    inventory: DynamoDBInventory,
    clock: ManualClock,
    repo: DynamoDBOrderStore,
    clients: ClientDirectory,
) -> None:
    # Given 2 of 5 mugs reserved for an order
    inventory.receive_stock(ACME, SKU, WAREHOUSE, LOT, 5, "B-09-1", None)
    [order_id] = _unpaid_orders(repo, clock, 1)
    order = repo.get(order_id)
    assert order is not None
    reserved = _write(
        repo, clients, clock, order, "inventory_reserved", _change(available=-2, reserved=2)
    )
    release = _change(available=2, reserved=-2)

    # When the release is written, and then written again from the same read of the order
    released = _write(repo, clients, clock, reserved, "reservation_held", release)
    again = repo.get(order_id)
    assert again is not None
    with pytest.raises(ConcurrentUpdate):
        _write(repo, clients, clock, again, "reservation_held", release)

    # Then the units came back once: no phantom stock, reserved never below zero
    assert (_lot(inventory).available, _lot(inventory).reserved) == (5, 0)
    _unchanged(repo, released)


def test_a_release_is_refused_when_the_lot_no_longer_holds_the_reservation(
    inventory: DynamoDBInventory,
    clock: ManualClock,
    repo: DynamoDBOrderStore,
    clients: ClientDirectory,
) -> None:
    # Given a lot with 1 unit reserved and two orders that each believe they hold it
    inventory.receive_stock(ACME, SKU, WAREHOUSE, LOT, 1, "B-09-1", None)
    first_id, second_id = _unpaid_orders(repo, clock, 2)
    first, second = repo.get(first_id), repo.get(second_id)
    assert first is not None and second is not None
    _write(repo, clients, clock, first, "inventory_reserved", _change(available=-1, reserved=1))
    first = repo.get(first_id)
    assert first is not None
    _write(repo, clients, clock, first, "reservation_held", _change(available=1, reserved=-1))

    # When the second releases a reservation the lot no longer holds
    with pytest.raises(ConcurrentUpdate):
        _write(repo, clients, clock, second, "reservation_held", _change(available=1, reserved=-1))

    # Then the lot is as it was, and so is the order
    assert (_lot(inventory).available, _lot(inventory).reserved) == (1, 0)
    _unchanged(repo, second)


def test_a_stock_receipt_processed_twice_adds_its_units_once(
    inventory: DynamoDBInventory,
    repo: DynamoDBOrderStore,
) -> None:
    # Given a lot of 4 mugs
    inventory.receive_stock(ACME, SKU, WAREHOUSE, LOT, 4, "B-09-1", None)

    # When the warehouse's receipt of 6 more is processed, and processed again
    first = inventory.receive_stock(ACME, SKU, WAREHOUSE, LOT, 6, "B-09-1", None, receipt="rcv-77")
    again = inventory.receive_stock(ACME, SKU, WAREHOUSE, LOT, 6, "B-09-1", None, receipt="rcv-77")

    # Then the units were added once, and both answers say so
    assert first.available == again.available == 10
    assert _lot(inventory).available == 10
    # and another receipt still adds
    more = inventory.receive_stock(ACME, SKU, WAREHOUSE, LOT, 1, "B-09-1", None, receipt="rcv-78")
    assert more.available == 11


def test_a_reservation_from_a_lot_that_does_not_exist_is_refused(
    inventory: DynamoDBInventory,
    clock: ManualClock,
    repo: DynamoDBOrderStore,
    clients: ClientDirectory,
) -> None:
    # Given an order, and no lot GUARD-1 at all
    [order_id] = _unpaid_orders(repo, clock, 1)
    order = repo.get(order_id)
    assert order is not None and order.status is OrderStatus.RECEIVED

    # When its write reserves from that lot (a positive change that would create it)
    with pytest.raises(ConcurrentUpdate):
        _write(repo, clients, clock, order, "inventory_reserved", _change(available=0, reserved=1))

    # Then no lot was made up and the order is unchanged
    assert all(s.lot != LOT for s in inventory.stock_of(ACME, SKU))
    _unchanged(repo, order)
