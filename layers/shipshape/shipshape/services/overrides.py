"""Overrides: an operator's manual fix to an order, merged back into the canonical record.

Every override carries a reason and is kept on the order and in its audit trail. A fix to a
protected field (the shipping address, the status) waits for a second operator's approval;
the owner can be changed at once. Nothing is changed silently: no drift between what people
did and what the record says.

Protected fields cannot be changed any other way. An exception's resolution only corrects an
address that cannot be shipped to (services/exceptions.py). Cancelling through an exception
asks for the same pending ``status: CANCELLED`` override as cancelling here, because a
cancellation loses the client a sale and the customer their parcel. When it is approved, the
open exception closes as a cancel and the waiting workflow stops. The shipping address is
standardized when the change is applied, and that is the address the label is bought for.
Once a label exists the address cannot change: an approved change would leave a label for
the old address.
"""

import contextlib
from datetime import datetime
from functools import cache
from typing import Any

from pydantic import (
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
)

from shipshape.audit import AuditAction
from shipshape.authorization import Action, Operator, served_order
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
    Address,
    CorrectedAddress,
    Note,
    Order,
    OrderChanges,
    OrderStatus,
    Override,
    OverrideField,
    OverrideStatus,
    PersonName,
    stage,
)
from shipshape.ports import (
    Clock,
    OrderRepository,
    TaskNotWaiting,
    WorkflowEngine,
)
from shipshape.services.addresses import standardize
from shipshape.services.fulfillment import (
    release_ahead,
    release_writes,
    released,
    released_detail,
)
from shipshape.services.queries import OrderView
from shipshape.services.records import commit_exception, owner_after, record


class OverrideConflict(ClientRequestError):
    """The override no longer fits the order (it moved on, or the review happened already)."""

    status = 409


class OverrideNotFound(NotFound):
    pass


@cache
def _value_of(field: OverrideField) -> TypeAdapter[Any]:
    """What a value of ``field`` must be (built on first use, as the models are)."""
    kinds: dict[OverrideField, Any] = {
        OverrideField.OWNER: PersonName,
        OverrideField.SHIPPING_ADDRESS: CorrectedAddress,
        OverrideField.STATUS: OrderStatus,
    }
    return TypeAdapter(kinds[field])


class OverrideRequest(Model):
    model_config = ConfigDict(extra="forbid")

    field: OverrideField
    value: PersonName | CorrectedAddress | OrderStatus = Field(
        description="owner: a team or person; shipping_address: an address object; status: "
        "CANCELLED"
    )
    reason: Note = Field(min_length=3)

    @field_validator("value", mode="wrap")
    @classmethod
    def _value_for_its_field(
        cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> Any:
        # Each field takes its own kind of value (the union alone would take a name for the
        # address or an address for the owner); a status is kept as the text it was sent as.
        field = info.data.get("field")
        if field is None:  # the field was refused; that refusal names it
            return handler(value)
        checked = _value_of(field).validate_python(value)
        return checked.value if isinstance(checked, OrderStatus) else checked


class OverrideReview(Model):
    model_config = ConfigDict(extra="forbid")

    note: Note = ""


def pending_override(
    order: Order, field: OverrideField, value: Any, reason: str, by: str, at: datetime
) -> Override:
    """The order's next override, waiting for its review."""
    return Override(
        override_id=f"o{len(order.overrides) + 1}",
        field=field,
        value=value,
        previous=_current(order, field),
        reason=reason,
        status=OverrideStatus.PENDING,
        requested_by=by,
        requested_at=at,
    )


def pending_cancel(order: Order) -> Override | None:
    """The cancellation of the order waiting for a second operator, if one is."""
    return next(
        (
            o
            for o in order.overrides
            if o.field is OverrideField.STATUS and o.status is OverrideStatus.PENDING
        ),
        None,
    )


def requested_detail(override: Override) -> dict[str, Any]:
    """The audit detail of a protected override waiting for a second operator."""
    return {**_detail(override), "needs": "a second operator's approval"}


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
    # An exception after labelling (a shipping gate, a refused tender) is off the path, but
    # the label it waits with is bought for the address of record all the same.
    if order.label is not None or (at is not None and at >= (stage(OrderStatus.LABELLED) or 0)):
        raise OverrideConflict(
            f"order {order.order_id} is {order.status.value}: the label is bought; void it "
            "through the carrier exception path instead"
        )
    return address.model_dump(mode="json", exclude_none=True)


def request_override(
    *,
    repo: OrderRepository,
    workflow: WorkflowEngine,
    clients: ClientDirectory,
    clock: Clock,
    order_id: str,
    operator: Operator,
    request: OverrideRequest,
) -> OrderView:
    order = served_order(repo, order_id, operator, Action.ACT)
    value = _checked_value(order, request.field, request.value, clients)
    override = pending_override(
        order, request.field, value, request.reason, operator.subject, clock.now()
    )
    if request.field in PROTECTED_FIELDS:
        client = clients.get(order.client_id)
        new = record(
            repo, clock, client, order,
            action=AuditAction.OVERRIDE_REQUESTED, actor=operator.actor,
            changes={"overrides": (*order.overrides, override)},
            detail=requested_detail(override),
        )  # fmt: skip
        return OrderView.of(new)
    return OrderView.of(_apply(repo, workflow, clients, clock, order, override, operator, None))


def review_override(
    *,
    repo: OrderRepository,
    workflow: WorkflowEngine,
    clients: ClientDirectory,
    clock: Clock,
    order_id: str,
    override_id: str,
    operator: Operator,
    approve: bool,
    review: OverrideReview,
) -> OrderView:
    order = served_order(repo, order_id, operator, Action.ACT)
    pending = next((o for o in order.overrides if o.override_id == override_id), None)
    if pending is None:
        raise OverrideNotFound(f"order {order_id} has no override {override_id}")
    if pending.status is not OverrideStatus.PENDING:
        if approve and _is_applied_cancel_of(pending, operator):
            # The same approval again: its answer was lost, perhaps before the workflow was
            # told. The order is cancelled already, so only the workflow is told again.
            _stop_workflow(workflow, _interrupted_wait(repo, order, pending))
            return OrderView.of(order)
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
            repo, clock, clients.get(order.client_id), order, action=AuditAction.OVERRIDE_REJECTED,
            actor=operator.actor, changes={"overrides": _replace(order, rejected)},
            detail={**_detail(rejected), "note": review.note},
        )  # fmt: skip
        return OrderView.of(new)
    if pending.requested_by == operator.subject:
        raise Forbidden(
            f"override {override_id} was requested by {operator.subject}; a second operator "
            "must approve it"
        )
    _checked_value(order, pending.field, pending.value, clients)
    return OrderView.of(_apply(repo, workflow, clients, clock, order, pending, operator, review))


def _is_applied_cancel_of(override: Override, operator: Operator) -> bool:
    return (
        override.field is OverrideField.STATUS
        and override.status is OverrideStatus.APPLIED
        and override.reviewed_by == operator.subject
    )


def _interrupted_wait(repo: OrderRepository, order: Order, override: Override) -> str | None:
    """The task token of the wait an applied cancellation stopped: the exception it closed
    (which keeps its token for this), or else the order's own wait."""
    applied = next(
        (
            e
            for e in reversed(repo.audit_trail(order.order_id))
            if e.action is AuditAction.OVERRIDE_APPLIED
            and e.detail.get("override_id") == override.override_id
        ),
        None,
    )
    closed_id = applied.detail.get("closed_exception") if applied is not None else None
    closed = repo.get_exception(str(closed_id)) if closed_id else None
    return closed.task_token if closed is not None else order.task_token


def _stop_workflow(workflow: WorkflowEngine, task_token: str | None) -> None:
    if task_token:
        # Not waiting any more: its next step finds the order cancelled and stops.
        with contextlib.suppress(TaskNotWaiting):
            workflow.fail(task_token, OrderCancelled.__name__, "cancelled by an operator override")


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
    changes: OrderChanges = {"overrides": _replace(order, applied)}
    detail = {**_detail(applied), "approved_by": applied.reviewed_by}
    actor = operator.actor
    if override.field is OverrideField.OWNER:
        return record(
            repo, clock, client, order, action=AuditAction.OVERRIDE_APPLIED, actor=actor,
            owner=str(override.value), changes=changes, detail=detail,
        )  # fmt: skip
    if override.field is OverrideField.SHIPPING_ADDRESS:
        raw = Address.model_validate(override.value)
        standardized, problems = standardize(raw)
        if standardized is None:
            raise PayloadInvalid("value: " + "; ".join(problems))
        changes.update({"shipping_address": raw, "standardized_address": standardized})
        return record(
            repo, clock, client, order, action=AuditAction.OVERRIDE_APPLIED, actor=actor,
            changes=changes, detail=detail,
        )  # fmt: skip
    # status CANCELLED: as a storefront cancellation would, in one transaction with the
    # stock it gives back and the exception it closes; then the waiting workflow is stopped.
    # What would not fit that transaction (an order of many lots) goes back first.
    order = release_ahead(repo, clock, client, order, actor)
    changes.update(released(order))
    changes["pending_start"] = False
    detail.update(released_detail(order))
    writes = release_writes(order)
    open_exception = (
        repo.get_exception(order.open_exception_id) if order.open_exception_id else None
    )
    interrupt = order.task_token
    if open_exception is not None and open_exception.is_open:
        changes["open_exception_id"] = None
        new, event = order.transition(
            AuditAction.OVERRIDE_APPLIED, actor=actor, at=clock.now(), to=OrderStatus.CANCELLED,
            owner=owner_after(client, order, OrderStatus.CANCELLED), changes=changes,
            detail={**detail, "closed_exception": open_exception.exception_id},
        )  # fmt: skip
        closed = open_exception.closed(
            by=operator.subject, at=clock.now(), action="cancel", note=override.reason,
            keep_token=True,  # so a repeat of this approval can tell the workflow again
        )  # fmt: skip
        commit_exception(
            repo, new, closed, event, order.audit_seq, open_exception.version, writes=writes
        )
        interrupt = open_exception.task_token
    else:
        new = record(
            repo, clock, client, order, action=AuditAction.OVERRIDE_APPLIED, actor=actor,
            to_status=OrderStatus.CANCELLED, changes=changes, detail=detail, writes=writes,
        )  # fmt: skip
    _stop_workflow(workflow, interrupt)
    return new
