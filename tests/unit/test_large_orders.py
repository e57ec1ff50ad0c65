"""Reserving an order that touches more stock lots than one transaction holds, on the
in-memory fakes: groups of lots reserved ahead, each recorded on the order, and a group that
loses a race to another order read and planned again from what is recorded."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from shipshape.config import ClientConfig
from shipshape.models import (
    AuditEvent,
    Order,
    OrderLine,
    OrderStatus,
    PaymentState,
    Platform,
    SideWrite,
    StockChange,
)
from shipshape.services import inventory
from shipshape.services.fulfillment import StepContext, WorkflowState, reserve_inventory
from tests.builders import received_event
from tests.fakes import (
    CarrierStub,
    InMemoryOrderRepository,
    NotifierRecorder,
    RecordingWarehouseChannel,
    SettableClock,
)

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
ORDER_ID = "ord_" + "b" * 20
LOTS = inventory.MAX_SIDE_WRITES + 2
SKUS = [f"BEAD-{n:03d}" for n in range(LOTS)]


class RacedRepository(InMemoryOrderRepository):
    """Another order takes the last unit of ``raced`` just after the first group commits."""

    def __init__(self, raced: str) -> None:
        super().__init__()
        self.raced = raced
        self.raced_once = False

    def apply(
        self, order: Order, event: AuditEvent, expected_seq: int, writes: Sequence[SideWrite] = ()
    ) -> None:
        super().apply(order, event, expected_seq, writes)
        if event.action == "inventory_reserved_in_part" and not self.raced_once:
            self.raced_once = True
            with self._lock:
                self._apply_writes(
                    [StockChange(client_id="acme-outdoors", sku=self.raced, warehouse="pdx-1",
                                 available=-1, reserved=1)]
                )  # fmt: skip


def _large_order(repo: InMemoryOrderRepository) -> WorkflowState:
    for sku in SKUS:
        repo.inventory.receive_stock("acme-outdoors", sku, "pdx-1", "-", 1, "D-01-1", None)
    order = Order(
        order_id=ORDER_ID, client_id="acme-outdoors", platform=Platform.SHOPIFY,
        store="acme-outdoors.myshopify.com", storefront_order_id="1", version=1,
        storefront_updated_at=NOW, received_at=NOW, payment=PaymentState.PAID,
        lines=tuple(OrderLine(line_id=f"l{n}", sku=sku, quantity=1) for n, sku in enumerate(SKUS)),
        status=OrderStatus.ADDRESS_VALIDATED, owner="ops", rules_version="r1", audit_seq=1,
    )  # fmt: skip
    repo.create(order, received_event(order, at=NOW))
    return WorkflowState(order_id=ORDER_ID, client_id="acme-outdoors")


def _ctx(repo: InMemoryOrderRepository, acme: ClientConfig) -> StepContext:
    return StepContext(
        repo, SettableClock(NOW), acme, CarrierStub(), NotifierRecorder(), repo.inventory,
        RecordingWarehouseChannel(),
    )  # fmt: skip


def _units(repo: InMemoryOrderRepository, sku: str) -> tuple[int, int]:
    (lot,) = repo.inventory.stock_of("acme-outdoors", sku)
    return lot.available, lot.reserved


def test_an_order_over_the_limit_is_reserved_in_groups_each_with_the_order(
    acme: ClientConfig,
) -> None:
    # Given an order for one unit of each of 99 lots, all in stock
    repo = InMemoryOrderRepository()
    state = _large_order(repo)

    # When its reservation runs
    outcome = reserve_inventory(_ctx(repo, acme), state)

    # Then it is reserved complete: one group ahead, then the rest with the status change
    order = repo.get(ORDER_ID)
    assert order is not None and not outcome.backordered
    assert order.status is OrderStatus.RESERVED
    assert len(order.reservation) == LOTS and order.short_lines == ()
    actions = [e.action for e in repo.audit_trail(ORDER_ID)]
    assert actions == ["order_received", "inventory_reserved_in_part", "inventory_reserved"]
    assert all(_units(repo, sku) == (0, 1) for sku in SKUS)


def test_a_group_that_loses_a_race_plans_again_keeping_what_earlier_groups_hold(
    acme: ClientConfig,
) -> None:
    # Given the same order, and another order that takes the last unit of a lot in its
    # second group just after the first group is reserved
    raced = SKUS[-1]
    repo = RacedRepository(raced)
    state = _large_order(repo)

    # When its reservation runs
    outcome = reserve_inventory(_ctx(repo, acme), state)

    # Then the lost lot is short and Acme's policy applies (wait for stock, holding the rest);
    # every unit it holds is on its record, and the raced unit is the other order's
    order = repo.get(ORDER_ID)
    assert order is not None and outcome.backordered
    assert order.status is OrderStatus.BACKORDERED
    assert sorted(a.sku for a in order.reservation) == SKUS[:-1]
    assert [(ln.sku, ln.quantity) for ln in order.short_lines] == [(raced, 1)]
    assert all(_units(repo, sku) == (0, 1) for sku in SKUS)
    actions = [e.action for e in repo.audit_trail(ORDER_ID)]
    assert actions == ["order_received", "inventory_reserved_in_part", "backordered"]
    marks = repo.inventory.backorders_of("acme-outdoors", raced, 10)
    assert [m.order_id for m in marks] == [ORDER_ID]
