"""The fulfillment steps the state machine runs, one domain function per Task state.

Each step reads the order, checks it is where the step expects, writes the next status with
its audit event in one transaction, and returns the small workflow state. Steps are
idempotent: a Retry after a write that succeeded finds the order already moved on and
returns without writing again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from shipshape.config import ClientConfig
from shipshape.errors import AddressInvalid, OrderCancelled, PaymentMismatch, ShipshapeError
from shipshape.models import (
    FULFILLMENT_PATH,
    TERMINAL_STATUSES,
    Actor,
    Order,
    OrderStatus,
    PackData,
    PaymentState,
    PickScan,
)
from shipshape.ports import Carrier, Clock, ExceptionRepository, Notifier, OrderRepository
from shipshape.services.records import build, load, record

WORKFLOW = Actor(kind="workflow", id="fulfillment")


class StepOutOfOrder(ShipshapeError):
    """The order is not at a stage this step can act on (a bug or a manual change)."""


class WorkflowState(BaseModel):
    """What travels between states: ids only; the order record holds everything else."""

    model_config = ConfigDict(extra="ignore")

    order_id: str
    client_id: str


@dataclass(frozen=True)
class StepContext:
    repo: OrderRepository
    clock: Clock
    client: ClientConfig
    carrier: Carrier
    notifier: Notifier
    execution_name: str | None = None
    exceptions: ExceptionRepository | None = None


def _advance(
    ctx: StepContext,
    state: WorkflowState,
    *,
    to: OrderStatus,
    action: str,
    changes: dict[str, Any] | None = None,
    detail: dict[str, Any] | None = None,
    actor: Actor = WORKFLOW,
) -> Order:
    order = _live(ctx, state.order_id)
    if order.status not in FULFILLMENT_PATH:
        raise StepOutOfOrder(f"order {order.order_id} is {order.status.value}; cannot {action}")
    current, target = FULFILLMENT_PATH.index(order.status), FULFILLMENT_PATH.index(to)
    if current >= target:
        return order  # already done by an earlier attempt of this step
    if current != target - 1:
        raise StepOutOfOrder(
            f"order {order.order_id} is {order.status.value}; {action} needs "
            f"{FULFILLMENT_PATH[target - 1].value}"
        )
    return record(
        ctx.repo,
        ctx.clock,
        ctx.client,
        order,
        action=action,
        actor=actor,
        to_status=to,
        changes=changes,
        detail=detail,
    )


def _live(ctx: StepContext, order_id: str) -> Order:
    """The order, unless the storefront cancelled it (the workflow stops) or no longer shows
    it paid (a payment_mismatch exception: nothing ships unpaid)."""
    order = load(ctx.repo, order_id)
    if order.status is OrderStatus.CANCELLED:
        raise OrderCancelled(f"order {order.order_id} was cancelled")
    if order.payment is not PaymentState.PAID:
        raise PaymentMismatch(f"the storefront shows payment {order.payment.value}, not paid")
    return order


def validate_address(ctx: StepContext, state: WorkflowState) -> WorkflowState:
    order = _live(ctx, state.order_id)
    address = order.shipping_address
    problems = []
    if address is None:
        problems.append("the order has no shipping address")
    else:
        for field in ("line1", "city", "postal_code"):
            if not (getattr(address, field) or "").strip():
                problems.append(f"{field} is empty")
    if problems:
        raise AddressInvalid("; ".join(problems))
    _advance(
        ctx,
        state,
        to=OrderStatus.ADDRESS_VALIDATED,
        action="address_validated",
        # The workflow acknowledging its start takes the order out of the reconciler's index.
        changes={"pending_start": False},
        detail={"execution": ctx.execution_name},
    )
    return state


def reserve_inventory(ctx: StepContext, state: WorkflowState) -> WorkflowState:
    order = load(ctx.repo, state.order_id)
    _advance(
        ctx,
        state,
        to=OrderStatus.RESERVED,
        action="inventory_reserved",
        # Until the stock ledger exists, the reservation is of the lines, not of counted stock;
        # the trail says so rather than implying stock was checked.
        detail={
            "lines": [{"sku": ln.sku, "quantity": ln.quantity} for ln in order.lines],
            "stock_checked": False,
        },
    )
    return state


def assign_picker(ctx: StepContext, state: WorkflowState) -> WorkflowState:
    # Deterministic spread over the client's pickers; zone and workload rules come later.
    pickers = ctx.client.pickers
    picker = pickers[int(state.order_id[-6:], 36) % len(pickers)]
    _advance(
        ctx,
        state,
        to=OrderStatus.PICKER_ASSIGNED,
        action="picker_assigned",
        changes={"picker": picker},
        detail={"picker": picker, "rule": "spread over the client's pickers"},
    )
    return state


class AwaitRequest(WorkflowState):
    task_token: str


def _await(
    ctx: StepContext, request: AwaitRequest, status: OrderStatus, awaiting: str, action: str
) -> None:
    order = _live(ctx, request.order_id)
    changes = {"task_token": request.task_token, "awaiting": awaiting}
    if order.status is status:
        # A retried attempt of this wait: only the newest token is waited on, so store it.
        if order.task_token != request.task_token:
            record(
                ctx.repo, ctx.clock, ctx.client, order, action=f"{action}_again",
                actor=WORKFLOW, changes=changes, detail={"reason": "the wait was retried"},
            )  # fmt: skip
        return
    _advance(ctx, request, to=status, action=action, changes=changes)


def await_pick(ctx: StepContext, request: AwaitRequest) -> None:
    _await(ctx, request, OrderStatus.AWAITING_PICK, "pick_scans", "pick_requested")


def await_pack(ctx: StepContext, request: AwaitRequest) -> None:
    _await(ctx, request, OrderStatus.AWAITING_PACK, "pack_data", "pack_requested")


class PickResult(WorkflowState):
    scans: tuple[PickScan, ...]
    event_id: str
    actor: str


class PackResult(WorkflowState):
    pack: PackData
    event_id: str
    actor: str


def record_pick(ctx: StepContext, result: PickResult) -> WorkflowState:
    _advance(
        ctx,
        result,
        to=OrderStatus.PICKED,
        action="pick_confirmed",
        actor=Actor(kind="warehouse", id=result.actor),
        changes={"pick_scans": result.scans, "task_token": None, "awaiting": None},
        detail={
            "event_id": result.event_id,
            "units_scanned": sum(s.quantity for s in result.scans),
        },
    )
    return WorkflowState(order_id=result.order_id, client_id=result.client_id)


def record_pack(ctx: StepContext, result: PackResult) -> WorkflowState:
    _advance(
        ctx,
        result,
        to=OrderStatus.PACKED,
        action="pack_confirmed",
        actor=Actor(kind="warehouse", id=result.actor),
        changes={"pack": result.pack, "task_token": None, "awaiting": None},
        detail={"event_id": result.event_id, **result.pack.model_dump()},
    )
    return WorkflowState(order_id=result.order_id, client_id=result.client_id)


def create_label(ctx: StepContext, state: WorkflowState) -> WorkflowState:
    order = load(ctx.repo, state.order_id)
    if order.label is None and order.status is OrderStatus.PACKED:
        label = ctx.carrier.buy_label(order)
        _advance(
            ctx,
            state,
            to=OrderStatus.LABELLED,
            action="label_created",
            changes={"label": label},
            detail=label.model_dump(),
        )
    else:
        _advance(ctx, state, to=OrderStatus.LABELLED, action="label_created")
    return state


def mark_shipped(ctx: StepContext, state: WorkflowState) -> WorkflowState:
    order = load(ctx.repo, state.order_id)
    if order.unfulfilled_lines:
        # A partial fulfilment ends in a state of its own, never in SHIPPED patched later.
        if order.status is OrderStatus.COMPLETED_PARTIAL:
            return state
        if order.status is not OrderStatus.LABELLED:
            raise StepOutOfOrder(f"order {order.order_id} is {order.status.value}; cannot ship")
        record(
            ctx.repo, ctx.clock, ctx.client, _live(ctx, order.order_id),
            action="shipped_partially", actor=WORKFLOW, to_status=OrderStatus.COMPLETED_PARTIAL,
            detail={
                "tracking_number": order.label.tracking_number if order.label else None,
                "shipped": [{"sku": ln.sku, "quantity": ln.quantity} for ln in order.lines],
                "not_shipped": [
                    {"sku": ln.sku, "quantity": ln.quantity} for ln in order.unfulfilled_lines
                ],
            },
        )  # fmt: skip
        return state
    _advance(
        ctx,
        state,
        to=OrderStatus.SHIPPED,
        action="shipped",
        detail={"tracking_number": order.label.tracking_number if order.label else None},
    )
    return state


def notify_shipped(ctx: StepContext, state: WorkflowState) -> WorkflowState:
    order = load(ctx.repo, state.order_id)
    shipped = (OrderStatus.SHIPPED, OrderStatus.COMPLETED_PARTIAL)
    if order.notified_at is not None or order.status not in shipped:
        return state
    ctx.notifier.shipment_sent(order)
    record(
        ctx.repo,
        ctx.clock,
        ctx.client,
        order,
        action="customer_notified",
        actor=WORKFLOW,
        changes={"notified_at": ctx.clock.now()},
        detail={"channel": "shipment notification"},
    )
    return state


class HoldRequest(WorkflowState):
    error: dict[str, Any]


def hold(ctx: StepContext, request: HoldRequest) -> WorkflowState:
    """The Catch target: park the order with what went wrong, owned and audited."""
    order = load(ctx.repo, request.order_id)
    if order.status is OrderStatus.ON_HOLD or order.status in TERMINAL_STATUSES:
        return request
    error = str(request.error.get("Error", "Unknown"))
    cause = str(request.error.get("Cause", ""))[:1000]
    changes: dict[str, Any] = {
        "hold_reason": error,
        "task_token": None,
        "awaiting": None,
        # Leaving the pending-start index too: a held order must not be "started" again.
        "pending_start": False,
    }
    detail: dict[str, Any] = {"error": error, "cause": cause, "held_at_status": order.status.value}
    open_exception = (
        ctx.exceptions.get_exception(order.open_exception_id)
        if ctx.exceptions is not None and order.open_exception_id
        else None
    )
    if open_exception is None or not open_exception.is_open or ctx.exceptions is None:
        record(
            ctx.repo, ctx.clock, ctx.client, order, action="order_held", actor=WORKFLOW,
            to_status=OrderStatus.ON_HOLD, changes=changes, detail=detail,
        )  # fmt: skip
        return WorkflowState(order_id=request.order_id, client_id=request.client_id)
    # The workflow stopped waiting for this exception (it timed out): close it with the hold,
    # so it is no longer escalated and a late resolution is refused before it changes anything.
    changes["open_exception_id"] = None
    new, event = build(
        ctx.clock, ctx.client, order, action="order_held", actor=WORKFLOW,
        to_status=OrderStatus.ON_HOLD, changes=changes,
        detail={**detail, "closed_exception": open_exception.exception_id},
    )  # fmt: skip
    closed = open_exception.closed(
        by=WORKFLOW.id, at=ctx.clock.now(), action="hold",
        note=f"the workflow stopped waiting ({error})",
    )  # fmt: skip
    ctx.exceptions.write_exception(new, closed, event, order.audit_seq, open_exception.version)
    return WorkflowState(order_id=request.order_id, client_id=request.client_id)


class CancelRequest(WorkflowState):
    actor: str
    exception_id: str


def cancel_order(ctx: StepContext, request: CancelRequest) -> WorkflowState:
    """An operator's resolution cancelled the order: record it, owned and audited."""
    order = load(ctx.repo, request.order_id)
    if order.status is OrderStatus.CANCELLED:
        return request
    record(
        ctx.repo,
        ctx.clock,
        ctx.client,
        order,
        action="order_cancelled",
        actor=Actor(kind="operator", id=request.actor),
        to_status=OrderStatus.CANCELLED,
        changes={"task_token": None, "awaiting": None, "pending_start": False},
        detail={"exception_id": request.exception_id, "reason": "resolution of an exception"},
    )
    return WorkflowState(order_id=request.order_id, client_id=request.client_id)
