"""WooCommerce order webhooks, mapped into ``StorefrontOrder``.

WooCommerce signs the raw body: ``X-WC-Webhook-Signature`` is base64(HMAC-SHA256(secret,
body)). The body is the REST API v3 order; ``X-WC-Webhook-Topic`` says which event it reports
and ``X-WC-Webhook-Source`` which site sent it (``home_url('/')``, so with a trailing slash).

When a webhook is first saved, WooCommerce POSTs a ping: the form-encoded body
``webhook_id=NN`` with none of the ``X-WC-Webhook-*`` headers, so no signature. Both ``verify``
and ``normalize`` raise ``WooCommercePing`` for it. WooCommerce only counts the ping as
delivered on exactly HTTP 200, and disables a webhook after more than five non-2xx answers in a
row, so how the caller answers these matters.

Refunds. The order's ``refunds`` lists each refund as ``{"id", "reason", "total"}`` (the total
negative, "-10.00"); which lines a refund was for is only in the refund resource
(``GET /orders/<id>/refunds/<refund_id>``, its ``line_items``), never in the order. A partial
refund (refunds listed, the status not ``refunded``) therefore cannot be applied line by
line: it is recorded as ``partially_refunded`` with ``refunded_lines`` None, and an order in
fulfilment waits in a payment_mismatch for a person to decide.
"""

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field

from shipshape.base import Model
from shipshape.config import StoreConfig
from shipshape.errors import PayloadInvalid, SignatureInvalid, UnsupportedTopic
from shipshape.models import (
    Address,
    CountryCode,
    Customer,
    OrderLine,
    OtherLine,
    PaymentState,
    Platform,
    Quantity,
    Sku,
    StorefrontOrder,
    StorefrontProduct,
    StorefrontVariant,
)
from shipshape.storefronts.base import (
    Amount,
    Line,
    StorefrontAdapter,
    WebhookDelivery,
    as_is,
    blank_to_none,
    canonical,
    decode_base64_digest,
    digest_matches,
    epoch_ms,
    full_name,
    grams,
    lifecycle_rank,
    parse_payload,
    split_lines,
)

SIGNATURE_HEADER = "X-WC-Webhook-Signature"
TOPIC_HEADER = "X-WC-Webhook-Topic"
SOURCE_HEADER = "X-WC-Webhook-Source"

TOPICS = frozenset({"order.created", "order.updated"})
PRODUCT_DELETE_TOPIC = "product.deleted"
PRODUCT_TOPICS = frozenset(
    {"product.created", "product.updated", "product.restored", PRODUCT_DELETE_TOPIC}
)

_PING_BODY = re.compile(rb"webhook_id=(\d+)")


class WooCommercePing(UnsupportedTopic):
    """The unsigned ping WooCommerce sends when a webhook is saved; it carries no order.

    A subclass, so the caller can answer it (WooCommerce wants a 200) without reading messages.
    """


def _assume_utc(value: datetime) -> datetime:
    # The *_gmt fields carry no offset ("2026-11-20T15:15:32"); they are UTC by definition.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


Text = Annotated[str | None, BeforeValidator(blank_to_none)]
Country = Annotated[CountryCode | None, BeforeValidator(blank_to_none)]
SkuText = Annotated[Sku | None, BeforeValidator(blank_to_none)]
GmtDatetime = Annotated[datetime, AfterValidator(_assume_utc)]
LocalDatetime = Annotated[datetime | None, BeforeValidator(blank_to_none)]

OrderStatus = Literal[
    "pending",
    "processing",
    "on-hold",
    "completed",
    "cancelled",
    "refunded",
    "failed",
    "trash",
    "checkout-draft",
]

# "processing" is WooCommerce's "paid, awaiting fulfilment"; "completed" means already shipped.
_PAID_STATUSES = frozenset({"processing", "completed"})
_CANCELLED_STATUSES = frozenset({"cancelled", "trash"})
# How far an order has got, for two versions saved in the same second: any ended status
# outranks the rest, then the path from checkout to shipped.
_ENDED_STATUSES = frozenset({"cancelled", "trash", "refunded"})
_STATUS_ORDER = (
    "checkout-draft", "pending", "on-hold", "failed", "processing", "completed", "cancelled",
    "refunded", "trash",
)  # fmt: skip


# --- the payload, as WooCommerce delivers it (only the fields Shipshape reads) -------------


class _WooModel(Model):
    model_config = ConfigDict(extra="ignore", frozen=True)


class WooBilling(_WooModel):
    """The order's ``billing`` block: the buyer's contact details and billing address."""

    first_name: Text = None
    last_name: Text = None
    company: Text = None
    address_1: Text = None
    address_2: Text = None
    city: Text = None
    state: Text = None
    postcode: Text = None
    country: Country = None
    email: Text = None
    phone: Text = None


class WooShipping(_WooModel):
    """The order's ``shipping`` block (``phone`` since WooCommerce 5.6)."""

    first_name: Text = None
    last_name: Text = None
    company: Text = None
    address_1: Text = None
    address_2: Text = None
    city: Text = None
    state: Text = None
    postcode: Text = None
    country: Country = None
    phone: Text = None


class WooLineItem(_WooModel):
    """One entry of ``line_items``; ``sku`` is null once the product has been deleted."""

    id: int
    name: str = ""
    product_id: int | None = None
    variation_id: int | None = None
    quantity: Quantity
    sku: SkuText = None
    # A JSON number (line total / quantity, unrounded); pydantic keeps its decimal digits.
    price: Amount
    total: Amount | None = None


class WooRefund(_WooModel):
    """One entry of the order's ``refunds``: its id and (negative) total, no lines."""

    id: int
    total: Amount


class WooOrder(_WooModel):
    """The REST API v3 order carried by ``order.*`` webhooks."""

    id: int
    parent_id: int | None = None
    number: Text = None
    status: OrderStatus
    currency: str
    # Each time twice: in the site's local time (no offset) and in GMT.
    date_created: LocalDatetime = None
    date_created_gmt: GmtDatetime | None = None
    date_modified: LocalDatetime = None
    date_modified_gmt: GmtDatetime
    date_paid: LocalDatetime = None
    date_paid_gmt: GmtDatetime | None = None
    total: Amount
    total_tax: Amount | None = None
    customer_id: int | None = None
    billing: WooBilling = Field(default_factory=WooBilling)
    shipping: WooShipping = Field(default_factory=WooShipping)
    payment_method: Text = None
    transaction_id: Text = None
    line_items: list[WooLineItem]
    refunds: list[WooRefund] = []


# --- the adapter --------------------------------------------------------------------------


class WooAttribute(_WooModel):
    name: str = ""
    option: str = ""


class WooProduct(_WooModel):
    """A REST API v3 product, or one variation of a variable product (the resources
    ``product.*`` webhooks and ``GET products`` / ``GET products/<id>/variations`` carry).
    ``weight`` is text in the store's weight unit; ``global_unique_id`` is the GTIN, UPC, EAN
    or ISBN (WooCommerce 9.2 and later)."""

    id: int
    name: str = ""
    type: str = "simple"
    status: str = "publish"
    sku: SkuText = None
    weight: Text = None
    global_unique_id: Text = None
    date_modified_gmt: GmtDatetime
    parent_id: int = 0
    variations: list[int] = []
    attributes: list[WooAttribute] = []


class WooDeletedProduct(_WooModel):
    id: int


class WooCommerceAdapter(StorefrontAdapter):
    """Verifies and normalizes WooCommerce ``order.created`` and ``order.updated`` webhooks."""

    platform = Platform.WOOCOMMERCE
    updated_at_field = "date_modified_gmt"

    def claimed_store(self, delivery: WebhookDelivery) -> str | None:
        return delivery.header(SOURCE_HEADER) or None

    def verify(self, delivery: WebhookDelivery, secrets: Sequence[bytes]) -> None:
        presented = delivery.header(SIGNATURE_HEADER)
        if not presented:
            # The ping is unsigned by design. Raising still fails closed: it carries no order.
            _reject_ping(delivery)
            raise SignatureInvalid(f"missing {SIGNATURE_HEADER} header")
        digest = decode_base64_digest(presented, SIGNATURE_HEADER)
        # Compare raw digests, so base64 spelling variants cannot matter.
        if not digest_matches(digest, secrets, delivery.body, as_is):
            raise SignatureInvalid(f"{SIGNATURE_HEADER} header does not match the body")

    def normalize(self, delivery: WebhookDelivery) -> StorefrontOrder:
        topic = delivery.header(TOPIC_HEADER)
        if not topic:
            _reject_ping(delivery)
            raise UnsupportedTopic(f"missing {TOPIC_HEADER} header")
        if topic not in TOPICS:
            raise UnsupportedTopic(
                f"WooCommerce topic {topic!r} is not handled; expected one of {sorted(TOPICS)}"
            )
        store = self.claimed_store(delivery)
        if store is None:
            raise PayloadInvalid(f"missing {SOURCE_HEADER} header")

        return _canonical_order(parse_payload(WooOrder, delivery.body), store)

    def is_catalog(self, delivery: WebhookDelivery) -> bool:
        return delivery.header(TOPIC_HEADER) in PRODUCT_TOPICS

    def normalize_product(self, delivery: WebhookDelivery, store: StoreConfig) -> StorefrontProduct:
        topic = delivery.header(TOPIC_HEADER)
        if topic not in PRODUCT_TOPICS:
            raise UnsupportedTopic(
                f"WooCommerce topic {topic!r} is not a product topic ({sorted(PRODUCT_TOPICS)})"
            )
        if topic == PRODUCT_DELETE_TOPIC:
            deleted = parse_payload(WooDeletedProduct, delivery.body)
            # The delivery carries no time of its own: it is ordered by when it arrived.
            return StorefrontProduct(
                source=self.platform.value, store=store.store, product_id=str(deleted.id),
                version=epoch_ms(delivery.received_at), deleted=True,
            )  # fmt: skip
        return woo_product(parse_payload(WooProduct, delivery.body), store)

    def normalize_product_resource(self, resource: bytes, store: StoreConfig) -> StorefrontProduct:
        return woo_product(parse_payload(WooProduct, resource), store)

    def admin_url(self, store: str, storefront_order_id: str) -> str | None:
        # The classic order screen; with high-performance order storage WooCommerce sends it
        # on to the new one.
        return f"{store.rstrip('/')}/wp-admin/post.php?post={storefront_order_id}&action=edit"

    def normalize_resource(self, resource: bytes, store: str) -> StorefrontOrder:
        """An order read from the REST API v3 (the same shape the webhooks carry); the status
        says whether it is cancelled, as it does in a webhook."""
        return _canonical_order(parse_payload(WooOrder, resource), store)


woocommerce_adapter = WooCommerceAdapter()


# --- mapping ------------------------------------------------------------------------------


def _canonical_order(order: WooOrder, store: str) -> StorefrontOrder:
    """The one mapping of a WooCommerce order, whether a webhook carried it or the API read it."""
    lines, other_lines = _lines(order.line_items)
    return canonical(
        lambda: StorefrontOrder(
            platform=Platform.WOOCOMMERCE,
            store=store,
            storefront_order_id=str(order.id),
            order_number=order.number,
            # date_modified_gmt moves on every save; it is the only ordering WooCommerce has.
            version=epoch_ms(order.date_modified_gmt),
            lifecycle=lifecycle_rank(
                ended=order.status in _ENDED_STATUSES,
                paid=_STATUS_ORDER.index(order.status),
            ),
            storefront_updated_at=_at_site_offset(order.date_modified_gmt, order.date_modified),
            storefront_created_at=_at_site_offset(order.date_created_gmt, order.date_created),
            storefront_paid_at=_at_site_offset(order.date_paid_gmt, order.date_paid),
            payment=_payment(order),
            ready_to_fulfil=order.status == "processing",
            cancelled=order.status in _CANCELLED_STATUSES,
            currency=order.currency,
            total=order.total,
            tax=order.total_tax,
            customer=_customer(order),
            shipping_address=_address(order.shipping, order.billing),
            lines=lines,
            other_lines=other_lines,
            # The order does not say which lines a refund was for (see the module's notes).
            refunded_lines=None if order.refunds else (),
            refunded_total=sum((abs(r.total) for r in order.refunds), Decimal("0")),
        )
    )


def _at_site_offset[T: datetime | None](gmt: T, local: datetime | None) -> T:
    """The moment at the site's own UTC offset. WooCommerce sends each time in the site's
    local time, without an offset, and in GMT: their difference is the offset. GMT alone
    (no local time, or one that is no real offset) keeps the moment in UTC."""
    if gmt is None or local is None or local.tzinfo is not None:
        return gmt
    offset = local - gmt.replace(tzinfo=None)
    if abs(offset) > timedelta(hours=14) or offset % timedelta(minutes=15):
        return gmt
    return gmt.astimezone(timezone(offset))


def _payment(order: WooOrder) -> PaymentState:
    if order.status == "refunded":
        return PaymentState.REFUNDED
    # Checked before date_paid: a failed order is not paid, whatever else the payload says.
    if order.status == "failed":
        return PaymentState.PENDING
    if order.status in _PAID_STATUSES or order.date_paid_gmt is not None:
        # Refunded in part: WooCommerce keeps the status and lists the refund.
        return PaymentState.PARTIALLY_REFUNDED if order.refunds else PaymentState.PAID
    return PaymentState.PENDING


def _lines(items: Sequence[WooLineItem]) -> tuple[tuple[OrderLine, ...], tuple[OtherLine, ...]]:
    """The lines to pick, and those with no SKU: WooCommerce's own examples sell products
    with no SKU set, and a deleted product's line loses its SKU. Those wait for an operator
    to map them to a SKU (a line item does not say whether its product ships)."""
    if not items:
        raise PayloadInvalid("line_items: the order has no line")
    return split_lines(
        [Line(str(item.id), item.sku, item.name, item.quantity, item.price) for item in items]
    )


def _customer(order: WooOrder) -> Customer:
    billing, shipping = order.billing, order.shipping
    return Customer(
        name=full_name(billing.first_name, billing.last_name)
        or full_name(shipping.first_name, shipping.last_name),
        email=billing.email,
        phone=billing.phone,
    )


def _address(shipping: WooShipping, billing: WooBilling) -> Address | None:
    # Stores without a separate shipping form leave ``shipping`` blank: ship to billing then.
    chosen: WooShipping | WooBilling = shipping if shipping.address_1 else billing
    if not chosen.address_1:
        return None
    if chosen.country is None:
        block = "shipping" if chosen is shipping else "billing"
        raise PayloadInvalid(f"{block}.country is empty; Shipshape cannot ship without one")
    return Address(
        name=full_name(chosen.first_name, chosen.last_name),
        company=chosen.company,
        line1=chosen.address_1,
        line2=chosen.address_2,
        # Incomplete fields still enter the record; address validation owns that problem.
        city=chosen.city or "",
        region=chosen.state,
        postal_code=chosen.postcode,
        country_code=chosen.country,
        phone=chosen.phone or billing.phone,
    )


def _reject_ping(delivery: WebhookDelivery) -> None:
    ping = _PING_BODY.fullmatch(delivery.body.strip())
    if ping is not None:
        raise WooCommercePing(
            f"WooCommerce ping for webhook {ping.group(1).decode()} (sent when a webhook is "
            "saved, unsigned and without a topic); it carries no order"
        )


def woo_product(product: WooProduct, store: StoreConfig) -> StorefrontProduct:
    """One product, or one variation, as a product of one variant (each resource is its own
    product here: a variation is changed and deleted on its own). A variable product's own
    resource carries no SKU to pick; its variations do. On sale only while published."""
    variants: tuple[StorefrontVariant, ...] = ()
    if product.sku is not None and product.type != "variable":
        options = " / ".join(a.option for a in product.attributes if a.option)
        named = not options or not product.parent_id or product.name.endswith(options)
        title = product.name if named else f"{product.name} - {options}"
        variants = (
            StorefrontVariant(
                sku=product.sku, variant_id=str(product.id), title=title[:200],
                barcode=product.global_unique_id,
                unit_weight_grams=grams(product.weight, store.weight_unit, "weight"),
                active=product.status == "publish",
            ),
        )  # fmt: skip
    return canonical(
        lambda: StorefrontProduct(
            source=Platform.WOOCOMMERCE.value,
            store=store.store,
            product_id=str(product.id),
            version=epoch_ms(product.date_modified_gmt),
            variants=variants,
            variants_without_sku=0 if variants or product.type == "variable" else 1,
        )
    )
