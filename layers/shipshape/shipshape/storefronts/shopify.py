"""Shopify order webhooks, mapped into ``StorefrontOrder``.

Shopify signs the raw body: ``X-Shopify-Hmac-Sha256`` is base64(HMAC-SHA256(secret, body)).
The body is the REST Order resource; ``X-Shopify-Topic`` says which order event it reports and
``X-Shopify-Shop-Domain`` which shop sent it (``acme-outdoors.myshopify.com``). The other
headers (``X-Shopify-Webhook-Id``, ``X-Shopify-Event-Id``, ``X-Shopify-Triggered-At``,
``X-Shopify-API-Version``) are not needed here: deduplication is on the order version.

Refunds. ``line_items`` keep the quantities as ordered; what was refunded is in ``refunds``,
each with its ``refund_line_items`` (``line_item_id``, ``quantity``) and its ``transactions``
(``kind: "refund"``). Shopify says which lines a refund was for, so a partial refund
(``financial_status: "partially_refunded"``) is taken off the order line by line.
"""

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BeforeValidator, ConfigDict, Field

from shipshape.base import Model
from shipshape.config import StoreConfig
from shipshape.errors import PayloadInvalid, SignatureInvalid, UnsupportedTopic
from shipshape.models import (
    Address,
    AwareDatetime,
    CountryCode,
    Customer,
    OrderLine,
    OtherLine,
    PaymentState,
    Platform,
    Quantity,
    RefundedLine,
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

HMAC_HEADER = "X-Shopify-Hmac-Sha256"
TOPIC_HEADER = "X-Shopify-Topic"
SHOP_DOMAIN_HEADER = "X-Shopify-Shop-Domain"

CANCELLED_TOPIC = "orders/cancelled"
TOPICS = frozenset({"orders/create", "orders/paid", "orders/updated", CANCELLED_TOPIC})
PRODUCT_DELETE_TOPIC = "products/delete"
PRODUCT_TOPICS = frozenset({"products/create", "products/update", PRODUCT_DELETE_TOPIC})
TRIGGERED_AT_HEADER = "X-Shopify-Triggered-At"


Text = Annotated[str | None, BeforeValidator(blank_to_none)]
SkuText = Annotated[Sku | None, BeforeValidator(blank_to_none)]

FinancialStatus = Literal[
    "pending",
    "authorized",
    "partially_paid",
    "paid",
    "partially_refunded",
    "refunded",
    "voided",
    # Not in the REST reference's list, but Shopify reports it once an authorization lapses
    # (GraphQL ``OrderDisplayFinancialStatus.EXPIRED``); rejecting it would bounce a real order.
    "expired",
]

_PAYMENT: dict[str, PaymentState] = {
    "pending": PaymentState.PENDING,
    "authorized": PaymentState.AUTHORIZED,
    "partially_paid": PaymentState.PARTIALLY_PAID,
    "paid": PaymentState.PAID,
    # Money was taken and only part of it went back: what was not refunded still ships.
    "partially_refunded": PaymentState.PARTIALLY_REFUNDED,
    "refunded": PaymentState.REFUNDED,
    "voided": PaymentState.VOIDED,
    "expired": PaymentState.VOIDED,
}
# How far payment has got, in Shopify's own order (for two versions of one instant).
_PAYMENT_ORDER = (
    "pending", "authorized", "partially_paid", "paid", "partially_refunded", "refunded",
    "voided", "expired",
)  # fmt: skip
_ENDED_PAYMENTS = frozenset({PaymentState.REFUNDED, PaymentState.VOIDED})
# Fulfilment may start: paid, or paid and partly refunded (what is left ships).
_FULFIL_PAYMENTS = frozenset({"paid", "partially_refunded"})


# --- the payload, as Shopify delivers it (only the fields Shipshape reads) -----------------


class _ShopifyModel(Model):
    model_config = ConfigDict(extra="ignore", frozen=True)


class ShopifyCustomer(_ShopifyModel):
    """The order's ``customer`` object."""

    id: int | None = None
    first_name: Text = None
    last_name: Text = None
    email: Text = None
    phone: Text = None


class ShopifyAddress(_ShopifyModel):
    """A Shopify mailing address (``shipping_address``)."""

    first_name: Text = None
    last_name: Text = None
    name: Text = None
    company: Text = None
    address1: Text = None
    address2: Text = None
    city: Text = None
    province: Text = None
    province_code: Text = None
    zip: Text = None
    country: Text = None
    country_code: CountryCode
    phone: Text = None


class ShopifyLineItem(_ShopifyModel):
    """One entry of ``line_items``."""

    id: int
    variant_id: int | None = None
    product_id: int | None = None
    sku: SkuText = None
    title: str = ""
    name: Text = None
    quantity: Quantity
    price: Amount
    requires_shipping: bool
    fulfillable_quantity: int | None = None


class ShopifyRefundLineItem(_ShopifyModel):
    """One entry of a refund's ``refund_line_items``: units of one line given back."""

    line_item_id: int
    quantity: int = Field(ge=0)


class ShopifyTransaction(_ShopifyModel):
    """One entry of a refund's ``transactions``; only successful refunds moved money."""

    kind: str
    status: str | None = None
    amount: Amount


class ShopifyRefund(_ShopifyModel):
    """One entry of the order's ``refunds``."""

    id: int
    refund_line_items: list[ShopifyRefundLineItem] = []
    transactions: list[ShopifyTransaction] = []


class ShopifyOrder(_ShopifyModel):
    """The REST Order resource carried by ``orders/*`` webhooks."""

    id: int
    admin_graphql_api_id: str | None = None
    name: str
    order_number: int | None = None
    email: Text = None
    phone: Text = None
    created_at: AwareDatetime | None = None
    processed_at: AwareDatetime | None = None
    updated_at: AwareDatetime
    cancelled_at: AwareDatetime | None = None
    cancel_reason: str | None = None
    financial_status: FinancialStatus
    fulfillment_status: str | None = None
    currency: str
    total_price: Amount
    total_tax: Amount | None = None
    customer: ShopifyCustomer | None = None
    shipping_address: ShopifyAddress | None = None
    line_items: list[ShopifyLineItem]
    refunds: list[ShopifyRefund] = []


class ShopifyVariant(_ShopifyModel):
    """One entry of a product's ``variants`` (the REST Product Variant resource)."""

    id: int
    title: str = ""
    sku: SkuText = None
    barcode: Text = None
    # ``weight`` in ``weight_unit`` (g, kg, oz, lb); ``grams`` is the older, deprecated field.
    weight: Amount | None = None
    weight_unit: Text = None
    grams: int | None = None
    updated_at: AwareDatetime | None = None


class ShopifyProduct(_ShopifyModel):
    """The REST Product resource, as ``products/create|update`` webhooks and
    ``GET products.json`` carry it. ``status`` is absent from payloads older than 2020-10."""

    id: int
    title: str = ""
    status: Literal["active", "draft", "archived"] = "active"
    updated_at: AwareDatetime
    variants: list[ShopifyVariant] = []


class ShopifyDeletedProduct(_ShopifyModel):
    """What ``products/delete`` carries: the product's id alone."""

    id: int


# --- the adapter --------------------------------------------------------------------------


class ShopifyAdapter(StorefrontAdapter):
    """Verifies and normalizes Shopify ``orders/create|paid|updated|cancelled`` webhooks."""

    platform = Platform.SHOPIFY
    updated_at_field = "updated_at"

    def claimed_store(self, delivery: WebhookDelivery) -> str | None:
        return delivery.header(SHOP_DOMAIN_HEADER) or None

    def verify(self, delivery: WebhookDelivery, secrets: Sequence[bytes]) -> None:
        presented = delivery.header(HMAC_HEADER)
        if not presented:
            raise SignatureInvalid(f"missing {HMAC_HEADER} header")
        digest = decode_base64_digest(presented, HMAC_HEADER)
        # Compare raw digests, so base64 spelling variants cannot matter.
        if not digest_matches(digest, secrets, delivery.body, as_is):
            raise SignatureInvalid(f"{HMAC_HEADER} header does not match the body")

    def normalize(self, delivery: WebhookDelivery) -> StorefrontOrder:
        topic = delivery.header(TOPIC_HEADER)
        if not topic:
            raise UnsupportedTopic(f"missing {TOPIC_HEADER} header")
        if topic not in TOPICS:
            raise UnsupportedTopic(
                f"Shopify topic {topic!r} is not handled; expected one of {sorted(TOPICS)}"
            )
        store = self.claimed_store(delivery)
        if store is None:
            raise PayloadInvalid(f"missing {SHOP_DOMAIN_HEADER} header")

        order = parse_payload(ShopifyOrder, delivery.body)
        # The topic says "cancelled" before the resource may: trust whichever says it first.
        return _canonical_order(order, store, cancelled_by_topic=topic == CANCELLED_TOPIC)

    def admin_url(self, store: str, storefront_order_id: str) -> str | None:
        return f"https://{store}/admin/orders/{storefront_order_id}"

    def is_catalog(self, delivery: WebhookDelivery) -> bool:
        return delivery.header(TOPIC_HEADER) in PRODUCT_TOPICS

    def normalize_product(self, delivery: WebhookDelivery, store: StoreConfig) -> StorefrontProduct:
        topic = delivery.header(TOPIC_HEADER)
        if topic not in PRODUCT_TOPICS:
            raise UnsupportedTopic(
                f"Shopify topic {topic!r} is not a product topic ({sorted(PRODUCT_TOPICS)})"
            )
        if topic == PRODUCT_DELETE_TOPIC:
            deleted = parse_payload(ShopifyDeletedProduct, delivery.body)
            # The delete carries no update time; when Shopify triggered it orders it after
            # every version of the product (all stamped before it was deleted).
            moment = _triggered_at(delivery.header(TRIGGERED_AT_HEADER)) or delivery.received_at
            return StorefrontProduct(
                source=self.platform.value, store=store.store, product_id=str(deleted.id),
                version=epoch_ms(moment), deleted=True,
            )  # fmt: skip
        return _catalog_product(parse_payload(ShopifyProduct, delivery.body), store.store)

    def normalize_product_resource(self, resource: bytes, store: StoreConfig) -> StorefrontProduct:
        return _catalog_product(parse_payload(ShopifyProduct, resource), store.store)

    def normalize_resource(self, resource: bytes, store: str) -> StorefrontOrder:
        """An order read from the Admin API (the REST Order resource, the same shape the
        webhooks carry): with no topic, cancellation is read from ``cancelled_at`` alone."""
        return _canonical_order(parse_payload(ShopifyOrder, resource), store)


shopify_adapter = ShopifyAdapter()


# --- mapping ------------------------------------------------------------------------------


def _canonical_order(
    order: ShopifyOrder, store: str, *, cancelled_by_topic: bool = False
) -> StorefrontOrder:
    """The one mapping of a Shopify order, whether a webhook carried it or the API read it."""
    cancelled = order.cancelled_at is not None or cancelled_by_topic
    lines, other_lines = _lines(order.line_items)
    return canonical(
        lambda: StorefrontOrder(
            platform=Platform.SHOPIFY,
            store=store,
            storefront_order_id=str(order.id),
            order_number=order.name,
            # Shopify bumps updated_at on every change; it is the only ordering it offers.
            version=epoch_ms(order.updated_at),
            lifecycle=lifecycle_rank(
                ended=cancelled or _PAYMENT[order.financial_status] in _ENDED_PAYMENTS,
                paid=_PAYMENT_ORDER.index(order.financial_status),
                shipped_units=sum(
                    item.quantity - item.fulfillable_quantity
                    for item in order.line_items
                    if item.fulfillable_quantity is not None
                ),
            ),
            storefront_updated_at=order.updated_at,
            payment=_PAYMENT[order.financial_status],
            ready_to_fulfil=order.financial_status in _FULFIL_PAYMENTS and not cancelled,
            cancelled=cancelled,
            currency=order.currency,
            total=order.total_price,
            tax=order.total_tax,
            storefront_created_at=order.created_at,
            # processed_at: when the payment was processed (the order's placing, for most)
            storefront_paid_at=(
                order.processed_at if order.financial_status in _FULFIL_PAYMENTS else None
            ),
            customer=_customer(order),
            shipping_address=_address(order.shipping_address),
            lines=lines,
            other_lines=other_lines,
            refunded_lines=_refunded_lines(order.refunds),
            refunded_total=sum(
                (
                    t.amount
                    for refund in order.refunds
                    for t in refund.transactions
                    if t.kind == "refund" and t.status in (None, "success")
                ),
                Decimal("0"),
            ),
        )
    )


def _refunded_lines(refunds: Sequence[ShopifyRefund]) -> tuple[RefundedLine, ...]:
    """Units refunded per line, over every refund of the order (a line may be refunded in
    several refunds), in the order the lines first appear."""
    units: dict[str, int] = {}
    for refund in refunds:
        for item in refund.refund_line_items:
            key = str(item.line_item_id)
            units[key] = units.get(key, 0) + item.quantity
    return tuple(RefundedLine(line_id=k, quantity=q) for k, q in units.items() if q > 0)


def _lines(items: Sequence[ShopifyLineItem]) -> tuple[tuple[OrderLine, ...], tuple[OtherLine, ...]]:
    """The lines to pick, and the rest: digital goods, gift cards and tips have nothing to
    ship (``requires_shipping: false``); a custom item has no SKU until an operator maps it."""
    return split_lines([
        # ``name`` carries the variant ("Tent - Green"), which is what a picker needs.
        Line(str(item.id), item.sku, item.name or item.title, item.quantity, item.price,
             ships=item.requires_shipping)
        for item in items
    ])  # fmt: skip


def _customer(order: ShopifyOrder) -> Customer:
    person = order.customer or ShopifyCustomer()
    name = full_name(person.first_name, person.last_name)
    if name is None and order.shipping_address is not None:
        address = order.shipping_address
        name = address.name or full_name(address.first_name, address.last_name)
    return Customer(
        name=name,
        email=person.email or order.email,
        phone=person.phone or order.phone,
    )


def _address(address: ShopifyAddress | None) -> Address | None:
    # Digital-only and local-pickup orders come without one; the workflow decides what then.
    if address is None:
        return None
    return Address(
        name=address.name or full_name(address.first_name, address.last_name),
        company=address.company,
        # An incomplete address still enters the record: address validation owns that problem,
        # and rejecting the webhook would only make Shopify retry the same payload.
        line1=address.address1 or "",
        line2=address.address2,
        city=address.city or "",
        region=address.province_code,
        postal_code=address.zip,
        country_code=address.country_code,
        phone=address.phone,
    )


def _triggered_at(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise PayloadInvalid(f"{TRIGGERED_AT_HEADER}: {value!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise PayloadInvalid(f"{TRIGGERED_AT_HEADER}: {value!r} has no timezone")
    return moment


def _catalog_product(product: ShopifyProduct, store: str) -> StorefrontProduct:
    """A product's variants with SKUs, weights in grams; on sale only while ``active``
    (draft and archived products are not sold)."""
    stamps = [product.updated_at, *(v.updated_at for v in product.variants if v.updated_at)]
    variants = []
    for index, variant in enumerate(product.variants):
        if variant.sku is None:
            continue
        where = f"variants.{index}"
        weight = (
            grams(variant.weight, variant.weight_unit, where)
            if variant.weight is not None
            else grams(variant.grams, "g", where)
        )
        # Shopify names a product without options' one variant "Default Title".
        named = variant.title and variant.title != "Default Title"
        variants.append(
            StorefrontVariant(
                sku=variant.sku,
                variant_id=str(variant.id),
                title=(f"{product.title} - {variant.title}" if named else product.title)[:200],
                barcode=variant.barcode,
                unit_weight_grams=weight,
                active=product.status == "active",
            )
        )
    return canonical(
        lambda: StorefrontProduct(
            source=Platform.SHOPIFY.value,
            store=store,
            product_id=str(product.id),
            version=epoch_ms(max(stamps)),
            variants=tuple(variants),
            variants_without_sku=len(product.variants) - len(variants),
        )
    )
