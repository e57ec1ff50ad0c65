"""AWS's documented limits, held by the embedded stack as AWS holds them: each request one past
a limit is refused with AWS's error, and nothing of it is written; one at the limit passes.

The limits and their sources are in ``local/shipshape_local/limits.py`` (DynamoDB's "Quotas"
and "Item sizes and formats" pages, Step Functions' service quotas and API reference, Lambda's
Invoke reference, API Gateway's HTTP API quotas).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from shipshape_local import limits
from shipshape_local.runtime import EmbeddedRuntime
from tests.integration.stack import LEAD, ORDERS_TABLE

KB = 1024


@pytest.fixture
def ddb(runtime: EmbeddedRuntime) -> Any:
    return boto3.client("dynamodb", region_name="us-east-1")


def key(pk: str, sk: str = "LIMIT") -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def stored(ddb: Any, pk: str, sk: str = "LIMIT") -> dict[str, Any] | None:
    return ddb.get_item(TableName=ORDERS_TABLE, Key=key(pk, sk)).get("Item")


def refusal(raised: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = raised.value.response["Error"]
    return error["Code"], error["Message"]


# --- DynamoDB keys ---------------------------------------------------------------------------


def test_a_partition_key_over_2048_bytes_is_refused_on_every_request(ddb: Any) -> None:
    at_limit, over = "p" * 2048, "p" * 2049
    ddb.put_item(TableName=ORDERS_TABLE, Item=key(at_limit))
    assert stored(ddb, at_limit) is not None
    hashkey = (
        "ValidationException",
        "One or more parameter values were invalid: Size of hashkey has exceeded the maximum "
        "size limit of2048 bytes",
    )
    for call in (
        lambda: ddb.put_item(TableName=ORDERS_TABLE, Item=key(over)),
        lambda: ddb.get_item(TableName=ORDERS_TABLE, Key=key(over)),
        lambda: ddb.delete_item(TableName=ORDERS_TABLE, Key=key(over)),
        lambda: ddb.update_item(
            TableName=ORDERS_TABLE,
            Key=key(over),
            UpdateExpression="SET n = :n",
            ExpressionAttributeValues={":n": {"N": "1"}},
        ),
    ):
        with pytest.raises(ClientError) as raised:
            call()
        assert refusal(raised) == hashkey
    # A multibyte character counts its UTF-8 bytes: 1,025 of "é" are 2,050 bytes
    with pytest.raises(ClientError) as raised:
        ddb.put_item(TableName=ORDERS_TABLE, Item=key("é" * 1025))
    assert refusal(raised) == hashkey


def test_a_sort_key_or_an_index_key_over_its_limit_is_refused(ddb: Any) -> None:
    ddb.put_item(TableName=ORDERS_TABLE, Item=key("ORDER#sk", "s" * 1024))
    for item in (
        key("ORDER#sk", "s" * 1025),
        {**key("ORDER#gsi"), "gsi1sk": {"S": "g" * 1025}},
        {**key("ORDER#gsi"), "gsi1pk": {"S": "g" * 2049}},
    ):
        with pytest.raises(ClientError) as raised:
            ddb.put_item(TableName=ORDERS_TABLE, Item=item)
        code, message = refusal(raised)
        assert code == "ValidationException"
        assert "exceeded the" in message and ("1024 bytes" in message or "2048 bytes" in message)
    assert stored(ddb, "ORDER#gsi") is None


def test_a_client_id_longer_than_any_key_allows_is_refused_at_the_door(
    runtime: EmbeddedRuntime,
) -> None:
    # An id in the path is held to its own limit (64) before anything is keyed by it
    answer = runtime.http(
        "POST", "/webhooks/shopify/" + "a" * 3000, headers={"X-Shopify-Topic": "orders/paid"},
        body="{}",
    )  # fmt: skip
    assert (answer.status, answer.json()["message"]) == (
        422, "path.client_id: String should have at most 64 characters"
    )  # fmt: skip
    answer = runtime.http("GET", "/orders/" + "o" * 3000, headers=LEAD)
    assert (answer.status, answer.json()["message"]) == (
        422, "path.order_id: String should have at most 64 characters"
    )  # fmt: skip


# --- DynamoDB numbers --------------------------------------------------------------------------


def test_a_number_of_more_than_38_significant_digits_is_refused(ddb: Any) -> None:
    digits38 = "1" * 38
    ddb.put_item(TableName=ORDERS_TABLE, Item={**key("N#38"), "n": {"N": digits38}})
    # Leading and trailing zeros are not significant
    ddb.put_item(TableName=ORDERS_TABLE, Item={**key("N#zeros"), "n": {"N": "1" + "0" * 60}})
    ddb.put_item(TableName=ORDERS_TABLE, Item={**key("N#small"), "n": {"N": "0.000" + digits38}})
    too_precise = (
        "ValidationException",
        "Attempting to store more than 38 significant digits in a Number",
    )
    with pytest.raises(ClientError) as raised:
        ddb.put_item(TableName=ORDERS_TABLE, Item={**key("N#39"), "n": {"N": "1" * 39}})
    assert refusal(raised) == too_precise
    with pytest.raises(ClientError) as raised:
        ddb.update_item(
            TableName=ORDERS_TABLE, Key=key("N#38"), UpdateExpression="SET n = :n",
            ExpressionAttributeValues={":n": {"N": "0." + "3" * 39}},
        )  # fmt: skip
    assert refusal(raised) == too_precise
    with pytest.raises(ClientError) as raised:
        ddb.put_item(TableName=ORDERS_TABLE, Item={**key("N#set"), "ns": {"NS": ["1", "2" * 40]}})
    assert refusal(raised) == too_precise
    assert stored(ddb, "N#38") == {**key("N#38"), "n": {"N": digits38}}
    assert stored(ddb, "N#39") is None and stored(ddb, "N#set") is None


# --- DynamoDB item size ------------------------------------------------------------------------


def test_an_item_over_400_kb_is_refused_as_aws_measures_it(ddb: Any) -> None:
    base = key("SIZE#flat")
    overhead = limits.item_size({**base, "blob": {"S": ""}})
    ddb.put_item(TableName=ORDERS_TABLE,
                 Item={**base, "blob": {"S": "x" * (400 * KB - overhead)}})  # fmt: skip
    assert stored(ddb, "SIZE#flat") is not None
    with pytest.raises(ClientError) as raised:
        ddb.put_item(
            TableName=ORDERS_TABLE,
            Item={**key("SIZE#over"), "blob": {"S": "x" * (400 * KB - overhead + 1)}},
        )
    assert refusal(raised) == (
        "ValidationException", "Item size has exceeded the maximum allowed size"
    )  # fmt: skip
    # A map of many small entries: each costs its name, its value and a byte of overhead
    # (AWS's measure), which moto's own measure leaves out
    entries = {f"k{i:05d}": {"S": "v"} for i in range(52_000)}
    assert limits.item_size({"m": {"M": entries}}) > 400 * KB
    assert sum(len(k) + 1 for k in entries) < 400 * KB
    with pytest.raises(ClientError) as raised:
        ddb.put_item(TableName=ORDERS_TABLE, Item={**key("SIZE#map"), "m": {"M": entries}})
    assert refusal(raised)[1] == "Item size has exceeded the maximum allowed size"
    assert stored(ddb, "SIZE#over") is None and stored(ddb, "SIZE#map") is None


def test_an_update_that_would_pass_400_kb_is_refused_and_changes_nothing(
    runtime: EmbeddedRuntime, ddb: Any
) -> None:
    item = {**key("SIZE#update"), "a": {"S": "a" * 300 * KB}, "version": {"N": "1"}}
    ddb.put_item(TableName=ORDERS_TABLE, Item=item)
    records_before = _stream_records(ddb)
    too_large = (
        "ValidationException", "Item size to update has exceeded the maximum allowed size"
    )  # fmt: skip
    with pytest.raises(ClientError) as raised:
        ddb.update_item(
            TableName=ORDERS_TABLE, Key=key("SIZE#update"),
            UpdateExpression="SET b = :b, version = version + :one",
            ExpressionAttributeValues={":b": {"S": "b" * 150 * KB}, ":one": {"N": "1"}},
        )  # fmt: skip
    assert refusal(raised) == too_large
    assert stored(ddb, "SIZE#update") == item  # not half-written: version stays 1
    # An update that would create an item too large creates nothing
    with pytest.raises(ClientError) as raised:
        ddb.update_item(
            TableName=ORDERS_TABLE, Key=key("SIZE#new"), UpdateExpression="SET b = :b",
            ExpressionAttributeValues={":b": {"L": [{"S": "b" * KB}] * 410}},
        )  # fmt: skip
    assert refusal(raised) == too_large
    assert stored(ddb, "SIZE#new") is None
    assert _stream_records(ddb) == records_before  # and nothing reached the stream
    # The same update within the limit applies
    ddb.update_item(
        TableName=ORDERS_TABLE, Key=key("SIZE#update"), UpdateExpression="SET b = :b",
        ExpressionAttributeValues={":b": {"S": "b" * 90 * KB}},
    )  # fmt: skip
    assert len(stored(ddb, "SIZE#update")["b"]["S"]) == 90 * KB  # type: ignore[index]


def _stream_records(ddb: Any) -> int:
    streams = boto3.client(
        "dynamodbstreams", region_name="us-east-1",
        endpoint_url="https://streams.dynamodb.us-east-1.amazonaws.com",
    )  # fmt: skip
    arn = ddb.describe_table(TableName=ORDERS_TABLE)["Table"]["LatestStreamArn"]
    count = 0
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        count += len(streams.get_records(ShardIterator=iterator, Limit=1000)["Records"])
    return count


# --- DynamoDB transactions -------------------------------------------------------------------


def _puts(prefix: str, count: int, size: int = 16) -> list[dict[str, Any]]:
    return [
        {"Put": {"TableName": ORDERS_TABLE,
                 "Item": {**key(f"{prefix}#{i}"), "blob": {"S": "t" * size}}}}
        for i in range(count)
    ]  # fmt: skip


def test_a_transaction_of_more_than_100_actions_is_refused(ddb: Any) -> None:
    ddb.transact_write_items(TransactItems=_puts("TX100", 100))
    with pytest.raises(ClientError) as raised:
        ddb.transact_write_items(TransactItems=_puts("TX101", 101))
    code, message = refusal(raised)
    assert code == "ValidationException"
    assert "Member must have length less than or equal to 100" in message
    assert stored(ddb, "TX100#99") is not None and stored(ddb, "TX101#0") is None
    with pytest.raises(ClientError) as raised:
        ddb.transact_get_items(
            TransactItems=[{"Get": {"TableName": ORDERS_TABLE, "Key": key(f"TX100#{i % 100}")}}
                           for i in range(101)]
        )  # fmt: skip
    assert "less than or equal to 100" in refusal(raised)[1]


def test_a_transaction_over_4_mb_is_refused_and_writes_nothing(ddb: Any) -> None:
    ddb.transact_write_items(TransactItems=_puts("TX4MB", 10, size=390 * KB))  # 3.8 MB
    with pytest.raises(ClientError) as raised:
        ddb.transact_write_items(TransactItems=_puts("TXOVER", 11, size=390 * KB))  # 4.2 MB
    assert refusal(raised) == (
        "ValidationException", "Transaction request cannot be larger than 4 MB"
    )  # fmt: skip
    assert stored(ddb, "TX4MB#9") is not None
    assert all(stored(ddb, f"TXOVER#{i}") is None for i in range(11))


# --- Step Functions ------------------------------------------------------------------------------


def test_a_step_functions_payload_over_256_kib_is_refused(runtime: EmbeddedRuntime) -> None:
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    machine = runtime.names["FulfillmentStateMachine"]
    over = json.dumps({"pad": "x" * (256 * KB)})
    with pytest.raises(ClientError) as raised:
        sfn.start_execution(stateMachineArn=machine, name="too-large", input=over)
    assert refusal(raised) == (
        "ValidationException",
        "1 validation error detected: Value at 'input' failed to satisfy constraint: Member "
        "must have length less than or equal to 262144",
    )
    assert not runtime.execution_exists("too-large")
    with pytest.raises(ClientError) as raised:
        sfn.send_task_success(taskToken="t" * 100, output=over)
    assert "Value at 'output'" in refusal(raised)[1]
    with pytest.raises(ClientError) as raised:
        sfn.send_task_failure(taskToken="t" * 100, error="E", cause="c" * 32769)
    assert "Value at 'cause'" in refusal(raised)[1]


# --- Lambda --------------------------------------------------------------------------------------


def test_a_lambda_payload_over_its_limit_is_refused(runtime: EmbeddedRuntime) -> None:
    client = boto3.client("lambda", region_name="us-east-1")
    function = runtime.stack.function_names["SweeperFunction"]
    with pytest.raises(ClientError) as raised:
        client.invoke(FunctionName=function, Payload=json.dumps({"pad": "x" * 6 * KB * KB}))
    assert refusal(raised) == (
        "RequestTooLargeException",
        "Request must be smaller than 6291456 bytes for the InvokeFunction operation",
    )
    with pytest.raises(ClientError) as raised:  # an asynchronous invocation: 1 MB
        client.invoke(FunctionName=function, InvocationType="Event",
                      Payload=json.dumps({"pad": "x" * KB * KB}))  # fmt: skip
    assert refusal(raised)[0] == "RequestTooLargeException"
    assert runtime.lambdas.invocations.get(function, 0) == 0


def test_a_webhook_the_api_accepts_but_lambda_cannot_take_is_413(
    runtime: EmbeddedRuntime,
) -> None:
    # 7 MB fits API Gateway's 10 MB, not Lambda's 6 MB: refused before the function runs
    body = json.dumps({"id": 1, "pad": "x" * 7 * KB * KB})
    answer = runtime.http(
        "POST", "/webhooks/shopify/acme-outdoors",
        headers={"X-Shopify-Topic": "orders/paid", "Content-Type": "application/json"},
        body=body,
    )  # fmt: skip
    assert (answer.status, answer.json()) == (413, {"message": "Request Entity Too Large"})
    assert runtime.lambdas.invocations.get("shipshape-IngestFunction", 0) == 0
    # Over 10 MB, API Gateway refuses it itself
    answer = runtime.http("POST", "/webhooks/shopify/acme-outdoors", body="x" * (10 * KB * KB + 1))
    assert (answer.status, answer.json()) == (413, {"message": "Request Entity Too Large"})


@pytest.fixture
def ops_answers_7_mb(runtime: EmbeddedRuntime) -> Iterator[str]:
    name = runtime.stack.function_names["OpsFunction"]
    real = runtime.lambdas.handlers[name]

    def huge(event: Any, context: Any) -> Any:
        real(event, context)
        return {"statusCode": 200, "body": "x" * 7 * KB * KB}

    runtime.lambdas.handlers[name] = huge
    yield name
    runtime.lambdas.handlers[name] = real


def test_a_response_over_6_mb_is_the_functions_error(
    runtime: EmbeddedRuntime, ops_answers_7_mb: str
) -> None:
    answer = runtime.http("GET", "/me", headers=LEAD)
    assert (answer.status, answer.json()) == (500, {"message": "Internal Server Error"})
    assert "Function.ResponseSizeTooLarge" not in answer.body.decode()  # nothing leaks
    assert len(runtime.integration_errors) == 1
    assert "exceeded maximum allowed payload size (6291556 bytes)" in (
        runtime.integration_errors.pop()
    )


# --- API Gateway ----------------------------------------------------------------------------


def test_api_gateway_stops_waiting_at_its_integration_timeout(runtime: EmbeddedRuntime) -> None:
    assert runtime.gateway.integration_timeout == 30.0  # the HTTP API quota
    answer = runtime.http("GET", "/me", headers=LEAD)
    assert answer.status == 200
    runtime.gateway.integration_timeout = 0.2  # 30 s, shortened for the test
    runtime.lambdas.faults.append(lambda function, event: time.sleep(0.3))
    answer = runtime.http("GET", "/me", headers=LEAD)
    assert (answer.status, answer.json()) == (503, {"message": "Service Unavailable"})
