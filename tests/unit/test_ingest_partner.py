"""Ingest of a delivery whose channel is the proof of its sender (Shopify's Amazon EventBridge
partner event source): no signature, then the very path of the HTTP webhook, so one order
version is one order whichever door it came through. Every port an in-memory fake."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from shipshape.config import ClientConfig, ClientDirectory
from shipshape.errors import PayloadInvalid
from shipshape.models import Platform, canonical_order_id
from shipshape.services.ingest import IngestOutcome, ingest_partner_delivery, ingest_webhook
from shipshape.storefronts.shopify_events import ShopifyWebhookEvent, delivery_of
from tests.fakes import FixedSecrets, InMemoryOrderRepository, RecordingWorkflow, SettableClock
from tests.helpers import CLIENTS_DIR, load_event, sign_shopify, webhook_delivery

SHOP = "acme-outdoors.myshopify.com"
SECRET = b"dev-shpss-acme-outdoors-current"
PAID_AT = datetime(2026, 11, 20, 15, 42, 7, tzinfo=UTC)  # orders_paid.json's updated_at
NOW = PAID_AT + timedelta(seconds=2.5)
DOCUMENTED = load_event("real/eventbridge-shopify-orders-paid.json")


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(NOW)


def _event(metadata: dict[str, object], payload: object) -> bytes:
    envelope = json.loads(DOCUMENTED)
    envelope["detail"] = {"payload": payload, "metadata": metadata}
    return json.dumps(envelope).encode()


def _paid_event(shop: str = SHOP) -> ShopifyWebhookEvent:
    """orders_paid.json as Shopify's EventBridge delivery carries it: unsigned metadata."""
    payload = json.loads(load_event("shopify/orders_paid.json"))
    metadata = {"X-Shopify-Topic": "orders/paid", "X-Shopify-Shop-Domain": shop}
    return ShopifyWebhookEvent.model_validate_json(_event(metadata, payload))


def test_an_unsigned_partner_delivery_is_recorded_and_the_same_order_over_http_is_a_duplicate(
    acme: ClientConfig,
    repo: InMemoryOrderRepository,
    workflow: RecordingWorkflow,
    clock: SettableClock,
) -> None:
    # Given a paid order as the EventBridge event carries it (no HMAC header at all)
    delivery = delivery_of(_paid_event(), clock.now())
    assert delivery.header("X-Shopify-Hmac-Sha256") is None
    [store] = acme.stores_on(Platform.SHOPIFY)

    # When it is ingested as a partner delivery
    first = ingest_partner_delivery(
        client=acme, store=store, delivery=delivery, repo=repo, workflow=workflow, clock=clock,
        source="eventbridge",
    )  # fmt: skip

    # Then the order is recorded under its business key and its workflow starts
    order_id = canonical_order_id("acme-outdoors", Platform.SHOPIFY, SHOP, "5934127349876")
    assert (first.order_id, first.outcome) == (order_id, IngestOutcome.CREATED)
    assert workflow.starts == [order_id]

    # And when the same version arrives over HTTP, signed, it is that order's duplicate
    body = load_event("shopify/orders_paid.json")
    headers = {"X-Shopify-Topic": "orders/paid", "X-Shopify-Shop-Domain": SHOP,
               "X-Shopify-Hmac-Sha256": sign_shopify(body, SECRET)}  # fmt: skip
    again = ingest_webhook(
        client=acme, platform=Platform.SHOPIFY, delivery=webhook_delivery(headers, body, NOW),
        repo=repo, secrets=FixedSecrets({"shipshape/acme-outdoors/shopify-webhook": SECRET}),
        workflow=workflow, clock=clock,
    )  # fmt: skip
    assert (again.order_id, again.outcome) == (order_id, IngestOutcome.DUPLICATE)
    assert workflow.starts == [order_id]
    assert [e.detail["source"] for e in repo.audit_trail(order_id)] == ["eventbridge"]


def test_a_partner_delivery_naming_another_shop_than_its_store_is_refused(
    acme: ClientConfig,
    repo: InMemoryOrderRepository,
    workflow: RecordingWorkflow,
    clock: SettableClock,
) -> None:
    # Given an event of another shop, handed in with Acme's store
    delivery = delivery_of(_paid_event("someone-else.myshopify.com"), clock.now())
    [store] = acme.stores_on(Platform.SHOPIFY)

    # When it is ingested
    # Then it is refused naming both, and nothing is written or started
    with pytest.raises(PayloadInvalid, match=r"someone-else\.myshopify\.com"):
        ingest_partner_delivery(
            client=acme, store=store, delivery=delivery, repo=repo, workflow=workflow,
            clock=clock, source="eventbridge",
        )  # fmt: skip
    order_id = canonical_order_id("acme-outdoors", Platform.SHOPIFY, SHOP, "5934127349876")
    assert repo.get(order_id) is None
    assert workflow.starts == []


def test_the_client_of_a_shop_is_found_by_its_domain_and_a_shared_shop_is_ambiguous(
    clients: ClientDirectory, tmp_path: Path
) -> None:
    # Given the repository's clients
    # Then Acme's shop finds Acme and its store (the domain's case aside), an unknown shop none
    [(client, store)] = clients.owners_of(Platform.SHOPIFY, "Acme-Outdoors.myshopify.com")
    assert (client.client_id, store.store) == ("acme-outdoors", SHOP)
    assert clients.owners_of(Platform.SHOPIFY, "stranger-goods.myshopify.com") == []
    # And a WooCommerce site is no Shopify shop
    assert clients.owners_of(Platform.SHOPIFY, "https://nordlicht-shop.de/") == []

    # Given a second client configured with the same shop (a configuration mistake)
    shutil.copy(CLIENTS_DIR / "acme-outdoors.toml", tmp_path / "acme-outdoors.toml")
    text = (CLIENTS_DIR / "acme-outdoors.toml").read_text(encoding="utf-8")
    twin = text.replace('client_id = "acme-outdoors"', 'client_id = "acme-twin"')
    assert twin != text
    (tmp_path / "acme-twin.toml").write_text(twin, encoding="utf-8")

    # Then both are found, for the caller to refuse rather than guess
    found = ClientDirectory(tmp_path).owners_of(Platform.SHOPIFY, SHOP)
    assert sorted(c.client_id for c, _ in found) == ["acme-outdoors", "acme-twin"]


def test_the_documented_event_becomes_the_webhook_it_carries() -> None:
    # Given the documented event (tests/events/real/SOURCES.md)
    event = ShopifyWebhookEvent.model_validate_json(DOCUMENTED)

    # When the delivery inside it is taken out
    delivery = delivery_of(event, NOW)

    # Then its headers are the metadata under lower-cased names, and its body is the payload
    documented = json.loads(DOCUMENTED)
    metadata = documented["detail"]["metadata"]
    assert dict(delivery.headers) == {name.lower(): value for name, value in metadata.items()}
    assert json.loads(delivery.body) == documented["detail"]["payload"]
    assert (event.source, event.account, event.detail_type) == (
        "aws.partner/shopify.com/1830279/test-event-source", "123456789012", "shopifyWebhook",
    )  # fmt: skip


TOPIC = "detail.metadata.x-shopify-topic"


@pytest.mark.parametrize(
    ("metadata", "payload", "where"),
    [
        ({"X-Shopify-Shop-Domain": SHOP}, {}, TOPIC),
        ({"X-Shopify-Topic": "orders/paid"}, {}, "detail.metadata.x-shopify-shop-domain"),
        ({"X-Shopify-Topic": "", "X-Shopify-Shop-Domain": SHOP}, {}, TOPIC),
        ({"X-Shopify-Topic": ["orders/paid"], "X-Shopify-Shop-Domain": SHOP}, {}, TOPIC),
        ({"X-Shopify-Topic": "orders/paid", "X-Shopify-Shop-Domain": SHOP}, "{}", "detail.payload"),
    ],
    ids=["no-topic", "no-shop", "empty-topic", "topic-not-text", "payload-a-string"],
)  # fmt: skip
def test_a_malformed_detail_is_refused_naming_the_field(
    metadata: dict[str, object], payload: object, where: str
) -> None:
    # Given an event whose detail is malformed
    # When it is read
    # Then validation names the field
    with pytest.raises(ValidationError) as refused:
        ShopifyWebhookEvent.model_validate_json(_event(metadata, payload))
    assert ".".join(str(p) for p in refused.value.errors()[0]["loc"]) == where
