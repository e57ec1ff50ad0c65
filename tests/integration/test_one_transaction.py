"""The order, its audit event and its exception, written in one DynamoDB transaction.

No status change without its audit event, no audit event without its change: each test
writes through the real adapter to the emulator's DynamoDB (the orders table as template.yaml
declares it) and reads back what the table holds. A write whose any part is refused (its
expected sequence, its exception's version, an event number already taken, a stock lot)
writes nothing; a write that succeeds is found by every read and index that should find it.
"""

from __future__ import annotations

import base64
import json
import zlib
from datetime import timedelta
from typing import Any

import boto3
import pytest

from shipshape.adapters.dynamodb import (
    DynamoDBAuditIndex,
    DynamoDBInventory,
    DynamoDBOrderStore,
    order_from,
)
from shipshape.audit import AuditAction
from shipshape.config import ClientDirectory
from shipshape.errors import ConcurrentUpdate
from shipshape.models import (
    Actor,
    AuditEvent,
    ExceptionType,
    Order,
    OrderChanges,
    OrderException,
    OrderStatus,
    PaymentState,
    StockChange,
)
from shipshape.ports import AlreadyExists
from shipshape.services.records import commit, commit_exception, commit_new, owner_after
from shipshape_local.runtime import REGION, ManualClock
from tests.builders import ACME, LOT, SKU, WAREHOUSE, least_detail, received_order
from tests.integration.stack import ORDERS_TABLE

STOREFRONT = Actor(kind="storefront", id="shopify:acme-outdoors.myshopify.com")
WORKFLOW = Actor(kind="workflow", id="fulfillment")
OPERATOR = Actor(kind="operator", id="omar.operator")


@pytest.fixture
def clients() -> ClientDirectory:
    from shipshape_local.template import REPO_ROOT

    return ClientDirectory(REPO_ROOT / "config" / "clients")


def _created(repo: DynamoDBOrderStore, clock: ManualClock, n: int = 1) -> Order:
    order, event = received_order(clock, str(6_100_000 + n))
    repo.create(order, event)
    return order


def _change(
    clients: ClientDirectory,
    clock: ManualClock,
    order: Order,
    action: str,
    *,
    to_status: OrderStatus | None = None,
    changes: OrderChanges | None = None,
    detail: dict[str, Any] | None = None,
) -> tuple[Order, AuditEvent]:
    """The next snapshot of ``order`` and its event, as the workflow's steps make them (the
    detail as small as the action allows, unless given)."""
    act = AuditAction(action)
    return order.transition(
        act, actor=WORKFLOW, at=clock.now(), to=to_status,
        owner=owner_after(clients.get(ACME), order, to_status),
        changes=changes, detail=least_detail(act, **(detail or {})),
    )  # fmt: skip


def _item(sk: str, order_id: str) -> dict[str, Any]:
    client = boto3.client("dynamodb", region_name=REGION)
    found = client.get_item(
        TableName=ORDERS_TABLE, Key={"pk": {"S": f"ORDER#{order_id}"}, "sk": {"S": sk}}
    )
    return dict(found.get("Item", {}))


def _exception(order: Order, clock: ManualClock, **update: Any) -> OrderException:
    opened = clock.now()
    exception = OrderException(
        exception_id=f"{order.order_id}.e1",
        order_id=order.order_id,
        client_id=ACME,
        type=ExceptionType.INVENTORY_SHORT,
        step="ReserveInventory",
        error="InventoryShort",
        detail="short of 2 x MUG-ENAMEL-12",
        owner="ops",
        opened_at=opened,
        due_at=opened + timedelta(hours=4),
        task_token="token-stock",
        resume_status=order.status,
    )
    return exception.model_copy(update=update)


def _opened(
    repo: DynamoDBOrderStore, clients: ClientDirectory, clock: ManualClock, order: Order
) -> tuple[Order, OrderException]:
    """``order`` with an inventory exception opened on it, as the workflow's Catch opens it."""
    exception = _exception(order, clock)
    new, event = _change(
        clients,
        clock,
        order,
        "exception_opened",
        to_status=OrderStatus.EXCEPTION,
        changes={"open_exception_id": exception.exception_id, "exceptions_opened": 1},
        detail={"type": exception.type.value},
    )
    repo.write_exception(new, exception, event, order.audit_seq, None)
    return new, exception


def _as_before(repo: DynamoDBOrderStore, order: Order, events: list[AuditEvent]) -> None:
    assert repo.get(order.order_id) == order
    assert repo.audit_trail(order.order_id) == events


# --- the order and its audit event --------------------------------------------------------


def test_an_order_is_created_with_its_first_event_and_read_back_as_written(
    repo: DynamoDBOrderStore, clock: ManualClock
) -> None:
    # Given an order as ingest first records it
    order, event = received_order(clock, "6100000")

    # When it is created, and a second delivery of it tries to create it again, changed
    repo.create(order, event)
    again = order.model_copy(update={"version": 2, "payment": PaymentState.PAID})
    with pytest.raises(AlreadyExists, match=f"order {order.order_id} exists"):
        repo.create(again, event.model_copy(update={"detail": {"version": 2}}))

    # Then the table holds the first order and its one event, exactly as written
    _as_before(repo, order, [event])


def test_a_change_whose_audit_event_cannot_be_written_leaves_the_order_as_it_was(
    repo: DynamoDBOrderStore, clients: ClientDirectory, clock: ManualClock
) -> None:
    # Given an order and its first event
    order = _created(repo, clock)
    trail = repo.audit_trail(order.order_id)

    # When a change is written whose event carries a number the trail already holds
    new, event = _change(
        clients, clock, order, "fulfilment_requested", to_status=OrderStatus.ACCEPTED
    )
    with pytest.raises(ConcurrentUpdate):
        repo.apply(new, event.model_copy(update={"seq": 1}), expected_seq=order.audit_seq)

    # Then neither is written: the order is as it was, and so is its first event
    _as_before(repo, order, trail)


def test_two_writers_from_one_read_cannot_both_write_their_change(
    repo: DynamoDBOrderStore, clients: ClientDirectory, clock: ManualClock
) -> None:
    # Given two changes planned from the same read of an order
    order = _created(repo, clock)
    first, first_event = _change(
        clients, clock, order, "fulfilment_requested", to_status=OrderStatus.ACCEPTED
    )
    second, second_event = _change(
        clients, clock, order, "order_cancelled", to_status=OrderStatus.CANCELLED
    )

    # When both are written, each expecting the sequence it read
    repo.apply(first, first_event, expected_seq=order.audit_seq)
    with pytest.raises(ConcurrentUpdate):
        repo.apply(second, second_event, expected_seq=order.audit_seq)

    # Then only the first change and its event are there
    (received,) = [e for e in repo.audit_trail(order.order_id) if e.seq == 1]
    _as_before(repo, first, [received, first_event])
    # And the loser, reading again, writes on top of it
    again, again_event = _change(
        clients, clock, first, "order_cancelled", to_status=OrderStatus.CANCELLED
    )
    repo.apply(again, again_event, expected_seq=first.audit_seq)
    assert repo.get(order.order_id) == again


def test_a_change_with_a_stock_lot_that_refuses_writes_neither_change_nor_event(
    inventory: DynamoDBInventory,
    repo: DynamoDBOrderStore,
    clients: ClientDirectory,
    clock: ManualClock,
) -> None:
    # Given an order and a lot of 1 mug
    order = _created(repo, clock)
    trail = repo.audit_trail(order.order_id)
    inventory.receive_stock(ACME, SKU, WAREHOUSE, LOT, 1, "B-09-1", None)
    take = StockChange(
        client_id=ACME, sku=SKU, warehouse=WAREHOUSE, lot=LOT, available=-2, reserved=2
    )

    # When its reservation of 2 is written with the order's change
    new, event = _change(clients, clock, order, "inventory_reserved")
    with pytest.raises(ConcurrentUpdate, match=f"order {order.order_id}"):
        repo.apply(new, event, expected_seq=order.audit_seq, writes=[take])

    # Then nothing was written: not the change, not its event, not the stock
    _as_before(repo, order, trail)
    (lot,) = inventory.stock_of(ACME, SKU)
    assert (lot.available, lot.reserved) == (1, 0)


# --- the exception with its order and event ------------------------------------------------


def test_an_exception_opens_with_its_order_change_and_event_or_not_at_all(
    repo: DynamoDBOrderStore,
    audit: DynamoDBAuditIndex,
    clients: ClientDirectory,
    clock: ManualClock,
) -> None:
    # Given an order, and an exception opened on it
    order = _created(repo, clock)
    opened_order, exception = _opened(repo, clients, clock, order)

    # When the same exception is opened again from the old read, and from a new one
    new, event = _change(clients, clock, order, "exception_opened", to_status=OrderStatus.EXCEPTION)
    with pytest.raises(ConcurrentUpdate, match=f"exception {exception.exception_id} changed"):
        repo.write_exception(new, exception, event, order.audit_seq, None)
    fresh, fresh_event = _change(clients, clock, opened_order, "exception_opened")
    with pytest.raises(ConcurrentUpdate):
        repo.write_exception(fresh, exception, fresh_event, opened_order.audit_seq, None)

    # Then the first opening stands alone: order, exception and one event each
    trail = repo.audit_trail(order.order_id)
    _as_before(repo, opened_order, trail)
    assert [(e.seq, e.action) for e in trail] == [(1, "order_received"), (2, "exception_opened")]
    assert repo.get_exception(exception.exception_id) == exception
    # And the open exception is where the queue, its owner and the sweeper look
    assert repo.exceptions_of_client(ACME, 10) == [exception]
    assert repo.open_exceptions_of(ACME, "ops") == [exception]
    assert repo.exceptions_due_before(exception.due_at + timedelta(seconds=1), 10) == [exception]
    assert repo.exceptions_due_before(exception.due_at, 10) == []
    # And its event is in the client's trail of the day, where metrics and the checklist read
    day = audit.audit_events_of_client(ACME, trail[0].at, trail[-1].at + timedelta(seconds=1))
    assert day == trail


def test_an_exception_change_is_refused_whole_when_any_part_is_stale(
    repo: DynamoDBOrderStore, clients: ClientDirectory, clock: ManualClock
) -> None:
    # Given an open exception (version 1) on an order
    order, exception = _opened(repo, clients, clock, _created(repo, clock))
    trail = repo.audit_trail(order.order_id)
    claimed = exception.model_copy(update={"claimed_by": "omar.operator", "version": 2})
    new, event = _change(clients, clock, order, "exception_claimed")

    # When it is claimed expecting another version, or from a stale read of the order, or with
    # an event number already taken
    with pytest.raises(ConcurrentUpdate):
        repo.write_exception(new, claimed, event, order.audit_seq, expected_version=2)
    with pytest.raises(ConcurrentUpdate):
        repo.write_exception(new, claimed, event, order.audit_seq - 1, expected_version=1)
    with pytest.raises(ConcurrentUpdate):
        repo.write_exception(new, claimed, event.model_copy(update={"seq": 1}), order.audit_seq, 1)

    # Then none of them wrote anything
    _as_before(repo, order, trail)
    assert repo.get_exception(exception.exception_id) == exception
    # And the claim with everything current is written whole
    repo.write_exception(new, claimed, event, order.audit_seq, expected_version=1)
    assert repo.get_exception(exception.exception_id) == claimed
    assert repo.get(order.order_id) == new
    assert repo.audit_trail(order.order_id)[-1] == event


def test_closing_an_exception_with_its_stock_is_all_or_nothing(
    inventory: DynamoDBInventory,
    repo: DynamoDBOrderStore,
    clients: ClientDirectory,
    clock: ManualClock,
) -> None:
    # Given an open exception on an order that holds 2 mugs of a lot
    inventory.receive_stock(ACME, SKU, WAREHOUSE, LOT, 2, "B-09-1", None)
    order, exception = _opened(repo, clients, clock, _created(repo, clock))
    trail = repo.audit_trail(order.order_id)
    held = StockChange(
        client_id=ACME, sku=SKU, warehouse=WAREHOUSE, lot=LOT, available=-2, reserved=2
    )
    reserved, reserved_event = _change(clients, clock, order, "reservation_held")
    repo.apply(reserved, reserved_event, reserved.audit_seq - 1, writes=[held])
    back = StockChange(
        client_id=ACME, sku=SKU, warehouse=WAREHOUSE, lot=LOT, available=3, reserved=-3
    )
    clock.advance(timedelta(hours=1))
    closed = exception.closed(by="omar.operator", at=clock.now(), action="cancel", note="gone")
    cancelled, event = _change(
        clients,
        clock,
        reserved,
        "order_cancelled",
        to_status=OrderStatus.CANCELLED,
        changes={"open_exception_id": None},
    )

    # When the order is cancelled and the exception closed, giving back more than is held
    with pytest.raises(ConcurrentUpdate):
        repo.write_exception(cancelled, closed, event, reserved.audit_seq, 1, writes=[back])

    # Then the order, its exception and the stock are as they were
    _as_before(repo, reserved, [*trail, reserved_event])
    assert repo.get_exception(exception.exception_id) == exception
    (lot,) = inventory.stock_of(ACME, SKU)
    assert (lot.available, lot.reserved) == (0, 2)
    # And giving back what is held closes it: out of the open queues, still in the history
    back = back.model_copy(update={"available": 2, "reserved": -2})
    repo.write_exception(cancelled, closed, event, reserved.audit_seq, 1, writes=[back])
    assert repo.get_exception(exception.exception_id) == closed
    assert repo.get(order.order_id) == cancelled
    (lot,) = inventory.stock_of(ACME, SKU)
    assert (lot.available, lot.reserved) == (2, 0)
    assert repo.open_exceptions_of(ACME, "ops") == []
    assert repo.exceptions_due_before(clock.now() + timedelta(days=30), 10) == []
    assert repo.exceptions_of_client(ACME, 10) == [closed]


# --- what the indexes find ----------------------------------------------------------------


def test_an_accepted_order_waits_in_the_start_index_until_its_workflow_acknowledges(
    repo: DynamoDBOrderStore, clients: ClientDirectory, clock: ManualClock
) -> None:
    # Given two orders accepted (paid) a minute apart, their workflows not yet started
    first = _created(repo, clock, 1)
    second = _created(repo, clock, 2)
    accepted_at = clock.now()
    a, a_event = _change(
        clients,
        clock,
        first,
        "fulfilment_requested",
        to_status=OrderStatus.ACCEPTED,
        changes={"pending_start": True},
    )
    repo.apply(a, a_event, first.audit_seq)
    clock.advance(timedelta(minutes=1))
    b, b_event = _change(
        clients,
        clock,
        second,
        "fulfilment_requested",
        to_status=OrderStatus.ACCEPTED,
        changes={"pending_start": True},
    )
    repo.apply(b, b_event, second.audit_seq)

    # When the reconciler looks for starts accepted before a moment
    # Then it finds them oldest first, and only those accepted before it
    assert repo.pending_starts(accepted_at + timedelta(seconds=1), 10) == [a.order_id]
    assert repo.pending_starts(clock.now() + timedelta(seconds=1), 10) == [a.order_id, b.order_id]
    assert repo.pending_starts(accepted_at, 10) == []
    # And once the first workflow acknowledges its start, only the second is left
    done, done_event = _change(
        clients, clock, a, "address_validated", changes={"pending_start": False}
    )
    repo.apply(done, done_event, a.audit_seq)
    assert repo.pending_starts(clock.now() + timedelta(seconds=1), 10) == [b.order_id]


def test_a_received_order_marked_for_start_is_found_from_when_it_was_received(
    repo: DynamoDBOrderStore, clients: ClientDirectory, clock: ManualClock
) -> None:
    # Given an order with no acceptance time that waits for its start (recorded by an older
    # release, before acceptance times were kept)
    order = _created(repo, clock)
    received = order.received_at
    clock.advance(timedelta(hours=2))
    pending, event = _change(
        clients, clock, order, "fulfilment_requested", changes={"pending_start": True}
    )
    repo.apply(pending, event, order.audit_seq)

    # When the reconciler looks
    # Then its place is its reception time
    assert repo.pending_starts(received + timedelta(seconds=1), 10) == [order.order_id]
    assert repo.pending_starts(received, 10) == []


def test_a_pickers_open_picks_count_the_orders_waiting_to_be_picked_by_them(
    repo: DynamoDBOrderStore, clients: ClientDirectory, clock: ManualClock
) -> None:
    # Given two orders assigned to Ana and one to Ben
    orders = [_created(repo, clock, n) for n in range(3)]
    assigned = []
    for order, picker in zip(
        orders, ["pdx-picker-ana", "pdx-picker-ana", "pdx-picker-ben"], strict=True
    ):
        new, event = _change(
            clients,
            clock,
            order,
            "picker_assigned",
            to_status=OrderStatus.PICKER_ASSIGNED,
            changes={"picker": picker},
        )
        repo.apply(new, event, order.audit_seq)
        assigned.append(new)

    # When one of Ana's is picked
    picked, event = _change(
        clients, clock, assigned[0], "pick_confirmed", to_status=OrderStatus.PICKED
    )
    repo.apply(picked, event, assigned[0].audit_seq)

    # Then Ana has one open pick left and Ben one
    assert repo.open_picks(ACME, "pdx-picker-ana") == 1
    assert repo.open_picks(ACME, "pdx-picker-ben") == 1
    assert repo.open_picks(ACME, "pdx-picker-cruz") == 0


def test_the_audit_trail_of_a_client_is_found_by_day(
    repo: DynamoDBOrderStore,
    audit: DynamoDBAuditIndex,
    clients: ClientDirectory,
    clock: ManualClock,
) -> None:
    # Given an order received today and changed the next day
    order = _created(repo, clock)
    (received,) = repo.audit_trail(order.order_id)
    clock.advance(timedelta(days=1))
    new, event = _change(
        clients, clock, order, "fulfilment_requested", to_status=OrderStatus.ACCEPTED
    )
    repo.apply(new, event, order.audit_seq)

    # When the client's events are read for each day and for both
    day = timedelta(days=1)
    first_day = audit.audit_events_of_client(ACME, received.at, received.at + timedelta(hours=1))
    second_day = audit.audit_events_of_client(ACME, event.at, event.at + timedelta(hours=1))
    both = audit.audit_events_of_client(ACME, received.at, event.at + day)

    # Then each event is found on its day, once
    assert (first_day, second_day, both) == ([received], [event], [received, event])
    assert audit.audit_events_of_client("nordlicht", received.at, event.at + day) == []


# --- the items as stored --------------------------------------------------------------------


def test_each_item_carries_queryable_copies_that_agree_with_its_document(
    repo: DynamoDBOrderStore, clients: ClientDirectory, clock: ManualClock
) -> None:
    # Given an order with an exception opened on it
    order, exception = _opened(repo, clients, clock, _created(repo, clock))
    (_, event) = repo.audit_trail(order.order_id)

    # When its items are read as the table holds them
    order_item = _item("ORDER", order.order_id)
    audit_item = _item("AUDIT#00000002", order.order_id)
    exception_item = _item("EXC#0001", order.order_id)

    # Then each names its kind and copies what operators query from its document
    assert order_from(order_item["doc"]) == order
    assert {k: order_item[k] for k in ("entity", "client_id", "status", "owner")} == {
        "entity": {"S": "order"},
        "client_id": {"S": ACME},
        "status": {"S": "EXCEPTION"},
        "owner": {"S": "ops"},
    }
    assert order_item["storefront_order_id"] == {"S": order.storefront_order_id}
    assert (order_item["version"], order_item["audit_seq"]) == ({"N": "1"}, {"N": "2"})
    assert AuditEvent.model_validate_json(audit_item["doc"]["S"]) == event
    assert {k: audit_item[k] for k in ("entity", "action", "at")} == {
        "entity": {"S": "audit"},
        "action": {"S": "exception_opened"},
        "at": {"S": event.at.isoformat()},
    }
    assert OrderException.model_validate_json(exception_item["doc"]["S"]) == exception
    assert {k: exception_item[k] for k in ("entity", "client_id", "type", "status", "owner")} == {
        "entity": {"S": "exception"},
        "client_id": {"S": ACME},
        "type": {"S": "inventory_short"},
        "status": {"S": exception.status.value},
        "owner": {"S": "ops"},
    }
    assert exception_item["version"] == {"N": "1"}


def test_an_order_is_read_back_from_each_form_it_was_ever_stored_in(
    repo: DynamoDBOrderStore, clock: ManualClock
) -> None:
    # Given an order stored as JSON text (as first written), and as a DynamoDB JSON export
    # writes a compressed one (base64 text)
    order, _ = received_order(clock, "6100999")
    text = order.model_dump_json(exclude_none=True)
    client = boto3.client("dynamodb", region_name=REGION)
    client.put_item(
        TableName=ORDERS_TABLE,
        Item={"pk": {"S": f"ORDER#{order.order_id}"}, "sk": {"S": "ORDER"}, "doc": {"S": text}},
    )
    exported = json.loads(
        json.dumps({"B": base64.b64encode(zlib.compress(text.encode())).decode()})
    )

    # When they are read
    # Then both are the order
    assert repo.get(order.order_id) == order
    assert order_from(exported) == order


# --- what a written change reports ----------------------------------------------------------


def _emitted(out: str) -> dict[str, list[float]]:
    """The EMF metrics (name: values) in what was printed: CloudWatch's input."""
    found: dict[str, list[float]] = {}
    for line in out.splitlines():
        if not line.startswith('{"_aws"'):
            continue
        doc = json.loads(line)
        for metric in doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
            found.setdefault(metric["Name"], []).extend(doc[metric["Name"]])
    return found


def test_a_resolution_reports_its_time_and_sla_once_written_and_never_when_refused(
    repo: DynamoDBOrderStore,
    clients: ClientDirectory,
    clock: ManualClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given an exception opened on an order, resolved 90 minutes later (inside its 4 hours)
    order, exception = _opened(repo, clients, clock, _created(repo, clock))
    clock.advance(timedelta(minutes=90))
    closed = exception.closed(by="omar.operator", at=clock.now(), action="retry", note="ok")
    resolved, event = _change(
        clients, clock, order, "exception_resolved", changes={"open_exception_id": None}
    )
    capsys.readouterr()

    # When the resolution is committed from a stale read (refused), then from the current one
    with pytest.raises(ConcurrentUpdate):
        commit_exception(repo, resolved, closed, event, order.audit_seq, expected_version=2)
    refused = _emitted(capsys.readouterr().out)
    commit_exception(repo, resolved, closed, event, order.audit_seq, expected_version=1)
    written = _emitted(capsys.readouterr().out)

    # Then only the written one is counted: its time to resolution and a deadline met
    assert refused == {}
    assert written == {"TimeToResolution": [5400.0], "SlaMet": [1.0]}


def test_an_order_change_is_counted_once_committed_and_never_when_refused(
    repo: DynamoDBOrderStore,
    clients: ClientDirectory,
    clock: ManualClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a paid order, committed (its first event counts one order received, taken in
    # the second it was placed)
    order, received = received_order(clock, "5800001")
    capsys.readouterr()
    commit_new(repo, order, received)
    assert _emitted(capsys.readouterr().out) == {"SyncLag": [0.0], "OrdersReceived": [1.0]}
    # and the same order sent again, refused as one that exists
    with pytest.raises(AlreadyExists):
        commit_new(repo, order, received)
    assert _emitted(capsys.readouterr().out) == {}

    # When a QA pass is committed from a stale sequence (refused), then from the current one
    passed, event = _change(clients, clock, order, "qa_passed", detail={"gate": "pre_pick"})
    with pytest.raises(ConcurrentUpdate):
        commit(repo, passed, event, expected_seq=order.audit_seq + 1)
    refused = _emitted(capsys.readouterr().out)
    commit(repo, passed, event, expected_seq=order.audit_seq)
    written = _emitted(capsys.readouterr().out)

    # Then only the committed change is counted, once
    assert refused == {}
    assert written == {"QaGatePassed": [1.0]}
