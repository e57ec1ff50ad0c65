"""The escalation sweeper on the embedded stack: the scheduled function, the DynamoDB adapter
(its sparse overdue index and its transactions, on moto) and the metrics it publishes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shipshape.bootstrap import container
from shipshape_local.runtime import EmbeddedRuntime, ManualClock
from tests.integration.stack import datapoints, open_address_exception, repository

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
        "order_received",
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
