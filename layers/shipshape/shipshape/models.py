"""The canonical model: one order shape for every storefront, and the record around it.

Boundaries each have their own models (storefront payloads live in ``shipshape.storefronts``,
DynamoDB items in ``shipshape.adapters.dynamodb``); this module is the domain in between.
"""

import base64
import hashlib
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import cache
from typing import Annotated, Any, TypedDict

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
    with_config,
)

from shipshape.audit import DETAILS, AuditAction, Detail
from shipshape.base import Model
from shipshape.kinds import ExceptionId as ExceptionId
from shipshape.kinds import ExceptionType as ExceptionType
from shipshape.kinds import QaGate as QaGate

# --- constrained types shared across boundaries -----------------------------------------

ClientId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")]
OrderId = Annotated[str, StringConstraints(pattern=r"^ord_[a-z2-7]{20}$")]
Sku = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Quantity = Annotated[int, Field(ge=1, le=100_000)]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$", to_upper=True)]

MAX_VERSION = 2**63 - 1
# A storefront order version: positive, and within a signed 64-bit integer, so DynamoDB (38
# digits), JSON readers and every comparison hold it exactly. Versions derived from update
# times (epoch milliseconds) fit until the year 292278994; anything larger is not a version.
Version = Annotated[int, Field(ge=1, le=MAX_VERSION)]
# The rank of what a version says (storefronts.base.lifecycle_rank), exact in JSON too.
Lifecycle = Annotated[int, Field(ge=0, le=2**53 - 1)]

# A person or team as a client's rules, pickers and packers name them: as long as an id in a
# path or a query (http.ID_MAX_LENGTH), so each one can be asked for by name.
NAME_MAX_LENGTH = 64
# A storefront's multi-address order: BigCommerce lets a shopper ship to several.
MAX_SHIP_TO_ADDRESSES = 100
PersonName = Annotated[str, StringConstraints(min_length=1, max_length=NAME_MAX_LENGTH)]
# What people write for people (a note, a reason, a remediation step): a paragraph, as the
# dashboard's note field takes (maxlength 2000), not a document.
NOTE_MAX_LENGTH = 2000
Note = Annotated[str, StringConstraints(max_length=NOTE_MAX_LENGTH)]
# A barcode as the SKU master holds it, so as a scan must read to match it. GS1-128 carries
# at most 48 data characters (GS1 General Specifications, GS1-128 symbol characteristics);
# Code 128 outside GS1 has no maximum of its own (ISO/IEC 15417), hence the room.
BARCODE_MAX_LENGTH = 64
Barcode = Annotated[str, StringConstraints(max_length=BARCODE_MAX_LENGTH)]


def _must_be_aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamp must carry a timezone")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_must_be_aware)]


class Platform(StrEnum):
    SHOPIFY = "shopify"
    WOOCOMMERCE = "woocommerce"
    BIGCOMMERCE = "bigcommerce"
    GENERIC = "generic"


class OrderStatus(StrEnum):
    """Where an order stands. Each status has exactly one owner (see ``ClientConfig``)."""

    RECEIVED = "RECEIVED"  # known, not yet paid: nothing to fulfil yet
    # Part of the money taken (a deposit, a split payment): waits with its owner until the
    # storefront says paid (or authorized, for a client that fulfils on authorization).
    PARTIALLY_PAID = "PARTIALLY_PAID"
    ACCEPTED = "ACCEPTED"  # paid: fulfilment requested, workflow starting
    ADDRESS_VALIDATED = "ADDRESS_VALIDATED"
    PARTIALLY_RESERVED = "PARTIALLY_RESERVED"  # some units short; the client's policy decides
    BACKORDERED = "BACKORDERED"  # waiting for stock to arrive (the backorder policy)
    RESERVED = "RESERVED"
    PICKER_ASSIGNED = "PICKER_ASSIGNED"
    AWAITING_PICK = "AWAITING_PICK"
    PICKED = "PICKED"
    AWAITING_PACK = "AWAITING_PACK"
    PACKED = "PACKED"
    LABELLED = "LABELLED"
    SHIPPED = "SHIPPED"
    COMPLETED_PARTIAL = "COMPLETED_PARTIAL"  # shipped what could ship; the rest is recorded
    ON_HOLD = "ON_HOLD"
    EXCEPTION = "EXCEPTION"  # an owned exception is open; the workflow waits on its resolution
    QUARANTINED = "QUARANTINED"  # an unexpected failure; released only with required fields
    CANCELLED = "CANCELLED"
    # Paid, with no line to ship (digital goods, gift cards, tips, services): nothing to pick,
    # so no workflow runs. Final.
    NOTHING_TO_SHIP = "NOTHING_TO_SHIP"


# The status groups, defined here only. Final: nothing more happens to the order.
TERMINAL_STATUSES = frozenset(
    {
        OrderStatus.SHIPPED,
        OrderStatus.COMPLETED_PARTIAL,
        OrderStatus.CANCELLED,
        OrderStatus.NOTHING_TO_SHIP,
    }
)
FINAL_STATUSES = TERMINAL_STATUSES
# It left the warehouse: whole, or what could ship.
SHIPPED_STATUSES = frozenset({OrderStatus.SHIPPED, OrderStatus.COMPLETED_PARTIAL})
# At rest and waiting for nobody in the workflow: not paid yet, or held for ops to decide.
# (BACKORDERED waits for a restock; EXCEPTION and QUARANTINED wait for their owner.)
AT_REST_STATUSES = frozenset(
    {OrderStatus.RECEIVED, OrderStatus.PARTIALLY_PAID, OrderStatus.ON_HOLD}
)
# Fulfilment has not started: the storefront's lines and address still apply as they come.
NOT_STARTED_STATUSES = frozenset({OrderStatus.RECEIVED, OrderStatus.PARTIALLY_PAID})

# The happy path, in order. A step may only move an order one stage forward along it.
FULFILLMENT_PATH: tuple[OrderStatus, ...] = (
    OrderStatus.ACCEPTED,
    OrderStatus.ADDRESS_VALIDATED,
    OrderStatus.RESERVED,
    OrderStatus.PICKER_ASSIGNED,
    OrderStatus.AWAITING_PICK,
    OrderStatus.PICKED,
    OrderStatus.AWAITING_PACK,
    OrderStatus.PACKED,
    OrderStatus.LABELLED,
    OrderStatus.SHIPPED,
)

# Partial outcomes sit at the stage of the status they stand in for.
_STAGE_ALIASES = {
    OrderStatus.BACKORDERED: OrderStatus.ADDRESS_VALIDATED,  # reservation still to complete
    OrderStatus.PARTIALLY_RESERVED: OrderStatus.RESERVED,  # reserved what will ship
}


def stage(status: OrderStatus) -> int | None:
    """Where a status sits on the fulfilment path, or None off the path."""
    status = _STAGE_ALIASES.get(status, status)
    return FULFILLMENT_PATH.index(status) if status in FULFILLMENT_PATH else None


class ExceptionStatus(StrEnum):
    OPEN = "OPEN"
    CLAIMED = "CLAIMED"
    RESOLVED = "RESOLVED"


# --- the canonical order, as every storefront adapter produces it -----------------------


# An address's fields are as long as the storefront made them, since a valid order is never
# refused and the platforms differ: Shopify holds 255 characters a field, WooCommerce keeps
# order addresses in TEXT columns of up to 65,535 bytes (its wc_order_addresses table), and
# BigCommerce's orders API declares no maximum (orders.v2 shippingAddress_Base). The webhook
# body limit bounds them all. What an operator enters is bounded: ``CorrectedAddress``.
class Address(Model):
    model_config = ConfigDict(frozen=True)

    name: str | None = None
    company: str | None = None
    line1: str
    line2: str | None = None
    city: str
    region: str | None = None  # state / province code where the country has them
    postal_code: str | None = None
    country_code: CountryCode
    phone: str | None = None


# What an operator may type into an address field: as much as Shopify, the tightest of the
# platforms, holds in any (255 characters, its hard limit: Shopify/active_shipping#290), and
# a name as long as Shopify's first and last names joined, as its orders carry it.
ADDRESS_FIELD_MAX_LENGTH = 255
ADDRESS_NAME_MAX_LENGTH = 2 * ADDRESS_FIELD_MAX_LENGTH + 1
AddressText = Annotated[str, StringConstraints(max_length=ADDRESS_FIELD_MAX_LENGTH)]


class CorrectedAddress(Address):
    """A shipping address an operator enters: a resolution's correction, or the value of a
    ``shipping_address`` override. Each field is as long as Shopify allows (255 characters,
    a name 511): room for a real order's own, which the dashboard keeps in a correction."""

    # from_attributes: an Address handed over in code is held to the same limits.
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    name: Annotated[str, StringConstraints(max_length=ADDRESS_NAME_MAX_LENGTH)] | None = None
    company: AddressText | None = None
    line1: AddressText
    line2: AddressText | None = None
    city: AddressText
    region: AddressText | None = None
    postal_code: AddressText | None = None
    phone: AddressText | None = None


class Customer(Model):
    model_config = ConfigDict(frozen=True)

    name: str | None = None
    email: str | None = None
    phone: str | None = None


class OrderLine(Model):
    model_config = ConfigDict(frozen=True)

    line_id: str
    sku: Sku
    title: str = ""
    quantity: Quantity
    unit_price: Decimal = Decimal("0")


class LineKind(StrEnum):
    """Why a line of a storefront order is not one Shipshape picks."""

    # Nothing to ship: a digital good, a gift card, a tip, a service (the platform says
    # requires_shipping false, or its equivalent). Recorded and shown, never reserved,
    # picked or weighed.
    NOT_SHIPPED = "not_shipped"
    # To ship, but the storefront gave no SKU to pick it by (a custom item, a product with
    # no SKU set): the order waits in a catalog_mismatch exception until an operator maps
    # the line to a SKU.
    NO_SKU = "no_sku"


class OtherLine(Model):
    """A line of the storefront order that is not among the lines to pick."""

    model_config = ConfigDict(frozen=True)

    line_id: str
    kind: LineKind
    sku: str | None = Field(default=None, description="The storefront's SKU, if it has one.")
    title: str = ""
    quantity: Quantity
    unit_price: Decimal = Decimal("0")


class PaymentState(StrEnum):
    PENDING = "pending"
    # Authorized by the gateway, not captured yet: ships only for a client that fulfils on
    # authorization (ClientConfig fulfilment.fulfil_on).
    AUTHORIZED = "authorized"
    # Part of the money taken: nothing ships until the rest is (the order waits with its
    # owner in PARTIALLY_PAID).
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    # Paid, and part of it given back: what was not refunded still ships. The refunded units
    # leave the order before picking; after it, a person decides (payment_mismatch).
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    VOIDED = "voided"


class RefundedLine(Model):
    """Units of one storefront line the storefront refunded, in all its refunds so far."""

    model_config = ConfigDict(frozen=True)

    line_id: str
    quantity: Quantity


class StorefrontOrder(Model):
    """One version of a storefront order, normalized by its platform adapter."""

    model_config = ConfigDict(frozen=True)

    platform: Platform
    store: str = Field(min_length=1, max_length=255)
    storefront_order_id: str = Field(min_length=1, max_length=64)
    order_number: str | None = None
    version: Version = Field(description="Monotonic per order: newer versions compare greater.")
    lifecycle: Lifecycle = Field(
        default=0,
        description="What the version says, for two versions of the same version (stamped in "
        "the same instant): a cancel or refund outranks payment, paid outranks pending, more "
        "shipped outranks less. See storefronts.base.lifecycle_rank.",
    )
    storefront_updated_at: AwareDatetime
    payment: PaymentState
    ready_to_fulfil: bool = Field(description="The platform says fulfilment may start now.")
    cancelled: bool = False
    currency: str = "USD"
    total: Decimal = Decimal("0")
    tax: Decimal | None = Field(default=None, description="The order's tax, as stated.")
    storefront_created_at: AwareDatetime | None = Field(
        default=None, description="When the order was placed, at the storefront's own offset."
    )
    storefront_paid_at: AwareDatetime | None = Field(
        default=None, description="When the storefront took the payment, if it says."
    )
    customer: Customer = Field(default_factory=Customer)
    shipping_address: Address | None = None
    destinations: int = Field(
        default=1,
        ge=1,
        le=MAX_SHIP_TO_ADDRESSES,
        description="How many addresses the storefront's order ships to. Shipshape ships an "
        "order to one: more opens address_invalid (shipping_address is the first).",
    )
    lines: tuple[OrderLine, ...] = Field(default=(), description="The lines to pick.")
    other_lines: tuple[OtherLine, ...] = Field(
        default=(), description="The lines not picked: nothing to ship, or no SKU yet."
    )
    refunded_lines: tuple[RefundedLine, ...] | None = Field(
        default=(),
        description="Units refunded per line, in all the order's refunds (the lines above are "
        "as ordered). None: the platform's order does not say which lines a refund was for.",
    )
    refunded_total: Decimal = Field(
        default=Decimal("0"), ge=0, description="The money refunded so far, as stated."
    )

    @model_validator(mode="after")
    def _has_a_line(self) -> "StorefrontOrder":
        if not self.lines and not self.other_lines:
            raise ValueError("the order has no lines")
        return self

    def business_key(self) -> tuple[str, str, str]:
        return (self.platform.value, self.store, self.storefront_order_id)


def canonical_order_id(client_id: str, platform: Platform, store: str, storefront_id: str) -> str:
    """The order id is a function of the business key, so every redelivery maps to one order.

    It doubles as the Step Functions execution name (``[a-z2-7_]``, under 80 characters).
    """
    key = "|".join((client_id, platform.value, store.lower(), storefront_id)).encode()
    digest = base64.b32encode(hashlib.sha256(key).digest()).decode().lower()
    return f"ord_{digest[:20]}"


# --- the system of record ---------------------------------------------------------------


class PickScan(Model):
    model_config = ConfigDict(frozen=True)

    sku: Sku
    barcode: Barcode | None = None
    quantity: Quantity = 1


class PackData(Model):
    model_config = ConfigDict(frozen=True)

    weight_grams: Annotated[int, Field(gt=0, le=1_000_000)]
    length_mm: Annotated[int, Field(gt=0, le=10_000)]
    width_mm: Annotated[int, Field(gt=0, le=10_000)]
    height_mm: Annotated[int, Field(gt=0, le=10_000)]


class Label(Model):
    model_config = ConfigDict(frozen=True)

    carrier: str
    service: str
    tracking_number: str
    label_id: str = ""
    amount: Decimal = Decimal("0")
    currency: str = "USD"
    transit_days: int = Field(default=0, ge=0)
    destination_postal_code: str | None = None
    destination_country: CountryCode | None = None


# --- inventory: the SKU master and stock per client, SKU, warehouse and lot ---------------


Grams = Annotated[int, Field(gt=0, le=1_000_000)]
Millimetres = Annotated[int, Field(gt=0, le=10_000)]


class CatalogEntry(Model):
    """One SKU as the client's storefront (or its catalog import) describes it: what is sold,
    never how it sits in the warehouse. Written by the catalog sync alone, beside the
    warehouse's own record of the SKU, and merged with it on read (``merged_master``).
    ``version`` orders the entries of one ``source``: the storefront's update time in ms."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    client_id: ClientId
    sku: Sku
    title: str = Field(default="", max_length=200)
    barcode: Annotated[Barcode, Field(min_length=1)] | None = None
    unit_weight_grams: Grams | None = None
    active: bool = True
    source: str = Field(min_length=1, max_length=32, description="shopify, woocommerce, csv...")
    store: str = Field(min_length=1, max_length=200)
    product_id: str = Field(min_length=1, max_length=64)
    variant_id: str = Field(min_length=1, max_length=64)
    version: Version
    synced_at: AwareDatetime


class SkuMaster(Model):
    """One client's product as Shipshape knows it: the warehouse's facts (lot tracking,
    dimensions, and barcode and weight when it measured them) merged with the storefront's
    (``storefront``: title, barcode, weight, active). A SKU known from the storefront alone
    has no dimensions yet: ``missing_for_fulfilment`` names what the gates still lack."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    client_id: ClientId
    sku: Sku
    title: str = ""
    active: bool = True
    lot_tracked: bool = False
    barcode: Annotated[Barcode, Field(min_length=1)] | None = None
    unit_weight_grams: Grams | None = None
    length_mm: Millimetres | None = None
    width_mm: Millimetres | None = None
    height_mm: Millimetres | None = None
    storefront: CatalogEntry | None = None

    def missing_for_fulfilment(self) -> list[str]:
        """The fields the pick and pack checks need that this SKU does not have yet."""
        return [
            name
            for name in ("barcode", "unit_weight_grams", "length_mm", "width_mm", "height_mm")
            if getattr(self, name) is None
        ]


class StorefrontVariant(Model):
    """One variant of a storefront product, as the catalog sync reads it: the unit a SKU
    names. ``unit_weight_grams`` is converted from the platform's weight and unit."""

    model_config = ConfigDict(frozen=True)

    sku: Sku
    variant_id: str = Field(min_length=1, max_length=64)
    title: str = Field(default="", max_length=200)
    barcode: Annotated[Barcode, Field(min_length=1)] | None = None
    unit_weight_grams: Grams | None = None
    active: bool = True


class StorefrontProduct(Model):
    """One product version from a storefront (a webhook, a page of the product list, or a
    row of a catalog import): its variants with SKUs, or ``deleted`` with none. ``version``
    orders the versions of one source (the platform's update time in ms)."""

    model_config = ConfigDict(frozen=True)

    source: str = Field(min_length=1, max_length=32)
    store: str = Field(min_length=1, max_length=200)
    product_id: str = Field(min_length=1, max_length=64)
    version: Version
    variants: tuple[StorefrontVariant, ...] = ()
    deleted: bool = False
    variants_without_sku: int = Field(default=0, ge=0)


def merged_master(
    client_id: str, sku: str, warehouse: SkuMaster | None, catalog: CatalogEntry | None
) -> SkuMaster | None:
    """The SKU master record the gates read: the storefront's title, barcode and weight when
    it gives them (the warehouse's otherwise), the warehouse's lot tracking and dimensions,
    active only while both sides say so (a product deleted in the storefront is inactive)."""
    if catalog is None:
        return warehouse
    if warehouse is None:
        return SkuMaster(
            client_id=client_id, sku=sku, title=catalog.title, active=catalog.active,
            barcode=catalog.barcode or None, unit_weight_grams=catalog.unit_weight_grams,
            storefront=catalog,
        )  # fmt: skip
    return warehouse.model_copy(
        update={
            "title": catalog.title or warehouse.title,
            "barcode": catalog.barcode or warehouse.barcode,
            "unit_weight_grams": catalog.unit_weight_grams or warehouse.unit_weight_grams,
            "active": warehouse.active and catalog.active,
            "storefront": catalog,
        }
    )


NO_LOT = "-"


class StockLot(Model):
    """Units of one SKU in one warehouse (and lot): available to reserve, and reserved."""

    model_config = ConfigDict(frozen=True)

    client_id: ClientId
    sku: Sku
    warehouse: str
    lot: str = NO_LOT
    expires_on: date | None = None
    bin: str = ""
    available: int = Field(ge=0)
    reserved: int = Field(ge=0)

    @property
    def zone(self) -> str:
        return self.bin.split("-", 1)[0] if self.bin else ""


class Allocation(Model):
    """Units of one order line reserved from one stock lot."""

    model_config = ConfigDict(frozen=True)

    line_id: str
    sku: Sku
    warehouse: str
    lot: str = NO_LOT
    expires_on: date | None = None
    bin: str = ""
    quantity: Quantity


class StockChange(Model):
    """A change to one stock lot's counters, written in the transaction of the order change
    that causes it. Negative changes are conditional: a counter never goes below zero."""

    model_config = ConfigDict(frozen=True)

    client_id: ClientId
    sku: Sku
    warehouse: str
    lot: str = NO_LOT
    available: int = 0
    reserved: int = 0


class BackorderMark(Model):
    """An order waiting for stock of one SKU; ``remove`` deletes the mark."""

    model_config = ConfigDict(frozen=True)

    client_id: ClientId
    sku: Sku
    order_id: OrderId
    since: AwareDatetime
    quantity: Quantity
    remove: bool = False


class Document(Model):
    """A document Shipshape produced for an order (pick list, packing manifest), kept for the
    audit trail; the audit event names it by its digest."""

    model_config = ConfigDict(frozen=True)

    order_id: OrderId
    kind: str
    number: int = Field(ge=1)
    media_type: str = "text/html"
    content: str = Field(repr=False)
    sha256: str
    created_at: AwareDatetime

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.number}"


SideWrite = StockChange | BackorderMark | Document


class QaResult(Model):
    """One run of one QA gate: a discrete pass or fail, with its owner and remediation."""

    model_config = ConfigDict(frozen=True)

    gate: QaGate
    passed: bool
    at: AwareDatetime
    owner: str
    checks: tuple[str, ...] = ()
    failures: tuple[str, ...] = ()
    remediation: tuple[str, ...] = ()
    refused_lots: tuple[str, ...] = Field(default=(), description="sku|warehouse|lot")
    seq: int = Field(default=0, description="The audit event that recorded this result.")
    waived_by: str | None = None


class PickListEntry(Model):
    model_config = ConfigDict(frozen=True)

    bin: str
    sku: Sku
    title: str = ""
    barcode: str
    lot: str = NO_LOT
    quantity: Quantity


class PickList(Model):
    model_config = ConfigDict(frozen=True)

    picker: str
    warehouse: str
    entries: tuple[PickListEntry, ...]


class ParcelExpectation(Model):
    """What the packed parcel should weigh and hold, from the SKU master."""

    model_config = ConfigDict(frozen=True)

    items_weight_grams: int
    min_weight_grams: int
    max_weight_grams: int
    items_volume_mm3: int
    largest_item_mm: tuple[int, int, int]
    max_box_volume_mm3: int
    suggested_box_mm: tuple[int, int, int]


class OverrideField(StrEnum):
    """What an operator may fix by hand. Protected fields need a second operator's approval."""

    OWNER = "owner"  # who owns the order now (a team or person in the client's rules)
    SHIPPING_ADDRESS = "shipping_address"  # protected
    STATUS = "status"  # protected; only CANCELLED is accepted


PROTECTED_FIELDS = frozenset({OverrideField.SHIPPING_ADDRESS, OverrideField.STATUS})


class OverrideStatus(StrEnum):
    PENDING = "pending"
    APPLIED = "applied"
    REJECTED = "rejected"


class Override(Model):
    """An operator's manual fix to an order, with its reason and (if protected) its reviewer."""

    model_config = ConfigDict(frozen=True)

    override_id: str
    field: OverrideField
    value: Any
    previous: Any = None
    reason: str
    status: OverrideStatus
    requested_by: str
    requested_at: AwareDatetime
    reviewed_by: str | None = None
    reviewed_at: AwareDatetime | None = None
    review_note: str | None = None


class Order(Model):
    """The canonical order record: every other view reads this."""

    order_id: OrderId
    client_id: ClientId
    platform: Platform
    store: str
    storefront_order_id: str
    order_number: str | None = None
    version: int
    lifecycle: int = 0  # ranks two versions of the same version (see StorefrontOrder)
    storefront_updated_at: AwareDatetime
    received_at: AwareDatetime = Field(description="When Shipshape first recorded this version.")
    payment: PaymentState
    currency: str = "USD"
    total: Decimal = Decimal("0")
    tax: Decimal | None = None
    storefront_created_at: AwareDatetime | None = None
    storefront_paid_at: AwareDatetime | None = None
    customer: Customer = Field(default_factory=Customer)
    shipping_address: Address | None = None
    standardized_address: Address | None = None
    # More than one: the storefront's order ships to several addresses (address_invalid until
    # an operator corrects it to one).
    destinations: int = Field(default=1, ge=1, le=MAX_SHIP_TO_ADDRESSES)
    lines: tuple[OrderLine, ...]
    # The storefront's lines that are not picked (see LineKind); a NO_SKU line becomes one of
    # ``lines`` once an operator maps it to a SKU.
    other_lines: tuple[OtherLine, ...] = ()
    refunded_lines: tuple[RefundedLine, ...] = Field(
        default=(), description="Units the storefront refunded per line, as last recorded."
    )
    refunded_total: Decimal = Decimal("0")
    refund_unsettled: str | None = Field(
        default=None,
        description="A refund Shipshape could not take off the order (after picking, or the "
        "platform does not say which lines): nothing ships until a person decides.",
    )

    status: OrderStatus
    owner: str
    status_timestamps: dict[OrderStatus, AwareDatetime] = Field(default_factory=dict)
    rules_version: str
    audit_seq: int = Field(ge=0, description="Number of audit events; guards every write.")
    execution_name: str | None = None
    pending_start: bool = False
    task_token: str | None = Field(default=None, repr=False)
    awaiting: str | None = Field(default=None, description="Warehouse event the order waits for.")
    picker: str | None = None
    pick_scans: tuple[PickScan, ...] = ()
    pack: PackData | None = None
    label: Label | None = None
    hold_reason: str | None = None
    notified_at: AwareDatetime | None = None
    storefront_fulfillment: str | None = Field(
        default=None, description="The storefront's reference for the shipment it was told of."
    )
    open_exception_id: str | None = None
    exceptions_opened: int = Field(default=0, ge=0)
    unfulfilled_lines: tuple[OrderLine, ...] = Field(
        default=(), description="What a partial fulfilment decided not to ship."
    )
    warehouse: str | None = None
    reservation: tuple[Allocation, ...] = Field(
        default=(), description="Stock held for this order (released on cancel, used on ship)."
    )
    short_lines: tuple[OrderLine, ...] = Field(
        default=(), description="What could not be reserved yet (units missing per line)."
    )
    stock_consumed: bool = False
    consumed_lots: tuple[str, ...] = Field(
        default=(),
        description="Lots already used by a shipment used in groups: sku|warehouse|lot.",
    )
    excluded_lots: tuple[str, ...] = Field(
        default=(), description="Lots a QA gate refused for this order: sku|warehouse|lot."
    )
    qa: tuple[QaResult, ...] = ()
    pick_list: PickList | None = None
    parcel: ParcelExpectation | None = None
    documents: tuple[str, ...] = ()
    voided_labels: tuple[Label, ...] = ()
    rejected_services: tuple[str, ...] = ()
    overrides: tuple[Override, ...] = Field(
        default=(), description="Operators' manual fixes: applied, pending approval or rejected."
    )

    @property
    def unmapped_lines(self) -> tuple[OtherLine, ...]:
        """The lines to ship that have no SKU to pick them by yet."""
        return tuple(line for line in self.other_lines if line.kind is LineKind.NO_SKU)

    def last_qa(self, gate: QaGate) -> QaResult | None:
        return next((r for r in reversed(self.qa) if r.gate is gate), None)

    def transition(
        self,
        action: AuditAction,
        *,
        actor: "Actor",
        at: datetime,
        to: OrderStatus | None = None,
        owner: str | None = None,
        detail: Detail | dict[str, Any] | None = None,
        changes: "OrderChanges | None" = None,
        entered_at: datetime | None = None,
        event_owner: str | None = None,
    ) -> tuple["Order", "AuditEvent"]:
        """The next snapshot of this order and the audit event that records it: the only way
        an order changes.

        ``to`` moves the order to a status (a status it is already in changes nothing); the
        new status needs its ``owner``, and is entered ``entered_at`` (default: ``at``; a
        re-entered status gets its new time, but ACCEPTED keeps its first, when the order
        was paid and fulfilment time starts). ``owner`` alone hands the order to someone
        without a status change. ``changes`` are checked against the order's fields and
        their types (a misspelt field or a wrong type raises ``ValidationError``), and
        ``detail`` against what ``action`` records. ``event_owner`` is the owner the event
        names when that is not the order's (an exception that is not the order's open one).
        """
        updates: dict[str, Any] = dict(_changes_adapter().validate_python(changes or {}))
        updates["audit_seq"] = self.audit_seq + 1
        moved = to is not None and to is not self.status
        if moved:
            assert to is not None
            if owner is None:
                raise ValueError(f"{action}: the order moves to {to.value} and needs its owner")
            updates["status"] = to
            updates["status_timestamps"] = self._stamped(to, entered_at or at)
        if owner is not None:
            updates["owner"] = owner
        new = self.model_copy(update=updates)
        event = AuditEvent(
            order_id=self.order_id,
            seq=new.audit_seq,
            at=at,
            action=action,
            actor=actor,
            from_status=self.status if moved else None,
            to_status=new.status if moved else None,
            owner=event_owner or new.owner,
            detail=(
                detail.model_dump(mode="json", exclude_none=True)
                if isinstance(detail, Detail)
                else detail or {}
            ),
        )
        return new, event

    def _stamped(self, status: OrderStatus, at: datetime) -> dict[OrderStatus, datetime]:
        if status is OrderStatus.ACCEPTED and status in self.status_timestamps:
            return dict(self.status_timestamps)
        return {**self.status_timestamps, status: at}


@with_config(ConfigDict(extra="forbid"))
class OrderChanges(TypedDict, total=False):
    """What a transition may change on an order besides its status, owner and audit count
    (those are the transition's own). The order's identity is not among them."""

    order_number: str | None
    version: int
    lifecycle: int
    storefront_updated_at: datetime
    payment: PaymentState
    currency: str
    total: Decimal
    tax: Decimal | None
    storefront_created_at: datetime | None
    storefront_paid_at: datetime | None
    customer: Customer
    shipping_address: Address | None
    standardized_address: Address | None
    destinations: int
    lines: tuple[OrderLine, ...]
    other_lines: tuple[OtherLine, ...]
    refunded_lines: tuple[RefundedLine, ...]
    refunded_total: Decimal
    refund_unsettled: str | None
    rules_version: str
    execution_name: str | None
    pending_start: bool
    task_token: str | None
    awaiting: str | None
    picker: str | None
    pick_scans: tuple[PickScan, ...]
    pack: PackData | None
    label: Label | None
    hold_reason: str | None
    notified_at: datetime | None
    storefront_fulfillment: str | None
    open_exception_id: str | None
    exceptions_opened: int
    unfulfilled_lines: tuple[OrderLine, ...]
    warehouse: str | None
    reservation: tuple[Allocation, ...]
    short_lines: tuple[OrderLine, ...]
    stock_consumed: bool
    consumed_lots: tuple[str, ...]
    excluded_lots: tuple[str, ...]
    qa: tuple[QaResult, ...]
    pick_list: PickList | None
    parcel: ParcelExpectation | None
    documents: tuple[str, ...]
    voided_labels: tuple[Label, ...]
    rejected_services: tuple[str, ...]
    overrides: tuple[Override, ...]


@cache
def _changes_adapter() -> TypeAdapter[OrderChanges]:
    return TypeAdapter(OrderChanges)


class OrderException(Model):
    """A typed, owned exception on an order, with a deadline in the client's business hours.

    Its id embeds the order id (``<order_id>.e<n>``), so it is found without an index.
    """

    exception_id: ExceptionId
    order_id: OrderId
    client_id: ClientId
    type: ExceptionType
    step: str = Field(description="The workflow step that failed and may be retried.")
    gate: str | None = None
    error: str
    detail: str = ""
    status: ExceptionStatus = ExceptionStatus.OPEN
    owner: str
    level: int = Field(default=0, ge=0, description="0: the first owner; n: escalation n.")
    opened_at: AwareDatetime
    due_at: AwareDatetime
    remediation: tuple[str, ...] = ()
    claimed_by: str | None = None
    claimed_at: AwareDatetime | None = None
    resolved_by: str | None = None
    resolved_at: AwareDatetime | None = None
    resolution: dict[str, Any] | None = None
    task_token: str | None = Field(default=None, repr=False)
    resume_status: OrderStatus | None = Field(
        default=None, description="Where the order stood; a retry resumes from here."
    )
    version: int = Field(default=1, ge=1, description="Guards every write (optimistic).")

    @property
    def is_open(self) -> bool:
        return self.status is not ExceptionStatus.RESOLVED

    def closed(
        self, *, by: str, at: datetime, action: str, note: str, keep_token: bool = False
    ) -> "OrderException":
        """This exception resolved (by a person, the workflow or the storefront), next version.

        ``keep_token`` keeps the wait's token so the same resolution can be handed over again.
        """
        return self.model_copy(
            update={
                "status": ExceptionStatus.RESOLVED,
                "resolved_by": by,
                "resolved_at": at,
                "resolution": {"action": action, "note": note},
                "task_token": self.task_token if keep_token else None,
                "version": self.version + 1,
            }
        )


class Actor(Model):
    model_config = ConfigDict(frozen=True)

    kind: str = Field(description="storefront, workflow, warehouse, operator or system")
    id: str


class AuditEvent(Model):
    """One decision or human action on an order. Written in the same transaction as its change."""

    model_config = ConfigDict(frozen=True)

    order_id: OrderId
    seq: int = Field(ge=1)
    at: AwareDatetime
    action: AuditAction
    actor: Actor
    from_status: OrderStatus | None = None
    to_status: OrderStatus | None = None
    owner: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _detail_fits_action(self) -> "AuditEvent":
        try:
            DETAILS[self.action].model_validate(self.detail)
        except ValidationError as exc:
            wrong = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'detail'}: {e['msg']}"
                for e in exc.errors(include_url=False)
            )
            raise ValueError(f"the detail of {self.action.value} does not fit: {wrong}") from None
        return self

    @property
    def details(self) -> Detail:
        """The detail, typed by what the action records (``shipshape.audit.DETAILS``)."""
        return DETAILS[self.action].model_validate(self.detail)


class AwayPeriod(Model):
    """An owner marked away (out of office) for one client, from one moment to another."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    client_id: ClientId
    person: str = Field(min_length=1, max_length=64)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    note: str = Field(default="", max_length=500)
    set_by: str = ""

    def covers(self, moment: datetime) -> bool:
        return self.starts_at <= moment < self.ends_at

    @property
    def length(self) -> timedelta:
        return self.ends_at - self.starts_at


class RuleChangeStatus(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    ACTIVE = "active"
    SUPERSEDED = "superseded"
    REJECTED = "rejected"


class RuleChange(Model):
    """One version of a client's operating rules: proposed, approved by another lead, then
    activated. ``document`` holds every governed section as it reads after the change."""

    model_config = ConfigDict(frozen=True)

    client_id: ClientId
    version: int = Field(ge=2, description="Version 1 is the client's configuration file.")
    base_version: int = Field(ge=1)
    status: RuleChangeStatus
    summary: str
    patch: dict[str, Any]
    document: dict[str, Any]
    release_notes: tuple[str, ...]
    proposed_by: str
    proposed_at: AwareDatetime
    approved_by: str | None = None
    approved_at: AwareDatetime | None = None
    activated_by: str | None = None
    activated_at: AwareDatetime | None = None
    rejected_by: str | None = None
    rejected_at: AwareDatetime | None = None
    rejection_reason: str | None = None


class DeferredFetch(Model):
    """An order a storefront's webhook named (an id only: BigCommerce) whose storefront did
    not answer the read in the time the webhook's invocation had. The webhook was accepted
    (202, outcome ``deferred``); the next reconciliation pass of the store reads the order and
    records it through the same ingest path, then forgets this."""

    model_config = ConfigDict(frozen=True)

    client_id: ClientId
    platform: Platform
    store: str
    storefront_order_id: str = Field(min_length=1)
    deferred_at: AwareDatetime
    reason: str = Field(default="", max_length=500)


class SyncState(Model):
    """Where reconciliation of one store stands: orders the storefront changed before
    ``checkpoint`` have been compared with the canonical record."""

    model_config = ConfigDict(frozen=True)

    client_id: ClientId
    platform: Platform
    store: str
    checkpoint: AwareDatetime
    last_run_at: AwareDatetime
    pulled: int = Field(default=0, ge=0, description="Orders read from the storefront.")
    repaired: int = Field(default=0, ge=0, description="Missing or newer ones recorded.")
    max_lag_seconds: float = Field(
        default=0, ge=0, description="How far behind the most lagging repaired order was."
    )
    unreadable: tuple[str, ...] = Field(
        default=(), description="Storefront order ids refused by the adapter, with the reason."
    )


class AccessDenial(Model):
    """An operator refused access to a client's data: kept for the security review."""

    model_config = ConfigDict(frozen=True)

    at: AwareDatetime
    subject: str
    roles: tuple[str, ...]
    client_id: str
    method: str
    path: str
    reason: str
