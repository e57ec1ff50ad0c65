"""Read models for the ops API, scoped to the operator's clients."""

import re
from datetime import datetime
from decimal import Decimal

from pydantic import Field

from shipshape.authorization import Operator, served_order
from shipshape.base import Model
from shipshape.errors import OrderNotFound
from shipshape.models import (
    Address,
    Allocation,
    AuditEvent,
    Customer,
    Document,
    Label,
    Order,
    OrderLine,
    OrderStatus,
    OtherLine,
    Override,
    ParcelExpectation,
    PaymentState,
    PickList,
    QaResult,
    RefundedLine,
)
from shipshape.ports import OrderRepository


class OrderView(Model):
    order_id: str
    client_id: str
    platform: str
    store: str
    storefront_order_id: str
    order_number: str | None
    status: OrderStatus
    owner: str
    payment: PaymentState
    currency: str
    total: Decimal = Field(description="The order total as the storefront states it, exact.")
    tax: Decimal | None = Field(description="The tax in the total, as stated; None: not said.")
    storefront_created_at: datetime | None = Field(
        description="When the order was placed, at the storefront's own UTC offset."
    )
    storefront_paid_at: datetime | None
    storefront_updated_at: datetime
    storefront_admin_url: str | None = Field(
        description="The order in the storefront's admin (None: no per-order address)."
    )
    customer: Customer = Field(
        description="Who ordered (name, email, phone): shown to the client's operators only."
    )
    version: int
    rules_version: str
    received_at: datetime
    status_timestamps: dict[OrderStatus, datetime]
    lines: tuple[OrderLine, ...]
    other_lines: tuple[OtherLine, ...] = Field(
        description="Lines not picked: nothing to ship (digital, gift card, tip, service), or "
        "no SKU yet (a catalog_mismatch maps them)."
    )
    unfulfilled_lines: tuple[OrderLine, ...]
    refunded_lines: tuple[RefundedLine, ...] = Field(
        description="Units the storefront refunded per line (Shopify states them)."
    )
    refunded_total: Decimal = Field(description="The money refunded so far, as stated.")
    refund_unsettled: str | None = Field(
        description="A refund Shipshape could not take off the order (after picking, or the "
        "platform does not say which lines): a payment_mismatch holds it for a person."
    )
    shipping_address: Address | None
    standardized_address: Address | None
    warehouse: str | None
    reservation: tuple[Allocation, ...]
    short_lines: tuple[OrderLine, ...]
    stock_consumed: bool
    picker: str | None
    pick_list: PickList | None
    parcel: ParcelExpectation | None
    qa: tuple[QaResult, ...]
    documents: tuple[str, ...]
    label: Label | None
    storefront_fulfillment: str | None = Field(
        description="The storefront's reference for the shipment it was told of, once told."
    )
    voided_labels: tuple[Label, ...]
    rejected_services: tuple[str, ...]
    overrides: tuple[Override, ...]
    open_exception_id: str | None
    awaiting: str | None
    hold_reason: str | None
    audit_events: int

    @classmethod
    def of(cls, order: Order) -> "OrderView":
        # Imported on the first order read, not at the ops function's cold start: the four
        # storefront adapters cost about 55 ms to import and only this link needs them.
        from shipshape.storefronts import adapter_for

        adapter = adapter_for(order.platform)
        return cls(
            **order.model_dump(
                include=set(cls.model_fields) - {"audit_events", "storefront_admin_url"},
            ),
            audit_events=order.audit_seq,
            storefront_admin_url=adapter.admin_url(order.store, order.storefront_order_id),
        )


class AuditTrail(Model):
    order_id: str
    events: list[AuditEvent]


def get_order(repo: OrderRepository, order_id: str, operator: Operator) -> OrderView:
    return OrderView.of(served_order(repo, order_id, operator))


def get_audit_trail(repo: OrderRepository, order_id: str, operator: Operator) -> AuditTrail:
    served_order(repo, order_id, operator)
    return AuditTrail(order_id=order_id, events=repo.audit_trail(order_id))


_DOCUMENT = re.compile(r"^(pick-list|packing-manifest)-([1-9][0-9]{0,2})$")


class DocumentNotFound(OrderNotFound):
    """No such document on the order (names look like pick-list-1, packing-manifest-1)."""


def get_document(repo: OrderRepository, order_id: str, name: str, operator: Operator) -> Document:
    order = served_order(repo, order_id, operator)
    matched = _DOCUMENT.fullmatch(name)
    found = (
        repo.document(order.order_id, matched.group(1), int(matched.group(2)))
        if matched and name in order.documents
        else None
    )
    if found is None:
        known = ", ".join(order.documents) or "none yet"
        raise DocumentNotFound(f"order {order_id} has no document {name!r} (it has: {known})")
    return found
