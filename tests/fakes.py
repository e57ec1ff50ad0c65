"""In-memory fakes of the domain's ports, for unit tests without sockets or AWS.

Each fake keeps the contract its port documents (and the real adapter implements), and no
more: a test that passes against a fake should pass against the adapter.
"""

from __future__ import annotations

import copy
import itertools
import threading
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from shipshape.adapters.sandbox import SandboxCarrier
from shipshape.config import StoreConfig
from shipshape.errors import ConcurrentUpdate, StorefrontRefused, TransientDependencyError
from shipshape.models import (
    AccessDenial,
    AuditEvent,
    AwayPeriod,
    BackorderMark,
    CatalogEntry,
    DeferredFetch,
    Document,
    Label,
    Order,
    OrderException,
    OrderStatus,
    RuleChange,
    RuleChangeStatus,
    SideWrite,
    SkuMaster,
    StockChange,
    StockLot,
    SyncState,
    merged_master,
)
from shipshape.ports import (
    AccessLog,
    AlreadyExists,
    AuditIndex,
    AwayRegistry,
    Clock,
    ExecutionExists,
    InventoryRepository,
    Notifier,
    OrderRepository,
    Rate,
    RuleStore,
    SecretStore,
    Shipment,
    ShipmentNotice,
    StorefrontApi,
    SyncLedger,
    TaskNotWaiting,
    WarehouseChannel,
    WorkflowEngine,
    WriteBackResult,
)


class InMemoryOrderRepository(OrderRepository):
    """The system of record in a dict, with the DynamoDB adapter's conditions and indexes.

    Records are kept as JSON, as the table keeps them, so what a test reads back went through
    the same serialization and no caller can mutate stored state through a shared object.
    One lock stands for DynamoDB's transactions: every write checks its guards and writes
    order, exception and audit event together, or writes nothing.

    ``items_read`` counts the items the overdue index returned and ``exception_reads`` the
    point reads of exceptions, so a test can measure what a sweep reads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._orders: dict[str, str] = {}
        self._audit: dict[str, dict[int, str]] = {}
        self._exceptions: dict[str, str] = {}
        # The stock the order's side writes change, under the same lock (one transaction).
        self.inventory = InMemoryInventory(self._lock)
        self.documents: dict[tuple[str, str], Document] = {}
        self.items_read = 0
        self.exception_reads = 0

    def get(self, order_id: str) -> Order | None:
        with self._lock:
            stored = self._orders.get(order_id)
        return Order.model_validate_json(stored) if stored is not None else None

    def create(self, order: Order, event: AuditEvent) -> None:
        with self._lock:
            if order.order_id in self._orders or self._has_event(event):
                raise AlreadyExists(f"order {order.order_id} exists")
            self._write(order, event)

    def apply(
        self,
        order: Order,
        event: AuditEvent,
        expected_seq: int,
        writes: Sequence[SideWrite] = (),
    ) -> None:
        with self._lock:
            stored = self._orders.get(order.order_id)
            if (
                stored is None
                or Order.model_validate_json(stored).audit_seq != expected_seq
                or self._has_event(event)
                or not self._writes_hold(writes)
            ):
                raise ConcurrentUpdate(
                    f"order {order.order_id} changed since audit event {expected_seq}"
                )
            self._write(order, event)
            self._apply_writes(writes)

    def audit_trail(self, order_id: str) -> list[AuditEvent]:
        with self._lock:
            events = sorted(self._audit.get(order_id, {}).items())
        return [AuditEvent.model_validate_json(doc) for _, doc in events]

    def document(self, order_id: str, kind: str, number: int) -> Document | None:
        with self._lock:
            return self.documents.get((order_id, f"{kind}-{number}"))

    def pending_starts(self, accepted_before: datetime, limit: int) -> list[str]:
        with self._lock:
            orders = [Order.model_validate_json(doc) for doc in self._orders.values()]
        due = sorted(
            (order.status_timestamps.get(OrderStatus.ACCEPTED, order.received_at), order.order_id)
            for order in orders
            if order.pending_start
        )
        return [order_id for accepted, order_id in due if accepted < accepted_before][:limit]

    def get_exception(self, exception_id: str) -> OrderException | None:
        with self._lock:
            self.exception_reads += 1
            stored = self._exceptions.get(exception_id)
        return OrderException.model_validate_json(stored) if stored is not None else None

    def write_exception(
        self,
        order: Order,
        exception: OrderException,
        event: AuditEvent,
        expected_seq: int,
        expected_version: int | None,
        writes: Sequence[SideWrite] = (),
    ) -> None:
        with self._lock:
            stored_order = self._orders.get(order.order_id)
            stored = self._exceptions.get(exception.exception_id)
            seq_holds = (
                stored_order is not None
                and Order.model_validate_json(stored_order).audit_seq == expected_seq
            )
            if expected_version is None:
                version_holds = stored is None
            else:
                version_holds = (
                    stored is not None
                    and OrderException.model_validate_json(stored).version == expected_version
                )
            if (
                not (seq_holds and version_holds)
                or self._has_event(event)
                or not self._writes_hold(writes)
            ):
                raise ConcurrentUpdate(f"exception {exception.exception_id} changed")
            self._write(order, event)
            self._apply_writes(writes)
            self._exceptions[exception.exception_id] = exception.model_dump_json(exclude_none=True)

    def exceptions_due_before(self, moment: datetime, limit: int) -> list[OrderException]:
        # The sparse index holds open exceptions only, keyed by due time then id.
        with self._lock:
            stored = [OrderException.model_validate_json(doc) for doc in self._exceptions.values()]
            due = sorted(
                (e for e in stored if e.is_open and e.due_at < moment),
                key=lambda e: (e.due_at, e.exception_id),
            )[:limit]
            self.items_read += len(due)
        return due

    def exceptions_of_client(self, client_id: str, limit: int) -> list[OrderException]:
        with self._lock:
            stored = [OrderException.model_validate_json(doc) for doc in self._exceptions.values()]
        mine = sorted(
            (e for e in stored if e.client_id == client_id),
            key=lambda e: (e.opened_at, e.exception_id),
            reverse=True,  # newest first, like the DynamoDB adapter
        )
        return mine[:limit]

    def open_exceptions_of(self, client_id: str, owner: str) -> list[OrderException]:
        return [
            e
            for e in self.exceptions_of_client(client_id, limit=10_000)
            if e.is_open and e.owner == owner
        ]

    def open_picks(self, client_id: str, picker: str) -> int:
        picking = (OrderStatus.PICKER_ASSIGNED, OrderStatus.AWAITING_PICK)
        with self._lock:
            orders = [Order.model_validate_json(doc) for doc in self._orders.values()]
        return sum(
            1
            for o in orders
            if o.client_id == client_id and o.picker == picker and o.status in picking
        )

    def _writes_hold(self, writes: Sequence[SideWrite]) -> bool:
        for write in writes:
            if isinstance(write, Document) and (write.order_id, write.name) in self.documents:
                return False
        return self.inventory.holds(writes)

    def _apply_writes(self, writes: Sequence[SideWrite]) -> None:
        self.inventory.apply(writes)
        for write in writes:
            if isinstance(write, Document):
                self.documents[(write.order_id, write.name)] = write

    def order_ids(self) -> list[str]:
        """Every stored order id (what a test would see scanning the table)."""
        with self._lock:
            return sorted(self._orders)

    def _has_event(self, event: AuditEvent) -> bool:
        return event.seq in self._audit.get(event.order_id, {})

    def _write(self, order: Order, event: AuditEvent) -> None:
        # Both or neither, like the adapter's TransactWriteItems: the lock is held by the caller.
        self._orders[order.order_id] = order.model_dump_json(exclude_none=True)
        self._audit.setdefault(event.order_id, {})[event.seq] = event.model_dump_json(
            exclude_none=True
        )


class InMemoryInventory(InventoryRepository):
    """SKU masters, stock lots and backorder marks, with the DynamoDB adapter's conditions
    (counters never below zero). The order repository's side writes change them under its
    lock, so an order change and its stock change are one transaction here too."""

    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock
        self._skus: dict[tuple[str, str], str] = {}
        self._catalog: dict[tuple[str, str], CatalogEntry] = {}
        self._products: dict[tuple[str, str, str, str], set[str]] = {}
        self._stock: dict[tuple[str, str, str, str], StockLot] = {}
        self._receipts: set[tuple[str, str]] = set()
        self._marks: dict[tuple[str, str, str], BackorderMark] = {}

    def skus(self, client_id: str, skus: Sequence[str]) -> dict[str, SkuMaster]:
        with self._lock:
            found = {s: self._skus.get((client_id, s)) for s in skus}
            entries = {s: self._catalog.get((client_id, s)) for s in skus}
        merged = {
            s: merged_master(
                client_id,
                s,
                SkuMaster.model_validate_json(found[s]) if found[s] else None,
                entries[s],
            )
            for s in skus
        }
        return {s: master for s, master in merged.items() if master is not None}

    def put_sku(self, sku: SkuMaster) -> None:
        with self._lock:
            self._skus[(sku.client_id, sku.sku)] = sku.model_copy(
                update={"storefront": None}
            ).model_dump_json()

    def put_catalog(self, entry: CatalogEntry) -> bool:
        with self._lock:
            held = self._catalog.get((entry.client_id, entry.sku))
            if held is not None and held.source == entry.source and held.version >= entry.version:
                return False
            self._catalog[(entry.client_id, entry.sku)] = entry
            return True

    def product_skus(self, client_id: str, source: str, store: str, product_id: str) -> list[str]:
        with self._lock:
            return sorted(self._products.get((client_id, source, store, product_id), set()))

    def remember_product(
        self, client_id: str, source: str, store: str, product_id: str, skus: Sequence[str]
    ) -> None:
        with self._lock:
            self._products.setdefault((client_id, source, store, product_id), set()).update(skus)

    def stock_of(self, client_id: str, sku: str) -> list[StockLot]:
        with self._lock:
            return [lot for key, lot in sorted(self._stock.items()) if key[:2] == (client_id, sku)]

    def receive_stock(
        self,
        client_id: str,
        sku: str,
        warehouse: str,
        lot: str,
        quantity: int,
        bin: str,
        expires_on: date | None,
        receipt: str | None = None,
    ) -> StockLot:
        key = (client_id, sku, warehouse, lot)
        with self._lock:
            current = self._stock.get(key)
            if receipt is not None and (client_id, receipt) in self._receipts:
                assert current is not None
                return current
            if receipt is not None:
                self._receipts.add((client_id, receipt))
            updated = StockLot(
                client_id=client_id, sku=sku, warehouse=warehouse, lot=lot, bin=bin,
                expires_on=expires_on or (current.expires_on if current else None),
                available=(current.available if current else 0) + quantity,
                reserved=current.reserved if current else 0,
            )  # fmt: skip
            self._stock[key] = updated
            return updated

    def backorders_of(self, client_id: str, sku: str, limit: int) -> list[BackorderMark]:
        with self._lock:
            marks = [m for k, m in sorted(self._marks.items()) if k[:2] == (client_id, sku)]
        return sorted(marks, key=lambda m: (m.since, m.order_id))[:limit]

    def holds(self, writes: Sequence[SideWrite]) -> bool:
        """Whether every stock change keeps its counters at or above zero (lock held)."""
        for write in writes:
            if isinstance(write, StockChange):
                lot = self._stock.get((write.client_id, write.sku, write.warehouse, write.lot))
                if lot is None or lot.available + write.available < 0:
                    return False
                if lot.reserved + write.reserved < 0:
                    return False
        return True

    def apply(self, writes: Sequence[SideWrite]) -> None:
        """Apply the stock changes and backorder marks among ``writes`` (lock held)."""
        for write in writes:
            if isinstance(write, StockChange):
                key = (write.client_id, write.sku, write.warehouse, write.lot)
                lot = self._stock[key]
                self._stock[key] = lot.model_copy(
                    update={
                        "available": lot.available + write.available,
                        "reserved": lot.reserved + write.reserved,
                    }
                )
            elif isinstance(write, BackorderMark):
                mark = (write.client_id, write.sku, write.order_id)
                if write.remove:
                    self._marks.pop(mark, None)
                else:
                    self._marks[mark] = write


@dataclass
class FakeExecution:
    name: str
    execution_id: str
    payload: dict[str, Any]
    status: str = "RUNNING"


@dataclass(frozen=True)
class TaskOutcome:
    succeeded: bool
    output: dict[str, Any] | None = None
    error: str | None = None
    cause: str | None = None


class RecordingWorkflow(WorkflowEngine):
    """A workflow engine that records executions and task outcomes, Step Functions' rules:
    a start of a running execution with the same input returns it again; a start with another
    input, or of a closed execution, is refused; a task token resolves once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._starts_to_fail = 0
        self._waiting: set[str] = set()
        self.starts: list[str] = []  # every start request, by name, as CloudTrail would list
        self.executions: dict[str, FakeExecution] = {}
        self.outcomes: dict[str, TaskOutcome] = {}

    def fail_next_starts(self, count: int) -> None:
        """Fault injection: the next ``count`` starts raise ``TransientDependencyError``."""
        with self._lock:
            self._starts_to_fail = count

    def close(self, execution_name: str, status: str = "SUCCEEDED") -> None:
        """The execution ended (as it would by running to an end state or timing out)."""
        with self._lock:
            self.executions[execution_name].status = status

    def wait(self, task_token: str) -> None:
        """A task state is now waiting on ``task_token``."""
        with self._lock:
            self._waiting.add(task_token)

    def start(self, execution_name: str, payload: dict[str, Any]) -> str:
        with self._lock:
            self.starts.append(execution_name)
            if self._starts_to_fail:
                self._starts_to_fail -= 1
                raise TransientDependencyError("StartExecution failed: ServiceUnavailable")
            existing = self.executions.get(execution_name)
            if existing is None:
                existing = FakeExecution(
                    name=execution_name,
                    execution_id=f"execution-{next(self._ids)}:{execution_name}",
                    payload=copy.deepcopy(payload),
                )
                self.executions[execution_name] = existing
            elif existing.status != "RUNNING" or existing.payload != payload:
                raise ExecutionExists(execution_name)
            return existing.execution_id

    def succeed(self, task_token: str, output: dict[str, Any]) -> None:
        self._resolve(task_token, TaskOutcome(succeeded=True, output=copy.deepcopy(output)))

    def fail(self, task_token: str, error: str, cause: str) -> None:
        self._resolve(task_token, TaskOutcome(succeeded=False, error=error, cause=cause))

    def _resolve(self, task_token: str, outcome: TaskOutcome) -> None:
        with self._lock:
            if task_token not in self._waiting:
                raise TaskNotWaiting("TaskDoesNotExist")
            self._waiting.remove(task_token)
            self.outcomes[task_token] = outcome


class FixedSecrets(SecretStore):
    def __init__(self, values: Mapping[str, bytes]) -> None:
        self._values = dict(values)

    def get(self, name: str) -> bytes:
        try:
            return self._values[name]
        except KeyError:
            raise KeyError(f"secret {name} is not available") from None


class SettableClock(Clock):
    def __init__(self, now: datetime) -> None:
        if now.tzinfo is None:
            raise ValueError("the clock needs an aware datetime")
        self._now = now

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta


class CarrierStub(SandboxCarrier):
    """The sandbox carrier, counting what was bought: ``labels_bought`` lists order ids."""

    def __init__(self) -> None:
        super().__init__()
        self.labels_bought: list[str] = []

    def buy_label(self, shipment: Shipment, rate: Rate, idempotency_key: str) -> Label:
        self.labels_bought.append(shipment.order_id)
        return super().buy_label(shipment, rate, idempotency_key)


class RecordingWarehouseChannel(WarehouseChannel):
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, order: Order, document: Document) -> None:
        self.sent.append((order.order_id, document.name))


@dataclass(frozen=True)
class Notification:
    """One exception notification as its recipients would read it."""

    exception_id: str
    owner: str
    level: int
    due_at: datetime
    reason: str
    recipients: tuple[str, ...]
    order_owner: str


class NotifierRecorder(Notifier):
    """Records the notifications that went out: shipments by order, exceptions in full."""

    def __init__(self) -> None:
        self.shipments_sent: list[str] = []
        self.exceptions_assigned: list[tuple[str, str, str]] = []
        self.notifications: list[Notification] = []

    def shipment_sent(self, order: Order) -> None:
        self.shipments_sent.append(order.order_id)

    def exception_assigned(
        self, order: Order, exception: OrderException, reason: str, recipients: tuple[str, ...]
    ) -> None:
        self.exceptions_assigned.append((exception.exception_id, exception.owner, reason))
        self.notifications.append(
            Notification(
                exception_id=exception.exception_id,
                owner=exception.owner,
                level=exception.level,
                due_at=exception.due_at,
                reason=reason,
                recipients=tuple(recipients),
                order_owner=order.owner,
            )
        )


# --- the rest of the table: who is away, the audit index, rules, refusals, checkpoints ------


class InMemoryAwayRegistry(AwayRegistry):
    """Away periods, one a client and person (marking again replaces), and the open exceptions
    an owner holds, read from the repository's exceptions as the sparse index would list them."""

    def __init__(self, repo: InMemoryOrderRepository) -> None:
        self._repo = repo
        self._periods: dict[tuple[str, str], AwayPeriod] = {}

    def mark_away(self, period: AwayPeriod) -> None:
        self._periods[(period.client_id, period.person)] = period

    def clear_away(self, client_id: str, person: str) -> None:
        self._periods.pop((client_id, person), None)

    def away_periods(self, client_id: str) -> list[AwayPeriod]:
        return [p for (cid, _), p in sorted(self._periods.items()) if cid == client_id]


class InMemoryAuditIndex(AuditIndex):
    """The audit trail across a client's orders, read from the repository (the index is
    partitioned by client and day; a fake may read every order)."""

    def __init__(self, repo: InMemoryOrderRepository) -> None:
        self._repo = repo

    def audit_events_of_client(
        self, client_id: str, start: datetime, end: datetime
    ) -> list[AuditEvent]:
        events = [
            event
            for order in self.orders(self._repo.order_ids())
            if order.client_id == client_id
            for event in self._repo.audit_trail(order.order_id)
            if start <= event.at < end
        ]
        return sorted(events, key=lambda e: (e.at, e.order_id, e.seq))

    def orders(self, order_ids: Sequence[str]) -> list[Order]:
        found = (self._repo.get(order_id) for order_id in order_ids)
        return [order for order in found if order is not None]


class InMemoryRuleStore(RuleStore):
    """Rule versions by client and number, with the store's conditions: a new version must be
    new, a replaced one unchanged since it was read, an activation all or nothing."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changes: dict[tuple[str, int], RuleChange] = {}

    def rule_changes(self, client_id: str) -> list[RuleChange]:
        with self._lock:
            return [c for (cid, _), c in sorted(self._changes.items()) if cid == client_id]

    def active_rules(self, client_id: str) -> RuleChange | None:
        active = [c for c in self.rule_changes(client_id) if c.status is RuleChangeStatus.ACTIVE]
        return active[-1] if active else None

    def save_rule_change(self, change: RuleChange, expected: RuleChange | None) -> None:
        with self._lock:
            self._replace(change, expected)

    def activate_rule_change(
        self, change: RuleChange, approved: RuleChange, previous: RuleChange | None
    ) -> None:
        with self._lock:
            if self._changes.get((change.client_id, change.version)) != approved:
                raise ConcurrentUpdate(f"rule version {change.version} changed")
            if previous is not None:
                superseded = previous.model_copy(update={"status": RuleChangeStatus.SUPERSEDED})
                self._replace(superseded, previous)
            self._changes[(change.client_id, change.version)] = change

    def _replace(self, change: RuleChange, expected: RuleChange | None) -> None:
        key = (change.client_id, change.version)
        if self._changes.get(key) != expected:
            raise ConcurrentUpdate(f"rule version {change.version} changed")
        self._changes[key] = change


class InMemoryAccessLog(AccessLog):
    """Refused access, in the order it was recorded."""

    def __init__(self) -> None:
        self.denials: list[AccessDenial] = []

    def record_denial(self, denial: AccessDenial) -> None:
        self.denials.append(denial)

    def denials_of_client(self, client_id: str, since: datetime) -> list[AccessDenial]:
        return [d for d in self.denials if d.client_id == client_id and d.at >= since]


class InMemorySyncLedger(SyncLedger):
    """One checkpoint a client store, moved only from the state it was read in."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.states: dict[tuple[str, str, str], SyncState] = {}
        self.deferred: dict[tuple[str, str, str, str], DeferredFetch] = {}

    def sync_state(self, client_id: str, platform: str, store: str) -> SyncState | None:
        with self._lock:
            return self.states.get((client_id, platform, store))

    def save_sync_state(self, state: SyncState, expected: SyncState | None) -> None:
        key = (state.client_id, state.platform.value, state.store)
        with self._lock:
            if self.states.get(key) != expected:
                raise ConcurrentUpdate(f"the checkpoint of {state.store} moved")
            self.states[key] = state

    def defer_fetch(self, deferred: DeferredFetch) -> None:
        with self._lock:
            self.deferred[self._deferred_key(deferred)] = deferred

    def deferred_fetches(self, client_id: str, platform: str, store: str) -> list[DeferredFetch]:
        with self._lock:
            return [
                d for key, d in sorted(self.deferred.items())
                if key[:3] == (client_id, platform, store)
            ]  # fmt: skip

    def complete_fetch(self, deferred: DeferredFetch) -> None:
        key = self._deferred_key(deferred)
        with self._lock:
            current = self.deferred.get(key)
            if current is not None and current.deferred_at == deferred.deferred_at:
                del self.deferred[key]

    @staticmethod
    def _deferred_key(deferred: DeferredFetch) -> tuple[str, str, str, str]:
        return (
            deferred.client_id, deferred.platform.value, deferred.store,
            deferred.storefront_order_id,
        )  # fmt: skip


@dataclass(frozen=True)
class StoredOrder:
    storefront_order_id: str
    updated_at: datetime
    resource: bytes


class InMemoryStorefronts(StorefrontApi):
    """The storefronts' APIs: orders each store holds (raw resources, with the moment they last
    changed) and the fulfillments Shipshape confirmed. A confirmation looks before it writes,
    so a retry finds the fulfillment the first one made; an order a store does not hold is
    refused (404), as the platforms refuse it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._orders: dict[tuple[str, str], dict[str, StoredOrder]] = {}
        self.fulfillments: dict[tuple[str, str], ShipmentNotice] = {}  # (store, order id)

    def put_order(
        self, platform: str, store: str, storefront_order_id: str, updated_at: datetime,
        resource: bytes,
    ) -> None:  # fmt: skip
        """The store now holds this version of the order (as a shopper or its staff left it)."""
        with self._lock:
            self._orders.setdefault((platform, store), {})[storefront_order_id] = StoredOrder(
                storefront_order_id, updated_at, resource
            )

    def confirm_shipment(self, store: StoreConfig, notice: ShipmentNotice) -> WriteBackResult:
        key = (store.store, notice.storefront_order_id)
        with self._lock:
            if notice.storefront_order_id not in self._orders.get(
                (store.platform.value, store.store), {}
            ):
                raise StorefrontRefused(store.platform.value, 404, "not_found", "no such order")
            created = key not in self.fulfillments
            if created:
                self.fulfillments[key] = notice
            return WriteBackResult(
                reference=f"fulfillment-{notice.storefront_order_id}", created=created
            )

    def orders_updated_since(
        self, store: StoreConfig, since: datetime, until: datetime
    ) -> list[bytes]:
        with self._lock:
            held = self._orders.get((store.platform.value, store.store), {}).values()
            changed = sorted(
                (o for o in held if since <= o.updated_at < until), key=lambda o: o.updated_at
            )
        return [o.resource for o in changed]

    def fetch_order(self, store: StoreConfig, storefront_order_id: str) -> bytes:
        with self._lock:
            held = self._orders.get((store.platform.value, store.store), {})
            if storefront_order_id not in held:
                raise StorefrontRefused(store.platform.value, 404, "not_found", "no such order")
            return held[storefront_order_id].resource


SEED = Path(__file__).resolve().parent.parent / "local" / "shipshape_local" / "seed.toml"


def seed_inventory(inventory: InventoryRepository, path: Path = SEED) -> None:
    """The embedded runtime's starting catalog and stock, in a fake or real repository."""
    for entry in tomllib.loads(path.read_text())["sku"]:
        stock = entry.pop("stock", [])
        master = SkuMaster.model_validate(entry)
        inventory.put_sku(master)
        for lot in stock:
            expires = lot.get("expires_on")
            inventory.receive_stock(
                master.client_id, master.sku, lot["warehouse"], lot.get("lot", "-"),
                int(lot["quantity"]), lot["bin"],
                date.fromisoformat(str(expires)) if expires else None,
            )  # fmt: skip
