"""Storefront write-back: once an order ships, its storefront learns what shipped and how.

Driven by the order-shipped domain event (through a queue, so a storefront outage only delays
it). The canonical record says what shipped: the event only names the order. The storefront
call is idempotent (it looks before it writes), and the record keeps the storefront's reference
once it is known, so a redelivered event neither calls the storefront again nor makes a second
fulfillment.
"""

from __future__ import annotations

from dataclasses import dataclass

from shipshape.audit import AuditAction
from shipshape.config import ClientDirectory
from shipshape.errors import StorefrontRefused
from shipshape.models import Actor, Order, OrderStatus
from shipshape.observability import logger
from shipshape.ports import (
    Clock,
    OrderRepository,
    ShipmentNotice,
    ShippedLine,
    StorefrontApi,
)
from shipshape.services.records import record, retry_on_conflict

SHIPPED_STATUSES = (OrderStatus.SHIPPED, OrderStatus.COMPLETED_PARTIAL)
ACTOR = Actor(kind="system", id="storefront-write-back")


@dataclass(frozen=True)
class WriteBackOutcome:
    order_id: str
    outcome: str  # confirmed, already_confirmed, refused, skipped
    detail: str


def shipment_notice(order: Order) -> ShipmentNotice:
    """What the storefront is told: the lines that shipped (a partial fulfilment's order lines
    are what ships; ``unfulfilled_lines`` stay open at the storefront) and the label."""
    assert order.label is not None
    shipped_at = order.status_timestamps.get(order.status) or order.received_at
    return ShipmentNotice(
        order_id=order.order_id,
        platform=order.platform.value,
        store=order.store,
        storefront_order_id=order.storefront_order_id,
        order_number=order.order_number,
        carrier=order.label.carrier,
        service=order.label.service,
        tracking_number=order.label.tracking_number,
        lines=tuple(
            ShippedLine(line_id=line.line_id, sku=line.sku, quantity=line.quantity)
            for line in order.lines
        ),
        partial=order.status is OrderStatus.COMPLETED_PARTIAL or bool(order.unfulfilled_lines),
        shipped_at=shipped_at,
    )


def write_back(
    *,
    order_id: str,
    repo: OrderRepository,
    clients: ClientDirectory,
    storefronts: StorefrontApi,
    clock: Clock,
) -> WriteBackOutcome:
    """Tell the order's storefront what shipped. ``StorefrontUnavailable`` propagates (the
    queue redelivers it later); a refusal is recorded on the order's audit trail, where its
    owner sees it, and not retried."""
    order = repo.get(order_id)
    if order is None or order.status not in SHIPPED_STATUSES or order.label is None:
        status = order.status.value if order else "unknown"
        return WriteBackOutcome(order_id, "skipped", f"the order is {status}, not shipped")
    if order.storefront_fulfillment:
        return WriteBackOutcome(
            order_id, "already_confirmed", f"storefront holds {order.storefront_fulfillment}"
        )
    client = clients.get(order.client_id)
    store = client.store_for(order.platform, order.store)
    if store is None or not store.api_token_secret_name:
        return WriteBackOutcome(order_id, "skipped", "the store has no API credential configured")
    notice = shipment_notice(order)
    try:
        result = storefronts.confirm_shipment(store, notice)
    except StorefrontRefused as exc:
        refusal = {"platform_status": exc.status, "code": exc.code, "error": str(exc)[:500]}
        retry_on_conflict(
            5,
            lambda: _record(
                repo,
                clients,
                clock,
                order_id,
                AuditAction.STOREFRONT_WRITE_BACK_REFUSED,
                refusal,
                None,
            ),
        )
        logger.error(
            "the storefront refused the shipment write-back",
            extra={"order_id": order_id, "status": exc.status, "code": exc.code},
        )
        return WriteBackOutcome(order_id, "refused", str(exc))
    retry_on_conflict(
        5,
        lambda: _record(
            repo, clients, clock, order_id, AuditAction.STOREFRONT_CONFIRMED,
            {
                "reference": result.reference,
                "created": result.created,
                "tracking_number": notice.tracking_number,
                "partial": notice.partial,
                "lines": [line.line_id for line in notice.lines],
            },
            result.reference,
        ),
    )  # fmt: skip
    return WriteBackOutcome(order_id, "confirmed", result.reference)


def _record(
    repo: OrderRepository,
    clients: ClientDirectory,
    clock: Clock,
    order_id: str,
    action: AuditAction,
    detail: dict[str, object],
    reference: str | None,
) -> None:
    current = repo.get(order_id)
    assert current is not None
    if current.storefront_fulfillment:
        return  # a concurrent delivery recorded it first
    record(
        repo, clock, clients.get(current.client_id), current, action=action, actor=ACTOR,
        changes={"storefront_fulfillment": reference} if reference else None, detail=detail,
    )  # fmt: skip
