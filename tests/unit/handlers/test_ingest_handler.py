"""The ingest function's handler (POST /webhooks/{platform}/{client_id}) on in-memory fakes:
the sample Shopify webhook from events/ in, the HTTP answer and what was recorded out."""

from __future__ import annotations

import json

import pytest

from shipshape.models import OrderStatus
from tests.builders import lambda_event
from tests.unit.handlers.support import Fakes, Invoke

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")
ORDER_ID = "ord_zkf6d3uqo7divywbunyt"  # Acme's Shopify order 5600001


def test_a_signed_paid_webhook_is_accepted_recorded_and_its_workflow_started(
    invoke: Invoke, fakes: Fakes
) -> None:
    # Given the paid-order webhook Shopify sends for Acme, signed with the shop's secret
    event = lambda_event("webhook_shopify_orders_paid")

    # When the ingest function receives it
    response = invoke("ingest", event)

    # Then it answers 202 with the canonical order id, accepted
    assert response["statusCode"] == 202
    assert json.loads(response["body"]) == {
        "order_id": ORDER_ID, "outcome": "created", "status": "ACCEPTED",
        "detail": "order recorded",
    }  # fmt: skip
    # And the order is recorded, audited, and its fulfilment workflow started under its id
    order = fakes.repo.get(ORDER_ID)
    assert order is not None
    assert (order.client_id, order.status, order.storefront_order_id) == (
        "acme-outdoors",
        OrderStatus.ACCEPTED,
        "5600001",
    )
    assert [e.action for e in fakes.repo.audit_trail(ORDER_ID)] == ["order_received"]
    assert list(fakes.workflow.executions) == [ORDER_ID]


def test_a_webhook_whose_body_was_changed_is_refused_and_nothing_is_written(
    invoke: Invoke, fakes: Fakes
) -> None:
    # Given the same webhook with its body changed after it was signed
    event = lambda_event("webhook_shopify_orders_paid")
    event["body"] = event["body"].replace(
        '"financial_status": "paid"', '"financial_status": "paid" '
    )

    # When the ingest function receives it
    response = invoke("ingest", event)

    # Then it is refused as unauthenticated, naming the header, and nothing was recorded
    assert response["statusCode"] == 401
    body = json.loads(response["body"])
    assert body["error"] == "SignatureInvalid"
    assert "X-Shopify-Hmac-Sha256" in body["message"]
    assert fakes.repo.order_ids() == []
    assert fakes.workflow.starts == []


def test_a_redelivered_webhook_is_a_duplicate_and_starts_nothing_again(
    invoke: Invoke, fakes: Fakes
) -> None:
    # Given the webhook already received once
    first = invoke("ingest", lambda_event("webhook_shopify_orders_paid"))
    assert first["statusCode"] == 202

    # When Shopify delivers it again
    again = invoke("ingest", lambda_event("webhook_shopify_orders_paid"))

    # Then it is answered 200, the same order, and nothing new was written or started
    assert again["statusCode"] == 200
    assert json.loads(again["body"])["order_id"] == ORDER_ID
    assert fakes.repo.order_ids() == [ORDER_ID]
    assert fakes.workflow.starts == [ORDER_ID]
