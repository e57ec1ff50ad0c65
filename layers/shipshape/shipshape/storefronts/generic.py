"""Shipshape's own signed order webhook, for custom shops, mapped into ``StorefrontOrder``.

This is a public format: senders build it from this description.

Headers
    ``Shipshape-Source``: the sender's store name as configured for the client (``kite-and-kin``).
    Then a signature, in either of two schemes, both with the store's webhook secret:

    ``Shipshape-Signature``: ``t=<unix seconds>,v1=<hex HMAC-SHA256>``. The digest is taken
    with the webhook secret over ``<t>.<raw body>``, ``<t>`` exactly as written in the header.
    Several ``v1=`` entries may appear (a sender rotating secrets signs with both); one match
    is enough. Unknown keys (a future ``v2=``) are ignored. ``t`` must be within the tolerance
    (300 s by default) of the time Shipshape receives the delivery, which bounds replays.

    Standard Webhooks (https://www.standardwebhooks.com/), as its libraries send it:
    ``webhook-id`` (the message id: 1 to 256 printable ASCII characters, no ``.``, the same on
    every retry), ``webhook-timestamp`` (unix seconds, no leading zeros) and
    ``webhook-signature``: space-separated ``v1,<base64 HMAC-SHA256>`` entries, each over
    ``<webhook-id>.<webhook-timestamp>.<raw body>``. One matching ``v1`` entry is enough; other
    versions (the asymmetric ``v1a``) are ignored. The body must be UTF-8 (JSON is). The key is
    the webhook secret's bytes: a sender configures it as ``whsec_`` + base64(secret). A secret
    stored in the ``whsec_<base64>`` form itself (a Standard Webhooks sender issued it) also
    opens with the key it decodes to, so it can be stored exactly as the sender shows it. The
    timestamp has the same tolerance as ``t`` above.

    Any ``webhook-*`` header selects Standard Webhooks, and then all three are required. A
    sender moving over may send both schemes at once (as the Standard Webhooks spec suggests);
    each one present must then verify.

Body (JSON, UTF-8; unknown fields are rejected so typos surface at once)::

    {
      "event": "order.upsert" | "order.cancelled",
      "order": {
        "id": "KK-20261120-0042",            # the shop's order id, 1-64 characters
        "number": "KK-1042" | null,          # what the shopper sees; optional
        "version": 3,                        # integer, 1 to 2^63-1; must grow with every change
        "updated_at": "2026-11-20T15:15:32+00:00",   # ISO 8601 with an offset; not in the
                                             # future (5 minutes of clock skew allowed)
        "payment_status": "pending" | "paid" | "refunded" | "voided",   # also "authorized",
                                             # "partially_paid", "partially_refunded"
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
``payment_status`` is ``paid``. ``order.cancelled`` stops it. A ``partially_paid`` order waits
with its owner; ``partially_refunded`` says no lines, so an order in fulfilment then waits in
a payment_mismatch for a person to decide which units went back. Deliveries may repeat or arrive
out of order; ``version`` decides which one is newest, not ``updated_at``. That is also what
makes a redelivery harmless: the same body carries the same version and is answered as a
duplicate, whatever its ``webhook-id`` (which Shipshape checks and signs over, but does not
store).
"""

import base64
import hmac
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

# The verification module alone: the package's __init__ imports only it (the standard
# library's base64, hashlib, hmac, json and datetime underneath; no HTTP client).
from standardwebhooks.webhooks import Webhook

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
    decode_base64_digest,
    decode_hex_digest,
    digest_matches,
    parse_payload,
)

SIGNATURE_HEADER = "Shipshape-Signature"
SOURCE_HEADER = "Shipshape-Source"
# Standard Webhooks' three headers, named (lower case) as its specification writes them.
STANDARD_ID_HEADER = "webhook-id"
STANDARD_TIMESTAMP_HEADER = "webhook-timestamp"
STANDARD_SIGNATURE_HEADER = "webhook-signature"
STANDARD_HEADERS = (STANDARD_ID_HEADER, STANDARD_TIMESTAMP_HEADER, STANDARD_SIGNATURE_HEADER)
STANDARD_SECRET_PREFIX = b"whsec_"

UPSERT_EVENT = "order.upsert"
CANCELLED_EVENT = "order.cancelled"
EVENTS = frozenset({UPSERT_EVENT, CANCELLED_EVENT})

DEFAULT_TOLERANCE = timedelta(seconds=300)

_UNIX_SECONDS = re.compile(r"[0-9]{1,12}")
# No leading zeros: the library signs str(int(timestamp)), which is then the header's text.
# At most 11 digits (year 5138), so the instant is always a datetime.
_STANDARD_SECONDS = re.compile(r"0|[1-9][0-9]{0,10}")
# The spec asks that the id cannot carry a "." (the signed text is id.timestamp.body).
_MESSAGE_ID = re.compile(r"[!-\-/-~]{1,256}")


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
    customer: GenericCustomer = Field(default_factory=GenericCustomer)
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
        # Any webhook-* header means the sender speaks Standard Webhooks; a sender moving over
        # may also still send Shipshape-Signature, and then that one must verify too.
        if any(delivery.header(name) is not None for name in STANDARD_HEADERS):
            self._verify_standard(delivery, secrets)
            if delivery.header(SIGNATURE_HEADER) is None:
                return
        self._verify_shipshape(delivery, secrets)

    def _verify_shipshape(self, delivery: WebhookDelivery, secrets: Sequence[bytes]) -> None:
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

    def _verify_standard(self, delivery: WebhookDelivery, secrets: Sequence[bytes]) -> None:
        """Standard Webhooks, its digest made by the official library (``Webhook.sign``).

        The library's own ``Webhook.verify`` is not used: it reads the machine's wall clock
        with a fixed five minutes (Shipshape's clock is ``received_at``), checks the time
        before the signature, takes one secret at a time, and raises ValueError or
        UnicodeDecodeError (a 500) on an entry without a comma or a body that is not UTF-8.
        """
        message_id, timestamp, presented, text = _parse_standard_headers(delivery)
        signed_at = datetime.fromtimestamp(int(timestamp), UTC)
        matched = False
        # Every key against every entry, no early exit: the timing tells nothing.
        for key in (key for secret in secrets for key in standard_webhooks_keys(secret)):
            signature = Webhook(key).sign(msg_id=message_id, timestamp=signed_at, data=text)
            expected = base64.b64decode(signature.partition(",")[2])
            for digest in presented:
                matched |= hmac.compare_digest(expected, digest)
        if not matched:
            raise SignatureInvalid(f"{STANDARD_SIGNATURE_HEADER} header does not match the body")
        # After the digest, as above: only a genuine delivery learns about the clock.
        behind = delivery.received_at.timestamp() - int(timestamp)
        limit = self._tolerance.total_seconds()
        if abs(behind) > limit:
            raise SignatureInvalid(
                f"{STANDARD_TIMESTAMP_HEADER} {timestamp} ({signed_at.isoformat()}) is "
                f"{_seconds(abs(behind))} s {'before' if behind > 0 else 'after'} Shipshape's "
                f"clock ({delivery.received_at.astimezone(UTC).isoformat()}), more than the "
                f"{_seconds(limit)} s tolerance: "
                + ("refused as a possible replay" if behind > 0 else "is the sender's clock fast?")
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
                # The body does not say which lines a partial refund was for.
                refunded_lines=(
                    None if order.payment_status is PaymentState.PARTIALLY_REFUNDED else ()
                ),
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


def standard_webhooks_keys(secret: bytes) -> list[bytes]:
    """The HMAC keys a stored webhook secret opens Standard Webhooks deliveries with.

    The secret's own bytes (the sender holds ``whsec_`` + base64 of them) and, for a secret
    stored as ``whsec_<base64>`` (as a Standard Webhooks sender issues one), the bytes it
    decodes to, which is what the sender's library signs with. An empty secret opens nothing
    (the empty key is one anyone can sign with).
    """
    if not secret:
        return []
    keys = [secret]
    if secret.startswith(STANDARD_SECRET_PREFIX):
        encoded = secret.removeprefix(STANDARD_SECRET_PREFIX)
        try:  # padding is optional in the whsec_ form, as the libraries read it
            decoded = base64.b64decode(encoded + b"=" * (-len(encoded) % 4), validate=True)
        except ValueError:  # not base64 after all: a raw secret that starts with whsec_
            decoded = b""
        if decoded:
            keys.append(decoded)
    return keys


def _parse_standard_headers(delivery: WebhookDelivery) -> tuple[str, str, list[bytes], str]:
    """Check the three Standard Webhooks headers and the body: the message id, the timestamp
    text, the presented ``v1`` digests and the body as text, or ``SignatureInvalid`` naming
    what is wrong."""
    values = {name: delivery.header(name) or "" for name in STANDARD_HEADERS}
    missing = [name for name, value in values.items() if not value]
    if missing:
        names = ", ".join(missing[:-1]) + " and " + missing[-1] if missing[1:] else missing[0]
        raise SignatureInvalid(
            f"missing {names} header{'s' if len(missing) > 1 else ''} "
            "(Standard Webhooks sends webhook-id, webhook-timestamp and webhook-signature)"
        )
    message_id = values[STANDARD_ID_HEADER]
    if _MESSAGE_ID.fullmatch(message_id) is None:
        raise SignatureInvalid(
            f"{STANDARD_ID_HEADER} header must be 1 to 256 printable ASCII characters, "
            "without spaces or '.'"
        )
    timestamp = values[STANDARD_TIMESTAMP_HEADER]
    if _STANDARD_SECONDS.fullmatch(timestamp) is None:
        raise SignatureInvalid(
            f"{STANDARD_TIMESTAMP_HEADER} header is not a unix time in whole seconds "
            "(at most 11 digits, no leading zeros)"
        )
    presented: list[bytes] = []
    for entry in values[STANDARD_SIGNATURE_HEADER].split():
        version, comma, value = entry.partition(",")
        if not comma or not version:
            raise SignatureInvalid(
                f"{STANDARD_SIGNATURE_HEADER} header is malformed; expected space-separated "
                "v1,<base64> entries"
            )
        if version == "v1":
            presented.append(
                decode_base64_digest(value, STANDARD_SIGNATURE_HEADER, part="v1 entry")
            )
    if not presented:
        raise SignatureInvalid(
            f"{STANDARD_SIGNATURE_HEADER} header has no v1 entry; Shipshape checks symmetric "
            "(v1, HMAC-SHA256) signatures only"
        )
    try:
        # The library signs text; strict UTF-8 decodes and encodes back to the same bytes.
        text = delivery.body.decode("utf-8")
    except UnicodeDecodeError:
        raise SignatureInvalid(
            f"{STANDARD_SIGNATURE_HEADER} cannot be checked: the body is not UTF-8"
        ) from None
    return message_id, timestamp, presented, text


def _seconds(value: float) -> str:
    """Seconds as a person reads them: 600, 300.5 (never 6e+02)."""
    return f"{value:.3f}".rstrip("0").rstrip(".")
