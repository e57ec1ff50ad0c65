"""Domain events out: the real handlers write orders and audit events; the table's stream feeds
the real publisher function, which puts events on the stack's EventBridge bus; the template's
rules route them to their queues. Every event published is checked against its checked-in JSON
Schema (schemas/events), and a CRM subscriber's queue (the template's example) receives them."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema

from shipshape_local.issuer import dev_bearer
from shipshape_local.runtime import EmbeddedRuntime, ManualClock
from shipshape_local.storefronts import PostalAddress, ShopifyStore
from shipshape_local.template import REPO_ROOT
from shipshape_local.warehouse import WarehouseSimulator
from tests.builders import paid_shopify_order
from tests.integration.stack import LEAD, audit_actions, deliver

SCHEMAS = REPO_ROOT / "schemas" / "events"
ACME_OPERATOR = dev_bearer("omar.operator")
NO_ZIP = PostalAddress("500 SW Market St", "Portland", "OR", "", "US")
CORRECTED = {
    "name": "Jane Doe",
    "line1": "500 SW Market St",
    "city": "Portland",
    "region": "OR",
    "postal_code": "97204",
    "country_code": "US",
}


def _schema(detail_type: str) -> dict[str, Any]:
    path = SCHEMAS / f"{detail_type}.json"
    assert path.is_file(), f"no schema for detail-type {detail_type!r} in {SCHEMAS}"
    return dict(json.loads(Path(path).read_text()))


def _status(runtime: EmbeddedRuntime, order_id: str) -> str:
    return str(runtime.http("GET", f"/orders/{order_id}", headers=LEAD).json()["status"])


def test_every_change_of_an_order_is_published_and_matches_its_schema(
    runtime: EmbeddedRuntime,
    acme: ShopifyStore,
    clock: ManualClock,
    warehouse: WarehouseSimulator,
) -> None:
    # Given an order whose address fails validation: an exception is opened, left overdue
    # (the sweeper escalates it), then claimed and resolved with a corrected address
    order_id = deliver(
        runtime, acme.deliver("orders/paid", paid_shopify_order(acme, clock, address=NO_ZIP))
    ).json()["order_id"]
    assert runtime.wait_for(lambda: _status(runtime, order_id) == "EXCEPTION")
    exception_id = runtime.http("GET", "/exceptions", headers=LEAD).json()["exceptions"][0][
        "exception_id"
    ]
    clock.advance(timedelta(days=3))
    swept = runtime.run_function("SweeperFunction", {"source": "aws.scheduler"})
    assert swept["escalated"], swept
    claimed = runtime.http("POST", f"/exceptions/{exception_id}/claim", headers=ACME_OPERATOR)
    assert claimed.status == 200, claimed.body
    fixed = runtime.http(
        "POST",
        f"/exceptions/{exception_id}/resolve",
        headers=ACME_OPERATOR,
        body=json.dumps({"action": "retry", "note": "ZIP confirmed", "address": CORRECTED}),
    )
    assert fixed.status == 202, fixed.body
    assert warehouse.run([order_id]) == {order_id: "SHIPPED"}

    # When the stream is delivered to the publisher (as Lambda's poller would)
    delivered = runtime.drain()
    published = runtime.published_events()

    # Then every event is a Shipshape event whose detail matches its detail-type's schema
    assert delivered > 0 and published
    for event in published:
        assert event["source"] == "shipshape"
        jsonschema.validate(event["detail"], _schema(event["detail-type"]))
    # And the events are exactly what the audit trail says happened, each once
    trail = runtime.http("GET", f"/orders/{order_id}/audit", headers=LEAD).json()["events"]
    kinds = Counter(e["detail-type"] for e in published)
    status_changes = [e for e in trail if e.get("to_status")]
    assert kinds["order-status-changed.v1"] == len(status_changes)
    actions = audit_actions(runtime, order_id)
    assert kinds["qa-result-recorded.v1"] == sum(a in ("qa_passed", "qa_failed") for a in actions)
    assert kinds["order-shipped.v1"] == 1
    for name in ("opened", "claimed", "escalated", "resolved"):
        assert kinds[f"exception-{name}.v1"] >= 1, (name, kinds)
    ids = [e["detail"]["event_id"] for e in published]
    assert len(ids) == len(set(ids))
    # In the order of the audit trail, status by status
    published_path = [
        e["detail"]["to_status"]
        for e in sorted(published, key=lambda e: e["detail"]["audit_seq"])
        if e["detail-type"] == "order-status-changed.v1"
    ]
    assert published_path == [e["to_status"] for e in status_changes]
    shipped = next(e for e in published if e["detail-type"] == "order-shipped.v1")["detail"]
    assert shipped["order_id"] == order_id and shipped["tracking_number"]
    assert shipped["carrier"] and shipped["service"]
    # No customer data leaves in an event
    text = json.dumps(published)
    assert "Jane" not in text and "Market St" not in text and "97204" not in text

    # And the template's example CRM subscriber got every one of them on its queue
    crm = runtime.queue_messages("CrmEventsQueue")
    assert Counter(m["detail"]["event_id"] for m in crm) == Counter(ids)
    # And delivering again publishes nothing more (the stream position moved on)
    assert runtime.drain() == 0
    assert len(runtime.published_events()) == len(published)
