"""The embedded runtime's patches of moto's internals (``shipshape_local.patches``): moto answers
the same with them as without them, and they are gone, to the very objects that were there,
once their context (or the runtime using it) has exited."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from shipshape_local import patches
from shipshape_local.lifecycle import Calls, EmbeddedRuntime, Writes
from shipshape_local.metering import Meter
from shipshape_local.patches import scaled_retry_sleeps

REGION = "us-east-1"
ABSENT = object()
# What differs between two runs of the same calls whatever is installed: ids and times moto
# draws afresh each time.
VOLATILE = frozenset(
    {"ResponseMetadata", "MessageId", "ReceiptHandle", "TableId", "ARN", "VersionId",
     "SubscriptionArn", "LatestStreamLabel", "LatestStreamArn", "StreamArn",
     "SequenceNumber", "executionArn"}
)  # fmt: skip


def _installed() -> AbstractContextManager[None]:
    return patches.installed(
        lock=threading.RLock(),
        writes=Writes(),
        calls=Calls(),
        meter=Meter(),
        faults=lambda: None,
        retry_time_factor=0.01,
    )


def _normalized(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: "<volatile>" if k in VOLATILE else _normalized(v) for k, v in sorted(value.items())
        }
    if isinstance(value, list | tuple):
        return [_normalized(v) for v in value]
    if isinstance(value, datetime):
        return "<time>"
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return value


def _answer(call: Callable[..., Any], **kwargs: Any) -> Any:
    """moto's answer to one call, or the error it answered with (code and message)."""
    try:
        return _normalized(call(**kwargs))
    except ClientError as exc:
        return {"error": exc.response["Error"]["Code"], "message": exc.response["Error"]["Message"]}


# --- the same calls, with and without the patches ---------------------------------------------


def _orders_table(ddb: Any) -> None:
    ddb.create_table(
        TableName="orders",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "status", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-status",
                "KeySchema": [
                    {"AttributeName": "status", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for order in range(1, 6):
        for line in range(1, 4):
            ddb.put_item(
                TableName="orders",
                Item={
                    "pk": {"S": f"ORDER#{order}"},
                    "sk": {"S": f"LINE#{line}"},
                    "status": {"S": "open" if (order + line) % 2 else "shipped"},
                    "quantity": {"N": str(order * line)},
                },
            )


def dynamodb_items() -> dict[str, Any]:
    ddb = boto3.client("dynamodb", region_name=REGION)
    _orders_table(ddb)
    key = {"pk": {"S": "ORDER#2"}, "sk": {"S": "LINE#1"}}
    return {
        "describe": _answer(ddb.describe_table, TableName="orders"),
        "get": _answer(ddb.get_item, TableName="orders", Key=key),
        "get missing": _answer(
            ddb.get_item, TableName="orders", Key={"pk": {"S": "NONE"}, "sk": {"S": "NONE"}}
        ),
        "update": _answer(
            ddb.update_item, TableName="orders", Key=key,
            UpdateExpression="SET quantity = quantity + :one",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":one": {"N": "1"}}, ReturnValues="ALL_NEW",
        ),
        "update refused": _answer(
            ddb.update_item, TableName="orders", Key=key, UpdateExpression="SET quantity = :q",
            ConditionExpression="quantity = :wrong",
            ExpressionAttributeValues={":q": {"N": "0"}, ":wrong": {"N": "99"}},
        ),
        "put refused": _answer(
            ddb.put_item, TableName="orders", Item=key,
            ConditionExpression="attribute_not_exists(pk)",
        ),
        "delete": _answer(ddb.delete_item, TableName="orders", Key=key, ReturnValues="ALL_OLD"),
        "batch write": _answer(
            ddb.batch_write_item,
            RequestItems={"orders": [
                {"PutRequest": {"Item": {"pk": {"S": "ORDER#9"}, "sk": {"S": "LINE#1"}}}},
                {"DeleteRequest": {"Key": {"pk": {"S": "ORDER#1"}, "sk": {"S": "LINE#2"}}}},
            ]},
        ),
        "batch get": _answer(
            ddb.batch_get_item,
            RequestItems={"orders": {"Keys": [
                {"pk": {"S": "ORDER#9"}, "sk": {"S": "LINE#1"}},
                {"pk": {"S": "ORDER#3"}, "sk": {"S": "LINE#3"}},
            ]}},
        ),
        "scan": _answer(
            ddb.scan, TableName="orders", FilterExpression="quantity > :n",
            ExpressionAttributeValues={":n": {"N": "4"}},
        ),
        "scan paged": _answer(ddb.scan, TableName="orders", Limit=4),
    }  # fmt: skip


def dynamodb_queries() -> dict[str, Any]:
    ddb = boto3.client("dynamodb", region_name=REGION)
    _orders_table(ddb)
    first = ddb.query(
        TableName="orders", KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "ORDER#3"}}, Limit=2,
    )  # fmt: skip
    return {
        "partition": _answer(
            ddb.query, TableName="orders", KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": "ORDER#4"}},
        ),
        "range, newest first": _answer(
            ddb.query, TableName="orders",
            KeyConditionExpression="pk = :pk AND begins_with(sk, :line)",
            ExpressionAttributeValues={":pk": {"S": "ORDER#2"}, ":line": {"S": "LINE#"}},
            ScanIndexForward=False,
        ),
        "first page": _normalized(first),
        "next page": _answer(
            ddb.query, TableName="orders", KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": "ORDER#3"}}, Limit=2,
            ExclusiveStartKey=first["LastEvaluatedKey"],
        ),
        "filter and projection": _answer(
            ddb.query, TableName="orders", KeyConditionExpression="pk = :pk",
            FilterExpression="quantity > :n", ProjectionExpression="sk, quantity",
            ExpressionAttributeValues={":pk": {"S": "ORDER#5"}, ":n": {"N": "5"}},
        ),
        "count": _answer(
            ddb.query, TableName="orders", KeyConditionExpression="pk = :pk", Select="COUNT",
            ExpressionAttributeValues={":pk": {"S": "ORDER#1"}},
        ),
        "index": _answer(
            ddb.query, TableName="orders", IndexName="by-status",
            KeyConditionExpression="#s = :s", ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": {"S": "open"}},
        ),
        "missing partition": _answer(
            ddb.query, TableName="orders", KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": "ORDER#404"}},
        ),
        "bad condition": _answer(
            ddb.query, TableName="orders", KeyConditionExpression="sk = :sk",
            ExpressionAttributeValues={":sk": {"S": "LINE#1"}},
        ),
    }  # fmt: skip


def dynamodb_transactions() -> dict[str, Any]:
    ddb = boto3.client("dynamodb", region_name=REGION)
    _orders_table(ddb)

    def put(pk: str, sk: str, **extra: Any) -> dict[str, Any]:
        return {"Put": {"TableName": "orders", "Item": {"pk": {"S": pk}, "sk": {"S": sk}}, **extra}}

    applied = _answer(
        ddb.transact_write_items,
        TransactItems=[
            put("ORDER#7", "LINE#1"),
            {"Update": {
                "TableName": "orders", "Key": {"pk": {"S": "ORDER#1"}, "sk": {"S": "LINE#1"}},
                "UpdateExpression": "SET quantity = :q",
                "ExpressionAttributeValues": {":q": {"N": "70"}},
            }},
        ],
    )  # fmt: skip
    cancelled = _answer(
        ddb.transact_write_items,
        TransactItems=[
            put("ORDER#8", "LINE#1"),
            {"Delete": {"TableName": "orders",
                        "Key": {"pk": {"S": "ORDER#2"}, "sk": {"S": "LINE#2"}}}},
            put("ORDER#1", "LINE#1", ConditionExpression="attribute_not_exists(pk)"),
        ],
    )  # fmt: skip
    return {
        "applied": applied,
        "cancelled": cancelled,
        "after both": _answer(ddb.scan, TableName="orders"),
        "read together": _answer(
            ddb.transact_get_items,
            TransactItems=[
                {"Get": {"TableName": "orders",
                         "Key": {"pk": {"S": "ORDER#7"}, "sk": {"S": "LINE#1"}}}},
                {"Get": {"TableName": "orders",
                         "Key": {"pk": {"S": "ORDER#8"}, "sk": {"S": "LINE#1"}}}},
            ],
        ),
    }  # fmt: skip


def queues_and_topics() -> dict[str, Any]:
    sqs = boto3.client("sqs", region_name=REGION)
    sns = boto3.client("sns", region_name=REGION)
    url = sqs.create_queue(QueueName="notices", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    topic = sns.create_topic(Name="owners")["TopicArn"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"],
        Attributes={"RawMessageDelivery": "true"},
    )  # fmt: skip
    sent = _answer(sqs.send_message, QueueUrl=url, MessageBody='{"order": 1}')
    published = _answer(sns.publish, TopicArn=topic, Message='{"order": 2}', Subject="late")
    received = _answer(
        sqs.receive_message, QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]
    )
    for key in ("Attributes",):  # receive counts and timestamps
        for message in received.get("Messages", []):
            message.pop(key, None)
    return {
        "sent": sent,
        "published": published,
        "received": received,
        "queue": _answer(sqs.get_queue_attributes, QueueUrl=url, AttributeNames=["All"])[
            "Attributes"
        ]["VisibilityTimeout"],
        "missing queue": _answer(sqs.get_queue_url, QueueName="nowhere"),
    }


def secrets() -> dict[str, Any]:
    client = boto3.client("secretsmanager", region_name=REGION)
    client.create_secret(Name="shipshape/acme/shopify", SecretString="s3cr3t")
    return {
        "read": _answer(client.get_secret_value, SecretId="shipshape/acme/shopify"),
        "missing": _answer(client.get_secret_value, SecretId="shipshape/none"),
    }


DEFINITION = """{
  "StartAt": "Route",
  "States": {
    "Route": {"Type": "Choice", "Choices": [
      {"Variable": "$.lines", "NumericGreaterThan": 1, "Next": "Split"}], "Default": "Single"},
    "Split": {"Type": "Pass", "Parameters": {"count.$": "$.lines", "kind": "split"},
              "ResultPath": "$.plan", "Next": "Done"},
    "Single": {"Type": "Pass", "Result": {"kind": "single"}, "ResultPath": "$.plan",
               "Next": "Done"},
    "Done": {"Type": "Succeed", "OutputPath": "$.plan"}
  }
}"""


def workflows() -> dict[str, Any]:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name="fulfilment", definition=DEFINITION,
        roleArn="arn:aws:iam::123456789012:role/shipshape-embedded",
    )["stateMachineArn"]  # fmt: skip
    found: dict[str, Any] = {}
    for name, lines in (("one", 1), ("many", 3)):
        arn = sfn.start_execution(
            stateMachineArn=machine, name=name, input=f'{{"lines": {lines}}}'
        )["executionArn"]
        deadline = time.monotonic() + 10
        while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
            assert time.monotonic() < deadline, "the execution did not finish"
            time.sleep(0.01)
        found[name] = _answer(sfn.describe_execution, executionArn=arn)
        history = sfn.get_execution_history(executionArn=arn)["events"]
        found[f"{name} history"] = [(e["type"], e["id"], e["previousEventId"]) for e in history]
    found["same name again"] = _answer(
        sfn.start_execution, stateMachineArn=machine, name="one", input='{"lines": 2}'
    )
    found["machines"] = _answer(sfn.list_state_machines)
    return found


SCENARIOS: dict[str, Callable[[], dict[str, Any]]] = {
    "dynamodb items": dynamodb_items,
    "dynamodb queries": dynamodb_queries,
    "dynamodb transactions": dynamodb_transactions,
    "queues and topics": queues_and_topics,
    "secrets": secrets,
    "workflows": workflows,
}


def _run(scenario: Callable[[], dict[str, Any]], patched: bool) -> dict[str, Any]:
    config = {"stepfunctions": {"execute_state_machine": True}}
    with mock_aws(config=config), _installed() if patched else nullcontext():
        return scenario()


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_moto_answers_the_same_with_the_patches_as_without_them(name: str) -> None:
    # Given the same calls to the emulator (a fresh one each time)
    scenario = SCENARIOS[name]

    # When they are made without the patches, then with them installed
    without = _run(scenario, patched=False)
    with_patches = _run(scenario, patched=True)

    # Then every answer (and every error) is the same
    assert not patches.is_installed()
    for call, answer in without.items():
        assert with_patches[call] == answer, call
    assert with_patches.keys() == without.keys()


# --- the originals are back ------------------------------------------------------------------


def _patched_attributes() -> list[tuple[Any, str]]:
    """Every attribute the patches replace, named here independently of the patches."""
    from botocore import endpoint
    from botocore.client import BaseClient
    from botocore.signers import RequestSigner
    from moto.core.botocore_stubber import BotocoreStubber
    from moto.dynamodb import models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_callback,
    )
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackPoolManager
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.asl.utils import json_path
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    backend_calls = ("put_item", "get_item", "update_item", "delete_item", "query", "scan",
                     "transact_write_items", "transact_get_items", "batch_write_item",
                     "batch_get_item")  # fmt: skip
    handler_calls = ("put_item", "update_item", "delete_item", "batch_write_item",
                     "transact_write_items", "get_item", "batch_get_item",
                     "transact_get_items")  # fmt: skip
    return [
        (models, "copy"),
        *((DynamoDBBackend, name) for name in backend_calls),
        (StepFunctionsParserBackend, "start_execution"),
        *(
            (StepFunctionsParserBackend, name)
            for name in ("send_task_success", "send_task_failure", "send_task_heartbeat")
        ),
        (CallbackPoolManager, "add"),
        (state_task_service_callback.StateTaskServiceCallback, "_eval_wait_for_task_token"),
        (Table, "query"),
        (Table, "all_items"),
        (lambda_eval_utils, "boto_client_for"),
        (AmazonStateLanguageParser, "parse"),
        (json_path, "parse"),
        (result_path, "parse"),
        (RequestSigner, "sign"),
        (BaseClient, "_make_api_call"),
        (retrier_decl, "time"),
        (endpoint, "time"),
        (BotocoreStubber, "__call__"),
        *((DynamoHandler, name) for name in handler_calls),
    ]


def _snapshot() -> dict[tuple[int, str], Any]:
    """What each patched attribute's owner holds under its name (the raw entry: a
    staticmethod, not the function it wraps)."""
    return {
        (id(owner), name): vars(owner).get(name, ABSENT) for owner, name in _patched_attributes()
    }


def _owners() -> dict[int, frozenset[str]]:
    return {id(owner): frozenset(vars(owner)) for owner, _ in _patched_attributes()}


@pytest.fixture
def originals() -> Iterator[dict[tuple[int, str], Any]]:
    assert not patches.is_installed(), "a runtime left the patches installed"
    yield _snapshot()


def test_the_originals_are_back_after_the_context_exits(
    originals: dict[tuple[int, str], Any],
) -> None:
    # Given moto as it is before any patch
    owners = _owners()

    # When the patches are installed, then their context exits
    with _installed():
        replaced = [key for key, value in _snapshot().items() if value is not originals[key]]
    after = _snapshot()

    # Then every attribute was replaced meanwhile, and is again the very object it was
    assert len(replaced) == len(originals)
    assert all(after[key] is originals[key] for key in originals)
    assert _owners() == owners  # nothing left behind on a class or module
    assert not patches.is_installed()


def test_the_originals_are_back_after_an_embedded_runtime_stops(
    originals: dict[tuple[int, str], Any],
) -> None:
    # Given moto as it is before any runtime, and its in-process Lambda seam
    from moto.awslambda.models import LambdaFunction

    seam, stdout = vars(LambdaFunction)["_invoke_lambda"], sys.stdout

    # When a runtime starts and stops
    with EmbeddedRuntime(seed=None) as rt:
        assert patches.is_installed()
        assert rt.http("GET", "/nowhere").status == 404
    after = _snapshot()

    # Then moto's internals are as they were
    assert all(after[key] is originals[key] for key in originals)
    assert vars(LambdaFunction)["_invoke_lambda"] is seam
    assert sys.stdout is stdout
    assert not patches.is_installed()


def test_a_patch_that_fails_to_install_leaves_nothing_installed(
    originals: dict[tuple[int, str], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a patch, late in the order, that cannot be installed
    def broken(*args: Any, **kwargs: Any) -> None:
        raise AttributeError("moto moved it")

    monkeypatch.setattr(scaled_retry_sleeps, "install", broken)

    # When the patches are installed
    with pytest.raises(AttributeError, match="moto moved it"), _installed():
        pytest.fail("the context must not be entered")

    # Then those installed before it are removed again
    after = _snapshot()
    assert all(after[key] is originals[key] for key in originals)
    assert not patches.is_installed()


def test_the_patches_are_installed_once_at_a_time(
    originals: dict[tuple[int, str], Any],
) -> None:
    # Given the patches installed
    with _installed():
        # When they are installed again inside
        with pytest.raises(RuntimeError, match="one embedded runtime at a time"), _installed():
            pytest.fail("the context must not be entered")

        # Then the outer installation stands
        assert patches.is_installed()
    after = _snapshot()
    assert all(after[key] is originals[key] for key in originals)
