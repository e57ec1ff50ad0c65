"""Against a deployed stack (`sam deploy`): a signed Shopify webhook is accepted and recorded.

Skipped unless SHIPSHAPE_E2E_STACK names a deployed stack and AWS credentials are available.
The secret `shipshape/acme-outdoors/shopify-webhook` must exist in that account.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from datetime import UTC, datetime

import pytest

from shipshape_local.storefronts import Line, Person, PostalAddress, ShopifyStore

STACK = os.environ.get("SHIPSHAPE_E2E_STACK")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not STACK, reason="set SHIPSHAPE_E2E_STACK to a deployed stack's name"),
]


def test_signed_webhook_is_accepted_and_recorded_by_the_deployed_stack() -> None:
    # Given the deployed stack's outputs and the client's real webhook secret
    import boto3

    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in boto3.client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][0][
            "Outputs"
        ]
    }
    secret = boto3.client("secretsmanager").get_secret_value(
        SecretId="shipshape/acme-outdoors/shopify-webhook"
    )["SecretString"]
    store = ShopifyStore("acme-outdoors", "acme-outdoors.myshopify.com", secret)
    now = datetime.now(UTC)
    order_id = int(now.timestamp())
    payload = store.order(
        order_id, order_id % 100_000, lines=[Line("MUG-ENAMEL-12", "Mug", 1, "14.50")],
        person=Person("E2E", "Test", "e2e@example.com", "+1 503 555 0100"),
        address=PostalAddress("500 SW Market St", "Portland", "OR", "97204", "US"),
        created_at=now, updated_at=now, financial_status="paid",
    )  # fmt: skip
    delivery = store.deliver("orders/paid", payload)

    # When it is posted to the deployed API
    request = urllib.request.Request(  # noqa: S310 - the stack's own https URL
        outputs["ApiUrl"] + delivery.path, data=delivery.body, headers=delivery.headers,
        method="POST",
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        answer = json.loads(response.read())

    # Then it is accepted, and the canonical record reaches the workflow
    assert answer["outcome"] == "created"
    table = boto3.client("dynamodb")
    key = {"pk": {"S": f"ORDER#{answer['order_id']}"}, "sk": {"S": "ORDER"}}
    deadline = time.monotonic() + 60
    status = None
    while time.monotonic() < deadline and status != "AWAITING_PICK":
        item = table.get_item(TableName=outputs["OrdersTableName"], Key=key).get("Item")
        status = item["status"]["S"] if item else None
        time.sleep(2)
    assert status == "AWAITING_PICK"
