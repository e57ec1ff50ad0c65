"""AWS's documented limits on what a request may carry, as the embedded stack holds them.

moto holds some of these (a put item's key sizes, 100 transaction items, an item's size by
its own measure, which counts neither a list's nor a map's overhead) and not others. The
embedded runtime refuses each request AWS refuses, with AWS's error code and message
(``patches/aws_limits.py`` checks them where a call leaves the process; the Lambda and API
Gateway limits are held by ``lambdas`` and ``gateway``). Each limit names its source.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from botocore.exceptions import ClientError

KB = 1024
MB = 1024 * KB

# DynamoDB developer guide, "Quotas in Amazon DynamoDB" and "Supported data types and naming
# rules": an item is at most 400 KB (names and values, UTF-8); a partition key value at most
# 2048 bytes and a sort key value at most 1024 bytes; a number at most 38 significant digits;
# a transaction at most 100 actions and 4 MB in all.
ITEM_BYTES = 400 * KB
PARTITION_KEY_BYTES = 2048
SORT_KEY_BYTES = 1024
NUMBER_DIGITS = 38
TRANSACTION_ITEMS = 100
TRANSACTION_BYTES = 4 * MB
# Step Functions developer guide, "Step Functions service quotas": a task's, state's or
# execution's input or output is at most 256 KiB as a UTF-8 string; API reference,
# SendTaskFailure: cause at most 32768 characters, error at most 256.
STATES_PAYLOAD_BYTES = 256 * KB
STATES_CAUSE_CHARS = 32768
STATES_ERROR_CHARS = 256
# Lambda API reference, Invoke: "For synchronous invocations, the maximum payload size is
# 6 MB. For asynchronous invocations, the maximum payload size is 1 MB." A response is at most
# 6 MB too (Lambda quotas, "Invocation payload (request and response)").
LAMBDA_SYNC_BYTES = 6 * MB
LAMBDA_ASYNC_BYTES = 1 * MB
# API Gateway developer guide, "Amazon API Gateway quotas" (HTTP APIs): a payload at most
# 10 MB; an integration answers within 30 seconds.
API_PAYLOAD_BYTES = 10 * MB
API_INTEGRATION_SECONDS = 30.0


def refused(code: str, message: str, operation: str, status: int = 400) -> ClientError:
    """The error botocore raises when AWS refuses a request so."""
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, operation)


# --- DynamoDB -------------------------------------------------------------------------------


def significant_digits(text: str) -> int:
    """A number's significant digits as DynamoDB counts them (leading and trailing zeros do
    not count)."""
    try:
        digits = Decimal(text).as_tuple().digits
    except InvalidOperation:
        return 0  # not a number: DynamoDB's own validation answers that
    stripped = "".join(map(str, digits)).strip("0")
    return len(stripped)


def value_size(value: Mapping[str, Any]) -> int:
    """An attribute value's size as DynamoDB bills and limits it ("Item sizes and formats"):
    strings and binaries their bytes, a number one byte per two significant digits plus one,
    null and booleans one byte, a list or map three bytes plus one per element plus its
    elements (a map's element names included), a set its elements."""
    ((kind, raw),) = value.items()
    if kind == "S":
        return len(str(raw).encode())
    if kind == "N":
        return (significant_digits(str(raw)) + 1) // 2 + 1
    if kind == "B":
        return len(_binary(raw))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(s).encode()) for s in raw)
    if kind == "NS":
        return sum((significant_digits(str(n)) + 1) // 2 + 1 for n in raw)
    if kind == "BS":
        return sum(len(_binary(b)) for b in raw)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in raw)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in raw.items())
    return 0


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def _binary(raw: Any) -> bytes:
    if isinstance(raw, bytes | bytearray):
        return bytes(raw)
    try:
        return base64.b64decode(str(raw), validate=True)
    except ValueError:
        return str(raw).encode()


def numbers_in(value: Any) -> Iterable[str]:
    """Every number (``N`` and ``NS`` member) in a request's attribute values."""
    if isinstance(value, Mapping):
        for kind, raw in value.items():
            if kind == "N" and isinstance(raw, str | int | float | Decimal):
                yield str(raw)
            elif kind == "NS" and isinstance(raw, list):
                yield from (str(n) for n in raw)
            else:
                yield from numbers_in(raw)
    elif isinstance(value, list):
        for each in value:
            yield from numbers_in(each)


def check_numbers(params: Mapping[str, Any], operation: str) -> None:
    for number in numbers_in(params):
        if significant_digits(number) > NUMBER_DIGITS:
            raise refused(
                "ValidationException",
                "Attempting to store more than 38 significant digits in a Number",
                operation,
            )


def check_key_sizes(
    values: Mapping[str, Mapping[str, Any]],
    *,
    partition_keys: Iterable[str],
    sort_keys: Iterable[str],
    operation: str,
) -> None:
    """The partition and sort key values among ``values`` (a key, or an item with its
    indexes' keys), each within its limit; AWS's own messages."""
    for name in partition_keys:
        if name in values and value_size(values[name]) > PARTITION_KEY_BYTES:
            raise refused(
                "ValidationException",
                "One or more parameter values were invalid: Size of hashkey has exceeded the "
                f"maximum size limit of{PARTITION_KEY_BYTES} bytes",
                operation,
            )
    for name in sort_keys:
        if name in values and value_size(values[name]) > SORT_KEY_BYTES:
            raise refused(
                "ValidationException",
                "One or more parameter values were invalid: Aggregated size of all range keys "
                f"has exceeded the size limit of {SORT_KEY_BYTES} bytes",
                operation,
            )


def check_put_size(item: Mapping[str, Mapping[str, Any]], operation: str) -> None:
    if item_size(item) > ITEM_BYTES:
        raise refused(
            "ValidationException", "Item size has exceeded the maximum allowed size", operation
        )


def transaction_size(actions: Iterable[Mapping[str, Any]]) -> int:
    """A transaction's size: each action's item (a put), or its key and the values it
    writes or compares."""
    total = 0
    for action in actions:
        for body in action.values():
            if "Item" in body:
                total += item_size(body["Item"])
            if "Key" in body:
                total += item_size(body["Key"])
            total += item_size(body.get("ExpressionAttributeValues") or {})
    return total


def check_transaction(actions: list[Mapping[str, Any]], operation: str) -> None:
    if len(actions) > TRANSACTION_ITEMS:
        raise refused(
            "ValidationException",
            "1 validation error detected: Value at 'transactItems' failed to satisfy "
            f"constraint: Member must have length less than or equal to {TRANSACTION_ITEMS}",
            operation,
        )
    if transaction_size(actions) > TRANSACTION_BYTES:
        raise refused(
            "ValidationException",
            "Transaction request cannot be larger than 4 MB",
            operation,
        )


# --- Step Functions and Lambda ------------------------------------------------------------


def too_long(field: str, limit: int, operation: str) -> ClientError:
    """The constraint violation AWS's APIs answer for a member over its length."""
    return refused(
        "ValidationException",
        f"1 validation error detected: Value at '{field}' failed to satisfy constraint: "
        f"Member must have length less than or equal to {limit}",
        operation,
    )


def check_states_request(operation: str, params: Mapping[str, Any]) -> None:
    for field, limit in (("input", STATES_PAYLOAD_BYTES), ("output", STATES_PAYLOAD_BYTES)):
        text = params.get(field)
        if isinstance(text, str) and len(text.encode()) > limit:
            raise too_long(field, limit, operation)
    if operation == "SendTaskFailure":
        for field, limit in (("cause", STATES_CAUSE_CHARS), ("error", STATES_ERROR_CHARS)):
            text = params.get(field)
            if isinstance(text, str) and len(text) > limit:
                raise too_long(field, limit, operation)


def lambda_payload_limit(invocation_type: str) -> int:
    return LAMBDA_ASYNC_BYTES if invocation_type == "Event" else LAMBDA_SYNC_BYTES


def check_lambda_invoke(params: Mapping[str, Any], operation: str) -> None:
    payload = params.get("Payload") or b""
    size = len(payload.encode() if isinstance(payload, str) else bytes(payload))
    limit = lambda_payload_limit(str(params.get("InvocationType") or "RequestResponse"))
    if size > limit:
        raise refused(
            "RequestTooLargeException",
            f"Request must be smaller than {limit} bytes for the InvokeFunction operation",
            operation,
            status=413,
        )
