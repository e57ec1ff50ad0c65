"""The storefront adapter port: one adapter per platform, one canonical model for all.

An adapter answers three questions about a webhook delivery, in this order:
1. which store claims to have sent it (``claimed_store``, from headers, unauthenticated);
2. is it really signed by that store's secret (``verify``, over the raw body, fail-closed);
3. what order version does it carry (``normalize``, into ``StorefrontOrder``).
"""

import base64
import hmac
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ValidationError

from shipshape.config import StoreConfig
from shipshape.errors import PayloadInvalid, SignatureInvalid, UnsupportedPlatform
from shipshape.models import (
    LineKind,
    OrderLine,
    OtherLine,
    Platform,
    StorefrontOrder,
    StorefrontProduct,
)


@dataclass(frozen=True)
class WebhookDelivery:
    """A delivery as it reached us: header names lower-cased, the body as raw bytes."""

    headers: Mapping[str, str]
    body: bytes
    received_at: datetime

    def header(self, name: str) -> str | None:
        value = self.headers.get(name.lower())
        return value.strip() if value is not None else None


# How far ahead of Shipshape's clock a storefront's update time may be. Storefronts order
# versions by that time (Shopify, WooCommerce and BigCommerce have no other counter), so a
# stamp far in the future would make every real change after it, a cancellation included,
# look older and be dropped as stale. Servers kept by NTP agree within a second; five minutes
# also covers a merchant's own host (WooCommerce stamps with it) running somewhat fast, and it
# is the window the generic format's signature timestamp already allows, so one skew budget
# holds for the whole product. A genuine stamp this far ahead means a clock to fix, which the
# refusal names.
FUTURE_TOLERANCE = timedelta(minutes=5)


class StorefrontAdapter(ABC):
    platform: Platform
    # Where the platform's payload carries the update time (``storefront_updated_at``), as the
    # caller would name it in a refusal.
    updated_at_field: str

    @abstractmethod
    def claimed_store(self, delivery: WebhookDelivery) -> str | None:
        """The store the delivery says it comes from, or None when it does not say."""

    @abstractmethod
    def verify(self, delivery: WebhookDelivery, secrets: Sequence[bytes]) -> None:
        """Raise ``SignatureInvalid`` unless one of ``secrets`` signed this exact body.

        Several secrets are accepted so a rotation can keep the old one for a while. Messages
        name the header and the problem, never a secret or an expected digest.
        """

    @abstractmethod
    def normalize(self, delivery: WebhookDelivery) -> StorefrontOrder:
        """Map the (already verified) delivery to one canonical order version.

        Raises ``UnsupportedTopic`` for topics Shipshape does not handle and ``PayloadInvalid``
        naming the first bad field for anything malformed.
        """

    def order_reference(self, delivery: WebhookDelivery) -> str | None:
        """For platforms whose webhooks carry only a pointer (BigCommerce): the storefront
        order id to fetch from the API, after ``verify``. None when the delivery carries the
        order itself and ``normalize`` reads it."""
        return None

    def normalize_resource(self, resource: bytes, store: str) -> StorefrontOrder:
        """Map an order read from the storefront's API (reconciliation, or the fetch after a
        pointer-only webhook) into one canonical order version. ``store`` is the configured
        store it was read from. ``PayloadInvalid`` names the first bad field."""
        raise UnsupportedPlatform(f"{self.platform.value} orders cannot be read from an API")

    def is_catalog(self, delivery: WebhookDelivery) -> bool:
        """The delivery reports a product (the catalog sync takes it), not an order. Read from
        the topic header before ``verify``; the catalog path verifies it just the same."""
        return False

    def normalize_product(self, delivery: WebhookDelivery, store: StoreConfig) -> StorefrontProduct:
        """Map a verified product delivery to one product version (its variants)."""
        raise UnsupportedPlatform(f"{self.platform.value} product webhooks are not handled")

    def normalize_product_resource(self, resource: bytes, store: StoreConfig) -> StorefrontProduct:
        """Map a product read from the storefront's API to one product version."""
        raise UnsupportedPlatform(f"{self.platform.value} products cannot be read from an API")

    def admin_url(self, store: str, storefront_order_id: str) -> str | None:
        """Where an operator opens the order in the storefront's own admin (None: the
        platform has no address for one order Shipshape can build)."""
        return None

    def check_not_ahead(self, order: StorefrontOrder, now: datetime) -> None:
        """Raise ``PayloadInvalid`` naming the platform's field when ``order`` says it changed
        more than ``FUTURE_TOLERANCE`` after ``now`` (Shipshape's clock, never the wall clock
        of whichever machine runs this)."""
        ahead = order.storefront_updated_at - now
        if ahead > FUTURE_TOLERANCE:
            raise PayloadInvalid(
                f"{self.updated_at_field}: {order.storefront_updated_at.isoformat()} is "
                f"{_span(ahead)} ahead of Shipshape's clock ({now.isoformat()}); at most "
                f"{_span(FUTURE_TOLERANCE)} is allowed for clock skew, since a time in the "
                "future would make every real change to the order look older"
            )


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds >= 2 * 86_400:
        return f"{seconds // 86_400} days"
    return f"{seconds} s"


def digest_matches(
    presented: bytes,
    secrets: Sequence[bytes],
    message: bytes,
    encode: Callable[[bytes], bytes],
) -> bool:
    """Constant-time check of ``presented`` against HMAC-SHA256(secret, message) per secret.

    ``encode`` turns the raw digest into the header's text form (base64 or hex bytes). An
    empty secret opens nothing: the empty key is a valid HMAC key anyone can sign with, so a
    store configured with one (a configuration mistake) is closed, not open.
    """
    matched = False
    for secret in secrets:
        expected = encode(hmac.digest(secret, message, "sha256"))
        # Compare against every secret, not just until the first match, so timing says nothing.
        matched |= hmac.compare_digest(expected, presented) and bool(secret)
    return matched


def parse_payload[M: BaseModel](model: type[M], body: bytes) -> M:
    """Validate the JSON body against a platform payload model with a precise message."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise PayloadInvalid(f"{where}: {first['msg']}{more}") from None


# --- small helpers the platform adapters share ------------------------------------------

# The platforms' weight units (Shopify: g, kg, oz, lb; WooCommerce: the same and lbs).
GRAMS_PER_UNIT: dict[str, Decimal] = {
    "g": Decimal(1),
    "kg": Decimal(1000),
    "oz": Decimal("28.349523125"),
    "lb": Decimal("453.59237"),
    "lbs": Decimal("453.59237"),
}


def grams(weight: object, unit: str | None, where: str) -> int | None:
    """A platform's weight in whole grams (None for no weight: 0, blank or absent)."""
    if weight is None or (isinstance(weight, str) and not weight.strip()):
        return None
    try:
        amount = Decimal(str(weight))
    except InvalidOperation:
        raise PayloadInvalid(f"{where}: weight {weight!r} is not a number") from None
    factor = GRAMS_PER_UNIT.get((unit or "g").strip().lower())
    if factor is None:
        raise PayloadInvalid(
            f"{where}: weight unit {unit!r} is not one of {', '.join(GRAMS_PER_UNIT)}"
        )
    if not amount.is_finite() or amount < 0:
        raise PayloadInvalid(f"{where}: weight {weight!r} is not a weight")
    value = int((amount * factor).to_integral_value())
    return value or None


_SHA256_BYTES = 32
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def decimal_scalar(value: object) -> object:
    """An amount is a number or a numeric string. pydantic hands a JSON array to Decimal(),
    which reads it as a (sign, digits, exponent) tuple: [0, [1, 2], -2] would be taken as 0.12
    and [null, null, null] raised an error that was not a validation error (a 500)."""
    if isinstance(value, list | tuple | dict):
        raise ValueError('must be a number or a decimal string such as "24.00"')
    return value


Amount = Annotated[Decimal, BeforeValidator(decimal_scalar)]


def blank_to_none(value: object) -> object:
    """Storefronts send "" and null interchangeably for absent text (address2, company)."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


def full_name(first: str | None, last: str | None) -> str | None:
    return " ".join(part for part in (first, last) if part) or None


@dataclass(frozen=True)
class Line:
    """One line of a platform's order, as its adapter reads it."""

    line_id: str
    sku: str | None
    title: str
    quantity: int
    unit_price: Decimal
    ships: bool = True  # False: nothing to ship (digital, gift card, tip, service)


def split_lines(lines: Sequence[Line]) -> tuple[tuple[OrderLine, ...], tuple[OtherLine, ...]]:
    """The lines to pick (they ship and have a SKU), and the others, kept beside them: those
    with nothing to ship, and those to ship with no SKU yet (a catalog_mismatch maps them)."""
    picked: list[OrderLine] = []
    others: list[OtherLine] = []
    for line in lines:
        fields = {"line_id": line.line_id, "title": line.title, "quantity": line.quantity,
                  "unit_price": line.unit_price}  # fmt: skip
        if line.ships and line.sku is not None:
            picked.append(OrderLine(sku=line.sku, **fields))
        else:
            kind = LineKind.NO_SKU if line.ships else LineKind.NOT_SHIPPED
            others.append(OtherLine(kind=kind, sku=line.sku, **fields))
    return tuple(picked), tuple(others)


_SHIPPED_MAX = 2**32 - 1


def lifecycle_rank(*, ended: bool, paid: int, shipped_units: int = 0) -> int:
    """What a version says, as one number, for two versions stamped in the same instant
    (``orders/create`` then ``orders/paid`` within a second carry one ``updated_at``): an
    ended order (cancelled, refunded, voided) outranks any other, then how far payment got
    (``paid``, the platform's own order of its payment states, 0 for none), then how many
    units have shipped. A redelivery says the same, so it stays a duplicate."""
    return (int(ended) << 48) | (min(paid, 0xFFFF) << 32) | min(max(shipped_units, 0), _SHIPPED_MAX)


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the epoch, by integer arithmetic (floats can round a ms wrong)."""
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def decode_base64_digest(presented: str, header: str, *, part: str = "header") -> bytes:
    """The raw HMAC-SHA256 digest from a base64 value, or ``SignatureInvalid`` naming the
    header and the ``part`` of it that holds the value."""
    try:
        digest = base64.b64decode(presented, validate=True)
    except ValueError:  # binascii.Error for bad base64, plain ValueError for non-ASCII text
        raise SignatureInvalid(f"{header} {part} is not base64") from None
    if len(digest) != _SHA256_BYTES:
        raise SignatureInvalid(f"{header} {part} is not an HMAC-SHA256 digest")
    return digest


def decode_hex_digest(presented: str, header: str) -> bytes:
    """The raw HMAC-SHA256 digest from a hex value, or ``SignatureInvalid``."""
    try:
        digest = bytes.fromhex(presented)
    except ValueError:
        raise SignatureInvalid(f"{header} v1= value is not hex") from None
    if len(digest) != _SHA256_BYTES:
        raise SignatureInvalid(f"{header} v1= value is not an HMAC-SHA256 digest")
    return digest


def as_is(digest: bytes) -> bytes:
    """The identity encoder for ``digest_matches`` when the header was decoded already."""
    return digest


def canonical[T](build: Callable[[], T]) -> T:
    """Build the canonical order from an already-validated payload. The payload models hold
    every canonical bound; this safety net keeps any drift between the two a 4xx naming the
    field, never a crash."""
    try:
        return build()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise PayloadInvalid(f"order does not fit Shipshape: {where}: {first['msg']}") from None
