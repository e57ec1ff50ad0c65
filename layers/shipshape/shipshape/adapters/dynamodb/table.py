"""The one table, as the stores use it: each call a DynamoDB request, each failure translated
here and nowhere else.

A throttle or a service fault becomes ``TransientDependencyError`` (the workflow's Retry and the
callers' backoff handle it); a condition a write was guarded by becomes the conflict the caller
names (``ConcurrentUpdate``, ``AlreadyExists``), and a transaction cancelled for colliding with
another (``TransactionConflict``) a ``ConcurrentUpdate``; anything else is a fault and is raised
as is.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from shipshape.errors import ConcurrentUpdate, TransientDependencyError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
else:
    DynamoDBClient = Any

TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionInProgressException",
    }
)

# BatchGetItem takes at most 100 keys per request.
_BATCH_KEYS = 100
# Unprocessed keys: asked again up to 6 times, after full-jitter waits of up to 0.05 s x 2^n
# (at most 3.1 s in all, within a step's time budget).
_UNPROCESSED_ATTEMPTS = 6
_BACKOFF_SECONDS = 0.05


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def translate(exc: ClientError) -> Exception:
    """What a failed request means to the domain."""
    code = error_code(exc)
    if code in TRANSIENT_CODES or code == "TransactionCanceledException":
        return TransientDependencyError(f"DynamoDB {code}")
    return exc


@contextmanager
def translated(on_condition: Exception | None = None) -> Iterator[None]:
    """Run one request; a failed condition raises ``on_condition`` (when given), every other
    failure its translation."""
    try:
        yield
    except ClientError as exc:
        code = error_code(exc)
        reasons = (
            [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if code == "TransactionCanceledException"
            else []
        )
        if on_condition is not None and (
            code == "ConditionalCheckFailedException" or "ConditionalCheckFailed" in reasons
        ):
            raise on_condition from exc
        if "TransactionConflict" in reasons:
            # Another transaction was writing one of the items at the same moment: a race
            # lost, like a failed condition, so the caller reads again and decides again.
            raise ConcurrentUpdate("DynamoDB TransactionConflict: read again") from exc
        raise translate(exc) from exc


class Table:
    """One DynamoDB table through one client."""

    def __init__(self, client: DynamoDBClient, name: str) -> None:
        self.client = client
        self.name = name

    def get(self, key: dict[str, Any], **options: Any) -> dict[str, Any] | None:
        with translated():
            found = self.client.get_item(TableName=self.name, Key=key, **options)
        return found.get("Item")

    def put(
        self, item: dict[str, Any], on_condition: Exception | None = None, **options: Any
    ) -> None:
        with translated(on_condition):
            self.client.put_item(TableName=self.name, Item=item, **options)

    def delete(
        self, key: dict[str, Any], on_condition: Exception | None = None, **options: Any
    ) -> None:
        with translated(on_condition):
            self.client.delete_item(TableName=self.name, Key=key, **options)

    def update(
        self, key: dict[str, Any], on_condition: Exception | None = None, **options: Any
    ) -> dict[str, Any]:
        with translated(on_condition):
            answer = self.client.update_item(TableName=self.name, Key=key, **options)
        return dict(answer.get("Attributes", {}))

    def query(self, **options: Any) -> dict[str, Any]:
        """One page of a query."""
        with translated():
            return dict(self.client.query(TableName=self.name, **options))

    def query_all(self, **options: Any) -> list[dict[str, Any]]:
        """Every item of a query, page after page (boto3's paginator)."""
        with translated():
            pages = self.client.get_paginator("query").paginate(TableName=self.name, **options)
            return [item for page in pages for item in page["Items"]]

    def query_newest(self, limit: int, **options: Any) -> list[dict[str, Any]]:
        """Up to ``limit`` items, newest sort key first, page after page."""
        items: list[dict[str, Any]] = []
        while len(items) < limit:
            page = self.query(**options, ScanIndexForward=False, Limit=limit - len(items))
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            options["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return items

    def batch_get(self, keys: Sequence[dict[str, Any]], **options: Any) -> list[dict[str, Any]]:
        """The items that exist among ``keys``, 100 keys a request. Keys DynamoDB leaves
        unprocessed (throttled) are asked again after an exponential backoff with jitter, as
        AWS advises; still unprocessed after that, the read is a transient failure."""
        items: list[dict[str, Any]] = []
        for start in range(0, len(keys), _BATCH_KEYS):
            request: Any = {self.name: {"Keys": list(keys[start : start + _BATCH_KEYS]), **options}}
            for attempt in range(_UNPROCESSED_ATTEMPTS):
                if attempt:
                    time.sleep(random.uniform(0, _BACKOFF_SECONDS * 2**attempt))  # noqa: S311
                with translated():
                    page = self.client.batch_get_item(RequestItems=request)
                items.extend(page["Responses"].get(self.name, []))
                request = page.get("UnprocessedKeys") or None
                if request is None:
                    break
            else:
                raise TransientDependencyError("DynamoDB left keys unprocessed after backing off")
        return items

    def transact(self, items: Sequence[dict[str, Any]], on_condition: Exception) -> None:
        """Write ``items`` all or none; a failed condition raises ``on_condition``."""
        with translated(on_condition):
            self.client.transact_write_items(TransactItems=list(items))  # type: ignore[arg-type]
