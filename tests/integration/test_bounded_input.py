"""Storefront versions and times are bounded before anything is recorded, over HTTP on the
embedded stack: a version past 64 bits (or below one) is refused naming the field, and so is
an update time further ahead of Shipshape's clock than clock skew explains, on every
platform. A refused delivery writes nothing, so one bad payload can neither break the reads
of everyone's orders nor pin an order so that its real cancellation looks older.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shipshape_local.runtime import EmbeddedRuntime, HttpResponse, ManualClock
from shipshape_local.storefronts import (
    BigCommerceStore,
    Delivery,
    GenericStore,
    ShopifyStore,
    WooCommerceStore,
)
from shipshape_local.warehouse import WarehouseSimulator
from tests.builders import BERLIN, JANE, KITE, LAMP, LONDON, paid_shopify_order
from tests.integration.stack import LEAD, audit_actions, deliver, table_items

YEAR_9999 = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
KITE_HASH = "q8kz3m1v4w"
LARGEST_VERSION = 2**63 - 1


def _generic_upsert(kite: GenericStore, clock: ManualClock, version: int) -> Delivery:
    payload = kite.order(
        "KK-9001", version=version, lines=[KITE], person=JANE, address=LONDON,
        updated_at=clock.now(), payment_status="paid",
    )  # fmt: skip
    return kite.deliver("order.upsert", payload, signed_at=clock.now())


def test_a_version_past_64_bits_or_below_one_is_refused_and_nothing_is_written(
    runtime: EmbeddedRuntime, kite: GenericStore, clock: ManualClock
) -> None:
    # Given signed generic deliveries whose versions no storage or comparison can hold
    # (a googol, one past the largest 64-bit integer) or that are not positive
    refused: dict[int, HttpResponse] = {}

    # When each is delivered
    for version in (10**100, 2**63, 0):
        refused[version] = deliver(runtime, _generic_upsert(kite, clock, version))

    # Then each is a 422 naming the field, and nothing was recorded or started
    for version, answer in refused.items():
        assert answer.status == 422, (version, answer.body)
        assert answer.json()["error"] == "PayloadInvalid"
        assert answer.json()["message"].startswith("order.version: "), answer.body
    assert table_items(runtime) == []
    assert runtime.executions() == []

    # And the largest version that fits is recorded, and the client's reads still answer
    answer = deliver(runtime, _generic_upsert(kite, clock, LARGEST_VERSION))
    assert answer.status == 202, answer.body
    order = runtime.http("GET", f"/orders/{answer.json()['order_id']}", headers=LEAD)
    assert order.status == 200, order.body
    assert order.json()["version"] == LARGEST_VERSION
    checklist = runtime.http("GET", "/checklist?client=kite-and-kin", headers=LEAD)
    assert checklist.status == 200, checklist.body


def test_a_shopify_order_stamped_in_year_9999_is_refused_and_the_real_cancel_still_stops_it(
    runtime: EmbeddedRuntime,
    acme: ShopifyStore,
    clock: ManualClock,
    warehouse: WarehouseSimulator,
) -> None:
    # Given a paid Shopify order waiting for its pick
    paid = paid_shopify_order(acme, clock, 5_600_701)
    placed = deliver(runtime, acme.deliver("orders/paid", paid))
    assert placed.status == 202, placed.body
    order_id = placed.json()["order_id"]
    assert runtime.wait_for(
        lambda: (
            runtime.http("GET", f"/orders/{order_id}", headers=LEAD).json()["status"]
            == "AWAITING_PICK"
        ),
        timeout=30,
    )

    # When a signed update stamped 9999-12-31 arrives, then the merchant's real cancellation
    pinned = {**paid, "updated_at": YEAR_9999.isoformat()}
    future = deliver(runtime, acme.deliver("orders/updated", pinned))
    cancelled = {
        **paid,
        "cancelled_at": clock.now().isoformat(),
        "updated_at": (clock.now() + timedelta(seconds=30)).isoformat(),
    }
    cancel = deliver(runtime, acme.deliver("orders/cancelled", cancelled))

    # Then the far-future update is refused naming Shopify's field, and recorded nowhere
    assert future.status == 422, future.body
    assert future.json()["message"].startswith("updated_at: "), future.body
    assert "ahead of Shipshape's clock" in future.json()["message"]
    # And the cancellation is taken as the newer version: the order stops and never ships
    assert (cancel.status, cancel.json()["outcome"]) == (202, "updated"), cancel.body
    assert warehouse.run([order_id]) == {order_id: "CANCELLED"}
    order = runtime.http("GET", f"/orders/{order_id}", headers=LEAD).json()
    assert order["version"] < int(YEAR_9999.timestamp() * 1000)
    assert "order_cancelled" in audit_actions(runtime, order_id)
    assert "shipped" not in audit_actions(runtime, order_id)


def test_future_times_are_judged_by_the_injected_clock_with_five_minutes_for_skew(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock
) -> None:
    # Given Shipshape's clock, which the tests set days behind the wall clock: a check that
    # read the wall clock would take both stamps below for the past
    within = clock.now() + timedelta(minutes=5)
    beyond = clock.now() + timedelta(minutes=5, seconds=1)
    assert beyond < datetime.now(UTC)

    # When one order is stamped exactly the skew allowance ahead, and another one second more
    near = paid_shopify_order(acme, clock, 5_600_711, updated_at=within)
    far = paid_shopify_order(acme, clock, 5_600_712, updated_at=beyond)
    accepted = deliver(runtime, acme.deliver("orders/paid", near))
    refused = deliver(runtime, acme.deliver("orders/paid", far))

    # Then the first is recorded and the second refused, naming the field
    assert accepted.status == 202, accepted.body
    assert refused.status == 422, refused.body
    assert refused.json()["message"].startswith("updated_at: "), refused.body
    recorded = [i for i in table_items(runtime) if i["sk"]["S"] == "ORDER"]
    assert [i["pk"]["S"] for i in recorded] == [f"ORDER#{accepted.json()['order_id']}"]


def test_every_storefront_names_its_own_time_field_when_it_is_ahead(
    runtime: EmbeddedRuntime,
    nordlicht: WooCommerceStore,
    kite: GenericStore,
    clock: ManualClock,
) -> None:
    # Given orders stamped in year 9999 by WooCommerce, by a custom shop, and by BigCommerce
    # (whose webhook names an order Shipshape then reads from the store's API)
    fake = runtime.storefronts
    assert fake is not None
    woo = nordlicht.order(
        4901, lines=[LAMP], person=JANE, address=BERLIN, created_at=clock.now(),
        modified_at=YEAR_9999, status="processing",
    )  # fmt: skip
    generic = kite.order(
        "KK-9002", version=7, lines=[KITE], person=JANE, address=LONDON,
        updated_at=YEAR_9999, payment_status="paid",
    )  # fmt: skip
    bigcommerce = BigCommerceStore(
        "kite-and-kin", KITE_HASH, runtime.secret("shipshape/kite-and-kin/bigcommerce-webhook")
    )
    bundle = bigcommerce.order(
        311, lines=[KITE], person=JANE, address=LONDON, created_at=clock.now(),
        modified_at=YEAR_9999, status_id=11, payment_status="captured",
    )  # fmt: skip
    fake.bigcommerce(KITE_HASH).put_order(bundle)

    # When each is delivered
    answers = {
        "date_modified_gmt": deliver(runtime, nordlicht.deliver("order.created", woo)),
        "order.updated_at": deliver(
            runtime, kite.deliver("order.upsert", generic, signed_at=clock.now())
        ),
        "order.date_modified": deliver(
            runtime,
            bigcommerce.deliver("store/order/created", bundle, sent_at=clock.now()),
        ),
    }

    # Then each is a 422 naming that platform's own field, and nothing was recorded
    for field, answer in answers.items():
        assert answer.status == 422, (field, answer.body)
        assert answer.json()["message"].startswith(f"{field}: "), answer.body
    assert table_items(runtime) == []
