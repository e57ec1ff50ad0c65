"""The generic adapter: Shipshape's own signed order format, its signature and its clock.

What every adapter shares (verification, the store a delivery claims, a paid order's canonical
form, the registry) is checked once for all four in test_storefront_contract.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shipshape.errors import PayloadInvalid, SignatureInvalid, UnsupportedTopic
from shipshape.models import PaymentState
from shipshape.storefronts.base import WebhookDelivery
from shipshape.storefronts.generic import GenericAdapter, generic_adapter
from tests.builders import GENERIC_SENDER as SENDER
from tests.helpers import load_event, sign_generic, webhook_delivery

SECRET = b"whsec_kk_5c0e8b2f7a9d4163"
OLD_SECRET = b"whsec_kk_retired_1f3a5c7e"
RECEIVED_AT = datetime(2026, 11, 20, 15, 15, 40, tzinfo=UTC)
NOW = int(RECEIVED_AT.timestamp())

A_DIGEST = "ab" * 32


def generic_delivery(
    body: bytes,
    *,
    t: int = NOW,
    secret: bytes = SECRET,
    headers: Mapping[str, str | None] | None = None,
    received_at: datetime = RECEIVED_AT,
) -> WebhookDelivery:
    """A signed delivery as a custom shop sends it; ``headers`` overrides (None drops one)."""
    sent: dict[str, str | None] = {
        "Content-Type": "application/json",
        "Shipshape-Source": SENDER,
        "Shipshape-Signature": sign_generic(body, secret, t),
        **(headers or {}),
    }
    present = {name: value for name, value in sent.items() if value is not None}
    return webhook_delivery(present, body, received_at)


def edited(fixture: str, edit: Callable[[dict[str, Any]], None]) -> bytes:
    payload = json.loads(load_event(fixture))
    edit(payload)
    return json.dumps(payload).encode()


# --- normalization of every fixture ---------------------------------------------------------


def test_cancelled_event_is_a_newer_cancelled_version() -> None:
    # Given the upsert and the later order.cancelled of the same order
    upsert = generic_adapter.normalize(
        generic_delivery(load_event("generic/order_upsert_paid.json"))
    )
    delivery = generic_delivery(load_event("generic/order_cancelled.json"))

    # When the cancellation is normalized
    cancelled = generic_adapter.normalize(delivery)

    # Then it is the same order, a greater version, cancelled and not ready
    assert cancelled.business_key() == upsert.business_key()
    assert cancelled.version == 4
    assert cancelled.version > upsert.version
    assert cancelled.cancelled is True
    assert cancelled.payment is PaymentState.REFUNDED
    assert cancelled.ready_to_fulfil is False


# --- mapping rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payment_status", "payment", "ready"),
    [
        ("pending", PaymentState.PENDING, False),
        ("paid", PaymentState.PAID, True),
        ("refunded", PaymentState.REFUNDED, False),
        ("voided", PaymentState.VOIDED, False),
    ],
)
def test_payment_status_decides_readiness_of_an_upsert(
    payment_status: str, payment: PaymentState, ready: bool
) -> None:
    # Given an order.upsert with this payment status
    body = edited(
        "generic/order_upsert_paid.json",
        lambda p: p["order"].update(payment_status=payment_status),
    )

    # When it is normalized
    order = generic_adapter.normalize(generic_delivery(body))

    # Then only a paid upsert is ready to fulfil
    assert order.payment is payment
    assert order.ready_to_fulfil is ready


def test_cancelled_event_of_a_paid_order_is_not_ready() -> None:
    # Given an order.cancelled whose payment has not been refunded yet
    body = edited(
        "generic/order_cancelled.json", lambda p: p["order"].update(payment_status="paid")
    )

    # When it is normalized
    order = generic_adapter.normalize(generic_delivery(body))

    # Then the event wins: cancelled, paid, not ready
    assert order.cancelled is True
    assert order.payment is PaymentState.PAID
    assert order.ready_to_fulfil is False


def test_version_comes_from_the_sender_not_from_the_timestamp() -> None:
    # Given a newer version whose updated_at is, by the sender's clock, earlier
    body = edited(
        "generic/order_upsert_paid.json",
        lambda p: p["order"].update(version=9, updated_at="2026-11-20T09:00:00+00:00"),
    )

    # When it is normalized
    order = generic_adapter.normalize(generic_delivery(body))

    # Then the version is the sender's counter
    assert order.version == 9


# --- payload validation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b"", b"event=order.upsert", b'{"event": "order.upsert",', b"\xff\xfe\x00", b"[1, 2]"],
    ids=["empty", "form", "truncated", "binary", "array"],
)
def test_malformed_body_is_payload_invalid(body: bytes) -> None:
    # Given a delivery whose body is not a JSON object
    delivery = generic_delivery(body)

    # When it is normalized
    with pytest.raises(PayloadInvalid) as caught:
        generic_adapter.normalize(delivery)

    # Then it is a client error about the body, not a crash
    assert str(caught.value).startswith("body: ")


@pytest.mark.parametrize(
    ("path", "named"),
    [
        (("event",), "event: Field required"),
        (("order",), "order: Field required"),
        (("order", "version"), "order.version: Field required"),
        (("order", "updated_at"), "order.updated_at: Field required"),
        (("order", "shipping_address"), "order.shipping_address: Field required"),
        (
            ("order", "shipping_address", "country_code"),
            "order.shipping_address.country_code: Field required",
        ),
        (("order", "lines", 1, "sku"), "order.lines.1.sku: Field required"),
    ],
)
def test_missing_required_field_is_named(path: tuple[str | int, ...], named: str) -> None:
    # Given a payload without one required field
    def drop(payload: dict[str, Any]) -> None:
        parent: Any = payload
        for key in path[:-1]:
            parent = parent[key]
        del parent[path[-1]]

    body = edited("generic/order_upsert_paid.json", drop)

    # When it is normalized
    with pytest.raises(PayloadInvalid) as caught:
        generic_adapter.normalize(generic_delivery(body))

    # Then the message names that field
    assert str(caught.value).startswith(named)


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("coupon", "WINTER10", "order.coupon: Extra inputs are not permitted"),
        ("total", 87.45, 'order.total: Value error, must be a decimal string such as "24.00"'),
        ("total", "-1.00", "order.total: Input should be greater than or equal to 0"),
        ("total", "NaN", "order.total: "),
        ("version", 0, "order.version: Input should be greater than or equal to 1"),
        ("version", 2**63, "order.version: Input should be less than or equal to 9223372036854"),
        ("version", 10**100, "order.version: Input should be less than or equal to "),
        ("updated_at", "2026-11-20T15:15:32", "order.updated_at: Value error, timestamp must"),
        ("currency", "gbp", "order.currency: String should match pattern"),
        ("payment_status", "settled", "order.payment_status: Input should be "),
        ("id", "", "order.id: String should have at least 1 character"),
        ("lines", [], "order.lines: List should have at least 1 item"),
    ],
)
def test_invalid_field_is_named(field: str, value: object, named: str) -> None:
    # Given a payload with one invalid order field
    body = edited("generic/order_upsert_paid.json", lambda p: p["order"].update({field: value}))

    # When it is normalized
    with pytest.raises(PayloadInvalid) as caught:
        generic_adapter.normalize(generic_delivery(body))

    # Then the message names the field and the problem
    assert str(caught.value).startswith(named)


@pytest.mark.parametrize("event", ["order.deleted", "order.created", "customer.updated"])
def test_unsupported_event_is_named_whatever_the_order_looks_like(event: str) -> None:
    # Given an event Shipshape does not handle, with an order of another shape
    body = json.dumps({"event": event, "order": {"id": "KK-1"}}).encode()

    # When it is normalized
    with pytest.raises(UnsupportedTopic) as caught:
        generic_adapter.normalize(generic_delivery(body))

    # Then the message names the event rather than the order's missing fields
    assert repr(event) in str(caught.value)


# --- signatures ------------------------------------------------------------------------------


# Then no error is raised


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("sha256=abc", "Shipshape-Signature header has no t= timestamp"),
        (f"v1={A_DIGEST}", "Shipshape-Signature header has no t= timestamp"),
        ("garbage", "Shipshape-Signature header is malformed; expected t=<unix seconds>,v1=<hex>"),
        (f"t={NOW};v1={A_DIGEST}", "Shipshape-Signature t= is not an integer number of seconds"),
        (f"t=now,v1={A_DIGEST}", "Shipshape-Signature t= is not an integer number of seconds"),
        (f"t=-{NOW},v1={A_DIGEST}", "Shipshape-Signature t= is not an integer number of seconds"),
        (f"t={NOW}.5,v1={A_DIGEST}", "Shipshape-Signature t= is not an integer number of seconds"),
        (f"t=²,v1={A_DIGEST}", "Shipshape-Signature t= is not an integer number of seconds"),
        (f"t=,v1={A_DIGEST}", "Shipshape-Signature t= is not an integer number of seconds"),
        (
            f"t={NOW * 1000},v1={A_DIGEST}",
            "Shipshape-Signature t= is not an integer number of seconds",
        ),
        pytest.param(
            f"t={'9' * 5000},v1={A_DIGEST}",
            "Shipshape-Signature t= is not an integer number of seconds",
            id="t-of-5000-digits",
        ),
        (f"t={NOW},t={NOW},v1={A_DIGEST}", "Shipshape-Signature header has more than one t="),
        (f"t={NOW}", "Shipshape-Signature header has no v1= signature"),
        (f"t={NOW},v0={A_DIGEST}", "Shipshape-Signature header has no v1= signature"),
        (f"t={NOW},v1=not-hex", "Shipshape-Signature v1= value is not hex"),
        (f"t={NOW},v1=abcd", "Shipshape-Signature v1= value is not an HMAC-SHA256 digest"),
    ],
)
def test_malformed_signature_header_is_rejected(header: str, problem: str) -> None:
    # Given a delivery whose Shipshape-Signature header is malformed
    delivery = generic_delivery(
        load_event("generic/order_upsert_paid.json"), headers={"Shipshape-Signature": header}
    )

    # When it is verified
    with pytest.raises(SignatureInvalid) as caught:
        generic_adapter.verify(delivery, [SECRET])

    # Then the message says precisely what is wrong
    assert str(caught.value).startswith(problem)

    # Then it is refused (asserted by the raise)


def test_timestamp_is_covered_by_the_signature() -> None:
    # Given a valid signature whose t= a replayer moved forward to look fresh
    body = load_event("generic/order_upsert_paid.json")
    digest = sign_generic(body, SECRET, NOW - 3600).split("v1=")[1]
    delivery = generic_delivery(body, headers={"Shipshape-Signature": f"t={NOW},v1={digest}"})

    # When it is verified
    with pytest.raises(SignatureInvalid) as caught:
        generic_adapter.verify(delivery, [SECRET])

    # Then the digest no longer matches
    assert str(caught.value) == "Shipshape-Signature header does not match the body"

    # Then no error is raised


def test_any_of_several_v1_entries_may_match() -> None:
    # Given a sender mid-rotation signing with its old and its new secret in one header
    body = load_event("generic/order_upsert_paid.json")
    old = sign_generic(body, OLD_SECRET, NOW).split("v1=")[1]
    new = sign_generic(body, SECRET, NOW).split("v1=")[1]
    header = f"t={NOW},v1={old},v0=legacy,v1={new}"
    delivery = generic_delivery(body, headers={"Shipshape-Signature": header})

    # When it is verified with only the new secret
    generic_adapter.verify(delivery, [SECRET])

    # Then the matching entry is enough, and the unknown v0 scheme is ignored


def test_a_matching_v1_entry_is_enough_wherever_it_stands() -> None:
    # Given a sender mid-rotation that lists its new signature first and then one made with a
    # secret Shipshape no longer holds
    body = load_event("generic/order_upsert_paid.json")
    new = sign_generic(body, SECRET, NOW).split("v1=")[1]
    retired = sign_generic(body, b"whsec_kk_retired_long_ago", NOW).split("v1=")[1]
    delivery = generic_delivery(
        body, headers={"Shipshape-Signature": f"t={NOW},v1={new},v1={retired}"}
    )

    # When it is verified with the current secret
    # Then it passes: an entry that matches no secret after the one that matched undoes nothing
    assert generic_adapter.verify(delivery, [SECRET]) is None


# --- the clock -------------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [-300, -299, 0, 299, 300], ids=lambda s: f"{s:+d}s")
def test_timestamp_within_tolerance_is_accepted(offset: int) -> None:
    # Given a delivery signed up to 300 s before or after its receipt
    delivery = generic_delivery(load_event("generic/order_upsert_paid.json"), t=NOW + offset)

    # When it is verified
    generic_adapter.verify(delivery, [SECRET])

    # Then no error is raised


def test_stale_timestamp_is_rejected() -> None:
    # Given a genuine delivery signed 301 s before it reached us (a replay, or a stuck queue)
    delivery = generic_delivery(load_event("generic/order_upsert_paid.json"), t=NOW - 301)

    # When it is verified
    with pytest.raises(SignatureInvalid) as caught:
        generic_adapter.verify(delivery, [SECRET])

    # Then it is refused for its age
    assert str(caught.value) == "signature timestamp is outside the 300 s tolerance"


def test_future_timestamp_is_rejected() -> None:
    # Given a genuine delivery signed 301 s after its receipt (a sender clock running fast)
    delivery = generic_delivery(load_event("generic/order_upsert_paid.json"), t=NOW + 301)

    # When it is verified
    with pytest.raises(SignatureInvalid) as caught:
        generic_adapter.verify(delivery, [SECRET])

    # Then it is refused too
    assert str(caught.value) == "signature timestamp is outside the 300 s tolerance"


def test_tolerance_is_set_by_the_constructor() -> None:
    # Given an adapter with a 30 s tolerance and a delivery signed 31 s ago
    strict = GenericAdapter(tolerance=timedelta(seconds=30))
    delivery = generic_delivery(load_event("generic/order_upsert_paid.json"), t=NOW - 31)

    # When it is verified
    with pytest.raises(SignatureInvalid) as caught:
        strict.verify(delivery, [SECRET])

    # Then the message states that tolerance
    assert str(caught.value) == "signature timestamp is outside the 30 s tolerance"


@pytest.mark.parametrize("tolerance", [timedelta(0), timedelta(seconds=-5)])
def test_tolerance_must_be_positive(tolerance: timedelta) -> None:
    # Given a tolerance that would reject everything
    # When an adapter is built with it
    with pytest.raises(ValueError, match="tolerance must be positive"):
        GenericAdapter(tolerance=tolerance)

    # Then construction fails (asserted by the raise)
