"""The table's batch read under throttling, as DynamoDB answers it: BatchGetItem may return
some keys in ``UnprocessedKeys`` (AWS, BatchGetItem: "If DynamoDB returns any unprocessed
items, you should retry the batch operation on those items ... we strongly recommend that you
use an exponential backoff algorithm"). The emulator never does, so botocore's Stubber plays
DynamoDB's documented answers to a real boto3 client."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from shipshape.adapters.dynamodb import table as table_module
from shipshape.adapters.dynamodb.table import Table
from shipshape.errors import TransientDependencyError

NAME = "OrdersTable"


def _key(n: int) -> dict[str, Any]:
    return {"pk": {"S": f"ORDER#{n}"}, "sk": {"S": "ORDER"}}


def _item(n: int) -> dict[str, Any]:
    return {**_key(n), "doc": {"S": f"order {n}"}}


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The backoff waits, recorded instead of slept."""
    waited: list[float] = []
    monkeypatch.setattr(table_module.time, "sleep", waited.append)
    return waited


def test_unprocessed_keys_are_asked_again_after_a_backoff_until_every_item_is_read(
    sleeps: list[float],
) -> None:
    # Given DynamoDB answers the first batch with one key left unprocessed, then the rest
    client = boto3.client("dynamodb", region_name="us-east-1")
    stub = Stubber(client)
    stub.add_response(
        "batch_get_item",
        {"Responses": {NAME: [_item(1)]}, "UnprocessedKeys": {NAME: {"Keys": [_key(2)]}}},
        {"RequestItems": {NAME: {"Keys": [_key(1), _key(2)]}}},
    )
    stub.add_response(
        "batch_get_item",
        {"Responses": {NAME: [_item(2)]}, "UnprocessedKeys": {}},
        {"RequestItems": {NAME: {"Keys": [_key(2)]}}},
    )

    # When both keys are read
    with stub:
        items = Table(client, NAME).batch_get([_key(1), _key(2)])

    # Then both items come back, the unprocessed key asked for alone after one wait within
    # the first backoff step
    assert items == [_item(1), _item(2)]
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= 0.1
    stub.assert_no_pending_responses()


def test_keys_still_unprocessed_after_backing_off_are_a_transient_failure(
    sleeps: list[float],
) -> None:
    # Given DynamoDB leaves the key unprocessed every time it is asked
    client = boto3.client("dynamodb", region_name="us-east-1")
    stub = Stubber(client)
    unprocessed = {"Responses": {NAME: []}, "UnprocessedKeys": {NAME: {"Keys": [_key(1)]}}}
    for _ in range(6):
        stub.add_response("batch_get_item", unprocessed)

    # When it is read
    with stub, pytest.raises(TransientDependencyError) as failed:
        Table(client, NAME).batch_get([_key(1)])

    # Then, after six attempts and five growing waits (each at most 0.05 s x 2^n), the read
    # fails as transient, so the workflow's Retry (or a 503) takes it from there
    assert str(failed.value) == "DynamoDB left keys unprocessed after backing off"
    assert len(sleeps) == 5
    assert all(0 <= wait <= 0.05 * 2**n for n, wait in enumerate(sleeps, start=1))
    stub.assert_no_pending_responses()
