"""What a log line may not carry: customer PII and secrets, masked in the finished log record
just before the one Logger writes it (``MaskingFormatter``, installed in observability.py).

Masking goes by key, at any depth: a key that names customer data (the ``Customer`` and
``Address`` fields of the canonical model, and their spellings in the storefront payloads) or a
secret (webhook secrets, signatures, bearer and task tokens) has its whole value replaced,
whatever its shape, so an address block or a raw request body is masked as one. Everything
else is kept, so lines still carry ``order_id``, ``client_id`` and the rest. In free text (the
message, exception text, tracebacks) two shapes that cannot be anything else are masked as
well: e-mail addresses and ``Bearer`` credentials.

Powertools' ``DataMasking.erase`` does the same job by JSONPath, but it parses every path on
every call (about 6 ms per line for this key list) and adds ``jsonpath-ng`` to the cold start;
a walk over the record with a cached key test costs microseconds.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

if TYPE_CHECKING:
    from aws_lambda_powertools.logging.types import LogRecord

MASK = "*****"  # what Powertools' DataMasking.erase writes, so masked values read the same

# Customer data, by exact key (snake_case): Customer and Address in models.py; Shopify's
# customer and shipping/billing blocks (first_name, address1, zip, ...), WooCommerce's billing
# and shipping (address_1, postcode, ...), the generic format; free text a customer writes.
_PII_KEYS = frozenset(
    {
        "customer",
        "name", "first_name", "last_name", "full_name", "given_name", "family_name",
        "middle_name", "customer_name", "recipient_name", "company",
        "billing", "shipping",
        "line1", "line2", "address1", "address2", "address_1", "address_2",
        "street_1", "street_2", "city", "zip", "zip_code", "postcode",
        "latitude", "longitude",
        "note", "customer_note",
        # A request body is a storefront's payload (or an operator's correction), a document's
        # content a printed ship-to address: masked whole.
        "body", "content",
    }
)  # fmt: skip
# Customer data, by part of a key: shipping_address, billing_address, standardized_address,
# contact_email, postal_code, destination_postal_code, phone_number, street_address, ...
_PII_PARTS = ("email", "phone", "address", "postal", "street")
# Secrets, by part of a key: webhook secrets, signatures (X-Shopify-Hmac-Sha256,
# X-WC-Webhook-Signature, Shipshape-Signature), Authorization headers, task tokens.
_SECRET_PARTS = (
    "secret", "token", "password", "passwd", "authorization", "signature", "hmac",
    "api_key", "apikey", "cookie", "credential", "private_key",
)  # fmt: skip

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_BEARER = re.compile(r"\b(bearer)\s+[^\s'\",;]+", re.IGNORECASE)


@functools.lru_cache(maxsize=2048)
def is_sensitive(key: str) -> bool:
    """Whether a log key names customer data or a secret (``shippingAddress``,
    ``X-Shopify-Hmac-Sha256`` and ``shipping_address`` alike)."""
    normalized = _CAMEL.sub("_", key).lower().replace("-", "_")
    return (
        normalized in _PII_KEYS
        or any(part in normalized for part in _PII_PARTS)
        or any(part in normalized for part in _SECRET_PARTS)
    )


def mask_text(text: str) -> str:
    """Free text with e-mail addresses and bearer credentials masked."""
    if "@" in text:  # the e-mail pattern is slow on long text without one
        text = _EMAIL.sub(MASK, text)
    return _BEARER.sub(lambda match: f"{match.group(1)} {MASK}", text)


def masked(value: Any) -> Any:
    """A copy of a log value with sensitive keys masked at any depth and free text cleaned.

    Values JSON cannot hold are turned into JSON first (a pydantic model into its fields,
    anything else into its ``str``, as the formatter would), so they are masked too.
    """
    if isinstance(value, str):
        return mask_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Mapping):
        return {
            key: MASK if is_sensitive(str(key)) and item is not None else masked(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [masked(item) for item in value]
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return masked(dump(mode="json"))
    return mask_text(str(value))


class MaskingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter, masking customer PII and secrets in the finished record
    (extra keys, appended keys, the message, the exception and its stack trace)."""

    def serialize(self, log: LogRecord) -> str:
        return super().serialize(masked(log))
