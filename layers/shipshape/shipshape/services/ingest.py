"""Webhook ingest: verify, normalize, deduplicate on the business key, record, start.

Webhooks are at-least-once and unordered. The canonical order id is a function of the
business key (client, platform, store, storefront order id), and each stored order keeps the
storefront version it reflects, so:
- the same version again is a duplicate: same order id, nothing written;
- an older version after a newer one is stale: nothing written;
- two versions stamped in the same instant (create, then paid, within a second) are ordered
  by what they say (``lifecycle``: ended over paid over pending, more shipped over less);
- a newer version updates the record, and the audit trail says what changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

from shipshape.audit import AuditAction, RefundOutcome
from shipshape.config import ClientConfig, StoreConfig
from shipshape.errors import (
    OrderCancelled,
    PayloadInvalid,
    PaymentMismatch,
    SignatureInvalid,
    StorefrontRefused,
    StorefrontUnavailable,
    UnsupportedPlatform,
)
from shipshape.models import (
    NOT_STARTED_STATUSES,
    SHIPPED_STATUSES,
    TERMINAL_STATUSES,
    Actor,
    AuditEvent,
    DeferredFetch,
    LineKind,
    Order,
    OrderChanges,
    OrderLine,
    OrderStatus,
    OtherLine,
    PaymentState,
    Platform,
    RefundedLine,
    SideWrite,
    StorefrontOrder,
    canonical_order_id,
)
from shipshape.observability import logger
from shipshape.ports import (
    AlreadyExists,
    Clock,
    ExecutionExists,
    OrderRepository,
    SecretStore,
    StorefrontApi,
    SyncLedger,
    TaskNotWaiting,
    WorkflowEngine,
)
from shipshape.services import inventory as stock
from shipshape.services.fulfillment import (
    release_ahead,
    release_writes,
    released,
    released_detail,
    released_for_lines,
)
from shipshape.services.records import (
    commit_exception,
    commit_new,
    owner_after,
    record,
    retry_on_conflict,
    workflow_input,
)
from shipshape.storefronts import adapter_for
from shipshape.storefronts.base import WebhookDelivery

FROZEN_AFTER_START = ("lines", "other_lines", "shipping_address", "destinations")
# Not picked yet: a refund's units can still leave the order (and its pick list) unseen.
BEFORE_PICKING = NOT_STARTED_STATUSES | {
    OrderStatus.ACCEPTED,
    OrderStatus.ADDRESS_VALIDATED,
    OrderStatus.RESERVED,
    OrderStatus.PICKER_ASSIGNED,
    OrderStatus.AWAITING_PICK,
}
STOREFRONT_FIELDS = (
    "order_number",
    "payment",
    "currency",
    "total",
    "tax",
    "storefront_paid_at",
    "customer",
    "shipping_address",
    "destinations",
    "lines",
    "other_lines",
)


class IngestOutcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DUPLICATE = "duplicate"
    STALE = "stale"
    # The webhook named an order (its id only) the storefront did not answer the read of in
    # time: accepted, and left to the store's next reconciliation pass (``DeferredFetch``).
    DEFERRED = "deferred"


@dataclass(frozen=True)
class IngestResult:
    order_id: str
    outcome: IngestOutcome
    status: OrderStatus | None  # None: deferred, and not recorded before
    detail: str


class _FetchUnanswered(StorefrontUnavailable):
    """The storefront did not answer the order read (slow, down, throttling, or no time left
    in the invocation): worth reading again later, unlike a refusal or a missing credential."""


def ingest_webhook(
    *,
    client: ClientConfig,
    platform: Platform,
    delivery: WebhookDelivery,
    repo: OrderRepository,
    secrets: SecretStore,
    workflow: WorkflowEngine,
    clock: Clock,
    storefronts: StorefrontApi | None = None,
    deferrals: SyncLedger | None = None,
) -> IngestResult:
    """Accept one storefront delivery for ``client``. Raises client errors for bad requests
    (before anything is written) and never writes a half order.

    A platform whose webhooks carry only the order id (BigCommerce) has the order fetched from
    its API with the store's credential after the delivery is verified: what is recorded is
    what the storefront's API says, never what an unauthenticated body claims. When the
    storefront does not answer that read in time and ``deferrals`` is given, the read is
    recorded there for the store's next reconciliation pass and the delivery is accepted as
    ``DEFERRED``: a slow storefront is never answered with an error for its own slowness, and
    the order is not lost (without ``deferrals``: ``StorefrontUnavailable``)."""
    store = verified_store(client, platform, delivery, secrets)
    return _ingest_authentic(
        client=client, store=store, delivery=delivery, repo=repo, workflow=workflow,
        clock=clock, storefronts=storefronts, source="webhook", deferrals=deferrals,
    )  # fmt: skip


def verified_store(
    client: ClientConfig, platform: Platform, delivery: WebhookDelivery, secrets: SecretStore
) -> StoreConfig:
    """The configured store the delivery claims, once its signature is checked with that
    store's secret (every webhook topic, orders and products alike, passes here)."""
    adapter = adapter_for(platform)
    stores = client.stores_on(platform)
    if not stores:
        raise UnsupportedPlatform(f"client {client.client_id} has no {platform.value} store")

    claimed = adapter.claimed_store(delivery)
    store = client.store_for(platform, claimed) if claimed else None
    if store is None and claimed is None and len(stores) == 1:
        store = stores[0]
    if store is None:
        # Fail closed: an unknown store has no secret we could check the signature with.
        raise SignatureInvalid(
            f"store {claimed!r} is not configured for client {client.client_id}"
            if claimed
            else "the delivery does not name its store"
        )
    keys = secrets.get_many(store.secret_names(delivery.received_at))
    if not keys:
        logger.error("no webhook secret available", extra={"client_id": client.client_id})
        raise SignatureInvalid("no webhook secret is available for this store")
    adapter.verify(delivery, keys)
    return store


def ingest_partner_delivery(
    *,
    client: ClientConfig,
    store: StoreConfig,
    delivery: WebhookDelivery,
    repo: OrderRepository,
    workflow: WorkflowEngine,
    clock: Clock,
    storefronts: StorefrontApi | None = None,
    source: str,
) -> IngestResult:
    """Accept one storefront delivery that reached Shipshape through a channel that is itself
    the proof of its sender (Shopify's Amazon EventBridge partner event source: only Shopify
    can put events on it, and the caller has checked the event's source and account). There
    is no signature to check, so none is; from here on it is the webhook's own path: the same
    normalization by the platform's adapter and the same idempotent ``ingest_version``, so one
    order version is one order whichever way it arrives. ``store`` is the configured store the
    delivery names (``claimed_store``); ``PayloadInvalid`` when it names another."""
    claimed = adapter_for(store.platform).claimed_store(delivery)
    if claimed is None or client.store_for(store.platform, claimed) != store:
        raise PayloadInvalid(f"the delivery names store {claimed!r}, not {store.store!r}")
    return _ingest_authentic(
        client=client, store=store, delivery=delivery, repo=repo, workflow=workflow,
        clock=clock, storefronts=storefronts, source=source,
    )  # fmt: skip


def _ingest_authentic(
    *,
    client: ClientConfig,
    store: StoreConfig,
    delivery: WebhookDelivery,
    repo: OrderRepository,
    workflow: WorkflowEngine,
    clock: Clock,
    storefronts: StorefrontApi | None,
    source: str,
    deferrals: SyncLedger | None = None,
) -> IngestResult:
    """A delivery known to come from ``store``: normalized (or its order fetched), recorded."""
    adapter = adapter_for(store.platform)
    reference = adapter.order_reference(delivery)
    if reference is None:
        incoming = adapter.normalize(delivery)
    else:
        try:
            resource = _fetch(store, reference, storefronts)
        except _FetchUnanswered as exc:
            if deferrals is None:
                raise
            return _defer(client, store, reference, repo, deferrals, clock, str(exc))
        incoming = adapter.normalize_resource(resource, store.store)
        if incoming.storefront_order_id != reference:
            raise PayloadInvalid(
                f"data.id: the store answered order {incoming.storefront_order_id} for "
                f"order {reference}"
            )
    return ingest_version(
        client=client, store=store, incoming=incoming, repo=repo, workflow=workflow,
        clock=clock, source=source,
    )  # fmt: skip


def ingest_version(
    *,
    client: ClientConfig,
    store: StoreConfig,
    incoming: StorefrontOrder,
    repo: OrderRepository,
    workflow: WorkflowEngine,
    clock: Clock,
    source: str,
) -> IngestResult:
    """Record one authenticated order version (from a webhook, or read from the storefront's
    API by reconciliation): the one idempotent path every order version takes. ``source``
    says which, in the log. ``PayloadInvalid`` (nothing written) for a version stamped further
    ahead of ``clock`` than clock skew explains: it would outrank every real change after it."""
    adapter_for(incoming.platform).check_not_ahead(incoming, clock.now())
    order_id = canonical_order_id(
        client.client_id, store.platform, store.store, incoming.storefront_order_id
    )
    result = retry_on_conflict(
        5, lambda: _record_version(client, order_id, incoming, repo, clock, source)
    )
    order = result[1]
    if result[0].outcome in (IngestOutcome.CREATED, IngestOutcome.UPDATED):
        _after_write(order, workflow, result[2])
    logger.info(
        "order version ingested",
        extra={
            "order_id": order_id,
            "client_id": client.client_id,
            "platform": incoming.platform.value,
            "source": source,
            "outcome": result[0].outcome.value,
            "status": order.status.value,
        },
    )
    return result[0]


def _fetch(store: StoreConfig, reference: str, storefronts: StorefrontApi | None) -> bytes:
    """The order a pointer-only webhook names, from the storefront's API."""
    if storefronts is None or not store.api_token_secret_name:
        raise StorefrontUnavailable(
            f"{store.platform.value} store {store.store} has no API credential configured "
            "(api_token_secret_name): its webhooks name an order Shipshape cannot read"
        )
    try:
        return storefronts.fetch_order(store, reference)
    except StorefrontUnavailable as exc:
        raise _FetchUnanswered(str(exc)) from exc
    except StorefrontRefused as exc:
        if exc.status == 404:
            raise PayloadInvalid(f"data.id: the store has no order {reference}") from None
        # Our credential or the store's set-up is wrong: the sender cannot fix that, and a
        # retry after it is fixed must still work, so answer 503 (the platform retries).
        logger.error(
            "the storefront refused the order fetch",
            extra={"store": store.store, "status": exc.status, "code": exc.code},
        )
        raise StorefrontUnavailable(
            f"{store.platform.value} refused Shipshape's order read ({exc.status} {exc.code})"
        ) from None


def _defer(
    client: ClientConfig,
    store: StoreConfig,
    reference: str,
    repo: OrderRepository,
    deferrals: SyncLedger,
    clock: Clock,
    reason: str,
) -> IngestResult:
    """Leave the order's read to the store's next reconciliation pass, durably."""
    order_id = canonical_order_id(client.client_id, store.platform, store.store, reference)
    deferrals.defer_fetch(
        DeferredFetch(
            client_id=client.client_id, platform=store.platform, store=store.store,
            storefront_order_id=reference, deferred_at=clock.now(), reason=reason[:500],
        )
    )  # fmt: skip
    known = repo.get(order_id)
    logger.warning(
        "the storefront did not answer the order read in time: left to reconciliation",
        extra={"order_id": order_id, "client_id": client.client_id, "store": store.store},
    )
    return IngestResult(
        order_id=order_id,
        outcome=IngestOutcome.DEFERRED,
        status=known.status if known else None,
        detail=(
            f"accepted; {store.platform.value} did not answer the read of order {reference} "
            "in time, so the store's next reconciliation pass reads and records it"
        ),
    )


def _record_version(
    client: ClientConfig,
    order_id: str,
    incoming: StorefrontOrder,
    repo: OrderRepository,
    clock: Clock,
    source: str,
) -> tuple[IngestResult, Order, str | None]:
    """Record one version; also returns a task token the cancellation must interrupt."""
    actor = Actor(kind="storefront", id=f"{incoming.platform.value}:{incoming.store}")
    existing = repo.get(order_id)
    if existing is None:
        try:
            order = _create(client, order_id, incoming, repo, clock, actor, source)
        except AlreadyExists:
            # A concurrent delivery created it first: decide again against what it wrote.
            return _record_version(client, order_id, incoming, repo, clock, source)
        result = IngestResult(order_id, IngestOutcome.CREATED, order.status, "order recorded")
        return result, order, None

    said, recorded = (incoming.version, incoming.lifecycle), (existing.version, existing.lifecycle)
    if said == recorded:
        return (
            IngestResult(
                order_id,
                IngestOutcome.DUPLICATE,
                existing.status,
                f"version {incoming.version} is already recorded; nothing changed",
            ),
            existing,
            None,
        )
    if said < recorded:
        older = (
            f"is older than the recorded version {existing.version}"
            if incoming.version < existing.version
            # Stamped in the same instant as the recorded one, and says less (pending after
            # paid, say): it was sent first and arrived late.
            else "was stamped with the recorded one but says less (an earlier state)"
        )
        return (
            IngestResult(
                order_id,
                IngestOutcome.STALE,
                existing.status,
                f"version {incoming.version} {older}; nothing changed",
            ),
            existing,
            None,
        )
    order, token = _update(client, existing, incoming, repo, clock, actor, source)
    result = IngestResult(order_id, IngestOutcome.UPDATED, order.status, "order updated")
    return result, order, token


def _ready(client: ClientConfig, incoming: StorefrontOrder) -> bool:
    """Whether fulfilment may start: the platform says so (paid), or the payment is
    authorized and the client fulfils on authorization."""
    if incoming.cancelled:
        return False
    return incoming.ready_to_fulfil or (
        incoming.payment is PaymentState.AUTHORIZED and client.fulfilment.fulfils(incoming.payment)
    )


def _initial_status(client: ClientConfig, incoming: StorefrontOrder, left: _Taken) -> OrderStatus:
    if incoming.cancelled or (_ships(incoming.lines, incoming.other_lines) and not left.ships):
        # Cancelled, or refunded of every unit to ship: it ends as a cancel ends it.
        return OrderStatus.CANCELLED
    if _ready(client, incoming):
        return OrderStatus.ACCEPTED if left.ships else OrderStatus.NOTHING_TO_SHIP
    return _waiting(incoming)


def _waiting(incoming: StorefrontOrder) -> OrderStatus:
    """Where an order not ready to fulfil waits: partly paid with its own owner, else
    received."""
    if incoming.payment is PaymentState.PARTIALLY_PAID:
        return OrderStatus.PARTIALLY_PAID
    return OrderStatus.RECEIVED


def _ships(lines: Sequence[OrderLine], other_lines: Sequence[OtherLine]) -> bool:
    """Whether any line is to ship: one to pick, or one to map to a SKU first. An order of
    digital goods, gift cards and tips alone has nothing for the workflow to do."""
    return bool(lines) or any(line.kind is LineKind.NO_SKU for line in other_lines)


# --- partial refunds --------------------------------------------------------------------


@dataclass(frozen=True)
class _Taken:
    """Lines once refunded units left them, and what left: per line (line_id, sku,
    quantity), and the lines that left whole."""

    lines: tuple[OrderLine, ...]
    other_lines: tuple[OtherLine, ...]
    refunded: list[dict[str, Any]]
    removed: list[str]

    @property
    def ships(self) -> bool:
        return _ships(self.lines, self.other_lines)


def _units(refunds: Sequence[RefundedLine] | None) -> dict[str, int]:
    return {r.line_id: r.quantity for r in refunds or ()}


def _take_off(
    lines: Sequence[OrderLine], other_lines: Sequence[OtherLine], units: Mapping[str, int]
) -> _Taken:
    """``lines`` less ``units`` refunded per line id (a line refunded in full leaves them)."""
    refunded: list[dict[str, Any]] = []
    removed: list[str] = []

    def less[L: (OrderLine, OtherLine)](line: L) -> L | None:
        gone = min(units.get(line.line_id, 0), line.quantity)
        if gone == 0:
            return line
        refunded.append({"line_id": line.line_id, "sku": line.sku, "quantity": gone})
        if gone == line.quantity:
            removed.append(line.line_id)
            return None
        return line.model_copy(update={"quantity": line.quantity - gone})

    kept = tuple(ln for ln in (less(line) for line in lines) if ln is not None)
    others = tuple(ln for ln in (less(line) for line in other_lines) if ln is not None)
    return _Taken(kept, others, refunded, removed)


def _as_received(incoming: StorefrontOrder) -> _Taken:
    """The storefront's lines less every unit it says it refunded."""
    return _take_off(incoming.lines, incoming.other_lines, _units(incoming.refunded_lines))


def _new_refund(existing: Order, incoming: StorefrontOrder) -> dict[str, int] | None:
    """The units this version refunds beyond what is recorded, per line ({} when the
    platform does not say which lines), or None when it refunds nothing new in part."""
    if incoming.payment is PaymentState.REFUNDED or incoming.cancelled:
        return None  # refunded in full: the order ends (or is recorded ended)
    if incoming.refunded_lines is None:
        more_money = incoming.refunded_total > existing.refunded_total
        first = existing.payment is not PaymentState.PARTIALLY_REFUNDED
        partly = incoming.payment is PaymentState.PARTIALLY_REFUNDED
        return {} if partly and (more_money or first) else None
    before = _units(existing.refunded_lines)
    delta = {
        line_id: quantity - before.get(line_id, 0)
        for line_id, quantity in _units(incoming.refunded_lines).items()
        if quantity > before.get(line_id, 0)
    }
    return delta or None


def _unsettled_note(
    incoming: StorefrontOrder, refund: _Taken | None = None, status: OrderStatus | None = None
) -> str:
    if refund is None or status is None:
        return (
            f"the storefront refunded part of the order ({incoming.refunded_total} "
            f"{incoming.currency} refunded so far) without saying which lines: a person "
            "decides what ships"
        )
    units = ", ".join(f"line {r['line_id']} ({r['sku']}): {r['quantity']}" for r in refund.refunded)
    return (
        f"the storefront refunded units after the order was {status.value} "
        f"({units}): they must not ship unless the client approves"
    )


def _create(
    client: ClientConfig,
    order_id: str,
    incoming: StorefrontOrder,
    repo: OrderRepository,
    clock: Clock,
    actor: Actor,
    source: str,
) -> Order:
    now = clock.now()
    left = _as_received(incoming)
    status = _initial_status(client, incoming, left)
    ended = status is OrderStatus.CANCELLED
    unsettled = (
        _unsettled_note(incoming)
        if incoming.refunded_lines is None and incoming.payment is PaymentState.PARTIALLY_REFUNDED
        else None
    )
    timestamps = {OrderStatus.RECEIVED: now, status: now}
    order = Order(
        order_id=order_id,
        client_id=client.client_id,
        platform=incoming.platform,
        store=incoming.store,
        storefront_order_id=incoming.storefront_order_id,
        order_number=incoming.order_number,
        version=incoming.version,
        lifecycle=incoming.lifecycle,
        storefront_updated_at=incoming.storefront_updated_at,
        received_at=now,
        payment=incoming.payment,
        currency=incoming.currency,
        total=incoming.total,
        tax=incoming.tax,
        storefront_created_at=incoming.storefront_created_at,
        storefront_paid_at=incoming.storefront_paid_at,
        customer=incoming.customer,
        shipping_address=incoming.shipping_address,
        destinations=incoming.destinations,
        # A refund that left nothing to ship: the record keeps the lines as ordered.
        lines=incoming.lines if ended else left.lines,
        other_lines=incoming.other_lines if ended else left.other_lines,
        refunded_lines=incoming.refunded_lines or (),
        refunded_total=incoming.refunded_total,
        refund_unsettled=unsettled,
        status=status,
        owner=client.owner_of(status),
        status_timestamps=timestamps,
        rules_version=client.rules_version,
        audit_seq=1,
        execution_name=order_id if status is OrderStatus.ACCEPTED else None,
        pending_start=status is OrderStatus.ACCEPTED,
    )
    event = AuditEvent(
        order_id=order_id,
        seq=1,
        at=now,
        action=AuditAction.ORDER_RECEIVED,
        actor=actor,
        to_status=status,
        owner=order.owner,
        detail={
            "version": incoming.version,
            "storefront_updated_at": incoming.storefront_updated_at.isoformat(),
            "sync_lag_seconds": round((now - incoming.storefront_updated_at).total_seconds(), 3),
            "source": source,
            "payment": incoming.payment.value,
            "rules_version": client.rules_version,
        },
    )
    commit_new(repo, order, event)
    return order


def _update(
    client: ClientConfig,
    existing: Order,
    incoming: StorefrontOrder,
    repo: OrderRepository,
    clock: Clock,
    actor: Actor,
    source: str,
) -> tuple[Order, str | None]:
    as_received = _as_received(incoming)
    units = _new_refund(existing, incoming)
    outcome: RefundOutcome | None = None
    refund: _Taken | None = None
    if units is not None:
        outcome, refund = _refund_outcome(existing, incoming, units, as_received)
    # A refund that leaves nothing to ship ends the order as a cancel does.
    ends = incoming.cancelled or (
        outcome is RefundOutcome.REMOVED and refund is not None and not refund.ships
    )
    if ends and existing.status not in TERMINAL_STATUSES:
        # Stock held in more lots than the cancel's own transaction holds goes back in groups
        # first; a redelivered cancel finds the version unrecorded and goes on from there.
        existing = release_ahead(repo, clock, client, existing, actor)
    received = {"lines": as_received.lines, "other_lines": as_received.other_lines}
    differing = {
        name: received.get(name, getattr(incoming, name))
        for name in STOREFRONT_FIELDS
        if received.get(name, getattr(incoming, name)) != getattr(existing, name)
    }
    # Once fulfilment started, what is picked and where it goes change only through an
    # operator (an override or a resolution); the storefront's change is recorded, not applied.
    # A refund's units are the exception: they leave the order before picking (below).
    held_back = []
    if existing.status not in NOT_STARTED_STATUSES | {OrderStatus.ACCEPTED}:
        held_back = sorted(name for name in FROZEN_AFTER_START if name in differing)
        for name in held_back:
            del differing[name]
    # The storefront's fields are the order's own (STOREFRONT_FIELDS), checked again on apply.
    changes = cast(OrderChanges, differing)
    changed = sorted(changes)
    changes["version"] = incoming.version
    changes["lifecycle"] = incoming.lifecycle
    changes["storefront_updated_at"] = incoming.storefront_updated_at
    if incoming.refunded_lines is not None and incoming.refunded_lines != existing.refunded_lines:
        changes["refunded_lines"] = incoming.refunded_lines
    if incoming.refunded_total != existing.refunded_total:
        changes["refunded_total"] = incoming.refunded_total
    detail: dict[str, Any] = {
        "version": incoming.version,
        "previous_version": existing.version,
        "changed": changed,
        "sync_lag_seconds": round(
            (clock.now() - incoming.storefront_updated_at).total_seconds(), 3
        ),
        "source": source,
    }
    to_status: OrderStatus | None = None
    action = AuditAction.STOREFRONT_UPDATED
    writes: list[SideWrite] = []
    if ends and existing.status not in TERMINAL_STATUSES:
        to_status, action = OrderStatus.CANCELLED, AuditAction.ORDER_CANCELLED
        changes["pending_start"] = False
        # Reserved stock goes back in the cancel's own transaction: exactly once, since a
        # redelivered cancel finds the order cancelled and writes nothing.
        changes.update(released(existing))
        detail.update(released_detail(existing))
        writes = release_writes(existing)
        if refund is not None and not incoming.cancelled:
            detail["refunded"] = refund.refunded
            detail["note"] = "refunded of every unit to ship"
            # The record keeps the lines as they were ordered; refunded_lines says what went.
            changes.pop("lines", None)
            changes.pop("other_lines", None)
    else:
        if outcome is not None:
            action = AuditAction.LINES_REFUNDED
            detail.update(
                outcome=outcome.value,
                refunded=refund.refunded if refund is not None else [],
                refunded_total=str(incoming.refunded_total),
            )
        if outcome is RefundOutcome.REMOVED and refund is not None:
            changes["lines"], changes["other_lines"] = refund.lines, refund.other_lines
            held_back = [n for n in held_back if n not in ("lines", "other_lines")]
            if refund.removed:
                detail["removed_lines"] = refund.removed
            freed, gone = released_for_lines(existing, refund.lines)
            changes.update(freed)
            writes = list(stock.release(existing, gone))
            if gone:
                detail["stock_released"] = stock.allocations_detail(gone)
        elif outcome is RefundOutcome.HELD:
            changes["refund_unsettled"] = _unsettled_note(incoming, refund, existing.status)
            detail["reason"] = changes["refund_unsettled"]
        if _ready(client, incoming) and existing.status in NOT_STARTED_STATUSES:
            if outcome is None:
                action = AuditAction.FULFILMENT_REQUESTED
            if (refund or as_received).ships:
                to_status = OrderStatus.ACCEPTED
                changes["pending_start"] = True
                changes["execution_name"] = existing.order_id
            else:
                to_status = OrderStatus.NOTHING_TO_SHIP
        elif existing.status in NOT_STARTED_STATUSES:
            # Not ready yet: it waits where its payment puts it (partly paid has its owner).
            to_status = _waiting(incoming)
        elif incoming.cancelled:
            detail["note"] = f"cancellation arrived after the order was {existing.status.value}"
    if held_back:
        detail["not_applied"] = held_back
        detail["not_applied_reason"] = "fulfilment has started; an operator must apply them"
    open_exception = (
        repo.get_exception(existing.open_exception_id) if existing.open_exception_id else None
    )
    if to_status is OrderStatus.CANCELLED and open_exception is not None and open_exception.is_open:
        # The storefront cancelled while an exception waited for a person: close it with the
        # order, in the same transaction, and interrupt its wait.
        changes["open_exception_id"] = None
        new, event = existing.transition(
            action, actor=actor, at=clock.now(), to=to_status,
            owner=owner_after(client, existing, to_status), changes=changes,
            detail={**detail, "closed_exception": open_exception.exception_id},
        )  # fmt: skip
        closed = open_exception.closed(
            by=actor.id, at=clock.now(), action="cancel", note="cancelled by the storefront"
        )
        commit_exception(
            repo, new, closed, event, existing.audit_seq, open_exception.version, writes=writes
        )
        return new, open_exception.task_token
    new = record(
        repo, clock, client, existing, action=action, actor=actor, to_status=to_status,
        changes=changes, detail=detail, writes=writes,
    )  # fmt: skip
    interrupts = new.status is OrderStatus.CANCELLED or outcome is RefundOutcome.HELD
    return new, new.task_token if interrupts else None


def _refund_outcome(
    existing: Order, incoming: StorefrontOrder, units: dict[str, int], as_received: _Taken
) -> tuple[RefundOutcome, _Taken | None]:
    """What a partial refund does to the order where it stands: its units leave the order
    before picking; after picking (or when the platform does not say which lines) a person
    decides (payment_mismatch); once shipped or ended it is only recorded."""
    status = existing.status
    if status in SHIPPED_STATUSES or status in TERMINAL_STATUSES:
        refund = _take_off(existing.lines, existing.other_lines, units) if units else None
        return RefundOutcome.RECORDED, refund
    if not units:
        return RefundOutcome.HELD, None
    if status in NOT_STARTED_STATUSES:
        # Not started: the lines are the storefront's, less everything it refunded.
        return RefundOutcome.REMOVED, as_received
    refund = _take_off(existing.lines, existing.other_lines, units)
    to_ship = [ln for ln in existing.other_lines if ln.kind is LineKind.NO_SKU]
    if (
        refund.lines == existing.lines
        and [ln for ln in refund.other_lines if ln.kind is LineKind.NO_SKU] == to_ship
    ):
        # Only lines with nothing to ship (a gift card, a tip): nothing in the parcel changes.
        return RefundOutcome.REMOVED, refund
    # Stock still to arrive or a partial fulfilment decided: too much in motion to change
    # unseen; a person decides, as after picking.
    settled = not existing.short_lines and not existing.unfulfilled_lines
    # The released lots are written with the order, in one transaction: more than it holds
    # (a refund across very many lots) is left to a person rather than split.
    fits = (
        len(stock.release(existing, released_for_lines(existing, refund.lines)[1]))
        <= stock.MAX_SIDE_WRITES
    )
    if status in BEFORE_PICKING and settled and fits:
        return RefundOutcome.REMOVED, refund
    return RefundOutcome.HELD, refund


def _after_write(order: Order, workflow: WorkflowEngine, interrupt: str | None) -> None:
    """Side effects after the record is safely written. Failures here lose nothing: a pending
    start is retried by the starter, a missed cancel is caught by the next workflow step."""
    if order.pending_start and order.execution_name:
        try:
            workflow.start(order.execution_name, workflow_input(order))
        except ExecutionExists:
            logger.info("execution already exists", extra={"order_id": order.order_id})
        except Exception:  # noqa: BLE001
            # Deliberately broad: whatever went wrong, the order is recorded and pending; the
            # starter starts it. The webhook must still be acknowledged.
            logger.exception(
                "starting the workflow failed; the starter will retry",
                extra={"order_id": order.order_id},
            )
    if order.status is not OrderStatus.CANCELLED and order.refund_unsettled and interrupt:
        # The workflow waits for the warehouse: stop the wait, so the payment_mismatch opens
        # now (its Catch), not once refunded units are packed.
        try:
            workflow.fail(interrupt, PaymentMismatch.__name__, order.refund_unsettled)
        except TaskNotWaiting:
            pass
        except Exception:  # noqa: BLE001 - the refund is recorded; the next step stops
            logger.exception(
                "could not interrupt the waiting workflow; its next step will stop",
                extra={"order_id": order.order_id},
            )
    if order.status is OrderStatus.CANCELLED and interrupt:
        try:
            workflow.fail(interrupt, OrderCancelled.__name__, "cancelled by the storefront")
        except TaskNotWaiting:
            pass
        except Exception:  # noqa: BLE001 - the cancel is recorded already
            logger.exception(
                "could not interrupt the waiting workflow; its next step will stop",
                extra={"order_id": order.order_id},
            )
