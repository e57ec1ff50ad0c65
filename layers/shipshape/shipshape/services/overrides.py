"""Overrides: an operator's manual fix to an order, merged back into the canonical record.

Every override carries a reason and is kept on the order and in its audit trail. A fix to a
protected field (the shipping address, the status) waits for a second operator's approval;
the owner can be changed at once. Nothing is changed silently: no drift between what people
did and what the record says.
"""

from __future__ import annotations

import contextlib
from typing import Any

from pydantic import ConfigDict, Field, ValidationError

from shipshape.base import Model
from shipshape.config import ClientDirectory
from shipshape.errors import (
    ClientRequestError,
    Forbidden,
    NotFound,
    OrderCancelled,
    PayloadInvalid,
)
from shipshape.models import (
    PROTECTED_FIELDS,
    TERMINAL_STATUSES,
    Actor,
    Address,
    Order,
    OrderStatus,
    Override,
    OverrideField,
    OverrideStatus,
    stage,
)
from shipshape.ports import (
    Clock,
    ExceptionRepository,
    OrderRepository,
    TaskNotWaiting,
    WorkflowEngine,
)
from shipshape.services.addresses import standardize
from shipshape.services.fulfillment import release_writes, released, released_detail
from shipshape.services.queries import Operator, OrderView
from shipshape.services.records import build, load, record

ACTING_ROLES = frozenset({"operator", "lead"})


class OverrideConflict(ClientRequestError):
    """The override no longer fits the order (it moved on, or the review happened already)."""

    status = 409


class OverrideNotFound(NotFound):
    pass


class OverrideRequest(Model):
    model_config = ConfigDict(extra="forbid")

    field: OverrideField
    value: Any = Field(description="owner: a team or person; shipping_address: an address "
                       "object; status: CANCELLED")  # fmt: skip
    reason: str = Field(min_length=3, max_length=2000)


class OverrideReview(Model):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(default="", max_length=2000)


def _actor(operator: Operator) -> Actor:
    return Actor(kind="operator", id=operator.subject)


def _scoped(repo: OrderRepository, order_id: str, operator: Operator) -> Order:
    order = load(repo, order_id)
    if not operator.may_see(order.client_id):
        raise Forbidden(
            f"operator {operator.subject} does not serve client {order.client_id}",
            client_id=order.client_id,
        )
    if not operator.roles & ACTING_ROLES:
        raise Forbidden(f"operator {operator.subject} may read but not act (role viewer)")
    return order


def _checked_value(order: Order, field: OverrideField, value: Any, clients: ClientDirectory) -> Any:
    """The value in its stored form, if it may be applied to the order as it stands."""
    if order.status in TERMINAL_STATUSES:
        raise OverrideConflict(f"order {order.order_id} is {order.status.value}; nothing to fix")
    if field is OverrideField.OWNER:
        known = clients.get(order.client_id).rules.known_owners()
        if not isinstance(value, str) or value not in known:
            raise PayloadInvalid(f"value: {value!r} is not a team or person of the client")
        return value
    if field is OverrideField.STATUS:
        if value != OrderStatus.CANCELLED.value:
            raise PayloadInvalid(
                "value: only CANCELLED may be set by hand; the workflow sets the rest"
            )
        return value
    try:
        address = Address.model_validate(value)
    except ValidationError as exc:
        problems = "; ".join(
            f"value.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise PayloadInvalid(problems) from None
    at = stage(order.status)
    if at is not None and at >= (stage(OrderStatus.LABELLED) or 0):
        raise OverrideConflict(
            f"order {order.order_id} is {order.status.value}: the label is bought; void it "
            "through the carrier exception path instead"
        )
    return address.model_dump(mode="json", exclude_none=True)


def request_override(
    *,
    repo: OrderRepository,
    exceptions: ExceptionRepository,
    workflow: WorkflowEngine,
    clients: ClientDirectory,
    clock: Clock,
    order_id: str,
    operator: Operator,
    request: OverrideRequest,
) -> OrderView:
    order = _scoped(repo, order_id, operator)
    value = _checked_value(order, request.field, request.value, clients)
    override = Override(
        override_id=f"o{len(order.overrides) + 1}",
        field=request.field,
        value=value,
        previous=_current(order, request.field),
        reason=request.reason,
        status=OverrideStatus.PENDING,
        requested_by=operator.subject,
        requested_at=clock.now(),
    )
    if request.field in PROTECTED_FIELDS:
        client = clients.get(order.client_id)
        new = record(
            repo, clock, client, order, action="override_requested", actor=_actor(operator),
            changes={"overrides": (*order.overrides, override)},
            detail={**_detail(override), "needs": "a second operator's approval"},
        )  # fmt: skip
        return OrderView.of(new)
    return OrderView.of(
        _apply(repo, exceptions, workflow, clients, clock, order, override, operator, None)
    )


def review_override(
    *,
    repo: OrderRepository,
    exceptions: ExceptionRepository,
    workflow: WorkflowEngine,
    clients: ClientDirectory,
    clock: Clock,
    order_id: str,
    override_id: str,
    operator: Operator,
    approve: bool,
    review: OverrideReview,
) -> OrderView:
    order = _scoped(repo, order_id, operator)
    pending = next((o for o in order.overrides if o.override_id == override_id), None)
    if pending is None:
        raise OverrideNotFound(f"order {order_id} has no override {override_id}")
    if pending.status is not OverrideStatus.PENDING:
        raise OverrideConflict(f"override {override_id} is {pending.status.value} already")
    if not approve:
        rejected = pending.model_copy(
            update={
                "status": OverrideStatus.REJECTED,
                "reviewed_by": operator.subject,
                "reviewed_at": clock.now(),
                "review_note": review.note or None,
            }
        )
        new = record(
            repo, clock, clients.get(order.client_id), order, action="override_rejected",
            actor=_actor(operator), changes={"overrides": _replace(order, rejected)},
            detail={**_detail(rejected), "note": review.note},
        )  # fmt: skip
        return OrderView.of(new)
    if pending.requested_by == operator.subject:
        raise Forbidden(
            f"override {override_id} was requested by {operator.subject}; a second operator "
            "must approve it"
        )
    _checked_value(order, pending.field, pending.value, clients)
    return OrderView.of(
        _apply(repo, exceptions, workflow, clients, clock, order, pending, operator, review)
    )


def _current(order: Order, field: OverrideField) -> Any:
    if field is OverrideField.OWNER:
        return order.owner
    if field is OverrideField.STATUS:
        return order.status.value
    address = order.shipping_address
    return address.model_dump(mode="json", exclude_none=True) if address else None


def _replace(order: Order, override: Override) -> tuple[Override, ...]:
    found = [o.override_id for o in order.overrides]
    if override.override_id not in found:
        return (*order.overrides, override)
    return tuple(override if o.override_id == override.override_id else o for o in order.overrides)


def _detail(override: Override) -> dict[str, Any]:
    return {
        "override_id": override.override_id,
        "field": override.field.value,
        "value": override.value,
        "previous": override.previous,
        "reason": override.reason,
        "requested_by": override.requested_by,
    }


def _apply(
    repo: OrderRepository,
    exceptions: ExceptionRepository,
    workflow: WorkflowEngine,
    clients: ClientDirectory,
    clock: Clock,
    order: Order,
    override: Override,
    operator: Operator,
    review: OverrideReview | None,
) -> Order:
    client = clients.get(order.client_id)
    applied = override.model_copy(
        update={
            "status": OverrideStatus.APPLIED,
            **(
                {
                    "reviewed_by": operator.subject,
                    "reviewed_at": clock.now(),
                    "review_note": review.note or None,
                }
                if review is not None
                else {}
            ),
        }
    )
    changes: dict[str, Any] = {"overrides": _replace(order, applied)}
    detail = {**_detail(applied), "approved_by": applied.reviewed_by}
    actor = _actor(operator)
    if override.field is OverrideField.OWNER:
        changes["owner"] = override.value
        return record(
            repo, clock, client, order, action="override_applied", actor=actor,
            changes=changes, detail=detail,
        )  # fmt: skip
    if override.field is OverrideField.SHIPPING_ADDRESS:
        raw = Address.model_validate(override.value)
        standardized, problems = standardize(raw)
        if standardized is None:
            raise PayloadInvalid("value: " + "; ".join(problems))
        changes.update(shipping_address=raw, standardized_address=standardized)
        return record(
            repo, clock, client, order, action="override_applied", actor=actor,
            changes=changes, detail=detail,
        )  # fmt: skip
    # status CANCELLED: as a storefront cancellation would, in one transaction with the
    # stock it gives back and the exception it closes; then the waiting workflow is stopped.
    changes.update(released(order), pending_start=False)
    detail.update(released_detail(order))
    writes = release_writes(order)
    open_exception = (
        exceptions.get_exception(order.open_exception_id) if order.open_exception_id else None
    )
    interrupt = order.task_token
    if open_exception is not None and open_exception.is_open:
        changes["open_exception_id"] = None
        new, event = build(
            clock, client, order, action="override_applied", actor=actor,
            to_status=OrderStatus.CANCELLED, changes=changes,
            detail={**detail, "closed_exception": open_exception.exception_id},
        )  # fmt: skip
        closed = open_exception.closed(
            by=operator.subject, at=clock.now(), action="cancel", note=override.reason
        )
        exceptions.write_exception(
            new, closed, event, order.audit_seq, open_exception.version, writes=writes
        )
        interrupt = open_exception.task_token
    else:
        new = record(
            repo, clock, client, order, action="override_applied", actor=actor,
            to_status=OrderStatus.CANCELLED, changes=changes, detail=detail, writes=writes,
        )  # fmt: skip
    if interrupt:
        # Not waiting any more: its next step finds the order cancelled and stops.
        with contextlib.suppress(TaskNotWaiting):
            workflow.fail(interrupt, OrderCancelled.__name__, "cancelled by an operator override")
    return new
