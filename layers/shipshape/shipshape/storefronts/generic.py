"""Shipshape's own signed order webhook, for custom shops, mapped into ``StorefrontOrder``.

This is a public format: senders build it from this description.

Headers
    ``Shipshape-Source``: the sender's store name as configured for the client (``kite-and-kin``).
    ``Shipshape-Signature``: ``t=<unix seconds>,v1=<hex HMAC-SHA256>``. The digest is taken
    with the webhook secret over ``<t>.<raw body>``, ``<t>`` exactly as written in the header.
    Several ``v1=`` entries may appear (a sender rotating secrets signs with both); one match
    is enough. Unknown keys (a future ``v2=``) are ignored. ``t`` must be within the tolerance
    (300 s by default) of the time Shipshape receives the delivery, which bounds replays.

Body (JSON, UTF-8; unknown fields are rejected so typos surface at once)::

    {
      "event": "order.upsert" | "order.cancelled",
      "order": {
        "id": "KK-20261120-0042",            # the shop's order id, 1-64 characters
        "number": "KK-1042" | null,          # what the shopper sees; optional
        "version": 3,                        # integer, 1 to 2^63-1; must grow with every change
        "updated_at": "2026-11-20T15:15:32+00:00",   # ISO 8601 with an offset; not in the
                                             # future (5 minutes of clock skew allowed)
        "payment_status": "pending" | "paid" | "refunded" | "voided",
        "currency": "GBP",                   # ISO 4217, upper case
        "total": "87.45",                    # amounts are decimal strings, never JSON numbers
        "customer": {"name": ..., "email": ..., "phone": ...},          # all optional
        "shipping_address": {
          "name": ..., "company": ..., "line1": "12 Hawthorn Road", "line2": ...,
          "city": "Bristol", "region": ..., "postal_code": "BS7 8PT",
          "country_code": "GB", "phone": ...
        },                                   # line1, city and country_code are required
        "lines": [
          {"line_id": "1", "sku": "KITE-DELTA-RED", "title": "Delta kite, red",
           "quantity": 1, "unit_price": "54.95"}
        ]                                    # at least one line; every line is shipped
      }
    }

``order.upsert`` reports the order as it now is: Shipshape starts fulfilment once
``payment_status`` is ``paid``. ``order.cancelled`` stops it. Deliveries may repeat or arrive
out of order; ``version`` decides which one is newest, not ``updated_at``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

from shipshape.base import Model
from shipshape.errors import PayloadInvalid, SignatureInvalid, UnsupportedTopic
from shipshape.models import (
    Address,
    AwareDatetime,
    CountryCode,
    Customer,
    OrderLine,
    PaymentState,
    Platform,
    Quantity,
    Sku,
    StorefrontOrder,
    Version,
)
from shipshape.storefronts.base import (
    StorefrontAdapter,
    WebhookDelivery,
    as_is,
    canonical,
    decode_hex_digest,
    digest_matches,
    parse_payload,
)

SIGNATURE_HEADER = "Shipshape-Signature"
SOURCE_HEADER = "Shipshape-Source"

UPSERT_EVENT = "order.upsert"
CANCELLED_EVENT = "order.cancelled"
EVENTS = frozenset({UPSERT_EVENT, CANCELLED_EVENT})

DEFAULT_TOLERANCE = timedelta(seconds=300)

_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")


def _decimal_text(value: object) -> object:
    # Amounts travel as strings: a JSON number passes through a binary float in most senders.
    if not isinstance(value, str):
        raise ValueError('must be a decimal string such as "24.00"')
    return value


Money = Annotated[Decimal, BeforeValidator(_decimal_text), Field(ge=0)]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
ShortId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


# --- the payload: Shipshape's format, so unknown fields are errors ------------------------


class _GenericModel(Model):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GenericCustomer(_GenericModel):
    """Who bought; every field optional."""

    name: str | None = None
    email: str | None = None
    phone: str | None = None


class GenericAddress(_GenericModel):
    """Where the order ships."""

    name: str | None = None
    company: str | None = None
    line1: Line
    line2: str | None = None
    city: Line
    region: str | None = None
    postal_code: str | None = None
    country_code: CountryCode
    phone: str | None = None


class GenericLine(_GenericModel):
    """One line to pick and ship."""

    line_id: ShortId
    sku: Sku
    title: str = ""
    quantity: Quantity
    unit_price: Money


class GenericOrder(_GenericModel):
    """The order as the shop sees it now."""

    id: ShortId
    number: str | None = None
    version: Version
    updated_at: AwareDatetime
    payment_status: PaymentState
    currency: CurrencyCode
    total: Money
    customer: GenericCustomer = GenericCustomer()
    shipping_address: GenericAddress
    lines: list[GenericLine] = Field(min_length=1)


class GenericWebhook(_GenericModel):
    """The whole body of a generic delivery."""

    event: Literal["order.upsert", "order.cancelled"]
    order: GenericOrder


class _EventOnly(Model):
    # Read first, so an unknown event is reported as such rather than as a bad order.
    model_config = ConfigDict(extra="ignore")

    event: str


# --- the adapter --------------------------------------------------------------------------


class GenericAdapter(StorefrontAdapter):
    """Verifies and normalizes Shipshape's own signed order webhook (see the module docstring).

    ``tolerance`` bounds how far the signed timestamp may be from the receipt time, either way.
    """

    platform = Platform.GENERIC
    updated_at_field = "order.updated_at"

    def __init__(self, tolerance: timedelta = DEFAULT_TOLERANCE) -> None:
        if tolerance <= timedelta(0):
            raise ValueError("tolerance must be positive")
        self._tolerance = tolerance

    def claimed_store(self, delivery: WebhookDelivery) -> str | None:
        return delivery.header(SOURCE_HEADER) or None

    def verify(self, delivery: WebhookDelivery, secrets: Sequence[bytes]) -> None:
        presented = delivery.header(SIGNATURE_HEADER)
        if not presented:
            raise SignatureInvalid(f"missing {SIGNATURE_HEADER} header")
        timestamp, digests = _parse_signature_header(presented)
        message = timestamp.encode() + b"." + delivery.body
        matched = False
        for digest in digests:
            # No early exit: the timing should not tell which entry matched.
            matched |= digest_matches(digest, secrets, message, as_is)
        if not matched:
            raise SignatureInvalid(f"{SIGNATURE_HEADER} header does not match the body")
        # Checked after the digest, so only a genuine but old (or early) delivery reaches it.
        skew = abs(delivery.received_at.timestamp() - int(timestamp))
        if skew > self._tolerance.total_seconds():
            raise SignatureInvalid(
                f"signature timestamp is outside the {self._tolerance.total_seconds():g} s "
                "tolerance"
            )

    def normalize(self, delivery: WebhookDelivery) -> StorefrontOrder:
        event = parse_payload(_EventOnly, delivery.body).event
        if event not in EVENTS:
            raise UnsupportedTopic(
                f"generic event {event!r} is not handled; expected one of {sorted(EVENTS)}"
            )
        store = self.claimed_store(delivery)
        if store is None:
            raise PayloadInvalid(f"missing {SOURCE_HEADER} header")

        webhook = parse_payload(GenericWebhook, delivery.body)
        order = webhook.order
        cancelled = webhook.event == CANCELLED_EVENT
        return canonical(
            lambda: StorefrontOrder(
                platform=self.platform,
                store=store,
                storefront_order_id=order.id,
                order_number=order.number,
                # The sender's own counter: timestamps collide within a second, versions do not.
                version=order.version,
                storefront_updated_at=order.updated_at,
                payment=order.payment_status,
                ready_to_fulfil=order.payment_status is PaymentState.PAID and not cancelled,
                cancelled=cancelled,
                currency=order.currency,
                total=order.total,
                customer=Customer(
                    name=order.customer.name,
                    email=order.customer.email,
                    phone=order.customer.phone,
                ),
                shipping_address=_address(order.shipping_address),
                lines=tuple(_line(line) for line in order.lines),
            )
        )


generic_adapter = GenericAdapter()


# --- mapping ------------------------------------------------------------------------------


def _address(address: GenericAddress) -> Address:
    return Address(
        name=address.name,
        company=address.company,
        line1=address.line1,
        line2=address.line2,
        city=address.city,
        region=address.region,
        postal_code=address.postal_code,
        country_code=address.country_code,
        phone=address.phone,
    )


def _line(line: GenericLine) -> OrderLine:
    return OrderLine(
        line_id=line.line_id,
        sku=line.sku,
        title=line.title,
        quantity=line.quantity,
        unit_price=line.unit_price,
    )


def _parse_signature_header(value: str) -> tuple[str, list[bytes]]:
    """Split ``t=...,v1=...[,v1=...]`` into the timestamp text and the presented digests."""
    timestamps: list[str] = []
    signatures: list[str] = []
    for element in value.split(","):
        key, sep, item = element.strip().partition("=")
        if not sep:
            raise SignatureInvalid(
                f"{SIGNATURE_HEADER} header is malformed; expected t=<unix seconds>,v1=<hex>"
            )
        if key == "t":
            timestamps.append(item)
        elif key == "v1":
            signatures.append(item)
    if not timestamps:
        raise SignatureInvalid(f"{SIGNATURE_HEADER} header has no t= timestamp")
    if len(timestamps) > 1:
        raise SignatureInvalid(f"{SIGNATURE_HEADER} header has more than one t= timestamp")
    timestamp = timestamps[0]
    # At most 12 ASCII digits: rejects "²" (which isdigit accepts), milliseconds sent by
    # mistake, and digit strings long enough to make int() itself fail.
    if _UNIX_SECONDS.fullmatch(timestamp) is None:
        raise SignatureInvalid(f"{SIGNATURE_HEADER} t= is not an integer number of seconds")
    if not signatures:
        raise SignatureInvalid(f"{SIGNATURE_HEADER} header has no v1= signature")
    return timestamp, [decode_hex_digest(signature, SIGNATURE_HEADER) for signature in signatures]
