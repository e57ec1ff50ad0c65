"""Properties of the storefront adapters under hostile input, checked with Hypothesis.

Whatever arrives (any bytes, any JSON, any headers), an adapter answers with one of the
project's typed client errors, never a crash; verification fails closed and its messages
never carry the secret or the digest it expected; a signed body changed in any byte no longer
verifies; and every valid order a platform can send maps into the canonical order field by
field. Signatures are made with ``tests.helpers`` (each platform's documented scheme), not
with the adapters' own code.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from shipshape.config import ClientConfig, load_client_file
from shipshape.errors import ClientRequestError, PayloadInvalid, SignatureInvalid, UnsupportedTopic
from shipshape.models import Customer, OrderLine, PaymentState, Platform, StorefrontOrder
from shipshape.services.ingest import ingest_webhook
from shipshape.storefronts import adapter_for
from shipshape.storefronts.base import StorefrontAdapter, WebhookDelivery
from shipshape.storefronts.woocommerce import WooCommercePing
from tests.fakes import FixedSecrets, InMemoryOrderRepository, RecordingWorkflow, SettableClock
from tests.helpers import json_slots, load_event, sign_generic, sign_shopify, sign_woocommerce

PROPERTY = settings(
    max_examples=int(os.environ.get("PROPERTY_EXAMPLES", 150)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
RECEIVED_AT = datetime(2026, 11, 20, 15, 15, 40, tzinfo=UTC)
NOW = int(RECEIVED_AT.timestamp())
CLIENTS_DIR = Path(__file__).parents[2] / "config" / "clients"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Sender:
    """One platform as a sender sees it: its headers, how it signs and its sample payloads."""

    platform: Platform
    signature_header: str
    topic_header: str | None  # None: the topic travels in the body (Shipshape's own format)
    source_header: str
    topics: tuple[str, ...]
    store: str
    client_id: str
    fixtures: tuple[str, ...]
    sign: Callable[[bytes, bytes], str]

    @property
    def adapter(self) -> StorefrontAdapter:
        return adapter_for(self.platform)

    def signed_headers(self, body: bytes, secret: bytes, topic: str) -> dict[str, str]:
        """Header names lower-cased, as the HTTP edge hands them over."""
        headers = {
            self.signature_header.lower(): self.sign(body, secret),
            self.source_header.lower(): self.store,
        }
        if self.topic_header is not None:
            headers[self.topic_header.lower()] = topic
        return headers


SHOPIFY = Sender(
    Platform.SHOPIFY, "X-Shopify-Hmac-Sha256", "X-Shopify-Topic", "X-Shopify-Shop-Domain",
    ("orders/create", "orders/paid", "orders/updated", "orders/cancelled"),
    "acme-outdoors.myshopify.com", "acme-outdoors",
    ("shopify/orders_paid.json", "shopify/orders_create_pending.json",
     "shopify/orders_cancelled.json", "shopify/order_with_digital_line.json"),
    lambda body, secret: sign_shopify(body, secret),
)  # fmt: skip
WOOCOMMERCE = Sender(
    Platform.WOOCOMMERCE, "X-WC-Webhook-Signature", "X-WC-Webhook-Topic", "X-WC-Webhook-Source",
    ("order.created", "order.updated"), "https://nordlicht-shop.de/", "nordlicht",
    ("woocommerce/order_updated_processing.json", "woocommerce/order_created_pending.json",
     "woocommerce/order_cancelled.json"),
    lambda body, secret: sign_woocommerce(body, secret),
)  # fmt: skip
GENERIC = Sender(
    Platform.GENERIC, "Shipshape-Signature", None, "Shipshape-Source",
    ("order.upsert", "order.cancelled"), "kite-and-kin", "kite-and-kin",
    ("generic/order_upsert_paid.json", "generic/order_cancelled.json"),
    lambda body, secret: sign_generic(body, secret, NOW),
)  # fmt: skip
PLATFORMS = (SHOPIFY, WOOCOMMERCE, GENERIC)
CLIENTS: dict[str, ClientConfig] = {
    p.client_id: load_client_file(CLIENTS_DIR / f"{p.client_id}.toml") for p in PLATFORMS
}
each_platform = pytest.mark.parametrize("sender", PLATFORMS, ids=lambda p: p.platform.value)


def delivery(headers: dict[str, str], body: bytes) -> WebhookDelivery:
    return WebhookDelivery(headers=headers, body=body, received_at=RECEIVED_AT)


# --- strategies ---------------------------------------------------------------------------

# Secrets long and random enough that a message holding one did not get it by chance.
webhook_secrets = st.text(string.ascii_letters + string.digits, min_size=20, max_size=48).map(
    str.encode
)
# Values at the edges of what the payload models accept: years 1 and 9999, offsets of 14 h,
# huge and negative numbers, numbers as text, blank and over-long text.
edge_values = st.sampled_from(
    [
        "", " ", "\u00a0", "0", "-1", "-0", "1e999999", "0.000000001", "NaN", "Infinity",
        "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2026-02-30T00:00:00Z",
        "1970-01-01T00:00:00", "9999-12-31T23:59:59", "x" * 65, "x" * 300, "gb", "G1",
        -1, 0, 2**63, -(2**63), 10**40, 1e308, -0.0, 0.001, [], {},
    ]
)  # fmt: skip
json_values = st.recursive(
    st.none()
    | edge_values
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()  # NaN and infinities too: json.dumps writes them, some parsers accept them
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def mutated_fixture(draw: st.DrawFn, sender: Sender) -> bytes:
    """A real payload of the platform with one to three values replaced or removed: bodies
    that get past the JSON parser and deep into the payload model and the mapping."""
    document = json.loads(load_event(draw(st.sampled_from(sender.fixtures))))
    for _ in range(draw(st.integers(1, 3))):
        slots = list(json_slots(document))
        if not slots:
            break
        container, key = draw(st.sampled_from(slots))
        if isinstance(container, dict) and draw(st.booleans()):
            del container[key]
        else:
            container[key] = draw(json_values)
    return json.dumps(document).encode()


def hostile_bodies(sender: Sender) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(max_size=300),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
        mutated_fixture(sender),
        st.integers(0, 10**6).map(lambda n: f"webhook_id={n}".encode()),  # WooCommerce's ping
    )


def digest_b64() -> st.SearchStrategy[str]:
    return st.binary(min_size=0, max_size=40).map(lambda b: base64.b64encode(b).decode())


def generic_signature_values() -> st.SearchStrategy[str]:
    part = st.one_of(
        st.integers(-(10**13), 10**13).map(lambda t: f"t={t}"),
        st.binary(max_size=40).map(lambda b: f"v1={b.hex()}"),
        st.text(max_size=12).map(lambda s: f"t={s}"),
        st.text(max_size=12).map(lambda s: f"v1={s}"),
        st.text(max_size=12),
    )
    return st.lists(part, max_size=5).map(",".join)


def header_values(sender: Sender) -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(max_size=80),
        st.sampled_from(["", " ", "\t", "Bearer x", "=", "=="]),
        digest_b64(),
        generic_signature_values(),
        st.sampled_from(sender.topics),
        st.just(sender.store),
    )


def hostile_headers(sender: Sender) -> st.SearchStrategy[dict[str, str]]:
    names = [sender.signature_header, sender.source_header]
    if sender.topic_header:
        names.append(sender.topic_header)
    return st.dictionaries(
        st.sampled_from(names) | st.text(min_size=1, max_size=20),
        header_values(sender),
        max_size=5,
    ).map(lambda h: {k.lower(): v for k, v in h.items()})


def expected_digests(sender: Sender, body: bytes, secret: bytes) -> list[str]:
    """Every spelling of the digest a correct signature would carry."""
    message = f"{NOW}.".encode() + body if sender is GENERIC else body
    raw = hmac.digest(secret, message, hashlib.sha256)
    digests = [base64.b64encode(raw).decode(), raw.hex()]
    if sender is GENERIC:
        digests.append(hmac.digest(secret, body, hashlib.sha256).hex())
    return digests


def assert_no_secret_in(message: str, secret: bytes, digests: list[str]) -> None:
    assert secret.decode() not in message
    for digest in digests:
        assert digest not in message and digest.lower() not in message.lower()


# --- verify: fail-closed, typed, and silent about the secret ------------------------------


@each_platform
def test_verify_refuses_any_unsigned_delivery_with_a_typed_error(sender: Sender) -> None:
    @PROPERTY
    @given(
        headers=hostile_headers(sender),
        body=hostile_bodies(sender),
        secrets=st.lists(webhook_secrets, min_size=1, max_size=2),
    )
    def check(headers: dict[str, str], body: bytes, secrets: list[bytes]) -> None:
        # Given a delivery nobody signed with the client's secrets
        # When the adapter verifies it
        with pytest.raises(ClientRequestError) as refused:
            sender.adapter.verify(delivery(headers, body), secrets)
        # Then it is refused (never let through), as a bad signature or WooCommerce's ping,
        # and the message names neither a secret nor a digest the sender should have sent
        assert type(refused.value) in (SignatureInvalid, WooCommercePing)
        for secret in secrets:
            assert_no_secret_in(str(refused.value), secret, expected_digests(sender, body, secret))

    check()


@each_platform
def test_a_signed_body_changed_in_any_byte_no_longer_verifies(sender: Sender) -> None:
    @PROPERTY
    @given(
        body=st.binary(min_size=1, max_size=400) | mutated_fixture(sender),
        secret=webhook_secrets,
        where=st.integers(min_value=0),
        flip=st.integers(1, 255),
    )
    def check(body: bytes, secret: bytes, where: int, flip: int) -> None:
        # Given a body signed with the client's secret, which verifies as sent
        headers = sender.signed_headers(body, secret, sender.topics[0])
        sender.adapter.verify(delivery(headers, body), [secret])
        # When one byte of it changes in transit
        index = where % len(body)
        tampered = body[:index] + bytes([body[index] ^ flip]) + body[index + 1 :]
        # Then the same signature no longer verifies, and the refusal leaks nothing
        with pytest.raises(SignatureInvalid) as refused:
            sender.adapter.verify(delivery(headers, tampered), [secret])
        assert_no_secret_in(str(refused.value), secret, expected_digests(sender, tampered, secret))

    check()


@each_platform
def test_a_signed_body_cut_short_or_extended_no_longer_verifies(sender: Sender) -> None:
    @PROPERTY
    @given(
        body=st.binary(max_size=200), extra=st.binary(min_size=1, max_size=20), cut=st.booleans()
    )
    def check(body: bytes, extra: bytes, cut: bool) -> None:
        # Given a signed body
        secret = b"whsec_properties_0123456789"
        headers = sender.signed_headers(body + extra, secret, sender.topics[0])
        # When it arrives without its last bytes, or with bytes appended
        changed = body if cut else body + extra + extra
        # Then it is refused
        with pytest.raises(SignatureInvalid):
            sender.adapter.verify(delivery(headers, changed), [secret])

    check()


def test_a_generic_signature_for_another_moment_does_not_verify() -> None:
    @PROPERTY
    @given(body=st.binary(max_size=200), shift=st.integers(-299, 299).filter(bool))
    def check(body: bytes, shift: int) -> None:
        # Given a body signed for one moment, within the tolerance of its receipt
        secret = b"whsec_properties_0123456789"
        signature = sign_generic(body, secret, NOW)
        digest = signature.split("v1=", 1)[1]
        # When the header claims another moment (a replay with its timestamp moved)
        moved = {"shipshape-signature": f"t={NOW + shift},v1={digest}"}
        # Then it is refused: the timestamp is part of what was signed
        with pytest.raises(SignatureInvalid):
            GENERIC.adapter.verify(delivery(moved, body), [secret])

    check()


# --- normalize: typed errors for anything malformed ---------------------------------------


@each_platform
def test_normalize_answers_any_body_with_an_order_or_a_typed_error(sender: Sender) -> None:
    @PROPERTY
    @given(body=hostile_bodies(sender), topic=st.sampled_from(sender.topics))
    def check(body: bytes, topic: str) -> None:
        # Given a verified delivery (headers right) whose body may be anything
        headers = sender.signed_headers(body, b"whsec_properties_0123456789", topic)
        # When the adapter normalizes it
        try:
            order = sender.adapter.normalize(delivery(headers, body))
        # Then it is refused with a typed client error...
        except (PayloadInvalid, UnsupportedTopic) as refused:
            assert str(refused)
        # ...or it is a canonical order of this platform and store
        else:
            assert isinstance(order, StorefrontOrder)
            assert (order.platform, order.store) == (sender.platform, sender.store)

    check()


@each_platform
def test_normalize_answers_any_headers_with_an_order_or_a_typed_error(sender: Sender) -> None:
    @PROPERTY
    @given(headers=hostile_headers(sender), fixture=st.sampled_from(sender.fixtures))
    def check(headers: dict[str, str], fixture: str) -> None:
        # Given a well-formed body with any headers at all
        body = load_event(fixture)
        # When the adapter normalizes it
        # Then a missing or unknown topic or store is a typed client error, never a crash
        with contextlib.suppress(PayloadInvalid, UnsupportedTopic):
            sender.adapter.normalize(delivery(headers, body))

    check()


# --- the whole ingest path: a signed hostile body is refused before anything is written ---


@each_platform
def test_ingest_of_any_signed_delivery_records_an_order_or_writes_nothing(
    sender: Sender,
) -> None:
    client = CLIENTS[sender.client_id]
    store = client.stores_on(sender.platform)[0]
    secret = b"whsec_properties_0123456789"

    @PROPERTY
    @given(
        body=hostile_bodies(sender) | VALID_ORDERS[sender.platform].map(json_bytes),
        topic=st.sampled_from(sender.topics),
    )
    def check(body: bytes, topic: str) -> None:
        # Given the client's store and a delivery signed with its secret, the body anything
        repo, workflow = InMemoryOrderRepository(), RecordingWorkflow()
        headers = sender.signed_headers(body, secret, topic)
        # When it is ingested
        try:
            result = ingest_webhook(
                client=client, platform=sender.platform, delivery=delivery(headers, body),
                repo=repo, secrets=FixedSecrets({store.webhook_secret_name: secret}),
                workflow=workflow, clock=SettableClock(RECEIVED_AT),
            )  # fmt: skip
        # Then a refusal is a typed client error and nothing was written or started
        except ClientRequestError as refused:
            assert repo.order_ids() == [] and workflow.starts == []
            assert_no_secret_in(str(refused), secret, expected_digests(sender, body, secret))
        # ...and an acceptance recorded exactly the order it names
        else:
            assert repo.order_ids() == [result.order_id]

    check()


# --- normalize of valid orders: every field lands where it belongs ------------------------

words = st.text(string.ascii_letters + string.digits + "äßéøñ'.&/-#", min_size=1, max_size=12)
names = st.lists(words, min_size=1, max_size=3).map(" ".join)
maybe_names = st.none() | names
skus = st.from_regex(r"[A-Z0-9][A-Z0-9-]{0,30}[A-Z0-9]", fullmatch=True)
money = st.decimals(min_value=0, max_value=100_000, places=2, allow_nan=False, allow_infinity=False)
quantities = st.integers(1, 100_000)
countries = st.sampled_from(["US", "GB", "DE", "FR", "CA", "AU", "NL", "JP"])
offsets = st.sampled_from(
    [UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30))]
)
moments = st.datetimes(
    min_value=datetime(2001, 1, 1), max_value=datetime(2099, 12, 31), timezones=offsets
).map(lambda d: d.replace(microsecond=0))
utc_moments = st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2099, 12, 31)).map(
    lambda d: d.replace(microsecond=0)
)


def epoch_ms(moment: datetime) -> int:
    """Whole seconds only (the strategies drop microseconds): exact as an integer."""
    return int(moment.timestamp()) * 1000


@st.composite
def generic_orders(draw: st.DrawFn) -> dict[str, Any]:
    lines = draw(
        st.lists(
            st.fixed_dictionaries(
                {"line_id": st.from_regex(r"[A-Za-z0-9-]{1,64}", fullmatch=True), "sku": skus,
                 "title": names, "quantity": quantities, "unit_price": money.map(str)}
            ),
            min_size=1, max_size=5,
        )
    )  # fmt: skip
    return {
        "event": draw(st.sampled_from(["order.upsert", "order.cancelled"])),
        "order": {
            "id": draw(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}", fullmatch=True)),
            "number": draw(maybe_names),
            "version": draw(st.integers(1, 2**63 - 1)),
            "updated_at": draw(moments).isoformat(),
            "payment_status": draw(st.sampled_from(["pending", "paid", "refunded", "voided"])),
            "currency": draw(st.sampled_from(["GBP", "EUR", "USD"])),
            "total": str(draw(money)),
            "customer": {"name": draw(maybe_names), "email": draw(maybe_names),
                         "phone": draw(maybe_names)},
            "shipping_address": {
                "name": draw(maybe_names), "company": draw(maybe_names), "line1": draw(names),
                "line2": draw(maybe_names), "city": draw(names), "region": draw(maybe_names),
                "postal_code": draw(maybe_names), "country_code": draw(countries),
                "phone": draw(maybe_names),
            },
            "lines": lines,
        },
    }  # fmt: skip


def test_generic_normalize_keeps_every_field_of_any_valid_order() -> None:
    @PROPERTY
    @given(payload=generic_orders())
    def check(payload: dict[str, Any]) -> None:
        # Given any valid order in Shipshape's own format, signed and sent
        body = json.dumps(payload).encode()
        headers = GENERIC.signed_headers(body, b"whsec_properties_0123456789", "")
        # When it is normalized
        order = GENERIC.adapter.normalize(delivery(headers, body))
        # Then every field is carried over as sent
        sent, cancelled = payload["order"], payload["event"] == "order.cancelled"
        address = sent["shipping_address"]
        assert order.platform is Platform.GENERIC and order.store == GENERIC.store
        assert order.storefront_order_id == sent["id"]
        assert order.order_number == sent["number"]
        assert order.version == sent["version"]
        assert order.storefront_updated_at == datetime.fromisoformat(sent["updated_at"])
        assert order.payment is PaymentState(sent["payment_status"])
        assert order.cancelled is cancelled
        assert order.ready_to_fulfil is (sent["payment_status"] == "paid" and not cancelled)
        assert (order.currency, order.total) == (sent["currency"], Decimal(sent["total"]))
        assert order.customer == Customer(**sent["customer"])
        assert order.shipping_address is not None
        assert order.shipping_address.model_dump() == address
        assert order.lines == tuple(
            OrderLine(line_id=line["line_id"], sku=line["sku"], title=line["title"],
                      quantity=line["quantity"], unit_price=Decimal(line["unit_price"]))
            for line in sent["lines"]
        )  # fmt: skip

    check()


SHOPIFY_PAYMENT = {
    "pending": PaymentState.PENDING, "authorized": PaymentState.AUTHORIZED,
    "partially_paid": PaymentState.PARTIALLY_PAID, "paid": PaymentState.PAID,
    "partially_refunded": PaymentState.PARTIALLY_REFUNDED, "refunded": PaymentState.REFUNDED,
    "voided": PaymentState.VOIDED, "expired": PaymentState.VOIDED,
}  # fmt: skip


@st.composite
def shopify_line_items(draw: st.DrawFn) -> list[dict[str, Any]]:
    def item(shipped: bool) -> st.SearchStrategy[dict[str, Any]]:
        return st.fixed_dictionaries(
            {"id": st.integers(1, 2**53), "sku": skus if shipped else st.none() | skus,
             "title": names, "name": names, "quantity": quantities,
             "price": money.map(str), "requires_shipping": st.just(shipped)}
        )  # fmt: skip

    shipped = draw(st.lists(item(True), min_size=1, max_size=4))
    digital = draw(st.lists(item(False), max_size=2))
    return draw(st.permutations(shipped + digital))


@st.composite
def shopify_orders(draw: st.DrawFn) -> dict[str, Any]:
    person = {"first_name": draw(names), "last_name": draw(names), "email": draw(names),
              "phone": draw(names)}  # fmt: skip
    return {
        "id": draw(st.integers(1, 2**53)),
        "name": "#" + str(draw(st.integers(1000, 99999))),
        "email": draw(names),
        "phone": draw(names),
        "updated_at": draw(moments).isoformat(),
        "financial_status": draw(st.sampled_from(sorted(SHOPIFY_PAYMENT))),
        "cancelled_at": draw(st.none() | moments.map(datetime.isoformat)),
        "currency": draw(st.sampled_from(["USD", "CAD", "EUR"])),
        "total_price": str(draw(money)),
        "customer": person,
        "shipping_address": {
            "first_name": draw(names), "last_name": draw(names), "name": draw(names),
            "company": draw(maybe_names), "address1": draw(names), "address2": draw(maybe_names),
            "city": draw(names), "province_code": draw(maybe_names), "zip": draw(maybe_names),
            "country_code": draw(countries), "phone": draw(maybe_names),
        },
        "line_items": draw(shopify_line_items()),
    }  # fmt: skip


def test_shopify_normalize_keeps_every_field_of_any_valid_order() -> None:
    @PROPERTY
    @given(payload=shopify_orders(), topic=st.sampled_from(SHOPIFY.topics))
    def check(payload: dict[str, Any], topic: str) -> None:
        # Given any valid Shopify order, delivered for any order topic
        body = json.dumps(payload).encode()
        headers = SHOPIFY.signed_headers(body, b"whsec_properties_0123456789", topic)
        # When it is normalized
        order = SHOPIFY.adapter.normalize(delivery(headers, body))
        # Then the fields land where Shipshape reads them
        updated = datetime.fromisoformat(payload["updated_at"])
        cancelled = payload["cancelled_at"] is not None or topic == "orders/cancelled"
        person, address = payload["customer"], payload["shipping_address"]
        assert order.storefront_order_id == str(payload["id"])
        assert order.order_number == payload["name"]
        assert order.version == epoch_ms(updated)
        assert order.storefront_updated_at == updated
        assert order.payment is SHOPIFY_PAYMENT[payload["financial_status"]]
        assert order.cancelled is cancelled
        assert order.ready_to_fulfil is (
            payload["financial_status"] in ("paid", "partially_refunded") and not cancelled
        )
        assert (order.currency, order.total) == (
            payload["currency"],
            Decimal(payload["total_price"]),
        )
        assert order.customer == Customer(
            name=f"{person['first_name']} {person['last_name']}",
            email=person["email"], phone=person["phone"],
        )  # fmt: skip
        assert order.shipping_address is not None
        assert order.shipping_address.model_dump() == {
            "name": address["name"], "company": address["company"], "line1": address["address1"],
            "line2": address["address2"], "city": address["city"],
            "region": address["province_code"], "postal_code": address["zip"],
            "country_code": address["country_code"], "phone": address["phone"],
        }  # fmt: skip
        # Only what is shipped is picked: digital lines are left out, the rest kept in order
        assert order.lines == tuple(
            OrderLine(line_id=str(item["id"]), sku=item["sku"], title=item["name"],
                      quantity=item["quantity"], unit_price=Decimal(item["price"]))
            for item in payload["line_items"] if item["requires_shipping"]
        )  # fmt: skip

    check()


WOO_STATUSES = ["pending", "processing", "on-hold", "completed", "cancelled", "refunded",
                "failed", "trash", "checkout-draft"]  # fmt: skip


@st.composite
def woo_blocks(draw: st.DrawFn, *, blank: bool) -> dict[str, Any]:
    """A billing or shipping block; ``blank`` as a store without a shipping form sends it."""
    if blank:
        keys = ("first_name", "last_name", "company", "address_1", "address_2", "city")
        return dict.fromkeys((*keys, "state", "postcode", "country"), "")
    return {
        "first_name": draw(names), "last_name": draw(names), "company": draw(st.just("") | names),
        "address_1": draw(names), "address_2": draw(st.just("") | names), "city": draw(names),
        "state": draw(st.just("") | names), "postcode": draw(names), "country": draw(countries),
        "phone": draw(names),
    }  # fmt: skip


@st.composite
def woo_orders(draw: st.DrawFn) -> dict[str, Any]:
    billing = {**draw(woo_blocks(blank=False)), "email": draw(names)}
    paid = draw(st.none() | utc_moments)
    return {
        "id": draw(st.integers(1, 2**53)),
        "number": str(draw(st.integers(1, 10**6))),
        "status": draw(st.sampled_from(WOO_STATUSES)),
        "currency": draw(st.sampled_from(["EUR", "CHF"])),
        # The *_gmt fields carry no offset: they are UTC by definition.
        "date_modified_gmt": draw(utc_moments).isoformat(),
        "date_paid_gmt": paid.isoformat() if paid else None,
        "total": str(draw(money)),
        "billing": billing,
        "shipping": draw(woo_blocks(blank=draw(st.booleans()))),
        "line_items": draw(
            st.lists(
                st.fixed_dictionaries(
                    {"id": st.integers(1, 2**53), "name": names, "quantity": quantities,
                     "sku": skus, "price": st.integers(0, 10**7).map(lambda c: c / 100)}
                ),
                min_size=1, max_size=4,
            )
        ),
    }  # fmt: skip


def woo_payment(order: dict[str, Any]) -> PaymentState:
    """WooCommerce's statuses, as its documentation describes them."""
    if order["status"] == "refunded":
        return PaymentState.REFUNDED
    if order["status"] == "failed":
        return PaymentState.PENDING
    if order["status"] in ("processing", "completed") or order["date_paid_gmt"]:
        return PaymentState.PAID
    return PaymentState.PENDING


def test_woocommerce_normalize_keeps_every_field_of_any_valid_order() -> None:
    @PROPERTY
    @given(payload=woo_orders(), topic=st.sampled_from(WOOCOMMERCE.topics))
    def check(payload: dict[str, Any], topic: str) -> None:
        # Given any valid WooCommerce order
        body = json.dumps(payload).encode()
        headers = WOOCOMMERCE.signed_headers(body, b"whsec_properties_0123456789", topic)
        # When it is normalized
        order = WOOCOMMERCE.adapter.normalize(delivery(headers, body))
        # Then the fields land where Shipshape reads them
        modified = datetime.fromisoformat(payload["date_modified_gmt"]).replace(tzinfo=UTC)
        billing, shipping = payload["billing"], payload["shipping"]
        chosen = shipping if shipping["address_1"] else billing  # no shipping form: billing
        assert order.storefront_order_id == str(payload["id"])
        assert order.order_number == payload["number"]
        assert order.version == epoch_ms(modified)
        assert order.storefront_updated_at == modified
        assert order.payment is woo_payment(payload)
        assert order.ready_to_fulfil is (payload["status"] == "processing")
        assert order.cancelled is (payload["status"] in ("cancelled", "trash"))
        assert (order.currency, order.total) == (payload["currency"], Decimal(payload["total"]))
        assert order.customer == Customer(
            name=f"{billing['first_name']} {billing['last_name']}",
            email=billing["email"], phone=billing["phone"],
        )  # fmt: skip
        assert order.shipping_address is not None
        assert order.shipping_address.model_dump() == {
            "name": f"{chosen['first_name']} {chosen['last_name']}",
            "company": chosen["company"] or None, "line1": chosen["address_1"],
            "line2": chosen["address_2"] or None, "city": chosen["city"],
            "region": chosen["state"] or None, "postal_code": chosen["postcode"],
            "country_code": chosen["country"], "phone": chosen.get("phone") or billing["phone"],
        }  # fmt: skip
        assert order.lines == tuple(
            OrderLine(line_id=str(item["id"]), sku=item["sku"], title=item["name"],
                      quantity=item["quantity"], unit_price=Decimal(str(item["price"])))
            for item in payload["line_items"]
        )  # fmt: skip

    check()


VALID_ORDERS = {
    Platform.SHOPIFY: shopify_orders(),
    Platform.WOOCOMMERCE: woo_orders(),
    Platform.GENERIC: generic_orders(),
}


def json_bytes(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


@pytest.mark.parametrize("sender", [SHOPIFY, WOOCOMMERCE], ids=["shopify", "woocommerce"])
def test_a_later_change_always_has_a_greater_version(sender: Sender) -> None:
    @PROPERTY
    @given(first=utc_moments, later_by=st.integers(1, 10**9))
    def check(first: datetime, later_by: int) -> None:
        # Given the same order saved twice, the second save at least a second later
        second = first + timedelta(seconds=later_by)
        assume(second.year < 2100)
        field = "updated_at" if sender is SHOPIFY else "date_modified_gmt"

        def version(moment: datetime) -> int:
            document = json.loads(load_event(sender.fixtures[0]))
            stamp = moment.replace(tzinfo=UTC).isoformat()
            document[field] = stamp if sender is SHOPIFY else stamp.removesuffix("+00:00")
            body = json.dumps(document).encode()
            headers = sender.signed_headers(body, b"whsec_properties_0123456789", sender.topics[0])
            return sender.adapter.normalize(delivery(headers, body)).version

        # When both are normalized
        # Then the later one has the greater version, so it is never taken for a stale one
        assert version(first) < version(second)

    check()


def test_the_strategies_cover_the_fixtures() -> None:
    # Given the real-shaped fixtures the mutation strategy starts from
    # When each is normalized unchanged
    # Then each is a valid order (so mutations start from valid payloads)
    for sender in PLATFORMS:
        for fixture in sender.fixtures:
            body = load_event(fixture)
            topic = sender.topics[-1] if "cancel" in fixture else sender.topics[0]
            headers = sender.signed_headers(body, b"whsec_properties_0123456789", topic)
            assert sender.adapter.normalize(delivery(headers, body)).lines


# --- BigCommerce: pointer-only webhooks and the API bundle they lead to -------------------
# BigCommerce authenticates a delivery by a token header, not a signature, and its order comes
# from the API, not the body; so it has its own properties here rather than a Sender above.

BIGCOMMERCE = adapter_for(Platform.BIGCOMMERCE)
BIGCOMMERCE_TOKEN = "x-shipshape-webhook-token"  # as the HTTP edge hands it over
BIGCOMMERCE_STORE = "q8kz3m1v4w"
BIGCOMMERCE_WEBHOOKS = (
    "bigcommerce/store_order_created.json",
    "bigcommerce/store_order_status_updated.json",
)
BIGCOMMERCE_BUNDLE = "bigcommerce/order_awaiting_fulfillment.json"
# From BigCommerce's documentation of the v2 order, independently of the adapter's tables.
BIGCOMMERCE_GATEWAY_PAYMENT = {
    "captured": PaymentState.PAID, "paid": PaymentState.PAID,
    "partially refunded": PaymentState.PARTIALLY_REFUNDED, "refunded": PaymentState.REFUNDED,
    "void": PaymentState.VOIDED, "declined": PaymentState.VOIDED,
    "authorized": PaymentState.AUTHORIZED, "capture pending": PaymentState.PENDING,
    "held for review": PaymentState.PENDING, "pending": PaymentState.PENDING,
    "void pending": PaymentState.PENDING,
}  # fmt: skip
BIGCOMMERCE_PAID_STATUSES = {2, 3, 8, 9, 10, 11, 14}  # "paid" statuses, per BigCommerce


@st.composite
def mutated_bigcommerce(draw: st.DrawFn, fixtures: tuple[str, ...]) -> bytes:
    """A real BigCommerce document with one to three values replaced or removed."""
    document = json.loads(load_event(draw(st.sampled_from(fixtures))))
    for _ in range(draw(st.integers(1, 3))):
        slots = list(json_slots(document))
        if not slots:
            break
        container, key = draw(st.sampled_from(slots))
        if isinstance(container, dict) and draw(st.booleans()):
            del container[key]
        else:
            container[key] = draw(json_values)
    return json.dumps(document).encode()


def hostile_bigcommerce_bodies(fixtures: tuple[str, ...]) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(max_size=300),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
        mutated_bigcommerce(fixtures),
    )


bigcommerce_hostile_headers = st.dictionaries(
    st.sampled_from([BIGCOMMERCE_TOKEN, "content-type", "x-auth-token"])
    | st.text(min_size=1, max_size=20).map(str.lower),
    st.one_of(
        st.text(max_size=80),
        st.sampled_from(["", " ", "\t", "Bearer x", "null", BIGCOMMERCE_STORE]),
        digest_b64(),
    ),
    max_size=4,
)


def test_bigcommerce_verify_refuses_any_delivery_without_the_token() -> None:
    @PROPERTY
    @given(
        headers=bigcommerce_hostile_headers,
        body=hostile_bigcommerce_bodies(BIGCOMMERCE_WEBHOOKS),
        secrets=st.lists(webhook_secrets, min_size=1, max_size=2),
    )
    def check(headers: dict[str, str], body: bytes, secrets: list[bytes]) -> None:
        # Given a delivery that does not carry one of the store's tokens
        # When it is verified
        with pytest.raises(ClientRequestError) as refused:
            BIGCOMMERCE.verify(delivery(headers, body), secrets)
        # Then it is refused as not authentic, and the message carries no secret
        assert type(refused.value) is SignatureInvalid
        for secret in secrets:
            assert secret.decode() not in str(refused.value)

    check()


def test_bigcommerce_a_token_changed_in_any_character_no_longer_verifies() -> None:
    @PROPERTY
    @given(
        secret=webhook_secrets,
        where=st.integers(min_value=0),
        other=st.characters(codec="utf-8", exclude_characters="\r\n"),
        fixture=st.sampled_from(BIGCOMMERCE_WEBHOOKS),
    )
    def check(secret: bytes, where: int, other: str, fixture: str) -> None:
        # Given a genuine delivery, which verifies with its token
        body = load_event(fixture)
        token = secret.decode()
        BIGCOMMERCE.verify(delivery({BIGCOMMERCE_TOKEN: token}, body), [secret])
        # When one character of the token is different
        index = where % len(token)
        assume(other != token[index])
        changed = token[:index] + other + token[index + 1 :]
        # Then it is refused, and the message holds neither token
        with pytest.raises(SignatureInvalid) as refused:
            BIGCOMMERCE.verify(delivery({BIGCOMMERCE_TOKEN: changed}, body), [secret])
        assert token not in str(refused.value)
        assert changed.strip() not in str(refused.value) or not changed.strip()

    check()


def test_bigcommerce_reads_any_webhook_body_as_an_order_id_or_a_typed_error() -> None:
    @PROPERTY
    @given(body=hostile_bigcommerce_bodies(BIGCOMMERCE_WEBHOOKS))
    def check(body: bytes) -> None:
        # Given a verified delivery whose body may be anything
        sent = delivery({BIGCOMMERCE_TOKEN: "t"}, body)
        # When the store it claims and the order it points to are read
        claimed = BIGCOMMERCE.claimed_store(sent)
        try:
            reference = BIGCOMMERCE.order_reference(sent)
        # Then the order is refused with a typed client error...
        except (PayloadInvalid, UnsupportedTopic) as refused:
            assert str(refused)
        # ...or it is a positive order id
        else:
            assert reference is not None and reference.isdigit() and int(reference) >= 1
        # and the claim is a store hash or nothing, never an exception
        assert claimed is None or (claimed.isalnum() and claimed.isascii())

    check()


def test_bigcommerce_normalizes_any_resource_to_an_order_or_payload_invalid() -> None:
    @PROPERTY
    @given(resource=hostile_bigcommerce_bodies((BIGCOMMERCE_BUNDLE,)))
    def check(resource: bytes) -> None:
        # Given whatever the API client hands over, most of it a real bundle mutated
        # When it is normalized
        try:
            order = BIGCOMMERCE.normalize_resource(resource, BIGCOMMERCE_STORE)
        # Then it is refused as an invalid payload (never another exception)...
        except PayloadInvalid as refused:
            assert str(refused)
        # ...or it is a canonical order of this platform and store
        else:
            assert isinstance(order, StorefrontOrder)
            assert (order.platform, order.store) == (Platform.BIGCOMMERCE, BIGCOMMERCE_STORE)

    check()


def rfc2822(moment: datetime) -> str:
    """BigCommerce's date_modified: "Thu, 26 Nov 2026 15:15:27 +0000"."""
    return moment.strftime("%a, %d %b %Y %H:%M:%S %z")


@st.composite
def bigcommerce_bundles(draw: st.DrawFn) -> dict[str, Any]:
    order_id = draw(st.integers(1, 2**53))
    address_id = draw(st.integers(1, 2**31))

    def product(physical: bool) -> st.SearchStrategy[dict[str, Any]]:
        return st.fixed_dictionaries(
            {"id": st.integers(1, 2**53), "order_id": st.just(order_id),
             "order_address_id": st.just(address_id if physical else 0),
             "name": names, "sku": skus if physical else st.just("") | skus,
             "type": st.just("physical" if physical else "digital"), "quantity": quantities,
             "price_inc_tax": money.map(lambda m: f"{m:.4f}")}
        )  # fmt: skip

    physical = draw(st.lists(product(True), min_size=1, max_size=4))
    digital = draw(st.lists(product(False), max_size=2))
    return {
        "order": {
            "id": order_id,
            "status_id": draw(st.integers(0, 14)),
            "date_modified": rfc2822(draw(moments)),
            "payment_status": draw(st.sampled_from(["", *sorted(BIGCOMMERCE_GATEWAY_PAYMENT)])),
            "default_currency_code": draw(st.sampled_from(["GBP", "EUR", "USD"])),
            "currency_code": "GBP",
            "total_inc_tax": f"{draw(money):.4f}",
            "is_deleted": draw(st.booleans()),
            "billing_address": {
                "first_name": draw(names), "last_name": draw(names), "company": "",
                "email": draw(names), "phone": draw(names),
            },
        },
        "products": draw(st.permutations(physical + digital)),
        "shipping_addresses": [
            {
                "id": address_id, "order_id": order_id, "first_name": draw(names),
                "last_name": draw(names), "company": draw(st.just("") | names),
                "street_1": draw(names), "street_2": draw(st.just("") | names),
                "city": draw(names), "state": draw(st.just("") | names), "zip": draw(names),
                "country_iso2": draw(countries), "email": draw(names),
                "phone": draw(st.just("") | names),
            }
        ],
    }  # fmt: skip


def bigcommerce_payment(order: dict[str, Any]) -> PaymentState:
    if order["payment_status"]:
        return BIGCOMMERCE_GATEWAY_PAYMENT[order["payment_status"]]
    if order["status_id"] == 4:
        return PaymentState.REFUNDED
    if order["status_id"] == 14:
        return PaymentState.PARTIALLY_REFUNDED
    if order["status_id"] in BIGCOMMERCE_PAID_STATUSES:
        return PaymentState.PAID
    return PaymentState.PENDING


def test_bigcommerce_normalize_keeps_every_field_of_any_valid_bundle() -> None:
    @PROPERTY
    @given(bundle=bigcommerce_bundles())
    def check(bundle: dict[str, Any]) -> None:
        # Given any valid order as the API returns it
        sent, address = bundle["order"], bundle["shipping_addresses"][0]
        billing = sent["billing_address"]
        # When it is normalized
        order = BIGCOMMERCE.normalize_resource(json_bytes(bundle), BIGCOMMERCE_STORE)
        # Then the fields land where Shipshape reads them
        modified = datetime.strptime(sent["date_modified"], "%a, %d %b %Y %H:%M:%S %z")
        payment = bigcommerce_payment(sent)
        assert order.storefront_order_id == order.order_number == str(sent["id"])
        assert order.storefront_updated_at == modified
        assert epoch_ms(modified) <= order.version < epoch_ms(modified) + 1000
        assert order.payment is payment
        assert order.cancelled is (sent["status_id"] in (5, 6))
        assert order.ready_to_fulfil is (
            sent["status_id"] in (9, 11)
            and payment in (PaymentState.PAID, PaymentState.PARTIALLY_REFUNDED)
            and not sent["is_deleted"]
        )  # fmt: skip
        assert (order.currency, order.total) == (
            sent["default_currency_code"],
            Decimal(sent["total_inc_tax"]),
        )
        assert order.customer == Customer(
            name=f"{billing['first_name']} {billing['last_name']}",
            email=billing["email"], phone=billing["phone"],
        )  # fmt: skip
        assert order.shipping_address is not None
        assert order.shipping_address.model_dump() == {
            "name": f"{address['first_name']} {address['last_name']}",
            "company": address["company"] or None, "line1": address["street_1"],
            "line2": address["street_2"] or None, "city": address["city"],
            "region": address["state"] or None, "postal_code": address["zip"],
            "country_code": address["country_iso2"],
            "phone": address["phone"] or billing["phone"],
        }  # fmt: skip
        # Only physical products are picked, in the order the API lists them
        assert order.lines == tuple(
            OrderLine(line_id=str(p["id"]), sku=p["sku"], title=p["name"],
                      quantity=p["quantity"], unit_price=Decimal(p["price_inc_tax"]))
            for p in bundle["products"] if p["type"] == "physical"
        )  # fmt: skip

    check()


def test_bigcommerce_a_later_save_always_has_a_greater_version() -> None:
    @PROPERTY
    @given(
        first=utc_moments,
        later_by=st.integers(1, 10**9),
        statuses=st.tuples(st.integers(0, 14), st.integers(0, 14)),
    )
    def check(first: datetime, later_by: int, statuses: tuple[int, int]) -> None:
        # Given the same order saved twice, the second save at least a second later, each
        # save in any status
        second = first + timedelta(seconds=later_by)
        assume(second.year < 2100)

        def version(moment: datetime, status_id: int) -> int:
            bundle = json.loads(load_event(BIGCOMMERCE_BUNDLE))
            bundle["order"].update(
                date_modified=rfc2822(moment.replace(tzinfo=UTC)), status_id=status_id
            )
            return BIGCOMMERCE.normalize_resource(json_bytes(bundle), BIGCOMMERCE_STORE).version

        # When both are read from the API and normalized
        # Then the later save has the greater version, whatever the two statuses
        assert version(first, statuses[0]) < version(second, statuses[1])

    check()
