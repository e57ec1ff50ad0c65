"""Benchmark: the escalation sweeper's read amplification at 1k, 10k and 100k orders.

Issue 8's target: the items one sweep reads per overdue exception do not grow with the table;
the sparse overdue index (gsi2) is read for exactly the overdue exceptions.

The orders table really holds the orders, as production writes them (the adapter's own item
builders, so keys and index attributes are production's): most orders shipped with their
whole audit trail, some shipped after a resolved exception, some with an open exception not
yet due, and ``OVERDUE`` with an open exception past its deadline in the client's business
hours (a few of those claimed). Writing 100k orders through the webhook path would take an
hour here, so the items go straight into the emulator's table. One table grows 1k -> 10k ->
100k; each step adds ``OVERDUE`` new overdue exceptions (what the previous pass escalated is
due again only hours later, so it is open and not yet due), then one pass of the real
scheduled function runs on the embedded stack, with the runtime's clock.

Only that pass is counted, at the SDK (every DynamoDB request any client of the process makes,
and its answer): items read is what DynamoDB itself reads, ScannedCount for a Query or Scan
(items in the key range before any filter), 1 per item returned for GetItem and BatchGetItem.
The index Query's ScannedCount is checked against the index entries in its key range, counted
on the emulator's items as the query runs.

The target is judged on the index: its items read equal the overdue count at every size. The
other reads are reported apart: per overdue exception, the consistent re-read of the exception
and of its order (the decision and the conditional write need both); per pass, each client's
active rules pointer (the directory's 30 s cache has expired between passes five minutes
apart, as on Lambda; no version is active here, so the pointers read no item) and each
client's away list (three short absences each here, none long enough to move work, so the
open-by-owner index is not read). Those lists are read twice a pass, by the sweep and by the
reassignment after it, until the handler hands the sweep's on
(``reassign_from_away(..., away_periods=report.away_periods)``). Items read per overdue
exception over all requests is therefore a constant, judged against the 1k table's.

Run alone with `.venv/bin/python bench/sweeper.py`; `make bench` includes it.
"""

from __future__ import annotations

import base64
import gc
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Figure, show
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from rich.console import Console

from shipshape.adapters.dynamodb import (
    OPEN_EXCEPTIONS,
    audit_item,
    exception_item,
    order_item,
)
from shipshape.config import ClientConfig
from shipshape.models import (
    Actor,
    Address,
    Allocation,
    AuditEvent,
    AwayPeriod,
    Customer,
    ExceptionStatus,
    ExceptionType,
    Label,
    Order,
    OrderException,
    OrderLine,
    OrderStatus,
    PackData,
    PaymentState,
    PickScan,
    canonical_order_id,
)
from shipshape.rules import due_at
from shipshape_local.runtime import ACCOUNT, REGION, EmbeddedRuntime, ManualClock

SECTION = "Sweeper read amplification"
SIZES = (1_000, 10_000, 100_000)
OVERDUE = 50  # new overdue exceptions at each table size (the sweeper's limit is 200 a pass)
NOT_DUE_EVERY = 100  # 1 order in 100 has an open exception not yet due
RESOLVED_EVERY = 50  # 1 in 50 shipped after a resolved exception
CLAIMED_EVERY = 5  # 1 overdue exception in 5 is claimed (the claimant missed the deadline)
# A Wednesday: 09:00 in Portland, 17:00 in London, 18:00 in Berlin.
NOW = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)
# What EventBridge Scheduler sends; the sweeper takes its time from the clock, not from here.
SCHEDULED = {
    "version": "0",
    "id": "7c0e8f6a-0000-4000-8000-000000000008",
    "detail-type": "Scheduled Event",
    "source": "aws.scheduler",
    "account": ACCOUNT,
    "time": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
    "region": REGION,
    "resources": [],
    "detail": {},
}
WORKFLOW = Actor(kind="workflow", id="fulfillment")
WAREHOUSE = Actor(kind="warehouse", id="scanner")
# The happy path's trail after order_received (tests/integration/test_webhook_to_shipped.py).
SHIPPING_ACTIONS = (
    ("address_validated", OrderStatus.ADDRESS_VALIDATED, WORKFLOW),
    ("inventory_reserved", OrderStatus.RESERVED, WORKFLOW),
    ("picker_assigned", OrderStatus.PICKER_ASSIGNED, WORKFLOW),
    ("qa_passed", None, WORKFLOW),
    ("pick_requested", OrderStatus.AWAITING_PICK, WORKFLOW),
    ("pick_confirmed", OrderStatus.PICKED, WAREHOUSE),
    ("qa_passed", None, WORKFLOW),
    ("pack_requested", OrderStatus.AWAITING_PACK, WORKFLOW),
    ("pack_confirmed", OrderStatus.PACKED, WAREHOUSE),
    ("qa_passed", None, WORKFLOW),
    ("label_created", OrderStatus.LABELLED, WORKFLOW),
    ("qa_passed", None, WORKFLOW),
    ("shipped", OrderStatus.SHIPPED, WORKFLOW),
    ("customer_notified", None, WORKFLOW),
)
# Where each exception type opens: how far along the trail the order got first.
OPENS_AFTER = {
    ExceptionType.ADDRESS_INVALID: 0,
    ExceptionType.INVENTORY_SHORT: 1,
    ExceptionType.QA_FAILED: 4,
    ExceptionType.CARRIER_REJECTED: 10,
}
STEP_OF = {
    ExceptionType.ADDRESS_INVALID: ("ValidateAddress", "AddressInvalid"),
    ExceptionType.INVENTORY_SHORT: ("ReserveInventory", "InventoryShort"),
    ExceptionType.QA_FAILED: ("PrePickQa", "QaFailed"),
    ExceptionType.CARRIER_REJECTED: ("CreateLabel", "CarrierRejected"),
}


# --- what one pass read ---------------------------------------------------------------------


@dataclass
class PassReads:
    """DynamoDB requests of one pass and the items they read, by what was read."""

    requests: Counter[str] = field(default_factory=Counter)
    items: Counter[str] = field(default_factory=Counter)
    written: int = 0
    index_in_range: int = 0  # overdue-index entries in the Query's key range, on the emulator

    @property
    def index_items(self) -> int:
        return self.items["overdue index"]

    @property
    def other_items(self) -> int:
        return sum(self.items.values()) - self.index_items

    @property
    def total_items(self) -> int:
        return sum(self.items.values())


def _read_kind(operation: str, params: dict[str, Any]) -> str:
    if operation in ("Query", "Scan"):
        index = params.get("IndexName")
        if index == "gsi2":
            return "overdue index"
        if index == "gsi4":
            return "away owners' open exceptions"
        values = params.get("ExpressionAttributeValues", {})
        partition = str(values.get(":pk", {}).get("S", ""))
        if operation == "Query" and partition.startswith("AWAY#"):
            return "away periods"
        return f"{operation} {index or partition.split('#')[0] or 'table'}"
    if operation == "GetItem":
        key = params.get("Key", {})
        sk = str(key.get("sk", {}).get("S", ""))
        if sk.startswith("EXC#"):
            return "exceptions re-read"
        if sk == "ORDER":
            return "their orders"
        if str(key.get("pk", {}).get("S", "")).startswith("RULES#"):
            return "rules pointers"
    return f"{operation} (other)"


def _items_read(operation: str, response: dict[str, Any]) -> int:
    if operation in ("Query", "Scan"):
        return int(response.get("ScannedCount", 0))
    if operation == "GetItem":
        return 1 if response.get("Item") else 0
    if operation == "BatchGetItem":
        return sum(len(items) for items in response.get("Responses", {}).values())
    if operation == "TransactGetItems":
        return sum(1 for r in response.get("Responses", []) if r.get("Item"))
    return 0


_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"})


@contextmanager
def counting(in_range: Callable[[dict[str, Any]], int]) -> Iterator[PassReads]:
    """Count every DynamoDB request made by any client in this process while the block runs,
    with what DynamoDB read for it. ``in_range`` counts, on the emulator, the index entries
    an overdue-index Query's key condition covers, as the Query runs."""
    from botocore.client import BaseClient

    reads = PassReads()
    original = getattr(BaseClient, "_make_api_call")  # noqa: B009 - private, untyped in stubs

    def counted(self: Any, operation: str, params: Any) -> Any:
        if self.meta.service_model.service_name != "dynamodb":
            return original(self, operation, params)
        kind = _read_kind(operation, params)
        reads.requests[f"{operation} ({kind})" if kind in _NAMED else operation] += 1
        response = original(self, operation, params)
        if kind == "overdue index":
            reads.index_in_range += min(in_range(params), params.get("Limit") or 1 << 30)
        read = _items_read(operation, response)
        if read:
            reads.items[kind] += read
        if operation == "TransactWriteItems":
            reads.written += len(params["TransactItems"])
        elif operation in _WRITES:
            reads.written += 1
        return response

    setattr(BaseClient, "_make_api_call", counted)  # noqa: B010
    try:
        yield reads
    finally:
        setattr(BaseClient, "_make_api_call", original)  # noqa: B010


_NAMED = (
    "overdue index",
    "exceptions re-read",
    "their orders",
    "away periods",
    "rules pointers",
    "away owners' open exceptions",
)


# --- the table's contents --------------------------------------------------------------------


@dataclass
class Seeded:
    orders: int = 0
    items: int = 0
    overdue: int = 0
    not_due: int = 0
    resolved: int = 0


class Seeder:
    """Writes orders, their audit trails and exceptions with the adapter's item builders
    straight into the emulator's table (nothing else runs while it does)."""

    def __init__(self, table: Any, clients: list[ClientConfig]) -> None:
        self._table = table
        self._clients = clients
        self._next = 0
        self.total = Seeded()
        self._templates = {c.client_id: _shipped_template(c) for c in clients}

    def _put(self, item: dict[str, Any]) -> None:
        # What the emulator's put_item stores, without its per-attribute size re-check (which
        # re-measures the whole item for each attribute: most of the seeding time). Items are
        # the adapter's own (string, number and binary attributes only), far under the 400 KB limit;
        # nothing else runs meanwhile.
        stored: Any = Item.__new__(Item)
        stored.attrs = LimitedSizeDict({k: _scalar(v) for k, v in item.items()})
        stored.hash_key = _scalar(item["pk"])
        stored.range_key = _scalar(item["sk"])
        self._table.items[stored.hash_key][stored.range_key] = stored
        self.total.items += 1

    def add(self, orders: int, overdue: int) -> None:
        not_due = orders // NOT_DUE_EVERY
        resolved = orders // RESOLVED_EVERY
        kinds = list(OPENS_AFTER)
        for i in range(orders):
            n = self._next
            self._next += 1
            client = self._clients[n % len(self._clients)]
            # Received over the last 30 days, newest last.
            received = NOW - timedelta(minutes=(n * 7919) % (30 * 24 * 60) + 90)
            if i < overdue:
                # Opened two to seven days ago: past every SLA in business hours.
                opened = NOW - timedelta(days=2, minutes=(n * 37) % (5 * 24 * 60))
                kind = kinds[i % len(kinds)]
                claimed = i % CLAIMED_EVERY == 0
                self._open(client, n, opened, kind, claimed=claimed)
                self.total.overdue += 1
            elif i < overdue + not_due:
                # Opened minutes ago: due hours from now, in business hours.
                opened = NOW - timedelta(minutes=5 + i % 30)
                self._open(client, n, opened, kinds[i % len(kinds)], claimed=False)
                self.total.not_due += 1
            elif i < overdue + not_due + resolved:
                self._shipped(client, n, received, resolved=kinds[i % len(kinds)])
                self.total.resolved += 1
            else:
                self._shipped(client, n, received, resolved=None)
            self.total.orders += 1

    def _order(self, client: ClientConfig, n: int, received: datetime) -> Order:
        store = client.stores[0]
        storefront_id = str(7_000_000 + n)
        template = self._templates[client.client_id]
        shift = received - template.received_at
        return template.model_copy(
            update={
                "order_id": canonical_order_id(
                    client.client_id, store.platform, store.store, storefront_id
                ),
                "storefront_order_id": storefront_id,
                "order_number": f"#{storefront_id}",
                "storefront_updated_at": received - timedelta(seconds=3),
                "received_at": received,
                "status_timestamps": {
                    s: at + shift for s, at in template.status_timestamps.items()
                },
                "execution_name": None,
            }
        )

    def _trail(
        self, order: Order, actions: tuple[tuple[str, OrderStatus | None, Actor], ...], start: int
    ) -> list[AuditEvent]:
        events = []
        for offset, (action, to_status, actor) in enumerate(actions):
            seq = start + offset
            events.append(
                AuditEvent(
                    order_id=order.order_id,
                    seq=seq,
                    at=order.received_at + timedelta(minutes=3 * seq),
                    action=action,
                    actor=actor,
                    to_status=to_status,
                    owner=order.owner,
                    detail={"step": action} if to_status is None else {},
                )
            )
        return events

    def _received(self, order: Order) -> AuditEvent:
        return AuditEvent(
            order_id=order.order_id,
            seq=1,
            at=order.received_at,
            action="order_received",
            actor=Actor(kind="storefront", id=order.platform.value),
            to_status=OrderStatus.ACCEPTED,
            owner=order.owner,
            detail={"order_version": order.version, "payment": order.payment.value},
        )

    def _shipped(
        self, client: ClientConfig, n: int, received: datetime, resolved: ExceptionType | None
    ) -> None:
        order = self._order(client, n, received)
        events = [self._received(order)]
        exception = None
        if resolved is not None:
            exception, opened, closed = self._resolved(client, order, resolved)
            events += [opened, closed]
        events += self._trail(order, SHIPPING_ACTIONS, len(events) + 1)
        order = order.model_copy(
            update={
                "audit_seq": len(events),
                "exceptions_opened": 1 if exception else 0,
            }
        )
        self._put(order_item(order))
        for event in events:
            self._put(audit_item(event, client.client_id))
        if exception is not None:
            self._put(exception_item(exception))

    def _resolved(
        self, client: ClientConfig, order: Order, kind: ExceptionType
    ) -> tuple[OrderException, AuditEvent, AuditEvent]:
        opened_at = order.received_at + timedelta(minutes=1)
        exception = self._exception(client, order, kind, opened_at)
        resolved_at = opened_at + timedelta(minutes=40)
        closed = exception.closed(
            by=client.rules.members_of(exception.owner)[0],
            at=resolved_at,
            action="retry",
            note="fixed at the source",
        )
        opened = AuditEvent(
            order_id=order.order_id,
            seq=2,
            at=opened_at,
            action="exception_opened",
            actor=WORKFLOW,
            to_status=OrderStatus.EXCEPTION,
            owner=exception.owner,
            detail={"exception_id": exception.exception_id, "type": kind.value},
        )
        done = AuditEvent(
            order_id=order.order_id,
            seq=3,
            at=resolved_at,
            action="exception_resolved",
            actor=Actor(kind="operator", id=closed.resolved_by or "operator"),
            from_status=OrderStatus.EXCEPTION,
            to_status=OrderStatus.ACCEPTED,
            owner=order.owner,
            detail={"exception_id": exception.exception_id, "action": "retry"},
        )
        return closed, opened, done

    def _exception(
        self, client: ClientConfig, order: Order, kind: ExceptionType, opened_at: datetime
    ) -> OrderException:
        rule = client.rules.rule_for(kind)
        owner, due = due_at(client.calendar, rule, opened_at)
        step, error = STEP_OF[kind]
        return OrderException(
            exception_id=f"{order.order_id}.e1",
            order_id=order.order_id,
            client_id=client.client_id,
            type=kind,
            step=step,
            error=error,
            detail=f"{error} at {step}",
            owner=owner,
            opened_at=opened_at,
            due_at=due,
            remediation=rule.remediation,
            task_token=f"token-{order.order_id}",
        )

    def _open(
        self,
        client: ClientConfig,
        n: int,
        opened_at: datetime,
        kind: ExceptionType,
        *,
        claimed: bool,
    ) -> None:
        steps = OPENS_AFTER[kind]
        order = self._order(client, n, opened_at - timedelta(minutes=3 * (steps + 1) + 1))
        events = [self._received(order)]
        events += self._trail(order, SHIPPING_ACTIONS[:steps], 2)
        exception = self._exception(client, order, kind, opened_at)
        if claimed:
            member = client.rules.members_of(exception.owner)[0]
            exception = exception.model_copy(
                update={
                    "status": ExceptionStatus.CLAIMED,
                    "claimed_by": member,
                    "claimed_at": opened_at + timedelta(minutes=5),
                    "version": 2,
                }
            )
        events.append(
            AuditEvent(
                order_id=order.order_id,
                seq=len(events) + 1,
                at=opened_at,
                action="exception_opened",
                actor=WORKFLOW,
                from_status=events[-1].to_status or OrderStatus.ACCEPTED,
                to_status=OrderStatus.EXCEPTION,
                owner=exception.owner,
                detail={"exception_id": exception.exception_id, "type": kind.value},
            )
        )
        reached = [e.to_status for e in events if e.to_status]
        order = order.model_copy(
            update={
                "status": OrderStatus.EXCEPTION,
                "owner": exception.owner,
                "open_exception_id": exception.exception_id,
                "exceptions_opened": 1,
                "audit_seq": len(events),
                "status_timestamps": {
                    s: at for s, at in order.status_timestamps.items() if s in reached
                },
                "label": None,
                "pack": None,
                "pick_scans": (),
                "notified_at": None,
                "task_token": exception.task_token,
            }
        )
        self._put(order_item(order))
        for event in events:
            self._put(audit_item(event, client.client_id))
        self._put(exception_item(exception))


def _scalar(value: dict[str, Any]) -> DynamoType:
    """moto's DynamoType of a string, number or binary attribute value, built as its constructor
    builds it (it also walks lists and maps, which these items do not have)."""
    ((kind, raw),) = value.items()
    if kind not in ("S", "N", "B"):
        raise ValueError(f"not a scalar attribute value: {value}")
    if kind == "B" and isinstance(raw, bytes):
        raw = base64.b64encode(raw).decode()  # the emulator keeps binary as base64 text
    scalar = DynamoType.__new__(DynamoType)
    scalar.type, scalar.value = kind, raw
    return scalar


def _shipped_template(client: ClientConfig) -> Order:
    """A shipped order of this client as the workflow leaves it (its fields filled)."""
    store = client.stores[0]
    received = NOW - timedelta(days=1)
    warehouse = client.fulfilment.warehouses[0]
    statuses = [s for _, s, _ in SHIPPING_ACTIONS if s is not None]
    lines = (
        OrderLine(
            line_id="1",
            sku="SKU-TENT-2P",
            title="Two-person tent",
            quantity=1,
            unit_price=Decimal("249.00"),
        ),
        OrderLine(
            line_id="2",
            sku="SKU-MUG-12",
            title="Enamel mug",
            quantity=2,
            unit_price=Decimal("14.50"),
        ),
    )
    address = Address(
        name="Jane Doe",
        line1="500 SW Market St",
        city="Portland",
        region="OR",
        postal_code="97204",
        country_code="US",
        phone="+1 503 555 0100",
    )
    return Order(
        order_id=canonical_order_id(client.client_id, store.platform, store.store, "template"),
        client_id=client.client_id,
        platform=store.platform,
        store=store.store,
        storefront_order_id="template",
        version=1,
        storefront_updated_at=received,
        received_at=received,
        payment=PaymentState.PAID,
        total=Decimal("278.00"),
        customer=Customer(name="Jane Doe", email="jane.doe@example.com", phone="+1 503 555 0100"),
        shipping_address=address,
        standardized_address=address,
        lines=lines,
        status=OrderStatus.SHIPPED,
        owner=client.owner_of(OrderStatus.SHIPPED),
        status_timestamps={
            OrderStatus.ACCEPTED: received,
            **{s: received + timedelta(minutes=3 * (i + 2)) for i, s in enumerate(statuses)},
        },
        rules_version=client.rules_version,
        audit_seq=1 + len(SHIPPING_ACTIONS),
        picker=client.pickers[0],
        pick_scans=tuple(PickScan(sku=li.sku, quantity=li.quantity) for li in lines),
        pack=PackData(weight_grams=3200, length_mm=600, width_mm=300, height_mm=250),
        label=Label(
            carrier="usps",
            service="ground_advantage",
            tracking_number="9400100000000000000000",
            label_id="lbl_template",
            amount=Decimal("11.40"),
            transit_days=3,
            destination_postal_code="97204",
            destination_country="US",
        ),
        notified_at=received + timedelta(minutes=3 * (len(SHIPPING_ACTIONS) + 1)),
        warehouse=warehouse,
        reservation=tuple(
            Allocation(
                line_id=li.line_id,
                sku=li.sku,
                warehouse=warehouse,
                bin="A-01-01",
                quantity=li.quantity,
            )
            for li in lines
        ),
        stock_consumed=True,
    )


def _away_periods(client: ClientConfig) -> list[AwayPeriod]:
    """Three away periods per client, none long enough to move work: one ended last week,
    one later this week, one of two business hours today (under every client's threshold)."""
    people = sorted(client.rules.known_owners() - set(client.rules.teams))
    return [
        AwayPeriod(
            client_id=client.client_id,
            person=person,
            starts_at=start,
            ends_at=end,
            note="out of office",
            set_by="bench",
        )
        for person, start, end in (
            (people[0], NOW - timedelta(days=9), NOW - timedelta(days=7)),
            (people[-1], NOW + timedelta(days=1), NOW + timedelta(days=2)),
            (people[len(people) // 2], NOW - timedelta(hours=1), NOW + timedelta(hours=1)),
        )
    ]


# --- the measurement ---------------------------------------------------------------------------


@dataclass
class Measured:
    size: int
    seeded: Seeded
    open_exceptions: int
    reads: PassReads
    overdue: int  # what this step seeded past due, and the pass confirmed overdue


def _emulator_table(rt: EmbeddedRuntime) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[ACCOUNT][REGION].get_table(rt.names["OrdersTable"])


def _index_entries(table: Any, before: str | None = None) -> int:
    """Entries of the overdue index (gsi2pk = OPEN_EXCEPTIONS), those with gsi2sk < before if
    given, counted on the emulator's items."""
    count = 0
    for bucket in table.items.values():
        for item in bucket.values():
            pk = item.attrs.get("gsi2pk")
            if pk is None or pk.value != OPEN_EXCEPTIONS:
                continue
            if before is None or item.attrs["gsi2sk"].value < before:
                count += 1
    return count


@contextmanager
def _frozen_heap() -> Iterator[None]:
    """No cyclic collection while millions of table objects are made (each one would rescan
    them all); collections resume once the runtime has stopped and dropped its tables."""
    gc.disable()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.enable()


def measure(console: Console | None = None) -> list[Measured]:
    from shipshape.bootstrap import container

    out: list[Measured] = []
    with _frozen_heap(), EmbeddedRuntime(clock=ManualClock(NOW)) as rt:
        table = _emulator_table(rt)
        deps = container()
        clients = [deps.clients.file_config(c.client_id) for c in deps.clients.all()]
        for client in clients:
            for period in _away_periods(client):
                deps.away.mark_away(period)
        seeder = Seeder(table, clients)

        def in_range(params: dict[str, Any]) -> int:
            return _index_entries(table, params["ExpressionAttributeValues"][":before"]["S"])

        for size in SIZES:
            started = time.perf_counter()
            seeder.add(size - seeder.total.orders, OVERDUE)
            gc.freeze()  # the table's millions of objects: no collection need rescan them
            seeded_in = time.perf_counter() - started
            open_exceptions = _index_entries(table)
            # Passes run minutes apart, past the directory's cache of each client's active
            # rules: every pass on Lambda reads them again, so this one does too.
            for client in clients:
                deps.clients.forget(client.client_id)
            with counting(in_range) as reads:
                result = rt.run_function("SweeperFunction", SCHEDULED)
            if (result["overdue"], len(result["escalated"]), result["failed"]) != (
                OVERDUE,
                OVERDUE,
                [],
            ):
                raise AssertionError(f"the pass at {size:,} orders did not escalate all: {result}")
            seeded = Seeded(**vars(seeder.total))
            out.append(Measured(size, seeded, open_exceptions, reads, OVERDUE))
            if console is not None:
                console.log(
                    f"{size:,} orders, {seeded.items:,} items (seeded in {seeded_in:.1f} s): "
                    f"{open_exceptions:,} open exceptions, {OVERDUE} overdue, "
                    f"{seeded.resolved:,} resolved; the pass read {reads.total_items} items"
                )
    return out


def _short(count: int) -> str:
    return f"{count / 1e6:.1f}M" if count >= 1e6 else f"{count / 1e3:.0f}k"


def figures(console: Console) -> list[Figure]:
    rows = measure(console)
    base = rows[0]
    base_label = f"{_short(base.size)} orders"
    base_per = base.reads.total_items / base.overdue
    base_requests = sum(base.reads.requests.values())
    out: list[Figure] = []
    for row in rows:
        reads, label = row.reads, f"{_short(row.size)} orders"
        per = reads.total_items / row.overdue
        requests = sum(reads.requests.values())
        out.append(
            Figure(
                SECTION,
                f"{label} ({_short(row.seeded.items)} items, {row.open_exceptions:,} open "
                "exceptions): overdue-index items read",
                f"{reads.index_items:,}",
                f"{row.overdue} overdue (target: equal)",
                reads.index_items / row.overdue,
                reads.index_items == row.overdue == reads.index_in_range,
            )
        )
        other = ", ".join(f"{reads.items[kind]} {kind}" for kind in _NAMED[1:] if reads.items[kind])
        strays = sorted(set(reads.items) - set(_NAMED))
        other += "".join(f", {reads.items[kind]} {kind}" for kind in strays)
        out.append(
            Figure(
                SECTION,
                f"{label}: other items read ({other.strip(', ') or 'none'})",
                f"{reads.other_items:,}",
            )
        )
        out.append(
            Figure(
                SECTION,
                f"{label}: items read per overdue exception, all requests",
                f"{per:.2f}",
                f"{base_per:.2f} at {base_label}",
                per / base_per,
                per <= base_per,
            )
        )
        out.append(
            Figure(
                SECTION,
                f"{label}: DynamoDB requests of the pass",
                f"{requests:,}",
                f"{base_requests:,} at {base_label}",
                requests / base_requests,
                requests <= base_requests,
            )
        )
    last = rows[-1]
    ordered = sorted(last.reads.requests.items(), key=lambda kv: _request_rank(kv[0]))
    out.append(
        Figure(
            SECTION,
            f"the requests at {_short(last.size)} orders: "
            + ", ".join(f"{n} {op}" for op, n in ordered)
            + f" ({last.reads.written} items written)",
            f"{sum(last.reads.requests.values()):,}",
        )
    )
    out.append(
        Figure(
            SECTION,
            "index Query ScannedCount vs the index entries in its key range (emulator's items)",
            " / ".join(f"{r.reads.index_items} vs {r.reads.index_in_range}" for r in rows),
            "equal",
            None,
            all(r.reads.index_items == r.reads.index_in_range for r in rows),
        )
    )
    return out


def _request_rank(request: str) -> tuple[int, str]:
    for rank, kind in enumerate(_NAMED):
        if request.endswith(f"({kind})"):
            return rank, request
    return len(_NAMED), request


def main() -> int:
    console = Console()
    started = time.perf_counter()
    found = figures(console)
    show(f"Shipshape sweeper read amplification ({OVERDUE} overdue a pass)", found, console)
    console.print(f"wall time {time.perf_counter() - started:.0f} s")
    return 0 if all(f.meets is not False for f in found) else 1


if __name__ == "__main__":
    sys.exit(main())
