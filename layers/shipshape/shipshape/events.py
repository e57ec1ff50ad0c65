"""Domain events: what Shipshape tells other systems (CRM, finance) about orders, on an
EventBridge bus (docs/EVENTS.md).

The audit trail is the outbox. Every change of an order is written with its audit event in one
DynamoDB transaction, and the table's stream carries each new audit item to the publisher, which
maps it here to zero or more domain events. So an event is published if and only if its change
was committed, with no second write that could fail on its own.

Each event type is a model with a stable name and a schema version; its EventBridge detail-type
is ``<name>.v<version>`` (``order-shipped.v1``), and ``schemas/events/<name>.v<version>.json``
is generated from the model (``scripts/event_schemas.py``). Every detail carries the same
envelope: ``version``, ``event_id``, ``occurred_at``, ``client_id``, ``order_id``,
``audit_seq`` and ``actor_kind``.

No customer PII, by design: no names, emails, phone numbers or addresses, and no free text
(an exception's cause, a resolution's note, a carrier's message), which may quote any of them.
Events fan out to systems Shipshape does not control (a CRM, finance, whatever rule is added
next, the bus's archive and replays), each with its own retention and access, beyond the reach
of Shipshape's log masking and of a deletion request. A consumer that needs the customer reads
the order through the ops API, under its own authorization, so the personal data stays in one
system of record. Ids, statuses, SKUs, owners (team names and operator handles) and tracking
numbers are not about the customer and are carried.

This module knows no AWS: the stream records it is fed come decoded from
``shipshape.adapters.dynamodb.stream``, and ``shipshape.adapters.eventbridge`` puts the events
on the bus.
"""

from collections.abc import Callable
from datetime import UTC
from typing import Annotated, Any, ClassVar, Literal, assert_never

from pydantic import ConfigDict, Field

from shipshape.audit import AuditAction
from shipshape.base import Model
from shipshape.kinds import Resolution
from shipshape.models import (
    AuditEvent,
    AwareDatetime,
    ClientId,
    ExceptionType,
    OrderId,
    OrderStatus,
    QaGate,
    Sku,
)

# The source every event is published under (what consumers' rules match).
SOURCE = "shipshape"

EventId = Annotated[
    str,
    Field(
        pattern=r"^ord_[a-z2-7]{20}:[0-9]{8}:[a-z][a-z-]*$",
        description="<order_id>:<audit_seq, 8 digits>:<event name>. The same for every delivery "
        "of this event, and for every version of its detail-type: deduplicate on it.",
    ),
]
ExceptionId = Annotated[
    str,
    Field(
        pattern=r"^ord_[a-z2-7]{20}\.e[0-9]{1,4}$", description="The exception: <order_id>.e<n>."
    ),
]


# --- the events ----------------------------------------------------------------------------


class DomainEvent(Model):
    """The envelope every event's detail carries. Subclasses are the event types."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", json_schema_serialization_defaults_required=True
    )

    NAME: ClassVar[str]
    VERSION: ClassVar[str]

    version: str = Field(description="The detail's schema version (the detail-type's `v<n>`).")
    event_id: EventId
    occurred_at: AwareDatetime = Field(description="When the change was recorded (UTC).")
    client_id: ClientId = Field(description="The client (merchant) the order belongs to.")
    order_id: OrderId = Field(description="Shipshape's canonical order id.")
    audit_seq: int = Field(
        ge=1,
        description="The order's audit sequence number of the change: increases by one per "
        "change of the order, so it orders one order's events.",
    )
    actor_kind: str = Field(
        description="Who made the change: storefront, workflow, warehouse, operator or system."
    )

    @classmethod
    def detail_type(cls) -> str:
        return f"{cls.NAME}.v{cls.VERSION}"


class LineQuantity(Model):
    """A quantity of one SKU."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sku: Sku
    quantity: int = Field(ge=1)


class OrderStatusChanged(DomainEvent):
    """The order moved from one status to another (any change of status, whatever caused it)."""

    NAME: ClassVar[str] = "order-status-changed"
    VERSION: ClassVar[str] = "1"

    version: Literal["1"] = "1"
    from_status: OrderStatus | None = Field(
        description="The status before; null when the order was first recorded."
    )
    to_status: OrderStatus
    owner: str | None = Field(
        description="The owner the change recorded: the order's owner in its new status; for "
        "an exception's actions (exception_opened, exception_resolved, ...) the exception's."
    )
    action: str = Field(
        description="The audit action that changed the status (order_received, shipped, "
        "exception_opened, ...): why it changed."
    )


class OrderShipped(DomainEvent):
    """The parcel was handed to the carrier: all of the order, or (partial) what could ship."""

    NAME: ClassVar[str] = "order-shipped"
    VERSION: ClassVar[str] = "1"

    version: Literal["1"] = "1"
    carrier: str | None = Field(description="The carrier, when the shipment record names it.")
    service: str = Field(description="The carrier's service (e.g. GROUND).")
    tracking_number: str
    partial: bool = Field(description="Some lines did not ship; the order ends partial.")
    shipped_lines: tuple[LineQuantity, ...] | None = Field(
        description="What shipped, for a partial shipment; null when every line shipped."
    )
    not_shipped_lines: tuple[LineQuantity, ...] | None = Field(
        description="What did not ship, for a partial shipment; null otherwise."
    )


class ExceptionOpened(DomainEvent):
    """A step failed and an exception was opened with an owner and a deadline; the order waits
    on its resolution (quarantined when the failure was unexpected)."""

    NAME: ClassVar[str] = "exception-opened"
    VERSION: ClassVar[str] = "1"

    version: Literal["1"] = "1"
    exception_id: ExceptionId
    exception_type: ExceptionType
    owner: str = Field(description="The exception's owner (a team or an operator handle).")
    due_at: AwareDatetime = Field(description="The owner's deadline, in business hours.")
    failed_step: str = Field(description="The workflow state that failed.")
    error: str = Field(description="The error's class name (AddressInvalid, ...).")
    quarantined: bool = Field(description="An unexpected failure: the order is quarantined.")
    skipped_owners: tuple[str, ...] = Field(
        description="Owners passed over because they were away."
    )


class ExceptionClaimed(DomainEvent):
    """An operator took an open exception."""

    NAME: ClassVar[str] = "exception-claimed"
    VERSION: ClassVar[str] = "1"

    version: Literal["1"] = "1"
    exception_id: ExceptionId
    exception_type: ExceptionType
    owner: str = Field(description="The exception's owner.")
    due_at: AwareDatetime
    claimed_by: str = Field(description="The operator's handle.")


class ExceptionEscalated(DomainEvent):
    """An exception moved up its escalation chain: its owner missed the deadline (overdue), or
    was away too long (owner_away). At the end of the chain the last owner keeps it, with a new
    deadline (chain_exhausted)."""

    NAME: ClassVar[str] = "exception-escalated"
    VERSION: ClassVar[str] = "1"

    version: Literal["1"] = "1"
    exception_id: ExceptionId
    exception_type: ExceptionType
    reason: Literal["overdue", "owner_away"]
    from_owner: str
    to_owner: str
    level: int = Field(ge=0, description="The step of the escalation chain now holding it.")
    due_at: AwareDatetime = Field(description="The new owner's deadline.")
    overdue_by_business_minutes: int | None = Field(
        description="How late the previous owner was (overdue only)."
    )
    chain_exhausted: bool
    previous_claimant: str | None = Field(
        description="The operator who had claimed it and missed the deadline; it is unclaimed now."
    )
    skipped_owners: tuple[str, ...] = Field(
        description="Owners passed over because they were away."
    )


class ExceptionResolved(DomainEvent):
    """An operator resolved an exception; the workflow resumes (or the order is cancelled or
    quarantined, as the resolution says)."""

    NAME: ClassVar[str] = "exception-resolved"
    VERSION: ClassVar[str] = "1"

    version: Literal["1"] = "1"
    exception_id: ExceptionId
    exception_type: ExceptionType
    resolution: Resolution
    resolved_by: str = Field(description="The operator's handle.")
    owner: str = Field(description="The exception's owner when it was resolved.")
    resume_at: str | None = Field(description="The workflow state the order resumes at.")
    rolled_back_to: OrderStatus | None = Field(
        description="The status a retry rolled the order back to, to run a stage again."
    )
    waived_gate: QaGate | None = Field(description="The QA gate a lead waived.")
    corrected_fields: tuple[str, ...] = Field(
        description="Names of the order's fields the resolution corrected (never their values)."
    )
    ship_now_lines: tuple[LineQuantity, ...] | None = Field(
        description="For a partial resolution: what ships now."
    )
    not_shipped_lines: tuple[LineQuantity, ...] | None = Field(
        description="For a partial resolution: what will not ship."
    )


class QaResultRecorded(DomainEvent):
    """A QA gate ran on the order: a discrete pass or fail, with what failed and what to do."""

    NAME: ClassVar[str] = "qa-result-recorded"
    VERSION: ClassVar[str] = "1"

    version: Literal["1"] = "1"
    gate: QaGate
    passed: bool
    owner: str | None = Field(description="The gate's owner.")
    checks: tuple[str, ...] = Field(description="What the gate checked.")
    failures: tuple[str, ...] = Field(description="What failed; empty when it passed.")
    remediation: tuple[str, ...] = Field(description="What the owner does; empty when passed.")


# Every event type published, one entry per (name, version): the schema files follow this.
EVENT_TYPES: tuple[type[DomainEvent], ...] = (
    OrderStatusChanged,
    OrderShipped,
    ExceptionOpened,
    ExceptionClaimed,
    ExceptionEscalated,
    ExceptionResolved,
    QaResultRecorded,
)


# --- audit event -> domain events ------------------------------------------------------------


def event_id(order_id: str, audit_seq: int, name: str) -> str:
    """Deterministic: every delivery of one change gives each of its events the same id."""
    return f"{order_id}:{audit_seq:08d}:{name}"


def _build[E: DomainEvent](cls: type[E], audit: AuditEvent, client_id: str, **fields: Any) -> E:
    return cls.model_validate(
        {
            "event_id": event_id(audit.order_id, audit.seq, cls.NAME),
            "occurred_at": audit.at.astimezone(UTC),
            "client_id": client_id,
            "order_id": audit.order_id,
            "audit_seq": audit.seq,
            "actor_kind": audit.actor.kind,
            **fields,
        }
    )


def _lines(value: Any) -> list[dict[str, Any]] | None:
    if value is None:
        return None
    # Only SKU and quantity: a line's other fields (its title) are not the event's business.
    return [{"sku": line.get("sku"), "quantity": line.get("quantity")} for line in value]


def _status_changed(audit: AuditEvent, client_id: str) -> OrderStatusChanged:
    return _build(
        OrderStatusChanged, audit, client_id,
        from_status=audit.from_status, to_status=audit.to_status, owner=audit.owner,
        action=audit.action,
    )  # fmt: skip


def _shipped(audit: AuditEvent, client_id: str) -> OrderShipped:
    detail = audit.detail
    partial = audit.action is AuditAction.SHIPPED_PARTIALLY
    return _build(
        OrderShipped, audit, client_id,
        carrier=detail.get("carrier"), service=detail.get("service"),
        tracking_number=detail.get("tracking_number"), partial=partial,
        shipped_lines=_lines(detail.get("shipped")),
        not_shipped_lines=_lines(detail.get("not_shipped")),
    )  # fmt: skip


def _exception_opened(audit: AuditEvent, client_id: str) -> ExceptionOpened:
    detail = audit.detail
    return _build(
        ExceptionOpened, audit, client_id,
        exception_id=detail.get("exception_id"), exception_type=detail.get("type"),
        owner=audit.owner, due_at=detail.get("due_at"), failed_step=detail.get("step"),
        error=detail.get("error"), quarantined=audit.action is AuditAction.ORDER_QUARANTINED,
        skipped_owners=detail.get("skipped_away", ()),
    )  # fmt: skip


def _exception_claimed(audit: AuditEvent, client_id: str) -> ExceptionClaimed:
    detail = audit.detail
    return _build(
        ExceptionClaimed, audit, client_id,
        exception_id=detail.get("exception_id"), exception_type=detail.get("type"),
        owner=audit.owner, due_at=detail.get("due_at"), claimed_by=audit.actor.id,
    )  # fmt: skip


def _exception_escalated(audit: AuditEvent, client_id: str) -> ExceptionEscalated:
    detail = audit.detail
    return _build(
        ExceptionEscalated, audit, client_id,
        exception_id=detail.get("exception_id"), exception_type=detail.get("type"),
        reason="overdue" if audit.action is AuditAction.EXCEPTION_ESCALATED else "owner_away",
        from_owner=detail.get("from_owner"), to_owner=detail.get("to_owner"),
        level=detail.get("level"), due_at=detail.get("due_at"),
        overdue_by_business_minutes=detail.get("overdue_by_business_minutes"),
        chain_exhausted=bool(detail.get("chain_exhausted", False)),
        previous_claimant=detail.get("previous_claimant"),
        skipped_owners=detail.get("skipped", ()),
    )  # fmt: skip


def _exception_resolved(audit: AuditEvent, client_id: str) -> ExceptionResolved:
    detail = audit.detail
    return _build(
        ExceptionResolved, audit, client_id,
        exception_id=detail.get("exception_id"), exception_type=detail.get("type"),
        resolution=detail.get("action"), resolved_by=audit.actor.id, owner=audit.owner,
        resume_at=detail.get("resume_at"), rolled_back_to=detail.get("rolled_back_to"),
        waived_gate=detail.get("waived_gate"), corrected_fields=detail.get("corrected", ()),
        ship_now_lines=_lines(detail.get("ships_now")),
        not_shipped_lines=_lines(detail.get("not_shipped")),
    )  # fmt: skip


def _qa_result(audit: AuditEvent, client_id: str) -> QaResultRecorded:
    detail = audit.detail
    return _build(
        QaResultRecorded, audit, client_id,
        gate=detail.get("gate"), passed=audit.action is AuditAction.QA_PASSED,
        owner=detail.get("owner"),
        checks=detail.get("checks", ()), failures=detail.get("failures", ()),
        remediation=detail.get("remediation", ()),
    )  # fmt: skip


Builder = Callable[[AuditEvent, str], DomainEvent]


def event_of(action: AuditAction) -> Builder | None:
    """The event an audit action is of its own, if any (a status change is one whatever the
    action). Every action is decided here: mypy refuses a new one until it is."""
    A = AuditAction
    match action:
        case A.SHIPPED | A.SHIPPED_PARTIALLY:
            return _shipped
        case A.EXCEPTION_OPENED | A.ORDER_QUARANTINED:
            return _exception_opened
        case A.EXCEPTION_CLAIMED:
            return _exception_claimed
        case A.EXCEPTION_ESCALATED | A.EXCEPTION_REASSIGNED:
            return _exception_escalated
        case A.EXCEPTION_RESOLVED:
            return _exception_resolved
        case A.QA_PASSED | A.QA_FAILED:
            return _qa_result
        case (
            A.ORDER_RECEIVED | A.STOREFRONT_UPDATED | A.FULFILMENT_REQUESTED | A.ORDER_CANCELLED
            | A.ADDRESS_VALIDATED | A.INVENTORY_RESERVED | A.INVENTORY_RESERVED_IN_PART
            | A.RESERVED_PARTIALLY | A.RESERVATION_HELD | A.BACKORDERED | A.STOCK_AWAITED
            | A.PICKER_ASSIGNED | A.PICK_REQUESTED | A.PICK_REQUESTED_AGAIN | A.PICK_CONFIRMED
            | A.PACK_REQUESTED | A.PACK_REQUESTED_AGAIN | A.PACK_CONFIRMED | A.LABEL_CREATED
            | A.LABEL_VOIDED | A.CARRIER_REJECTED | A.STOCK_CONSUMED_IN_PART
            | A.CUSTOMER_NOTIFIED | A.ORDER_HELD | A.STOCK_RELEASED_IN_PART
            | A.LINES_REFUNDED
            | A.EXCEPTION_WAIT_RENEWED | A.OVERRIDE_REQUESTED | A.OVERRIDE_APPLIED
            | A.OVERRIDE_REJECTED | A.STOREFRONT_CONFIRMED | A.STOREFRONT_WRITE_BACK_REFUSED
        ):  # fmt: skip
            return None
        case _:
            assert_never(action)


def domain_events(audit: AuditEvent, client_id: str) -> list[DomainEvent]:
    """The domain events one audit event stands for: a status change if it changed the order's
    status, then the event its action names, if any. Pure: the same audit event always gives
    the same events, ids included.

    Raises pydantic's ``ValidationError`` if the audit detail lacks what its action records.
    """
    events: list[DomainEvent] = []
    if audit.to_status is not None:
        events.append(_status_changed(audit, client_id))
    build = event_of(audit.action)
    if build is not None:
        events.append(build(audit, client_id))
    return events
