"""The escalation sweeper on the embedded stack: the scheduled function, the DynamoDB adapter
(its sparse overdue index and its transactions, on moto) and the metrics it publishes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from shipshape.bootstrap import container
from shipshape.models import (
    Actor,
    AuditEvent,
    ExceptionType,
    Order,
    OrderException,
    OrderLine,
    OrderStatus,
    PaymentState,
    Platform,
    canonical_order_id,
)
from shipshape.ports import ExceptionRepository
from shipshape.rules import due_at
from shipshape_local.runtime import EmbeddedRuntime, ManualClock

FUNCTION = "shipshape-SweeperFunction"
SHOP = "acme-outdoors.myshopify.com"
# What EventBridge Scheduler sends; the sweeper reads its time from the clock, not from here.
SCHEDULED = {
    "version": "0",
    "id": "5d1b2f1e-0000-4000-8000-000000000001",
    "detail-type": "Scheduled Event",
    "source": "aws.scheduler",
    "account": "123456789012",
    "time": "2026-11-23T20:00:00Z",
    "region": "us-east-1",
    "resources": [],
    "detail": {},
}


def repository() -> ExceptionRepository:
    repo = container().repo
    assert isinstance(repo, ExceptionRepository), "the orders table also stores exceptions"
    return repo


def open_address_exception(
    clock: ManualClock, storefront_id: int = 5_600_001, task_token: str | None = None
) -> OrderException:
    """An Acme order whose address failed validation now, written as the workflow writes it:
    the order, then the order in EXCEPTION with its exception, each with its audit event."""
    client = container().clients.get("acme-outdoors")
    repo = container().repo
    now = clock.now()
    order_id = canonical_order_id(client.client_id, Platform.SHOPIFY, SHOP, str(storefront_id))
    order = Order(
        order_id=order_id,
        client_id=client.client_id,
        platform=Platform.SHOPIFY,
        store=SHOP,
        storefront_order_id=str(storefront_id),
        version=1,
        storefront_updated_at=now,
        received_at=now,
        payment=PaymentState.PAID,
        lines=(OrderLine(line_id="1", sku="TENT-2P-GRN", quantity=1),),
        status=OrderStatus.ACCEPTED,
        owner=client.owner_of(OrderStatus.ACCEPTED),
        rules_version=client.rules_version,
        audit_seq=1,
    )
    repo.create(
        order,
        AuditEvent(
            order_id=order_id,
            seq=1,
            at=now,
            action="order_accepted",
            actor=Actor(kind="storefront", id="shopify"),
            to_status=OrderStatus.ACCEPTED,
            owner=order.owner,
        ),
    )
    rule = client.rules.rule_for(ExceptionType.ADDRESS_INVALID)
    owner, due = due_at(client.calendar, rule, now)
    exception = OrderException(
        task_token=task_token,
        exception_id=f"{order_id}.e1",
        order_id=order_id,
        client_id=client.client_id,
        type=ExceptionType.ADDRESS_INVALID,
        step="ValidateAddress",
        error="AddressInvalid",
        owner=owner,
        opened_at=now,
        due_at=due,
        remediation=rule.remediation,
    )
    repository().write_exception(
        order.model_copy(
            update={
                "status": OrderStatus.EXCEPTION,
                "owner": owner,
                "open_exception_id": exception.exception_id,
                "exceptions_opened": 1,
                "audit_seq": 2,
            }
        ),
        exception,
        AuditEvent(
            order_id=order_id,
            seq=2,
            at=now,
            action="exception_opened",
            actor=Actor(kind="workflow", id="fulfillment"),
            from_status=OrderStatus.ACCEPTED,
            to_status=OrderStatus.EXCEPTION,
            owner=owner,
            detail={"exception_id": exception.exception_id, "type": "address_invalid"},
        ),
        expected_seq=1,
        expected_version=None,
    )
    return exception


def emf_documents(
    runtime: EmbeddedRuntime, function: str | None = FUNCTION
) -> list[dict[str, Any]]:
    """The CloudWatch embedded-metric documents the function (None: every function) printed."""
    documents = []
    for line in runtime.lambdas.captured(function):
        try:
            parsed = json.loads(line)
        except ValueError:
            continue
        if isinstance(parsed, dict) and "_aws" in parsed:
            documents.append(parsed)
    return documents


def datapoints(
    runtime: EmbeddedRuntime, metric: str, function: str | None = FUNCTION
) -> list[tuple[dict[str, str], float]]:
    """(dimensions, value) of every datapoint of ``metric`` in namespace Shipshape."""
    found = []
    for doc in emf_documents(runtime, function):
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            if directive["Namespace"] != "Shipshape":
                continue
            if metric not in {m["Name"] for m in directive["Metrics"]}:
                continue
            for names in directive["Dimensions"]:
                # Powertools writes values as a list (it may batch several of one metric).
                for value in doc[metric]:
                    found.append(({name: doc[name] for name in names}, value))
    return found


def without_service(dimensions: dict[str, str]) -> dict[str, str]:
    # On Lambda, Powertools adds service=shipshape to every metric (from the environment at
    # import); the embedded runtime sets the environment after import, so it may be absent.
    return {k: v for k, v in dimensions.items() if k != "service"}


def test_scheduled_sweep_escalates_an_overdue_exception_once_and_publishes_metrics(
    runtime: EmbeddedRuntime, clock: ManualClock
) -> None:
    # Given an invalid address opened Monday 09:00 in Portland (client success has until
    # 11:00), and it is now 12:00 there
    opened = open_address_exception(clock)
    assert opened.due_at == datetime(2026, 11, 23, 19, 0, tzinfo=UTC)
    clock.advance(timedelta(hours=3))

    # When the schedule fires, twice (a retried or overlapping invocation)
    first = runtime.run_function("SweeperFunction", SCHEDULED)
    second = runtime.run_function("SweeperFunction", SCHEDULED)

    # Then the exception is escalated once, to the CS lead, due 14:00 Portland time
    assert first["escalated"] == [
        {
            "exception_id": opened.exception_id,
            "from_owner": "client-success",
            "to_owner": "carla.cs-lead",
            "level": 1,
        }
    ]
    assert first["overdue"] == 1
    assert (second["escalated"], second["overdue_seen"]) == ([], 0)
    stored = repository().get_exception(opened.exception_id)
    assert stored is not None
    assert (stored.owner, stored.level, stored.version) == ("carla.cs-lead", 1, 2)
    assert stored.due_at == datetime(2026, 11, 23, 22, 0, tzinfo=UTC)
    # And the order's owner and audit trail moved with it, in the same transaction
    order = container().repo.get(opened.order_id)
    assert order is not None
    assert (order.owner, order.audit_seq) == ("carla.cs-lead", 3)
    trail = container().repo.audit_trail(opened.order_id)
    assert [e.action for e in trail] == [
        "order_accepted",
        "exception_opened",
        "exception_escalated",
    ]
    assert trail[-1].detail["from_owner"] == "client-success"
    assert trail[-1].detail["to_owner"] == "carla.cs-lead"
    assert trail[-1].detail["overdue_by_business_minutes"] == 60
    # And the CS lead was notified once, through the owners' topic
    escalated_notes = [
        n["message"] for n in runtime.notifications() if n["message"]["reason"] == "escalated"
    ]
    assert [(m["exception_id"], m["owner"], m["recipients"]) for m in escalated_notes] == [
        (opened.exception_id, "carla.cs-lead", ["carla.cs-lead"])
    ]
    # And the metrics: per client and type, and the total the alarm watches (0 on the rerun)
    acme_addresses = {"client_id": "acme-outdoors", "exception_type": "address_invalid"}
    overdue = [(without_service(d), v) for d, v in datapoints(runtime, "OverdueExceptions")]
    escalated = [(without_service(d), v) for d, v in datapoints(runtime, "ExceptionsEscalated")]
    assert (acme_addresses, 1) in overdue
    assert escalated == [(acme_addresses, 1)]
    assert [value for dims, value in overdue if dims == {}] == [1, 0]
