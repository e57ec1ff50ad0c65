"""Helpers shared by tests: real-shaped events from ``tests/events`` and platform signatures,
and where the clients' configuration lives.

The signers follow each platform's documentation independently of the production code, so a
test that signs with them checks the adapters against the platforms, not against themselves.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from shipshape.storefronts.base import WebhookDelivery

EVENTS_DIR = Path(__file__).parent / "events"
# The clients' configuration files, as deployed in the client config layer.
CLIENTS_DIR = Path(__file__).parents[1] / "config" / "clients"
# The execution a workflow step runs in, as the state machine names it for an order.
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:fulfillment:ord"


def load_event(relative_path: str) -> bytes:
    """The raw bytes of ``tests/events/<relative_path>``, exactly as a platform would send them."""
    return (EVENTS_DIR / relative_path).read_bytes()


def sign_shopify(body: bytes, secret: bytes) -> str:
    """``X-Shopify-Hmac-Sha256``: base64(HMAC-SHA256(secret, raw body))."""
    return base64.b64encode(hmac.digest(secret, body, hashlib.sha256)).decode()


def sign_woocommerce(body: bytes, secret: bytes) -> str:
    """``X-WC-Webhook-Signature``: base64(HMAC-SHA256(secret, raw body))."""
    return base64.b64encode(hmac.digest(secret, body, hashlib.sha256)).decode()


def sign_generic(body: bytes, secret: bytes, t: int) -> str:
    """``Shipshape-Signature``: ``t=<t>,v1=<hex HMAC-SHA256(secret, b"<t>." + body)>``."""
    digest = hmac.new(secret, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def webhook_delivery(
    headers: Mapping[str, str], body: bytes, received_at: datetime
) -> WebhookDelivery:
    """A delivery as the HTTP edge builds it: header names lower-cased."""
    return WebhookDelivery(
        headers={name.lower(): value for name, value in headers.items()},
        body=body,
        received_at=received_at,
    )


def json_slots(node: Any) -> Iterator[tuple[Any, Any]]:
    """Every (container, key) pair in a JSON document, the root's children first: where a
    property test can replace or remove a value."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield node, key
            yield from json_slots(value)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield node, index
            yield from json_slots(value)
