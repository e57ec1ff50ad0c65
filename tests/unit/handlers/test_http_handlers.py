"""The ops and warehouse functions' handlers on in-memory fakes: API Gateway HTTP API events
in (with the JWT authorizer's claims, or the warehouse's bearer token), the status code and
body out, and what the fakes hold afterwards."""

from __future__ import annotations

import json

import pytest

from tests.builders import http_event, lambda_event
from tests.unit.handlers.support import Fakes, Invoke

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")
ORDER_ID = "ord_zkf6d3uqo7divywbunyt"  # Acme's Shopify order 5600001, as in the samples
LEAD = {"cognito:username": "olivia.lead", "cognito:groups": ["lead"], "custom:clients": "*"}
NORDLICHT_OPERATOR = {
    "cognito:username": "nils.operator",
    "cognito:groups": ["operator"],
    "custom:clients": "nordlicht",
}
ACME_WAREHOUSE = {"authorization": "Bearer dev-only-acme-warehouse-token"}


def get_order(claims: dict[str, object]) -> dict[str, object]:
    return http_event(
        "GET", f"/orders/{ORDER_ID}", "GET /orders/{order_id}", {"order_id": ORDER_ID},
        claims=claims,
    )  # fmt: skip


def test_ops_answers_an_operator_serving_the_client_with_the_order(
    invoke: Invoke, fakes: Fakes
) -> None:
    # Given an order Acme's storefront sent
    assert invoke("ingest", lambda_event("webhook_shopify_orders_paid"))["statusCode"] == 202

    # When a lead serving every client asks for it (the sample event of the route)
    response = invoke("ops", lambda_event("ops_get_order"))

    # Then the order is answered, never cached
    assert response["statusCode"] == 200
    order = json.loads(response["body"])
    assert (order["order_id"], order["client_id"], order["status"]) == (
        ORDER_ID, "acme-outdoors", "ACCEPTED"
    )  # fmt: skip
    assert response["headers"]["Cache-Control"] == "no-store"
    assert fakes.access_log.denials == []


def test_ops_answers_another_clients_operator_as_if_the_order_did_not_exist_and_records_it(
    invoke: Invoke, fakes: Fakes
) -> None:
    # Given Acme's order, and an operator who serves Nordlicht only
    assert invoke("ingest", lambda_event("webhook_shopify_orders_paid"))["statusCode"] == 202

    # When that operator asks for it
    response = invoke("ops", get_order(NORDLICHT_OPERATOR))

    # Then the answer is a 404 that tells nothing, and the attempt is on Acme's access review
    assert response["statusCode"] == 404
    assert json.loads(response["body"]) == {
        "error": "OrderNotFound", "message": f"no order {ORDER_ID} among your clients"
    }  # fmt: skip
    assert [(d.subject, d.client_id, d.method, d.path) for d in fakes.access_log.denials] == [
        ("nils.operator", "acme-outdoors", "GET", f"/orders/{ORDER_ID}")
    ]


def test_ops_refuses_a_request_without_an_operator_identity(invoke: Invoke, fakes: Fakes) -> None:
    # Given a request that reached the function without the authorizer's claims
    event = get_order(LEAD)
    event["requestContext"].pop("authorizer")

    # When it is handled
    response = invoke("ops", event)

    # Then it is refused as unauthenticated
    assert response["statusCode"] == 401
    assert json.loads(response["body"])["error"] == "Unauthorized"


def stock_received(headers: dict[str, str], quantity: int = 12) -> dict[str, object]:
    body = {
        "type": "stock_received", "event_id": "in-MUG-ENAMEL-12-1", "sku": "MUG-ENAMEL-12",
        "warehouse": "pdx-1", "quantity": quantity, "bin": "D-01-1",
    }  # fmt: skip
    event = lambda_event("warehouse_pick_scans")
    event.update(headers={**headers, "content-type": "application/json"}, body=json.dumps(body))
    return event


def units(fakes: Fakes) -> int:
    lots = fakes.repo.inventory.stock_of("acme-outdoors", "MUG-ENAMEL-12")
    return sum(lot.available for lot in lots)


@pytest.mark.filterwarnings("ignore:Disabling idempotency:UserWarning")
def test_the_warehouse_route_takes_received_stock_with_the_clients_token(
    invoke: Invoke, fakes: Fakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given Acme's warehouse with its token, and idempotency (a DynamoDB table) switched off
    # with Powertools' own switch: its persistence layer cannot be given a fake
    monkeypatch.setenv("POWERTOOLS_IDEMPOTENCY_DISABLED", "true")
    before = units(fakes)

    # When it reports twelve mugs put away
    response = invoke("warehouse", stock_received(ACME_WAREHOUSE))

    # Then they are accepted and available
    assert response["statusCode"] == 202
    assert json.loads(response["body"])["event_id"] == "in-MUG-ENAMEL-12-1"
    assert units(fakes) == before + 12


@pytest.mark.parametrize(
    "headers",
    [{}, {"authorization": "Bearer dev-only-nordlicht-warehouse-token"}],
    ids=["no-token", "another-clients-token"],
)
def test_the_warehouse_route_refuses_a_sender_without_the_clients_token(
    invoke: Invoke, fakes: Fakes, headers: dict[str, str]
) -> None:
    # Given a sender without Acme's warehouse token
    before = units(fakes)

    # When it reports stock for Acme
    response = invoke("warehouse", stock_received(headers))

    # Then it is refused before the body is read, and the stock is as it was
    assert response["statusCode"] == 401
    assert json.loads(response["body"])["error"] == "Unauthorized"
    assert units(fakes) == before
