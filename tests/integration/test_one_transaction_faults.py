"""The order's transaction when DynamoDB fails for a reason other than a refused condition:
the caller is told to try again (a transient error the workflow's Retry and the storefront's
redelivery handle), never that another writer won, and never with a crash. The faults are
injected with botocore's Stubber (the adapter is real, only DynamoDB's answer is made up)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber

from shipshape.adapters import dynamodb as adapters
from shipshape.adapters.dynamodb import DynamoDBOrderStore
from shipshape.errors import ConcurrentUpdate, TransientDependencyError
from shipshape.ports import AlreadyExists
from shipshape_local.runtime import REGION, ManualClock
from tests.builders import received_order
from tests.integration.stack import ORDERS_TABLE


@pytest.fixture
def dynamodb() -> Iterator[tuple[DynamoDBOrderStore, Stubber]]:
    """The adapter on a client whose answers the test decides."""
    client = boto3.client(
        "dynamodb", region_name=REGION, aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )  # fmt: skip
    with Stubber(client) as stubber:
        yield adapters.stores(client, ORDERS_TABLE).orders, stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 23, 17, 0, tzinfo=UTC))


@pytest.mark.parametrize(
    ("code", "reasons"),
    [
        pytest.param("ThrottlingException", None, id="throttled"),
        pytest.param("TransactionCanceledException", None, id="cancelled-without-reasons"),
        pytest.param(
            "TransactionCanceledException", ["None", "ThrottlingError"], id="throttled-item"
        ),
    ],
)
def test_an_order_write_that_fails_in_dynamodb_is_a_transient_error_not_a_lost_race(
    dynamodb: tuple[DynamoDBOrderStore, Stubber],
    clock: ManualClock,
    code: str,
    reasons: list[str] | None,
) -> None:
    # Given DynamoDB fails the next transaction (see the case id)
    repo, stubber = dynamodb
    modeled = {"CancellationReasons": [{"Code": r} for r in reasons]} if reasons else None
    stubber.add_client_error(
        "transact_write_items", code, http_status_code=400, modeled_fields=modeled
    )
    order, event = received_order(clock, "6200001")

    # When an order is written
    # Then the writer is told to try again, not that the order exists or changed meanwhile
    with pytest.raises(TransientDependencyError, match=f"DynamoDB {code}") as raised:
        repo.create(order, event)
    assert not isinstance(raised.value, ConcurrentUpdate | AlreadyExists)


def test_an_order_write_cancelled_by_a_colliding_transaction_is_a_lost_race(
    dynamodb: tuple[DynamoDBOrderStore, Stubber], clock: ManualClock
) -> None:
    # Given DynamoDB cancels the next transaction: another transaction was writing one of its
    # items at the same moment (AWS's documented reason, TransactionConflict)
    repo, stubber = dynamodb
    stubber.add_client_error(
        "transact_write_items", "TransactionCanceledException", http_status_code=400,
        modeled_fields={
            "CancellationReasons": [{"Code": "None"}, {"Code": "TransactionConflict"}]
        },
    )  # fmt: skip
    order, event = received_order(clock, "6200002")

    # When an order is written
    # Then the writer is told it lost a race (read again and decide again, in place, as after
    # a refused condition), which is still a transient error for a caller that cannot
    with pytest.raises(ConcurrentUpdate, match="TransactionConflict") as raised:
        repo.create(order, event)
    assert isinstance(raised.value, TransientDependencyError)
    assert not isinstance(raised.value, AlreadyExists)
