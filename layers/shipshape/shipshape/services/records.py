"""Writing the system of record: every change is a new snapshot plus its audit event."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from shipshape.audit import AuditAction, Detail
from shipshape.config import ClientConfig
from shipshape.errors import OrderNotFound
from shipshape.models import Actor, Order, OrderChanges, OrderStatus, SideWrite
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
    action: AuditAction,
    actor: Actor,
    to_status: OrderStatus | None = None,
    owner: str | None = None,
    changes: OrderChanges | None = None,
    detail: Detail | dict[str, Any] | None = None,
    writes: Sequence[SideWrite] = (),
) -> Order:
    """Apply ``changes`` (and optionally a status change, or a hand-over to ``owner``) with
    one audit event, atomically.

    The write is conditional on the order's audit sequence, so a concurrent writer makes this
    raise ``ConcurrentUpdate`` instead of silently losing either change.
    """
    new, event = order.transition(
        action, actor=actor, at=clock.now(), to=to_status, changes=changes, detail=detail,
        owner=owner or owner_after(client, order, to_status),
    )  # fmt: skip
    repo.apply(new, event, expected_seq=order.audit_seq, writes=writes)
    return new


def owner_after(client: ClientConfig, order: Order, to: OrderStatus | None) -> str | None:
    """Who owns the order once it moves to ``to``: the client's owner of that status, or
    nobody new if it stays where it is."""
    return client.owner_of(to) if to is not None and to is not order.status else None


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
