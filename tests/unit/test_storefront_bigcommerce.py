"""The BigCommerce adapter: pointer-only webhooks authenticated by their token header, and
orders read from the v2 Orders API (the order, its products and shipping addresses).

What every adapter shares (verification, the store a delivery claims, a paid order's canonical
form, the registry) is checked once for all four in test_storefront_contract.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from shipshape.config import ClientConfig, StoreConfig, load_client_file
from shipshape.errors import (
    PayloadInvalid,
    SignatureInvalid,
    UnsupportedPlatform,
    UnsupportedTopic,
)
from shipshape.models import LineKind, PaymentState, Platform
from shipshape.services.ingest import ingest_webhook
from shipshape.storefronts.base import WebhookDelivery
from shipshape.storefronts.bigcommerce import TOKEN_HEADER, bigcommerce_adapter
from shipshape_local.storefronts import BigCommerceStore, Line, Person, PostalAddress
from tests.builders import BIGCOMMERCE_KITE as KITE
from tests.builders import BIGCOMMERCE_SPOOLS as SPOOLS
from tests.builders import BIGCOMMERCE_STORE as STORE
from tests.builders import PRIYA_AT_HOME
from tests.fakes import FixedSecrets, InMemoryOrderRepository, RecordingWorkflow, SettableClock
from tests.helpers import CLIENTS_DIR, load_event, webhook_delivery

TOKEN = b"bc-hook-token-5c0d2e9a41f74b8e"
RECEIVED_AT = datetime(2026, 11, 26, 15, 15, 28, tzinfo=UTC)
CREATED = "bigcommerce/store_order_created.json"
STATUS_UPDATED = "bigcommerce/store_order_status_updated.json"
BUNDLE = "bigcommerce/order_awaiting_fulfillment.json"


def bigcommerce_delivery(
    body: bytes, *, token: bytes = TOKEN, headers: Mapping[str, str | None] | None = None
) -> WebhookDelivery:
    """A delivery as BigCommerce sends it, with the hook's custom header; ``headers``
    overrides (None drops one)."""
    sent: dict[str, str | None] = {
        "Content-Type": "application/json",
        "User-Agent": "BigCommerce-Webhooks/1.0",
        TOKEN_HEADER: token.decode(),
        **(headers or {}),
    }
    present = {name: value for name, value in sent.items() if value is not None}
    return webhook_delivery(present, body, RECEIVED_AT)


def edited(fixture: str, edit: Callable[[dict[str, Any]], None]) -> bytes:
    payload = json.loads(load_event(fixture))
    edit(payload)
    return json.dumps(payload).encode()


def bundle_with(**order_fields: Any) -> bytes:
    return edited(BUNDLE, lambda b: b["order"].update(order_fields))


def normalize(resource: bytes) -> Any:
    return bigcommerce_adapter.normalize_resource(resource, STORE)


# --- verify: the token header, fail-closed ------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        pytest.param(
            {TOKEN_HEADER: "bc-hook-token-guessed-by-someone"},
            f"{TOKEN_HEADER} header does not match",
            id="wrong",
        ),
        pytest.param(
            {TOKEN_HEADER: TOKEN.decode()[:-1]}, f"{TOKEN_HEADER} header does not match", id="cut"
        ),
        pytest.param(
            {TOKEN_HEADER: TOKEN.decode() + "0"},
            f"{TOKEN_HEADER} header does not match",
            id="extended",
        ),
        pytest.param(
            {TOKEN_HEADER: TOKEN.decode().upper()},
            f"{TOKEN_HEADER} header does not match",
            id="other-case",
        ),
        pytest.param(
            {TOKEN_HEADER: None, "X-Auth-Token": TOKEN.decode()},
            f"missing {TOKEN_HEADER} header",
            id="another-header",
        ),
    ],
)
def test_a_delivery_without_the_right_token_is_refused_naming_the_header(
    headers: dict[str, str | None], message: str
) -> None:
    # Given a webhook whose token header is absent or wrong (see the case id)
    delivery = bigcommerce_delivery(load_event(CREATED), headers=headers)

    # When it is verified
    with pytest.raises(SignatureInvalid) as refused:
        bigcommerce_adapter.verify(delivery, [TOKEN])

    # Then it is refused; the message names the header, never the secret or what was sent
    assert message in str(refused.value)
    assert TOKEN.decode() not in str(refused.value)
    assert "guessed" not in str(refused.value)


@pytest.mark.parametrize(
    "producer",
    [None, "", "stores/", "stores/q8kz3m1v4w/extra", "apps/q8kz3m1v4w", "q8kz3m1v4w", 42],
    ids=["absent", "empty", "no-hash", "extra-path", "not-a-store", "bare-hash", "number"],
)
def test_a_delivery_that_does_not_name_its_store_is_refused_even_with_the_token(
    producer: object,
) -> None:
    # Given a delivery with the right token whose producer is not stores/<hash>
    def set_producer(payload: dict[str, Any]) -> None:
        if producer is None:
            del payload["producer"]
        else:
            payload["producer"] = producer

    delivery = bigcommerce_delivery(edited(CREATED, set_producer))

    # When it is verified
    with pytest.raises(SignatureInvalid) as refused:
        bigcommerce_adapter.verify(delivery, [TOKEN])

    # Then it is refused, saying what producer must be: the store (and its secrets) must have
    # been chosen by the producer
    assert str(refused.value) == (
        "the delivery does not name its store: producer must be stores/<store hash>"
    )
    assert bigcommerce_adapter.claimed_store(delivery) is None


@pytest.mark.parametrize(
    "body", [b"", b"not json", b"[]", b'"stores/abc"', b"{" * 10_000, "ü".encode("latin-1")]
)
def test_claimed_store_is_none_for_a_body_that_names_none(body: bytes) -> None:
    # Given a body that is not a BigCommerce webhook
    delivery = bigcommerce_delivery(body)

    # When the claimed store is read
    # Then there is none (and nothing raised: the claim is only a lookup key)
    assert bigcommerce_adapter.claimed_store(delivery) is None


def test_a_producer_naming_another_store_is_refused_before_anything_is_written() -> None:
    # Given Kite & Kin's BigCommerce store, and a delivery with its token but naming another
    # store (a copied token replayed against the wrong store)
    client = kite_and_kin_with_bigcommerce()
    body = edited(CREATED, lambda p: p.update(producer="stores/someoneelse"))
    repo, workflow = InMemoryOrderRepository(), RecordingWorkflow()

    # When it is ingested
    with pytest.raises(SignatureInvalid, match="'someoneelse' is not configured"):
        ingest_webhook(
            client=client,
            platform=Platform.BIGCOMMERCE,
            delivery=bigcommerce_delivery(body),
            repo=repo,
            secrets=FixedSecrets({"bc-webhook": TOKEN}),
            workflow=workflow,
            clock=SettableClock(RECEIVED_AT),
        )

    # Then nothing is recorded and nothing started
    assert repo.order_ids() == []
    assert workflow.executions == {}


def kite_and_kin_with_bigcommerce() -> ClientConfig:
    """Kite & Kin with exactly one BigCommerce store (whatever the config file holds)."""
    client = load_client_file(CLIENTS_DIR / "kite-and-kin.toml")
    store = StoreConfig(
        platform=Platform.BIGCOMMERCE,
        store=STORE,
        webhook_secret_name="bc-webhook",
        api_token_secret_name="bc-api-token",
    )
    others = tuple(s for s in client.stores if s.platform is not Platform.BIGCOMMERCE)
    return client.model_copy(update={"stores": (*others, store)})


# --- order_reference: the order the webhook points to -------------------------------------


@pytest.mark.parametrize("fixture", [CREATED, STATUS_UPDATED])
def test_order_reference_is_the_order_id_of_an_accepted_scope(fixture: str) -> None:
    # Given a verified order webhook
    delivery = bigcommerce_delivery(load_event(fixture))

    # When the order it points to is read
    reference = bigcommerce_adapter.order_reference(delivery)

    # Then it is the order id, as text
    assert reference == "173331"


def test_order_reference_accepts_store_order_updated() -> None:
    # Given a store/order/updated webhook
    body = edited(CREATED, lambda p: p.update(scope="store/order/updated"))

    # When the order it points to is read
    # Then it is the order id
    assert bigcommerce_adapter.order_reference(bigcommerce_delivery(body)) == "173331"


@pytest.mark.parametrize(
    "scope",
    ["store/order/archived", "store/order/message/created", "store/product/updated",
     "store/order/*", "STORE/ORDER/CREATED", ""],
)  # fmt: skip
def test_other_scopes_are_unsupported_and_named(scope: str) -> None:
    # Given a webhook for a scope Shipshape does not subscribe to
    body = edited(CREATED, lambda p: p.update(scope=scope))

    # When its order reference is asked for
    with pytest.raises(UnsupportedTopic) as refused:
        bigcommerce_adapter.order_reference(bigcommerce_delivery(body))

    # Then it is refused naming the scope and the accepted ones
    assert repr(scope) in str(refused.value)
    assert "store/order/statusUpdated" in str(refused.value)


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda p: p.pop("scope"), "scope"),
        (lambda p: p.pop("data"), "data"),
        (lambda p: p["data"].pop("id"), "data.id"),
        (lambda p: p["data"].update(id="173331"), "data.id"),
        (lambda p: p["data"].update(id=True), "data.id"),
        (lambda p: p["data"].update(id=0), "data.id"),
        (lambda p: p["data"].update(id=[173331]), "data.id"),
        (lambda p: p["data"].update(type="product"), "data.type"),
        (lambda p: p.update(data=None), "data"),
    ],
    ids=["no-scope", "no-data", "no-id", "id-text", "id-bool", "id-zero", "id-array",
         "not-an-order", "data-null"],
)  # fmt: skip
def test_a_malformed_webhook_is_refused_naming_the_field(
    edit: Callable[[dict[str, Any]], object], field: str
) -> None:
    # Given an order webhook with one field wrong
    body = edited(CREATED, edit)

    # When its order reference is read
    with pytest.raises(PayloadInvalid) as refused:
        bigcommerce_adapter.order_reference(bigcommerce_delivery(body))

    # Then the message starts with the field's path
    assert str(refused.value).startswith(f"{field}:")


@pytest.mark.parametrize("body", [b"", b"not json", b"[]", b"null", b'{"scope": 7}'])
def test_a_body_that_is_not_a_webhook_is_payload_invalid(body: bytes) -> None:
    # Given a body that is not a JSON webhook object
    # When its order reference is read
    # Then it is refused as an invalid payload
    with pytest.raises(PayloadInvalid):
        bigcommerce_adapter.order_reference(bigcommerce_delivery(body))


def test_normalize_says_the_order_must_be_fetched() -> None:
    # Given a verified webhook (it holds no order)
    delivery = bigcommerce_delivery(load_event(CREATED))

    # When a caller asks for the order from the delivery itself
    with pytest.raises(UnsupportedPlatform) as refused:
        bigcommerce_adapter.normalize(delivery)

    # Then the error says where the order comes from instead
    assert "must be fetched from the store's API" in str(refused.value)


# --- normalize_resource: the order read from the API --------------------------------------


def test_a_later_modification_is_a_greater_version() -> None:
    # Given the same order read twice, the second time after another save
    first = normalize(bundle_with(date_modified="Thu, 26 Nov 2026 15:15:27 +0000"))
    later = normalize(bundle_with(date_modified="Thu, 26 Nov 2026 15:15:28 +0000"))
    much_later = normalize(
        bundle_with(date_modified="Fri, 27 Nov 2026 09:00:00 +0000", status_id=1)
    )

    # When their versions are compared
    # Then the later save is always the newer version, whatever its status
    assert first.version < later.version < much_later.version


def test_within_one_second_the_later_stage_is_the_newer_version() -> None:
    # Given checkout moving a new order from Incomplete to Awaiting Fulfillment in one second
    # (date_modified has whole seconds only)
    stamp = "Thu, 26 Nov 2026 15:15:27 +0000"
    incomplete = normalize(bundle_with(date_modified=stamp, status_id=0, payment_status=""))
    paid = normalize(bundle_with(date_modified=stamp, status_id=11))
    cancelled = normalize(bundle_with(date_modified=stamp, status_id=5))

    # When their versions are compared
    # Then the paid read is newer than the incomplete one (not taken for a duplicate), and
    # a cancellation newer still
    assert incomplete.version < paid.version < cancelled.version


def test_date_modified_with_an_offset_is_the_same_moment() -> None:
    # Given date_modified written with another offset, and with "-0000" (UTC, local unknown)
    utc = normalize(bundle_with(date_modified="Thu, 26 Nov 2026 15:15:27 +0000"))
    eastern = normalize(bundle_with(date_modified="Thu, 26 Nov 2026 10:15:27 -0500"))
    unknown = normalize(bundle_with(date_modified="Thu, 26 Nov 2026 15:15:27 -0000"))

    # When they are normalized
    # Then all three are one moment and one version
    assert utc.storefront_updated_at == eastern.storefront_updated_at
    assert utc.storefront_updated_at == unknown.storefront_updated_at
    assert utc.version == eastern.version == unknown.version


@pytest.mark.parametrize(("status_id", "name"), [(5, "Cancelled"), (6, "Declined")])
def test_a_cancelled_or_declined_order_is_cancelled_and_never_ready(
    status_id: int, name: str
) -> None:
    # Given the order after the merchant cancelled or declined it
    resource = bundle_with(status_id=status_id, status=name, payment_status="void")

    # When it is normalized
    order = normalize(resource)

    # Then it is cancelled and nothing may be fulfilled
    assert order.cancelled is True
    assert order.ready_to_fulfil is False
    assert order.payment is PaymentState.VOIDED


@pytest.mark.parametrize(
    ("status_id", "ready"),
    [(0, False), (1, False), (2, False), (3, False), (4, False), (7, False), (8, False),
     (9, True), (10, False), (11, True), (12, False), (13, False), (14, False)],
)  # fmt: skip
def test_only_awaiting_fulfillment_and_awaiting_shipment_are_ready(
    status_id: int, ready: bool
) -> None:
    # Given a captured payment and the order in one of BigCommerce's statuses
    resource = bundle_with(status_id=status_id, payment_status="captured")

    # When it is normalized
    order = normalize(resource)

    # Then only the statuses meaning "paid, to ship" start fulfilment
    assert order.ready_to_fulfil is ready
    assert order.cancelled is False


@pytest.mark.parametrize(
    ("payment_status", "payment"),
    [
        ("captured", PaymentState.PAID),
        ("paid", PaymentState.PAID),
        ("partially refunded", PaymentState.PARTIALLY_REFUNDED),
        ("refunded", PaymentState.REFUNDED),
        ("void", PaymentState.VOIDED),
        ("declined", PaymentState.VOIDED),
        ("authorized", PaymentState.AUTHORIZED),
        ("capture pending", PaymentState.PENDING),
        ("held for review", PaymentState.PENDING),
        ("pending", PaymentState.PENDING),
        ("void pending", PaymentState.PENDING),
    ],
)
def test_payment_follows_the_gateway_payment_status(
    payment_status: str, payment: PaymentState
) -> None:
    # Given an order awaiting fulfillment with the gateway's payment status
    resource = bundle_with(payment_status=payment_status)

    # When it is normalized
    order = normalize(resource)

    # Then the payment state is mapped, and only a paid order is ready (authorized is not
    # captured: nothing ships unpaid; partly refunded ships what is left)
    assert order.payment is payment
    assert order.ready_to_fulfil is (
        payment in (PaymentState.PAID, PaymentState.PARTIALLY_REFUNDED)
    )


@pytest.mark.parametrize(
    ("status_id", "payment"),
    [(11, PaymentState.PAID), (9, PaymentState.PAID), (2, PaymentState.PAID),
     (14, PaymentState.PARTIALLY_REFUNDED), (4, PaymentState.REFUNDED), (7, PaymentState.PENDING),
     (0, PaymentState.PENDING), (5, PaymentState.PENDING)],
)  # fmt: skip
def test_without_a_gateway_the_status_says_whether_it_is_paid(
    status_id: int, payment: PaymentState
) -> None:
    # Given a bank-transfer order (no gateway: payment_status is empty) in some status
    resource = bundle_with(status_id=status_id, payment_status="")

    # When it is normalized
    order = normalize(resource)

    # Then the merchant's status decides: Awaiting Fulfillment means the money was confirmed
    assert order.payment is payment
    assert order.ready_to_fulfil is (status_id in (9, 11))


def test_an_archived_order_is_never_started_but_not_cancelled() -> None:
    # Given a paid order the merchant archived (BigCommerce's delete)
    resource = bundle_with(is_deleted=True)

    # When it is normalized
    order = normalize(resource)

    # Then it does not start fulfilment, and is not taken for a cancellation either
    assert order.ready_to_fulfil is False
    assert order.cancelled is False


def test_the_transactional_currency_is_the_order_currency() -> None:
    # Given a multi-currency order: the shopper paid in EUR, the store's default is GBP
    resource = bundle_with(default_currency_code="EUR", currency_code="GBP")

    # When it is normalized
    # Then the amounts' currency is the transactional one (default_currency_code)
    assert normalize(resource).currency == "EUR"


def test_the_display_currency_is_used_when_the_transactional_one_is_absent() -> None:
    # Given an order whose default_currency_code is absent
    resource = edited(BUNDLE, lambda b: b["order"].pop("default_currency_code"))

    # When it is normalized
    # Then currency_code is the currency
    assert normalize(resource).currency == "GBP"


def test_the_customer_name_comes_from_shipping_when_billing_has_none() -> None:
    # Given an order placed without a billing name (a phone order keyed in by staff)
    def blank_billing(bundle: dict[str, Any]) -> None:
        bundle["order"]["billing_address"].update(first_name="", last_name="", email="")

    order = normalize(edited(BUNDLE, blank_billing))

    # When it is normalized
    # Then the customer is named from the shipping address, and reached by its email
    assert order.customer.name == "Priya Raman"
    assert order.customer.email == "priya.raman@example.co.uk"


def test_an_order_without_a_shipping_address_is_recorded_without_one() -> None:
    # Given an order whose shipping address list is empty and lines name no address
    def no_address(bundle: dict[str, Any]) -> None:
        bundle["shipping_addresses"] = []
        for product in bundle["products"]:
            product["order_address_id"] = 0

    order = normalize(edited(BUNDLE, no_address))

    # When it is normalized
    # Then it is recorded with no address: address validation owns that problem
    assert order.shipping_address is None
    assert order.lines == (KITE, SPOOLS)


def test_an_address_is_taken_when_it_is_the_only_one_even_if_lines_do_not_name_it() -> None:
    # Given lines that do not say which address they go to, and one address on the order
    def unnamed(bundle: dict[str, Any]) -> None:
        for product in bundle["products"]:
            product.pop("order_address_id")

    # When it is normalized
    # Then that address is the shipping address
    assert normalize(edited(BUNDLE, unnamed)).shipping_address == PRIYA_AT_HOME


def second_address(bundle: dict[str, Any]) -> None:
    other = {**bundle["shipping_addresses"][0], "id": 82, "street_1": "1 Harbourside"}
    bundle["shipping_addresses"].append(other)
    bundle["products"][1]["order_address_id"] = 82


# Every entry changes one thing in the real bundle; the message must start with the path.
MALFORMED: dict[str, tuple[Callable[[dict[str, Any]], object], str]] = {
    "total-as-array": (lambda b: b["order"].update(total_inc_tax=[0, [1, 2], -2]),
                       "order.total_inc_tax:"),
    "total-as-null-tuple": (lambda b: b["order"].update(total_inc_tax=[None, None, None]),
                            "order.total_inc_tax:"),
    "total-as-object": (lambda b: b["order"].update(total_inc_tax={"amount": "1"}),
                        "order.total_inc_tax:"),
    "price-as-array": (lambda b: b["products"][0].update(price_inc_tax=[0, [5, 4], -1]),
                       "products.0.price_inc_tax:"),
    "no-status": (lambda b: b["order"].pop("status_id"), "order.status_id:"),
    "unknown-status": (lambda b: b["order"].update(status_id=15), "order.status_id:"),
    "status-text": (lambda b: b["order"].update(status_id="Awaiting Fulfillment"),
                    "order.status_id:"),
    "unknown-payment": (lambda b: b["order"].update(payment_status="settled"),
                        "order.payment_status:"),
    "iso-date": (lambda b: b["order"].update(date_modified="2026-11-26T15:15:27+00:00"),
                 "order.date_modified:"),
    "date-number": (lambda b: b["order"].update(date_modified=1795706127),
                    "order.date_modified:"),
    "year-overflow": (lambda b: b["order"].update(
        date_modified="Thu, 26 Nov 99999999999999999999 15:15:27 +0000"),
        "order.date_modified:"),
    "before-1970": (lambda b: b["order"].update(date_modified="Mon, 01 Jan 1968 00:00:00 +0000"),
                    "order does not fit Shipshape: version:"),
    "no-order-id": (lambda b: b["order"].pop("id"), "order.id:"),
    "order-id-text": (lambda b: b["order"].update(id="173331"), "order.id:"),
    "currency-lower": (lambda b: b["order"].update(default_currency_code="gbp"),
                       "order.default_currency_code:"),
    "no-currency": (lambda b: b["order"].update(default_currency_code="", currency_code=""),
                    "order.default_currency_code and order.currency_code are empty"),
    "no-products": (lambda b: b.pop("products"), "products:"),
    "products-object": (lambda b: b.update(products={"url": "x"}), "products:"),
    "no-addresses": (lambda b: b.pop("shipping_addresses"), "shipping_addresses:"),
    "no-order": (lambda b: b.pop("order"), "order:"),
    "quantity-zero": (lambda b: b["products"][0].update(quantity=0), "products.0.quantity:"),
    "quantity-huge": (lambda b: b["products"][0].update(quantity=10**9), "products.0.quantity:"),
    "no-type": (lambda b: b["products"][0].pop("type"), "products.0.type:"),
    "giftcard-type": (lambda b: b["products"][0].update(type="giftcertificate"),
                      "products.0.type:"),
    "sku-too-long": (lambda b: b["products"][0].update(sku="X" * 65), "products.0.sku:"),
    "no-lines": (lambda b: b.update(products=[]), "products: the order has no product"),
    "unknown-address": (lambda b: [p.update(order_address_id=99) for p in b["products"]],
                        "products: order_address_id 99 is not among shipping_addresses"),
    "no-country": (lambda b: b["shipping_addresses"][0].update(country_iso2=""),
                   "shipping_addresses[0].country_iso2 is empty"),
    "country-name": (lambda b: b["shipping_addresses"][0].update(country_iso2="United Kingdom"),
                     "shipping_addresses.0.country_iso2:"),
    "line-of-another-order": (lambda b: b["products"][0].update(order_id=173332),
                              "products[0].order_id is not order 173331"),
    "address-of-another-order": (lambda b: b["shipping_addresses"][0].update(order_id=1),
                                 "shipping_addresses[0].order_id is not order 173331"),
}  # fmt: skip


def _no_product_says(bundle: dict[str, Any]) -> None:
    second_address(bundle)
    for product in bundle["products"]:
        product.pop("order_address_id")


@pytest.mark.parametrize(
    "edit", [second_address, _no_product_says], ids=["two-destinations", "no-product-says"]
)
def test_an_order_to_several_addresses_is_taken_with_the_first_and_their_count(
    edit: Callable[[dict[str, Any]], object],
) -> None:
    # Given a valid multi-address order (BigCommerce's checkout lets a shopper ship lines to
    # several addresses), or one whose lines do not say which of its two addresses they go to
    resource = edited(BUNDLE, edit)
    published = json.loads(load_event(BUNDLE))
    first = published["shipping_addresses"][0]

    # When it is normalized
    order = normalize(resource)

    # Then it is accepted (a valid platform order is never refused), every line kept, with the
    # first address and the count of addresses, which address validation turns into an owned
    # address_invalid (Shipshape ships an order to one address)
    assert order.destinations == 2
    assert order.shipping_address is not None
    assert order.shipping_address.line1 == first["street_1"]
    assert len(order.lines) + len(order.other_lines) == len(published["products"])


@pytest.mark.parametrize(("edit", "message"), MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_bundle_is_payload_invalid_naming_the_field(
    edit: Callable[[dict[str, Any]], object], message: str
) -> None:
    # Given the API's bundle with one thing wrong (see the case id)
    resource = edited(BUNDLE, edit)

    # When it is normalized
    with pytest.raises(PayloadInvalid) as refused:
        normalize(resource)

    # Then it is refused as an invalid payload whose message leads with what is wrong
    assert str(refused.value).startswith(message), str(refused.value)


@pytest.mark.parametrize(
    "resource", [b"", b"not json", b"[]", b"null", b'{"order": []}', b"\xff\xfe", b"{" * 5000]
)
def test_a_resource_that_is_not_a_bundle_is_payload_invalid(resource: bytes) -> None:
    # Given something the API client should never hand over
    # When it is normalized
    # Then it is refused as an invalid payload, not with any other exception
    with pytest.raises(PayloadInvalid):
        normalize(resource)


# --- the simulator's pairs: the webhook and the read it leads to --------------------------


def simulated_store() -> BigCommerceStore:
    return BigCommerceStore("kite-and-kin", STORE, TOKEN.decode())


def simulated_bundle(store: BigCommerceStore, *, status_id: int, at: datetime) -> dict[str, Any]:
    return store.order(
        5_000_101,
        lines=[Line("KITE-DELTA-RED", "Delta kite 150 cm - Red", 1, "54.95"),
               Line("LINE-SPOOL-50M", "Kite line spool, 50 m", 2, "12.50")],
        person=Person("Oliver", "Bennett", "oliver.bennett@example.co.uk", "+44 117 496 0123"),
        address=PostalAddress("12 Hawthorn Road", "Bristol", "", "BS7 8PT", "GB", "Flat 2"),
        created_at=at - timedelta(minutes=3),
        modified_at=at,
        status_id=status_id,
        payment_status="captured" if status_id == 11 else "",
    )  # fmt: skip


@pytest.mark.parametrize(
    "scope", ["store/order/created", "store/order/updated", "store/order/statusUpdated"]
)
def test_the_simulated_webhook_and_bundle_are_a_matching_pair(scope: str) -> None:
    # Given a simulated BigCommerce store, an order read from its API and the webhook for it
    store = simulated_store()
    bundle = simulated_bundle(store, status_id=11, at=RECEIVED_AT)
    sent = store.deliver(scope, bundle, previous_status_id=7)
    delivery = webhook_delivery(sent.headers, sent.body, RECEIVED_AT)

    # When the adapter takes the webhook, then the resource it points to
    bigcommerce_adapter.verify(delivery, [TOKEN])
    reference = bigcommerce_adapter.order_reference(delivery)
    order = bigcommerce_adapter.normalize_resource(store.resource(bundle), STORE)

    # Then the webhook names the store and the order the resource is
    assert sent.path == "/webhooks/bigcommerce/kite-and-kin"
    assert bigcommerce_adapter.claimed_store(delivery) == STORE
    assert reference == order.storefront_order_id == "5000101"
    assert order.ready_to_fulfil is True
    assert order.total == Decimal("79.95")
    assert [(line.sku, line.quantity) for line in order.lines] == [
        ("KITE-DELTA-RED", 1),
        ("LINE-SPOOL-50M", 2),
    ]
    assert order.shipping_address is not None
    assert order.shipping_address.line2 == "Flat 2"


def test_the_simulated_store_redelivers_one_event_with_one_hash() -> None:
    # Given one simulated event delivered twice, and a later event for the same order
    store = simulated_store()
    bundle = simulated_bundle(store, status_id=7, at=RECEIVED_AT)
    first = json.loads(store.deliver("store/order/created", bundle).body)
    again = json.loads(store.deliver("store/order/created", bundle).body)
    later = json.loads(
        store.deliver(
            "store/order/updated", bundle, sent_at=RECEIVED_AT + timedelta(seconds=5)
        ).body
    )

    # When their hashes are compared
    # Then a redelivery has the same hash (BigCommerce's documented behaviour), another not
    assert first["hash"] == again["hash"] != later["hash"]
    assert first["created_at"] == int(RECEIVED_AT.timestamp())


def test_a_physical_product_without_sku_is_kept_as_a_line_to_map_and_digital_as_not_shipped() -> (
    None
):
    # Given the API's bundle whose kite line spool has no SKU (its digital guide has none)
    resource = edited(BUNDLE, lambda b: b["products"][1].update(sku=""))

    # When it is normalized
    order = normalize(resource)

    # Then the kite is a line to pick; the spool waits to be mapped to a SKU; the guide has
    # nothing to ship
    assert [line.sku for line in order.lines] == ["KITE-DELTA-RED"]
    assert [(ln.line_id, ln.kind, ln.sku, ln.quantity) for ln in order.other_lines] == [
        ("6102", LineKind.NO_SKU, None, 2),
        ("6103", LineKind.NOT_SHIPPED, None, 1),
    ]


def test_an_order_of_digital_products_alone_is_normalized_with_nothing_to_pick() -> None:
    # Given the API's bundle with the digital guide alone
    resource = edited(BUNDLE, lambda b: b.update(products=[b["products"][2]]))

    # When it is normalized
    order = normalize(resource)

    # Then there is no line to pick and the guide is kept as not shipped
    assert order.lines == ()
    assert [(ln.title, ln.kind) for ln in order.other_lines] == [
        ("First flights: a kite-flying guide (PDF)", LineKind.NOT_SHIPPED)
    ]
