"""BigCommerce order webhooks (pointer-only) and orders read from its v2 Orders API.

A BigCommerce webhook carries no order, only a pointer to one::

    {"store_id": "11111", "producer": "stores/abcde", "scope": "store/order/statusUpdated",
     "data": {"type": "order", "id": 173331}, "hash": "...", "created_at": 1561479335}

So a delivery is handled in three steps: ``verify`` it, read the order id with
``order_reference``, fetch the order from the store's API, and map what the API returned with
``normalize_resource``. What Shipshape records is always what the API says, never the body.

Authentication. The HTTPS webhooks Shipshape subscribes to are created by the operator with
``POST /stores/{store_hash}/v3/hooks``, whose ``headers`` object BigCommerce sends back
unchanged with every delivery. The operator sets one secret header there::

    "headers": {"X-Shipshape-Webhook-Token": "<the store's webhook secret>"}

``verify`` compares that header in constant time with each accepted secret (several during a
rotation: create the new hooks with the new token, then retire the old ones) and fails closed.
BigCommerce's documented HTTPS webhooks carry no HMAC over the body Shipshape could check
instead. (Newer BigCommerce documentation also describes Standard Webhooks signatures keyed
with an app's client secret; Shipshape does not rely on them.) The body is not signed, so
``verify`` also requires ``producer`` to name a store (``stores/<store hash>``): the caller
chooses the store, and with it the secrets, from that claim (``claimed_store``), so a token
opens only deliveries that name its own store.

Refunds. The v2 order states a refund as a status (Partially Refunded, ``status_id`` 14;
Refunded, 4), a ``payment_status`` ("partially refunded") and ``refunded_amount``; which lines
it was for is only in the refunds API (``/v3/orders/{id}/payment_actions/refunds``), not in
the order. A partial refund therefore cannot be applied line by line: it is recorded as
``partially_refunded`` with ``refunded_lines`` None, and an order in fulfilment waits in a
payment_mismatch for a person to decide.

Scopes. Create one hook per accepted scope (below), not ``store/order/*``: every other order
scope would be refused, and BigCommerce blocklists a destination whose share of 2xx answers
falls under 90 %.
"""

import hmac
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from enum import IntEnum
from hashlib import sha256
from typing import Annotated, Literal

from pydantic import BeforeValidator, ConfigDict, Field, StringConstraints, ValidationError

from shipshape.base import Model
from shipshape.config import StoreConfig
from shipshape.errors import PayloadInvalid, SignatureInvalid, UnsupportedPlatform, UnsupportedTopic
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
    blank_to_none,
    canonical,
    epoch_ms,
    full_name,
    grams,
    parse_payload,
    split_lines,
)

TOKEN_HEADER = "X-Shipshape-Webhook-Token"  # noqa: S105 - a header name, not a secret

SCOPES = frozenset({"store/order/created", "store/order/updated", "store/order/statusUpdated"})
# Not accepted: ``store/order/archived``. Archiving is BigCommerce's delete, a housekeeping
# action that changes neither the status nor the payment; a merchant stops an order by
# cancelling it (status Cancelled fires ``store/order/statusUpdated``, accepted above). Taking
# an archive for a cancellation could stop a paid order that was only tidied away, and as an
# update it would say nothing the other scopes do not. An archived order read from the API
# (``is_deleted``) is never started; one already in fulfilment carries on.

_PRODUCER = re.compile(r"stores/([A-Za-z0-9]{1,64})")


class StatusId(IntEnum):
    """BigCommerce's order statuses (``status_id``; GET /v2/order_statuses). Stores can rename
    the labels (``status``, ``custom_status``) but cannot add statuses, so only the id is read.
    """

    INCOMPLETE = 0  # the shopper reached the payment page but did not complete the transaction
    PENDING = 1  # checkout started, not completed
    SHIPPED = 2  # the merchant used Ship Items
    PARTIALLY_SHIPPED = 3
    REFUNDED = 4  # the merchant used Refund
    CANCELLED = 5  # cancelled by the merchant
    DECLINED = 6  # declined by the merchant (no payment, or other reasons)
    AWAITING_PAYMENT = 7  # checkout complete, payment not yet confirmed
    AWAITING_PICKUP = 8  # pulled, waiting for the customer to collect it
    AWAITING_SHIPMENT = 9  # pulled and packed, waiting for a carrier
    COMPLETED = 10  # shipped and received, or digital goods delivered
    AWAITING_FULFILLMENT = 11  # checkout complete and payment confirmed
    MANUAL_VERIFICATION_REQUIRED = 12  # on hold until something is confirmed by hand
    DISPUTED = 13  # the shopper opened a (PayPal) dispute
    PARTIALLY_REFUNDED = 14


# Ready to fulfil: the statuses that mean "paid, for the warehouse to ship". Awaiting Pickup
# is left out (the shopper collects it: nothing to ship), and so are the statuses after
# shipping (2, 3, 10) and every status before payment (0, 1, 7, 12).
_FULFIL_STATUSES = frozenset({StatusId.AWAITING_FULFILLMENT, StatusId.AWAITING_SHIPMENT})
_CANCELLED_STATUSES = frozenset({StatusId.CANCELLED, StatusId.DECLINED})
# BigCommerce counts these statuses as paid; read only when no gateway reported a payment.
_PAID_STATUSES = frozenset(
    {
        StatusId.SHIPPED,
        StatusId.PARTIALLY_SHIPPED,
        StatusId.AWAITING_PICKUP,
        StatusId.AWAITING_SHIPMENT,
        StatusId.COMPLETED,
        StatusId.AWAITING_FULFILLMENT,
        StatusId.PARTIALLY_REFUNDED,
    }
)

# ``date_modified`` has whole seconds. Two saves in one second get one timestamp, and the
# second would be taken for a duplicate of the first; most often that is checkout, which moves
# a new order from Incomplete to Awaiting Fulfillment at once. The version is therefore
# date_modified in epoch ms plus the status's place in an order's life (under 1000, so a later
# second always wins): within one second the later stage is the newer version. Two saves in
# one second that keep the status (an address edit) remain indistinguishable.
_LIFECYCLE_RANK: dict[StatusId, int] = {
    StatusId.INCOMPLETE: 0,
    StatusId.PENDING: 1,
    StatusId.AWAITING_PAYMENT: 2,
    StatusId.MANUAL_VERIFICATION_REQUIRED: 3,
    StatusId.AWAITING_FULFILLMENT: 4,
    StatusId.AWAITING_SHIPMENT: 5,
    StatusId.AWAITING_PICKUP: 5,
    StatusId.PARTIALLY_SHIPPED: 6,
    StatusId.SHIPPED: 7,
    StatusId.COMPLETED: 8,
    StatusId.DISPUTED: 9,
    StatusId.PARTIALLY_REFUNDED: 10,
    StatusId.REFUNDED: 11,
    StatusId.DECLINED: 12,
    StatusId.CANCELLED: 12,
}

# ``payment_status`` as the v2 Orders API documents it ("" when no gateway took part: manual
# and offline payment methods, orders made in the control panel or through the API).
PaymentStatus = Literal[
    "authorized",
    "captured",
    "capture pending",
    "declined",
    "held for review",
    "paid",
    "partially refunded",
    "pending",
    "refunded",
    "void",
    "void pending",
    "",
]

_PAYMENT: dict[str, PaymentState] = {
    "captured": PaymentState.PAID,
    "paid": PaymentState.PAID,
    # Money was taken and only part of it went back: what was not refunded still ships.
    "partially refunded": PaymentState.PARTIALLY_REFUNDED,
    "refunded": PaymentState.REFUNDED,
    "void": PaymentState.VOIDED,
    # The gateway refused the payment: no money will come from it.
    "declined": PaymentState.VOIDED,
    # Authorized is not captured: it ships only for a client that fulfils on authorization.
    "authorized": PaymentState.AUTHORIZED,
    "capture pending": PaymentState.PENDING,
    "held for review": PaymentState.PENDING,
    "pending": PaymentState.PENDING,
    "void pending": PaymentState.PENDING,
}


def _rfc2822(value: object) -> object:
    """``date_modified`` is RFC 2822 text ("Wed, 05 Dec 2018 20:16:55 +0000")."""
    if not isinstance(value, str):
        raise ValueError('must be an RFC 2822 date such as "Wed, 05 Dec 2018 20:16:55 +0000"')
    try:
        moment = parsedate_to_datetime(value)
    except (ValueError, TypeError, OverflowError, IndexError):
        raise ValueError(
            'is not an RFC 2822 date such as "Wed, 05 Dec 2018 20:16:55 +0000"'
        ) from None
    # "-0000" means UTC with the local offset unknown; the parser leaves those naive.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


Id = Annotated[int, Field(strict=True, ge=1, le=2**63 - 1)]
AddressId = Annotated[int, Field(strict=True, ge=0, le=2**63 - 1)]
Text = Annotated[str | None, BeforeValidator(blank_to_none)]
SkuText = Annotated[Sku | None, BeforeValidator(blank_to_none)]
Country = Annotated[CountryCode | None, BeforeValidator(blank_to_none)]
Currency = Annotated[
    Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None,
    BeforeValidator(blank_to_none),
]
Rfc2822Datetime = Annotated[datetime, BeforeValidator(_rfc2822)]


# --- the webhook, as BigCommerce delivers it ------------------------------------------------


class _BigCommerceModel(Model):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _ProducerOnly(_BigCommerceModel):
    producer: str


class _ScopeOnly(_BigCommerceModel):
    # Read first, so an unknown scope is reported as such rather than as a bad payload.
    scope: str


class WebhookData(_BigCommerceModel):
    type: Literal["order"]
    id: Id


class BigCommerceWebhook(_BigCommerceModel):
    """The body of an order webhook; ``hash``, ``store_id`` and ``created_at`` are not read
    (deduplication is on the order version)."""

    scope: str
    producer: Annotated[str, StringConstraints(pattern=_PRODUCER.pattern)]
    data: WebhookData


# --- the order, as the v2 Orders API returns it (only the fields Shipshape reads) ----------


class BillingAddress(_BigCommerceModel):
    """The order's ``billing_address``: the buyer."""

    first_name: Text = None
    last_name: Text = None
    company: Text = None
    email: Text = None
    phone: Text = None


class BigCommerceOrder(_BigCommerceModel):
    """GET /v2/orders/{id}. Amounts are decimal strings ("361.9500")."""

    id: Id
    status_id: StatusId
    date_created: Rfc2822Datetime | None = None
    date_modified: Rfc2822Datetime
    payment_status: PaymentStatus
    # The transactional currency (what the shopper paid in; the amounts are in it) and the
    # display currency; v2 orders set the second to the first.
    default_currency_code: Currency = None
    currency_code: Currency = None
    total_inc_tax: Amount
    total_tax: Amount | None = None
    refunded_amount: Amount = Decimal("0")
    is_deleted: bool = False
    billing_address: BillingAddress = Field(default_factory=BillingAddress)


class OrderProduct(_BigCommerceModel):
    """One entry of GET /v2/orders/{id}/products; ``id`` is the order line's own id (what a
    shipment names), not the catalogue product's (``product_id``)."""

    id: Id
    order_id: Id | None = None
    order_address_id: AddressId | None = None  # which shipping address the line goes to
    name: str = ""
    sku: SkuText = None
    type: Literal["physical", "digital"]
    quantity: Quantity
    price_inc_tax: Amount


class ShippingAddress(_BigCommerceModel):
    """One entry of GET /v2/orders/{id}/shipping_addresses. ``state`` is the full name
    ("Texas"); address standardization turns it into a code where the country has them."""

    id: Id
    order_id: Id | None = None
    first_name: Text = None
    last_name: Text = None
    company: Text = None
    street_1: Text = None
    street_2: Text = None
    city: Text = None
    state: Text = None
    zip: Text = None
    country_iso2: Country = None
    email: Text = None
    phone: Text = None


class OrderBundle(_BigCommerceModel):
    """The three API reads of one order, as the storefront API client returns them."""

    order: BigCommerceOrder
    products: list[OrderProduct]
    shipping_addresses: list[ShippingAddress]


# --- the adapter --------------------------------------------------------------------------


# A store hash as BigCommerce issues them (lower-case letters and digits).
_CONTROL_PANEL_HASH = re.compile(r"[a-z0-9]{1,40}")


class BigCommerceAdapter(StorefrontAdapter):
    """Verifies BigCommerce ``store/order/*`` webhooks by their token header, names the order
    they point to, and normalizes the order read from the v2 Orders API."""

    platform = Platform.BIGCOMMERCE
    updated_at_field = "order.date_modified"

    def claimed_store(self, delivery: WebhookDelivery) -> str | None:
        return _store_hash(delivery.body)

    def verify(self, delivery: WebhookDelivery, secrets: Sequence[bytes]) -> None:
        presented = delivery.header(TOKEN_HEADER)
        if not presented:
            raise SignatureInvalid(f"missing {TOKEN_HEADER} header")
        if not _token_matches(presented, secrets):
            raise SignatureInvalid(f"{TOKEN_HEADER} header does not match the store's secret")
        # After the token: only a genuine sender learns that the body is what is wrong.
        if _store_hash(delivery.body) is None:
            raise SignatureInvalid(
                "the delivery does not name its store: producer must be stores/<store hash>"
            )

    def order_reference(self, delivery: WebhookDelivery) -> str:
        scope = parse_payload(_ScopeOnly, delivery.body).scope
        if scope not in SCOPES:
            raise UnsupportedTopic(
                f"BigCommerce scope {scope!r} is not handled; expected one of {sorted(SCOPES)}"
            )
        return str(parse_payload(BigCommerceWebhook, delivery.body).data.id)

    def normalize(self, delivery: WebhookDelivery) -> StorefrontOrder:
        raise UnsupportedPlatform(
            "BigCommerce webhooks carry only the order id: the order must be fetched from the "
            "store's API (order_reference, then normalize_resource)"
        )

    def normalize_resource(self, resource: bytes, store: str) -> StorefrontOrder:
        bundle = parse_payload(OrderBundle, resource)
        order = bundle.order
        _check_same_order(bundle)
        lines, other_lines, destinations = _lines(bundle.products)
        where, shipping = _shipping_address(bundle.shipping_addresses, destinations)
        currency = order.default_currency_code or order.currency_code
        if currency is None:
            raise PayloadInvalid("order.default_currency_code and order.currency_code are empty")
        payment = _payment(order)
        cancelled = order.status_id in _CANCELLED_STATUSES
        return canonical(
            lambda: StorefrontOrder(
                platform=self.platform,
                store=store,
                storefront_order_id=str(order.id),
                # BigCommerce shows shoppers the order id as the order number.
                order_number=str(order.id),
                version=epoch_ms(order.date_modified) + _LIFECYCLE_RANK[order.status_id],
                storefront_updated_at=order.date_modified,
                payment=payment,
                ready_to_fulfil=(
                    order.status_id in _FULFIL_STATUSES
                    and payment in (PaymentState.PAID, PaymentState.PARTIALLY_REFUNDED)
                    and not order.is_deleted
                ),
                cancelled=cancelled,
                currency=currency,
                total=order.total_inc_tax,
                tax=order.total_tax,
                storefront_created_at=order.date_created,
                customer=_customer(order.billing_address, shipping),
                shipping_address=_address(shipping, where, order.billing_address),
                destinations=max(1, len(destinations) or len(bundle.shipping_addresses)),
                lines=lines,
                other_lines=other_lines,
                # The order does not say which lines a refund was for (see the notes above).
                refunded_lines=None if _refunded_in_part(order, payment) else (),
                refunded_total=order.refunded_amount,
            )
        )

    def admin_url(self, store: str, storefront_order_id: str) -> str | None:
        """The order in the store's control panel (``store-<hash>.mybigcommerce.com``), when
        the configured store is a hash that can be a host name's first label."""
        if _CONTROL_PANEL_HASH.fullmatch(store) is None or not storefront_order_id.isdigit():
            return None
        return f"https://store-{store}.mybigcommerce.com/manage/orders/{storefront_order_id}"

    def normalize_product_resource(self, resource: bytes, store: StoreConfig) -> StorefrontProduct:
        """A product read from the v3 Catalog API with ``include=variants``."""
        return _catalog_product(parse_payload(BigCommerceProduct, resource), store)


bigcommerce_adapter = BigCommerceAdapter()


# --- the catalog (v3 Catalog API) ------------------------------------------------------------


class BigCommerceOptionValue(_BigCommerceModel):
    label: str = ""


class BigCommerceVariant(_BigCommerceModel):
    """One of a product's ``variants``; ``weight`` null: the product's weight applies."""

    id: int
    sku: Annotated[Sku | None, BeforeValidator(blank_to_none)] = None
    weight: float | None = None
    upc: Annotated[str | None, BeforeValidator(blank_to_none)] = None
    gtin: Annotated[str | None, BeforeValidator(blank_to_none)] = None
    purchasing_disabled: bool = False
    option_values: list[BigCommerceOptionValue] = []


class BigCommerceProduct(_BigCommerceModel):
    """A v3 Catalog product. ``weight`` is in the store's weight unit; ``availability``
    ``disabled`` takes it off sale; ``date_modified`` is ISO 8601."""

    id: int
    name: str = ""
    sku: Annotated[Sku | None, BeforeValidator(blank_to_none)] = None
    weight: float | None = None
    upc: Annotated[str | None, BeforeValidator(blank_to_none)] = None
    gtin: Annotated[str | None, BeforeValidator(blank_to_none)] = None
    availability: str = "available"
    date_modified: AwareDatetime
    variants: list[BigCommerceVariant] = []


def _catalog_product(product: BigCommerceProduct, store: StoreConfig) -> StorefrontProduct:
    """Each variant with a SKU (a product without options has one, its base variant)."""
    on_sale = product.availability != "disabled"
    variants = []
    for index, variant in enumerate(product.variants):
        if variant.sku is None:
            continue
        labels = " / ".join(v.label for v in variant.option_values if v.label)
        weight = variant.weight if variant.weight is not None else product.weight
        variants.append(
            StorefrontVariant(
                sku=variant.sku,
                variant_id=str(variant.id),
                title=(f"{product.name} - {labels}" if labels else product.name)[:200],
                barcode=variant.upc or variant.gtin or product.upc or product.gtin,
                unit_weight_grams=grams(weight, store.weight_unit, f"variants.{index}"),
                active=on_sale and not variant.purchasing_disabled,
            )
        )
    return canonical(
        lambda: StorefrontProduct(
            source=Platform.BIGCOMMERCE.value,
            store=store.store,
            product_id=str(product.id),
            version=epoch_ms(product.date_modified),
            variants=tuple(variants),
            variants_without_sku=len(product.variants) - len(variants),
        )
    )


# --- verification ---------------------------------------------------------------------------


def _store_hash(body: bytes) -> str | None:
    """The store hash in ``producer`` ("stores/abcde" -> "abcde"), or None. Unauthenticated."""
    try:
        producer = _ProducerOnly.model_validate_json(body).producer
    except ValidationError:
        return None
    match = _PRODUCER.fullmatch(producer)
    return match.group(1) if match else None


def _token_matches(presented: str, secrets: Sequence[bytes]) -> bool:
    """Constant time, whatever the lengths: compare SHA-256 digests of both sides, and every
    secret, not just until the first match."""
    offered = sha256(presented.encode("utf-8", "surrogatepass")).digest()
    matched = False
    for secret in secrets:
        # An empty secret is a configuration mistake; it must never open anything.
        matched |= bool(secret) and hmac.compare_digest(sha256(secret).digest(), offered)
    return matched


# --- mapping ------------------------------------------------------------------------------


def _payment(order: BigCommerceOrder) -> PaymentState:
    """The gateway's ``payment_status`` when there is one; otherwise the status says it (a
    merchant moving a bank-transfer order to Awaiting Fulfillment has confirmed the money)."""
    if order.payment_status:
        return _PAYMENT[order.payment_status]
    if order.status_id is StatusId.REFUNDED:
        return PaymentState.REFUNDED
    if order.status_id is StatusId.PARTIALLY_REFUNDED:
        return PaymentState.PARTIALLY_REFUNDED
    if order.status_id in _PAID_STATUSES:
        return PaymentState.PAID
    return PaymentState.PENDING


def _refunded_in_part(order: BigCommerceOrder, payment: PaymentState) -> bool:
    """Some money went back and some stands: the status, the gateway or the amount says so."""
    if payment is PaymentState.REFUNDED:
        return False
    return payment is PaymentState.PARTIALLY_REFUNDED or order.refunded_amount > 0


def _check_same_order(bundle: OrderBundle) -> None:
    # The three reads are separate calls: a line or address of another order must not ship.
    for index, product in enumerate(bundle.products):
        if product.order_id is not None and product.order_id != bundle.order.id:
            raise PayloadInvalid(f"products[{index}].order_id is not order {bundle.order.id}")
    for index, address in enumerate(bundle.shipping_addresses):
        if address.order_id is not None and address.order_id != bundle.order.id:
            raise PayloadInvalid(
                f"shipping_addresses[{index}].order_id is not order {bundle.order.id}"
            )


def _lines(
    products: Sequence[OrderProduct],
) -> tuple[tuple[OrderLine, ...], tuple[OtherLine, ...], list[int]]:
    """The lines to pick, the rest (digital products have nothing to ship; a physical one
    with no SKU waits for an operator to map it), and the ids of the shipping addresses the
    physical lines go to (none: not said)."""
    if not products:
        raise PayloadInvalid("products: the order has no product")
    destinations = sorted(
        {p.order_address_id for p in products if p.type != "digital" and p.order_address_id}
    )
    lines, others = split_lines([
        Line(str(p.id), p.sku, p.name, p.quantity, p.price_inc_tax, ships=p.type != "digital")
        for p in products
    ])  # fmt: skip
    # Several destinations (BigCommerce's multi-address checkout): the order is taken with the
    # first, and destinations says how many there are; address validation opens an
    # address_invalid for its owner, since Shipshape ships an order to one address.
    return lines, others, destinations


def _shipping_address(
    addresses: Sequence[ShippingAddress], destinations: Sequence[int]
) -> tuple[int, ShippingAddress | None]:
    """The address the physical lines go to (the first, when they go to several, or no
    product says which), and its index in ``shipping_addresses``."""
    for address_id in destinations:
        if not any(address.id == address_id for address in addresses):
            raise PayloadInvalid(
                f"products: order_address_id {address_id} is not among shipping_addresses"
            )
    for index, address in enumerate(addresses):
        if not destinations or address.id == destinations[0]:
            return index, address
    # No address at all: the workflow's address validation owns that problem.
    return 0, None


def _customer(billing: BillingAddress, shipping: ShippingAddress | None) -> Customer:
    name = full_name(billing.first_name, billing.last_name)
    if name is None and shipping is not None:
        name = full_name(shipping.first_name, shipping.last_name)
    return Customer(
        name=name,
        email=billing.email or (shipping.email if shipping else None),
        phone=billing.phone or (shipping.phone if shipping else None),
    )


def _address(
    shipping: ShippingAddress | None, index: int, billing: BillingAddress
) -> Address | None:
    if shipping is None:
        return None
    if shipping.country_iso2 is None:
        raise PayloadInvalid(
            f"shipping_addresses[{index}].country_iso2 is empty; Shipshape cannot ship without one"
        )
    return Address(
        name=full_name(shipping.first_name, shipping.last_name),
        company=shipping.company,
        # Incomplete fields still enter the record: address validation owns that problem, and
        # refusing would only make the same order fail again on every delivery.
        line1=shipping.street_1 or "",
        line2=shipping.street_2,
        city=shipping.city or "",
        region=shipping.state,
        postal_code=shipping.zip,
        country_code=shipping.country_iso2,
        phone=shipping.phone or billing.phone,
    )
