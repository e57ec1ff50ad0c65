"""The template's CloudWatch alarms, evaluated on the embedded stack on the EMF metrics its
functions print (local/shipshape_local/alarms.py): an overdue exception trips the overdue
alarm, its owners' topic hears of it, and the alarm's history reads as on AWS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from shipshape_local.alarms import alarm_specs
from shipshape_local.runtime import REGION, EmbeddedRuntime, ManualClock
from shipshape_local.template import Template
from tests.integration.stack import open_address_exception

OVERDUE = "shipshape-OverdueExceptionsAlarm"
SCHEDULED = {"source": "aws.scheduler"}


def subscribed_queue(runtime: EmbeddedRuntime) -> str:
    """A queue subscribed to the owners' topic, as a person's mail would be."""
    sqs = boto3.client("sqs", region_name=REGION)
    sns = boto3.client("sns", region_name=REGION)
    url = sqs.create_queue(QueueName="owner-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    sns.subscribe(
        TopicArn=runtime.names["OwnerNotificationsTopic"], Protocol="sqs",
        Endpoint=arn["QueueArn"],
    )  # fmt: skip
    return str(url)


def alarm_messages(url: str) -> list[dict[str, Any]]:
    """The alarm notifications the queue received (SNS envelopes opened), oldest first."""
    sqs = boto3.client("sqs", region_name=REGION)
    found = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            envelope = json.loads(message["Body"])
            body = json.loads(envelope["Message"])
            if "AlarmName" in body:
                found.append({"subject": envelope["Subject"], **body})
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return found


def alarm(name: str) -> dict[str, Any]:
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    [found] = cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return dict(found)


def history(name: str) -> list[tuple[str, str, datetime]]:
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    items = cloudwatch.describe_alarm_history(
        AlarmName=name, HistoryItemType="StateUpdate", ScanBy="TimestampAscending"
    )["AlarmHistoryItems"]
    return [(i["HistorySummary"], json.loads(i["HistoryData"])["newState"]["stateValue"],
             i["Timestamp"]) for i in items]  # fmt: skip


def overdue_sweep(runtime: EmbeddedRuntime, clock: ManualClock) -> dict[str, Any]:
    """An address exception opened Monday 09:00 in Portland (due 11:00), swept at 12:00."""
    open_address_exception(clock)
    clock.advance(timedelta(hours=3))
    return dict(runtime.run_function("SweeperFunction", SCHEDULED))


def test_an_exception_past_its_deadline_trips_the_overdue_alarm_and_notifies_its_owners(
    runtime: EmbeddedRuntime, clock: ManualClock
) -> None:
    # Given someone subscribed to the owners' topic, and an exception past its deadline
    inbox = subscribed_queue(runtime)

    # When the sweeper finds it overdue at 20:00 UTC
    swept = overdue_sweep(runtime, clock)

    # Then the alarm waits for its period to end (CloudWatch evaluates it once a period)
    assert swept["overdue"] == 1
    assert alarm(OVERDUE)["StateValue"] == "OK"
    assert alarm_messages(inbox) == []

    # When the period ends
    clock.advance(timedelta(minutes=5))

    # Then the alarm is in ALARM, as describe_alarms and its history read it
    described = alarm(OVERDUE)
    assert described["StateValue"] == "ALARM"
    assert described["StateReason"] == (
        "Threshold Crossed: 1 out of the last 1 datapoint [1.0 (23/11/26 20:00:00)] was "
        "greater than the threshold (0.0) (minimum 1 datapoint for OK -> ALARM transition)."
    )
    assert json.loads(described["StateReasonData"])["recentDatapoints"] == [1.0]
    assert history(OVERDUE) == [
        ("Alarm updated from INSUFFICIENT_DATA to OK", "OK",
         datetime(2026, 11, 23, 17, 5, tzinfo=UTC)),
        ("Alarm updated from OK to ALARM", "ALARM", datetime(2026, 11, 23, 20, 5, tzinfo=UTC)),
    ]  # fmt: skip
    # And the owners' topic carried CloudWatch's alarm notification, once
    [message] = alarm_messages(inbox)
    assert message["subject"] == f'ALARM: "{OVERDUE}" in US East (N. Virginia)'
    assert (message["AlarmName"], message["OldStateValue"], message["NewStateValue"]) == (
        OVERDUE, "OK", "ALARM",
    )  # fmt: skip
    assert message["NewStateReason"] == described["StateReason"]
    assert message["StateChangeTime"] == "2026-11-23T20:05:00.000+0000"
    assert message["AWSAccountId"] == "123456789012"
    assert message["AlarmArn"] == f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{OVERDUE}"
    assert message["AlarmActions"] == [runtime.names["OwnerNotificationsTopic"]]
    assert message["Trigger"] == {
        "MetricName": "OverdueExceptions",
        "Namespace": "Shipshape",
        "StatisticType": "Statistic",
        "Statistic": "SUM",
        "Unit": None,
        "Dimensions": [{"value": "shipshape", "name": "service"}],
        "Period": 300,
        "EvaluationPeriods": 1,
        "DatapointsToAlarm": 1,
        "ComparisonOperator": "GreaterThanThreshold",
        "Threshold": 0.0,
        "TreatMissingData": "notBreaching",
        "EvaluateLowSampleCountPercentile": "",
    }


def test_the_alarm_returns_to_ok_when_nothing_is_overdue_any_more(
    runtime: EmbeddedRuntime, clock: ManualClock
) -> None:
    # Given the overdue alarm in ALARM after an overdue sweep
    inbox = subscribed_queue(runtime)
    overdue_sweep(runtime, clock)
    clock.advance(timedelta(minutes=5))
    assert alarm(OVERDUE)["StateValue"] == "ALARM"

    # When the next pass finds nothing overdue (the exception was escalated, due later)
    again = runtime.run_function("SweeperFunction", SCHEDULED)
    clock.advance(timedelta(minutes=5))

    # Then a period with a non-breaching datapoint (0) puts it back to OK
    assert again["overdue"] == 0
    described = alarm(OVERDUE)
    assert described["StateValue"] == "OK"
    assert described["StateReason"] == (
        "Threshold Crossed: 1 out of the last 1 datapoint [0.0 (23/11/26 20:05:00)] was not "
        "greater than the threshold (0.0) (minimum 1 datapoint for ALARM -> OK transition)."
    )

    # When the sweeper is then silent for an hour (missing data is not breaching)
    clock.advance(timedelta(hours=1))

    # Then it stays OK; the alarm has no OK actions, so only the ALARM was published
    assert [state for _summary, state, _at in history(OVERDUE)] == ["OK", "ALARM", "OK"]
    assert [m["NewStateValue"] for m in alarm_messages(inbox)] == ["ALARM"]


@pytest.fixture
def changed_dimensions(
    request: pytest.FixtureRequest, clock: ManualClock, tmp_path: Path
) -> Iterator[EmbeddedRuntime]:
    """The embedded stack whose overdue alarm watches other dimensions (a copy of the
    template; everything else as deployed)."""
    document = Template().doc  # the template as written, its tags in their long form
    properties = document["Resources"]["OverdueExceptionsAlarm"]["Properties"]
    properties["Dimensions"] = request.param
    copy = tmp_path / "template.yaml"
    copy.write_text(yaml.safe_dump(document))
    rt = EmbeddedRuntime(clock=clock)
    rt.template = Template(copy, parameters={})
    with rt:
        yield rt


@pytest.mark.parametrize(
    "changed_dimensions",
    [
        pytest.param([], id="no-dimensions"),
        pytest.param(
            [
                {"Name": "service", "Value": "shipshape"},
                {"Name": "client_id", "Value": "acme-outdoors"},
            ],
            id="service-and-client",
        ),
        pytest.param([{"Name": "service", "Value": "fulfilment"}], id="another-service"),
    ],
    indirect=True,
)
def test_an_alarm_on_other_dimensions_than_the_metric_is_published_with_never_fires(
    changed_dimensions: EmbeddedRuntime, clock: ManualClock
) -> None:
    # Given the overdue alarm watching other dimensions than the sweeper's total is
    # published with ([service]: only exactly that set finds it)
    runtime = changed_dimensions
    inbox = subscribed_queue(runtime)

    # When the same overdue sweep runs and a day passes, the sweeper running every hour
    swept = overdue_sweep(runtime, clock)
    for _hour in range(24):
        runtime.run_function("SweeperFunction", SCHEDULED)
        clock.advance(timedelta(hours=1))

    # Then the alarm never fired: no datapoint is its metric's
    assert swept["overdue"] == 1
    assert alarm(OVERDUE)["StateValue"] == "OK"
    assert [state for _summary, state, _at in history(OVERDUE)] == ["OK"]
    assert alarm_messages(inbox) == []


def test_the_alarms_not_evaluated_locally_are_named_with_their_reason(
    runtime: EmbeddedRuntime,
) -> None:
    # Given the template as written (every condition), and the stack as the runtime builds it
    def resolve(value: Any) -> str:
        return json.dumps(value) if not isinstance(value, str) else value

    evaluated, skipped = alarm_specs(Template(), resolve)

    # Then these alarms are evaluated, and these are not, each saying why
    sqs = "AWS/SQS metric, published by the service, not by a function's EMF"
    breaching = (
        "missing data is breaching: it watches a scheduled function's metric, and the "
        "embedded runtime runs no schedule on its own (silence here is not silence on AWS)"
    )
    assert [s.name for s in evaluated] == [OVERDUE, "shipshape-WriteBackRefusedAlarm"]
    assert skipped == {
        "shipshape-PublisherFailuresAlarm": sqs,
        "shipshape-WriteBackDeadLetterAlarm": sqs,
        "shipshape-ReconciliationFailuresAlarm": breaching,
        "shipshape-ShopifyEventsDeadLetterAlarm": sqs,
    }
    # And the running stack lists its own (the Shopify EventBridge path is off by default),
    # every alarm created in its CloudWatch, the ones not evaluated left in INSUFFICIENT_DATA
    assert runtime.alarms is not None
    assert runtime.alarms.not_evaluated == {
        k: v for k, v in skipped.items() if k != "shipshape-ShopifyEventsDeadLetterAlarm"
    }
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    states = {a["AlarmName"]: a["StateValue"] for a in cloudwatch.describe_alarms()["MetricAlarms"]}
    assert states == {
        OVERDUE: "INSUFFICIENT_DATA",
        "shipshape-WriteBackRefusedAlarm": "INSUFFICIENT_DATA",
        **dict.fromkeys(runtime.alarms.not_evaluated, "INSUFFICIENT_DATA"),
    }
