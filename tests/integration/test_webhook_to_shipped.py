"""A signed storefront webhook becomes a shipped order: the real handlers, the real ASL under
moto's executing Step Functions engine, real DynamoDB conditional writes and transactions."""

from __future__ import annotations

import json
import threading
import zlib
from datetime import timedelta
from typing import Any

import boto3
import pytest

from shipshape.adapters import dynamodb
from shipshape.adapters.dynamodb import order_from, order_key
from shipshape.errors import TransientDependencyError
from shipshape.ports import WorkflowEngine
from shipshape_local.issuer import dev_bearer
from shipshape_local.runtime import REGION, EmbeddedRuntime, ManualClock
from shipshape_local.storefronts import GenericStore, ShopifyStore, WooCommerceStore
from shipshape_local.warehouse import WarehouseSimulator
from tests.builders import BERLIN, JANE, KITE, LAMP, LONDON, paid_shopify_order
from tests.integration.stack import (
    HAPPY_PATH_ACTIONS,
    LEAD,
    audit_actions,
    deliver,
    execution_history,
    table_items,
)


def test_paid_shopify_webhook_ships_with_a_complete_audit_trail(
    runtime: EmbeddedRuntime,
    acme: ShopifyStore,
    clock: ManualClock,
    warehouse: WarehouseSimulator,
) -> None:
    # Given a paid Shopify order, signed with the client's webhook secret
    delivery = acme.deliver("orders/paid", paid_shopify_order(acme, clock))

    # When it is delivered and the warehouse picks and packs it
    answer = deliver(runtime, delivery)
    order_id = answer.json()["order_id"]
    final = warehouse.run([order_id])

    # Then it was accepted with 202, shipped, and every step is in the audit trail in order
    assert runtime.wait_for(lambda: runtime.executions()[0]["status"] == "SUCCEEDED")
    assert answer.status == 202
    assert answer.json()["outcome"] == "created"
    assert final == {order_id: "SHIPPED"}
    # A wait retried after a failure is audited as "<action>_again"; it must have a cause.
    failures = [e for e in execution_history(runtime, order_id) if "Failed" in e["type"]]
    actions = audit_actions(runtime, order_id)
    retried_waits = [a for a in actions if a.endswith("_again")]
    assert len(retried_waits) <= len(failures), (actions, failures)
    assert [a for a in actions if not a.endswith("_again")] == HAPPY_PATH_ACTIONS, failures
    order = runtime.http("GET", f"/orders/{order_id}", headers=LEAD).json()
    assert list(order["status_timestamps"]) == [
        "RECEIVED", "ACCEPTED", "ADDRESS_VALIDATED", "RESERVED", "PICKER_ASSIGNED",
        "AWAITING_PICK", "PICKED", "AWAITING_PACK", "PACKED", "LABELLED", "SHIPPED",
    ]  # fmt: skip
    assert order["owner"] == "logistics"
    assert order["label"]["tracking_number"].startswith("1ZSS")
    assert order["rules_version"] == "1"
    assert [e["status"] for e in runtime.executions()] == ["SUCCEEDED"]


def test_woocommerce_order_starts_at_processing_and_ships(
    runtime: EmbeddedRuntime,
    nordlicht: WooCommerceStore,
    clock: ManualClock,
    warehouse: WarehouseSimulator,
) -> None:
    # Given a WooCommerce order created pending, later moved to processing
    now = clock.now()
    fields: dict[str, Any] = {
        "lines": [LAMP], "person": JANE, "address": BERLIN,
        "created_at": now - timedelta(minutes=5),
    }  # fmt: skip
    pending = nordlicht.order(
        4711, modified_at=now - timedelta(minutes=5), status="pending", **fields
    )
    processing = nordlicht.order(4711, modified_at=now, status="processing", **fields)

    # When both webhooks arrive
    created = deliver(runtime, nordlicht.deliver("order.created", pending))
    started_after_create = len(runtime.executions())
    updated = deliver(runtime, nordlicht.deliver("order.updated", processing))
    final = warehouse.run([updated.json()["order_id"]])

    # Then nothing started while pending, and the processing update started fulfilment
    assert (created.status, created.json()["status"]) == (202, "RECEIVED")
    assert started_after_create == 0
    assert (updated.status, updated.json()["status"]) == (202, "ACCEPTED")
    assert final == {created.json()["order_id"]: "SHIPPED"}


def test_generic_signed_json_order_ships(
    runtime: EmbeddedRuntime, kite: GenericStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given a generic-format order signed with a timestamped signature
    order = kite.order(
        "KK-1", version=1, lines=[KITE], person=JANE, address=LONDON,
        updated_at=clock.now(), payment_status="paid",
    )  # fmt: skip
    delivery = kite.deliver("order.upsert", order, signed_at=clock.now())

    # When it is delivered
    answer = deliver(runtime, delivery)

    # Then it ships
    assert answer.status == 202
    assert warehouse.run([answer.json()["order_id"]]) == {answer.json()["order_id"]: "SHIPPED"}


def test_base64_encoded_body_is_verified_over_the_decoded_bytes(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock
) -> None:
    # Given a signed delivery that API Gateway passes on base64-encoded
    delivery = acme.deliver("orders/paid", paid_shopify_order(acme, clock))

    # When it arrives with isBase64Encoded
    answer = runtime.http(
        "POST", delivery.path, headers=delivery.headers, body=delivery.body, base64_body=True
    )

    # Then the signature matches the raw bytes and the order is recorded
    assert answer.status == 202, answer.body


def test_the_same_webhook_five_times_makes_one_order_and_one_execution(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock
) -> None:
    # Given one paid order delivered five times in a row (Shopify retries at least once)
    delivery = acme.deliver("orders/paid", paid_shopify_order(acme, clock))

    # When every delivery arrives
    answers = [deliver(runtime, delivery) for _ in range(5)]

    # Then the first is accepted, the rest are duplicates with the same id, and nothing doubled
    assert [a.status for a in answers] == [202, 200, 200, 200, 200]
    assert [a.json()["outcome"] for a in answers] == ["created"] + ["duplicate"] * 4
    assert len({a.json()["order_id"] for a in answers}) == 1
    assert len(runtime.executions()) == 1
    assert sum(1 for i in table_items(runtime) if i["entity"]["S"] == "order") == 1


def test_concurrent_redeliveries_make_one_order_and_one_execution(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock
) -> None:
    # Given the same delivery sent by 5 threads at once
    delivery = acme.deliver("orders/paid", paid_shopify_order(acme, clock))
    barrier = threading.Barrier(5)
    answers: list[Any] = []

    def send() -> None:
        barrier.wait()
        answers.append(deliver(runtime, delivery))

    # When they race
    threads = [threading.Thread(target=send) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then exactly one created the order; all name the same order; one execution, one record
    assert sorted(a.json()["outcome"] for a in answers) == ["created"] + ["duplicate"] * 4
    assert len({a.json()["order_id"] for a in answers}) == 1
    assert len(runtime.executions()) == 1
    order_id = answers[0].json()["order_id"]
    assert audit_actions(runtime, order_id).count("order_received") == 1


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda h: h.pop("X-Shopify-Hmac-Sha256"), "missing X-Shopify-Hmac-Sha256"),
        (lambda h: h.update({"X-Shopify-Hmac-Sha256": "c2lnbmF0dXJl"}), "X-Shopify-Hmac-Sha256"),
        (lambda h: h.update({"X-Shopify-Shop-Domain": "evil.myshopify.com"}), "not configured"),
    ],
    ids=["unsigned", "wrong-signature", "unknown-store"],
)
def test_unsigned_or_wrongly_signed_webhook_is_401_and_writes_nothing(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, mutate: Any, message: str
) -> None:
    # Given a delivery whose signature is missing, wrong, or from a store we do not know
    delivery = acme.deliver("orders/paid", paid_shopify_order(acme, clock))
    headers = dict(delivery.headers)
    mutate(headers)

    # When it arrives
    answer = runtime.http("POST", delivery.path, headers=headers, body=delivery.body)

    # Then it is refused with 401 naming the problem, no secret leaks, and nothing is written
    assert answer.status == 401
    assert answer.json()["error"] == "SignatureInvalid"
    assert message in answer.json()["message"]
    assert runtime.secret("shipshape/acme-outdoors/shopify-webhook") not in answer.body.decode()
    assert table_items(runtime) == []
    assert runtime.executions() == []


def test_tampered_body_is_401(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock
) -> None:
    # Given a correctly signed delivery whose body is changed in transit
    delivery = acme.deliver("orders/paid", paid_shopify_order(acme, clock))
    tampered = delivery.body.replace(b'"quantity": 1', b'"quantity": 9')

    # When it arrives
    answer = runtime.http("POST", delivery.path, headers=delivery.headers, body=tampered)

    # Then the signature no longer matches
    assert tampered != delivery.body
    assert answer.status == 401
    assert table_items(runtime) == []


def test_client_mistakes_get_precise_4xx(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock
) -> None:
    # Given deliveries to an unknown client, an unknown platform, and a malformed signed body
    delivery = acme.deliver("orders/paid", paid_shopify_order(acme, clock))
    broken = ShopifyStore(acme.client_id, acme.domain, acme.secret).deliver(
        "orders/paid", {"id": "not-a-number"}
    )

    # When they arrive
    unknown_client = runtime.http(
        "POST", "/webhooks/shopify/nobody", headers=delivery.headers, body=delivery.body
    )
    unknown_platform = runtime.http(
        "POST", "/webhooks/magento/acme-outdoors", headers=delivery.headers, body=delivery.body
    )
    malformed = deliver(runtime, broken)

    # Then each gets its own 4xx naming what is wrong, and nothing is written
    assert (unknown_client.status, unknown_client.json()["error"]) == (404, "UnknownClient")
    assert (unknown_platform.status, unknown_platform.json()["error"]) == (
        404,
        "UnsupportedPlatform",
    )
    assert (malformed.status, malformed.json()["error"]) == (422, "PayloadInvalid")
    assert table_items(runtime) == []


def test_older_version_after_newer_is_ignored(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock
) -> None:
    # Given an order whose newer version (paid) arrived before its older one (pending)
    now = clock.now()
    older = paid_shopify_order(acme, clock, updated_at=now - timedelta(minutes=2),
                               financial_status="pending")  # fmt: skip
    newer = paid_shopify_order(acme, clock, updated_at=now)
    first = deliver(runtime, acme.deliver("orders/paid", newer))
    before = runtime.http("GET", f"/orders/{first.json()['order_id']}", headers=LEAD).json()

    # When the older version arrives late
    late = deliver(runtime, acme.deliver("orders/create", older))

    # Then it is acknowledged as stale and changes nothing
    after = runtime.http("GET", f"/orders/{first.json()['order_id']}", headers=LEAD).json()
    assert late.status == 200
    assert late.json()["outcome"] == "stale"
    assert late.json()["order_id"] == first.json()["order_id"]
    assert after["version"] == before["version"]
    assert audit_actions(runtime, first.json()["order_id"]).count("storefront_updated") == 0


def test_transient_task_failure_is_retried_and_the_order_still_ships(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given the reservation step fails transiently twice before it works
    failures = {"left": 2}

    def flaky_reservation(function: str, event: Any) -> None:
        if event.get("step") == "reserve_inventory" and failures["left"] > 0:
            failures["left"] -= 1
            raise TransientDependencyError("DynamoDB ThrottlingException")

    runtime.lambdas.faults.append(flaky_reservation)

    # When a paid order arrives
    order_id = deliver(
        runtime, acme.deliver("orders/paid", paid_shopify_order(acme, clock))
    ).json()["order_id"]
    final = warehouse.run([order_id])

    # Then the state machine's Retry absorbed both failures and the order shipped, audited once
    assert final == {order_id: "SHIPPED"}
    history = execution_history(runtime, order_id)
    failed = [e for e in history if e["type"] == "TaskFailed"]
    assert [e["taskFailedEventDetails"]["error"] for e in failed] == [
        "TransientDependencyError",
        "TransientDependencyError",
    ]
    assert audit_actions(runtime, order_id).count("inventory_reserved") == 1


class _StartFailsOnce(WorkflowEngine):
    """Fault injection: the first StartExecution after the write fails."""

    def __init__(self, real: WorkflowEngine) -> None:
        self.real, self.failed = real, 0

    def start(self, execution_name: str, payload: dict[str, Any]) -> str:
        if self.failed == 0:
            self.failed += 1
            raise TransientDependencyError("StartExecution failed: ServiceUnavailable")
        return self.real.start(execution_name, payload)

    def succeed(self, task_token: str, output: dict[str, Any]) -> None:
        self.real.succeed(task_token, output)

    def fail(self, task_token: str, error: str, cause: str) -> None:
        self.real.fail(task_token, error, cause)


def test_order_still_ships_when_starting_the_execution_fails_after_the_write(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given starting the workflow fails right after the order is written
    import shipshape.bootstrap

    faulty = _StartFailsOnce(shipshape.bootstrap.container().workflow)
    shipshape.bootstrap.override(workflow=faulty)

    # When a paid order arrives, and later the scheduled reconciler runs
    answer = deliver(runtime, acme.deliver("orders/paid", paid_shopify_order(acme, clock)))
    order_id = answer.json()["order_id"]
    executions_after_webhook = len(runtime.executions())
    too_early = runtime.run_function("StarterFunction", {})
    clock.advance(timedelta(minutes=2))
    reconciled = runtime.run_function("StarterFunction", {})
    final = warehouse.run([order_id])

    # Then the webhook was still acknowledged, the reconciler started it once, and it shipped
    assert (answer.status, answer.json()["status"]) == (202, "ACCEPTED")
    assert faulty.failed == 1
    assert executions_after_webhook == 0
    assert too_early["started"] == []
    assert reconciled["started"] == [order_id]
    assert final == {order_id: "SHIPPED"}
    assert runtime.run_function("StarterFunction", {})["examined"] == 0  # index is empty again


def test_cancellation_while_waiting_for_the_warehouse_stops_the_workflow(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given a paid order waiting for its pick scans
    paid = paid_shopify_order(acme, clock)
    order_id = deliver(runtime, acme.deliver("orders/paid", paid)).json()["order_id"]
    assert runtime.wait_for(lambda: warehouse.order(order_id)["status"] == "AWAITING_PICK")

    # When the storefront cancels it
    cancelled = {**paid, "cancelled_at": clock.now().isoformat(),
                 "updated_at": (clock.now() + timedelta(seconds=30)).isoformat()}  # fmt: skip
    answer = deliver(runtime, acme.deliver("orders/cancelled", cancelled))

    # Then the order is CANCELLED and its execution ends in the Cancelled state
    assert answer.json()["status"] == "CANCELLED"
    assert runtime.wait_for(lambda: runtime.executions()[0]["status"] == "SUCCEEDED")
    exits = [e["stateExitedEventDetails"]["name"] for e in execution_history(runtime, order_id)
             if e["type"] == "SucceedStateExited"]  # fmt: skip
    assert exits == ["Cancelled"]
    assert warehouse.order(order_id)["status"] == "CANCELLED"


def test_warehouse_route_authenticates_per_client_and_refuses_events_out_of_turn(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given an order waiting for its pick scans
    order_id = deliver(
        runtime, acme.deliver("orders/paid", paid_shopify_order(acme, clock))
    ).json()["order_id"]
    assert runtime.wait_for(lambda: warehouse.order(order_id)["status"] == "AWAITING_PICK")
    view = warehouse.order(order_id)
    pick = warehouse.pick_event(view)

    # When events arrive with another client's token, out of turn, malformed, and then right
    nordlicht_token = runtime.secret("shipshape/nordlicht/warehouse-token")
    other_token = runtime.http(
        "POST",
        "/warehouse/acme-outdoors/events",
        headers={"Authorization": f"Bearer {nordlicht_token}"},
        body=json.dumps(pick),
    )
    out_of_turn = warehouse.post("acme-outdoors", warehouse.pack_event(view))
    malformed = warehouse.post("acme-outdoors", {**pick, "scans": []})
    other_client = warehouse.post("nordlicht", pick)
    accepted = warehouse.post("acme-outdoors", pick)

    # Then each is refused precisely, and only the right one resumes the workflow
    assert other_token.status == 401
    assert out_of_turn[0] == 409 and "not waiting for pack_data" in out_of_turn[1]["message"]
    assert malformed[0] == 422
    assert other_client[0] == 404
    assert accepted[0] == 202
    assert runtime.wait_for(lambda: warehouse.order(order_id)["status"] == "AWAITING_PACK")


def test_ops_api_needs_an_operator_and_scopes_them_to_their_clients(
    runtime: EmbeddedRuntime,
    acme: ShopifyStore,
    kite: GenericStore,
    clock: ManualClock,
) -> None:
    # Given an Acme order and a Kite & Kin order
    acme_id = deliver(runtime, acme.deliver("orders/paid", paid_shopify_order(acme, clock))).json()[
        "order_id"
    ]
    kite_order = kite.order(
        "KK-7", version=1, lines=[KITE], person=JANE, address=LONDON,
        updated_at=clock.now(), payment_status="pending",
    )  # fmt: skip
    kite_id = deliver(
        runtime, kite.deliver("order.upsert", kite_order, signed_at=clock.now())
    ).json()["order_id"]
    acme_operator = dev_bearer("omar.operator")

    # When operators read them
    anonymous = runtime.http("GET", f"/orders/{acme_id}")
    own = runtime.http("GET", f"/orders/{acme_id}", headers=acme_operator)
    foreign = runtime.http("GET", f"/orders/{kite_id}/audit", headers=acme_operator)
    missing = runtime.http("GET", "/orders/ord_aaaaaaaaaaaaaaaaaaaa", headers=LEAD)

    # Then only an operator serving the client sees the order; to anyone else it does not
    # exist, in the very words of an order that does not
    assert anonymous.status == 401
    assert own.status == 200 and own.json()["client_id"] == "acme-outdoors"
    assert (foreign.status, foreign.json()) == (
        404, {"error": "OrderNotFound", "message": f"no order {kite_id} among your clients"},
    )  # fmt: skip
    assert (missing.status, missing.json()["message"]) == (
        404, "no order ord_aaaaaaaaaaaaaaaaaaaa among your clients",
    )  # fmt: skip


def test_a_shipped_order_is_stored_compressed_and_an_order_stored_as_json_is_still_read(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given an order that shipped
    answer = deliver(runtime, acme.deliver("orders/paid", paid_shopify_order(acme, clock)))
    order_id = answer.json()["order_id"]
    assert warehouse.run([order_id], timeout=30) == {order_id: "SHIPPED"}
    ddb = boto3.client("dynamodb", region_name=REGION)
    table = runtime.names["OrdersTable"]
    stored = ddb.get_item(TableName=table, Key=order_key(order_id))["Item"]

    # Then its document is compressed JSON, at most half the size of the JSON
    text = zlib.decompress(stored["doc"]["B"])
    assert json.loads(text)["status"] == "SHIPPED"
    assert len(stored["doc"]["B"]) * 2 <= len(text)

    # And when the item holds the document as JSON text, as items first written did
    ddb.put_item(TableName=table, Item={**stored, "doc": {"S": text.decode()}})

    # Then the order reads back the same, over the API too
    repo = dynamodb.stores(ddb, table).orders
    assert repo.get(order_id) == order_from(stored["doc"])
    assert runtime.http("GET", f"/orders/{order_id}", headers=LEAD).status == 200
