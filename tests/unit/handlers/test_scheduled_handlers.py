"""The scheduled functions' handlers (sweeper, starter, reconciler) on in-memory fakes: the
EventBridge Scheduler event in, the pass's report and the state it left out."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from shipshape.errors import AddressInvalid
from shipshape.models import OrderException, OrderStatus, Platform, canonical_order_id
from tests.builders import SHOP, lambda_event
from tests.helpers import load_event, sign_shopify
from tests.unit.handlers.support import DEV_SECRETS, Fakes, Invoke

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")
ORDER_ID = "ord_zkf6d3uqo7divywbunyt"  # Acme's Shopify order 5600001, as in the samples


def address_exception(invoke: Invoke, fakes: Fakes) -> OrderException:
    """Acme's paid order without a postal code, received, failed at ValidateAddress, and its
    exception opened by the workflow function with the input the ASL's Catch passes."""
    event = lambda_event("webhook_shopify_orders_paid")
    order = json.loads(event["body"])
    order["shipping_address"]["zip"] = ""
    event["body"] = json.dumps(order)
    secret = DEV_SECRETS["shipshape/acme-outdoors/shopify-webhook"]
    event["headers"]["x-shopify-hmac-sha256"] = sign_shopify(event["body"].encode(), secret)
    assert invoke("ingest", event)["statusCode"] == 202
    step = lambda_event("workflow_validate_address")
    with pytest.raises(AddressInvalid) as failed:
        invoke("workflow", step)
    token = "token-of-the-open-exception-wait"
    fakes.workflow.wait(token)
    invoke("workflow", {
        "step": "open_exception", "order_id": ORDER_ID, "client_id": "acme-outdoors",
        "failed_step": "ValidateAddress", "task_token": token,
        "error": {"Error": "AddressInvalid", "Cause": json.dumps({
            "errorMessage": str(failed.value), "errorType": "AddressInvalid",
        })},
    })  # fmt: skip
    placed = fakes.repo.get(ORDER_ID)
    assert placed is not None and placed.open_exception_id is not None
    opened = fakes.repo.get_exception(placed.open_exception_id)
    assert opened is not None
    return opened


def test_the_sweeper_escalates_an_overdue_exception_and_tells_its_new_owner(
    invoke: Invoke, fakes: Fakes
) -> None:
    # Given an order whose address failed validation on Monday morning, its exception opened
    # by the workflow as the state machine's Catch asks (client success's, due in 2 business
    # hours), and nobody acting on it
    opened = address_exception(invoke, fakes)
    fakes.clock.advance(opened.due_at - fakes.clock.now() + timedelta(minutes=30))

    # When the scheduled sweep runs
    report = invoke("sweeper", lambda_event("starter_schedule"))

    # Then it reports the escalation, the exception moved up one level to a new owner, and
    # the new owner's people were told
    assert [e["exception_id"] for e in report["escalated"]] == [opened.exception_id]
    assert (report["overdue"], report["failed"]) == (1, [])
    stored = fakes.repo.get_exception(opened.exception_id)
    assert stored is not None
    assert (stored.level, stored.owner != opened.owner) == (1, True)
    assert [(n.exception_id, n.reason) for n in fakes.notifier.notifications] == [
        (opened.exception_id, "opened"),
        (opened.exception_id, "escalated"),
    ]


def test_the_starter_starts_the_workflow_an_accepted_order_missed(
    invoke: Invoke, fakes: Fakes
) -> None:
    # Given a paid order accepted while Step Functions refused the start
    fakes.workflow.fail_next_starts(1)
    assert invoke("ingest", lambda_event("webhook_shopify_orders_paid"))["statusCode"] == 202
    assert fakes.workflow.executions == {}

    # When the scheduled starter runs a few minutes later
    fakes.clock.advance(timedelta(minutes=5))
    report = invoke("starter", lambda_event("starter_schedule"))

    # Then it started that order's workflow, and the order no longer waits for a start
    assert report == {"examined": 1, "started": [ORDER_ID], "held": [], "failed": []}
    assert list(fakes.workflow.executions) == [ORDER_ID]
    assert fakes.workflow.executions[ORDER_ID].payload == {
        "order_id": ORDER_ID,
        "client_id": "acme-outdoors",
    }


def test_the_reconciler_records_a_paid_order_whose_webhook_never_came(
    invoke: Invoke, fakes: Fakes
) -> None:
    # Given a first pass that set each store's checkpoint, and then an order paid at Acme's
    # shop whose webhook never arrived
    first = invoke("reconciler", lambda_event("reconciler_schedule"))
    assert {
        s["client_id"]: s["outcome"] for s in first["stores"] if s["platform"] == "shopify"
    } == {"acme-outdoors": "started"}
    paid_at = fakes.clock.now() + timedelta(minutes=1)
    resource = json.loads(load_event("shopify/orders_paid.json"))
    resource["updated_at"] = paid_at.isoformat()
    fakes.storefronts.put_order(
        "shopify", SHOP, str(resource["id"]), paid_at, json.dumps(resource).encode()
    )

    # When the next scheduled pass runs
    fakes.clock.advance(timedelta(minutes=5))
    report = invoke("reconciler", lambda_event("reconciler_schedule"))

    # Then Acme's store is reconciled with that order repaired: recorded, accepted and its
    # workflow started; the checkpoint moved to this pass
    order_id = canonical_order_id("acme-outdoors", Platform.SHOPIFY, SHOP, str(resource["id"]))
    [acme] = [s for s in report["stores"] if s["client_id"] == "acme-outdoors"]
    assert (acme["outcome"], acme["pulled"], acme["repaired"]) == ("reconciled", 1, [order_id])
    assert report["failed"] == 0
    order = fakes.repo.get(order_id)
    assert order is not None and order.status is OrderStatus.ACCEPTED
    assert order_id in fakes.workflow.executions
    state = fakes.ledger.sync_state("acme-outdoors", "shopify", SHOP)
    assert state is not None and state.checkpoint == fakes.clock.now()
