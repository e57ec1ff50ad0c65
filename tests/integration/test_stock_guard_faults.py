"""Stock reads and receipts when DynamoDB fails: a failure is a transient error the caller
retries (the workflow's Retry, the warehouse's redelivery), never a receipt taken as done and
never a crash. The faults are injected with botocore's Stubber (the adapter is real, only the
answer is made up), since the emulator does not throttle."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import boto3
import pytest
from botocore.stub import Stubber

from shipshape.adapters import dynamodb as adapters
from shipshape.adapters.dynamodb import DynamoDBInventory
from shipshape.errors import ConcurrentUpdate, TransientDependencyError
from shipshape_local.runtime import REGION
from tests.builders import ACME, SKU, WAREHOUSE
from tests.integration.stack import ORDERS_TABLE


@pytest.fixture
def dynamodb() -> Iterator[tuple[DynamoDBInventory, Stubber]]:
    """The adapter on a client whose answers the test decides."""
    client = boto3.client(
        "dynamodb", region_name=REGION, aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )  # fmt: skip
    with Stubber(client) as stubber:
        yield adapters.stores(client, ORDERS_TABLE).inventory, stubber
        stubber.assert_no_pending_responses()


def test_a_throttled_stock_read_is_a_transient_error(
    dynamodb: tuple[DynamoDBInventory, Stubber],
) -> None:
    # Given DynamoDB throttles the next read
    repo, stubber = dynamodb
    stubber.add_client_error("query", "ThrottlingException", http_status_code=400)

    # When the stock of a SKU is read
    # Then the caller is told to try again
    with pytest.raises(TransientDependencyError, match="DynamoDB ThrottlingException"):
        repo.stock_of(ACME, SKU)


@pytest.mark.parametrize("receipt", [None, "rcv-77"], ids=["untracked", "receipt"])
def test_a_throttled_stock_receipt_is_a_transient_error_not_a_receipt_done(
    dynamodb: tuple[DynamoDBInventory, Stubber], receipt: str | None
) -> None:
    # Given DynamoDB throttles the next write
    repo, stubber = dynamodb
    method = "update_item" if receipt is None else "transact_write_items"
    stubber.add_client_error(method, "ThrottlingException", http_status_code=400)

    # When stock is received (with or without the warehouse's receipt id)
    # Then the warehouse is told to send it again: nothing was recorded
    with pytest.raises(TransientDependencyError, match="DynamoDB ThrottlingException"):
        repo.receive_stock(ACME, SKU, WAREHOUSE, "L1", 6, "B-01-1", date(2028, 1, 31), receipt)


def test_a_receipt_cancelled_by_a_conflicting_write_is_retried_not_taken_as_a_repeat(
    dynamodb: tuple[DynamoDBInventory, Stubber],
) -> None:
    # Given the receipt's transaction is cancelled because another transaction held its lot
    # (the receipt record itself was not refused)
    repo, stubber = dynamodb
    stubber.add_client_error(
        "transact_write_items", "TransactionCanceledException", http_status_code=400,
        modeled_fields={
            "CancellationReasons": [{"Code": "None"}, {"Code": "TransactionConflict"}]
        },
    )  # fmt: skip

    # When the receipt is processed
    # Then it lost a race (for the warehouse a transient failure to retry: raised, not
    # swallowed as a receipt seen before)
    with pytest.raises(ConcurrentUpdate, match="TransactionConflict") as raised:
        repo.receive_stock(ACME, SKU, WAREHOUSE, "L1", 6, "B-01-1", None, receipt="rcv-78")
    assert isinstance(raised.value, TransientDependencyError)
