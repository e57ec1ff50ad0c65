"""The Monday checklist's audit of random orders: a complete trail has every event in sequence
with its timestamp, every status change with its owner and event, an owner for the order, and
a QA result for every gate the order has passed. An incomplete one is named with what is
missing; a complete one is not.

Orders are made the way production makes them: a signed Shopify delivery through ingest, then
the workflow's steps, QA gates included, on the in-memory fakes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from shipshape.authorization import Operator
from shipshape.config import ClientConfig, ClientDirectory
from shipshape.models import (
    AuditEvent,
    Order,
    OrderStatus,
    PackData,
    PickScan,
    Platform,
    QaGate,
    RuleChange,
)
from shipshape.ports import AuditIndex, RuleStore
from shipshape.services.checklist import ChecklistItem, monday_checklist, trail_problems
from shipshape.services.fulfillment import (
    AwaitRequest,
    CancelRequest,
    PackResult,
    PickResult,
    StepContext,
    WorkflowState,
    assign_picker,
    await_pack,
    await_pick,
    cancel_order,
    create_label,
    mark_shipped,
    pack_qa,
    post_pick_qa,
    pre_pick_qa,
    record_pack,
    record_pick,
    reserve_inventory,
    shipping_qa,
    validate_address,
)
from shipshape.services.ingest import ingest_webhook
from tests.fakes import (
    CarrierStub,
    FixedSecrets,
    InMemoryOrderRepository,
    NotifierRecorder,
    RecordingWarehouseChannel,
    RecordingWorkflow,
    SettableClock,
)
from tests.helpers import load_event, sign_shopify, webhook_delivery

SHOP = "acme-outdoors.myshopify.com"
SECRET_NAME = "shipshape/acme-outdoors/shopify-webhook"
SECRET = b"dev-shpss-acme-outdoors-current"
# Friday 2026-11-20, 07:42 in Portland; the checklist is read the next Monday.
START = datetime(2026, 11, 20, 15, 42, 10, tzinfo=UTC)
MONDAY = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
LEAD = Operator(subject="olivia.lead", clients=frozenset({"acme-outdoors"}))

Step = Callable[[StepContext, WorkflowState], object]


def _await_pick(ctx: StepContext, state: WorkflowState) -> None:
    await_pick(ctx, AwaitRequest(**state.model_dump(), task_token="t-pick"))


def _await_pack(ctx: StepContext, state: WorkflowState) -> None:
    await_pack(ctx, AwaitRequest(**state.model_dump(), task_token="t-pack"))


def _pick(ctx: StepContext, state: WorkflowState) -> object:
    # Every line scanned with its product's own barcode, as a careful picker does.
    order = ctx.repo.get(state.order_id)
    assert order is not None
    skus = ctx.inventory.skus(state.client_id, [line.sku for line in order.lines])
    scans = tuple(
        PickScan(sku=line.sku, barcode=skus[line.sku].barcode, quantity=line.quantity)
        for line in order.lines
    )
    return record_pick(
        ctx, PickResult(**state.model_dump(), scans=scans, event_id="pick-1", actor="ana")
    )


def _pack(ctx: StepContext, state: WorkflowState) -> object:
    pack = PackData(weight_grams=3400, length_mm=620, width_mm=310, height_mm=240)
    return record_pack(
        ctx, PackResult(**state.model_dump(), pack=pack, event_id="pack-1", actor="bench-2")
    )


# The workflow's steps, grouped by the status each group leaves the order at (a gate runs
# right after the step that makes its check possible, as the state machine runs them).
PATH: tuple[tuple[OrderStatus, tuple[Step, ...]], ...] = (
    (OrderStatus.ADDRESS_VALIDATED, (validate_address,)),
    (OrderStatus.RESERVED, (reserve_inventory,)),
    (OrderStatus.PICKER_ASSIGNED, (assign_picker, pre_pick_qa)),
    (OrderStatus.AWAITING_PICK, (_await_pick,)),
    (OrderStatus.PICKED, (_pick, post_pick_qa)),
    (OrderStatus.AWAITING_PACK, (_await_pack,)),
    (OrderStatus.PACKED, (_pack, pack_qa)),
    (OrderStatus.LABELLED, (create_label, shipping_qa)),
    (OrderStatus.SHIPPED, (mark_shipped,)),
)


class Shop:
    """Acme's Shopify store and warehouse on the in-memory fakes."""

    def __init__(
        self, repo: InMemoryOrderRepository, clock: SettableClock, acme: ClientConfig
    ) -> None:
        self.repo, self.clock, self.acme = repo, clock, acme
        self.ctx = StepContext(
            repo, clock, acme, CarrierStub(), NotifierRecorder(), repo.inventory,
            RecordingWarehouseChannel(), execution_name="fulfillment-audit",
        )  # fmt: skip

    def order(self, storefront_id: int, until: OrderStatus = OrderStatus.ACCEPTED) -> str:
        """A paid order placed on the storefront, fulfilled as far as ``until``."""
        payload = json.loads(load_event("shopify/orders_paid.json"))
        payload.update(id=storefront_id, order_number=storefront_id % 100_000)
        body = json.dumps(payload).encode()
        headers = {
            "X-Shopify-Topic": "orders/paid",
            "X-Shopify-Shop-Domain": SHOP,
            "X-Shopify-Hmac-Sha256": sign_shopify(body, SECRET),
        }
        result = ingest_webhook(
            client=self.acme,
            platform=Platform.SHOPIFY,
            delivery=webhook_delivery(headers, body, self.clock.now()),
            repo=self.repo,
            secrets=FixedSecrets({SECRET_NAME: SECRET}),
            workflow=RecordingWorkflow(),
            clock=self.clock,
        )
        state = WorkflowState(order_id=result.order_id, client_id=self.acme.client_id)
        for status, steps in PATH:
            if self.status(result.order_id) is until:
                break
            for step in steps:
                self.clock.advance(timedelta(seconds=30))
                step(self.ctx, state)
            assert self.status(result.order_id) is status
        return result.order_id

    def status(self, order_id: str) -> OrderStatus:
        return self.stored(order_id).status

    def stored(self, order_id: str) -> Order:
        order = self.repo.get(order_id)
        assert order is not None
        return order


class DamagedRecords(InMemoryOrderRepository):
    """Fault injection: records damaged after they were written (an event lost from a trail,
    an order record changed or gone), as a bad migration or a hand edit would leave them."""

    def __init__(self) -> None:
        super().__init__()
        self.lost_events: dict[str, set[int]] = {}
        self.damage: dict[str, Callable[[Order], Order | None]] = {}

    def get(self, order_id: str) -> Order | None:
        order = super().get(order_id)
        damage = self.damage.get(order_id)
        return damage(order) if order is not None and damage is not None else order

    def audit_trail(self, order_id: str) -> list[AuditEvent]:
        lost = self.lost_events.get(order_id, set())
        return [e for e in super().audit_trail(order_id) if e.seq not in lost]


class TrailIndex(AuditIndex):
    """The audit index over the fake's trails: every event of a client's orders, by time."""

    def __init__(self, repo: InMemoryOrderRepository) -> None:
        self._repo = repo

    def audit_events_of_client(
        self, client_id: str, start: datetime, end: datetime
    ) -> list[AuditEvent]:
        events = [
            event
            for order_id in self._repo.order_ids()
            for event in InMemoryOrderRepository.audit_trail(self._repo, order_id)
            if order_id.startswith("ord_") and start <= event.at < end
        ]
        return sorted(events, key=lambda e: (e.at, e.order_id, e.seq))

    def orders(self, order_ids: Sequence[str]) -> list[Order]:
        found = (self._repo.get(order_id) for order_id in order_ids)
        return [order for order in found if order is not None]


class NoRuleChanges(RuleStore):
    """A client whose rules are still those of its configuration file."""

    def rule_changes(self, client_id: str) -> list[RuleChange]:
        return []

    def active_rules(self, client_id: str) -> RuleChange | None:
        return None

    def save_rule_change(self, change: RuleChange, expected: RuleChange | None) -> None:
        raise NotImplementedError

    def activate_rule_change(
        self, change: RuleChange, approved: RuleChange, previous: RuleChange | None
    ) -> None:
        raise NotImplementedError


@pytest.fixture
def store() -> DamagedRecords:
    from tests.fakes import seed_inventory

    repository = DamagedRecords()
    seed_inventory(repository.inventory)
    return repository


@pytest.fixture
def shop(store: DamagedRecords, acme: ClientConfig) -> Shop:
    return Shop(store, SettableClock(START), acme)


def audit_item(
    store: DamagedRecords, clients: ClientDirectory, seed: int | None = None
) -> ChecklistItem:
    """The checklist's audit item, read on Monday by the client's lead."""
    checklist = monday_checklist(
        repo=store,
        audit=TrailIndex(store),
        rule_store=NoRuleChanges(),
        clients=clients,
        clock=SettableClock(MONDAY),
        operator=LEAD,
        client_id="acme-outdoors",
        seed=seed,
    )
    [item] = [i for i in checklist.items if i.key == "audit_sample"]
    return item


def without_qa(order: Order) -> Order:
    return order.model_copy(update={"qa": ()})


# --- one order's trail ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "status",
    [
        OrderStatus.ACCEPTED,
        OrderStatus.PICKER_ASSIGNED,
        OrderStatus.AWAITING_PICK,
        OrderStatus.AWAITING_PACK,
        OrderStatus.LABELLED,
        OrderStatus.SHIPPED,
    ],
)
def test_a_trail_written_by_the_workflow_is_complete_at_every_stage(
    status: OrderStatus, shop: Shop, store: DamagedRecords
) -> None:
    # Given a paid order the workflow has taken as far as ``status``, gates included
    order_id = shop.order(5_934_127_000_001, until=status)

    # When its trail is audited
    problems = trail_problems(shop.stored(order_id), store.audit_trail(order_id))

    # Then nothing is missing
    assert problems == []


def test_a_cancelled_order_needs_no_qa_results(shop: Shop, store: DamagedRecords) -> None:
    # Given a reserved order an operator cancelled before it was picked
    order_id = shop.order(5_934_127_000_001, until=OrderStatus.RESERVED)
    cancel_order(
        shop.ctx,
        CancelRequest(
            order_id=order_id,
            client_id="acme-outdoors",
            actor="olivia.lead",
            exception_id=f"{order_id}.e1",
        ),
    )
    cancelled = shop.stored(order_id)
    assert cancelled.status is OrderStatus.CANCELLED

    # When its trail is audited, with or without QA results
    # Then nothing is missing: a cancelled order is off the fulfilment path
    assert trail_problems(cancelled, store.audit_trail(order_id)) == []
    assert trail_problems(without_qa(cancelled), store.audit_trail(order_id)) == []


def test_a_lost_event_is_named_with_the_status_it_recorded(
    shop: Shop, store: DamagedRecords
) -> None:
    # Given a shipped order whose third event (the reservation) is lost from its trail
    order_id = shop.order(5_934_127_000_001, until=OrderStatus.SHIPPED)
    order = shop.stored(order_id)
    trail = [e for e in store.audit_trail(order_id) if e.seq != 3]

    # When its trail is audited
    problems = trail_problems(order, trail)

    # Then the gap is named with the first events, and the status left without its event
    assert problems == [
        f"audit events [1, 2, 4]... do not run 1..{order.audit_seq}",
        "status RESERVED has a timestamp but no audit event",
    ]


def test_a_status_change_without_an_owner_is_named(shop: Shop, store: DamagedRecords) -> None:
    # Given an order whose address validation event lost its owner
    order_id = shop.order(5_934_127_000_001, until=OrderStatus.RESERVED)
    trail = [
        e.model_copy(update={"owner": None}) if e.seq == 2 else e
        for e in store.audit_trail(order_id)
    ]

    # When its trail is audited
    problems = trail_problems(shop.stored(order_id), trail)

    # Then that event is named, by its number and action
    assert problems == ["event 2 (address_validated) has no owner"]


def test_a_status_timestamp_without_its_event_is_named(shop: Shop, store: DamagedRecords) -> None:
    # Given an order stamped ON_HOLD with no audit event putting it on hold
    order_id = shop.order(5_934_127_000_001, until=OrderStatus.RESERVED)
    order = shop.stored(order_id)
    stamped = order.model_copy(
        update={"status_timestamps": {**order.status_timestamps, OrderStatus.ON_HOLD: START}}
    )

    # When its trail is audited
    problems = trail_problems(stamped, store.audit_trail(order_id))

    # Then the silent status change is named
    assert problems == ["status ON_HOLD has a timestamp but no audit event"]


def test_an_order_without_an_owner_is_named(shop: Shop, store: DamagedRecords) -> None:
    # Given an accepted order whose owner was blanked
    order_id = shop.order(5_934_127_000_001)
    ownerless = shop.stored(order_id).model_copy(update={"owner": ""})

    # When its trail is audited
    problems = trail_problems(ownerless, store.audit_trail(order_id))

    # Then the missing owner is named
    assert problems == ["the order has no owner"]


def test_a_status_change_without_its_timestamp_is_named(shop: Shop, store: DamagedRecords) -> None:
    # Given a shipped order whose record lost the moment it was shipped
    order_id = shop.order(5_934_127_000_001, until=OrderStatus.SHIPPED)
    order = shop.stored(order_id)
    stamps = {s: at for s, at in order.status_timestamps.items() if s is not OrderStatus.SHIPPED}
    unstamped = order.model_copy(update={"status_timestamps": stamps})

    # When its trail is audited
    problems = trail_problems(unstamped, store.audit_trail(order_id))

    # Then the status without its timestamp is named
    assert problems == ["status SHIPPED has an audit event but no timestamp"], problems


@pytest.mark.parametrize(
    ("status", "missing"),
    [
        pytest.param(OrderStatus.PICKER_ASSIGNED, [], id="before-any-gate-counts"),
        pytest.param(OrderStatus.AWAITING_PICK, [QaGate.PRE_PICK], id="awaiting-pick"),
        pytest.param(OrderStatus.PICKED, [QaGate.PRE_PICK], id="picked"),
        pytest.param(
            OrderStatus.AWAITING_PACK, [QaGate.PRE_PICK, QaGate.POST_PICK], id="awaiting-pack"
        ),
        pytest.param(
            OrderStatus.SHIPPED,
            [QaGate.PRE_PICK, QaGate.POST_PICK, QaGate.PACKING, QaGate.SHIPPING],
            id="shipped",
        ),
    ],
)
def test_every_gate_passed_without_its_qa_result_is_named(
    status: OrderStatus, missing: list[QaGate], shop: Shop, store: DamagedRecords
) -> None:
    # Given an order at ``status`` whose QA results were lost
    order_id = shop.order(5_934_127_000_001, until=status)

    # When its trail is audited
    problems = trail_problems(without_qa(shop.stored(order_id)), store.audit_trail(order_id))

    # Then each gate it has passed is named, and no gate still ahead of it
    assert problems == [
        f"{gate.value} QA result missing for an order at {status.value}" for gate in missing
    ]


def test_a_failed_gate_counts_as_missing_unless_it_was_waived(
    shop: Shop, store: DamagedRecords
) -> None:
    # Given a shipped order whose last pre-pick result is a failure
    order_id = shop.order(5_934_127_000_001, until=OrderStatus.SHIPPED)
    order = shop.stored(order_id)
    trail = store.audit_trail(order_id)
    failed = tuple(
        r.model_copy(update={"passed": False}) if r.gate is QaGate.PRE_PICK else r for r in order.qa
    )
    waived = tuple(
        r.model_copy(update={"waived_by": "olivia.lead"}) if r.gate is QaGate.PRE_PICK else r
        for r in failed
    )

    # When its trail is audited with the failure as it stands, then with the failure waived
    as_failed = trail_problems(order.model_copy(update={"qa": failed}), trail)
    as_waived = trail_problems(order.model_copy(update={"qa": waived}), trail)

    # Then an unwaived failure is no QA result for a shipped order; a waived one is
    assert as_failed == ["pre_pick QA result missing for an order at SHIPPED"]
    assert as_waived == []


def test_a_partially_completed_order_needs_every_gate_a_shipped_one_does(
    shop: Shop, store: DamagedRecords
) -> None:
    # Given a shipped order recorded as completed partially (some lines could not ship)
    order_id = shop.order(5_934_127_000_001, until=OrderStatus.SHIPPED)
    partial = shop.stored(order_id).model_copy(update={"status": OrderStatus.COMPLETED_PARTIAL})
    trail = store.audit_trail(order_id)

    # When its trail is audited with its QA results, then without them
    # Then it is complete with them, and every gate is named without them
    assert trail_problems(partial, trail) == []
    assert trail_problems(without_qa(partial), trail) == [
        f"{gate} QA result missing for an order at COMPLETED_PARTIAL"
        for gate in ("pre_pick", "post_pick", "packing", "shipping")
    ]


# --- the checklist's sample -----------------------------------------------------------------


def test_the_checklist_names_each_incomplete_order_and_what_is_missing(
    shop: Shop, store: DamagedRecords, clients: ClientDirectory
) -> None:
    # Given four orders of the week: a shipped and an accepted one with complete trails, a
    # shipped one whose QA results were lost, and one whose reservation event was lost
    complete_shipped = shop.order(5_934_127_000_001, until=OrderStatus.SHIPPED)
    complete_accepted = shop.order(5_934_127_000_002)
    lost_qa = shop.order(5_934_127_000_003, until=OrderStatus.SHIPPED)
    lost_event = shop.order(5_934_127_000_004, until=OrderStatus.PICKER_ASSIGNED)
    store.damage[lost_qa] = without_qa
    store.lost_events[lost_event] = {3}

    # When the lead reads Monday's checklist
    item = audit_item(store, clients)

    # Then each sampled order is listed, the incomplete ones with what is missing
    assert not item.ok
    assert item.summary == "2 of 4 sampled orders (of 4 active this week) have a complete trail"
    by_order = {entry["order_id"]: entry for entry in item.entries}
    assert by_order == {
        complete_shipped: {
            "order_id": complete_shipped,
            "status": "SHIPPED",
            "events": str(shop.stored(complete_shipped).audit_seq),
            "complete": "yes",
            "problems": "",
        },
        complete_accepted: {
            "order_id": complete_accepted,
            "status": "ACCEPTED",
            "events": "1",
            "complete": "yes",
            "problems": "",
        },
        lost_qa: {
            "order_id": lost_qa,
            "status": "SHIPPED",
            "events": str(shop.stored(lost_qa).audit_seq),
            "complete": "no",
            "problems": "; ".join(
                f"{gate} QA result missing for an order at SHIPPED"
                for gate in ("pre_pick", "post_pick", "packing", "shipping")
            ),
        },
        lost_event: {
            "order_id": lost_event,
            "status": "PICKER_ASSIGNED",
            "events": str(shop.stored(lost_event).audit_seq),
            "complete": "no",
            "problems": (
                f"audit events [1, 2, 4]... do not run 1..{shop.stored(lost_event).audit_seq}; "
                "status RESERVED has a timestamp but no audit event"
            ),
        },
    }
    assert (item.key, item.title) == (
        "audit_sample",
        "10 random orders audited for a complete trail",
    )


def test_a_week_of_complete_trails_passes_the_audit(
    shop: Shop, store: DamagedRecords, clients: ClientDirectory
) -> None:
    # Given three orders of the week with complete trails
    for n, status in enumerate(
        (OrderStatus.ACCEPTED, OrderStatus.AWAITING_PACK, OrderStatus.SHIPPED)
    ):
        shop.order(5_934_127_000_001 + n, until=status)

    # When the lead reads Monday's checklist
    item = audit_item(store, clients)

    # Then the audit item passes
    assert item.ok
    assert item.summary == "3 of 3 sampled orders (of 3 active this week) have a complete trail"
    assert [entry["complete"] for entry in item.entries] == ["yes"] * 3


def test_a_single_incomplete_order_fails_the_audit(
    shop: Shop, store: DamagedRecords, clients: ClientDirectory
) -> None:
    # Given two complete orders of the week and one without an owner
    orders = [shop.order(5_934_127_000_001 + n) for n in range(3)]
    store.damage[orders[1]] = lambda order: order.model_copy(update={"owner": ""})

    # When the lead reads Monday's checklist
    item = audit_item(store, clients)

    # Then the audit item fails, naming that order
    assert not item.ok
    assert item.summary == "2 of 3 sampled orders (of 3 active this week) have a complete trail"
    assert [e["order_id"] for e in item.entries if e["complete"] == "no"] == [orders[1]]


def test_ten_of_the_weeks_orders_are_sampled_and_the_sample_can_be_reproduced(
    shop: Shop, store: DamagedRecords, clients: ClientDirectory
) -> None:
    # Given twelve orders this week
    orders = {shop.order(5_934_127_000_001 + n) for n in range(12)}

    # When the checklist is read twice on Monday, and with two seeds an operator chose
    first, again = audit_item(store, clients), audit_item(store, clients)
    seeded = [audit_item(store, clients, seed=seed) for seed in (7, 7, 8)]

    # Then ten distinct orders of the week are audited, the same ten in the same order for
    # the same client and day, and an operator's seed picks its own reproducible sample
    sampled = [entry["order_id"] for entry in first.entries]
    assert len(set(sampled)) == 10
    assert set(sampled) <= orders
    assert first.summary == "10 of 10 sampled orders (of 12 active this week) have a complete trail"
    assert [entry["order_id"] for entry in again.entries] == sampled
    seven, seven_again, eight = ([e["order_id"] for e in item.entries] for item in seeded)
    assert seven == seven_again
    assert seven != eight
    assert sampled not in (seven, eight)


def test_sampled_orders_whose_records_are_gone_are_left_out(
    shop: Shop, store: DamagedRecords, clients: ClientDirectory
) -> None:
    # Given six orders of the week, two of whose order records can no longer be read
    orders = [shop.order(5_934_127_000_001 + n) for n in range(6)]
    for gone in (orders[0], orders[3]):
        store.damage[gone] = lambda order: None

    # When the lead reads Monday's checklist
    item = audit_item(store, clients, seed=1)

    # Then the four readable orders are audited, and the summary counts what was audited
    assert sorted(e["order_id"] for e in item.entries) == sorted(
        o for o in orders if o not in (orders[0], orders[3])
    )
    assert item.summary == "4 of 4 sampled orders (of 6 active this week) have a complete trail"
    assert item.ok
