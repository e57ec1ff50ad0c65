"""Exceptions: every failure lands in a typed exception with one owner and a deadline, and a
human resolution (checked against the exception's acceptance criteria) drives the workflow on.

Opening happens in the workflow (the Catch of a failed step), which then waits on a task token
until an operator resolves it through the ops API. Resolutions:

- ``retry``: run the failed step again, optionally with corrected data (a corrected address
  must validate); this is also how the workflow *continues with corrected data*;
- ``partial``: a stock shortage is answered by shipping the lines given now; the rest is
  recorded on the order and it ends COMPLETED_PARTIAL;
- ``cancel``: ask to stop fulfilment. It is recorded as the order's pending ``status:
  CANCELLED`` override, and the exception stays open, claimed by whoever asked. A second
  operator approves it (the order is cancelled, the exception closes as a cancel and the
  workflow stops) or rejects it (the exception is resolved another way). A cancellation loses
  the client a sale and the customer their parcel, and the override route already asks two
  people for it, so an exception is no way around that. A cancellation from the storefront
  needs no approval here, because it is the client's own decision;
- ``quarantine``: hold the order as an automation failure until someone releases it;
- ``release``: leave quarantine; only when the order has every required field;
- ``waive``: a lead accepts a failed QA gate (with the client's approval, in the note); the
  workflow goes on after the gate and the gate's result records who waived it.

An address comes only with a resolution that corrects an address that cannot be shipped to:
the retry of an ``address_invalid`` exception, or the release of a quarantined order whose
address of record is invalid. It is standardized (services/addresses.py) and stored with its
standardized form, the address the label is bought for. With any other resolution an address
would send a valid order's parcel somewhere else on one operator's word. That is refused
with 422, pointing to the ``shipping_address`` override, which a second operator approves.

Where the workflow resumes is decided here (``resume_at``, a state name) together with the
rollback the retry needs (a failed pick is picked again from the start, a refused label is
voided and re-rated), all written in the resolution's one transaction.
"""

import contextlib
import json
from typing import Annotated, Any

from pydantic import ConfigDict, Field, StringConstraints

from shipshape.audit import AuditAction
from shipshape.authorization import (
    Action,
    Operator,
    served_client,
    served_clients,
    served_exception,
)
from shipshape.base import Model
from shipshape.config import ClientConfig, ClientDirectory, FulfilmentConfig
from shipshape.errors import (
    ClientRequestError,
    ConcurrentUpdate,
    OrderCancelled,
)
from shipshape.kinds import Resolution
from shipshape.models import (
    Actor,
    Address,
    CorrectedAddress,
    ExceptionStatus,
    ExceptionType,
    LineKind,
    Note,
    Order,
    OrderChanges,
    OrderException,
    OrderLine,
    OrderStatus,
    OtherLine,
    OverrideField,
    QaGate,
    Quantity,
    SideWrite,
    Sku,
)
from shipshape.observability import logger
from shipshape.ports import (
    AwayRegistry,
    Clock,
    InventoryRepository,
    Notifier,
    OrderRepository,
    TaskNotWaiting,
    WorkflowEngine,
)
from shipshape.rules import MAX_REMEDIATION_STEPS
from shipshape.services.addresses import standardize
from shipshape.services.away import first_available
from shipshape.services.fulfillment import release_ahead, release_writes
from shipshape.services.overrides import pending_cancel, pending_override, requested_detail
from shipshape.services.records import commit_exception, load
from shipshape.workflow import gate_at, retry_point, timeout_opens, waive_point

# Step errors (by class name, as the state machine reports them) and the exception they open.
ERROR_TYPES: dict[str, ExceptionType] = {
    "AddressInvalid": ExceptionType.ADDRESS_INVALID,
    "InventoryShort": ExceptionType.INVENTORY_SHORT,
    "CarrierRejected": ExceptionType.CARRIER_REJECTED,
    "QaFailed": ExceptionType.QA_FAILED,
    "PaymentMismatch": ExceptionType.PAYMENT_MISMATCH,
    "CatalogMismatch": ExceptionType.CATALOG_MISMATCH,
}


# What a person does with refunded units the warehouse already has in hand (a retry goes on
# with the order as it stands; taking units off a picked order is not automated).
REFUND_AFTER_PICKING = (
    "Check the refund in the storefront: which lines and units went back to the customer",
    "To ship the refunded units anyway, get the client's approval, then retry and name the "
    "approval in the note",
    "Otherwise cancel the order: its held stock is released; return the picked units to their bins",
)


class AlreadyClaimed(ClientRequestError):
    status = 409


class AlreadyResolved(ClientRequestError):
    status = 409


class ActionNotAllowed(ClientRequestError):
    status = 409


class AcceptanceCriteriaNotMet(ClientRequestError):
    """The resolution does not fix what the exception is about; nothing was changed."""

    status = 422


class WorkflowStoppedWaiting(ClientRequestError):
    status = 409


class AddressNotAllowed(ClientRequestError):
    """The resolution carries an address but is not about the address; nothing was changed."""

    status = 422


class OpenExceptionRequest(Model):
    model_config = ConfigDict(extra="ignore")

    order_id: str
    client_id: str
    failed_step: str
    task_token: str
    error: dict[str, Any]


# An order line's id as its storefront numbers it: Shopify, WooCommerce and BigCommerce use
# integers (at most 19 digits), Shipshape's own format ids of up to 64 characters.
LINE_ID_MAX_LENGTH = 64


LineId = Annotated[str, StringConstraints(min_length=1, max_length=LINE_ID_MAX_LENGTH)]


class ShipLine(Model):
    model_config = ConfigDict(extra="forbid")

    line_id: str = Field(min_length=1, max_length=LINE_ID_MAX_LENGTH)
    quantity: Quantity = Field(description="No more than the line's own quantity.")


class ResolveExceptionRequest(Model):
    model_config = ConfigDict(extra="forbid")

    action: Resolution
    note: Note = Field(min_length=3, description="Why; kept in the audit trail.")
    address: CorrectedAddress | None = Field(
        default=None, description="A corrected shipping address."
    )
    ship_lines: list[ShipLine] | None = Field(
        default=None,
        max_length=1000,
        description="For partial: the lines and quantities that ship now.",
    )
    skus: dict[LineId, Sku] | None = Field(
        default=None,
        max_length=1000,
        description="For retrying a catalog_mismatch: the SKU each named line is, by line id "
        "(a line with no SKU, or with one the SKU master lacks).",
    )


class ExceptionView(Model):
    exception_id: str
    order_id: str
    client_id: str
    type: ExceptionType
    step: str
    gate: str | None
    error: str
    detail: str
    status: ExceptionStatus
    owner: str
    level: int
    opened_at: Any
    due_at: Any
    overdue: bool
    remediation: tuple[str, ...]
    claimed_by: str | None
    resolved_by: str | None
    resolution: dict[str, Any] | None
    awaiting_approval: str | None = Field(
        default=None,
        description="In the answer to a cancel: the order's pending override that a second "
        "operator approves (POST /orders/{order_id}/overrides/{id}/approve) or rejects.",
    )

    @classmethod
    def of(
        cls, exception: OrderException, now: Any, awaiting_approval: str | None = None
    ) -> "ExceptionView":
        return cls(
            **exception.model_dump(
                include=set(cls.model_fields) - {"overdue", "awaiting_approval"}
            ),
            overdue=exception.is_open and exception.due_at < now,
            awaiting_approval=awaiting_approval,
        )


def _cause(error: dict[str, Any]) -> str:
    """The failed step's message: Lambda errors carry it as JSON inside ``Cause``."""
    cause = str(error.get("Cause", ""))
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause[:1000]
    if isinstance(parsed, dict):
        return str(parsed.get("errorMessage", cause))[:1000]
    return cause[:1000]


def open_exception(
    *,
    repo: OrderRepository,
    clock: Clock,
    client: ClientConfig,
    notifier: Notifier,
    request: OpenExceptionRequest,
    away: AwayRegistry | None = None,
) -> OrderException:
    """Open the exception a failed step calls for, owned and due in business hours, atomically
    with the order's status and an audit event; then tell its owner."""
    order = load(repo, request.order_id)
    if order.status is OrderStatus.CANCELLED:
        raise OrderCancelled(f"order {order.order_id} was cancelled")
    error_name = str(request.error.get("Error", "Unknown"))
    timed_out = error_name == "States.Timeout"
    kind = (timed_out and timeout_opens(request.failed_step)) or ERROR_TYPES.get(
        error_name, ExceptionType.AUTOMATION_FAILURE
    )
    gate = gate_at(request.failed_step) if kind is ExceptionType.QA_FAILED else None

    current = repo.get_exception(order.open_exception_id) if order.open_exception_id else None
    if current is not None and current.is_open:
        # A retried attempt of this wait: keep the exception, wait on the newest token.
        if current.task_token != request.task_token:
            renewed = current.model_copy(
                update={"task_token": request.task_token, "version": current.version + 1}
            )
            renewed_order, event = order.transition(
                AuditAction.EXCEPTION_WAIT_RENEWED, actor=_workflow(), at=clock.now(),
                detail=_about(renewed), event_owner=renewed.owner,
            )  # fmt: skip
            commit_exception(
                repo,
                renewed_order,
                renewed,
                event,
                expected_seq=order.audit_seq,
                expected_version=current.version,
            )
        return current

    rule = client.rules.rule_for(kind)
    if gate is not None:
        # A failed gate goes to the gate's own owner, with the gate's remediation.
        gate_rule = client.fulfilment.gates[gate]
        rule = rule.model_copy(
            update={"owner": gate_rule.owner, "remediation": gate_rule.remediation}
        )
    cause = _cause(request.error)
    if kind is ExceptionType.PAYMENT_MISMATCH and order.refund_unsettled:
        # Refunded units the order still holds: the record says which (a failed wait's cause
        # may not travel), and the refund's own steps come before the client's.
        cause = order.refund_unsettled
        rule = rule.model_copy(
            update={
                "remediation": (*REFUND_AFTER_PICKING, *rule.remediation)[:MAX_REMEDIATION_STEPS]
            }
        )
    now = clock.now()
    periods = away.away_periods(client.client_id) if away is not None else []
    owner, due, level, skipped = first_available(client, rule, periods, now)
    number = order.exceptions_opened + 1
    exception = OrderException(
        exception_id=f"{order.order_id}.e{number}",
        order_id=order.order_id,
        client_id=order.client_id,
        type=kind,
        step=request.failed_step,
        gate=gate.value if gate else None,
        error=error_name,
        detail=cause,
        owner=owner,
        level=level,
        opened_at=now,
        due_at=due,
        remediation=rule.remediation,
        task_token=request.task_token,
        resume_status=order.status,
    )
    to = (
        OrderStatus.QUARANTINED
        if kind is ExceptionType.AUTOMATION_FAILURE
        else OrderStatus.EXCEPTION
    )
    new_order, event = order.transition(
        AuditAction.ORDER_QUARANTINED
        if to is OrderStatus.QUARANTINED
        else AuditAction.EXCEPTION_OPENED,
        actor=_workflow(),
        at=clock.now(),
        to=to,
        owner=owner,
        changes={
            "open_exception_id": exception.exception_id,
            "exceptions_opened": number,
            "task_token": None,
            "awaiting": None,
            "pending_start": False,
        },
        detail={
            **_about(exception),
            "step": request.failed_step,
            "error": error_name,
            "cause": exception.detail,
            **({"skipped_away": skipped} if skipped else {}),
        },
        event_owner=exception.owner,
    )
    commit_exception(repo, new_order, exception, event, order.audit_seq, None)
    try:
        notifier.exception_assigned(
            new_order, exception, "opened", client.rules.members_of(exception.owner)
        )
    except Exception:  # noqa: BLE001 - the exception is open and queued; escalation re-notifies
        logger.exception("owner notification failed", extra={"order_id": order.order_id})
    logger.info(
        "exception opened",
        extra={
            "order_id": order.order_id,
            "client_id": order.client_id,
            "exception_type": kind.value,
            "owner": owner,
        },
    )
    return exception


def _workflow() -> Actor:
    return Actor(kind="workflow", id="fulfillment")


def _about(exception: OrderException) -> dict[str, Any]:
    """The exception an audit event is about, as its trail shows it."""
    return {
        "exception_id": exception.exception_id,
        "type": exception.type.value,
        "due_at": exception.due_at.isoformat(),
    }


def list_exceptions(
    *,
    repo: OrderRepository,
    clients: ClientDirectory,
    clock: Clock,
    operator: Operator,
    client_id: str | None = None,
    owner: str | None = None,
    type: ExceptionType | None = None,
    status: ExceptionStatus | None = None,
    overdue: bool | None = None,
    limit: int = 1000,
) -> list[ExceptionView]:
    """The operator's queue: exceptions of the clients they serve, filtered."""
    if client_id is not None:
        client_ids = [served_client(clients, operator, client_id).client_id]
    else:
        client_ids = [c.client_id for c in served_clients(clients, operator)]
    now = clock.now()
    views = []
    for cid in client_ids:
        for exception in repo.exceptions_of_client(cid, limit):
            view = ExceptionView.of(exception, now)
            if owner is not None and view.owner != owner:
                continue
            if type is not None and view.type is not type:
                continue
            if status is not None and view.status is not status:
                continue
            if overdue is not None and view.overdue is not overdue:
                continue
            views.append(view)
    return sorted(views, key=lambda v: (v.due_at, v.exception_id))


def claim_exception(
    *,
    repo: OrderRepository,
    clock: Clock,
    exception_id: str,
    operator: Operator,
    _attempt: int = 0,
) -> ExceptionView:
    """Take ownership of an open exception. One claimant wins (a conditional write); claiming
    your own claim again is a no-op."""
    exception = served_exception(repo, exception_id, operator, Action.ACT)
    actor = operator.actor
    if not exception.is_open:
        raise AlreadyResolved(f"exception {exception_id} is resolved")
    if exception.claimed_by == operator.subject:
        return ExceptionView.of(exception, clock.now())
    if exception.claimed_by is not None:
        raise AlreadyClaimed(f"exception {exception_id} is claimed by {exception.claimed_by}")
    order = load(repo, exception.order_id)
    claimed = exception.model_copy(
        update={
            "status": ExceptionStatus.CLAIMED,
            "claimed_by": operator.subject,
            "claimed_at": clock.now(),
            "version": exception.version + 1,
        }
    )
    try:
        claimed_order, event = order.transition(
            AuditAction.EXCEPTION_CLAIMED, actor=actor, at=clock.now(), detail=_about(claimed),
            event_owner=claimed.owner,
        )  # fmt: skip
        commit_exception(
            repo,
            claimed_order,
            claimed,
            event,
            expected_seq=order.audit_seq,
            expected_version=exception.version,
        )
    except ConcurrentUpdate:
        winner = repo.get_exception(exception_id)
        if winner is not None and winner.claimed_by is None and winner.is_open and _attempt < 2:
            # Something else changed the order or the exception (an escalation, a webhook):
            # nobody claimed it, so decide again on the fresh record.
            return claim_exception(
                repo=repo, clock=clock, exception_id=exception_id,
                operator=operator, _attempt=_attempt + 1,
            )  # fmt: skip
        if winner is not None and winner.claimed_by == operator.subject:
            return ExceptionView.of(winner, clock.now())
        holder = winner.claimed_by if winner else None
        raise AlreadyClaimed(
            f"exception {exception_id} was claimed by {holder or 'someone else'} first"
        ) from None
    return ExceptionView.of(claimed, clock.now())


def _address_problems(address: Address | None) -> list[str]:
    """What is still wrong after standardization (the same check the workflow runs)."""
    return standardize(address)[1]


_REDIRECT = (
    "to send the parcel to another address, request a shipping_address override "
    "(POST /orders/{order_id}/overrides), which a second operator approves"
)


def _correction(
    exception: OrderException, order: Order, request: ResolveExceptionRequest
) -> tuple[Address, Address] | None:
    """The address a resolution corrects the order's to, raw and standardized, or None.

    Only an address that cannot be shipped to is corrected this way; anything else would be
    one operator redirecting a parcel."""
    if request.address is None:
        return None
    redirect = _REDIRECT.format(order_id=order.order_id)
    if exception.type is ExceptionType.ADDRESS_INVALID:
        if request.action != "retry":
            raise AddressNotAllowed(
                f"address: only a retry corrects the address of an address_invalid exception, "
                f"not {request.action}; send it without one"
            )
    elif exception.type is ExceptionType.AUTOMATION_FAILURE and request.action == "release":
        if not _address_problems(order.shipping_address):
            raise AddressNotAllowed(
                "address: the order's address of record is valid, and releasing a quarantine "
                f"does not change it; {redirect}"
            )
    else:
        raise AddressNotAllowed(
            f"address: a {exception.type.value} exception is not about the shipping address, "
            f"so its resolution may not change it; {redirect}"
        )
    if order.label is not None:
        raise ActionNotAllowed(
            f"order {order.order_id} has a label bought for its address of record; the "
            "address cannot change under it"
        )
    standardized, problems = standardize(request.address)
    if standardized is None:
        raise AcceptanceCriteriaNotMet(
            "the corrected address is still invalid: " + "; ".join(problems)
        )
    return request.address, standardized


def _accept(
    exception: OrderException,
    order: Order,
    request: ResolveExceptionRequest,
    fulfilment: FulfilmentConfig,
) -> tuple[Address, Address] | None:
    """The exception's acceptance criteria: a resolution must fix what it is about. Returns
    the corrected address (raw and standardized) the resolution brings, if any."""
    quarantined = exception.type is ExceptionType.AUTOMATION_FAILURE
    if request.action == "release" and not quarantined:
        raise ActionNotAllowed("release is for quarantined orders; use retry")
    if request.action == "retry" and quarantined:
        raise ActionNotAllowed("a quarantined order is released (with its required fields)")
    if request.action == "quarantine" and quarantined:
        raise ActionNotAllowed("the order is already quarantined")
    correction = _correction(exception, order, request)
    if (
        request.action == "retry"
        and exception.type is ExceptionType.PAYMENT_MISMATCH
        and not fulfilment.fulfils(order.payment)
    ):
        raise AcceptanceCriteriaNotMet(
            f"the storefront still shows payment {order.payment.value}; retry once it is paid, "
            "or cancel"
        )
    if (
        request.action == "retry"
        and exception.type is ExceptionType.ADDRESS_INVALID
        and correction is None
        and _address_problems(order.shipping_address)
    ):
        # Without a correction, only an address fixed meanwhile (an approved override) will do.
        raise AcceptanceCriteriaNotMet("retrying an invalid address needs a corrected address")
    if request.action == "partial":
        _partial_lines(exception, order, request)
    if request.skus is not None or exception.type is ExceptionType.CATALOG_MISMATCH:
        _mapped_lines(exception, order, request)
    if request.action == "waive" and (
        waive_point(exception.step) is None or exception.type is not ExceptionType.QA_FAILED
    ):
        raise ActionNotAllowed("waive is for a failed QA gate; use retry or cancel")
    if request.action == "release":
        missing = (
            [] if correction is not None
            else [f"shipping_address: {p}" for p in _address_problems(order.shipping_address)]
        )  # fmt: skip
        if not order.lines:
            missing.append("lines: none")
        if not fulfilment.fulfils(order.payment):
            missing.append(f"payment: {order.payment.value}, not {fulfilment.fulfil_on.value}")
        if missing:
            raise AcceptanceCriteriaNotMet(
                "the order cannot leave quarantine without its required fields: "
                + "; ".join(missing)
            )
    return correction


def _mapped_lines(
    exception: OrderException, order: Order, request: ResolveExceptionRequest
) -> tuple[tuple[OrderLine, ...], tuple[OtherLine, ...]]:
    """The order's lines with the resolution's SKUs put on them (a line with no SKU becomes
    a line to pick), or a refusal naming what is still unmapped."""
    if request.skus is not None and (
        exception.type is not ExceptionType.CATALOG_MISMATCH or request.action != "retry"
    ):
        raise ActionNotAllowed("skus: only retrying a catalog_mismatch maps lines to SKUs")
    skus = request.skus or {}
    if request.action != "retry":
        return order.lines, order.other_lines
    known = {line.line_id for line in order.lines} | {ln.line_id for ln in order.unmapped_lines}
    strangers = sorted(set(skus) - known)
    if strangers:
        raise AcceptanceCriteriaNotMet(
            f"skus: the order has no line {', '.join(strangers)} to map (its lines to ship: "
            f"{', '.join(sorted(known))})"
        )
    unmapped = [line.line_id for line in order.unmapped_lines if line.line_id not in skus]
    if unmapped:
        raise AcceptanceCriteriaNotMet(
            f"line {', '.join(unmapped)} has no SKU: give each one in skus (line id to SKU), "
            "or cancel"
        )
    lines = tuple(
        line.model_copy(update={"sku": skus[line.line_id]}) if line.line_id in skus else line
        for line in order.lines
    ) + tuple(
        OrderLine(
            line_id=line.line_id, sku=skus[line.line_id], title=line.title,
            quantity=line.quantity, unit_price=line.unit_price,
        )
        for line in order.unmapped_lines
    )  # fmt: skip
    others = tuple(line for line in order.other_lines if line.kind is not LineKind.NO_SKU)
    return lines, others


def _partial_lines(
    exception: OrderException, order: Order, request: ResolveExceptionRequest
) -> tuple[tuple[OrderLine, ...], tuple[OrderLine, ...]]:
    """Split the order's lines into what ships now and what does not, or refuse."""
    if exception.type is not ExceptionType.INVENTORY_SHORT:
        raise ActionNotAllowed("partial fulfilment answers a stock shortage (inventory_short)")
    if not request.ship_lines:
        raise AcceptanceCriteriaNotMet("partial fulfilment needs ship_lines: what ships now")
    by_id = {line.line_id: line for line in order.lines}
    wanted: dict[str, int] = {}
    for ship in request.ship_lines:
        line = by_id.get(ship.line_id)
        if line is None:
            raise AcceptanceCriteriaNotMet(f"ship_lines: no line {ship.line_id} on the order")
        wanted[ship.line_id] = wanted.get(ship.line_id, 0) + ship.quantity
        if wanted[ship.line_id] > line.quantity:
            raise AcceptanceCriteriaNotMet(
                f"ship_lines: line {ship.line_id} has {line.quantity}, not {wanted[ship.line_id]}"
            )
    held: dict[str, int] = {}
    for allocation in order.reservation:
        held[allocation.line_id] = held.get(allocation.line_id, 0) + allocation.quantity
    if order.reservation:
        over = [
            f"line {line_id}: {quantity} wanted, {held.get(line_id, 0)} reserved"
            for line_id, quantity in wanted.items()
            if quantity > held.get(line_id, 0)
        ]
        if over:
            raise AcceptanceCriteriaNotMet(
                "ship_lines must be covered by reserved stock: " + "; ".join(over)
            )
    shipped = tuple(
        line.model_copy(update={"quantity": wanted[line.line_id]})
        for line in order.lines
        if line.line_id in wanted
    )
    rest = tuple(
        line.model_copy(update={"quantity": line.quantity - wanted.get(line.line_id, 0)})
        for line in order.lines
        if line.quantity > wanted.get(line.line_id, 0)
    )
    if not rest:
        raise AcceptanceCriteriaNotMet("ship_lines is the whole order; that is a retry")
    return shipped, rest


def resolve_exception(
    *,
    repo: OrderRepository,
    workflow: WorkflowEngine,
    clients: ClientDirectory,
    clock: Clock,
    exception_id: str,
    operator: Operator,
    request: ResolveExceptionRequest,
    inventory: InventoryRepository | None = None,
) -> ExceptionView:
    """Record a resolution that meets the acceptance criteria, then resume the workflow.
    ``inventory`` checks the SKUs a catalog_mismatch retry brings against the SKU master."""
    need = Action.WAIVE_GATE if request.action == "waive" else Action.ACT
    exception = served_exception(repo, exception_id, operator, need)
    actor = operator.actor
    if not exception.is_open:
        same = {"action": request.action, "note": request.note}
        if exception.resolved_by == operator.subject and exception.resolution == same:
            # The same resolution again (the first answer was lost or throttled): hand it to
            # the workflow again; the record is already written. A timed-out workflow would
            # have closed the exception itself, so "not waiting" here means "already handed".
            with contextlib.suppress(WorkflowStoppedWaiting):
                _resume(workflow, exception, request, operator)
            return ExceptionView.of(exception, clock.now())
        raise AlreadyResolved(f"exception {exception_id} is resolved")
    if exception.claimed_by not in (None, operator.subject):
        raise AlreadyClaimed(f"exception {exception_id} is claimed by {exception.claimed_by}")
    order = load(repo, exception.order_id)
    if order.status is OrderStatus.CANCELLED:
        raise ActionNotAllowed(f"order {order.order_id} was cancelled; nothing to resolve")
    correction = _accept(exception, order, request, clients.get(order.client_id).fulfilment)
    if (
        inventory is not None
        and exception.type is ExceptionType.CATALOG_MISMATCH
        and request.action == "retry"
    ):
        lines, _ = _mapped_lines(exception, order, request)
        known = inventory.skus(order.client_id, [line.sku for line in lines])
        unknown = sorted({line.sku for line in lines if line.sku not in known})
        if unknown:
            raise AcceptanceCriteriaNotMet(
                f"SKU {', '.join(unknown)} is not in the SKU master of {order.client_id}: "
                "map the line to a SKU it has, or add the SKU first (catalog sync, or the "
                "warehouse's sku_updated), then retry"
            )
    if request.action == "cancel":
        return _ask_to_cancel(repo, clock, exception, order, actor, request)
    waiting = pending_cancel(order)
    if waiting is not None:
        raise ActionNotAllowed(
            f"order {order.order_id} has a cancellation waiting for a second operator "
            f"(override {waiting.override_id}); approve or reject it first"
        )

    changes: OrderChanges = {"open_exception_id": None}
    detail: dict[str, Any] = {"action": request.action, "note": request.note}
    if (
        request.action == "retry"
        and exception.type is ExceptionType.PAYMENT_MISMATCH
        and order.refund_unsettled
    ):
        # The person settled the refunded units (unpacked, or the client approved shipping
        # them): the note says which; the workflow goes on as the order stands.
        changes["refund_unsettled"] = None
    if correction is not None:
        # Raw and standardized together: the label is bought for the standardized one, so
        # the record and the label cannot tell different addresses.
        changes["shipping_address"], changes["standardized_address"] = correction
        changes["destinations"] = 1  # every line now goes to the corrected address
        detail["corrected"] = ["shipping_address"]
    if request.skus:
        changes["lines"], changes["other_lines"] = _mapped_lines(exception, order, request)
        detail["mapped"] = [{"line_id": k, "sku": v} for k, v in sorted(request.skus.items())]
    if request.action == "partial":
        shipped, rest = _partial_lines(exception, order, request)
        changes["lines"], changes["unfulfilled_lines"] = shipped, rest
        detail["ships_now"] = [{"sku": ln.sku, "quantity": ln.quantity} for ln in shipped]
        detail["not_shipped"] = [{"sku": ln.sku, "quantity": ln.quantity} for ln in rest]
    resolved = exception.closed(
        by=operator.subject, at=clock.now(), action=request.action, note=request.note,
        keep_token=True,  # so the same resolution can be handed over again if this one fails
    ).model_copy(update={"claimed_by": exception.claimed_by or operator.subject})  # fmt: skip
    resume_at, rollback_to = resume_point(exception, request.action)
    # Back to where the order stood (or where the retried stage starts), so the step the
    # workflow resumes at finds the order where it expects it.
    resume = rollback_to or exception.resume_status or order.status
    writes: list[SideWrite] = []
    if request.action == "retry" and rollback_to is not None:
        rollback, writes = _rollback(order, exception.step)
        if writes:
            # A rollback that gives stock back: what would not fit the resolution's own
            # transaction goes back first. The others (a re-pick, a repack) keep it held.
            order = release_ahead(repo, clock, clients.get(order.client_id), order, actor)
            rollback, writes = _rollback(order, exception.step)
        changes.update(rollback)
        detail["rolled_back_to"] = resume.value
    if request.action == "waive":
        changes["qa"] = _waived(order, exception, operator.subject)
        detail["waived_gate"] = exception.gate
    detail["resume_at"] = resume_at
    owner = clients.get(order.client_id).owner_of(resume)
    new_order, event = order.transition(
        AuditAction.EXCEPTION_RESOLVED, actor=actor, at=clock.now(), to=resume, owner=owner,
        changes=changes, detail={**_about(resolved), **detail}, event_owner=resolved.owner,
    )  # fmt: skip
    commit_exception(
        repo, new_order, resolved, event, order.audit_seq, exception.version, writes=writes
    )
    _resume(workflow, resolved, request, operator)
    return ExceptionView.of(resolved, clock.now())


def _ask_to_cancel(
    repo: OrderRepository,
    clock: Clock,
    exception: OrderException,
    order: Order,
    actor: Actor,
    request: ResolveExceptionRequest,
) -> ExceptionView:
    """Record the cancellation as the order's pending status override, with the exception
    claimed by whoever asked, in one transaction; the workflow keeps waiting."""
    waiting = pending_cancel(order)
    if waiting is not None:
        if waiting.requested_by == actor.id and waiting.reason == request.note:
            # The same request again (its answer was lost): it is recorded already.
            return ExceptionView.of(exception, clock.now(), awaiting_approval=waiting.override_id)
        raise ActionNotAllowed(
            f"order {order.order_id} already has a cancellation waiting for a second operator "
            f"(override {waiting.override_id}, asked by {waiting.requested_by})"
        )
    now = clock.now()
    override = pending_override(
        order, OverrideField.STATUS, OrderStatus.CANCELLED.value, request.note, actor.id, now
    )
    claimed = exception.model_copy(
        update={
            "status": ExceptionStatus.CLAIMED,
            "claimed_by": actor.id,
            "claimed_at": exception.claimed_at or now,
            "version": exception.version + 1,
        }
    )
    asked, event = order.transition(
        AuditAction.OVERRIDE_REQUESTED, actor=actor, at=now,
        changes={"overrides": (*order.overrides, override)},
        detail={**_about(claimed), **requested_detail(override)}, event_owner=claimed.owner,
    )  # fmt: skip
    commit_exception(
        repo,
        asked,
        claimed,
        event,
        expected_seq=order.audit_seq,
        expected_version=exception.version,
    )
    logger.info(
        "cancellation awaits a second operator",
        extra={"order_id": order.order_id, "client_id": order.client_id},
    )
    return ExceptionView.of(claimed, now, awaiting_approval=override.override_id)


def resume_point(exception: OrderException, action: str) -> tuple[str, OrderStatus | None]:
    """The state the workflow resumes at, and the status a retry rolls the order back to."""
    if action == "waive":
        waive_at = waive_point(exception.step)
        assert waive_at is not None, "only a waivable gate's exception is waived"
        return waive_at, None
    if action == "retry":
        return retry_point(exception.step)
    return exception.step, None


def _rollback(order: Order, step: str) -> tuple[OrderChanges, list[SideWrite]]:
    """What a retry undoes so the stage starts clean: the refused reservation (with its lots
    excluded from now on), the refused pick, the refused pack."""
    if step == "PrePickQA":
        refused = order.last_qa(QaGate.PRE_PICK)
        excluded = (*order.excluded_lots, *(refused.refused_lots if refused else ()))
        return (
            {
                "reservation": (),
                "short_lines": (),
                "picker": None,
                "pick_list": None,
                "excluded_lots": tuple(dict.fromkeys(excluded)),
            },
            release_writes(order),
        )
    if step == "PostPickQA":
        return {"pick_scans": ()}, []
    if step == "PackQA":
        return {"pack": None}, []
    return {}, []


def _waived(order: Order, exception: OrderException, by: str) -> tuple[Any, ...]:
    gate = QaGate(exception.gate) if exception.gate else None
    last = order.last_qa(gate) if gate else None
    if last is None:
        return order.qa
    index = max(i for i, r in enumerate(order.qa) if r is last or r == last)
    return (*order.qa[:index], last.model_copy(update={"waived_by": by}), *order.qa[index + 1 :])


def _resume(
    workflow: WorkflowEngine,
    exception: OrderException,
    request: ResolveExceptionRequest,
    operator: Operator,
) -> None:
    if not exception.task_token:
        return
    try:
        workflow.succeed(
            exception.task_token,
            {
                "action": request.action,
                "exception_id": exception.exception_id,
                "actor": operator.subject,
                "resume_at": resume_point(exception, request.action)[0],
            },
        )
    except TaskNotWaiting as exc:
        raise WorkflowStoppedWaiting(
            f"the resolution of {exception.exception_id} is recorded, but the workflow had "
            "stopped waiting for it (it timed out and the order went on hold)"
        ) from exc
