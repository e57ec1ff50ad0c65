"""Lot allocation: which lots an order's lines take (first expiry first, out), how two lines
of one SKU share what a lot holds, what a changed line keeps and gives back, which warehouse
an order ships from, and what is still held, released or used once part of it shipped."""

from __future__ import annotations

from datetime import UTC, date, datetime

from shipshape.config import ClientConfig
from shipshape.models import Allocation, Order, OrderLine, OrderStatus, PaymentState, StockLot
from shipshape.services.inventory import (
    consume,
    lot_groups,
    lot_key,
    plan_reservation,
    release_all,
)

TODAY = date(2026, 11, 26)
NOW = datetime(2026, 11, 26, 15, 0, tzinfo=UTC)
CLIENT = "acme-outdoors"
WH = "pdx-1"
MEAL = "MEAL-FD-CHILI"


def _order(*lines: tuple[str, int], **update: object) -> Order:
    order = Order(
        order_id="ord_" + "c" * 20, client_id=CLIENT, platform="shopify",
        store="acme-outdoors.myshopify.com", storefront_order_id="1", version=1,
        storefront_updated_at=NOW, received_at=NOW, payment=PaymentState.PAID,
        lines=tuple(
            OrderLine(line_id=f"l{i}", sku=sku, quantity=qty)
            for i, (sku, qty) in enumerate(lines, 1)
        ),
        status=OrderStatus.ADDRESS_VALIDATED, owner="ops", rules_version="1", audit_seq=1,
    )  # fmt: skip
    return order.model_copy(update=update)


def _lot(
    lot: str, available: int, expires: date | None = None, *, wh: str = WH, sku: str = MEAL
) -> StockLot:
    return StockLot(
        client_id=CLIENT, sku=sku, warehouse=wh, lot=lot, expires_on=expires, bin=f"C-{lot}",
        available=available, reserved=0,
    )  # fmt: skip


def _held(line_id: str, lot: str, quantity: int, sku: str = MEAL) -> Allocation:
    return Allocation(
        line_id=line_id, sku=sku, warehouse=WH, lot=lot, bin=f"C-{lot}", quantity=quantity
    )


def _taken(allocations: tuple[Allocation, ...]) -> list[tuple[str, str, int]]:
    return [(a.line_id, a.lot, a.quantity) for a in allocations]


def _two_warehouses(acme: ClientConfig) -> ClientConfig:
    fulfilment = acme.fulfilment.model_copy(update={"warehouses": [WH, "sea-2"]})
    return acme.model_copy(update={"fulfilment": fulfilment})


# --- two lines of one SKU ---------------------------------------------------------------


def test_two_lines_of_one_sku_never_take_more_than_a_lot_holds(acme: ClientConfig) -> None:
    # Given 3 units in the first-expiring lot and 5 in the next
    stock = {MEAL: [_lot("A", 3, date(2027, 1, 1)), _lot("B", 5, date(2027, 6, 1))]}

    # When an order with two lines of 2 of that SKU is planned
    plan = plan_reservation(_order((MEAL, 2), (MEAL, 2)), acme, stock, TODAY)

    # Then the second line takes the 1 unit the first left in A, then 1 from B
    assert plan.complete
    assert _taken(plan.added) == [("l1", "A", 2), ("l2", "A", 1), ("l2", "B", 1)]
    # And the stock is changed once per lot, by what both lines took from it
    changes = {c.lot: (c.available, c.reserved) for c in plan.stock_changes(CLIENT)}
    assert changes == {"A": (-3, 3), "B": (-1, 1)}


def test_a_lot_the_first_line_emptied_is_passed_over_for_the_next(acme: ClientConfig) -> None:
    # Given 2 units in the first-expiring lot and 5 in the next
    stock = {MEAL: [_lot("A", 2, date(2027, 1, 1)), _lot("B", 5, date(2027, 6, 1))]}

    # When two lines of 2 are planned
    plan = plan_reservation(_order((MEAL, 2), (MEAL, 2)), acme, stock, TODAY)

    # Then the first line empties A and the second is covered from B
    assert plan.complete
    assert _taken(plan.added) == [("l1", "A", 2), ("l2", "B", 2)]


# --- first expiry, first out --------------------------------------------------------------


def test_lots_are_taken_by_expiry_whatever_their_names_and_undated_lots_last(
    acme: ClientConfig,
) -> None:
    # Given three lots of one unit whose names sort against their expiry
    stock = {
        MEAL: [
            _lot("A-LATE", 1, date(2027, 9, 1)),
            _lot("M-UNDATED", 1),
            _lot("Z-SOON", 1, date(2027, 2, 1)),
        ]
    }

    # When a line of 3 is planned
    plan = plan_reservation(_order((MEAL, 3)), acme, stock, TODAY)

    # Then the soonest expiry goes first and the lot that never expires last, each allocation
    # carrying its lot's expiry and bin (what pre-pick QA and the pick list read)
    assert [(a.lot, a.expires_on, a.bin) for a in plan.added] == [
        ("Z-SOON", date(2027, 2, 1), "C-Z-SOON"),
        ("A-LATE", date(2027, 9, 1), "C-A-LATE"),
        ("M-UNDATED", None, "C-M-UNDATED"),
    ]


def test_a_lot_that_expires_today_is_not_reserved(acme: ClientConfig) -> None:
    # Given a lot expiring today (the client's date) and one expiring tomorrow
    stock = {MEAL: [_lot("TODAY", 5, TODAY), _lot("TOMORROW", 5, date(2026, 11, 27))]}

    # When a line of 2 is planned
    plan = plan_reservation(_order((MEAL, 2)), acme, stock, TODAY)

    # Then only tomorrow's lot is used
    assert _taken(plan.added) == [("l1", "TOMORROW", 2)]


def test_a_sku_with_no_stock_record_at_all_is_short(acme: ClientConfig) -> None:
    # Given stock known for one SKU only
    stock = {MEAL: [_lot("A", 5)]}

    # When an order of that SKU and one never received is planned
    plan = plan_reservation(_order((MEAL, 1), ("GHOST-1", 2)), acme, stock, TODAY)

    # Then the unknown SKU's line is short in full and the other reserved
    assert [(ln.line_id, ln.sku, ln.quantity) for ln in plan.short] == [("l2", "GHOST-1", 2)]
    assert _taken(plan.reservation) == [("l1", "A", 1)]


# --- the warehouse ---------------------------------------------------------------------------


def test_the_warehouse_must_cover_the_total_of_each_sku_across_lines(acme: ClientConfig) -> None:
    # Given a client with two warehouses: the first holds 3 units, the second exactly 4
    client = _two_warehouses(acme)
    stock = {MEAL: [_lot("A", 3), _lot("B", 4, wh="sea-2")]}

    # When an order of two lines of 2 (4 in all) is planned
    plan = plan_reservation(_order((MEAL, 2), (MEAL, 2)), client, stock, TODAY)

    # Then it ships from the second, which covers all of it, and takes nothing from the first
    assert plan.warehouse == "sea-2"
    assert plan.complete
    assert {a.warehouse for a in plan.added} == {"sea-2"}


# --- lines that changed after they were reserved ------------------------------------------


def test_a_line_that_shrank_keeps_what_it_needs_and_releases_the_rest(
    acme: ClientConfig,
) -> None:
    # Given a line holding 3 units in lot A and 3 in lot B, with more stock on the shelf
    held = (_held("l1", "A", 3), _held("l1", "B", 3))
    stock = {MEAL: [_lot("A", 0), _lot("B", 0), _lot("C", 10)]}

    # When the line is cut to 4, and (another time) to 3
    to_four = plan_reservation(
        _order((MEAL, 4), reservation=held, warehouse=WH), acme, stock, TODAY
    )
    to_three = plan_reservation(
        _order((MEAL, 3), reservation=held, warehouse=WH), acme, stock, TODAY
    )

    # Then it keeps its first allocation whole and what it still needs of the second; the rest
    # goes back, and nothing new is taken
    assert _taken(to_four.reservation) == [("l1", "A", 3), ("l1", "B", 1)]
    assert _taken(to_four.released) == [("l1", "B", 2)]
    assert to_four.added == ()
    assert _taken(to_three.reservation) == [("l1", "A", 3)]
    assert _taken(to_three.released) == [("l1", "B", 3)]
    changes = {c.lot: (c.available, c.reserved) for c in to_four.stock_changes(CLIENT)}
    assert changes == {"B": (2, -2)}


def test_a_line_that_grew_keeps_its_allocations_and_adds_only_what_is_missing(
    acme: ClientConfig,
) -> None:
    # Given a line holding 2 units in lot A and 2 in lot B
    held = (_held("l1", "A", 2), _held("l1", "B", 2))
    stock = {MEAL: [_lot("A", 0), _lot("B", 0), _lot("C", 10)]}

    # When the line grows to 5
    plan = plan_reservation(_order((MEAL, 5), reservation=held, warehouse=WH), acme, stock, TODAY)

    # Then one more unit is taken and nothing is released
    assert _taken(plan.added) == [("l1", "C", 1)]
    assert plan.released == ()
    assert _taken(plan.reservation) == [("l1", "A", 2), ("l1", "B", 2), ("l1", "C", 1)]


def test_the_group_reserved_ahead_leaves_lots_the_plan_also_gives_back(
    acme: ClientConfig,
) -> None:
    # Given a line that shrank (giving back 2 of lot X) and a new line that needs lot X and Y
    held = (_held("l1", "X", 3),)
    stock = {MEAL: [_lot("X", 1, date(2027, 1, 1)), _lot("Y", 5, date(2027, 5, 1))]}
    order = _order((MEAL, 1), (MEAL, 2), reservation=held, warehouse=WH)

    # When it is planned
    plan = plan_reservation(order, acme, stock, TODAY)

    # Then what may go ahead of the plan's own transaction is the new lot only
    assert _taken(plan.added) == [("l2", "X", 1), ("l2", "Y", 1)]
    assert _taken(plan.group_ahead()) == [("l2", "Y", 1)]
    # And a plan with nothing new has nothing to reserve ahead
    same = _order((MEAL, 1), reservation=(_held("l1", "X", 1),), warehouse=WH)
    assert plan_reservation(same, acme, stock, TODAY).group_ahead() == ()


def test_lots_are_grouped_in_key_order_with_every_allocation_of_a_lot_together() -> None:
    # Given allocations over five lots, two of them on lot B, in no particular order
    allocations = [
        _held("l1", "E", 1),
        _held("l1", "B", 1),
        _held("l2", "A", 1),
        _held("l3", "D", 1),
        _held("l2", "B", 2),
        _held("l1", "C", 1),
    ]

    # When they are put in groups of at most two lots
    groups = lot_groups(allocations, size=2)

    # Then the lots go A, B | C, D | E, and both allocations of B are in one group
    assert [_taken(g) for g in groups] == [
        [("l2", "A", 1), ("l1", "B", 1), ("l2", "B", 2)],
        [("l1", "C", 1), ("l3", "D", 1)],
        [("l1", "E", 1)],
    ]


# --- what is held, released and used -------------------------------------------------------


def test_once_part_of_an_order_shipped_only_the_unused_lots_go_back_or_out() -> None:
    # Given an order holding lots A, B and C, whose lot B was already used by a shipment group
    reservation = (_held("l1", "A", 2), _held("l2", "B", 1), _held("l3", "C", 3))
    order = _order(
        (MEAL, 2), (MEAL, 1), (MEAL, 3), reservation=reservation,
        consumed_lots=(lot_key(MEAL, WH, "B"),),
    )  # fmt: skip

    # When what it holds is given back, used in full, or used for lot A only
    released = release_all(order)
    used = consume(order)
    used_a = consume(order, [reservation[0]])

    # Then B is in none of them: given back units become available again, used units leave
    # the reserved count without coming back
    assert [(c.client_id, c.lot, c.available, c.reserved) for c in released] == [
        (CLIENT, "A", 2, -2),
        (CLIENT, "C", 3, -3),
    ]
    assert [(c.lot, c.available, c.reserved) for c in used] == [("A", 0, -2), ("C", 0, -3)]
    assert [(c.lot, c.available, c.reserved) for c in used_a] == [("A", 0, -2)]
    # And once the whole shipment is recorded, nothing is held any more
    assert release_all(order.model_copy(update={"stock_consumed": True})) == []
