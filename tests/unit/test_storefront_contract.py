"""The contract every storefront adapter keeps, one case per platform (Shopify, WooCommerce,
BigCommerce, generic): what each per-platform file would otherwise check again in its own words.

Verification: a webhook opens only with a credential one of the store's secrets made (the
second of two secrets too, during a rotation), and every other delivery is refused with
``SignatureInvalid`` naming the header, never a crash and never a message carrying a secret or
the credential it expected: a credential missing, empty, duplicated (API Gateway joins a
repeated header with commas), one character off, well-formed but made by no secret or by
another store's secret, not even valid text; a signed body changed in one byte; a store with
no usable secret (fail closed); a rotation's previous secret once its window closed.

Normalization: each platform's paid order maps to the canonical order field by field (ids,
version, payment state, money, customer, address, lines); the store a delivery claims is read
from where the platform puts it; the registry serves each platform its adapter.

Credentials are made with ``tests.helpers`` (each platform's documented scheme), not with the
adapters' own code. What only one platform does (Shopify's digital lines, WooCommerce's ping,
BigCommerce's pointer webhooks and API bundle, the generic format's clock) stays in
``test_storefront_<platform>.py``; properties under hostile input are in
``test_properties_storefronts.py``.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from shipshape.config import StoreConfig
from shipshape.errors import PayloadInvalid, SignatureInvalid
from shipshape.models import (
    Customer,
    LineKind,
    OtherLine,
    PaymentState,
    Platform,
    StorefrontOrder,
)
from shipshape.storefronts import adapter_for
from shipshape.storefronts.base import StorefrontAdapter, WebhookDelivery
from shipshape.storefronts.bigcommerce import bigcommerce_adapter
from shipshape.storefronts.generic import generic_adapter
from shipshape.storefronts.shopify import shopify_adapter
from shipshape.storefronts.woocommerce import woocommerce_adapter
from tests.builders import (
    BIGCOMMERCE_KITE,
    BIGCOMMERCE_SPOOLS,
    BIGCOMMERCE_STORE,
    GENERIC_LINES,
    GENERIC_SENDER,
    JANE_AT_HOME,
    LENA_AT_THE_OFFICE,
    OLIVER_IN_BRISTOL,
    PRIYA_AT_HOME,
    SHOP,
    SHOPIFY_MUGS,
    SHOPIFY_TENT,
    WOOCOMMERCE_MUGS,
    WOOCOMMERCE_SITE,
    WOOCOMMERCE_TENT,
)
from tests.fakes import FixedSecrets
from tests.helpers import load_event, sign_generic, sign_shopify, sign_woocommerce, webhook_delivery

SECRET = b"whsec_current_7d1e9c3a5b2f4e60"
OLD_SECRET = b"whsec_previous_2f4a6c8e0b1d3f57"
RECEIVED_AT = datetime(2026, 11, 20, 15, 15, 40, tzinfo=UTC)
EST = timezone(timedelta(hours=-5))
CET = timezone(timedelta(hours=1))


def _unix(moment: datetime) -> int:
    return int(moment.timestamp())


@dataclass(frozen=True)
class Scheme:
    """How one platform authenticates a webhook, as its sender builds the delivery."""

    platform: Platform
    adapter: StorefrontAdapter  # the module's own instance, which the registry must serve
    header: str
    fixture: str
    headers: Mapping[str, str]  # what else a genuine delivery carries: store, topic, ...
    sign: Callable[[bytes, bytes, datetime], str]  # (body, secret, signed at) -> header value
    # Well-formed credentials made by no secret; the first also has the genuine one's length.
    forgeries: tuple[str, ...]
    mismatch: str  # the refusal of a well-formed credential no secret made
    store: str  # the store a genuine delivery claims
    store_header: str | None  # where it is claimed from (None: from the body)
    # One byte of the signed body, before and after a tamperer changed it (None: the
    # platform does not sign its body).
    tamper: tuple[bytes, bytes] | None = field(default=None)

    def delivery(
        self, credential: str | None, *, at: datetime = RECEIVED_AT, body: bytes | None = None
    ) -> WebhookDelivery:
        """The platform's delivery received at ``at`` with ``credential`` (None: no header)."""
        headers = dict(self.headers)
        if credential is not None:
            headers[self.header] = credential
        return webhook_delivery(headers, load_event(self.fixture) if body is None else body, at)

    def signed(self, secret: bytes = SECRET, *, at: datetime = RECEIVED_AT) -> str:
        return self.sign(load_event(self.fixture), secret, at)


SHOPIFY = Scheme(
    Platform.SHOPIFY, shopify_adapter, "X-Shopify-Hmac-Sha256", "shopify/orders_paid.json",
    {
        "Content-Type": "application/json", "X-Shopify-Topic": "orders/paid",
        "X-Shopify-Shop-Domain": SHOP,
        "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        "X-Shopify-Event-Id": "98880550-7158-44d4-b7cd-2c97c8a091b5",
        "X-Shopify-Triggered-At": "2026-11-20T15:15:32.912841207Z",
        "X-Shopify-API-Version": "2025-10",
    },
    lambda body, secret, _at: sign_shopify(body, secret),
    (
        sign_shopify(b"another body", b"another secret"),
        base64.b64encode(bytes(32)).decode(),
    ),
    "X-Shopify-Hmac-Sha256 header does not match the body",
    SHOP, "X-Shopify-Shop-Domain",
    (b'"total_price": "297.00"', b'"total_price": "197.00"'),  # $100 less
)  # fmt: skip
WOOCOMMERCE = Scheme(
    Platform.WOOCOMMERCE, woocommerce_adapter, "X-WC-Webhook-Signature",
    "woocommerce/order_updated_processing.json",
    {
        "Content-Type": "application/json",
        "User-Agent": "WooCommerce/9.4.2 Hookshot (WordPress/6.7.1)",
        "X-WC-Webhook-Source": WOOCOMMERCE_SITE, "X-WC-Webhook-Topic": "order.updated",
        "X-WC-Webhook-Resource": "order", "X-WC-Webhook-Event": "updated",
        "X-WC-Webhook-ID": "12", "X-WC-Webhook-Delivery-ID": "3f5e9a0c1b7d2e4f6a8c0b2d4e6f8a1c",
    },
    lambda body, secret, _at: sign_woocommerce(body, secret),
    (
        sign_woocommerce(b"another body", b"another secret"),
        base64.b64encode(b"\x01" * 32).decode(),
    ),
    "X-WC-Webhook-Signature header does not match the body",
    WOOCOMMERCE_SITE, "X-WC-Webhook-Source",  # exactly as sent, trailing slash included
    (b'"total": "293.70"', b'"total": "193.70"'),  # 100 EUR less
)  # fmt: skip
# BigCommerce sends back, unchanged, the token header the operator set on the hook; the body
# is a pointer to the order (read from the API afterwards), and names the store.
BIGCOMMERCE = Scheme(
    Platform.BIGCOMMERCE, bigcommerce_adapter, "X-Shipshape-Webhook-Token",
    "bigcommerce/store_order_created.json",
    {"Content-Type": "application/json", "User-Agent": "BigCommerce-Webhooks/1.0"},
    lambda _body, secret, _at: secret.decode(),
    ("x" * len(SECRET), "bc-hook-token-guessed-by-someone", "x"),
    "X-Shipshape-Webhook-Token header does not match the store's secret",
    BIGCOMMERCE_STORE, None,
)  # fmt: skip
GENERIC = Scheme(
    Platform.GENERIC, generic_adapter, "Shipshape-Signature", "generic/order_upsert_paid.json",
    {"Content-Type": "application/json", "Shipshape-Source": GENERIC_SENDER},
    lambda body, secret, at: sign_generic(body, secret, _unix(at)),
    (
        f"t={_unix(RECEIVED_AT)},v1={'0' * 64}",
        f"t={_unix(RECEIVED_AT)},v1={'ab' * 32}",
    ),
    "Shipshape-Signature header does not match the body",
    GENERIC_SENDER, "Shipshape-Source",
    (b'"quantity": 2', b'"quantity": 9'),
)  # fmt: skip
SCHEMES = (SHOPIFY, WOOCOMMERCE, BIGCOMMERCE, GENERIC)
each_platform = pytest.mark.parametrize("scheme", SCHEMES, ids=lambda s: s.platform.value)


def refusal(scheme: Scheme, delivery: WebhookDelivery, secrets: Sequence[bytes]) -> str:
    """The message ``verify`` refuses ``delivery`` with; it names the header, and neither a
    secret nor the credential a secret would have made (nor, for the generic format, its
    digest alone)."""
    with pytest.raises(SignatureInvalid) as refused:
        scheme.adapter.verify(delivery, secrets)
    message = str(refused.value)
    assert scheme.header in message
    for secret in (SECRET, OLD_SECRET):
        assert secret.decode() not in message
        assert scheme.signed(secret) not in message
        assert scheme.signed(secret).rsplit("v1=", 1)[-1] not in message
    return message


# --- verification: what opens a delivery --------------------------------------------------


@each_platform
def test_a_delivery_with_the_credential_the_stores_secret_made_is_verified(
    scheme: Scheme,
) -> None:
    # Given a genuine delivery, its credential made with the store's secret
    delivery = scheme.delivery(scheme.signed())

    # When it is verified against that secret
    # Then it passes (verify returns nothing)
    assert scheme.adapter.verify(delivery, [SECRET]) is None


@each_platform
@pytest.mark.parametrize("signer", [SECRET, OLD_SECRET], ids=["new-secret", "old-secret"])
def test_either_of_two_secrets_opens_a_delivery_wherever_it_stands(
    scheme: Scheme, signer: bytes
) -> None:
    # Given a store rotating its secret, and a delivery whose credential one of them made
    delivery = scheme.delivery(scheme.signed(signer))

    # When it is verified against both, in either order
    # Then it passes: the matching secret need not come first
    assert scheme.adapter.verify(delivery, [OLD_SECRET, SECRET]) is None
    assert scheme.adapter.verify(delivery, [SECRET, OLD_SECRET]) is None


@each_platform
def test_the_previous_secret_opens_deliveries_until_its_rotation_window_closes(
    scheme: Scheme,
) -> None:
    # Given a store rotating its secret: the previous one accepted until EXPIRES
    expires = RECEIVED_AT + timedelta(days=7)
    store = StoreConfig(
        platform=scheme.platform,
        store="rotating-store",
        webhook_secret_name="webhook-current",
        previous_webhook_secret_name="webhook-previous",
        previous_secret_expires_at=expires,
    )
    vault = FixedSecrets({"webhook-current": SECRET, "webhook-previous": OLD_SECRET})

    def delivery(secret: bytes, at: datetime) -> WebhookDelivery:
        return scheme.delivery(scheme.signed(secret, at=at), at=at)

    def secrets(at: datetime) -> list[bytes]:
        return vault.get_many(store.secret_names(at))

    # When deliveries made with either secret arrive just before the window closes
    before = expires - timedelta(seconds=1)
    scheme.adapter.verify(delivery(OLD_SECRET, before), secrets(before))
    scheme.adapter.verify(delivery(SECRET, before), secrets(before))

    # Then both opened; from the moment it closes only the current secret does, and the old
    # one is refused like any other credential no accepted secret made
    for after in (expires, expires + timedelta(days=30)):
        scheme.adapter.verify(delivery(SECRET, after), secrets(after))
        refusal(scheme, delivery(OLD_SECRET, after), secrets(after))


# --- verification: what is refused, and how ---------------------------------------------


@each_platform
@pytest.mark.parametrize("credential", [None, "", "   "], ids=["absent", "empty", "blank"])
def test_a_missing_or_empty_credential_is_refused_naming_the_header(
    scheme: Scheme, credential: str | None
) -> None:
    # Given a delivery whose credential header is absent, or present with nothing in it
    delivery = scheme.delivery(credential)

    # When it is verified
    message = refusal(scheme, delivery, [SECRET])

    # Then the refusal says which header is missing
    assert message == f"missing {scheme.header} header"


@each_platform
@pytest.mark.parametrize(
    "first", ["genuine", "forged"], ids=["genuine-twice", "forged-then-genuine"]
)
def test_a_credential_header_sent_twice_is_refused(scheme: Scheme, first: str) -> None:
    # Given a delivery carrying the header twice, which API Gateway hands over joined by a
    # comma: the genuine value repeated, or a forged value before the genuine one
    genuine = scheme.signed()
    before = genuine if first == "genuine" else scheme.forgeries[0]
    delivery = scheme.delivery(f"{before},{genuine}")

    # When it is verified
    # Then it is refused: one credential, or none
    refusal(scheme, delivery, [SECRET])


@each_platform
def test_a_credential_one_character_off_is_refused(scheme: Scheme) -> None:
    # Given the genuine credential with one character in its middle changed
    genuine = scheme.signed()
    middle = len(genuine) // 2
    changed = "1" if genuine[middle] == "0" else "0"
    delivery = scheme.delivery(genuine[:middle] + changed + genuine[middle + 1 :])

    # When it is verified
    message = refusal(scheme, delivery, [SECRET])

    # Then it does not match
    assert message == scheme.mismatch


@pytest.mark.parametrize(
    ("scheme", "forged"),
    [
        pytest.param(scheme, forged, id=f"{scheme.platform.value}-{n}")
        for scheme in SCHEMES
        for n, forged in enumerate(scheme.forgeries)
    ],
)
def test_a_well_formed_credential_no_secret_made_is_refused(scheme: Scheme, forged: str) -> None:
    # Given a credential of the right form that the store's secret did not make
    delivery = scheme.delivery(forged)

    # When it is verified
    message = refusal(scheme, delivery, [SECRET])

    # Then it does not match, and the message says no more than that
    assert message == scheme.mismatch


@each_platform
def test_a_credential_another_stores_secret_made_is_refused(scheme: Scheme) -> None:
    # Given a genuine-looking delivery whose credential a secret not the store's made
    delivery = scheme.delivery(scheme.signed(b"someone else's secret"))

    # When it is verified
    message = refusal(scheme, delivery, [SECRET])

    # Then it does not match
    assert message == scheme.mismatch


@pytest.mark.parametrize(
    "scheme", [s for s in SCHEMES if s.tamper], ids=lambda s: s.platform.value
)  # BigCommerce signs no body: its body is a pointer, the order is read from its API
def test_a_signed_body_changed_in_one_byte_is_refused(scheme: Scheme) -> None:
    # Given a correctly signed delivery whose body is then changed in one byte
    assert scheme.tamper is not None
    body = load_event(scheme.fixture)
    before, after = scheme.tamper
    tampered = body.replace(before, after)
    assert len(tampered) == len(body) and tampered != body
    delivery = scheme.delivery(scheme.signed(), body=tampered)

    # When it is verified
    message = refusal(scheme, delivery, [SECRET])

    # Then it is refused: the credential no longer matches the body
    assert message == scheme.mismatch


@each_platform
@pytest.mark.parametrize("where", ["appended", "alone"])
def test_a_credential_that_is_not_valid_text_is_refused_not_crashed(
    scheme: Scheme, where: str
) -> None:
    # Given a credential holding a lone surrogate (what a JSON event's "\ud800" decodes to),
    # after the genuine value or on its own
    credential = f"{scheme.signed()}\ud800" if where == "appended" else "\ud800"
    delivery = scheme.delivery(credential)

    # When it is verified
    # Then it is a refusal like any other wrong credential, not an error of the server
    refusal(scheme, delivery, [SECRET])


# An empty secret is a valid HMAC key, so anyone can make the credential it would open.
@pytest.mark.parametrize(
    ("scheme", "secrets", "credential"),
    [
        pytest.param(scheme, secrets, credential, id=f"{scheme.platform.value}-{name}-{made}")
        for scheme in SCHEMES
        for name, secrets in (("no-secret", []), ("empty-secret", [b""]))
        for made, credential in (
            ("by-the-empty-key", scheme.sign(load_event(scheme.fixture), b"", RECEIVED_AT)),
            ("by-the-real-secret", scheme.signed()),
            ("by-no-secret", scheme.forgeries[-1]),
        )
    ],
)  # fmt: skip
def test_a_store_without_a_usable_secret_opens_nothing(
    scheme: Scheme, secrets: list[bytes], credential: str
) -> None:
    # Given a store whose secret is missing or configured empty, and a delivery with a
    # credential anyone could make (the empty key's), the one its real secret makes, or one
    # no secret made
    delivery = scheme.delivery(credential)

    # When it is verified
    # Then it is refused: fail closed
    refusal(scheme, delivery, secrets)


# --- the store a delivery claims, and the registry ----------------------------------------


@each_platform
def test_a_delivery_claims_the_store_the_platform_names(scheme: Scheme) -> None:
    # Given a genuine delivery from the store
    delivery = scheme.delivery(scheme.signed())

    # When its store is asked (unauthenticated: verify decides)
    store = scheme.adapter.claimed_store(delivery)

    # Then it is the store as the platform names it: Shopify's shop domain, WooCommerce's
    # site URL, BigCommerce's store hash in producer, the generic sender's Shipshape-Source
    assert store == scheme.store


@pytest.mark.parametrize(
    "scheme", [s for s in SCHEMES if s.store_header], ids=lambda s: s.platform.value
)
def test_without_its_store_header_a_delivery_claims_no_store_and_cannot_normalize(
    scheme: Scheme,
) -> None:
    # Given a genuine delivery without the header that names its store
    assert scheme.store_header is not None
    headers = {k: v for k, v in scheme.headers.items() if k != scheme.store_header}
    delivery = webhook_delivery(
        {**headers, scheme.header: scheme.signed()}, load_event(scheme.fixture), RECEIVED_AT
    )

    # When its store is asked, or it is normalized
    store = scheme.adapter.claimed_store(delivery)
    with pytest.raises(PayloadInvalid) as caught:
        scheme.adapter.normalize(delivery)

    # Then no store is claimed and normalization names the header
    assert store is None
    assert str(caught.value) == f"missing {scheme.store_header} header"


@each_platform
def test_the_registry_serves_each_platform_its_adapter(scheme: Scheme) -> None:
    # Given the platform in a webhook's path
    # When its adapter is looked up
    adapter = adapter_for(scheme.platform)

    # Then it is that platform's adapter
    assert adapter is scheme.adapter
    assert adapter.platform is scheme.platform


# --- normalization of a paid order ------------------------------------------------------


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp()) * 1000


@dataclass(frozen=True)
class PaidOrder:
    """A platform's paid order as it arrives, and the canonical order it must become."""

    normalize: Callable[[], StorefrontOrder]
    expected: StorefrontOrder  # every field but the version
    version: Callable[[int], bool]  # the version's rule


BIGCOMMERCE_MODIFIED = datetime(2026, 11, 26, 15, 15, 27, tzinfo=UTC)
PAID_ORDERS = {
    "shopify": PaidOrder(
        lambda: shopify_adapter.normalize(SHOPIFY.delivery(SHOPIFY.signed())),
        StorefrontOrder(
            platform=Platform.SHOPIFY, store=SHOP, storefront_order_id="5934127349876",
            order_number="#1001", version=1,
            lifecycle=3 << 32,  # paid (Shopify's fourth payment state), not ended, none shipped
            # 10:42:07 at the shop's offset, the moment orders/paid was sent
            storefront_updated_at=datetime(2026, 11, 20, 10, 42, 7, tzinfo=EST),
            payment=PaymentState.PAID, ready_to_fulfil=True, cancelled=False,
            currency="USD", total=Decimal("297.00"), tax=Decimal("0.00"),
            # placed at 10:15:32 and its payment processed a second before, at the shop's offset
            storefront_created_at=datetime(2026, 11, 20, 10, 15, 32, tzinfo=EST),
            storefront_paid_at=datetime(2026, 11, 20, 10, 15, 31, tzinfo=EST),
            customer=Customer(
                name="Jane Doe", email="jane.doe@example.com", phone="+15035550142"
            ),
            shipping_address=JANE_AT_HOME, lines=(SHOPIFY_TENT, SHOPIFY_MUGS),
        ),
        lambda version: version == _epoch_ms(datetime(2026, 11, 20, 15, 42, 7, tzinfo=UTC)),
    ),
    "woocommerce": PaidOrder(
        lambda: woocommerce_adapter.normalize(WOOCOMMERCE.delivery(WOOCOMMERCE.signed())),
        StorefrontOrder(
            platform=Platform.WOOCOMMERCE, store=WOOCOMMERCE_SITE, storefront_order_id="4711",
            order_number="4711", version=1,
            lifecycle=4 << 32,  # processing (fifth on WooCommerce's path), not ended
            # date_modified_gmt gives the instant (GMT); date_modified, local, the site's offset
            storefront_updated_at=datetime(2026, 11, 20, 15, 17, 4, tzinfo=UTC),
            payment=PaymentState.PAID, ready_to_fulfil=True, cancelled=False,
            currency="EUR", total=Decimal("293.70"), tax=Decimal("46.89"),
            # date_created 16:15:32 local, 15:15:32 GMT: the site is at +01:00 (Berlin)
            storefront_created_at=datetime(2026, 11, 20, 16, 15, 32, tzinfo=CET),
            storefront_paid_at=datetime(2026, 11, 20, 16, 17, 3, tzinfo=CET),
            customer=Customer(
                name="Lena Vogel", email="lena.vogel@example.org", phone="+49 30 55501234"
            ),
            shipping_address=LENA_AT_THE_OFFICE, lines=(WOOCOMMERCE_TENT, WOOCOMMERCE_MUGS),
        ),
        lambda version: version == _epoch_ms(datetime(2026, 11, 20, 15, 17, 4, tzinfo=UTC)),
    ),
    # A BigCommerce webhook only points at the order: the order is the API's bundle.
    "bigcommerce": PaidOrder(
        lambda: bigcommerce_adapter.normalize_resource(
            load_event("bigcommerce/order_awaiting_fulfillment.json"), BIGCOMMERCE_STORE
        ),
        StorefrontOrder(
            platform=Platform.BIGCOMMERCE, store=BIGCOMMERCE_STORE, storefront_order_id="173331",
            order_number="173331", version=1, storefront_updated_at=BIGCOMMERCE_MODIFIED,
            payment=PaymentState.PAID, ready_to_fulfil=True, cancelled=False,
            currency="GBP", total=Decimal("84.9000"), tax=Decimal("14.1500"),
            storefront_created_at=datetime(2026, 11, 26, 15, 5, 31, tzinfo=UTC),
            customer=Customer(
                name="Priya Raman", email="priya.raman@example.co.uk", phone="+44 117 496 0451"
            ),
            shipping_address=PRIYA_AT_HOME,
            lines=(BIGCOMMERCE_KITE, BIGCOMMERCE_SPOOLS),
            # The PDF guide is digital: nothing to pick, so kept beside the lines (no SKU)
            other_lines=(
                OtherLine(
                    line_id="6103", kind=LineKind.NOT_SHIPPED, sku=None,
                    title="First flights: a kite-flying guide (PDF)", quantity=1,
                    unit_price=Decimal("0.0000"),
                ),
            ),
        ),
        # Milliseconds of date_modified, the order's stage in the sub-second digits
        lambda version: (
            _epoch_ms(BIGCOMMERCE_MODIFIED) <= version < _epoch_ms(BIGCOMMERCE_MODIFIED) + 1000
        ),
    ),
    "generic": PaidOrder(
        lambda: generic_adapter.normalize(GENERIC.delivery(GENERIC.signed())),
        StorefrontOrder(
            platform=Platform.GENERIC, store=GENERIC_SENDER,
            storefront_order_id="KK-20261120-0042", order_number="KK-1042", version=1,
            storefront_updated_at=datetime(2026, 11, 20, 15, 15, 32, tzinfo=UTC),
            payment=PaymentState.PAID, ready_to_fulfil=True, cancelled=False,
            currency="GBP", total=Decimal("87.45"),
            customer=Customer(
                name="Oliver Bennett", email="oliver.bennett@example.co.uk",
                phone="+44 117 496 0123",
            ),
            shipping_address=OLIVER_IN_BRISTOL, lines=GENERIC_LINES,
        ),
        lambda version: version == 3,  # the sender's own version, not a timestamp
    ),
}  # fmt: skip


@pytest.mark.parametrize("paid", PAID_ORDERS.values(), ids=PAID_ORDERS.keys())
def test_a_paid_order_becomes_the_canonical_order_field_by_field(paid: PaidOrder) -> None:
    # Given a paid order as its platform sends it (signed, with every header it sends)
    # When it is normalized
    order = paid.normalize()

    # Then every canonical field comes from the payload: the business key and order number,
    # the moment it changed and its version, paid and ready to fulfil, the money, the
    # customer, the address and the lines to pick
    assert order.business_key() == (
        paid.expected.platform.value,
        paid.expected.store,
        paid.expected.storefront_order_id,
    )
    assert order.storefront_updated_at == paid.expected.storefront_updated_at
    assert paid.version(order.version), order.version
    assert order.model_copy(update={"version": 1}) == paid.expected
