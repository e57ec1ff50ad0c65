"""One verification contract for every storefront: a webhook opens only with a credential one
of the store's secrets made, and every other delivery is refused with ``SignatureInvalid``
naming the header, never a crash and never a message carrying a secret.

The same cases run against all four adapters: a credential missing, empty, duplicated (API
Gateway joins a repeated header with commas), one character off, well-formed and of the right
length but made by no secret, or not even valid text; and a rotation's previous secret, open
until its window closes and refused from then on. Credentials are made with ``tests.helpers``
(each platform's documented scheme), not with the adapters' own code. (A signed body changed
in any byte is covered for the three signing platforms in test_properties_storefronts.py;
BigCommerce does not sign its body.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from shipshape.config import StoreConfig
from shipshape.errors import SignatureInvalid
from shipshape.models import Platform
from shipshape.storefronts import adapter_for
from shipshape.storefronts.base import StorefrontAdapter, WebhookDelivery
from tests.fakes import FixedSecrets
from tests.helpers import load_event, sign_generic, sign_shopify, sign_woocommerce, webhook_delivery

SECRET = b"whsec_current_7d1e9c3a5b2f4e60"
OLD_SECRET = b"whsec_previous_2f4a6c8e0b1d3f57"
RECEIVED_AT = datetime(2026, 11, 20, 15, 15, 40, tzinfo=UTC)


@dataclass(frozen=True)
class Scheme:
    """How one platform authenticates a webhook, as its sender builds the delivery."""

    platform: Platform
    header: str
    fixture: str
    headers: Mapping[str, str]  # what else a genuine delivery carries: store, topic
    sign: Callable[[bytes, bytes, datetime], str]  # (body, secret, signed at) -> header value
    forge: Callable[[datetime], str]  # well-formed, the right length, made by no secret

    @property
    def adapter(self) -> StorefrontAdapter:
        return adapter_for(self.platform)

    def delivery(self, credential: str | None, *, at: datetime = RECEIVED_AT) -> WebhookDelivery:
        """The platform's delivery received at ``at`` with ``credential`` (None: no header)."""
        headers = dict(self.headers)
        if credential is not None:
            headers[self.header] = credential
        return webhook_delivery(headers, load_event(self.fixture), at)

    def signed(self, secret: bytes = SECRET, *, at: datetime = RECEIVED_AT) -> str:
        return self.sign(load_event(self.fixture), secret, at)


def _unix(moment: datetime) -> int:
    return int(moment.timestamp())


SHOPIFY = Scheme(
    Platform.SHOPIFY, "X-Shopify-Hmac-Sha256", "shopify/orders_paid.json",
    {"X-Shopify-Shop-Domain": "acme-outdoors.myshopify.com", "X-Shopify-Topic": "orders/paid"},
    lambda body, secret, _at: sign_shopify(body, secret),
    lambda _at: sign_shopify(b"another body", b"another secret"),
)  # fmt: skip
WOOCOMMERCE = Scheme(
    Platform.WOOCOMMERCE, "X-WC-Webhook-Signature", "woocommerce/order_updated_processing.json",
    {"X-WC-Webhook-Source": "https://nordlicht-shop.de/", "X-WC-Webhook-Topic": "order.updated"},
    lambda body, secret, _at: sign_woocommerce(body, secret),
    lambda _at: sign_woocommerce(b"another body", b"another secret"),
)  # fmt: skip
# BigCommerce sends back, unchanged, the token header the operator set on the hook.
BIGCOMMERCE = Scheme(
    Platform.BIGCOMMERCE, "X-Shipshape-Webhook-Token", "bigcommerce/store_order_created.json",
    {},
    lambda _body, secret, _at: secret.decode(),
    lambda _at: "x" * len(SECRET),
)  # fmt: skip
GENERIC = Scheme(
    Platform.GENERIC, "Shipshape-Signature", "generic/order_upsert_paid.json",
    {"Shipshape-Source": "kite-and-kin"},
    lambda body, secret, at: sign_generic(body, secret, _unix(at)),
    lambda at: f"t={_unix(at)},v1={'0' * 64}",
)  # fmt: skip
SCHEMES = (SHOPIFY, WOOCOMMERCE, BIGCOMMERCE, GENERIC)
each_platform = pytest.mark.parametrize("scheme", SCHEMES, ids=lambda s: s.platform.value)


def refusal(scheme: Scheme, delivery: WebhookDelivery, secrets: Sequence[bytes]) -> str:
    """The message ``verify`` refuses ``delivery`` with; it names the header and no secret."""
    with pytest.raises(SignatureInvalid) as refused:
        scheme.adapter.verify(delivery, secrets)
    message = str(refused.value)
    assert scheme.header in message
    for secret in (SECRET, OLD_SECRET):
        assert secret.decode() not in message
    assert scheme.signed() not in message
    return message


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
    before = genuine if first == "genuine" else scheme.forge(RECEIVED_AT)
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
    assert "does not match" in message


@each_platform
def test_a_well_formed_credential_no_secret_made_is_refused(scheme: Scheme) -> None:
    # Given a credential of the right form and length that the store's secret did not make
    delivery = scheme.delivery(scheme.forge(RECEIVED_AT))

    # When it is verified
    message = refusal(scheme, delivery, [SECRET])

    # Then it does not match
    assert "does not match" in message


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

    def verify(secret: bytes, at: datetime) -> None:
        delivery = scheme.delivery(scheme.signed(secret, at=at), at=at)
        scheme.adapter.verify(delivery, vault.get_many(store.secret_names(at)))

    # When deliveries made with either secret arrive just before the window closes
    before = expires - timedelta(seconds=1)
    verify(OLD_SECRET, before)
    verify(SECRET, before)

    # Then both opened; from the moment it closes only the current secret does
    for after in (expires, expires + timedelta(days=30)):
        verify(SECRET, after)
        with pytest.raises(SignatureInvalid):
            verify(OLD_SECRET, after)


# An empty secret is a valid HMAC key, so anyone can make the credential it would open.
@pytest.mark.parametrize(
    ("scheme", "secrets"),
    [
        pytest.param(
            scheme, secrets, id=f"{scheme.platform.value}-{name}",
        )
        for scheme in SCHEMES
        for name, secrets in (("no-secret", []), ("empty-secret", [b""]))
    ],
)  # fmt: skip
def test_a_store_without_a_usable_secret_opens_nothing(
    scheme: Scheme, secrets: list[bytes]
) -> None:
    # Given a store whose secret is missing or configured empty, and a delivery whose
    # credential anyone could make without knowing a secret (the empty key's)
    delivery = scheme.delivery(scheme.sign(load_event(scheme.fixture), b"", RECEIVED_AT))

    # When it is verified
    # Then it is refused: fail closed
    with pytest.raises(SignatureInvalid):
        scheme.adapter.verify(delivery, secrets)
