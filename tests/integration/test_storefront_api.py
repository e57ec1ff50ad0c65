"""The storefront API client (``HttpStorefrontApi`` over urllib3) against the fake storefronts
(``shipshape_local.fakestore``): real sockets, real HTTP, the platforms' request shapes, and
faults injected where the network really fails (throttling, 5xx, answers lost after the
storefront acted, dropped connections). No mocks: what is asserted is what the storefront
holds afterwards and what crossed the wire."""

from __future__ import annotations

import base64
import json
import logging
import time
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from shipshape.adapters.storefront_http import SHOPIFY_API_VERSION, HttpStorefrontApi
from shipshape.config import StoreConfig, load_client_file
from shipshape.errors import StorefrontRefused, StorefrontUnavailable
from shipshape.models import Platform
from shipshape.ports import ShipmentNotice, ShippedLine
from shipshape.storefronts.api import API_URL_ENV, MARGIN_SECONDS, StorefrontHttp, within
from shipshape.storefronts.base import StorefrontAdapter
from shipshape.storefronts.shopify import shopify_adapter
from shipshape.storefronts.woocommerce import woocommerce_adapter
from shipshape_local.fakestore import (
    DEV_SECRETS,
    FakeStorefronts,
    Fault,
    bigcommerce_order,
    credentials_for,
)
from shipshape_local.lambdas import LambdaContext
from shipshape_local.storefronts import (
    Line,
    Person,
    PostalAddress,
    ShopifyStore,
    WooCommerceStore,
)
from tests.fakes import FixedSecrets
from tests.helpers import webhook_delivery

CLIENTS = Path(__file__).parents[2] / "config" / "clients"
ACME_CLIENT = load_client_file(CLIENTS / "acme-outdoors.toml")
NORDLICHT_CLIENT = load_client_file(CLIENTS / "nordlicht.toml")
SHOP = ACME_CLIENT.stores_on(Platform.SHOPIFY)[0]
SITE = NORDLICHT_CLIENT.stores_on(Platform.WOOCOMMERCE)[0]
BIGCOMMERCE = StoreConfig(
    platform=Platform.BIGCOMMERCE,
    store="7tq2xk9rbd",
    webhook_secret_name="shipshape/test/bigcommerce-webhook",
    api_token_secret_name="shipshape/test/bigcommerce-api-token",
)
BIGCOMMERCE_TOKEN = "test-only-bigcommerce-api-token"
DEV = {
    **tomllib.loads(DEV_SECRETS.read_text())["secrets"],
    "shipshape/test/bigcommerce-api-token": BIGCOMMERCE_TOKEN,
}

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
JANE = Person("Jane", "Doe", "jane.doe@example.com", "+1 503 555 0100")
PORTLAND = PostalAddress("500 SW Market St", "Portland", "OR", "97204", "US")
BERLIN = PostalAddress("Invalidenstraße 117", "Berlin", "", "10115", "DE")
TENT = Line("TENT-2P-GRN", "Ridgeline 2P tent", 1, "249.00")
MUGS = Line("MUG-ENAMEL-12", "Enamel camp mug", 2, "14.50")
LAMP = Line("LAMP-OAK-S", "Oak table lamp, small", 1, "89.00")
SHADES = Line("SHADE-LINEN-M", "Linen lamp shade", 2, "35.00")
# Long enough that a loaded 2-core CI machine answers a normal call in time (at 0.5 s one
# was once slow enough to be retried, an extra call the operations assertions counted); the
# timeout tests delay their answer to 3 x this.
READ_TIMEOUT = 1.5
BACKOFF = 0.05


class Sleeps:
    """The transport's sleep: every wait recorded, and really waited."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        time.sleep(seconds)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeStorefronts]:
    credentials = credentials_for([ACME_CLIENT, NORDLICHT_CLIENT], DEV)
    credentials["bigcommerce", BIGCOMMERCE.store] = BIGCOMMERCE_TOKEN
    with FakeStorefronts(credentials) as server:
        # As the embedded runtime does: every store's API is the fake's.
        monkeypatch.setenv(API_URL_ENV, server.url)
        yield server


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def make_api(
    sleeps: Sleeps, *, secrets: dict[str, str] | None = None, **options: Any
) -> HttpStorefrontApi:
    # Three retries, more than the functions' transport makes: these tests take the retry
    # mechanics apart (backoff, Retry-After, what a write may repeat) one retry at a time.
    http = StorefrontHttp(
        connect_timeout=READ_TIMEOUT, read_timeout=READ_TIMEOUT, backoff_factor=BACKOFF,
        retries=3, sleep=sleeps,
    )  # fmt: skip
    values = {name: value.encode() for name, value in (secrets or DEV).items()}
    return HttpStorefrontApi(FixedSecrets(values), http=http, **options)


@pytest.fixture
def api(fake: FakeStorefronts, sleeps: Sleeps) -> HttpStorefrontApi:
    return make_api(sleeps)


def acme_sim() -> ShopifyStore:
    return ShopifyStore("acme-outdoors", SHOP.store, DEV[SHOP.webhook_secret_name])


def nordlicht_sim() -> WooCommerceStore:
    return WooCommerceStore("nordlicht", SITE.store, DEV[SITE.webhook_secret_name])


def shopify_order(
    order_id: int, *, lines: list[Line] | None = None, updated_at: datetime = T0, **extra: Any
) -> dict[str, Any]:
    return acme_sim().order(
        order_id, order_id % 10_000, lines=lines or [TENT, MUGS], person=JANE, address=PORTLAND,
        created_at=T0 - timedelta(hours=1), updated_at=updated_at, financial_status="paid",
        **extra,
    )  # fmt: skip


def woo_order(order_id: int, *, modified_at: datetime = T0, status: str = "processing") -> Any:
    return nordlicht_sim().order(
        order_id, lines=[LAMP, SHADES], person=JANE, address=BERLIN,
        created_at=T0 - timedelta(hours=1), modified_at=modified_at, status=status,
    )  # fmt: skip


def notice(
    store: StoreConfig,
    order_id: int,
    lines: list[tuple[int, Line]],
    *,
    tracking: str = "1ZSS0000000000001",
    partial: bool = False,
) -> ShipmentNotice:
    return ShipmentNotice(
        order_id=f"ord_{order_id}",
        platform=store.platform.value,
        store=store.store,
        storefront_order_id=str(order_id),
        carrier="ups",
        service="ground",
        tracking_number=tracking,
        tracking_url=f"https://track.example/{tracking}",
        lines=tuple(
            ShippedLine(line_id=str(line_id), sku=line.sku, quantity=line.quantity)
            for line_id, line in lines
        ),
        partial=partial,
        shipped_at=T0 + timedelta(days=1),
    )


def operations(fake: FakeStorefronts) -> list[tuple[str | None, int]]:
    """The GraphQL calls that reached the shop, in order, with their statuses."""
    return [(r.operation, r.status) for r in fake.requests_to("shopify", SHOP.store)]


def wait_for(predicate: Any, timeout: float = 3.0) -> None:
    """The fake records a slow answer's request when it has processed it, on its own thread."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "the fake never got there"
        time.sleep(0.01)


# --- Shopify write-back ---------------------------------------------------------------------


def test_shopify_shipment_becomes_one_fulfillment_with_tracking_and_lines(
    fake: FakeStorefronts, api: HttpStorefrontApi
) -> None:
    # Given a paid Shopify order with two lines (line item ids 5601, 5602)
    shop = fake.shopify(SHOP.store)
    shop.put_order(shopify_order(560))

    # When all of it ships
    result = api.confirm_shipment(SHOP, notice(SHOP, 560, [(5601, TENT), (5602, MUGS)]))

    # Then the shop holds one fulfillment with the tracking, covering both lines
    (fulfillment,) = shop.fulfillments(560)
    assert result.created is True
    assert result.reference == fulfillment["id"]
    assert fulfillment["tracking"] == {
        "company": "UPS",
        "number": "1ZSS0000000000001",
        "url": "https://track.example/1ZSS0000000000001",
    }
    assert sorted((li["line_item_id"], li["quantity"]) for li in fulfillment["line_items"]) == [
        (5601, 1),
        (5602, 2),
    ]
    assert fulfillment["notify_customer"] is False  # Shipshape tells the customer itself
    (fulfillment_order,) = shop.fulfillment_orders(560)
    assert fulfillment_order["status"] == "CLOSED"
    assert shop.order(560)["fulfillment_status"] == "fulfilled"
    assert operations(fake) == [("order", 200), ("fulfillmentCreate", 200)]


def test_shopify_answer_lost_after_the_shop_fulfilled_is_found_not_duplicated(
    fake: FakeStorefronts, api: HttpStorefrontApi
) -> None:
    # Given an order, and a shop that fulfils the first fulfillmentCreate but answers only
    # after the client's read timeout
    shop = fake.shopify(SHOP.store)
    shop.put_order(shopify_order(561))
    fake.inject(
        "shopify", SHOP.store, Fault.slow(3 * READ_TIMEOUT), body_contains="fulfillmentCreate"
    )

    # When the shipment is written back
    result = api.confirm_shipment(SHOP, notice(SHOP, 561, [(5611, TENT), (5612, MUGS)]))

    # Then the look after the lost answer found the fulfillment: one, written once
    assert len(shop.fulfillments(561)) == 1
    assert result == type(result)(reference=shop.fulfillments(561)[0]["id"], created=True)
    assert operations(fake) == [("order", 200), ("fulfillmentCreate", 200), ("order", 200)]
    assert [r.answered for r in fake.requests_to(operation="fulfillmentCreate")] == [False]


def test_shopify_write_back_retried_by_its_caller_after_a_timeout_makes_no_second_fulfillment(
    fake: FakeStorefronts, sleeps: Sleeps
) -> None:
    # Given a client that writes once per call, and a shop whose answer to it is lost
    api = make_api(sleeps, write_attempts=1)
    shop = fake.shopify(SHOP.store)
    shop.put_order(shopify_order(562))
    fake.inject(
        "shopify", SHOP.store, Fault.slow(3 * READ_TIMEOUT), body_contains="fulfillmentCreate"
    )
    shipped = notice(SHOP, 562, [(5621, TENT), (5622, MUGS)])

    # When the first call times out, and its caller (the queue) tries again
    with pytest.raises(StorefrontUnavailable) as lost:
        api.confirm_shipment(SHOP, shipped)
    wait_for(lambda: len(shop.fulfillments(562)) == 1)
    again = api.confirm_shipment(SHOP, shipped)

    # Then the timeout was worth retrying, and the retry found what the first call made
    assert "shopify store acme-outdoors.myshopify.com" in str(lost.value)
    assert "timed out" in str(lost.value)
    assert again.created is False
    assert again.reference == shop.fulfillments(562)[0]["id"]
    assert len(shop.fulfillments(562)) == 1
    assert [op for op, _ in operations(fake)].count("fulfillmentCreate") == 1


@pytest.mark.parametrize(
    "fault", [Fault.server_error(502), Fault.drop()], ids=["5xx", "dropped-connection"]
)
def test_shopify_write_that_failed_unprocessed_is_looked_for_then_written_again(
    fake: FakeStorefronts, api: HttpStorefrontApi, fault: Fault
) -> None:
    # Given a shop whose first fulfillmentCreate fails without being processed
    shop = fake.shopify(SHOP.store)
    shop.put_order(shopify_order(563))
    fake.inject("shopify", SHOP.store, fault, body_contains="fulfillmentCreate")

    # When the shipment is written back
    result = api.confirm_shipment(SHOP, notice(SHOP, 563, [(5631, TENT), (5632, MUGS)]))

    # Then the write was not repeated blindly: the order was looked at again first
    failed_status = 502 if fault.kind == "server_error" else 0
    assert operations(fake) == [
        ("order", 200), ("fulfillmentCreate", failed_status), ("order", 200),
        ("fulfillmentCreate", 200),
    ]  # fmt: skip
    assert len(shop.fulfillments(563)) == 1
    assert result.created is True


def test_shopify_partial_shipment_fulfils_only_its_lines(
    fake: FakeStorefronts, api: HttpStorefrontApi
) -> None:
    # Given an order of a tent and two mugs
    shop = fake.shopify(SHOP.store)
    shop.put_order(shopify_order(564))

    # When the mugs ship first, and the tent later with its own tracking number
    first = api.confirm_shipment(
        SHOP, notice(SHOP, 564, [(5642, MUGS)], tracking="1ZMUGS", partial=True)
    )
    lines_after_first = {
        li["line_item_id"]: li["remaining"] for li in shop.fulfillment_orders(564)[0]["line_items"]
    }
    status_after_first = shop.fulfillment_orders(564)[0]["status"]
    second = api.confirm_shipment(SHOP, notice(SHOP, 564, [(5641, TENT)], tracking="1ZTENT"))

    # Then the first fulfillment held only the mugs, and left the tent open
    assert status_after_first == "IN_PROGRESS"
    assert lines_after_first == {5641: 1, 5642: 0}
    mugs, tent = shop.fulfillments(564)
    assert (mugs["id"], tent["id"]) == (first.reference, second.reference)
    assert mugs["line_items"] == [{"line_item_id": 5642, "quantity": 2}]
    assert tent["line_items"] == [{"line_item_id": 5641, "quantity": 1}]
    assert shop.fulfillment_orders(564)[0]["status"] == "CLOSED"


def test_shopify_user_errors_are_a_typed_refusal(
    fake: FakeStorefronts, api: HttpStorefrontApi
) -> None:
    # Given a merchant who fulfils the tent by hand while Shipshape's look is on its way back
    shop = fake.shopify(SHOP.store)
    shop.put_order(shopify_order(565))
    fake.inject(
        "shopify", SHOP.store, Fault.meanwhile(lambda: shop.fulfill(565, 5651, 1)),
        body_contains="ShipshapeFulfillmentState",
    )  # fmt: skip

    # When Shipshape writes back the tent from what it read
    with pytest.raises(StorefrontRefused) as refused:
        api.confirm_shipment(SHOP, notice(SHOP, 565, [(5651, TENT)]))

    # Then Shopify's userErrors are a refusal naming the field, and nothing was duplicated
    assert refused.value.status == 422
    assert refused.value.code.endswith("fulfillmentOrderLineItems.0.quantity")
    assert "quantity" in str(refused.value)
    assert len(shop.fulfillments(565)) == 1  # the merchant's


def test_shopify_shipping_more_than_remains_is_refused_before_writing(
    fake: FakeStorefronts, api: HttpStorefrontApi
) -> None:
    # Given an order whose tent the merchant has already fulfilled
    shop = fake.shopify(SHOP.store)
    shop.put_order(shopify_order(566))
    shop.fulfill(566, 5661, 1)

    # When Shipshape ships the tent again
    with pytest.raises(StorefrontRefused) as refused:
        api.confirm_shipment(SHOP, notice(SHOP, 566, [(5661, TENT)], tracking="1ZAGAIN"))

    # Then it is refused without a write
    assert (refused.value.status, refused.value.code) == (422, "not_fulfillable")
    assert [op for op, _ in operations(fake)] == ["order"]


def test_shopify_graphql_throttled_is_waited_out(
    fake: FakeStorefronts, api: HttpStorefrontApi, sleeps: Sleeps
) -> None:
    # Given a shop whose GraphQL bucket is short of 30 points, restoring 100 a second
    shop = fake.shopify(SHOP.store)
    shop.put_order(shopify_order(567))
    fake.inject(
        "shopify", SHOP.store, Fault.graphql_throttled(requested=130, available=100),
        body_contains="fulfillmentCreate",
    )  # fmt: skip

    # When the shipment is written back
    api.confirm_shipment(SHOP, notice(SHOP, 567, [(5671, TENT), (5672, MUGS)]))

    # Then the client waited as long as the throttle status said, and wrote once
    assert sleeps.waits == [pytest.approx(0.3)]
    assert operations(fake) == [
        ("order", 200),
        ("fulfillmentCreate", 200),
        ("fulfillmentCreate", 200),
    ]
    assert len(shop.fulfillments(567)) == 1


# --- transport: throttling, server errors, timeouts ----------------------------------------


def test_429_with_retry_after_is_waited_out_before_the_retry(
    fake: FakeStorefronts, api: HttpStorefrontApi, sleeps: Sleeps
) -> None:
    # Given a shop that throttles the next read with Retry-After: 1
    fake.shopify(SHOP.store).put_order(shopify_order(570))
    fake.inject("shopify", SHOP.store, Fault.throttle(retry_after=1))

    # When the order is read
    order = json.loads(api.fetch_order(SHOP, "570"))

    # Then the read succeeded, and the retry came no sooner than the shop asked
    assert order["id"] == 570
    throttled, retried = fake.requests_to("shopify")
    assert (throttled.status, retried.status) == (429, 200)
    assert retried.received_at - throttled.answered_at >= 1.0
    assert sleeps.waits == [1.0]


def test_shopify_fractional_retry_after_is_read(
    fake: FakeStorefronts, api: HttpStorefrontApi, sleeps: Sleeps
) -> None:
    # Given Shopify's own spelling of Retry-After ("0.2", which urllib3 alone cannot read)
    fake.shopify(SHOP.store).put_order(shopify_order(571))
    fake.inject("shopify", SHOP.store, Fault.throttle(retry_after="0.2"))

    # When the order is read
    api.fetch_order(SHOP, "571")

    # Then the wait was the header's
    throttled, retried = fake.requests_to("shopify")
    assert sleeps.waits == [0.2]
    assert retried.received_at - throttled.answered_at >= 0.2


def test_5xx_then_success_with_backoff(
    fake: FakeStorefronts, api: HttpStorefrontApi, sleeps: Sleeps
) -> None:
    # Given a shop that fails two reads in a row
    fake.shopify(SHOP.store).put_order(shopify_order(572))
    fake.inject("shopify", SHOP.store, Fault.server_error(503), times=2)

    # When the order is read
    order = json.loads(api.fetch_order(SHOP, "572"))

    # Then the third try succeeded, after a growing backoff (urllib3: none before the first)
    assert order["id"] == 572
    first, second, third = fake.requests_to("shopify")
    assert [r.status for r in (first, second, third)] == [503, 503, 200]
    assert sleeps.waits == [pytest.approx(2 * BACKOFF)]
    assert third.received_at - second.answered_at >= 2 * BACKOFF


def test_5xx_past_the_retries_is_unavailable_naming_the_call(
    fake: FakeStorefronts, api: HttpStorefrontApi
) -> None:
    # Given a shop that keeps failing
    fake.inject("shopify", SHOP.store, Fault.server_error(500), times=10)

    # When an order is read
    with pytest.raises(StorefrontUnavailable) as unavailable:
        api.fetch_order(SHOP, "573")

    # Then it is worth trying later, and says where and what
    assert str(unavailable.value) == (
        f"shopify store {SHOP.store}: GET /admin/api/{SHOPIFY_API_VERSION}/orders/573.json "
        "answered 500"
    )
    assert len(fake.requests_to("shopify")) == 4  # the first try and three retries


def test_a_read_that_times_out_is_read_again(fake: FakeStorefronts, api: HttpStorefrontApi) -> None:
    # Given a site whose first answer comes after the client's read timeout
    fake.woocommerce(SITE.store).put_order(woo_order(580))
    fake.inject("woocommerce", SITE.store, Fault.slow(3 * READ_TIMEOUT))

    # When the order is read
    order = json.loads(api.fetch_order(SITE, "580"))

    # Then a read is safe to repeat, and was
    assert order["id"] == 580
    wait_for(lambda: len(fake.requests_to("woocommerce")) == 2)
    assert [r.fault for r in fake.requests_to("woocommerce")] == ["slow", None]


def invocation(seconds_left: float) -> LambdaContext:
    """The emulator's Lambda context, with ``seconds_left`` before the function's timeout."""
    return LambdaContext(function_name="shipshape-ingest", timeout_ms=int(seconds_left * 1000))


def test_a_call_is_not_started_without_time_left_in_the_invocation(
    fake: FakeStorefronts, api: HttpStorefrontApi
) -> None:
    # Given an order in the store, and an invocation with 0.8 s left once its margin is kept
    fake.woocommerce(SITE.store).put_order(woo_order(581))

    # When the order is read within that invocation
    with within(invocation(MARGIN_SECONDS + 0.8)), pytest.raises(StorefrontUnavailable) as late:
        api.fetch_order(SITE, "581")

    # Then the call is not made at all (Lambda would cut it off) and says it is tried later
    assert str(late.value).startswith(
        f"woocommerce store {SITE.store}: GET /wp-json/wc/v3/orders/581 not made: 0."
    )
    assert str(late.value).endswith(
        " s left in this invocation, too little for a call; it is tried again later"
    )
    assert fake.requests_to("woocommerce") == []


def test_a_slow_read_is_not_retried_past_the_invocations_end(
    fake: FakeStorefronts, api: HttpStorefrontApi
) -> None:
    # Given a site whose first answer comes after the read timeout, and an invocation with
    # time for one attempt (2 s after its margin) but not for a second
    fake.woocommerce(SITE.store).put_order(woo_order(582))
    fake.inject("woocommerce", SITE.store, Fault.slow(3 * READ_TIMEOUT))

    # When the order is read within that invocation
    with within(invocation(MARGIN_SECONDS + 2.0)), pytest.raises(StorefrontUnavailable) as late:
        api.fetch_order(SITE, "582")

    # Then the one attempt timed out and no retry was started that could not end in time
    # (outside an invocation the same read is retried and succeeds: see the test above)
    assert str(late.value).startswith(
        f"woocommerce store {SITE.store}: GET /wp-json/wc/v3/orders/582 not retried: "
    )
    assert "s left in this invocation, too little to try again; it is tried again later" in str(
        late.value
    )
    assert [r.fault for r in fake.requests_to("woocommerce")] == ["slow"]


def test_a_read_with_time_left_is_made_as_usual(
    fake: FakeStorefronts, api: HttpStorefrontApi
) -> None:
    # Given an order in the store and an invocation with most of a 10 s timeout left
    fake.woocommerce(SITE.store).put_order(woo_order(583))

    # When it is read within that invocation
    with within(invocation(9.5)):
        order = json.loads(api.fetch_order(SITE, "583"))

    # Then it is read once
    assert order["id"] == 583
    assert len(fake.requests_to("woocommerce")) == 1


# --- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("store", "call", "status", "code"),
    [
        (SHOP, "fetch", 404, "not_found"),
        (SHOP, "confirm", 404, "not_found"),
        (SITE, "fetch", 404, "woocommerce_rest_shop_order_invalid_id"),
        (SITE, "confirm", 404, "woocommerce_rest_shop_order_invalid_id"),
        (BIGCOMMERCE, "fetch", 404, "not_found"),
        (BIGCOMMERCE, "confirm", 404, "not_found"),
    ],
    ids=lambda value: value.platform.value if isinstance(value, StoreConfig) else str(value),
)
def test_an_order_the_storefront_does_not_know_is_refused(
    fake: FakeStorefronts, api: HttpStorefrontApi, store: StoreConfig, call: str, status: int,
    code: str,
) -> None:  # fmt: skip
    # Given a storefront without order 999
    # When it is read or written back
    with pytest.raises(StorefrontRefused) as refused:
        if call == "fetch":
            api.fetch_order(store, "999")
        else:
            api.confirm_shipment(store, notice(store, 999, [(9991, TENT)]))

    # Then the refusal is typed with the platform's status and code
    assert (refused.value.platform, refused.value.status, refused.value.code) == (
        store.platform.value, status, code,
    )  # fmt: skip
    assert store.store in str(refused.value)


@pytest.mark.parametrize(
    ("store", "code"),
    [
        (SHOP, "unauthorized"),
        (SITE, "woocommerce_rest_authentication_error"),
        (BIGCOMMERCE, "unauthorized"),
    ],
    ids=["shopify", "woocommerce", "bigcommerce"],
)
def test_a_bad_credential_is_refused_and_never_shown(
    fake: FakeStorefronts,
    sleeps: Sleeps,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    store: StoreConfig,
    code: str,
) -> None:
    # Given a store whose configured credential is wrong, every library logging at DEBUG
    caplog.set_level(logging.DEBUG)
    assert store.api_token_secret_name is not None
    right = DEV[store.api_token_secret_name]
    wrong = "ck_wrong-key-4711:cs_wrong-secret-0815" if store is SITE else "wrong-token-4711"
    api = make_api(sleeps, secrets={**DEV, store.api_token_secret_name: wrong})
    fake.woocommerce(SITE.store).put_order(woo_order(590))

    # When the API is called
    with pytest.raises(StorefrontRefused) as refused:
        api.confirm_shipment(store, notice(store, 590, [(5901, LAMP)]))

    # Then it is a typed 401 with the platform's code
    assert (refused.value.status, refused.value.code) == (401, code)
    assert fake.requests_to(store.platform.value)[-1].status == 401
    # and no message, chained exception or log line carries either credential
    texts = [str(refused.value), repr(refused.value), caplog.text, *capsys.readouterr()]
    cause: BaseException | None = refused.value
    while cause is not None:
        texts.append(f"{cause!r} {cause}")
        cause = cause.__cause__ or cause.__context__
    texts += [json.dumps(r.__dict__, default=str) for r in caplog.records]
    secrets = [
        *(value for credential in (right, wrong) for value in (credential, *credential.split(":"))),
        *(base64.b64encode(credential.encode()).decode() for credential in (right, wrong)),
    ]
    assert [s for s in secrets for text in texts if s in text] == []


def test_a_store_without_an_api_credential_is_refused_as_not_configured(
    fake: FakeStorefronts, api: HttpStorefrontApi
) -> None:
    # Given a store with no api_token_secret_name
    bare = SHOP.model_copy(update={"api_token_secret_name": None})

    # When an order is read
    with pytest.raises(StorefrontRefused) as refused:
        api.fetch_order(bare, "1")

    # Then nothing was sent, and the refusal says what to configure
    assert (refused.value.status, refused.value.code) == (0, "not_configured")
    assert "api_token_secret_name" in str(refused.value)
    assert fake.requests == []


def test_generic_stores_have_no_api(fake: FakeStorefronts, api: HttpStorefrontApi) -> None:
    generic = StoreConfig(
        platform=Platform.GENERIC, store="kite-and-kin", webhook_secret_name="w",
        api_token_secret_name="shipshape/kite-and-kin/warehouse-token",
    )  # fmt: skip
    with pytest.raises(StorefrontRefused) as refused:
        api.orders_updated_since(generic, T0, T0 + timedelta(hours=1))
    assert refused.value.code == "unsupported"


# --- WooCommerce write-back -----------------------------------------------------------------


def test_woocommerce_full_shipment_completes_the_order_with_one_tracking_note(
    fake: FakeStorefronts, api: HttpStorefrontApi
) -> None:
    # Given a processing order
    site = fake.woocommerce(SITE.store)
    site.put_order(woo_order(600))
    shipped = notice(SITE, 600, [(6001, LAMP), (6002, SHADES)])

    # When the shipment is written back, and the write-back is delivered again
    first = api.confirm_shipment(SITE, shipped)
    again = api.confirm_shipment(SITE, shipped)

    # Then the order is completed with one customer note naming carrier and tracking
    assert site.status(600) == "completed"
    (note,) = site.notes(600)
    assert note["customer_note"] is True
    assert note["note"] == (
        "Shipped with ups ground, tracking 1ZSS0000000000001 "
        "https://track.example/1ZSS0000000000001"
    )
    assert (first.reference, first.created) == (str(note["id"]), True)
    assert (again.reference, again.created) == (str(note["id"]), False)
    writes = [(r.method, r.path) for r in fake.requests_to("woocommerce") if r.method != "GET"]
    assert writes == [
        ("POST", "/wp-json/wc/v3/orders/600/notes"),
        ("PUT", "/wp-json/wc/v3/orders/600"),
    ]


def test_woocommerce_lost_note_answer_is_found_and_the_order_still_completed(
    fake: FakeStorefronts, api: HttpStorefrontApi
) -> None:
    # Given a site that saves the note but answers after the client's read timeout
    site = fake.woocommerce(SITE.store)
    site.put_order(woo_order(601))
    fake.inject("woocommerce", SITE.store, Fault.slow(3 * READ_TIMEOUT), method="POST")

    # When the shipment is written back
    result = api.confirm_shipment(SITE, notice(SITE, 601, [(6011, LAMP), (6012, SHADES)]))

    # Then there is one note, found after the lost answer, and the order is completed
    assert len(site.notes(601)) == 1
    assert result.created is True
    assert site.status(601) == "completed"
    assert len(fake.requests_to("woocommerce", method="POST")) == 1


def test_woocommerce_partial_shipment_keeps_the_status_and_says_so(
    fake: FakeStorefronts, api: HttpStorefrontApi
) -> None:
    # Given a processing order of a lamp and two shades
    site = fake.woocommerce(SITE.store)
    site.put_order(woo_order(602))

    # When only the lamp ships
    api.confirm_shipment(SITE, notice(SITE, 602, [(6021, LAMP)], partial=True))

    # Then the order stays processing, and the note says what shipped
    assert site.status(602) == "processing"
    (note,) = site.notes(602)
    assert note["note"].startswith("Partially shipped (1 x LAMP-OAK-S) with ups ground")
    assert fake.requests_to("woocommerce", method="PUT") == []


# --- BigCommerce ----------------------------------------------------------------------------


def test_bigcommerce_fetch_order_is_one_bundle_of_three_reads(
    fake: FakeStorefronts, api: HttpStorefrontApi
) -> None:
    # Given an order in a BigCommerce store
    bundle = bigcommerce_order(
        610, lines=[TENT, MUGS], person=JANE, address=PORTLAND, modified_at=T0
    )
    fake.bigcommerce(BIGCOMMERCE.store).put_order(bundle)

    # When it is fetched
    fetched = json.loads(api.fetch_order(BIGCOMMERCE, "610"))

    # Then the order, its products and its shipping addresses come as one document
    assert set(fetched) == {"order", "products", "shipping_addresses"}
    assert fetched == json.loads(json.dumps(bundle))
    assert [r.path for r in fake.requests_to("bigcommerce")] == [
        "/v2/orders/610", "/v2/orders/610/products", "/v2/orders/610/shipping_addresses",
    ]  # fmt: skip


def test_bigcommerce_shipment_is_written_once(
    fake: FakeStorefronts, api: HttpStorefrontApi
) -> None:
    # Given an order of a tent and two mugs
    store = fake.bigcommerce(BIGCOMMERCE.store)
    store.put_order(
        bigcommerce_order(611, lines=[TENT, MUGS], person=JANE, address=PORTLAND, modified_at=T0)
    )
    shipped = notice(BIGCOMMERCE, 611, [(6111, TENT), (6112, MUGS)])

    # When it ships, and the write-back comes again
    first = api.confirm_shipment(BIGCOMMERCE, shipped)
    again = api.confirm_shipment(BIGCOMMERCE, shipped)

    # Then one shipment carries the tracking and both products, and the order is Shipped
    (shipment,) = store.shipments(611)
    assert shipment["tracking_number"] == "1ZSS0000000000001"
    assert shipment["tracking_carrier"] == "ups"
    assert shipment["order_address_id"] == 6110
    assert [(i["order_product_id"], i["quantity"]) for i in shipment["items"]] == [
        (6111, 1), (6112, 2),
    ]  # fmt: skip
    assert (first.created, again.created) == (True, False)
    assert first.reference == again.reference == str(shipment["id"])
    assert store.order(611)["order"]["status_id"] == 2


# --- reconciliation pulls -------------------------------------------------------------------

WINDOW = (T0, T0 + timedelta(hours=1))
# Minutes after T0 at which each order was last changed; the window is [0, 60).
CHANGED_AT = {1: -5, 2: 0, 3: 10, 4: 20, 5: 30, 6: 59, 7: 60, 8: 90}
IN_WINDOW = [2, 3, 4, 5, 6]


def test_shopify_orders_updated_since_follows_link_pages_and_keeps_the_window(
    fake: FakeStorefronts, sleeps: Sleeps
) -> None:
    # Given orders changed before, in and after the window (one of them cancelled), and
    # pages of two orders
    api = make_api(sleeps, page_size=2)
    shop = fake.shopify(SHOP.store)
    for n, minutes in reversed(CHANGED_AT.items()):
        at = T0 + timedelta(minutes=minutes)
        shop.put_order(shopify_order(620 + n, updated_at=at, cancelled_at=at if n == 4 else None))

    # When the window is read
    resources = api.orders_updated_since(SHOP, *WINDOW)

    # Then every order changed in it came, oldest change first, through the Link pages
    orders = [shopify_adapter.normalize_resource(r, SHOP.store) for r in resources]
    assert [o.storefront_order_id for o in orders] == [str(620 + n) for n in IN_WINDOW]
    assert [o.cancelled for o in orders] == [n == 4 for n in IN_WINDOW]
    reads = fake.requests_to("shopify")
    assert len(reads) > 2
    assert all("page_info=" in r.query for r in reads[1:])


def test_woocommerce_orders_updated_since_reads_every_page_and_keeps_the_window(
    fake: FakeStorefronts, sleeps: Sleeps
) -> None:
    # Given orders changed before, in and after the window (one of them cancelled)
    api = make_api(sleeps, page_size=2)
    site = fake.woocommerce(SITE.store)
    for n, minutes in CHANGED_AT.items():
        status = "cancelled" if n == 4 else "processing"
        site.put_order(
            woo_order(630 + n, modified_at=T0 + timedelta(minutes=minutes), status=status)
        )

    # When the window is read
    resources = api.orders_updated_since(SITE, *WINDOW)

    # Then every order changed in it came, oldest change first, page by page
    orders = [woocommerce_adapter.normalize_resource(r, SITE.store) for r in resources]
    assert [o.storefront_order_id for o in orders] == [str(630 + n) for n in IN_WINDOW]
    assert [o.cancelled for o in orders] == [n == 4 for n in IN_WINDOW]
    pages = [r.query for r in fake.requests_to("woocommerce")]
    assert len(pages) == 3  # five orders (and the slack), two a page
    assert all("dates_are_gmt=true" in q and "orderby=modified" in q for q in pages)


def test_bigcommerce_orders_updated_since_reads_pages_and_bundles_each_order(
    fake: FakeStorefronts, sleeps: Sleeps
) -> None:
    # Given orders changed before, in and after the window
    api = make_api(sleeps, page_size=2)
    store = fake.bigcommerce(BIGCOMMERCE.store)
    for n, minutes in CHANGED_AT.items():
        at = T0 + timedelta(minutes=minutes)
        store.put_order(
            bigcommerce_order(640 + n, lines=[TENT], person=JANE, address=PORTLAND, modified_at=at)
        )

    # When the window is read
    bundles = [json.loads(r) for r in api.orders_updated_since(BIGCOMMERCE, *WINDOW)]

    # Then each order in it came as its bundle, oldest change first
    assert [b["order"]["id"] for b in bundles] == [640 + n for n in IN_WINDOW]
    assert all(set(b) == {"order", "products", "shipping_addresses"} for b in bundles)
    assert all(b["products"][0]["order_id"] == b["order"]["id"] for b in bundles)
    listing = [r for r in fake.requests_to("bigcommerce") if r.path == "/v2/orders"]
    assert len(listing) >= 3
    assert listing[-1].status in (200, 204)


@pytest.mark.parametrize("platform", ["shopify", "woocommerce"])
def test_an_order_read_back_is_the_order_its_webhook_carried(
    fake: FakeStorefronts, api: HttpStorefrontApi, platform: str
) -> None:
    # Given the order a signed webhook carried, kept by its storefront
    adapter: StorefrontAdapter
    if platform == "shopify":
        store, adapter = SHOP, shopify_adapter
        delivery = acme_sim().deliver("orders/paid", shopify_order(650, updated_at=T0))
        fake.shopify(SHOP.store).put_order(delivery)
    else:
        store, adapter = SITE, woocommerce_adapter
        delivery = nordlicht_sim().deliver("order.updated", woo_order(650))
        fake.woocommerce(SITE.store).put_order(delivery)

    # When reconciliation reads it back
    (resource,) = api.orders_updated_since(store, *WINDOW)

    # Then it normalizes to the very order version the webhook did
    webhook = adapter.normalize(webhook_delivery(delivery.headers, delivery.body, T0))
    assert adapter.normalize_resource(resource, store.store) == webhook


# --- where a store's API lives --------------------------------------------------------------


def test_base_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without the override: the platforms' usual places, or the store's own api_url
    monkeypatch.delenv(API_URL_ENV, raising=False)
    http = StorefrontHttp()
    assert http.base_url(SHOP) == "https://acme-outdoors.myshopify.com"
    assert http.base_url(SITE) == "https://nordlicht-shop.de"
    assert http.base_url(BIGCOMMERCE) == "https://api.bigcommerce.com/stores/7tq2xk9rbd"
    moved = SITE.model_copy(update={"api_url": "https://shop.nordlicht.example/store/"})
    assert http.base_url(moved) == "https://shop.nordlicht.example/store"

    # and never plain HTTP: the credential would travel in the clear
    plain = SITE.model_copy(update={"api_url": "http://nordlicht-shop.de"})
    with pytest.raises(StorefrontRefused) as refused:
        make_api(Sleeps()).fetch_order(plain, "1")
    assert refused.value.code == "not_configured"
    assert "not https" in str(refused.value)

    # With it: every store under the override, by platform and quoted store
    monkeypatch.setenv(API_URL_ENV, "http://127.0.0.1:9/")
    http = StorefrontHttp()
    assert (
        http.base_url(SITE) == "http://127.0.0.1:9/woocommerce/https%3A%2F%2Fnordlicht-shop.de%2F"
    )
    assert http.base_url(moved) == http.base_url(SITE)
