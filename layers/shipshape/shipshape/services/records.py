"""Writing the system of record: every change is a new snapshot plus its audit event."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from shipshape.config import ClientConfig
from shipshape.errors import OrderNotFound
from shipshape.models import Actor, AuditEvent, Order, OrderStatus, SideWrite
from shipshape.ports import Clock, OrderRepository


def workflow_input(order: Order) -> dict[str, Any]:
    """What each execution starts with. Identical for every start of one order, so a repeated
    start of a running execution is recognised as the same request."""
    return {"order_id": order.order_id, "client_id": order.client_id}


def load(repo: OrderRepository, order_id: str) -> Order:
    order = repo.get(order_id)
    if order is None:
        raise OrderNotFound(f"no order {order_id}")
    return order


def record(
    repo: OrderRepository,
    clock: Clock,
    client: ClientConfig,
    order: Order,
    *,
    action: str,
    actor: Actor,
    to_status: OrderStatus | None = None,
    changes: dict[str, Any] | None = None,
    detail: dict[str, Any] | None = None,
    writes: Sequence[SideWrite] = (),
) -> Order:
    """Apply ``changes`` (and optionally a status change) with one audit event, atomically.

    The write is conditional on the order's audit sequence, so a concurrent writer makes this
    raise ``ConcurrentUpdate`` instead of silently losing either change.
    """
    new, event = build(
        clock, client, order, action=action, actor=actor, to_status=to_status,
        changes=changes, detail=detail,
    )  # fmt: skip
    repo.apply(new, event, expected_seq=order.audit_seq, writes=writes)
    return new


def stamped(order: Order, status: OrderStatus, now: datetime) -> dict[OrderStatus, datetime]:
    """The order's status timestamps with ``status`` entered ``now``. A status re-entered
    gets its new time, but ACCEPTED keeps its first: when the order was paid and fulfilment
    asked for, where fulfillment time starts."""
    if status is OrderStatus.ACCEPTED and status in order.status_timestamps:
        return dict(order.status_timestamps)
    return {**order.status_timestamps, status: now}


def build(
    clock: Clock,
    client: ClientConfig,
    order: Order,
    *,
    action: str,
    actor: Actor,
    to_status: OrderStatus | None = None,
    changes: dict[str, Any] | None = None,
    detail: dict[str, Any] | None = None,
) -> tuple[Order, AuditEvent]:
    """The next snapshot of ``order`` and the audit event that records the change."""
    now = clock.now()
    updates: dict[str, Any] = dict(changes or {})
    updates["audit_seq"] = order.audit_seq + 1
    if to_status is not None and to_status is not order.status:
        updates["status"] = to_status
        updates["owner"] = client.owner_of(to_status)
        updates["status_timestamps"] = stamped(order, to_status, now)
    new = order.model_copy(update=updates)
    event = AuditEvent(
        order_id=order.order_id,
        seq=new.audit_seq,
        at=now,
        action=action,
        actor=actor,
        from_status=order.status if new.status is not order.status else None,
        to_status=new.status if new.status is not order.status else None,
        owner=new.owner,
        detail=detail or {},
    )
    return new, event


def retry_on_conflict[T](attempts: int, work: Callable[[], T]) -> T:
    """Re-run a read-decide-write unit when another writer won the optimistic race.

    This is not transport retrying (botocore does that); it re-reads and re-decides, because
    the other writer may have changed what the right decision is.
    """
    from shipshape.errors import ConcurrentUpdate

    for attempt in range(attempts):
        try:
            return work()
        except ConcurrentUpdate:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")
