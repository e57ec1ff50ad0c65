"""The embedded runtime itself: the moto seam it relies on, and real HTTP from outside."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from shipshape_local.frontdoor import FrontDoorServer
from shipshape_local.issuer import dev_bearer
from shipshape_local.lambdas import check_seam
from shipshape_local.runtime import EmbeddedRuntime, ManualClock
from shipshape_local.storefronts import ShopifyStore
from shipshape_local.warehouse import WarehouseSimulator
from tests.builders import paid_shopify_order
from tests.integration.stack import deliver, table_items


def _get(url: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - 127.0.0.1 only
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_pinned_moto_still_has_the_in_process_lambda_seam() -> None:
    # Given the moto version pinned in requirements/dev.lock
    # When the runtime checks the private method it patches
    # Then it is there with the signature this runtime was verified against (raises otherwise)
    check_seam()


def test_tables_are_built_from_the_template_key_schema(runtime: EmbeddedRuntime) -> None:
    # Given the embedded stack built from template.yaml
    import boto3

    client = boto3.client("dynamodb", region_name="us-east-1")

    # When the orders table is described
    table = client.describe_table(TableName=runtime.names["OrdersTable"])["Table"]

    # Then its keys and its sparse index are the template's
    orders = runtime.template.tables["OrdersTable"]
    assert table["KeySchema"] == orders["KeySchema"]
    assert sorted(i["IndexName"] for i in table["GlobalSecondaryIndexes"]) == sorted(
        i["IndexName"] for i in orders["GlobalSecondaryIndexes"]
    )


def test_serve_answers_http_from_outside_the_process(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock
) -> None:
    # Given the front door serving the embedded stack on 127.0.0.1 and a recorded order
    door = FrontDoorServer(runtime).start()
    try:
        order_id = deliver(runtime, acme.deliver("orders/paid", paid_shopify_order(acme, clock)))
        order_id_value = order_id.json()["order_id"]

        # When a client reads it over HTTP, with and without a development operator token
        with_token = _get(f"{door.url}/orders/{order_id_value}", dev_bearer("olivia.lead"))
        audit = _get(f"{door.url}/orders/{order_id_value}/audit", dev_bearer("olivia.lead"))
        without = _get(f"{door.url}/orders/{order_id_value}", {})
        unknown_route = _get(f"{door.url}/nothing-here", {})
    finally:
        door.stop()

    # Then the operator sees the order and its trail; others are refused like API Gateway does
    assert with_token[0] == 200 and with_token[1]["order_id"] == order_id_value
    assert audit[0] == 200 and audit[1]["events"][0]["action"] == "order_received"
    assert without == (401, {"message": "Unauthorized"})
    assert unknown_route == (404, {"message": "Not Found"})


def test_a_resent_warehouse_event_is_processed_once(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given an order waiting for pick scans and its pick event
    order_id = deliver(
        runtime, acme.deliver("orders/paid", paid_shopify_order(acme, clock))
    ).json()["order_id"]
    assert runtime.wait_for(lambda: warehouse.order(order_id)["status"] == "AWAITING_PICK")
    pick = warehouse.pick_event(warehouse.order(order_id))

    # When the warehouse sends it twice, then reuses its id for different scans
    first = warehouse.post("acme-outdoors", pick)
    again = warehouse.post("acme-outdoors", pick)
    reused = warehouse.post("acme-outdoors", {**pick, "picker": "someone-else"})

    # Then the first is accepted, the resend gets the same answer flagged as a duplicate, and
    # the reused id is refused; the order records one pick
    assert (first[0], first[1]["duplicate"]) == (202, False)
    assert (again[0], again[1]["duplicate"], again[1]["order_id"]) == (200, True, order_id)
    assert (reused[0], reused[1]["error"]) == (409, "EventIdReused")
    assert runtime.wait_for(lambda: warehouse.order(order_id)["status"] == "AWAITING_PACK")
    picks = [
        item for item in table_items(runtime)
        if item["entity"]["S"] == "audit" and item["action"]["S"] == "pick_confirmed"
    ]  # fmt: skip
    assert len(picks) == 1


def test_sample_events_for_sam_local_invoke_are_accepted_by_their_handlers(
    runtime: EmbeddedRuntime,
) -> None:
    # Given the sample events shipped under events/ for `sam local invoke -e`
    from pathlib import Path

    events = Path(__file__).resolve().parents[2] / "events"
    webhook = json.loads((events / "webhook_shopify_orders_paid.json").read_text())
    schedule = json.loads((events / "starter_schedule.json").read_text())

    # When each is given to its function as its event source would
    accepted = runtime.run_function("IngestFunction", webhook)
    reconciled = runtime.run_function("StarterFunction", schedule)

    stream = json.loads((events / "publisher_audit_stream.json").read_text())
    shipped = json.loads((events / "writeback_order_shipped.json").read_text())
    pulled = runtime.run_function(
        "ReconcilerFunction", json.loads((events / "reconciler_schedule.json").read_text())
    )
    published = runtime.run_function("PublisherFunction", stream)
    written_back = runtime.run_function("WriteBackFunction", shipped)

    # Then the signed webhook is accepted (its signature matches the dev secret), the
    # scheduled reconcilers run, the audit record is published as its events, and the
    # shipped event is taken (its order is unknown here: nothing to tell a storefront)
    assert accepted["statusCode"] == 202, accepted["body"]
    assert json.loads(accepted["body"])["outcome"] == "created"
    assert reconciled["failed"] == []
    assert pulled["failed"] == 0
    assert published == {"batchItemFailures": []}
    assert {e["detail-type"] for e in runtime.published_events()} >= {"order-status-changed.v1"}
    assert written_back == {"batchItemFailures": []}
