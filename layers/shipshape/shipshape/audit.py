"""The audit vocabulary: every action an order's trail can record, and what each records.

An audit event's ``action`` is an ``AuditAction``; its ``detail`` is checked against the
model its action names in ``DETAILS`` (unknown keys and wrong types are refused), so a
misspelt key fails where it is written, not later in a report. The detail stays a plain
mapping on the event (what the table stores and the stream carries); ``AuditEvent.details``
gives it typed. Readers of the trail (domain events, metrics, the checklist, the pilot)
decide for every action what it means to them; tests hold each of them to the whole enum.
"""

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import ConfigDict, Field

from shipshape.base import Model
from shipshape.kinds import ExceptionId, ExceptionType, QaGate, Resolution


class AuditAction(StrEnum):
    """What happened to an order. The value is what the trail and its readers store."""

    # The storefront
    ORDER_RECEIVED = "order_received"
    STOREFRONT_UPDATED = "storefront_updated"
    FULFILMENT_REQUESTED = "fulfilment_requested"
    ORDER_CANCELLED = "order_cancelled"
    # A partial refund: its units taken off the order, held for a person, or recorded only
    LINES_REFUNDED = "lines_refunded"
    # The workflow's steps
    ADDRESS_VALIDATED = "address_validated"
    INVENTORY_RESERVED = "inventory_reserved"
    INVENTORY_RESERVED_IN_PART = "inventory_reserved_in_part"
    RESERVED_PARTIALLY = "reserved_partially"
    RESERVATION_HELD = "reservation_held"
    BACKORDERED = "backordered"
    STOCK_AWAITED = "stock_awaited"
    PICKER_ASSIGNED = "picker_assigned"
    PICK_REQUESTED = "pick_requested"
    PICK_REQUESTED_AGAIN = "pick_requested_again"
    PICK_CONFIRMED = "pick_confirmed"
    PACK_REQUESTED = "pack_requested"
    PACK_REQUESTED_AGAIN = "pack_requested_again"
    PACK_CONFIRMED = "pack_confirmed"
    QA_PASSED = "qa_passed"
    QA_FAILED = "qa_failed"
    LABEL_CREATED = "label_created"
    LABEL_VOIDED = "label_voided"
    CARRIER_REJECTED = "carrier_rejected"
    STOCK_CONSUMED_IN_PART = "stock_consumed_in_part"
    SHIPPED = "shipped"
    SHIPPED_PARTIALLY = "shipped_partially"
    CUSTOMER_NOTIFIED = "customer_notified"
    ORDER_HELD = "order_held"
    STOCK_RELEASED_IN_PART = "stock_released_in_part"
    # Exceptions
    EXCEPTION_OPENED = "exception_opened"
    ORDER_QUARANTINED = "order_quarantined"
    EXCEPTION_WAIT_RENEWED = "exception_wait_renewed"
    EXCEPTION_CLAIMED = "exception_claimed"
    EXCEPTION_ESCALATED = "exception_escalated"
    EXCEPTION_REASSIGNED = "exception_reassigned"
    EXCEPTION_RESOLVED = "exception_resolved"
    # Operators' overrides
    OVERRIDE_REQUESTED = "override_requested"
    OVERRIDE_APPLIED = "override_applied"
    OVERRIDE_REJECTED = "override_rejected"
    # Telling the storefront
    STOREFRONT_CONFIRMED = "storefront_confirmed"
    STOREFRONT_WRITE_BACK_REFUSED = "storefront_write_back_refused"


class Detail(Model):
    """What one action records. Unknown keys are refused: a misspelt key is a bug."""

    model_config = ConfigDict(extra="forbid", frozen=True)


Lines = list[dict[str, Any]]


# --- the storefront -----------------------------------------------------------------------


class OrderReceived(Detail):
    version: int
    storefront_updated_at: datetime
    sync_lag_seconds: float
    source: str
    payment: str
    rules_version: str


class StorefrontVersion(Detail):
    """A newer version of the order from its storefront, and what it changed."""

    version: int
    previous_version: int
    changed: list[str]
    sync_lag_seconds: float
    source: str
    note: str | None = None
    not_applied: list[str] | None = None
    not_applied_reason: str | None = None


class _Released(Detail):
    stock_released: Lines | None = None
    closed_exception: str | None = None


class RefundOutcome(StrEnum):
    """What a partial refund did to the order."""

    REMOVED = "removed"  # before picking: the refunded units left the lines to pick
    HELD = "held"  # after picking, or lines not stated: a payment_mismatch for a person
    RECORDED = "recorded"  # already shipped (or ended): nothing to undo


class LinesRefunded(StorefrontVersion):
    """A newer version that refunds part of the order, and what that did. ``refunded``: the
    units this version refunded per line (line_id, sku, quantity); ``removed_lines``: the
    lines it took off whole; ``refunded_total``: the money refunded so far, as stated."""

    outcome: RefundOutcome
    refunded: Lines
    removed_lines: list[str] | None = None
    stock_released: Lines | None = None
    refunded_total: str
    reason: str | None = None


class OrderCancelled(_Released):
    """A cancellation: from the storefront (with its version) or the workflow's own."""

    version: int | None = None
    previous_version: int | None = None
    changed: list[str] | None = None
    sync_lag_seconds: float | None = None
    source: str | None = None
    note: str | None = None
    not_applied: list[str] | None = None
    not_applied_reason: str | None = None
    exception_id: str | None = None
    reason: str | None = None
    refunded: Lines | None = None  # a refund that left nothing to ship ended the order


# --- the workflow's steps -----------------------------------------------------------------


class AddressValidated(Detail):
    execution: str | None = None
    standard: str
    standardized_fields: list[str]


class Reservation(Detail):
    warehouse: str | None = None
    reserved: Lines = Field(default_factory=list)
    stock_checked: bool | None = None
    short: Lines | None = None
    policy: str | None = None
    ships_now: Lines | None = None
    not_backordered: str | None = None
    reason: str | None = None


class StockAwaited(Detail):
    short: Lines


class PickerAssigned(Detail):
    picker: str
    rule: str
    zones: list[str]
    workload: dict[str, int]
    skipped_away: list[str] | None = None
    no_picker_covers_every_zone: bool | None = None
    document: str
    sha256: str


class WaitRequested(Detail):
    """The workflow waits for the warehouse (a pick or a pack)."""

    document: str | None = None
    sha256: str | None = None
    expected_weight_grams: list[int] | None = None
    reason: str | None = None


class PickConfirmed(Detail):
    event_id: str
    units_scanned: int


class PackConfirmed(Detail):
    event_id: str
    weight_grams: int
    length_mm: int
    width_mm: int
    height_mm: int


class QaRecorded(Detail):
    gate: QaGate
    owner: str
    checks: list[str]
    failures: list[str] | None = None
    remediation: list[str] | None = None


class LabelCreated(Detail):
    carrier: str
    service: str
    tracking_number: str
    label_id: str
    amount: str
    transit_days: int | None = None
    rates: list[dict[str, Any]]
    rule: str
    excluded_services: list[str] | None = None


class LabelVoided(Detail):
    label_id: str
    service: str
    reason: str


class CarrierRejected(Detail):
    reason: str
    message: str
    voided_label: str
    service: str
    rolled_back_to: str


class StockConsumedInPart(Detail):
    consumed: Lines
    reason: str


class Shipped(Detail):
    carrier: str
    service: str
    tracking_number: str
    shipped: Lines | None = None
    not_shipped: Lines | None = None


class CustomerNotified(Detail):
    channel: str


class OrderHeld(_Released):
    error: str | None = None
    cause: str | None = None
    held_at_status: str | None = None
    execution: str | None = None


class StockReleasedInPart(_Released):
    reason: str


# --- exceptions ---------------------------------------------------------------------------


class ExceptionDetail(Detail):
    """The exception an event is about, as the trail shows it."""

    exception_id: ExceptionId
    type: ExceptionType
    due_at: datetime


class ExceptionOpened(ExceptionDetail):
    step: str
    error: str
    cause: str
    skipped_away: list[str] | None = None


class ExceptionEscalated(ExceptionDetail):
    from_owner: str
    to_owner: str
    level: int
    overdue_by_business_minutes: int
    previous_claimant: str | None = None
    chain_exhausted: bool | None = None
    note: str | None = None


class ExceptionReassigned(ExceptionDetail):
    from_owner: str
    to_owner: str
    skipped: list[str]
    level: int
    reason: str


class ExceptionResolved(ExceptionDetail):
    action: Resolution
    note: str
    resume_at: str | None = None
    corrected: list[str] | None = None
    rolled_back_to: str | None = None
    ships_now: Lines | None = None
    not_shipped: Lines | None = None
    waived_gate: str | None = None
    mapped: Lines | None = None  # a catalog_mismatch: the SKU each line was mapped to


# --- overrides ----------------------------------------------------------------------------


class OverrideDetail(_Released):
    """An operator's override, and (when it was asked through an exception) that exception."""

    override_id: str
    field: str
    value: Any = None
    previous: Any = None
    reason: str
    requested_by: str
    needs: str | None = None
    approved_by: str | None = None
    note: str | None = None
    exception_id: ExceptionId | None = None
    type: ExceptionType | None = None
    due_at: datetime | None = None


# --- telling the storefront ---------------------------------------------------------------


class StorefrontConfirmed(Detail):
    reference: str
    created: bool
    tracking_number: str | None = None
    partial: bool
    lines: list[str]


class StorefrontRefused(Detail):
    platform_status: int | None = None
    code: str | None = None
    error: str


class Nothing(Detail):
    """An action that records nothing beyond itself."""


A = AuditAction
DETAILS: dict[AuditAction, type[Detail]] = {
    A.ORDER_RECEIVED: OrderReceived,
    A.STOREFRONT_UPDATED: StorefrontVersion,
    A.FULFILMENT_REQUESTED: StorefrontVersion,
    A.ORDER_CANCELLED: OrderCancelled,
    A.LINES_REFUNDED: LinesRefunded,
    A.ADDRESS_VALIDATED: AddressValidated,
    A.INVENTORY_RESERVED: Reservation,
    A.INVENTORY_RESERVED_IN_PART: Reservation,
    A.RESERVED_PARTIALLY: Reservation,
    A.RESERVATION_HELD: Reservation,
    A.BACKORDERED: Reservation,
    A.STOCK_AWAITED: StockAwaited,
    A.PICKER_ASSIGNED: PickerAssigned,
    A.PICK_REQUESTED: WaitRequested,
    A.PICK_REQUESTED_AGAIN: WaitRequested,
    A.PICK_CONFIRMED: PickConfirmed,
    A.PACK_REQUESTED: WaitRequested,
    A.PACK_REQUESTED_AGAIN: WaitRequested,
    A.PACK_CONFIRMED: PackConfirmed,
    A.QA_PASSED: QaRecorded,
    A.QA_FAILED: QaRecorded,
    A.LABEL_CREATED: LabelCreated,
    A.LABEL_VOIDED: LabelVoided,
    A.CARRIER_REJECTED: CarrierRejected,
    A.STOCK_CONSUMED_IN_PART: StockConsumedInPart,
    A.SHIPPED: Shipped,
    A.SHIPPED_PARTIALLY: Shipped,
    A.CUSTOMER_NOTIFIED: CustomerNotified,
    A.ORDER_HELD: OrderHeld,
    A.STOCK_RELEASED_IN_PART: StockReleasedInPart,
    A.EXCEPTION_OPENED: ExceptionOpened,
    A.ORDER_QUARANTINED: ExceptionOpened,
    A.EXCEPTION_WAIT_RENEWED: ExceptionDetail,
    A.EXCEPTION_CLAIMED: ExceptionDetail,
    A.EXCEPTION_ESCALATED: ExceptionEscalated,
    A.EXCEPTION_REASSIGNED: ExceptionReassigned,
    A.EXCEPTION_RESOLVED: ExceptionResolved,
    A.OVERRIDE_REQUESTED: OverrideDetail,
    A.OVERRIDE_APPLIED: OverrideDetail,
    A.OVERRIDE_REJECTED: OverrideDetail,
    A.STOREFRONT_CONFIRMED: StorefrontConfirmed,
    A.STOREFRONT_WRITE_BACK_REFUSED: StorefrontRefused,
}
del A

# The wait a retried task-token step renews: the action it recorded first, and the renewal.
AGAIN: dict[AuditAction, AuditAction] = {
    AuditAction.PICK_REQUESTED: AuditAction.PICK_REQUESTED_AGAIN,
    AuditAction.PACK_REQUESTED: AuditAction.PACK_REQUESTED_AGAIN,
}

# An exception opened: the order waits on an owner (quarantine is the unexpected kind).
EXCEPTION_OPENED = frozenset({AuditAction.EXCEPTION_OPENED, AuditAction.ORDER_QUARANTINED})
# A QA gate's verdict.
QA_VERDICTS = frozenset({AuditAction.QA_PASSED, AuditAction.QA_FAILED})
# The order left the storefront's hands: a shipment, whole or partial.
SHIPMENTS = frozenset({AuditAction.SHIPPED, AuditAction.SHIPPED_PARTIALLY})
# A person or the sweeper moved an exception to another owner.
HANDOVERS = frozenset({AuditAction.EXCEPTION_ESCALATED, AuditAction.EXCEPTION_REASSIGNED})
