"""Transactions that collide on the embedded stack as they collide on AWS: a hot stock lot
under a burst of orders sees ``TransactionConflict`` cancellations, and the reservation step
reads again and decides again in place, so contention never opens an exception."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from shipshape.adapters.dynamodb.table import Table
from shipshape.errors import ConcurrentUpdate
from shipshape_local.contention import ContentionRates
from shipshape_local.metering import METER
from shipshape_local.runtime import EmbeddedRuntime, ManualClock
from shipshape_local.storefronts import Line, ShopifyStore
from shipshape_local.warehouse import WarehouseSimulator
from tests.builders import acme_order
from tests.integration.stack import ORDERS_TABLE, deliver_at_once, new_sku, queue, units, view


def test_a_burst_of_fifty_orders_on_one_lot_collides_and_reserves_exactly_the_stock(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given 20 units of a SKU in one lot, and transactions colliding as on AWS (the default)
    assert runtime.contention.rates == ContentionRates()
    new_sku(warehouse, "acme-outdoors", "STOVE-HOT", quantity=20)

    # When 50 paid orders for one unit each arrive at once
    deliveries = [
        acme_order(acme, clock, 700 + n, [Line("STOVE-HOT", "Mini stove", 1, "39.00")])
        for n in range(50)
    ]
    answers = deliver_at_once(runtime, deliveries)
    assert [a.status for a in answers] == [202] * 50
    order_ids = [a.json()["order_id"] for a in answers]
    assert runtime.wait_for(
        lambda: all(
            view(runtime, o)["status"] in ("AWAITING_PICK", "BACKORDERED") for o in order_ids
        ),
        timeout=240,
        interval=0.5,
    )

    # Then the reservations collided on the lot, and were cancelled as AWS cancels them
    assert runtime.contention.conflicts[ORDERS_TABLE] >= 5
    # And exactly 20 are reserved, the other 30 wait (Acme backorders), the lot adds up
    views = [view(runtime, o) for o in order_ids]
    statuses = sorted(v["status"] for v in views)
    assert statuses == ["AWAITING_PICK"] * 20 + ["BACKORDERED"] * 30
    assert units("acme-outdoors", "STOVE-HOT") == (0, 20)
    # And no contention opened an exception: nobody owns a lost race
    opened = queue(runtime, "?client=acme-outdoors")
    assert [e for e in opened if e["order_id"] in order_ids] == []


@pytest.fixture
def colliding(clock: ManualClock) -> Iterator[EmbeddedRuntime]:
    with EmbeddedRuntime(clock=clock, contention=ContentionRates(rate=0.999, window=60)) as rt:
        yield rt


def _write(pk: str, version: int) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": ORDERS_TABLE,
            "Item": {"pk": {"S": pk}, "sk": {"S": "HOT"}, "v": {"N": str(version)}},
        }
    }


def test_a_collision_is_cancelled_with_aws_reasons_and_writes_nothing(
    colliding: EmbeddedRuntime,
) -> None:
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    with METER.serving("order:a"):
        ddb.transact_write_items(TransactItems=[_write("LOT#1", 1)])
        ddb.transact_write_items(TransactItems=[_write("LOT#1", 2)])  # the same order: no race
    with METER.serving("order:b"), pytest.raises(ClientError) as raised:
        ddb.transact_write_items(TransactItems=[_write("OTHER", 1), _write("LOT#1", 3)])
    error = raised.value.response
    assert error["Error"]["Code"] == "TransactionCanceledException"
    assert error["Error"]["Message"] == (
        "Transaction cancelled, please refer cancellation reasons for specific reasons "
        "[None, TransactionConflict]"
    )
    assert [r["Code"] for r in error["CancellationReasons"]] == ["None", "TransactionConflict"]
    got = ddb.get_item(TableName=ORDERS_TABLE, Key={"pk": {"S": "LOT#1"}, "sk": {"S": "HOT"}})
    assert got["Item"]["v"] == {"N": "2"}
    assert "Item" not in ddb.get_item(
        TableName=ORDERS_TABLE, Key={"pk": {"S": "OTHER"}, "sk": {"S": "HOT"}}
    )
    # Outside any invocation (set-up, a test reading), nothing collides
    ddb.transact_write_items(TransactItems=[_write("LOT#1", 4)])


def test_the_adapter_reads_a_collision_as_a_lost_race(colliding: EmbeddedRuntime) -> None:
    table = Table(boto3.client("dynamodb", region_name="us-east-1"), ORDERS_TABLE)
    with METER.serving("order:a"):
        table.client.transact_write_items(TransactItems=[_write("LOT#2", 1)])
    with METER.serving("order:b"), pytest.raises(ConcurrentUpdate, match="TransactionConflict"):
        table.transact([_write("LOT#2", 2)], on_condition=LookupError("a failed condition"))


def test_contention_can_be_switched_off(clock: ManualClock) -> None:
    with EmbeddedRuntime(clock=clock, contention=ContentionRates(rate=0)) as rt:
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        for subject in ("order:a", "order:b"):
            with METER.serving(subject):
                ddb.transact_write_items(TransactItems=[_write("LOT#3", 1)])
        assert rt.contention.conflicts == {}
