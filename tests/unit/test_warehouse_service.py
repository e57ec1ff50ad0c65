"""Warehouse events: pick scans and pack data handed to the workflow step that waits."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from shipshape.config import ClientConfig, ClientDirectory
from shipshape.errors import NotAwaitingEvent, OrderNotFound
from shipshape.models import OrderStatus, PackData, PickScan, Platform
from shipshape.services.fulfillment import (
    AwaitRequest,
    PackResult,
    PickResult,
    StepContext,
    WorkflowState,
    assign_picker,
    await_pack,
    await_pick,
    record_pack,
    record_pick,
    reserve_inventory,
    validate_address,
)
from shipshape.services.ingest import ingest_webhook
from shipshape.services.warehouse import (
    PackDataEvent,
    PickScansEvent,
    WarehouseEventAccepted,
    handle_warehouse_event,
)
from tests.fakes import (
    CarrierStub,
    FixedSecrets,
    InMemoryOrderRepository,
    NotifierRecorder,
    RecordingWarehouseChannel,
    RecordingWorkflow,
    SettableClock,
    TaskOutcome,
)
from tests.helpers import CLIENTS_DIR, load_event, sign_shopify, webhook_delivery

SHOP = "acme-outdoors.myshopify.com"
SECRET_NAME = "shipshape/acme-outdoors/shopify-webhook"
SECRET = b"dev-shpss-acme-outdoors-current"
NOW = datetime(2026, 11, 20, 15, 42, 10, tzinfo=UTC)
PICK_TOKEN = "token-await-pick-1"
PACK_TOKEN = "token-await-pack-1"


CLIENTS = ClientDirectory(CLIENTS_DIR)


@pytest.fixture
def ctx(repo: InMemoryOrderRepository, acme: ClientConfig) -> StepContext:
    return StepContext(
        repo, SettableClock(NOW), acme, CarrierStub(), NotifierRecorder(), repo.inventory,
        RecordingWarehouseChannel(),
    )  # fmt: skip


@pytest.fixture
def order(ctx: StepContext, workflow: RecordingWorkflow) -> WorkflowState:
    """A paid order with a picker assigned, its workflow about to wait for pick scans."""
    body = load_event("shopify/orders_paid.json")
    headers = {
        "X-Shopify-Topic": "orders/paid",
        "X-Shopify-Shop-Domain": SHOP,
        "X-Shopify-Hmac-Sha256": sign_shopify(body, SECRET),
    }
    result = ingest_webhook(
        client=ctx.client,
        platform=Platform.SHOPIFY,
        delivery=webhook_delivery(headers, body, NOW),
        repo=ctx.repo,
        secrets=FixedSecrets({SECRET_NAME: SECRET}),
        workflow=workflow,
        clock=ctx.clock,
    )
    state = WorkflowState(order_id=result.order_id, client_id="acme-outdoors")
    for step in (validate_address, reserve_inventory, assign_picker):
        step(ctx, state)
    return state


Wait = Callable[[WorkflowState], None]


@pytest.fixture
def awaiting_pick(ctx: StepContext, workflow: RecordingWorkflow) -> Wait:
    def _wait(state: WorkflowState) -> None:
        await_pick(ctx, AwaitRequest(**state.model_dump(), task_token=PICK_TOKEN))
        workflow.wait(PICK_TOKEN)

    return _wait


def pick_scans(order_id: str, event_id: str = "pdx-scan-000187") -> PickScansEvent:
    return PickScansEvent(
        type="pick_scans",
        event_id=event_id,
        order_id=order_id,
        picker="pdx-picker-ana",
        scans=(
            PickScan(sku="TENT-2P-GRN", barcode="0840012345678", quantity=1),
            PickScan(sku="MUG-ENAMEL-12", barcode="0840012345685", quantity=2),
        ),
    )


def pack_data(order_id: str) -> PackDataEvent:
    return PackDataEvent(
        type="pack_data",
        event_id="pdx-pack-000042",
        order_id=order_id,
        packer="pdx-bench-2",
        pack=PackData(weight_grams=3400, length_mm=620, width_mm=310, height_mm=240),
    )


def test_event_for_another_clients_order_is_not_found(
    order: WorkflowState,
    awaiting_pick: Wait,
    repo: InMemoryOrderRepository,
    workflow: RecordingWorkflow,
) -> None:
    # Given an Acme order waiting for pick scans
    awaiting_pick(order)

    # When Nordlicht's warehouse sends scans for it
    with pytest.raises(OrderNotFound, match=f"client nordlicht has no order {order.order_id}"):
        handle_warehouse_event(
            client=CLIENTS.get("nordlicht"),
            inventory=repo.inventory,
            event=pick_scans(order.order_id),
            repo=repo,
            workflow=workflow,
        )

    # Then the wait is untouched
    assert workflow.outcomes == {}


def test_event_for_an_unknown_order_is_not_found(
    repo: InMemoryOrderRepository, workflow: RecordingWorkflow
) -> None:
    # Given no order with this id
    order_id = "ord_aaaaaaaaaaaaaaaaaaaa"

    # When scans arrive for it
    # Then the answer is the same as for another client's order
    with pytest.raises(OrderNotFound, match=f"client acme-outdoors has no order {order_id}"):
        handle_warehouse_event(
            client=CLIENTS.get("acme-outdoors"),
            inventory=repo.inventory,
            event=pick_scans(order_id),
            repo=repo,
            workflow=workflow,
        )


def test_event_for_an_order_not_waiting_is_refused_naming_its_status(
    order: WorkflowState, repo: InMemoryOrderRepository, workflow: RecordingWorkflow
) -> None:
    # Given an order whose picker is assigned but whose workflow does not wait yet

    # When pick scans arrive early
    with pytest.raises(NotAwaitingEvent) as raised:
        handle_warehouse_event(
            client=CLIENTS.get("acme-outdoors"),
            inventory=repo.inventory,
            event=pick_scans(order.order_id),
            repo=repo,
            workflow=workflow,
        )

    # Then the refusal says where the order is and what it is not waiting for
    assert str(raised.value) == (
        f"order {order.order_id} is PICKER_ASSIGNED and not waiting for pick_scans"
    )


def test_pack_data_while_waiting_for_pick_scans_is_refused(
    order: WorkflowState,
    awaiting_pick: Wait,
    repo: InMemoryOrderRepository,
    workflow: RecordingWorkflow,
) -> None:
    # Given an order waiting for pick scans
    awaiting_pick(order)

    # When pack data arrives instead
    with pytest.raises(NotAwaitingEvent, match="is AWAITING_PICK and not waiting for pack_data"):
        handle_warehouse_event(
            client=CLIENTS.get("acme-outdoors"),
            inventory=repo.inventory,
            event=pack_data(order.order_id),
            repo=repo,
            workflow=workflow,
        )

    # Then the pick wait is still open
    assert workflow.outcomes == {}


def test_pick_scans_resolve_the_wait_with_what_record_pick_needs(
    order: WorkflowState,
    awaiting_pick: Wait,
    ctx: StepContext,
    repo: InMemoryOrderRepository,
    workflow: RecordingWorkflow,
) -> None:
    # Given an order waiting for pick scans
    awaiting_pick(order)
    event = pick_scans(order.order_id)

    # When the scans arrive
    accepted = handle_warehouse_event(
        client=CLIENTS.get("acme-outdoors"),
        inventory=repo.inventory,
        event=event,
        repo=repo,
        workflow=workflow,
    )

    # Then the wait succeeded with the scans, the event id and the picker
    assert accepted == WarehouseEventAccepted(order_id=order.order_id, event_id=event.event_id)
    outcome = workflow.outcomes[PICK_TOKEN]
    assert outcome == TaskOutcome(
        succeeded=True,
        output={
            "scans": [s.model_dump() for s in event.scans],
            "event_id": "pdx-scan-000187",
            "actor": "pdx-picker-ana",
        },
    )
    # And the next step, given that output as the state machine merges it, records the pick
    assert outcome.output is not None
    record_pick(ctx, PickResult.model_validate({**order.model_dump(), **outcome.output}))
    picked = repo.get(order.order_id)
    assert picked is not None
    assert (picked.status, picked.pick_scans) == (OrderStatus.PICKED, event.scans)


def test_pack_data_resolves_the_pack_wait(
    order: WorkflowState,
    awaiting_pick: Wait,
    ctx: StepContext,
    repo: InMemoryOrderRepository,
    workflow: RecordingWorkflow,
) -> None:
    # Given a picked order waiting for pack data
    awaiting_pick(order)
    handle_warehouse_event(
        client=CLIENTS.get("acme-outdoors"),
        inventory=repo.inventory,
        event=pick_scans(order.order_id),
        repo=repo,
        workflow=workflow,
    )
    output = workflow.outcomes[PICK_TOKEN].output or {}
    record_pick(ctx, PickResult.model_validate({**order.model_dump(), **output}))
    await_pack(ctx, AwaitRequest(**order.model_dump(), task_token=PACK_TOKEN))
    workflow.wait(PACK_TOKEN)
    event = pack_data(order.order_id)

    # When the pack data arrives
    handle_warehouse_event(
        client=CLIENTS.get("acme-outdoors"),
        inventory=repo.inventory,
        event=event,
        repo=repo,
        workflow=workflow,
    )

    # Then the pack wait succeeded with data the pack step records
    outcome = workflow.outcomes[PACK_TOKEN]
    assert outcome.succeeded is True
    assert outcome.output is not None
    record_pack(ctx, PackResult.model_validate({**order.model_dump(), **outcome.output}))
    packed = repo.get(order.order_id)
    assert packed is not None
    assert (packed.status, packed.pack) == (OrderStatus.PACKED, event.pack)


def test_event_for_a_used_token_is_refused(
    order: WorkflowState,
    awaiting_pick: Wait,
    repo: InMemoryOrderRepository,
    workflow: RecordingWorkflow,
) -> None:
    # Given pick scans that already resolved the order's wait
    awaiting_pick(order)
    handle_warehouse_event(
        client=CLIENTS.get("acme-outdoors"),
        inventory=repo.inventory,
        event=pick_scans(order.order_id),
        repo=repo,
        workflow=workflow,
    )

    # When the warehouse sends scans again before the workflow recorded the first ones
    with pytest.raises(NotAwaitingEvent) as raised:
        handle_warehouse_event(
            client=CLIENTS.get("acme-outdoors"),
            inventory=repo.inventory,
            event=pick_scans(order.order_id, event_id="pdx-scan-000188"),
            repo=repo,
            workflow=workflow,
        )

    # Then the refusal says the order stopped waiting, and the first outcome stands
    assert f"order {order.order_id} stopped waiting for pick_scans" in str(raised.value)
    first = workflow.outcomes[PICK_TOKEN].output
    assert first is not None
    assert first["event_id"] == "pdx-scan-000187"
