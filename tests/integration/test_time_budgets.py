"""Time budgets end to end on the embedded runtime: a storefront slower than a function's time
makes a retry, never a cut-off invocation, a timed-out batch or a 5xx to a webhook's sender.

The stack here is deployed with short Timeouts for the two functions under test (a test's
edit of template.yaml, read and enforced by the runtime as the written ones are: each
invocation's context counts down from its function's Timeout, and an answer after it is
refused as Lambda's ``Sandbox.Timedout``). The fake storefronts answer late for real, over
real sockets, so the storefront client's own timeouts and its budget see the delay.

- a BigCommerce webhook whose order the store does not answer in time is accepted as
  deferred (202), and the store's next reconciliation pass records the order;
- a write-back batch that runs out of time reports its unfinished records, and they are
  written back on their next delivery, once the storefront answers again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from shipshape_local.fakestore import Fault
from shipshape_local.runtime import EmbeddedRuntime, ManualClock
from shipshape_local.storefronts import BigCommerceStore, ShopifyStore
from shipshape_local.warehouse import WarehouseSimulator
from tests.builders import JANE, KITE, LONDON, paid_shopify_order
from tests.integration.stack import LEAD, audit_actions, deliver

ACME_SHOP = "acme-outdoors.myshopify.com"
KITE_HASH = "q8kz3m1v4w"
LOOK = "ShipshapeFulfillmentState"  # the write-back's look before it writes
# Seconds: a little more than the storefront client's margin and least call need, so one
# slow answer uses up what an invocation has.
SHORT_TIMEOUT = 4
EDITS = {
    "IngestFunction": {"Timeout": SHORT_TIMEOUT},
    "WriteBackFunction": {"Timeout": SHORT_TIMEOUT},
}


@pytest.fixture
def runtime(clock: ManualClock) -> Iterator[EmbeddedRuntime]:
    with EmbeddedRuntime(clock=clock, edits=EDITS) as rt:
        yield rt
        assert rt.integration_errors == [], "a handler crashed:\n" + "\n".join(
            rt.integration_errors
        )


@dataclass
class Answer:
    """One invocation of a queue-fed function: the message ids it was given, its answer, and
    when it ran (``time.monotonic``, the fake storefronts' clock)."""

    messages: list[str]
    answer: Any
    started: float
    ended: float


def _answers_of(runtime: EmbeddedRuntime, logical_id: str) -> list[Answer]:
    """Every answer the function gives from now on (its real handler's, kept as it goes)."""
    name = runtime.stack.function_names[logical_id]
    real = runtime.lambdas.handlers[name]
    answers: list[Answer] = []

    def recorded(event: Any, context: Any) -> Any:
        started = time.monotonic()
        answer = real(event, context)
        messages = [r["messageId"] for r in event["Records"]]
        answers.append(Answer(messages, answer, started, time.monotonic()))
        return answer

    runtime.lambdas.handlers[name] = recorded
    return answers


def _recorded(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """The fake records a slow answer's request once it has answered, on its own thread."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "the fake never recorded it"
        time.sleep(0.02)


def test_a_webhook_whose_order_the_store_is_too_slow_to_answer_is_deferred_then_reconciled(
    runtime: EmbeddedRuntime, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    fake = runtime.storefronts
    assert fake is not None
    store = BigCommerceStore(
        "kite-and-kin", KITE_HASH, runtime.secret("shipshape/kite-and-kin/bigcommerce-webhook")
    )
    # Given a paid BigCommerce order in the store's API, and an API that answers the order
    # read only after the ingest function's whole Timeout
    bundle = store.order(
        311, lines=[KITE], person=JANE, address=LONDON, created_at=clock.now(),
        modified_at=clock.now(), status_id=11, payment_status="captured",
    )  # fmt: skip
    fake.bigcommerce(KITE_HASH).put_order(bundle)
    fake.inject("bigcommerce", KITE_HASH, Fault.slow(SHORT_TIMEOUT + 0.5), method="GET")

    # When its webhook (the order id only) arrives
    answer = deliver(runtime, store.deliver("store/order/created", bundle))

    # Then the delivery is accepted, deferred, and nothing of the order is recorded yet
    assert answer.status == 202, answer.body
    accepted = answer.json()
    assert (accepted["outcome"], accepted["status"]) == ("deferred", None)
    order_id = accepted["order_id"]
    assert runtime.http("GET", f"/orders/{order_id}", headers=LEAD).status == 404
    reads = fake.requests_to("bigcommerce", KITE_HASH, method="GET")
    assert [r.fault for r in reads] == ["slow"]  # read once, not retried past the deadline

    # When the store answers again and the schedule's next reconciliation pass runs (the
    # store's first: it only sets the checkpoint of its window, and still reads what was left)
    fake.clear_faults()
    first = runtime.run_function("ReconcilerFunction", {"source": "aws.scheduler"})

    # Then the order is recorded through the ingest path and goes on to fulfillment
    kite = next(s for s in first["stores"] if s["platform"] == "bigcommerce")
    assert (kite["outcome"], kite["repaired"], kite["deferred_left"]) == ("started", [order_id], 0)
    received = runtime.http("GET", f"/orders/{order_id}/audit", headers=LEAD).json()["events"][0]
    assert (received["action"], received["detail"]["source"]) == (
        "order_received",
        "reconciliation",
    )
    assert warehouse.run([order_id]) == {order_id: "SHIPPED"}

    # And the next pass has nothing left to read: the deferral is gone, the order recorded once
    second = runtime.run_function("ReconcilerFunction", {"source": "aws.scheduler"})
    kite = next(s for s in second["stores"] if s["platform"] == "bigcommerce")
    assert (kite["repaired"], kite["deferred_left"]) == ([], 0)
    assert audit_actions(runtime, order_id).count("order_received") == 1


def test_a_write_back_batch_out_of_time_reports_its_records_and_they_succeed_next_time(
    runtime: EmbeddedRuntime,
    acme: ShopifyStore,
    clock: ManualClock,
    warehouse: WarehouseSimulator,
) -> None:
    fake = runtime.storefronts
    assert fake is not None
    # Given three shipped orders whose order-shipped events wait in the write-back queue
    # (one batch), and a shop that answers the first record's look, and the second's only
    # after the function's Timeout
    order_ids = []
    resources = []
    for n in range(3):
        resource = paid_shopify_order(acme, clock, order_id=5_700_001 + n)
        delivery = acme.deliver("orders/paid", resource)
        fake.shopify(ACME_SHOP).put_order(delivery)
        order_ids.append(str(deliver(runtime, delivery).json()["order_id"]))
        resources.append(resource)
    assert warehouse.run(order_ids) == dict.fromkeys(order_ids, "SHIPPED")

    def slow_the_next_look() -> None:
        fake.inject("shopify", ACME_SHOP, Fault.slow(SHORT_TIMEOUT + 0.5), body_contains=LOOK)

    fake.inject("shopify", ACME_SHOP, Fault.meanwhile(slow_the_next_look), body_contains=LOOK)
    answers = _answers_of(runtime, "WriteBackFunction")

    # When the queue's messages are delivered (and what fails, delivered again)
    runtime.drain()

    # Then the first batch (all three) ended in time: the first record written back, the two
    # it had no time left for reported failed; no invocation failed or timed out as a whole
    first, retried = answers[0], answers[1]
    assert len(first.messages) == 3
    unfinished = first.messages[1:]
    assert first.answer == {"batchItemFailures": [{"itemIdentifier": m} for m in unfinished]}
    assert runtime.delivery.failures == []
    # And those two came back, alone, and were written back, the shop answering again
    assert sorted(retried.messages) == sorted(unfinished)
    assert retried.answer == {"batchItemFailures": []}
    assert len(answers) == 2
    for order_id, resource in zip(order_ids, resources, strict=True):
        fulfillments = fake.shopify(ACME_SHOP).fulfillments(resource["id"])
        assert len(fulfillments) == 1, (order_id, fulfillments)
        assert audit_actions(runtime, order_id).count("storefront_confirmed") == 1
    # And in the first batch the shop saw the first record's look and write, then the slow
    # look: the third record's call was not started without the time to finish it
    _recorded(lambda: any(r.fault == "slow" for r in fake.requests_to("shopify", ACME_SHOP)))
    during_first = [
        (r.operation, r.fault)
        for r in fake.requests_to("shopify", ACME_SHOP)
        if first.started <= r.received_at <= first.ended
    ]
    assert during_first == [("order", "meanwhile"), ("fulfillmentCreate", None), ("order", "slow")]
    assert runtime.queue_messages("WriteBackQueue") == []
    assert runtime.queue_messages("WriteBackDeadLetterQueue") == []
