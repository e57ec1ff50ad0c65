"""The fulfillment steps the state machine runs, one domain function per Task state.

Each step reads the order, checks it is where the step expects, writes the next status with
its audit event in one transaction, and returns the small workflow state. Steps are
idempotent: a Retry after a write that succeeded finds the order already moved on and
returns without writing again.
"""

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ConfigDict

from shipshape.audit import AGAIN, AuditAction
from shipshape.base import Model
from shipshape.config import ClientConfig, PartialPolicy
from shipshape.errors import (
    AddressInvalid,
    CarrierRejected,
    CatalogMismatch,
    InventoryShort,
    OrderCancelled,
    PaymentMismatch,
    QaFailed,
    ShipshapeError,
)
from shipshape.models import (
    TERMINAL_STATUSES,
    Actor,
    Allocation,
    Order,
    OrderChanges,
    OrderLine,
    OrderStatus,
    PackData,
    PickList,
    PickListEntry,
    PickScan,
    QaGate,
    QaResult,
    SideWrite,
    SkuMaster,
    stage,
)
from shipshape.ports import (
    AwayRegistry,
    Carrier,
    Clock,
    InventoryRepository,
    Notifier,
    OrderRepository,
    Shipment,
    TaskNotWaiting,
    WarehouseChannel,
    WorkflowEngine,
)
from shipshape.services import gates
from shipshape.services import inventory as stock
from shipshape.services.addresses import standardize
from shipshape.services.documents import manifest_document, pick_list_document
from shipshape.services.records import (
    commit,
    commit_exception,
    load,
    owner_after,
    record,
    retry_on_conflict,
)

WORKFLOW = Actor(kind="workflow", id="fulfillment")


class StepOutOfOrder(ShipshapeError):
    """The order is not at a stage this step can act on (a bug or a manual change)."""


class NoPickerAvailable(ShipshapeError):
    """Every picker who works the order's zones is away."""


class WorkflowState(Model):
    """What travels between states: ids only; the order record holds everything else."""

    model_config = ConfigDict(extra="ignore")

    order_id: str
    client_id: str


class ReservationOutcome(WorkflowState):
    backordered: bool = False
    # Set when backordered: how long AwaitStock waits for stock (the client's
    # backorder_limit_days, in seconds), which the state machine reads as its TimeoutSecondsPath.
    stock_wait_seconds: int | None = None


@dataclass(frozen=True)
class StepContext:
    repo: OrderRepository
    clock: Clock
    client: ClientConfig
    carrier: Carrier
    notifier: Notifier
    inventory: InventoryRepository
    warehouse: WarehouseChannel
    execution_name: str | None = None
    away: AwayRegistry | None = None
    workflow: WorkflowEngine | None = None

    def today(self) -> date:
        """The client's local date (expiry and shelf life are calendar dates there)."""
        return self.clock.now().astimezone(ZoneInfo(self.client.timezone)).date()


def _advance(
    ctx: StepContext,
    state: WorkflowState,
    *,
    to: OrderStatus,
    action: AuditAction,
    changes: OrderChanges | None = None,
    detail: dict[str, Any] | None = None,
    actor: Actor = WORKFLOW,
    writes: list[SideWrite] | None = None,
    order: Order | None = None,
) -> Order:
    order = order or _live(ctx, state.order_id)
    current, target = stage(order.status), stage(to)
    if current is None or target is None:
        raise StepOutOfOrder(f"order {order.order_id} is {order.status.value}; cannot {action}")
    if current >= target:
        return order  # already done by an earlier attempt of this step
    if current != target - 1:
        raise StepOutOfOrder(
            f"order {order.order_id} is {order.status.value}; {action} needs the stage before "
            f"{to.value}"
        )
    return record(
        ctx.repo, ctx.clock, ctx.client, order, action=action, actor=actor, to_status=to,
        changes=changes, detail=detail, writes=writes or (),
    )  # fmt: skip


def _live(ctx: StepContext, order_id: str) -> Order:
    """The order, unless the storefront cancelled it (the workflow stops) or no longer shows
    it paid (a payment_mismatch exception: nothing ships unpaid)."""
    order = load(ctx.repo, order_id)
    if order.status is OrderStatus.CANCELLED:
        raise OrderCancelled(f"order {order.order_id} was cancelled")
    if not ctx.client.fulfilment.fulfils(order.payment):
        raise PaymentMismatch(
            f"the storefront shows payment {order.payment.value}, not "
            f"{ctx.client.fulfilment.fulfil_on.value}"
        )
    if order.refund_unsettled:
        # Refunded units Shipshape could not take off the order: a person decides first.
        raise PaymentMismatch(order.refund_unsettled)
    return order


def _done(order: Order, status: OrderStatus) -> bool:
    """The order is at or past ``status`` on the fulfilment path."""
    here, there = stage(order.status), stage(status)
    return here is not None and there is not None and here >= there


# --- catalog ------------------------------------------------------------------------------


def check_catalog(ctx: StepContext, state: WorkflowState) -> WorkflowState:
    """Every line to ship is one the client's SKU master can pick, before any stock is
    touched: a line with no SKU, or a SKU the master lacks, is a catalog_mismatch for its
    owner at once (an unknown SKU is not a backorder: no delivery will ever wake it)."""
    order = _live(ctx, state.order_id)
    if _done(order, OrderStatus.RESERVED):
        return state
    problems = catalog_problems(
        order, ctx.inventory.skus(order.client_id, [ln.sku for ln in order.lines])
    )
    if problems:
        raise CatalogMismatch("; ".join(problems))
    return state


def catalog_problems(order: Order, known: Mapping[str, object]) -> list[str]:
    """What stops the order's lines from being picked by SKU, line by line (none: nothing)."""
    problems = [
        f"line {line.line_id} ({line.title or 'untitled'}, {line.quantity} x) has no SKU"
        for line in order.unmapped_lines
    ]
    problems += [
        f"line {line.line_id}: SKU {line.sku} is not in the SKU master of {order.client_id}"
        for line in order.lines
        if line.sku not in known
    ]
    return problems


# --- address ------------------------------------------------------------------------------


def validate_address(ctx: StepContext, state: WorkflowState) -> WorkflowState:
    """Standardize first (USPS Publication 28 for the US), open an exception only for what
    is still invalid after that. The raw address stays next to the standardized one."""
    order = _live(ctx, state.order_id)
    if _done(order, OrderStatus.ADDRESS_VALIDATED):
        return state
    if order.destinations > 1:
        raise AddressInvalid(
            f"the order ships to {order.destinations} addresses and Shipshape ships an "
            "order to one: split it in the storefront and cancel this one, or retry with the "
            "one address the client approves for every line"
        )
    standardized, problems = standardize(order.shipping_address)
    if problems:
        raise AddressInvalid("; ".join(problems))
    raw = order.shipping_address
    changed = (
        sorted(
            f
            for f in ("line1", "line2", "city", "region", "postal_code")
            if getattr(raw, f) != getattr(standardized, f)
        )
        if raw is not None and standardized is not None
        else []
    )
    _advance(
        ctx,
        state,
        to=OrderStatus.ADDRESS_VALIDATED,
        action=AuditAction.ADDRESS_VALIDATED,
        # The workflow acknowledging its start takes the order out of the starter's index.
        changes={
            "pending_start": False,
            "standardized_address": standardized,
        },
        detail={
            "execution": ctx.execution_name,
            "standard": "USPS Publication 28" if raw and raw.country_code == "US" else "postal",
            "standardized_fields": changed,
        },
        order=order,
    )
    return state


# --- inventory ----------------------------------------------------------------------------


def reserve_inventory(ctx: StepContext, state: WorkflowState) -> ReservationOutcome:
    """Reserve every line in one conditional transaction, or apply the client's partial
    policy: ship what is in stock (ship_partial), hold what is reserved and open
    inventory_short (hold_all), or hold it and wait for stock (backorder).

    An order touching more lots than one transaction holds is reserved in groups of lots
    first, each group recorded on the order with its audit event; the last transaction is
    the one above. A group that loses a race reads and plans again, keeping what the earlier
    groups hold: the outcome is what one transaction would have reached with the stock left
    (reserved, or the client's policy for what is short), and every unit held is on the
    order's record, so nothing needs undoing and a cancel gives it all back."""
    return retry_on_conflict(8, lambda: _reserve_once(ctx, state))


def _final_writes(
    ctx: StepContext, order: Order, plan: stock.ReservationPlan, writes: list[SideWrite]
) -> int:
    """How many items besides the order and its event the plan's last transaction writes."""
    waits = ctx.client.fulfilment.partial_policy is PartialPolicy.BACKORDER and plan.short
    marks = stock.backorder_marks(order, plan.short, ctx.clock.now()) if waits else []
    return len(writes) + len(marks)


def _reserve_part(
    ctx: StepContext, order: Order, plan: stock.ReservationPlan, group: tuple[Allocation, ...]
) -> None:
    """Reserve one group of lots ahead of the rest, recorded with the order."""
    record(
        ctx.repo, ctx.clock, ctx.client, order, action=AuditAction.INVENTORY_RESERVED_IN_PART,
        actor=WORKFLOW,
        changes={"warehouse": plan.warehouse, "reservation": (*order.reservation, *group)},
        detail={
            "warehouse": plan.warehouse,
            "reserved": stock.allocations_detail(group),
            "reason": f"more than {stock.MAX_SIDE_WRITES} stock lots: reserved in groups",
        },
        writes=list(stock.reserve(order, group)),
    )  # fmt: skip


def _reserve_once(ctx: StepContext, state: WorkflowState) -> ReservationOutcome:
    order = _live(ctx, state.order_id)
    outcome = ReservationOutcome(order_id=order.order_id, client_id=order.client_id)
    if (
        order.status is OrderStatus.PARTIALLY_RESERVED
        and order.unfulfilled_lines
        and not order.short_lines
    ):
        return outcome  # a partial fulfilment was decided and is fully reserved
    if _done(order, OrderStatus.RESERVED) and order.status is not OrderStatus.PARTIALLY_RESERVED:
        return outcome
    if order.status not in (
        OrderStatus.ADDRESS_VALIDATED,
        OrderStatus.BACKORDERED,
        OrderStatus.PARTIALLY_RESERVED,
    ):
        raise StepOutOfOrder(f"order {order.order_id} is {order.status.value}; cannot reserve")
    plan = stock.plan_reservation(
        order, ctx.client, stock.read_stock(ctx.inventory, order), ctx.today()
    )
    writes: list[SideWrite] = list(plan.stock_changes(order.client_id))
    since = stock.backordered_since(order)
    still_waiting = (
        plan.short if ctx.client.fulfilment.partial_policy is PartialPolicy.BACKORDER else ()
    )
    if since is not None and order.short_lines:
        # Marks for what is no longer short go; the rest are replaced below (same keys).
        waiting = {ln.sku for ln in still_waiting}
        writes += [
            mark
            for mark in stock.backorder_marks(order, order.short_lines, since, remove=True)
            if mark.sku not in waiting
        ]
    if _final_writes(ctx, order, plan, writes) > stock.MAX_SIDE_WRITES:
        group = plan.group_ahead()
        if group:
            _reserve_part(ctx, order, plan, group)
            return _reserve_once(ctx, state)
    detail: dict[str, Any] = {
        "warehouse": plan.warehouse,
        "reserved": stock.allocations_detail(plan.added),
        **({"released": stock.allocations_detail(plan.released)} if plan.released else {}),
        "stock_checked": True,
    }
    changes: OrderChanges = {
        "warehouse": plan.warehouse,
        "reservation": plan.reservation,
        "short_lines": plan.short,
    }
    if plan.complete:
        record(
            ctx.repo, ctx.clock, ctx.client, order,
            action=AuditAction.INVENTORY_RESERVED, actor=WORKFLOW,
            to_status=OrderStatus.RESERVED, changes=changes, detail=detail, writes=writes,
        )  # fmt: skip
        return outcome
    detail["short"] = stock.lines_detail(plan.short)
    policy = ctx.client.fulfilment.partial_policy
    detail["policy"] = policy.value
    summary = ", ".join(f"{ln.quantity} x {ln.sku}" for ln in plan.short)
    if policy is PartialPolicy.SHIP_PARTIAL and plan.reservation:
        shipped = _reserved_lines(order.lines, plan.reservation)
        changes.update({"lines": shipped, "unfulfilled_lines": plan.short, "short_lines": ()})
        detail["ships_now"] = stock.lines_detail(shipped)
        record(
            ctx.repo, ctx.clock, ctx.client, order,
            action=AuditAction.RESERVED_PARTIALLY, actor=WORKFLOW,
            to_status=OrderStatus.PARTIALLY_RESERVED, changes=changes, detail=detail,
            writes=writes,
        )  # fmt: skip
        return outcome
    marks_fit = _final_writes(ctx, order, plan, writes) <= stock.MAX_SIDE_WRITES
    if policy is PartialPolicy.BACKORDER and not marks_fit:
        # So many SKUs short that their places in the stock queues do not fit one transaction
        # with the order: what is reserved is held, and ops decide (the hold_all route).
        detail["not_backordered"] = f"more than {stock.MAX_SIDE_WRITES} SKUs to wait for"
        summary += "; too many SKUs short to wait for stock"
    if policy is PartialPolicy.BACKORDER and marks_fit:
        since = since or ctx.clock.now()
        writes += stock.backorder_marks(order, plan.short, since)
        # The marks carry the moment the order started waiting: its place in the queue.
        new, event = order.transition(
            AuditAction.BACKORDERED, actor=WORKFLOW, at=ctx.clock.now(),
            to=OrderStatus.BACKORDERED, entered_at=since, changes=changes, detail=detail,
            owner=owner_after(ctx.client, order, OrderStatus.BACKORDERED),
        )  # fmt: skip
        commit(ctx.repo, new, event, expected_seq=order.audit_seq, writes=writes)
        return outcome.model_copy(
            update={
                "backordered": True,
                "stock_wait_seconds": ctx.client.fulfilment.backorder_limit_seconds,
            }
        )
    # hold_all, or ship_partial with nothing in stock to ship: a person decides.
    if plan.reservation and (
        order.status is not OrderStatus.PARTIALLY_RESERVED or plan.added or plan.released
    ):
        record(
            ctx.repo, ctx.clock, ctx.client, order,
            action=AuditAction.RESERVATION_HELD, actor=WORKFLOW,
            to_status=OrderStatus.PARTIALLY_RESERVED, changes=changes, detail=detail,
            writes=writes,
        )  # fmt: skip
    elif writes:
        record(
            ctx.repo, ctx.clock, ctx.client, order,
            action=AuditAction.RESERVATION_HELD, actor=WORKFLOW,
            changes=changes, detail=detail, writes=writes,
        )  # fmt: skip
    raise InventoryShort(f"short of {summary} ({policy.value})")


def _reserved_lines(
    lines: tuple[OrderLine, ...], reservation: tuple[Any, ...]
) -> tuple[OrderLine, ...]:
    held: dict[str, int] = {}
    for allocation in reservation:
        held[allocation.line_id] = held.get(allocation.line_id, 0) + allocation.quantity
    return tuple(
        line.model_copy(update={"quantity": held[line.line_id]})
        for line in lines
        if held.get(line.line_id)
    )


def await_stock(ctx: StepContext, request: "AwaitRequest") -> None:
    """Wait for stock (the backorder policy). Stock that arrived between the reservation and
    this wait is noticed here, after the token is stored, so no arrival is missed."""
    order = _live(ctx, request.order_id)
    if order.status is not OrderStatus.BACKORDERED:
        raise StepOutOfOrder(f"order {order.order_id} is {order.status.value}; not backordered")
    if order.task_token != request.task_token:
        order = record(
            ctx.repo, ctx.clock, ctx.client, order,
            action=AuditAction.STOCK_AWAITED, actor=WORKFLOW,
            changes={"task_token": request.task_token, "awaiting": "stock"},
            detail={"short": stock.lines_detail(order.short_lines)},
        )  # fmt: skip
    plan = stock.plan_reservation(
        order, ctx.client, stock.read_stock(ctx.inventory, order), ctx.today()
    )
    if plan.complete and ctx.workflow is not None:
        with contextlib.suppress(TaskNotWaiting):
            ctx.workflow.succeed(request.task_token, {"woken_by": "stock already in"})


# --- picking ------------------------------------------------------------------------------


def assign_picker(ctx: StepContext, state: WorkflowState) -> WorkflowState:
    """Rule-based assignment: pickers who work every zone the order's bins are in, not away,
    with the fewest open picks (name breaks ties). The pick list goes to the warehouse."""
    order = _live(ctx, state.order_id)
    if _done(order, OrderStatus.PICKER_ASSIGNED):
        return state
    zones = sorted({a.bin.split("-", 1)[0] for a in order.reservation if a.bin})
    rules = ctx.client.fulfilment
    periods = ctx.away.away_periods(ctx.client.client_id) if ctx.away is not None else []
    now = ctx.clock.now()
    away = sorted(p.person for p in periods if p.covers(now) and p.person in ctx.client.pickers)
    present = [p for p in ctx.client.pickers if p not in away]
    covering = [p for p in present if set(zones) <= set(rules.zones_of(p) or zones)]
    candidates = covering or present
    if not candidates:
        raise NoPickerAvailable(f"every picker of {ctx.client.client_id} is away")
    workload = {p: ctx.repo.open_picks(ctx.client.client_id, p) for p in candidates}
    picker = min(candidates, key=lambda p: (workload[p], p))
    skus = ctx.inventory.skus(order.client_id, [ln.sku for ln in order.lines])
    titles = {ln.sku: ln.title for ln in order.lines}
    entries = sorted(
        (
            PickListEntry(
                bin=a.bin, sku=a.sku, title=titles.get(a.sku) or _title(skus, a.sku),
                barcode=skus[a.sku].barcode if a.sku in skus else "", lot=a.lot,
                quantity=a.quantity,
            )
            for a in order.reservation
        ),
        key=lambda e: (e.bin, e.sku, e.lot),
    )  # fmt: skip
    pick_list = PickList(picker=picker, warehouse=order.warehouse or "", entries=tuple(entries))
    document = pick_list_document(order, pick_list, ctx.client.name, now)
    new = _advance(
        ctx,
        state,
        to=OrderStatus.PICKER_ASSIGNED,
        action=AuditAction.PICKER_ASSIGNED,
        changes={
            "picker": picker,
            "pick_list": pick_list,
            "documents": (*order.documents, document.name),
        },
        detail={
            "picker": picker,
            "rule": "covers the order's zones, not away, fewest open picks",
            "zones": zones,
            "workload": workload,
            **({"skipped_away": away} if away else {}),
            **({"no_picker_covers_every_zone": True} if not covering else {}),
            "document": document.name,
            "sha256": document.sha256,
        },
        writes=[document],
        order=order,
    )
    ctx.warehouse.send(new, document)
    return state


def _title(skus: dict[str, SkuMaster], sku: str) -> str:
    return skus[sku].title if sku in skus else ""


def _gate(ctx: StepContext, order: Order, gate: QaGate, verdict: gates.Verdict) -> WorkflowState:
    """Store the gate's discrete result with its owner and remediation; fail the step if it
    failed. A rerun with nothing new since the last result returns that result again."""
    state = WorkflowState(order_id=order.order_id, client_id=order.client_id)
    last = order.last_qa(gate)
    if last is not None and last.seq == order.audit_seq:
        if last.passed or last.waived_by:
            return state
        raise QaFailed(f"{gate.value} gate failed: " + "; ".join(last.failures))
    rule = ctx.client.fulfilment.gates[gate]
    result = QaResult(
        gate=gate,
        passed=verdict.passed,
        at=ctx.clock.now(),
        owner=rule.owner,
        checks=tuple(verdict.checks),
        failures=tuple(verdict.failures),
        remediation=() if verdict.passed else rule.remediation,
        refused_lots=tuple(verdict.refused_lots),
        seq=order.audit_seq + 1,
    )
    record(
        ctx.repo, ctx.clock, ctx.client, order,
        action=AuditAction.QA_PASSED if verdict.passed else AuditAction.QA_FAILED, actor=WORKFLOW,
        changes={"qa": (*order.qa, result)},
        detail={
            "gate": gate.value, "owner": rule.owner, "checks": list(verdict.checks),
            **({"failures": list(verdict.failures), "remediation": list(rule.remediation)}
               if not verdict.passed else {}),
        },
    )  # fmt: skip
    if not verdict.passed:
        raise QaFailed(f"{gate.value} gate failed: " + "; ".join(verdict.failures))
    return state


def _at(ctx: StepContext, state: WorkflowState, status: OrderStatus) -> Order:
    order = _live(ctx, state.order_id)
    if order.status is not status:
        raise StepOutOfOrder(f"order {order.order_id} is {order.status.value}, not {status.value}")
    return order


def pre_pick_qa(ctx: StepContext, state: WorkflowState) -> WorkflowState:
    order = _live(ctx, state.order_id)
    if _done(order, OrderStatus.AWAITING_PICK):
        return state
    order = _at(ctx, state, OrderStatus.PICKER_ASSIGNED)
    skus = ctx.inventory.skus(order.client_id, [ln.sku for ln in order.lines])
    return _gate(ctx, order, QaGate.PRE_PICK, gates.pre_pick(order, skus, ctx.client, ctx.today()))


class AwaitRequest(WorkflowState):
    task_token: str


def _await(
    ctx: StepContext,
    request: AwaitRequest,
    status: OrderStatus,
    awaiting: str,
    action: AuditAction,
    extra: OrderChanges | None = None,
    writes: list[SideWrite] | None = None,
    detail: dict[str, Any] | None = None,
) -> Order:
    order = _live(ctx, request.order_id)
    changes: OrderChanges = {"task_token": request.task_token, "awaiting": awaiting}
    if order.status is status:
        # A retried attempt of this wait: only the newest token is waited on, so store it.
        if order.task_token != request.task_token:
            return record(
                ctx.repo, ctx.clock, ctx.client, order, action=AGAIN[action],
                actor=WORKFLOW, changes=changes, detail={"reason": "the wait was retried"},
            )  # fmt: skip
        return order
    return _advance(
        ctx, request, to=status, action=action, changes={**changes, **(extra or {})},
        writes=writes, detail=detail, order=order,
    )  # fmt: skip


def await_pick(ctx: StepContext, request: AwaitRequest) -> None:
    _await(ctx, request, OrderStatus.AWAITING_PICK, "pick_scans", AuditAction.PICK_REQUESTED)


def await_pack(ctx: StepContext, request: AwaitRequest) -> None:
    """Ask for pack data; the first time, with the packing manifest and what the parcel
    should weigh (from the SKU master)."""
    order = _live(ctx, request.order_id)
    if order.status is OrderStatus.AWAITING_PACK or order.parcel is not None:
        _await(ctx, request, OrderStatus.AWAITING_PACK, "pack_data", AuditAction.PACK_REQUESTED)
        return
    skus = ctx.inventory.skus(order.client_id, [ln.sku for ln in order.lines])
    missing = sorted({ln.sku for ln in order.lines} - set(skus))
    if missing:
        raise QaFailed(f"packing gate cannot run: {', '.join(missing)} not in the SKU master")
    unmeasured = sorted(s for s, m in skus.items() if m.missing_for_fulfilment())
    if unmeasured:
        raise QaFailed(
            "packing gate cannot run: "
            + "; ".join(
                f"{s} has no {', '.join(skus[s].missing_for_fulfilment())}" for s in unmeasured
            )
            + " in the SKU master (the warehouse sends them with sku_updated)"
        )
    parcel = gates.parcel_expectation(order, skus, ctx.client)
    document = manifest_document(order, parcel, skus, ctx.client.name, ctx.clock.now())
    new = _await(
        ctx, request, OrderStatus.AWAITING_PACK, "pack_data", AuditAction.PACK_REQUESTED,
        extra={"parcel": parcel, "documents": (*order.documents, document.name)},
        writes=[document],
        detail={"document": document.name, "sha256": document.sha256,
                "expected_weight_grams": [parcel.min_weight_grams, parcel.max_weight_grams]},
    )  # fmt: skip
    ctx.warehouse.send(new, document)


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
        action=AuditAction.PICK_CONFIRMED,
        actor=Actor(kind="warehouse", id=result.actor),
        changes={"pick_scans": result.scans, "task_token": None, "awaiting": None},
        detail={
            "event_id": result.event_id,
            "units_scanned": sum(s.quantity for s in result.scans),
        },
    )
    return WorkflowState(order_id=result.order_id, client_id=result.client_id)


def post_pick_qa(ctx: StepContext, state: WorkflowState) -> WorkflowState:
    order = _live(ctx, state.order_id)
    if _done(order, OrderStatus.AWAITING_PACK):
        return state
    order = _at(ctx, state, OrderStatus.PICKED)
    skus = ctx.inventory.skus(order.client_id, [s.sku for s in order.pick_scans])
    return _gate(ctx, order, QaGate.POST_PICK, gates.post_pick(order, skus))


def record_pack(ctx: StepContext, result: PackResult) -> WorkflowState:
    _advance(
        ctx,
        result,
        to=OrderStatus.PACKED,
        action=AuditAction.PACK_CONFIRMED,
        actor=Actor(kind="warehouse", id=result.actor),
        changes={"pack": result.pack, "task_token": None, "awaiting": None},
        detail={"event_id": result.event_id, **result.pack.model_dump()},
    )
    return WorkflowState(order_id=result.order_id, client_id=result.client_id)


def pack_qa(ctx: StepContext, state: WorkflowState) -> WorkflowState:
    order = _live(ctx, state.order_id)
    if _done(order, OrderStatus.LABELLED):
        return state
    order = _at(ctx, state, OrderStatus.PACKED)
    if order.parcel is None or order.pack is None:
        raise StepOutOfOrder(f"order {order.order_id} has no parcel expectation or pack data")
    return _gate(ctx, order, QaGate.PACKING, gates.packing(order.parcel, order.pack))


# --- shipping -----------------------------------------------------------------------------


def _shipment(ctx: StepContext, order: Order) -> Shipment:
    address = order.standardized_address or order.shipping_address
    if address is None or order.pack is None:
        raise StepOutOfOrder(f"order {order.order_id} has no address or pack data to ship")
    rules = ctx.client.fulfilment
    return Shipment(
        order_id=order.order_id,
        ship_from_postal_code=rules.ship_from_postal_code,
        ship_from_country=rules.ship_from_country,
        to=address,
        weight_grams=order.pack.weight_grams,
        length_mm=order.pack.length_mm,
        width_mm=order.pack.width_mm,
        height_mm=order.pack.height_mm,
    )


def create_label(ctx: StepContext, state: WorkflowState) -> WorkflowState:
    """Rate the parcel, buy the cheapest label that meets the promised transit time (the
    fastest if none does; the shipping gate then says so). A label a gate or the carrier
    refused is voided first."""
    order = _live(ctx, state.order_id)
    if _done(order, OrderStatus.LABELLED):
        return state
    if order.status is not OrderStatus.PACKED:
        raise StepOutOfOrder(f"order {order.order_id} is {order.status.value}; cannot label")
    if order.label is not None:
        # A retry after the shipping gate refused this label: void it, then re-rate.
        ctx.carrier.void_label(order.label)
        order = record(
            ctx.repo, ctx.clock, ctx.client, order, action=AuditAction.LABEL_VOIDED, actor=WORKFLOW,
            changes={"label": None, "voided_labels": (*order.voided_labels, order.label)},
            detail={"label_id": order.label.label_id, "service": order.label.service,
                    "reason": "refused by the shipping gate"},
        )  # fmt: skip
    shipment = _shipment(ctx, order)
    rules = ctx.client.fulfilment
    rates = [
        r
        for r in ctx.carrier.rates(shipment)
        if r.service in rules.services and r.service not in order.rejected_services
    ]
    if not rates:
        raise CarrierRejected(
            "NO_SERVICE", "no allowed service can carry this parcel to this address"
        )
    meeting = [r for r in rates if r.transit_days <= rules.promised_transit_days]
    chosen = (
        min(meeting, key=lambda r: (r.amount, r.transit_days))
        if meeting
        else min(rates, key=lambda r: (r.transit_days, r.amount))
    )
    attempt = len(order.voided_labels) + 1
    label = ctx.carrier.buy_label(shipment, chosen, f"{order.order_id}-label-{attempt}")
    _advance(
        ctx,
        state,
        to=OrderStatus.LABELLED,
        action=AuditAction.LABEL_CREATED,
        changes={"label": label},
        detail={
            **label.model_dump(mode="json", include={"carrier", "service", "tracking_number",
                                                      "label_id", "amount", "transit_days"}),
            "rates": [r.model_dump(mode="json") for r in rates],
            "rule": "cheapest meeting the promise" if meeting else "fastest (none meets it)",
            **({"excluded_services": list(order.rejected_services)}
               if order.rejected_services else {}),
        },
        order=order,
    )  # fmt: skip
    return state


def shipping_qa(ctx: StepContext, state: WorkflowState) -> WorkflowState:
    order = _live(ctx, state.order_id)
    if order.status in TERMINAL_STATUSES:
        return state
    order = _at(ctx, state, OrderStatus.LABELLED)
    if order.label is None:
        raise StepOutOfOrder(f"order {order.order_id} has no label")
    return _gate(ctx, order, QaGate.SHIPPING, gates.shipping(order, order.label, ctx.client))


def mark_shipped(ctx: StepContext, state: WorkflowState) -> WorkflowState:
    """Tender the parcel to the carrier, then record the shipment and use the reserved stock,
    in one transaction. A carrier rejection rolls back to the warehouse: the label is voided,
    the order goes back to PACKED and the rejected service is not rated again."""
    order = load(ctx.repo, state.order_id)
    if order.status in (OrderStatus.SHIPPED, OrderStatus.COMPLETED_PARTIAL):
        return state
    order = _live(ctx, state.order_id)
    if order.status is not OrderStatus.LABELLED or order.label is None:
        raise StepOutOfOrder(f"order {order.order_id} is {order.status.value}; cannot ship")
    label = order.label
    try:
        ctx.carrier.tender(label, _shipment(ctx, order))
    except CarrierRejected as rejection:
        ctx.carrier.void_label(label)
        record(
            ctx.repo, ctx.clock, ctx.client, order,
            action=AuditAction.CARRIER_REJECTED, actor=WORKFLOW,
            to_status=OrderStatus.PACKED,
            changes={
                "label": None,
                "voided_labels": (*order.voided_labels, label),
                "rejected_services": _once((*order.rejected_services, label.service)),
            },
            detail={"reason": rejection.reason, "message": str(rejection),
                    "voided_label": label.label_id, "service": label.service,
                    "rolled_back_to": OrderStatus.PACKED.value},
        )  # fmt: skip
        raise
    tracking = {
        "tracking_number": label.tracking_number,
        "carrier": label.carrier,
        "service": label.service,
    }
    order = _consume_ahead(ctx, order)
    writes: list[SideWrite] = list(stock.consume(order))
    if order.unfulfilled_lines:
        # A partial fulfilment ends in a state of its own, never in SHIPPED patched later.
        record(
            ctx.repo, ctx.clock, ctx.client, order,
            action=AuditAction.SHIPPED_PARTIALLY, actor=WORKFLOW,
            to_status=OrderStatus.COMPLETED_PARTIAL, changes={"stock_consumed": True},
            detail={
                **tracking,
                "shipped": [{"sku": ln.sku, "quantity": ln.quantity} for ln in order.lines],
                "not_shipped": [
                    {"sku": ln.sku, "quantity": ln.quantity} for ln in order.unfulfilled_lines
                ],
            },
            writes=writes,
        )  # fmt: skip
        return state
    _advance(
        ctx, state, to=OrderStatus.SHIPPED,
        action=AuditAction.SHIPPED, changes={"stock_consumed": True},
        detail=tracking, writes=writes, order=order,
    )  # fmt: skip
    return state


def _consume_ahead(ctx: StepContext, order: Order) -> Order:
    """Use the stock of an order touching more lots than the shipping transaction holds in
    groups first, each recorded on the order (``consumed_lots``) with its audit event; a retry
    after an interruption goes on from the lots not yet used. The last group is used in the
    shipping transaction itself."""
    while len(stock.consume(order)) > stock.MAX_SIDE_WRITES:
        group = stock.lot_groups(stock.held(order))[0]
        lots = tuple(dict.fromkeys(stock.allocation_lot(a) for a in group))
        order = record(
            ctx.repo, ctx.clock, ctx.client, order, action=AuditAction.STOCK_CONSUMED_IN_PART,
            actor=WORKFLOW, changes={"consumed_lots": (*order.consumed_lots, *lots)},
            detail={"consumed": stock.allocations_detail(group),
                    "reason": f"more than {stock.MAX_SIDE_WRITES} stock lots: used in groups"},
            writes=list(stock.consume(order, group)),
        )  # fmt: skip
    return order


def _once(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


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
        action=AuditAction.CUSTOMER_NOTIFIED,
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
    changes: OrderChanges = {
        "hold_reason": error,
        "task_token": None,
        "awaiting": None,
        # Leaving the pending-start index too: a held order must not be "started" again.
        "pending_start": False,
    }
    detail: dict[str, Any] = {"error": error, "cause": cause, "held_at_status": order.status.value}
    open_exception = (
        ctx.repo.get_exception(order.open_exception_id) if order.open_exception_id else None
    )
    if open_exception is None or not open_exception.is_open:
        record(
            ctx.repo, ctx.clock, ctx.client, order, action=AuditAction.ORDER_HELD, actor=WORKFLOW,
            to_status=OrderStatus.ON_HOLD, changes=changes, detail=detail,
        )  # fmt: skip
        return WorkflowState(order_id=request.order_id, client_id=request.client_id)
    # The workflow stopped waiting for this exception (it timed out): close it with the hold,
    # so it is no longer escalated and a late resolution is refused before it changes anything.
    changes["open_exception_id"] = None
    new, event = order.transition(
        AuditAction.ORDER_HELD, actor=WORKFLOW, at=ctx.clock.now(), to=OrderStatus.ON_HOLD,
        owner=owner_after(ctx.client, order, OrderStatus.ON_HOLD), changes=changes,
        detail={**detail, "closed_exception": open_exception.exception_id},
    )  # fmt: skip
    closed = open_exception.closed(
        by=WORKFLOW.id, at=ctx.clock.now(), action="hold",
        note=f"the workflow stopped waiting ({error})",
    )  # fmt: skip
    commit_exception(ctx.repo, new, closed, event, order.audit_seq, open_exception.version)
    return WorkflowState(order_id=request.order_id, client_id=request.client_id)


class CancelRequest(WorkflowState):
    actor: str
    exception_id: str


def cancel_order(ctx: StepContext, request: CancelRequest) -> WorkflowState:
    """An operator's resolution cancelled the order: record it, owned and audited."""
    order = load(ctx.repo, request.order_id)
    if order.status is OrderStatus.CANCELLED:
        return request
    actor = Actor(kind="operator", id=request.actor)
    order = release_ahead(ctx.repo, ctx.clock, ctx.client, order, actor)
    record(
        ctx.repo,
        ctx.clock,
        ctx.client,
        order,
        action=AuditAction.ORDER_CANCELLED,
        actor=actor,
        to_status=OrderStatus.CANCELLED,
        changes={"task_token": None, "awaiting": None, "pending_start": False, **released(order)},
        detail={
            "exception_id": request.exception_id,
            "reason": "resolution of an exception",
            **released_detail(order),
        },
        writes=release_writes(order),
    )
    return WorkflowState(order_id=request.order_id, client_id=request.client_id)


def released(order: Order) -> OrderChanges:
    """The order's changes when everything held for it goes back to stock."""
    return {"reservation": (), "short_lines": ()} if order.reservation or order.short_lines else {}


def released_detail(order: Order) -> dict[str, Any]:
    held = stock.held(order)
    return {"stock_released": stock.allocations_detail(held)} if held else {}


def release_writes(order: Order) -> list[SideWrite]:
    """Stock back to available and backorder marks removed, written with the order change.
    At most ``MAX_SIDE_WRITES`` once ``release_ahead`` has run."""
    writes: list[SideWrite] = list(stock.release_all(order))
    since = stock.backordered_since(order)
    if since is not None and order.short_lines:
        writes += stock.backorder_marks(order, order.short_lines, since, remove=True)
    return writes


def released_for_lines(
    order: Order, lines: tuple[OrderLine, ...]
) -> tuple[OrderChanges, list[Allocation]]:
    """What the order holds beyond ``lines`` (its lines once units left it, by a refund) goes
    back: the reservation keeps what the remaining units need, line by line, and the pick
    list loses the released units, so the post-pick gate holds the picker to what is left.
    Returns the order's changes and the released allocations (``stock.release`` of them is
    written in the same transaction as the order)."""
    need = {line.line_id: line.quantity for line in lines}
    held = {id(a) for a in stock.held(order)}
    kept: list[Allocation] = []
    gone: list[Allocation] = []
    for allocation in order.reservation:
        room = need.get(allocation.line_id, 0)
        if id(allocation) not in held or room >= allocation.quantity:
            kept.append(allocation)  # still needed (or used already: not ours to free)
        elif room > 0:
            kept.append(allocation.model_copy(update={"quantity": room}))
            gone.append(allocation.model_copy(update={"quantity": allocation.quantity - room}))
        else:
            gone.append(allocation)
        need[allocation.line_id] = max(0, room - allocation.quantity)
    if not gone:
        return {}, []
    changes: OrderChanges = {"reservation": tuple(kept)}
    if order.pick_list is not None:
        less: dict[tuple[str, str, str], int] = {}
        for a in gone:
            less[(a.bin, a.sku, a.lot)] = less.get((a.bin, a.sku, a.lot), 0) + a.quantity
        entries = []
        for entry in order.pick_list.entries:
            left = entry.quantity - less.pop((entry.bin, entry.sku, entry.lot), 0)
            if left > 0:
                entries.append(entry.model_copy(update={"quantity": left}))
        changes["pick_list"] = order.pick_list.model_copy(update={"entries": tuple(entries)})
    return changes, gone


def release_ahead(
    repo: OrderRepository, clock: Clock, client: ClientConfig, order: Order, actor: Actor
) -> Order:
    """Before a change that gives back everything the order holds (a cancel, a retry that
    starts the reservation again): give back, in groups of lots, what would not fit that
    change's own transaction. Each group leaves the order's reservation with its audit event,
    so a retry of the change, after an interruption or a lost race, goes on from what is still
    held. Returns the order as now recorded; ``release_writes`` of it fits one transaction."""
    while len(release_writes(order)) > stock.MAX_SIDE_WRITES:
        group = stock.lot_groups(stock.held(order))[0]
        gone = set(group)
        order = record(
            repo, clock, client, order, action=AuditAction.STOCK_RELEASED_IN_PART, actor=actor,
            changes={"reservation": tuple(a for a in order.reservation if a not in gone)},
            detail={"stock_released": stock.allocations_detail(group),
                    "reason": f"more than {stock.MAX_SIDE_WRITES} stock lots: released in groups"},
            writes=list(stock.release(order, group)),
        )  # fmt: skip
    return order
