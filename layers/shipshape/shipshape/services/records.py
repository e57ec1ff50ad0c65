"""Writing the system of record: every change is a new snapshot plus its audit event."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from shipshape.audit import AuditAction, Detail
from shipshape.config import ClientConfig
from shipshape.errors import OrderNotFound
from shipshape.models import (
    Actor,
    AuditEvent,
    Order,
    OrderChanges,
    OrderException,
    OrderStatus,
    SideWrite,
)
from shipshape.observability import business_metrics
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


def commit_new(repo: OrderRepository, order: Order, event: AuditEvent) -> None:
    """Write a new order with its first audit event, then count what the event records."""
    repo.create(order, event)
    business_metrics(order, event)


def commit(
    repo: OrderRepository,
    order: Order,
    event: AuditEvent,
    expected_seq: int,
    writes: Sequence[SideWrite] = (),
) -> None:
    """Write an order change with its audit event (and ``writes``) in one transaction, then
    count what the event records: business metrics come from the committed events only."""
    repo.apply(order, event, expected_seq=expected_seq, writes=writes)
    business_metrics(order, event)


def commit_exception(
    repo: OrderRepository,
    order: Order,
    exception: OrderException,
    event: AuditEvent,
    expected_seq: int,
    expected_version: int | None,
    writes: Sequence[SideWrite] = (),
) -> None:
    """Write an exception with its order and audit event in one transaction, then count what
    the event records."""
    repo.write_exception(order, exception, event, expected_seq, expected_version, writes=writes)
    business_metrics(order, event, exception)


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
    commit(repo, new, event, expected_seq=order.audit_seq, writes=writes)
    return new


def owner_after(client: ClientConfig, order: Order, to: OrderStatus | None) -> str | None:
    """Who owns the order once it moves to ``to``: the client's owner of that status, or
    nobody new if it stays where it is."""
    return client.owner_of(to) if to is not None and to is not order.status else None


# Between attempts, a full-jitter wait of up to 10 ms x 2^attempt, at most 160 ms (AWS's
# advice for optimistic writes that collide: back off, spread out, read again).
_CONFLICT_BACKOFF_SECONDS = 0.01
_CONFLICT_BACKOFF_CAP_SECONDS = 0.16


def retry_on_conflict[T](attempts: int, work: Callable[[], T]) -> T:
    """Re-run a read-decide-write unit when another writer won the optimistic race (a failed
    condition, or a transaction cancelled for colliding with another).

    This is not transport retrying (botocore does that); it re-reads and re-decides, because
    the other writer may have changed what the right decision is. Each new attempt waits a
    random while first, so writers that collided do not collide again in step.
    """
    from shipshape.errors import ConcurrentUpdate

    for attempt in range(attempts):
        try:
            return work()
        except ConcurrentUpdate:
            if attempt == attempts - 1:
                raise
        cap = min(_CONFLICT_BACKOFF_CAP_SECONDS, _CONFLICT_BACKOFF_SECONDS * 2**attempt)
        time.sleep(random.uniform(0, cap))  # noqa: S311 - jitter, not a secret
    raise AssertionError("unreachable")
