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

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

from shipshape.audit import AuditAction
from shipshape.config import ClientConfig, StoreConfig
from shipshape.errors import (
    OrderCancelled,
    PayloadInvalid,
    SignatureInvalid,
    StorefrontRefused,
    StorefrontUnavailable,
    UnsupportedPlatform,
)
from shipshape.models import (
    TERMINAL_STATUSES,
    Actor,
    AuditEvent,
    LineKind,
    Order,
    OrderChanges,
    OrderStatus,
    PaymentState,
    Platform,
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
    TaskNotWaiting,
    WorkflowEngine,
)
from shipshape.services.fulfillment import (
    release_ahead,
    release_writes,
    released,
    released_detail,
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

FROZEN_AFTER_START = ("lines", "other_lines", "shipping_address")
STOREFRONT_FIELDS = (
    "order_number",
    "payment",
    "currency",
    "total",
    "tax",
    "storefront_paid_at",
    "customer",
    "shipping_address",
    "lines",
    "other_lines",
)


class IngestOutcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DUPLICATE = "duplicate"
    STALE = "stale"


@dataclass(frozen=True)
class IngestResult:
    order_id: str
    outcome: IngestOutcome
    status: OrderStatus
    detail: str


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
) -> IngestResult:
    """Accept one storefront delivery for ``client``. Raises client errors for bad requests
    (before anything is written) and never writes a half order.

    A platform whose webhooks carry only the order id (BigCommerce) has the order fetched from
    its API with the store's credential after the delivery is verified: what is recorded is
    what the storefront's API says, never what an unauthenticated body claims."""
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
    return _ingest_authentic(
        client=client, store=store, delivery=delivery, repo=repo, workflow=workflow,
        clock=clock, storefronts=storefronts, source="webhook",
    )  # fmt: skip


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
) -> IngestResult:
    """A delivery known to come from ``store``: normalized (or its order fetched), recorded."""
    adapter = adapter_for(store.platform)
    reference = adapter.order_reference(delivery)
    if reference is None:
        incoming = adapter.normalize(delivery)
    else:
        incoming = adapter.normalize_resource(_fetch(store, reference, storefronts), store.store)
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


def _initial_status(client: ClientConfig, incoming: StorefrontOrder) -> OrderStatus:
    if incoming.cancelled:
        return OrderStatus.CANCELLED
    if _ready(client, incoming):
        return OrderStatus.ACCEPTED if _ships_something(incoming) else OrderStatus.NOTHING_TO_SHIP
    return OrderStatus.RECEIVED


def _ships_something(incoming: StorefrontOrder) -> bool:
    """Whether any line is to ship: one to pick, or one to map to a SKU first. An order of
    digital goods, gift cards and tips alone has nothing for the workflow to do."""
    return bool(incoming.lines) or any(
        line.kind is LineKind.NO_SKU for line in incoming.other_lines
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
    status = _initial_status(client, incoming)
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
        lines=incoming.lines,
        other_lines=incoming.other_lines,
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
    if incoming.cancelled and existing.status not in TERMINAL_STATUSES:
        # Stock held in more lots than the cancel's own transaction holds goes back in groups
        # first; a redelivered cancel finds the version unrecorded and goes on from there.
        existing = release_ahead(repo, clock, client, existing, actor)
    differing = {
        name: getattr(incoming, name)
        for name in STOREFRONT_FIELDS
        if getattr(incoming, name) != getattr(existing, name)
    }
    # Once fulfilment started, what is picked and where it goes change only through an
    # operator (an override or a resolution); the storefront's change is recorded, not applied.
    held_back = []
    if existing.status not in (OrderStatus.RECEIVED, OrderStatus.ACCEPTED):
        held_back = sorted(name for name in FROZEN_AFTER_START if name in differing)
        for name in held_back:
            del differing[name]
    # The storefront's fields are the order's own (STOREFRONT_FIELDS), checked again on apply.
    changes = cast(OrderChanges, differing)
    changed = sorted(changes)
    changes["version"] = incoming.version
    changes["lifecycle"] = incoming.lifecycle
    changes["storefront_updated_at"] = incoming.storefront_updated_at
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
    if incoming.cancelled and existing.status not in TERMINAL_STATUSES:
        to_status, action = OrderStatus.CANCELLED, AuditAction.ORDER_CANCELLED
        changes["pending_start"] = False
        # Reserved stock goes back in the cancel's own transaction: exactly once, since a
        # redelivered cancel finds the order cancelled and writes nothing.
        changes.update(released(existing))
        detail.update(released_detail(existing))
        writes = release_writes(existing)
    elif _ready(client, incoming) and existing.status is OrderStatus.RECEIVED:
        action = AuditAction.FULFILMENT_REQUESTED
        if _ships_something(incoming):
            to_status = OrderStatus.ACCEPTED
            changes["pending_start"] = True
            changes["execution_name"] = existing.order_id
        else:
            to_status = OrderStatus.NOTHING_TO_SHIP
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
    return new, new.task_token if new.status is OrderStatus.CANCELLED else None


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
