"""A backorder waits as long as its client says, on the embedded runtime's clock: Acme with a
3-day ``backorder_limit_days`` (a copy of its client file), its order for a known SKU without
stock, the manual clock moved on, and the wait timed out by the runtime as AWS times out a
task token (``States.Timeout``), which opens ``inventory_short`` for the owner the client's
rules name. Stock in time still wakes the order, and every task-token wait (the pick scans
too) keeps its deadline on the same clock.

Everything runs through the public routes, the real handlers and the real ASL on moto.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from shipshape.config import load_client_file
from shipshape.kinds import ExceptionType
from shipshape_local.runtime import REGION, EmbeddedRuntime, ManualClock
from shipshape_local.storefronts import Line, ShopifyStore
from shipshape_local.template import REPO_ROOT
from shipshape_local.warehouse import WarehouseSimulator
from tests.builders import TENT, acme_order
from tests.integration.stack import (
    audit_actions,
    execution_history,
    new_sku,
    open_exception_of,
    place,
    receive,
    repository,
    view,
    wait_status,
)

LANTERN = Line("LANTERN-LED", "LED lantern", 2, "29.00")
LIMIT = timedelta(days=3)


@pytest.fixture
def clients(tmp_path: Path) -> Path:
    """The client files, Acme's with a 3-day backorder limit."""
    folder = tmp_path / "clients"
    shutil.copytree(REPO_ROOT / "config" / "clients", folder)
    acme = folder / "acme-outdoors.toml"
    text = acme.read_text()
    assert text.count("\nbackorder_limit_days = 14 ") == 1
    acme.write_text(text.replace("\nbackorder_limit_days = 14 ", "\nbackorder_limit_days = 3 "))
    assert load_client_file(acme).fulfilment.backorder_limit_days == 3
    return folder


@pytest.fixture
def runtime(clock: ManualClock, clients: Path) -> Iterator[EmbeddedRuntime]:
    with EmbeddedRuntime(clock=clock, config_dir=clients) as rt:
        yield rt
        assert rt.integration_errors == [], "a handler crashed:\n" + "\n".join(
            rt.integration_errors
        )


def _waiting_token(runtime: EmbeddedRuntime, order_id: str, awaiting: str) -> str:
    """The task token the order's execution waits on now (once its wait has begun)."""

    def waits() -> bool:
        order = repository().get(order_id)
        return (
            order is not None
            and order.awaiting == awaiting
            and order.task_token in runtime.task_deadlines.deadlines()
        )

    assert runtime.wait_for(waits, timeout=30), view(runtime, order_id)
    order = repository().get(order_id)
    assert order is not None and order.task_token is not None
    return order.task_token


def _backordered(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> tuple[str, str]:
    """Acme's paid order for 2 lanterns, a SKU its master knows with none in stock, waiting
    for stock: its id and the task token of its wait."""
    new_sku(warehouse, "acme-outdoors", LANTERN.sku)
    order_id = place(runtime, acme_order(acme, clock, 31, [LANTERN]))
    wait_status(runtime, order_id, "BACKORDERED")
    return order_id, _waiting_token(runtime, order_id, "stock")


def _last_event(runtime: EmbeddedRuntime, order_id: str) -> dict[str, object]:
    return execution_history(runtime, order_id)[-1]


def test_a_backorder_waits_the_clients_limit_then_opens_inventory_short_for_its_owner(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given Acme's backorder limit of 3 days and its order waiting for lanterns (none in stock)
    started = clock.now()
    order_id, token = _backordered(runtime, acme, clock, warehouse)

    # Then its wait for stock ends 3 days after it began, on the runtime's clock
    assert runtime.task_deadlines.deadlines()[token] == started + LIMIT

    # When 2 days pass
    clock.advance(timedelta(days=2))

    # Then it is still backordered and its execution still waits for the same token
    assert runtime.task_deadlines.enforce() == 0
    assert view(runtime, order_id)["status"] == "BACKORDERED"
    assert token in runtime.task_deadlines.deadlines()
    assert _last_event(runtime, order_id)["type"] == "TaskSubmitted"

    # When the limit passes
    clock.advance(timedelta(days=1, seconds=1))

    # Then the wait timed out as on AWS (States.Timeout), an inventory_short exception is
    # open for the owner Acme's rules name, and the order is EXCEPTION, audited
    exception = open_exception_of(runtime, order_id)
    rules = load_client_file(runtime.config_dir / "acme-outdoors.toml").rules
    assert exception["type"] == "inventory_short"
    assert exception["owner"] == rules.exceptions[ExceptionType.INVENTORY_SHORT].owner == "ops"
    assert token in runtime.task_deadlines.timed_out
    order = view(runtime, order_id)
    assert order["status"] == "EXCEPTION"
    assert audit_actions(runtime, order_id)[-3:] == [
        "backordered", "stock_awaited", "exception_opened",
    ]  # fmt: skip
    timed_out = [e for e in execution_history(runtime, order_id) if e["type"] == "TaskTimedOut"]
    assert [e["taskTimedOutEventDetails"]["error"] for e in timed_out] == ["States.Timeout"]

    # And the timed-out token is refused, as AWS refuses it
    sfn = boto3.client("stepfunctions", region_name=REGION)
    with pytest.raises(ClientError) as refused:
        sfn.send_task_success(taskToken=token, output="{}")
    assert refused.value.response["Error"]["Code"] == "TaskTimedOut"
    assert refused.value.response["Error"]["Message"] == (
        "Task Timed Out: 'Provided task does not exist anymore'"
    )


def test_stock_received_within_the_limit_still_wakes_the_backorder_and_it_ships(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given Acme's order waiting for lanterns, 2 days into its 3-day limit
    order_id, token = _backordered(runtime, acme, clock, warehouse)
    clock.advance(timedelta(days=2))

    # When lanterns arrive and the warehouse works the order
    arrival = receive(warehouse, "acme-outdoors", LANTERN.sku, 6)
    final = warehouse.run([order_id])

    # Then the order woke, reserved them and shipped; its wait for stock ended with the
    # stock, and no wait of it timed out
    assert arrival["woken"] == [order_id]
    assert final == {order_id: "SHIPPED"}
    assert token not in runtime.task_deadlines.deadlines()
    assert runtime.task_deadlines.timed_out == []
    actions = audit_actions(runtime, order_id)
    assert actions[actions.index("backordered") :][:3] == [
        "backordered", "stock_awaited", "inventory_reserved",
    ]  # fmt: skip

    # And the limit passing afterwards changes nothing
    clock.advance(LIMIT)
    assert runtime.task_deadlines.enforce() == 0
    assert view(runtime, order_id)["status"] == "SHIPPED"


def test_every_task_token_wait_keeps_its_deadline_on_the_runtime_clock(
    runtime: EmbeddedRuntime, acme: ShopifyStore, clock: ManualClock, warehouse: WarehouseSimulator
) -> None:
    # Given Acme's order for a tent in stock, waiting for the warehouse's pick scans (2 days)
    started = clock.now()
    order_id = place(runtime, acme_order(acme, clock, 32, [TENT]))
    wait_status(runtime, order_id, "AWAITING_PICK")
    token = _waiting_token(runtime, order_id, "pick_scans")
    assert runtime.task_deadlines.deadlines()[token] == started + timedelta(days=2)

    # When two days pass without scans
    clock.advance(timedelta(days=2))

    # Then the pick wait timed out (States.Timeout) and an automation failure is open for the
    # owner Acme's rules name, the order quarantined as automation failures are
    exception = open_exception_of(runtime, order_id)
    rules = load_client_file(runtime.config_dir / "acme-outdoors.toml").rules
    assert exception["type"] == "automation_failure"
    assert exception["owner"] == rules.exceptions[ExceptionType.AUTOMATION_FAILURE].owner
    assert runtime.task_deadlines.timed_out == [token]
    assert view(runtime, order_id)["status"] == "QUARANTINED"
    timed_out = [e for e in execution_history(runtime, order_id) if e["type"] == "TaskTimedOut"]
    assert [e["taskTimedOutEventDetails"]["error"] for e in timed_out] == ["States.Timeout"]
