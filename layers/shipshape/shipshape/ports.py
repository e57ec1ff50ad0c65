"""Ports: what the domain needs from the outside world, as small abstract classes.

Real adapters (DynamoDB, Step Functions, Secrets Manager) live in ``shipshape.adapters`` and
are wired once in ``shipshape.bootstrap``; tests wire fakes or the embedded AWS emulator.
"""

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from pydantic import ConfigDict

from shipshape.base import Model
from shipshape.config import StoreConfig
from shipshape.errors import ShipshapeError, StorefrontRefused
from shipshape.models import (
    AccessDenial,
    Address,
    AuditEvent,
    AwayPeriod,
    BackorderMark,
    CatalogEntry,
    DeferredFetch,
    Document,
    Label,
    Order,
    OrderException,
    RuleChange,
    SideWrite,
    SkuMaster,
    StockLot,
    SyncState,
)


class AlreadyExists(ShipshapeError):
    """A create lost the race: another writer created the same order first."""


class ExecutionExists(ShipshapeError):
    """A closed execution with this name exists already (names are never reused)."""


class TaskNotWaiting(ShipshapeError):
    """The task token is no longer waited on (completed, timed out or unknown)."""


class Clock(ABC):
    """Time comes from here, never from ``datetime.now()``, so simulations can move it."""

    @abstractmethod
    def now(self) -> datetime: ...


class SystemClock(Clock):
    def now(self) -> datetime:
        return datetime.now(UTC)


class OrderRepository(ABC):
    """The system of record: an order with its exceptions, audit events and documents. Every
    change to an order (or to one of its exceptions) is written with its audit event in one
    transaction, guarded by the order's ``audit_seq`` (optimistic concurrency)."""

    @abstractmethod
    def get(self, order_id: str) -> Order | None:
        """The current record, read strongly consistent, or None."""

    @abstractmethod
    def create(self, order: Order, event: AuditEvent) -> None:
        """Write a new order and its first audit event; ``AlreadyExists`` if it exists."""

    @abstractmethod
    def apply(
        self,
        order: Order,
        event: AuditEvent,
        expected_seq: int,
        writes: Sequence[SideWrite] = (),
    ) -> None:
        """Replace the record with ``order`` and append ``event``, only if the stored
        ``audit_seq`` still equals ``expected_seq``; ``ConcurrentUpdate`` otherwise.

        ``writes`` (stock changes, backorder marks, documents) go in the same transaction;
        a stock change that would take a counter below zero fails it with ``ConcurrentUpdate``
        too: the caller reads again and decides again."""

    @abstractmethod
    def audit_trail(self, order_id: str) -> list[AuditEvent]:
        """Every audit event of an order, oldest first."""

    @abstractmethod
    def document(self, order_id: str, kind: str, number: int) -> Document | None:
        """A document kept for the order (pick list, packing manifest), or None."""

    @abstractmethod
    def pending_starts(self, accepted_before: datetime, limit: int) -> list[str]:
        """Ids of accepted orders whose workflow has not acknowledged its start, read from a
        sparse index (never a scan), oldest first."""

    @abstractmethod
    def open_picks(self, client_id: str, picker: str) -> int:
        """Orders assigned to ``picker`` and not yet picked, from a sparse index."""

    # --- the order's exceptions, written with it ---

    @abstractmethod
    def get_exception(self, exception_id: str) -> OrderException | None: ...

    @abstractmethod
    def write_exception(
        self,
        order: Order,
        exception: OrderException,
        event: AuditEvent,
        expected_seq: int,
        expected_version: int | None,
        writes: Sequence[SideWrite] = (),
    ) -> None:
        """Write order, exception, audit event (and ``writes``) atomically.

        ``expected_version`` None means the exception must be new. ``ConcurrentUpdate`` if
        either guard fails."""

    @abstractmethod
    def exceptions_due_before(self, moment: datetime, limit: int) -> list[OrderException]:
        """Open exceptions whose deadline is before ``moment``, from a sparse index, oldest
        deadline first: the items read are the overdue ones, whatever the table size."""

    @abstractmethod
    def exceptions_of_client(self, client_id: str, limit: int) -> list[OrderException]:
        """A client's exceptions, newest first (open and resolved), up to ``limit``."""

    @abstractmethod
    def open_exceptions_of(self, client_id: str, owner: str) -> list[OrderException]:
        """Open exceptions owned by ``owner`` (a person or team), from a sparse index."""


class AuditIndex(ABC):
    """The audit trail read across orders, per client and time: what metrics and the Monday
    checklist are computed from."""

    @abstractmethod
    def audit_events_of_client(
        self, client_id: str, start: datetime, end: datetime
    ) -> list[AuditEvent]:
        """Every audit event of the client's orders with ``start <= at < end``, oldest first,
        from an index partitioned by client and day (never a scan)."""

    @abstractmethod
    def orders(self, order_ids: Sequence[str]) -> list[Order]:
        """The orders that exist among ``order_ids`` (batched reads)."""


class RuleStore(ABC):
    """Versions of each client's operating rules (version 1 is the configuration file)."""

    @abstractmethod
    def rule_changes(self, client_id: str) -> list[RuleChange]:
        """Every proposed, approved, active, superseded or rejected version, oldest first."""

    @abstractmethod
    def active_rules(self, client_id: str) -> RuleChange | None:
        """The active version, or None while the configuration file's rules apply."""

    @abstractmethod
    def save_rule_change(self, change: RuleChange, expected: RuleChange | None) -> None:
        """Create ``change`` (``expected`` None: the version must be new) or replace
        ``expected`` with it, only if unchanged since read; ``ConcurrentUpdate`` otherwise."""

    @abstractmethod
    def activate_rule_change(
        self, change: RuleChange, approved: RuleChange, previous: RuleChange | None
    ) -> None:
        """Atomically: ``approved`` becomes ``change`` (active), ``previous`` (the active one,
        if any) superseded; ``ConcurrentUpdate`` if anything moved since read."""


class SyncLedger(ABC):
    """Reconciliation checkpoints, one per client store, and the order reads webhook ingest
    left to reconciliation (``DeferredFetch``)."""

    @abstractmethod
    def sync_state(self, client_id: str, platform: str, store: str) -> SyncState | None: ...

    @abstractmethod
    def save_sync_state(self, state: SyncState, expected: SyncState | None) -> None:
        """Store ``state`` only if the stored one is still ``expected`` (None: none stored);
        ``ConcurrentUpdate`` otherwise, so two passes never move a checkpoint back."""

    @abstractmethod
    def defer_fetch(self, deferred: DeferredFetch) -> None:
        """Remember an order read left for reconciliation; one per order (a later deferral of
        the same order replaces the earlier)."""

    @abstractmethod
    def deferred_fetches(self, client_id: str, platform: str, store: str) -> list[DeferredFetch]:
        """The store's deferred order reads, oldest order id first (one small partition)."""

    @abstractmethod
    def complete_fetch(self, deferred: DeferredFetch) -> None:
        """Forget a deferred read once its order is recorded, unless the order was deferred
        again since ``deferred`` was read (that one stays, for the next pass)."""


class AccessLog(ABC):
    """Where refused access is recorded for review."""

    @abstractmethod
    def record_denial(self, denial: AccessDenial) -> None: ...

    @abstractmethod
    def denials_of_client(self, client_id: str, since: datetime) -> list[AccessDenial]: ...


class AwayRegistry(ABC):
    """Who is out of office, per client."""

    @abstractmethod
    def mark_away(self, period: AwayPeriod) -> None:
        """Record (or replace) a person's away period for a client."""

    @abstractmethod
    def clear_away(self, client_id: str, person: str) -> None: ...

    @abstractmethod
    def away_periods(self, client_id: str) -> list[AwayPeriod]:
        """Every recorded away period of a client's people (one small partition)."""


class InventoryRepository(ABC):
    """The SKU master and stock per client, SKU, warehouse and lot. Reservations and releases
    are not here: they are ``writes`` of the order change that causes them."""

    @abstractmethod
    def skus(self, client_id: str, skus: Sequence[str]) -> dict[str, SkuMaster]:
        """The SKU master records that exist among ``skus``."""

    @abstractmethod
    def put_sku(self, sku: SkuMaster) -> None:
        """Write the warehouse's facts of one SKU; the storefront's entry beside them stays."""

    @abstractmethod
    def put_catalog(self, entry: CatalogEntry) -> bool:
        """Write the storefront's entry of one SKU, unless the SKU holds an entry of the same
        source at this version or a newer one (False: nothing written). The warehouse's facts
        beside it stay; reads merge both (``merged_master``)."""

    @abstractmethod
    def product_skus(self, client_id: str, source: str, store: str, product_id: str) -> list[str]:
        """Every SKU the storefront product's variants have carried (sorted)."""

    @abstractmethod
    def remember_product(
        self, client_id: str, source: str, store: str, product_id: str, skus: Sequence[str]
    ) -> None:
        """Add ``skus`` to the SKUs recorded for the product (idempotent)."""

    @abstractmethod
    def stock_of(self, client_id: str, sku: str) -> list[StockLot]:
        """Every stock lot of one SKU (all warehouses), read strongly consistent."""

    @abstractmethod
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
        """Add received units to a lot's available count (atomic); the lot after it. With a
        ``receipt`` (the warehouse's event id), a receipt already recorded adds nothing: a
        delivery counted once even when the event is processed again after a crash."""

    @abstractmethod
    def backorders_of(self, client_id: str, sku: str, limit: int) -> list[BackorderMark]:
        """Orders waiting for this SKU, longest-waiting first."""


class WarehouseChannel(ABC):
    """Hands documents (pick lists, packing manifests) to the client's warehouse."""

    @abstractmethod
    def send(self, order: Order, document: Document) -> None: ...


class Shipment(Model):
    """What a carrier rates and labels: from where, to where, and the parcel."""

    model_config = ConfigDict(frozen=True)

    order_id: str
    ship_from_postal_code: str
    ship_from_country: str
    to: Address
    weight_grams: int
    length_mm: int
    width_mm: int
    height_mm: int


class Rate(Model):
    model_config = ConfigDict(frozen=True)

    carrier: str
    service: str
    amount: Decimal
    currency: str = "USD"
    transit_days: int


class WorkflowEngine(ABC):
    """The per-order fulfillment workflow (Step Functions in AWS and in the embedded runtime)."""

    @abstractmethod
    def start(self, execution_name: str, payload: dict[str, Any]) -> str:
        """Start (or find the running) execution named ``execution_name``; return its id.

        Raises ``ExecutionExists`` when a closed execution already used the name."""

    @abstractmethod
    def succeed(self, task_token: str, output: dict[str, Any]) -> None:
        """Resolve a wait; ``TaskNotWaiting`` if the token is no longer waited on."""

    @abstractmethod
    def fail(self, task_token: str, error: str, cause: str) -> None:
        """Fail a wait with a named error; ``TaskNotWaiting`` if nobody waits on it."""


class SecretStore(ABC):
    @abstractmethod
    def get(self, name: str) -> bytes:
        """The secret's value. Raises ``KeyError`` naming only the secret's name if absent."""

    def get_many(self, names: Sequence[str | None]) -> list[bytes]:
        """Values for the names that are set and exist (a rotation's old secret may be gone)."""
        values = []
        for name in names:
            if not name:
                continue
            try:
                values.append(self.get(name))
            except KeyError:
                continue
        return values


class Carrier(ABC):
    """A carrier's API: rates, label purchase, voids and tendering. Refusals raise
    ``CarrierRejected`` with the carrier's typed reason."""

    @abstractmethod
    def rates(self, shipment: Shipment) -> list[Rate]:
        """Services that can carry this shipment, with price and transit days."""

    @abstractmethod
    def buy_label(self, shipment: Shipment, rate: Rate, idempotency_key: str) -> Label:
        """Buy a label; the same ``idempotency_key`` returns the same label, never a second."""

    @abstractmethod
    def void_label(self, label: Label) -> None:
        """Void a label (no charge); voiding a voided label is not an error."""

    @abstractmethod
    def tender(self, label: Label, shipment: Shipment) -> None:
        """Hand the parcel over (manifest); the carrier may still reject it here."""


class Notifier(ABC):
    """Tells people what happened: customers of a shipment, owners of an exception."""

    @abstractmethod
    def shipment_sent(self, order: Order) -> None: ...

    @abstractmethod
    def exception_assigned(
        self, order: Order, exception: OrderException, reason: str, recipients: tuple[str, ...]
    ) -> None:
        """Tell an exception's owner (``recipients``: the people behind it) that it is theirs:
        the exception, the order, the deadline and the remediation steps. ``reason`` says why
        now: opened, escalated or reassigned."""


class ShippedLine(Model):
    """One storefront line (``line_id`` is the storefront's own line id) and the units shipped."""

    model_config = ConfigDict(frozen=True)

    line_id: str
    sku: str
    quantity: int


class ShipmentNotice(Model):
    """What a storefront is told when an order ships, fully or partially."""

    model_config = ConfigDict(frozen=True)

    order_id: str
    platform: str
    store: str
    storefront_order_id: str
    order_number: str | None = None
    carrier: str
    service: str
    tracking_number: str
    tracking_url: str | None = None
    lines: tuple[ShippedLine, ...]
    partial: bool = False
    shipped_at: datetime


class WriteBackResult(Model):
    """What the storefront holds after a write-back: its own reference for the fulfillment
    (a Shopify Fulfillment gid, a WooCommerce note id), and whether this call created it or
    found it already there (a retry)."""

    model_config = ConfigDict(frozen=True)

    reference: str
    created: bool


class StorefrontApi(ABC):
    """The storefronts' own APIs, reached with each store's API credential. Failures raise
    ``StorefrontUnavailable`` (worth retrying later) or ``StorefrontRefused`` (typed: retrying
    will not help). Throttling (429 with Retry-After) is waited out inside a call."""

    @abstractmethod
    def confirm_shipment(self, store: StoreConfig, notice: ShipmentNotice) -> WriteBackResult:
        """Tell the storefront what shipped, with carrier and tracking number. Idempotent: it
        looks before it writes, so a retry after a timeout finds the fulfillment the first
        attempt made instead of making a second."""

    @abstractmethod
    def orders_updated_since(
        self, store: StoreConfig, since: datetime, until: datetime
    ) -> list[bytes]:
        """Every order the storefront changed with ``since <= updated < until``, oldest change
        first, each as the raw JSON resource the store's adapter normalizes
        (``StorefrontAdapter.normalize_resource``)."""

    @abstractmethod
    def fetch_order(self, store: StoreConfig, storefront_order_id: str) -> bytes:
        """One order as the raw JSON resource its adapter normalizes."""

    def products(self, store: StoreConfig) -> list[bytes]:
        """Every product of the store (all pages), each as the raw JSON resource its adapter
        maps (``StorefrontAdapter.normalize_product_resource``)."""
        raise StorefrontRefused(
            store.platform.value, 0, "not_supported",
            f"store {store.store}: its products cannot be read",
        )  # fmt: skip
