"""Shopify's Amazon EventBridge webhook delivery, the second front door: an event on the
stack's partner event bus reaches ShopifyEventsFunction through the rule and queue the template
declares, and lands in the same idempotent ingest as the HTTP webhook.

The runtime here is deployed with ``ShopifyEventSourceName`` set (the front door on). The
documented event is tests/events/real/eventbridge-shopify-orders-paid.json (SOURCES.md says
where each part of it comes from).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from shipshape.models import Platform, canonical_order_id
from shipshape_local.issuer import dev_bearer
from shipshape_local.runtime import ACCOUNT, REGION, EmbeddedRuntime, ManualClock
from shipshape_local.storefronts import PartnerEvent, ShopifyStore
from tests.builders import paid_shopify_order
from tests.integration.stack import audit_actions, datapoints, deliver, table_items, view

SOURCE = "aws.partner/shopify.com/1830279/test-event-source"
FUNCTION = "shipshape-ShopifyEventsFunction"
DOCUMENTED = json.loads(
    (
        Path(__file__).parents[1] / "events" / "real" / "eventbridge-shopify-orders-paid.json"
    ).read_text(encoding="utf-8")
)


@pytest.fixture
def runtime(clock: ManualClock) -> Iterator[EmbeddedRuntime]:
    with EmbeddedRuntime(clock=clock, parameters={"ShopifyEventSourceName": SOURCE}) as rt:
        yield rt
        assert rt.integration_errors == [], "a handler crashed:\n" + "\n".join(
            rt.integration_errors
        )


def _bus(runtime: EmbeddedRuntime) -> str:
    return runtime.names["ShopifyEventBus"]


def _acme_order_id(storefront_order_id: object) -> str:
    return canonical_order_id(
        "acme-outdoors", Platform.SHOPIFY, "acme-outdoors.myshopify.com", str(storefront_order_id)
    )


def _outcomes(runtime: EmbeddedRuntime) -> dict[str, float]:
    """How many events the function recorded, by outcome (its metrics)."""
    found: dict[str, float] = {}
    for name in ("Created", "Updated", "Duplicate", "Stale"):
        total = sum(value for _, value in datapoints(runtime, f"ShopifyEvent{name}", FUNCTION))
        if total:
            found[name.lower()] = total
    return found


def _refusals(runtime: EmbeddedRuntime) -> list[dict[str, Any]]:
    """The function's refusal log lines."""
    lines = [json.loads(line) for line in runtime.lambdas.captured(FUNCTION)]
    return [line for line in lines if line.get("message", "").startswith("Shopify EventBridge")]


def _dead_letters(runtime: EmbeddedRuntime) -> list[dict[str, Any]]:
    return runtime.queue_messages("ShopifyEventsDeadLetterQueue")


def test_the_documented_event_through_the_bus_creates_the_order_and_starts_its_workflow(
    runtime: EmbeddedRuntime,
) -> None:
    # Given the documented Shopify EventBridge event of a paid order of Acme's shop
    event = PartnerEvent(source=DOCUMENTED["source"], detail=DOCUMENTED["detail"])
    order_id = _acme_order_id(DOCUMENTED["detail"]["payload"]["id"])

    # When Shopify's partner source puts it on the stack's bus, and it is delivered
    event.put(_bus(runtime))
    runtime.drain()

    # Then the rule and the queue brought it to the function, which recorded the order from
    # the payload by its topic, and its fulfilment workflow started
    assert _outcomes(runtime) == {"created": 1}
    order = view(runtime, order_id)
    assert (order["order_number"], order["total"]) == ("#1002", "270.37")
    assert order["client_id"] == "acme-outdoors"
    assert runtime.execution_exists(order_id)
    trail = runtime.http(
        "GET", f"/orders/{order_id}/audit", headers=dev_bearer("olivia.lead")
    ).json()["events"]
    assert trail[0]["action"] == "order_received"
    assert trail[0]["detail"]["source"] == "eventbridge"
    assert _dead_letters(runtime) == []


def test_an_order_first_through_eventbridge_then_over_http_is_one_order(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock
) -> None:
    # Given a paid order delivered through EventBridge and recorded
    payload = paid_shopify_order(acme, clock)
    acme.deliver_event("orders/paid", payload, source=SOURCE).put(_bus(runtime))
    runtime.drain()
    order_id = _acme_order_id(payload["id"])
    assert runtime.settle()
    writes, trail = runtime.writes.count, audit_actions(runtime, order_id)

    # When the same order version arrives over the HTTP webhook, signed as Shopify signs
    answer = deliver(runtime, acme.deliver("orders/paid", payload))

    # Then it is the same order, a duplicate: nothing written, nothing started again
    assert (answer.status, answer.json()["outcome"]) == (200, "duplicate")
    assert answer.json()["order_id"] == order_id
    assert runtime.writes.count == writes
    assert audit_actions(runtime, order_id) == trail
    assert [e["name"] for e in runtime.executions()] == [order_id]


def test_an_order_first_over_http_then_through_eventbridge_is_one_order(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock
) -> None:
    # Given a paid order delivered over the HTTP webhook and recorded
    payload = paid_shopify_order(acme, clock)
    first = deliver(runtime, acme.deliver("orders/paid", payload))
    assert (first.status, first.json()["outcome"]) == (202, "created")
    order_id = first.json()["order_id"]
    assert runtime.settle()
    writes, trail = runtime.writes.count, audit_actions(runtime, order_id)

    # When the same order version arrives through EventBridge
    acme.deliver_event("orders/paid", payload, source=SOURCE).put(_bus(runtime))
    runtime.drain()

    # Then the function recorded it as a duplicate of that order: nothing written or started
    assert _outcomes(runtime) == {"duplicate": 1}
    assert runtime.writes.count == writes
    assert audit_actions(runtime, order_id) == trail
    assert [e["name"] for e in runtime.executions()] == [order_id]
    assert _dead_letters(runtime) == []


def test_a_redelivered_event_is_a_duplicate_and_a_newer_version_an_update(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock
) -> None:
    # Given an order created through EventBridge
    payload = paid_shopify_order(acme, clock, financial_status="pending")
    event = acme.deliver_event("orders/create", payload, source=SOURCE)
    event.put(_bus(runtime))
    runtime.drain()
    order_id = _acme_order_id(payload["id"])
    trail = audit_actions(runtime, order_id)

    # When EventBridge delivers the very same event again (at-least-once)
    event.put(_bus(runtime))
    runtime.drain()

    # Then it is a duplicate: the trail is unchanged
    assert _outcomes(runtime) == {"created": 1, "duplicate": 1}
    assert audit_actions(runtime, order_id) == trail

    # And when the order is then paid (a newer version), it is updated and fulfilment starts
    clock.advance(timedelta(minutes=2))
    paid = {**payload, "financial_status": "paid", "updated_at": clock.now().isoformat()}
    acme.deliver_event("orders/paid", paid, source=SOURCE).put(_bus(runtime))
    runtime.drain()
    assert _outcomes(runtime) == {"created": 1, "duplicate": 1, "updated": 1}
    assert audit_actions(runtime, order_id)[: len(trail) + 1] == [*trail, "fulfilment_requested"]
    assert runtime.execution_exists(order_id)


def test_an_event_from_another_partner_source_is_not_routed_and_writes_nothing(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock
) -> None:
    # Given a well-formed order event, but from another partner's source
    before = table_items(runtime)
    payload = paid_shopify_order(acme, clock)
    event = acme.deliver_event(
        "orders/paid", payload, source="aws.partner/shopify.com/999/someone-else"
    )

    # When it is put on the stack's bus
    event.put(_bus(runtime))
    runtime.drain()

    # Then the rule does not match it: nothing reached the function, nothing was written
    assert runtime.lambdas.invocations.get(FUNCTION, 0) == 0
    assert table_items(runtime) == before


def test_an_event_of_another_source_or_account_in_the_queue_is_refused_and_kept(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock
) -> None:
    # Given events in the function's queue that did not come from the configured partner
    # source to this account (a rule changed by hand, a message sent to the queue directly)
    before = table_items(runtime)
    payload = paid_shopify_order(acme, clock)
    detail = acme.deliver_event("orders/paid", payload, source=SOURCE).detail
    envelope = {**DOCUMENTED, "source": SOURCE, "account": ACCOUNT, "detail": detail}
    foreign = [
        {**envelope, "source": "aws.partner/shopify.com/999/someone-else"},
        {**envelope, "account": "210987654321"},
        {**envelope, "detail-type": "shopifyOther"},
    ]
    sqs = boto3.client("sqs", region_name=REGION)
    for body in foreign:
        sqs.send_message(QueueUrl=runtime.names["ShopifyEventsQueue"], MessageBody=json.dumps(body))

    # When the function's queue is delivered until nothing is left
    runtime.drain()

    # Then each was refused (logged and counted, no HMAC to fall back on), nothing was
    # written, and each rests in the dead-letter queue for a person to look at
    assert table_items(runtime) == before
    assert {r["reason"] for r in _refusals(runtime)} == {"foreign_source"}
    assert sum(v for _, v in datapoints(runtime, "ShopifyEventRefused", FUNCTION)) >= 3
    kept = _dead_letters(runtime)
    assert sorted((m["source"], m["account"], m["detail-type"]) for m in kept) == sorted(
        (m["source"], m["account"], m["detail-type"]) for m in foreign
    )


def test_an_event_of_a_shop_no_client_has_writes_nothing_and_is_kept(
    runtime: EmbeddedRuntime, clock: ManualClock
) -> None:
    # Given an order event of a shop that no client has configured
    before = table_items(runtime)
    stranger = ShopifyStore("nobody", "stranger-goods.myshopify.com", "not-a-secret")
    payload = paid_shopify_order(stranger, clock)

    # When it arrives through the bus
    stranger.deliver_event("orders/paid", payload, source=SOURCE).put(_bus(runtime))
    runtime.drain()

    # Then it is refused by name, nothing is written, and the event waits in the dead-letter
    # queue (to redrive once the shop is configured), where the alarm sees it
    assert table_items(runtime) == before
    refusals = _refusals(runtime)
    assert refusals and {r["reason"] for r in refusals} == {"unknown_shop"}
    assert refusals[0]["shop_domain"] == "stranger-goods.myshopify.com"
    [kept] = _dead_letters(runtime)
    assert kept["detail"]["metadata"]["X-Shopify-Shop-Domain"] == "stranger-goods.myshopify.com"
    assert _outcomes(runtime) == {}


@pytest.mark.parametrize(
    ("spoil", "reason", "error"),
    [
        # the envelope: the metadata does not name the shop
        (
            lambda d: d["metadata"].pop("X-Shopify-Shop-Domain"),
            "malformed",
            "detail.metadata.x-shopify-shop-domain: Field required",
        ),
        # the envelope: the payload is not an object
        (
            lambda d: d.update(payload=["not", "an", "order"]),
            "malformed",
            "detail.payload: Input should be a valid dictionary",
        ),
        # the order: Shopify's fields do not fit (the adapter names the field)
        (
            lambda d: d["payload"].update(line_items="none"),
            "PayloadInvalid",
            "line_items: Input should be a valid array",
        ),
    ],
    ids=["no-shop-domain", "payload-not-an-object", "order-does-not-fit"],
)
def test_a_malformed_event_writes_nothing_and_is_reported_not_dropped(
    runtime: EmbeddedRuntime,
    acme: ShopifyStore,
    clock: ManualClock,
    spoil: Any,
    reason: str,
    error: str,
) -> None:
    # Given an order event whose detail is malformed
    before = table_items(runtime)
    event = acme.deliver_event("orders/paid", paid_shopify_order(acme, clock), source=SOURCE)
    spoil(event.detail)

    # When it arrives through the bus
    event.put(_bus(runtime))
    runtime.drain()

    # Then nothing is written; the refusal is logged with what is wrong and counted, and the
    # event is kept in the dead-letter queue
    assert table_items(runtime) == before
    refusals = _refusals(runtime)
    assert refusals and {(r["reason"], r["error"]) for r in refusals} == {(reason, error)}
    assert sum(v for _, v in datapoints(runtime, "ShopifyEventRefused", FUNCTION)) >= 1
    [kept] = _dead_letters(runtime)
    assert kept["detail"] == event.detail


def test_the_documented_envelope_as_the_rule_hands_it_to_the_queue_is_read_whole(
    runtime: EmbeddedRuntime,
) -> None:
    # Given the documented event exactly as the file holds it (its own id, time and region),
    # as EventBridge hands it to the rule's queue
    sqs = boto3.client("sqs", region_name=REGION)
    sqs.send_message(
        QueueUrl=runtime.names["ShopifyEventsQueue"], MessageBody=json.dumps(DOCUMENTED)
    )

    # When the queue is delivered
    runtime.drain()

    # Then the function read the envelope and recorded the order it carries
    assert _outcomes(runtime) == {"created": 1}
    assert view(runtime, _acme_order_id(DOCUMENTED["detail"]["payload"]["id"]))["status"]
    assert _dead_letters(runtime) == []


def test_without_the_parameter_the_stack_has_no_shopify_front_door(clock: ManualClock) -> None:
    # Given the stack deployed with the template's defaults
    with EmbeddedRuntime(clock=clock) as rt:
        # Then it has no partner bus, no rule, no queue and no function for Shopify's events
        buses = boto3.client("events", region_name=REGION).list_event_buses()["EventBuses"]
        assert [b["Name"] for b in buses if b["Name"].startswith("aws.partner/")] == []
        assert not {"ShopifyEventBus", "ShopifyOrdersRule", "ShopifyEventsQueue"} & set(rt.names)
        assert FUNCTION not in rt.lambdas.handlers
        # And the HTTP webhook is there as ever
        assert "shipshape-IngestFunction" in rt.lambdas.handlers


def test_a_message_that_is_not_an_event_at_all_is_refused_and_kept(
    runtime: EmbeddedRuntime,
) -> None:
    # Given a message in the function's queue that is not JSON
    before = table_items(runtime)
    sqs = boto3.client("sqs", region_name=REGION)
    sqs.send_message(QueueUrl=runtime.names["ShopifyEventsQueue"], MessageBody="orders/paid?")

    # When the queue is delivered
    runtime.drain()

    # Then it is refused as malformed, nothing is written, and it rests in the dead-letter
    # queue (read raw: it is no JSON)
    assert table_items(runtime) == before
    assert {(r["reason"], r["error"]) for r in _refusals(runtime)} == {
        ("malformed", "the message is not JSON")
    }
    dead = runtime.names["ShopifyEventsDeadLetterQueue"]
    kept = sqs.receive_message(QueueUrl=dead, MaxNumberOfMessages=10).get("Messages", [])
    assert [m["Body"] for m in kept] == ["orders/paid?"]
