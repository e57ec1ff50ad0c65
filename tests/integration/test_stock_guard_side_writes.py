"""What an order change writes beside the order, on the emulator's DynamoDB through the real
adapter: places in a SKU's stock queue, documents, and stock received from the warehouse.

A backorder mark is written and removed in the transaction of the order change that makes
the order wait or stop waiting, and the queue it forms is read longest-waiting first. A
document is written once: a second write of it refuses the whole change. A receipt adds its
units and records itself in one transaction, and what a lot says about itself (bin, expiry,
counters) reads back as received, whatever characters its SKU and lot names hold.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta
from typing import Any

import boto3
import pytest

from shipshape.adapters.dynamodb import DynamoDBInventory, DynamoDBOrderStore
from shipshape.audit import AuditAction
from shipshape.config import ClientDirectory
from shipshape.errors import ConcurrentUpdate
from shipshape.models import Actor, BackorderMark, Document, Order, StockChange
from shipshape.services.records import record
from shipshape_local.runtime import REGION, ManualClock
from shipshape_local.template import REPO_ROOT
from tests.builders import ACME, SKU, WAREHOUSE, least_detail, received_order
from tests.integration.stack import ORDERS_TABLE

WORKFLOW = Actor(kind="workflow", id="fulfillment")


@pytest.fixture
def clients() -> ClientDirectory:
    return ClientDirectory(REPO_ROOT / "config" / "clients")


def _orders(repo: DynamoDBOrderStore, clock: ManualClock, count: int) -> list[Order]:
    created = []
    for n in range(count):
        order, event = received_order(clock, str(5_800_001 + n))
        repo.create(order, event)
        created.append(order)
    return created


def _mark(order: Order, since: datetime, quantity: int, **update: object) -> BackorderMark:
    mark = BackorderMark(
        client_id=ACME, sku=SKU, order_id=order.order_id, since=since, quantity=quantity
    )
    return mark.model_copy(update=update)


def test_orders_that_start_waiting_in_the_same_instant_each_keep_their_place(
    inventory: DynamoDBInventory,
    repo: DynamoDBOrderStore,
    clients: ClientDirectory,
    clock: ManualClock,
) -> None:
    # Given two orders that start waiting for mugs at the same moment (one burst of orders
    # backordered within a millisecond, as a sold-out SKU sees)
    first, second = _orders(repo, clock, 2)
    since = clock.now()
    for order, quantity in ((first, 1), (second, 3)):
        record(
            repo, clock, clients.get(ACME), order, action="backordered", actor=WORKFLOW,
            writes=[_mark(order, since, quantity)],
        )  # fmt: skip

    # When the queue is read
    queue = inventory.backorders_of(ACME, SKU, 10)

    # Then both wait, each with its own quantity: neither place overwrote the other
    assert sorted((m.order_id, m.quantity) for m in queue) == sorted(
        [(first.order_id, 1), (second.order_id, 3)]
    )


def _raw(pk: str, sk: str) -> dict[str, Any]:
    """An item as the table holds it (what an operator's query or an export sees)."""
    client = boto3.client("dynamodb", region_name=REGION)
    found = client.get_item(TableName=ORDERS_TABLE, Key={"pk": {"S": pk}, "sk": {"S": sk}})
    return dict(found.get("Item", {}))


def _pick_list(order: Order, clock: ManualClock, content: str) -> Document:
    return Document(
        order_id=order.order_id,
        kind="pick-list",
        number=1,
        content=content,
        sha256=hashlib.sha256(content.encode()).hexdigest(),
        created_at=clock.now(),
    )


def test_orders_waiting_for_stock_queue_longest_waiting_first_and_leave_with_their_change(
    inventory: DynamoDBInventory,
    repo: DynamoDBOrderStore,
    clients: ClientDirectory,
    clock: ManualClock,
) -> None:
    # Given three orders, which start waiting for mugs in the order second, first, third
    first, second, third = _orders(repo, clock, 3)
    started = clock.now()
    waits = [
        (second, started, 2),
        (first, started + timedelta(minutes=5), 1),
        (third, started + timedelta(hours=1), 4),
    ]
    orders = {}
    for order, since, quantity in waits:
        orders[order.order_id] = record(
            repo,
            clock,
            clients.get(ACME),
            order,
            action="backordered",
            actor=WORKFLOW,
            writes=[_mark(order, since, quantity)],
        )

    # When the queue is read, and the first in it stops waiting
    queue = inventory.backorders_of(ACME, SKU, 10)
    record(
        repo,
        clock,
        clients.get(ACME),
        orders[second.order_id],
        action="inventory_reserved",
        actor=WORKFLOW,
        writes=[_mark(second, started, 2, remove=True)],
    )

    # Then it was longest-waiting first, each with what it waits for, and the one reserved is
    # gone from it; another SKU's queue and another client's are empty
    assert [(m.order_id, m.since, m.quantity) for m in queue] == [
        (second.order_id, started, 2),
        (first.order_id, started + timedelta(minutes=5), 1),
        (third.order_id, started + timedelta(hours=1), 4),
    ]
    assert [m.order_id for m in inventory.backorders_of(ACME, SKU, 10)] == [
        first.order_id,
        third.order_id,
    ]
    assert inventory.backorders_of(ACME, "TENT-2P-GRN", 10) == []
    assert inventory.backorders_of("nordlicht", SKU, 10) == []
    assert len(inventory.backorders_of(ACME, SKU, 1)) == 1
    # And each place in the queue is an item of its own kind, in the SKU's partition
    client = boto3.client("dynamodb", region_name=REGION)
    items = client.query(
        TableName=ORDERS_TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"BACKORDER#{ACME}#{SKU}"}},
    )["Items"]
    assert [i["entity"] for i in items] == [{"S": "backorder"}] * 2


def test_a_document_is_written_once_with_its_order_change(
    repo: DynamoDBOrderStore, clients: ClientDirectory, clock: ManualClock
) -> None:
    # Given an order whose pick list was written with the change that made it
    (order,) = _orders(repo, clock, 1)
    pick_list = _pick_list(order, clock, "<h1>Pick list</h1>")
    listed = record(
        repo,
        clock,
        clients.get(ACME),
        order,
        action=AuditAction.PICKER_ASSIGNED,
        actor=WORKFLOW,
        detail=least_detail(AuditAction.PICKER_ASSIGNED),
        writes=[pick_list],
    )

    # When another pick list number 1 is written with a later change
    other = _pick_list(order, clock, "<h1>Another pick list</h1>")
    with pytest.raises(ConcurrentUpdate):
        record(
            repo,
            clock,
            clients.get(ACME),
            listed,
            action=AuditAction.PICKER_ASSIGNED,
            actor=WORKFLOW,
            detail=least_detail(AuditAction.PICKER_ASSIGNED),
            writes=[other],
        )

    # Then the first stands, and so does the order it came with
    assert repo.document(order.order_id, "pick-list", 1) == pick_list
    assert repo.document(order.order_id, "pick-list", 2) is None
    assert repo.get(order.order_id) == listed
    assert _raw(f"ORDER#{order.order_id}", "DOC#pick-list#001")["entity"] == {"S": "document"}


def test_a_lot_reads_back_as_received_whatever_its_names_hold(
    inventory: DynamoDBInventory,
    repo: DynamoDBOrderStore,
) -> None:
    # Given a SKU and a lot whose names hold the key separator
    sku, lot = "KIT#2-PACK", "L#2611"

    # When 5 units are received with their bin and expiry, then 3 more into another bin
    # without one
    first = inventory.receive_stock(ACME, sku, WAREHOUSE, lot, 5, "C-02-1", date(2027, 11, 30))
    more = inventory.receive_stock(ACME, sku, WAREHOUSE, lot, 3, "C-02-4", None)

    # Then the lot is read back with its names, the latest bin, its expiry and both receipts
    (stored,) = inventory.stock_of(ACME, sku)
    assert (stored.client_id, stored.sku, stored.warehouse, stored.lot) == (
        ACME,
        sku,
        WAREHOUSE,
        lot,
    )
    assert (stored.bin, stored.expires_on) == ("C-02-4", date(2027, 11, 30))
    assert (stored.available, stored.reserved) == (8, 0)
    assert (first.available, first.bin, first.expires_on) == (5, "C-02-1", date(2027, 11, 30))
    assert more == stored
    assert inventory.stock_of(ACME, "KIT#2") == []
    item = _raw(f"STOCK#{ACME}#{sku}", f"{WAREHOUSE}#{lot}")
    assert {k: item[k] for k in ("entity", "available", "reserved", "bin", "expires_on")} == {
        "entity": {"S": "stock"},
        "available": {"N": "8"},
        "reserved": {"N": "0"},
        "bin": {"S": "C-02-4"},
        "expires_on": {"S": "2027-11-30"},
    }


def test_a_receipt_adds_to_its_own_lot_and_records_what_it_added(
    inventory: DynamoDBInventory,
    repo: DynamoDBOrderStore,
) -> None:
    # Given two lots of one SKU, one of them with units reserved
    inventory.receive_stock(ACME, SKU, WAREHOUSE, "OLD", 2, "B-01-1", None)
    inventory.receive_stock(ACME, SKU, WAREHOUSE, "NEW", 1, "B-01-2", None)

    # When the warehouse's receipt of 6 dated units into the second lot is processed
    answer = inventory.receive_stock(
        ACME, SKU, WAREHOUSE, "NEW", 6, "B-01-3", date(2028, 1, 31), receipt="rcv-900"
    )

    # Then the answer is that lot, with the units added, its new bin and its expiry
    assert (answer.lot, answer.available, answer.reserved) == ("NEW", 7, 0)
    assert (answer.bin, answer.expires_on) == ("B-01-3", date(2028, 1, 31))
    assert {s.lot: s.available for s in inventory.stock_of(ACME, SKU)} == {"NEW": 7, "OLD": 2}
    # And the receipt is recorded with what it added, where
    item = _raw(f"RECEIPT#{ACME}", "rcv-900")
    assert {k: item[k] for k in ("entity", "sku", "lot", "quantity")} == {
        "entity": {"S": "receipt"},
        "sku": {"S": SKU},
        "lot": {"S": f"{WAREHOUSE}#NEW"},
        "quantity": {"N": "6"},
    }


def test_a_receipt_into_a_new_lot_starts_it_with_nothing_reserved(
    inventory: DynamoDBInventory,
    repo: DynamoDBOrderStore,
    clients: ClientDirectory,
    clock: ManualClock,
) -> None:
    # Given no lot FRESH yet
    # When a receipt of 4 creates it (both counters, nothing reserved), and an order then
    # reserves all 4 and releases 1
    inventory.receive_stock(ACME, SKU, WAREHOUSE, "FRESH", 4, "B-02-1", None, receipt="rcv-901")
    fresh = _raw(f"STOCK#{ACME}#{SKU}", f"{WAREHOUSE}#FRESH")
    assert {k: fresh[k] for k in ("entity", "available", "reserved", "bin")} == {
        "entity": {"S": "stock"},
        "available": {"N": "4"},
        "reserved": {"N": "0"},
        "bin": {"S": "B-02-1"},
    }
    (order,) = _orders(repo, clock, 1)
    take = StockChange(
        client_id=ACME, sku=SKU, warehouse=WAREHOUSE, lot="FRESH", available=-4, reserved=4
    )
    held = record(
        repo,
        clock,
        clients.get(ACME),
        order,
        action="inventory_reserved",
        actor=WORKFLOW,
        writes=[take],
    )
    back = take.model_copy(update={"available": 1, "reserved": -1})
    record(
        repo,
        clock,
        clients.get(ACME),
        held,
        action="reservation_held",
        actor=WORKFLOW,
        writes=[back],
    )

    # Then its counters are exact: 1 available, 3 reserved
    (lot,) = inventory.stock_of(ACME, SKU)
    assert (lot.lot, lot.available, lot.reserved) == ("FRESH", 1, 3)
