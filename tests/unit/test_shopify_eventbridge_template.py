"""Shopify's Amazon EventBridge front door in template.yaml: off unless its partner event source
is named, and then a partner bus, a rule for the order topics Shipshape ingests, a queue with
a dead-letter queue (and an alarm on it) and the function, as the stack's other consumers are
built. Read with the loader the embedded runtime uses."""

from __future__ import annotations

import re

import pytest

from shipshape.storefronts.shopify import TOPICS
from shipshape_local.template import Template

SOURCE = "aws.partner/shopify.com/1830279/test-event-source"
CONDITION = "ShopifyEventBridgeOn"
FRONT_DOOR = {
    "ShopifyEventBus": "AWS::Events::EventBus",
    "ShopifyOrdersRule": "AWS::Events::Rule",
    "ShopifyEventsQueue": "AWS::SQS::Queue",
    "ShopifyEventsDeadLetterQueue": "AWS::SQS::Queue",
    "ShopifyEventsQueuePolicy": "AWS::SQS::QueuePolicy",
    "ShopifyEventsDeadLetterAlarm": "AWS::CloudWatch::Alarm",
    "ShopifyEventsFunction": "AWS::Serverless::Function",
    "ShopifyEventsFunctionLogs": "AWS::Logs::LogGroup",
}
WRITTEN = Template()


def _props(logical_id: str) -> dict:  # type: ignore[type-arg]
    return dict(WRITTEN.resources[logical_id]["Properties"])


def test_the_front_door_is_declared_only_under_its_condition_and_is_off_by_default() -> None:
    # Given the template as written
    # Then each of the front door's resources is there, of its type, under the condition
    for logical_id, cfn_type in FRONT_DOOR.items():
        resource = WRITTEN.resources[logical_id]
        assert (resource["Type"], resource.get("Condition")) == (cfn_type, CONDITION), logical_id
    # And nothing else is conditional on it, and the parameter's default turns it off
    conditional = {k for k, v in WRITTEN.resources.items() if v.get("Condition") == CONDITION}
    assert conditional == set(FRONT_DOOR)
    assert WRITTEN.parameter_default("ShopifyEventSourceName") == ""
    assert WRITTEN.doc["Conditions"][CONDITION] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "ShopifyEventSourceName"}, ""]}]
    }


def test_the_stack_has_the_front_door_only_when_the_source_is_named() -> None:
    # Given the stack deployed with the defaults, and with the partner event source named
    off = Template(parameters={})
    on = Template(parameters={"ShopifyEventSourceName": SOURCE})

    # Then the first has none of the front door's resources and the second all of them,
    # and both have everything else the template declares
    assert not set(FRONT_DOOR) & set(off.resources)
    assert set(FRONT_DOOR) <= set(on.resources)
    assert set(on.resources) - set(off.resources) == set(FRONT_DOOR)
    assert "ShopifyEventsFunction" not in off.functions
    assert on.functions["ShopifyEventsFunction"].environment == {
        "SHIPSHAPE_STATE_MACHINE_ARN": {"Ref": "FulfillmentStateMachine"},
        "SHIPSHAPE_SHOPIFY_EVENT_SOURCE": {"Ref": "ShopifyEventSourceName"},
        "SHIPSHAPE_SHOPIFY_EVENT_ACCOUNT": {"Ref": "AWS::AccountId"},
    }


def test_the_bus_is_the_partner_bus_of_the_named_source() -> None:
    # Given the bus
    props = _props("ShopifyEventBus")
    # Then it is associated with the partner event source and named as it (AWS requires it)
    assert props == {
        "Name": {"Ref": "ShopifyEventSourceName"},
        "EventSourceName": {"Ref": "ShopifyEventSourceName"},
    }


def test_the_rule_matches_the_partner_source_in_this_account_and_the_ingested_topics() -> None:
    # Given the rule on the partner bus
    props = _props("ShopifyOrdersRule")
    assert props["EventBusName"] == {"Ref": "ShopifyEventBus"}

    # Then it matches Shopify webhooks from that source, delivered to this account, of the
    # order topics the Shopify adapter normalizes (no more, no fewer)
    pattern = props["EventPattern"]
    assert pattern["source"] == [{"Ref": "ShopifyEventSourceName"}]
    assert pattern["account"] == [{"Ref": "AWS::AccountId"}]
    assert pattern["detail-type"] == ["shopifyWebhook"]
    assert sorted(pattern["detail"]["metadata"]["X-Shopify-Topic"]) == sorted(TOPICS)


def test_nothing_the_rule_matches_is_lost() -> None:
    # Given the rule's target, its queue and the dead-letter queue
    [target] = _props("ShopifyOrdersRule")["Targets"]
    queue = _props("ShopifyEventsQueue")
    dead = {"Fn::GetAtt": ["ShopifyEventsDeadLetterQueue", "Arn"]}

    # Then EventBridge retries for a day and then dead-letters what it cannot deliver; the
    # queue dead-letters what the function keeps failing (to the same queue), and keeps it
    assert target["Arn"] == {"Fn::GetAtt": ["ShopifyEventsQueue", "Arn"]}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
    assert target["DeadLetterConfig"] == {"Arn": dead}
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == dead
    assert queue["RedrivePolicy"]["maxReceiveCount"] >= 3
    assert _props("ShopifyEventsDeadLetterQueue")["MessageRetentionPeriod"] == 1209600
    # And only that rule may send to the two queues
    [statement] = _props("ShopifyEventsQueuePolicy")["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["ShopifyOrdersRule", "Arn"]}}
    }
    # And the queue is the function's event source, reporting failures one by one
    [event] = _props("ShopifyEventsFunction")["Events"].values()
    assert event["Type"] == "SQS"
    assert event["Properties"]["Queue"] == {"Fn::GetAtt": ["ShopifyEventsQueue", "Arn"]}
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # And the function's timeout fits six times in the visibility timeout (Lambda's advice)
    timeout = WRITTEN.doc["Globals"]["Function"]["Timeout"]
    assert queue["VisibilityTimeout"] >= 6 * _props("ShopifyEventsFunction").get("Timeout", timeout)


def test_a_dead_lettered_event_raises_the_alarm_as_the_other_dead_letter_queues_do() -> None:
    # Given the alarm on the dead-letter queue and the write-back's for comparison
    alarm = _props("ShopifyEventsDeadLetterAlarm")
    other = _props("WriteBackDeadLetterAlarm")

    # Then it watches that queue's depth the same way and notifies the owners' topic
    assert alarm["Dimensions"] == [
        {"Name": "QueueName",
         "Value": {"Fn::GetAtt": ["ShopifyEventsDeadLetterQueue", "QueueName"]}}
    ]  # fmt: skip
    same = ("Namespace", "MetricName", "Statistic", "Threshold", "ComparisonOperator",
            "TreatMissingData", "AlarmActions")  # fmt: skip
    assert {k: alarm[k] for k in same} == {k: other[k] for k in same}


@pytest.mark.parametrize(
    ("value", "allowed"),
    [
        ("", True),
        (SOURCE, True),
        ("aws.partner/shopify.com/0000000/aws-shopify-webhooks-test", True),
        ("aws.partner/example.com/1830279/test-event-source", False),
        ("aws.partner/shopify.com/1830279", False),
        ("shipshape-prod-events", False),
    ],
)
def test_the_parameter_takes_a_shopify_partner_source_or_nothing(value: str, allowed: bool) -> None:
    # Given the parameter's allowed pattern (CloudFormation matches the whole value)
    pattern = WRITTEN.doc["Parameters"]["ShopifyEventSourceName"]["AllowedPattern"]
    # Then it admits the empty value and Shopify's partner source names only
    assert bool(re.fullmatch(pattern, value)) is allowed


def test_a_stack_with_a_parameter_the_template_lacks_is_refused() -> None:
    # Given a parameter name with a typo
    # Then building the stack says so rather than silently deploying the defaults
    with pytest.raises(KeyError, match="ShopifyEventSource"):
        Template(parameters={"ShopifyEventSource": SOURCE})
